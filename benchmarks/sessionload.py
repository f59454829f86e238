#!/usr/bin/env python3
"""The sessions of C{sessionscale.py}: opened, held idle, streamed, checked.

A worker process (standard library only; uvloop when it is importable),
told what to do one line at a time on stdin, answering each with one JSON
line on stdout (C{workerio.out}):

 - C{OPEN n}: open C{n} more sessions on the URL (C{initialize}, then
   C{notifications/initialized}), over C{--parallel} keep-alive
   connections, and keep their ids (the sessions stay idle: no stream, no
   call); answers C{opened};
 - C{STREAM n}: open the GET stream of C{n} more of them, each on a
   connection of its own, held open; answers C{streaming};
 - C{UNSTREAM}: close every GET stream; answers C{unstreamed};
 - C{CHECK port n}: C{ping} C{n} of the sessions (spread over all of
   them) on the gateway now listening on C{port} (a restarted one): how
   many it knows; answers C{checked};
 - C{CLOSE}, or the end of stdin: close everything and exit.

Every step is bounded by C{--max-seconds}. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from mcpload import HttpConn, OpenFailed, openSession, requestBytes, splitUrl
from workerio import _mono, cpuSeconds, newLoop, out, raiseNofile, readLine

PING = b'{"jsonrpc":"2.0","id":7,"method":"ping"}'


class Holder:
    """The sessions opened so far, and their streams."""

    def __init__(self, url: str, parallel: int, maxSeconds: float, headers: list[str]) -> None:
        self.host, self.port, self.path = splitUrl(url)
        self.hostHeader = f"{self.host}:{self.port}"
        self.parallel = parallel
        self.maxSeconds = maxSeconds
        self.headers = headers
        self.ids: list[str] = []
        self.streams: list[HttpConn] = []
        self.conns: list[HttpConn | None] = [None] * parallel

    async def _conn(self, w: int) -> HttpConn:
        conn = self.conns[w]
        if conn is None or conn.closed.done():  # the gateway closed it: another
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(HttpConn, self.host, self.port)
            self.conns[w] = conn
        return conn

    async def open(self, n: int) -> dict[str, Any]:
        """Open C{n} more sessions (see the module's docstring)."""
        from mcpload import EXTRA_HEADERS

        EXTRA_HEADERS[:] = self.headers
        failures: list[str] = []
        deadline = _mono() + self.maxSeconds
        left = [n]

        async def worker(w: int) -> None:
            while left[0] > 0 and _mono() < deadline and len(failures) < 100:
                left[0] -= 1
                try:
                    conn = await self._conn(w)
                    _, sid = await openSession(
                        self.host, self.port, self.path, self.hostHeader, conn
                    )
                    self.ids.append(sid)
                except (OSError, OpenFailed) as e:
                    failures.append(f"{type(e).__name__}: {e}"[:200])

        cpu0, t0 = cpuSeconds(), _mono()
        await asyncio.gather(*(worker(w) for w in range(self.parallel)))
        took = _mono() - t0
        return {
            "open": len(self.ids),
            "failed": len(failures),
            "samples": failures[:3],
            "seconds": round(took, 3),
            "clientCpuSeconds": round(cpuSeconds() - cpu0, 3),
        }

    async def stream(self, n: int) -> dict[str, Any]:
        """Open the GET streams of C{n} more sessions, C{--parallel} at a time."""
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(self.parallel)
        failures: list[str] = []
        start = len(self.streams)
        chosen = self.ids[start : start + n]
        deadline = _mono() + self.maxSeconds

        async def one(sid: str) -> None:
            async with sem:
                if _mono() > deadline:
                    failures.append("deadline")
                    return
                try:
                    _, get = await loop.create_connection(HttpConn, self.host, self.port)
                    request = requestBytes(self.path, self.hostHeader, b"", sid, "GET")
                    status, headers, _ = await asyncio.wait_for(get.request(request, True), 30)
                except (TimeoutError, OSError) as e:
                    failures.append(f"GET: {type(e).__name__}: {e}"[:200])
                    return
                if status != 200 or not headers.get("content-type", "").startswith(
                    "text/event-stream"
                ):
                    failures.append(f"GET: HTTP {status}")
                    if get.transport is not None:
                        get.transport.close()
                    return
                self.streams.append(get)

        cpu0, t0 = cpuSeconds(), _mono()
        await asyncio.gather(*(one(sid) for sid in chosen))
        return {
            "streams": len(self.streams),
            "failed": len(failures),
            "samples": failures[:3],
            "seconds": round(_mono() - t0, 3),
            "clientCpuSeconds": round(cpuSeconds() - cpu0, 3),
        }

    def unstream(self) -> dict[str, Any]:
        stillOpen = sum(1 for s in self.streams if not s.closed.done())
        for s in self.streams:
            if s.transport is not None:
                s.transport.close()
        self.streams = []
        return {"stillOpen": stillOpen}

    async def check(self, port: int, n: int) -> dict[str, Any]:
        """C{ping} C{n} sessions, spread over all, on the gateway at C{port}."""
        loop = asyncio.get_running_loop()
        step = max(len(self.ids) // max(n, 1), 1)
        chosen = self.ids[::step][:n]
        counts: dict[str, int] = {}
        hostHeader = f"{self.host}:{port}"

        async def worker(w: int) -> None:
            _, conn = await loop.create_connection(HttpConn, self.host, port)
            for sid in chosen[w :: self.parallel]:
                if conn.closed.done():
                    _, conn = await loop.create_connection(HttpConn, self.host, port)
                status, _, body = await conn.request(requestBytes(self.path, hostHeader, PING, sid))
                ok = status == 200 and b'"result"' in body
                key = "ok" if ok else f"HTTP {status}"
                counts[key] = counts.get(key, 0) + 1
            if conn.transport is not None:
                conn.transport.close()

        t0 = _mono()
        await asyncio.wait_for(
            asyncio.gather(*(worker(w) for w in range(self.parallel))), self.maxSeconds
        )
        return {"asked": len(chosen), "counts": counts, "seconds": round(_mono() - t0, 3)}

    def close(self) -> None:
        self.unstream()
        for conn in self.conns:
            if conn is not None and conn.transport is not None:
                conn.transport.close()


async def serve(args: argparse.Namespace) -> None:
    holder = Holder(args.url, args.parallel, args.max_seconds, args.header)
    out("ready", nofile=args.nofile, loop=args.loopName)
    while True:
        words = (await readLine()).split()
        if not words or words[0] == "CLOSE":
            break
        if words[0] == "OPEN":
            out("opened", **await holder.open(int(words[1])))
        elif words[0] == "STREAM":
            out("streaming", **await holder.stream(int(words[1])))
        elif words[0] == "UNSTREAM":
            out("unstreamed", **holder.unstream())
        elif words[0] == "CHECK":
            out("checked", **await holder.check(int(words[1]), int(words[2])))
        else:
            out("error", line=json.dumps(words))
    holder.close()
    out("closed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--max-seconds", type=float, default=900.0)
    ap.add_argument("--header", action="append", default=[], help="'Name: value', each request")
    args = ap.parse_args()
    args.nofile = raiseNofile()
    loop, args.loopName = newLoop()
    try:
        loop.run_until_complete(serve(args))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
