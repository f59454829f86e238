#!/usr/bin/env python3
"""Load as MCP clients built on an HTTP library make it: aiohttp or httpx.

The SDK clients are built on an HTTP library (httpx, or its fork httpx2 in
the Python SDK 2.x,
undici/fetch in the TypeScript SDK), not on raw sockets: each session has
its own client (and connection pool), sends ``Accept: application/json,
text/event-stream``, and reads an answer that may come as SSE. This
generator does the same, so that what it measures is what those clients
see (``mcpload.py`` is a raw HTTP/1.1 loader, one socket per session).

Usage::

    python benchmarks/libload.py --kind aiohttp|httpx --url URL --sessions C
        [--calls N] [--seconds S] [--tool echo]

C sessions each ``initialize``, send ``notifications/initialized``, then call
``tools/call`` of ``echo`` one after another (one call in flight per
session), each answer checked to be the caller's own (its id and the echoed
text). Prints one JSON object: calls, calls/s, latency percentiles in ms,
wrong answers, and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

VERSION = "2025-11-25"
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
Post = Callable[[dict[str, Any], dict[str, str]], Awaitable[tuple[int, dict[str, str], bytes]]]


def answerOf(body: bytes, contentType: str, requestId: int) -> dict[str, Any] | None:
    """The JSON-RPC answer to C{requestId} in a response body (JSON or SSE)."""
    if contentType.startswith("application/json"):
        message = json.loads(body)
        return message if isinstance(message, dict) else None
    for block in body.split(b"\n\n"):
        data = b"".join(
            line[5:].strip() for line in block.split(b"\n") if line.startswith(b"data:")
        )
        if not data:
            continue
        message = json.loads(data)
        if isinstance(message, dict) and message.get("id") == requestId:
            return message
    return None


class Totals:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.wrong = 0
        self.errors = 0


async def session(post: Post, tool: str, calls: int, deadline: float, totals: Totals) -> None:
    """One MCP session: initialize, then C{calls} sequential echo calls."""
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": VERSION,
            "capabilities": {},
            "clientInfo": {"name": "libload", "version": "1"},
        },
    }
    status, headers, body = await post(init, {})
    sid = headers.get("mcp-session-id")
    if status != 200 or sid is None:
        totals.errors += 1
        return
    extra = {"mcp-session-id": sid, "mcp-protocol-version": VERSION}
    await post({"jsonrpc": "2.0", "method": "notifications/initialized"}, extra)
    for n in range(1, calls + 1):
        if time.monotonic() > deadline:
            return
        text = f"{sid[:8]}-{n}"
        call = {
            "jsonrpc": "2.0",
            "id": n,
            "method": "tools/call",
            "params": {"name": tool, "arguments": {"message": text}},
        }
        started = time.perf_counter()
        try:
            status, headers, body = await post(call, extra)
        except Exception:
            totals.errors += 1
            continue
        answer = answerOf(body, headers.get("content-type", ""), n)
        totals.latencies.append(time.perf_counter() - started)
        content = (answer or {}).get("result", {}).get("content") or [{}]
        if status != 200 or answer is None or text not in str(content[0].get("text")):
            totals.wrong += 1


async def withAiohttp(url: str, sessions: int, calls: int, seconds: float, tool: str) -> Totals:
    import aiohttp

    totals = Totals()
    deadline = time.monotonic() + seconds
    clients = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in range(sessions)
    ]

    def poster(client: Any) -> Post:
        async def post(
            message: dict[str, Any], extra: dict[str, str]
        ) -> tuple[int, dict[str, str], bytes]:
            async with client.post(url, json=message, headers={**HEADERS, **extra}) as response:
                body = await response.read()
                return response.status, {k.lower(): v for k, v in response.headers.items()}, body

        return post

    try:
        await asyncio.gather(*(session(poster(c), tool, calls, deadline, totals) for c in clients))
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    return totals


async def withHttpx(url: str, sessions: int, calls: int, seconds: float, tool: str) -> Totals:
    try:  # the Python SDK 2.x's HTTP library (an httpx fork), else httpx itself
        import httpx2 as httpx
    except ImportError:
        import httpx

    totals = Totals()
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(limits=limits, timeout=30) for _ in range(sessions)]

    def poster(client: Any) -> Post:
        async def post(
            message: dict[str, Any], extra: dict[str, str]
        ) -> tuple[int, dict[str, str], bytes]:
            response = await client.post(url, json=message, headers={**HEADERS, **extra})
            return response.status_code, dict(response.headers), response.content

        return post

    try:
        await asyncio.gather(*(session(poster(c), tool, calls, deadline, totals) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return totals


KINDS = {"aiohttp": withAiohttp, "httpx": withHttpx}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", choices=sorted(KINDS), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--tool", default="echo")
    args = parser.parse_args()
    began = time.perf_counter()
    totals = asyncio.run(
        KINDS[args.kind](args.url, args.sessions, args.calls, args.seconds, args.tool)
    )
    elapsed = time.perf_counter() - began
    lat = sorted(totals.latencies)

    def pct(p: float) -> float | None:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else None

    print(
        json.dumps(
            {
                "kind": args.kind,
                "sessions": args.sessions,
                "calls": len(lat),
                "callsPerSecond": round(len(lat) / elapsed, 1) if elapsed else None,
                "p50": pct(0.5),
                "p90": pct(0.9),
                "p99": pct(0.99),
                "mean": round(statistics.fmean(lat) * 1000, 2) if lat else None,
                "wrong": totals.wrong,
                "errors": totals.errors,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
