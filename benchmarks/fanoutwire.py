# -*- test-case-name: tests.test_bench_fanout -*-
"""How the fan-out replay's sessions talk MCP: over HTTP to the gateway, as
the adopted entries say (L{HttpLink}, a few keep-alive connections per
session: L{HttpPool}), or down the stdio pipes of children of their own, as
the clients do without it (L{StdioLink}). Both carry one MCP session to one
server: C{initialize}, C{notifications/initialized}, requests, and its end.

The HTTP side is a small HTTP/1.1 client (C{Content-Length} or chunked
bodies, JSON or SSE answers: L{parseHead}, L{dechunk}, L{messagesOf}),
standard library and asyncio only, so the replay needs no client library.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

PROTOCOL = "2025-11-25"
LINE_LIMIT = 32 * 1024 * 1024
"""The longest line a child may answer (a big tools list is one line)."""
REQUEST_TIMEOUT = 120.0


class LinkError(Exception):
    """A request that got no result: a JSON-RPC error, an HTTP status, a dead child."""


class Link(Protocol):
    """One MCP session to one server."""

    async def open(self, client: str) -> None: ...

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def initializeParams(client: str) -> dict[str, Any]:
    return {
        "protocolVersion": PROTOCOL,
        "capabilities": {},
        "clientInfo": {"name": client, "version": "1"},
    }


def resultOf(message: Mapping[str, Any], what: str) -> dict[str, Any]:
    """The C{result} of an answer, or L{LinkError} with its error."""
    if "error" in message:
        raise LinkError(f"{what}: {json.dumps(message['error'])[:300]}")
    result = message.get("result")
    if not isinstance(result, dict):
        raise LinkError(f"{what}: no result in {json.dumps(message)[:300]}")
    return result


# -- HTTP --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One HTTP response: its status, its headers (lower-case names) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def parseHead(head: bytes) -> tuple[int, dict[str, str]]:
    """The status and headers (names lower-cased) of a response head
    (its bytes up to, without, the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise LinkError(f"not an HTTP status line: {lines[0][:100]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


def dechunk(data: bytes) -> tuple[bytes, bool]:
    """The body of a complete chunked encoding C{data}, and whether it was
    complete (its last, empty chunk seen)."""
    body = bytearray()
    at = 0
    while True:
        end = data.find(b"\r\n", at)
        if end < 0:
            return bytes(body), False
        size = int(data[at:end].split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            return bytes(body), True
        start = end + 2
        if len(data) < start + size + 2:
            return bytes(body), False
        body += data[start : start + size]
        at = start + size + 2


def messagesOf(contentType: str, body: bytes) -> list[Any]:
    """The JSON-RPC messages of a response body: one JSON value (a batch
    answer is a list), or the C{data:} of each SSE event."""
    if contentType.startswith("text/event-stream"):
        out: list[Any] = []
        for event in body.replace(b"\r\n", b"\n").split(b"\n\n"):
            data = [
                line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
            ]
            if data:
                with contextlib.suppress(ValueError):
                    out.append(json.loads(b"\n".join(data)))
        return out
    if not body.strip():
        return []
    value = json.loads(body)
    return value if isinstance(value, list) else [value]


async def readReply(reader: asyncio.StreamReader) -> Reply:
    """One response off a keep-alive connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status, headers = parseHead(head[:-4])
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        raw = bytearray()
        while True:
            size = await reader.readuntil(b"\r\n")
            raw += size
            n = int(size.split(b";", 1)[0].strip() or b"0", 16)
            if n == 0:
                raw += await reader.readuntil(b"\r\n")
                break
            raw += await reader.readexactly(n + 2)
        body, _ = dechunk(bytes(raw))
    elif status in (202, 204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = await reader.read()
    return Reply(status, headers, body)


class HttpPool:
    """One session's keep-alive connections to one host (its C{lanes}): a
    request takes the next lane, waits for it to be free, and opens its
    connection again when the server closed it meanwhile."""

    def __init__(self, host: str, port: int, lanes: int = 4) -> None:
        self.host = host
        self.port = port
        self._lanes: list[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = [None] * lanes
        self._locks = [asyncio.Lock() for _ in range(lanes)]
        self._next = itertools.cycle(range(lanes))
        self.connects = 0

    async def send(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        lane = next(self._next)
        async with self._locks[lane]:
            head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            data = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            for attempt in (0, 1):
                conn = self._lanes[lane]
                fresh = conn is None
                if conn is None:
                    conn = await asyncio.open_connection(self.host, self.port, limit=LINE_LIMIT)
                    self._lanes[lane] = conn
                    self.connects += 1
                reader, writer = conn
                try:
                    writer.write(data)
                    await writer.drain()
                    reply = await readReply(reader)
                except (ConnectionError, asyncio.IncompleteReadError) as e:
                    self._drop(lane)
                    if fresh or attempt:
                        raise LinkError(f"{method} {path}: {e!r}") from e
                    continue  # closed while idle: once more on a new connection
                if reply.headers.get("connection", "").lower() == "close":
                    self._drop(lane)
                return reply
        raise AssertionError("unreachable")

    def _drop(self, lane: int) -> None:
        conn = self._lanes[lane]
        self._lanes[lane] = None
        if conn is not None:
            conn[1].close()

    async def close(self) -> None:
        for lane in range(len(self._lanes)):
            self._drop(lane)


class HttpLink:
    """One MCP session over Streamable HTTP at C{path} of C{pool}'s host."""

    def __init__(self, pool: HttpPool, path: str) -> None:
        self.pool = pool
        self.path = path
        self.sid: str | None = None
        self._ids = itertools.count(1)

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": PROTOCOL,
        }
        if self.sid:
            headers["Mcp-Session-Id"] = self.sid
        return headers

    async def _post(self, message: Mapping[str, Any]) -> Reply:
        body = json.dumps(message).encode()
        return await asyncio.wait_for(
            self.pool.send("POST", self.path, self._headers(), body), REQUEST_TIMEOUT
        )

    async def _call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        rid = next(self._ids)
        reply = await self._post({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        if reply.status != 200:
            raise LinkError(f"{method} {self.path}: HTTP {reply.status} {reply.body[:200]!r}")
        for message in messagesOf(reply.headers.get("content-type", ""), reply.body):
            if isinstance(message, dict) and message.get("id") == rid and "method" not in message:
                if method == "initialize":
                    self.sid = reply.headers.get("mcp-session-id")
                return resultOf(message, f"{method} {self.path}")
        raise LinkError(f"{method} {self.path}: no answer with id {rid}")

    async def open(self, client: str) -> None:
        await self._call("initialize", initializeParams(client))
        if not self.sid:
            raise LinkError(f"initialize {self.path}: no Mcp-Session-Id")
        reply = await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        if reply.status not in (200, 202, 204):
            raise LinkError(f"notifications/initialized {self.path}: HTTP {reply.status}")

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return await self._call(method, params)

    async def close(self) -> None:
        if self.sid:
            with contextlib.suppress(LinkError, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(
                    self.pool.send("DELETE", self.path, self._headers(), b""), 10
                )
            self.sid = None


# -- stdio -------------------------------------------------------------------------------

PR_SET_PDEATHSIG = 1


def dieWithParent() -> None:
    """In a child before its C{exec}: SIGKILL when the replay dies, so that no
    child outlives a replay that was killed (Linux; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class StdioLink:
    """One MCP session down the pipes of a child of its own (its own
    process group, as a client starts it)."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None) -> None:
        self.argv = list(argv)
        self.env = {**os.environ, **env}
        self.cwd = cwd
        self.proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reading: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        while line := await stdout.readline():
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict) and "method" not in message:
                    waiter = self._waiting.pop(message.get("id"), None)  # type: ignore[arg-type]
                    if waiter is not None and not waiter.done():
                        waiter.set_result(message)
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(LinkError(f"{self.argv[:2]} exited"))
        self._waiting.clear()

    def _send(self, message: Mapping[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")

    async def _call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        rid = next(self._ids)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = waiter
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        message = await asyncio.wait_for(waiter, REQUEST_TIMEOUT)
        return resultOf(message, f"{method} {self.argv[:2]}")

    async def open(self, client: str) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=dieWithParent,
            limit=LINE_LIMIT,
        )
        self._reading = asyncio.ensure_future(self._read())
        await self._call("initialize", initializeParams(client))
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return await self._call(method, params)

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, sig)

    async def close(self) -> None:
        """SIGTERM to its process group; SIGKILL after 5 seconds."""
        if self.proc is None:
            return
        self.signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.signal(signal.SIGKILL)
            await self.proc.wait()
        if self._reading is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reading, 2)
