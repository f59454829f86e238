#!/usr/bin/env python3
"""The benchmark's worker processes: load generator, calibration server, direct
stdio driver, idle-session holder. Standard library only (uses uvloop when it
is importable, and says so in its output).

Every mode runs in its own OS process, started by ``benchmarks/bench.py``; each
prints one JSON object per line on stdout (``{"event": ...}``) and, where the
orchestrator must synchronise several processes, waits for a line on stdin.

  load    C sessions against an MCP Streamable HTTP URL: initialize,
          notifications/initialized, W warm-up calls, READY, wait for GO,
          then R ``tools/call echo`` per session with a unique message; every
          response is checked to be the caller's own (id and echoed text).
          ``--header 'Name: value'`` (repeatable) adds a header to every
          request (a bearer token).
  canned  a trivial HTTP server answering the same requests with canned
          JSON bodies (``canned.py``): the load generator's ceiling on this machine.
  direct  one stdio child (``node .../server-everything stdio``): spawn,
          initialize, then the same calls straight down the pipe with C in
          flight (``stdiodirect.py``: the physical limit the gateway is
          compared with).
  idle    N sessions, each with its standalone GET SSE stream held open,
          until told to close (memory per idle session).

Raw HTTP/1.1 over one persistent keep-alive connection per session; no MCP SDK
in the hot loop. Every loop is bounded by a call count and a deadline. What
every worker shares (its output lines, its loop, the request bodies, the
tally) is ``workerio.py``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import secrets
from collections.abc import Callable
from typing import Any

from canned import runCanned
from stdiodirect import runDirect
from workerio import (
    CALL_TEMPLATE,
    INITIALIZED,
    PROTOCOL_VERSION,
    Tally,
    _loads,
    _mono,
    _perf,
    cpuSeconds,
    initializeBody,
    newLoop,
    out,
    raiseNofile,
    readLine,
)

__all__ = [
    "CALL_TEMPLATE",
    "EXTRA_HEADERS",
    "INITIALIZED",
    "PROTOCOL_VERSION",
    "HttpConn",
    "LoadSession",
    "OpenFailed",
    "Tally",
    "cpuSeconds",
    "initializeBody",
    "main",
    "messagesOf",
    "newLoop",
    "openSession",
    "out",
    "raiseNofile",
    "readLine",
    "requestBytes",
    "splitUrl",
]
"""What the other workers (C{sessionload.py}, C{peerclients.py}) take from
here; the shared pieces are C{workerio}'s, kept importable from here."""

EXTRA_HEADERS: list[str] = []
"""``Name: value`` lines added to every request (``load --header``)."""


# -- a minimal HTTP/1.1 client connection ----------------------------------------

Handler = Callable[[int, dict[str, str], bytes], None]


class HttpConn(asyncio.Protocol):
    """One keep-alive connection; one request at a time (no pipelining).

    ``send(data, handler)`` writes a request and calls ``handler(status,
    headers, body)`` once the whole response has arrived (Content-Length or
    chunked). With ``stream=True`` the handler is called at the headers and
    the body is then read and dropped (a GET SSE stream).
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.state = 0  # 0: headers, 1: length body, 2: chunked body, 3: streaming
        self.handler: Handler | None = None
        self.stream = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.remaining = 0
        self.body = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.streamBytes = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        handler, self.handler = self.handler, None
        if handler is not None:
            handler(0, {}, b"")  # status 0: the connection went away mid-request

    def send(self, data: bytes, handler: Handler, stream: bool = False) -> None:
        self.handler = handler
        self.stream = stream
        assert self.transport is not None
        self.transport.write(data)

    def request(
        self,
        data: bytes,
        stream: bool = False,
    ) -> asyncio.Future[tuple[int, dict[str, str], bytes]]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def done(status: int, headers: dict[str, str], body: bytes) -> None:
            if not fut.done():
                fut.set_result((status, headers, body))

        self.send(data, done, stream)
        return fut

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            state = self.state
            if state == 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                lines = buf[:end].decode("latin-1").split("\r\n")
                del buf[: end + 4]
                self.status = int(lines[0].split(" ", 2)[1])
                headers = self.headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.lower()] = value.strip()
                if self.stream:
                    self.state = 3
                    self._complete(b"")
                    continue
                if headers.get("transfer-encoding") == "chunked":
                    self.state = 2
                    self.body = bytearray()
                else:
                    self.remaining = int(headers.get("content-length", "0"))
                    self.state = 1
                continue
            if state == 1:
                n = self.remaining
                if len(buf) < n:
                    return
                body = bytes(buf[:n])
                del buf[:n]
                self.state = 0
                self._complete(body)
                if not buf:
                    return
                continue
            if state == 2:
                nl = buf.find(b"\r\n")
                if nl < 0:
                    return
                size = int(buf[:nl].split(b";", 1)[0], 16)
                if size == 0:
                    if len(buf) < nl + 4:
                        return
                    del buf[: nl + 4]  # no trailers
                    self.state = 0
                    body = bytes(self.body)
                    self.body = bytearray()
                    self._complete(body)
                    if not buf:
                        return
                    continue
                end = nl + 2 + size
                if len(buf) < end + 2:
                    return
                self.body += buf[nl + 2 : end]
                del buf[: end + 2]
                continue
            # streaming: count and drop
            self.streamBytes += len(buf)
            buf.clear()
            return

    def _complete(self, body: bytes) -> None:
        handler, self.handler = self.handler, None
        if handler is not None:
            handler(self.status, self.headers, body)


def messagesOf(headers: dict[str, str], body: bytes) -> list[Any]:
    """The JSON-RPC messages of a JSON or SSE response body."""
    ctype = headers.get("content-type", "")
    if ctype.startswith("text/event-stream"):
        found = []
        for event in body.split(b"\n\n"):
            data = [
                line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
            ]
            payload = b"\n".join(data)
            if payload:  # an event with no data (a priming event) is not dispatched
                found.append(_loads(payload))
        return found
    if not body:
        return []
    parsed = _loads(body)
    return parsed if isinstance(parsed, list) else [parsed]


def requestBytes(
    path: str, host: str, body: bytes, sessionId: str | None, method: str = "POST"
) -> bytes:
    head = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        "Accept: application/json, text/event-stream"
        if method == "POST"
        else "Accept: text/event-stream",
        f"MCP-Protocol-Version: {PROTOCOL_VERSION}",
    ]
    if method == "POST":
        head.append("Content-Type: application/json")
    if sessionId:
        head.append(f"Mcp-Session-Id: {sessionId}")
    head.extend(EXTRA_HEADERS)
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def splitUrl(url: str) -> tuple[str, int, str]:
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    return host, int(port), "/" + path


class OpenFailed(Exception):
    pass


async def openSession(
    host: str, port: int, path: str, hostHeader: str, conn: HttpConn | None = None
) -> tuple[HttpConn, str]:
    """Connect (unless given a connection), initialize, send initialized."""
    loop = asyncio.get_running_loop()
    if conn is None:
        _, conn = await loop.create_connection(HttpConn, host, port)
    status, headers, body = await conn.request(
        requestBytes(path, hostHeader, initializeBody(), None)
    )
    sid = headers.get("mcp-session-id")
    msgs = messagesOf(headers, body) if status == 200 else []
    if status != 200 or not sid or not msgs or "result" not in msgs[0]:
        raise OpenFailed(f"initialize: HTTP {status} {body[:200]!r}")
    status, _, body = await conn.request(requestBytes(path, hostHeader, INITIALIZED, sid))
    if status not in (200, 202):
        raise OpenFailed(f"notifications/initialized: HTTP {status} {body[:200]!r}")
    return conn, sid


# -- load ------------------------------------------------------------------------


class LoadSession:
    """Drives R calls on one session, each started when the previous ends."""

    def __init__(
        self,
        idx: int,
        conn: HttpConn,
        sid: str,
        path: str,
        hostHeader: str,
        tally: Tally,
        nonce: str,
        onDone: Callable[[LoadSession], None],
    ) -> None:
        self.conn = conn
        self.tally = tally
        self.prefix = f"{nonce}-s{idx}-".encode()
        self.head = requestBytes(path, hostHeader, b"", sid)[: -len(b"0\r\n\r\n")]
        self.i = 0
        self.limit = 0
        self.deadline = 0.0
        self.t0 = 0
        self.expect = b""
        self.inFlight = False
        self.onDone = onDone
        self.measure = True

    def start(self, calls: int, deadline: float, measure: bool = True) -> None:
        self.limit = self.i + calls
        self.deadline = deadline
        self.measure = measure
        self._next()

    def _next(self) -> None:
        if self.conn.closed.done() and self.i < self.limit and _mono() < self.deadline:
            # Closed between calls (a server dropping an idle keep-alive, say):
            # the calls it still owed never happen, so the first one is lost,
            # not silently skipped.
            self.tally.lost += 1
            self.tally.sample("connection closed between calls")
            self.inFlight = False
            self.onDone(self)
            return
        if self.i >= self.limit or _mono() >= self.deadline:
            self.inFlight = False
            self.onDone(self)
            return
        self.i += 1
        msg = self.prefix + b"%d" % self.i
        self.expect = msg
        body = CALL_TEMPLATE % (self.i, msg)
        data = self.head + b"%d\r\n\r\n" % len(body) + body
        self.inFlight = True
        self.t0 = _perf()
        self.conn.send(data, self._got)

    def _got(self, status: int, headers: dict[str, str], body: bytes) -> None:
        t1 = _perf()
        tally = self.tally
        if status == 0:
            tally.lost += 1
            tally.sample("connection closed before the response")
            self.inFlight = False
            self.onDone(self)
            return
        if status != 200:
            tally.errors += 1
            tally.sample(f"HTTP {status}: {body[:200]!r}")
            self._next()
            return
        try:
            msgs = messagesOf(headers, body)
        except ValueError as e:
            tally.errors += 1
            tally.sample(f"unparsable body ({e}): {body[:200]!r}")
            self._next()
            return
        if headers.get("content-type", "").startswith("text/event-stream"):
            tally.sse += 1
        else:
            tally.json += 1
        response = None
        for m in msgs:
            if isinstance(m, dict) and "id" in m and ("result" in m or "error" in m):
                response = m
            else:
                tally.notifications += 1
        if response is None:
            tally.lost += 1
            tally.sample(f"stream ended without a response: {body[:200]!r}")
        elif "error" in response:
            tally.errors += 1
            tally.sample(f"error: {json.dumps(response)[:200]}")
        else:
            text = None
            with contextlib.suppress(KeyError, IndexError, TypeError):
                text = response["result"]["content"][0]["text"]
            if response["id"] == self.i and text == "Echo: " + self.expect.decode():
                tally.ok += 1
                if self.measure:
                    tally.latNs.append(t1 - self.t0)
            else:
                tally.misrouted += 1
                tally.sample(
                    f"not mine (id {self.i}, {self.expect!r}): {json.dumps(response)[:200]}"
                )
        self._next()


async def runLoad(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    host, port, path = splitUrl(args.url)
    hostHeader = f"{host}:{port}"
    EXTRA_HEADERS[:] = args.header
    nonce = args.nonce or secrets.token_hex(4)
    tally = Tally()
    sessions: list[LoadSession] = []
    pending: set[LoadSession] = set()
    allDone: asyncio.Future[None] = loop.create_future()

    def finished(s: LoadSession) -> None:
        pending.discard(s)
        if not pending and not allDone.done():
            allDone.set_result(None)

    t = _mono()
    sem = asyncio.Semaphore(32)

    async def one(idx: int) -> None:
        async with sem:
            conn, sid = await openSession(host, port, path, hostHeader)
        sessions.append(
            LoadSession(args.first + idx, conn, sid, path, hostHeader, tally, nonce, finished)
        )

    opened = await asyncio.gather(*(one(i) for i in range(args.sessions)), return_exceptions=True)
    problems = [e for e in opened if isinstance(e, BaseException)]
    if problems:
        out("failed", error=f"opening sessions: {len(problems)} failed, e.g. {problems[0]!r}")
        for s in sessions:
            s.conn.transport.close()  # type: ignore[union-attr]
        return
    setupSeconds = _mono() - t

    async def phase(calls: int, seconds: float, measure: bool) -> float:
        nonlocal allDone
        allDone = loop.create_future()
        pending.update(sessions)
        deadline = _mono() + seconds
        for s in sessions:
            s.start(calls, deadline, measure)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(allDone), seconds + args.grace)
        return _mono()

    if args.warmup:
        await phase(args.warmup, args.max_seconds, False)
        tally.__init__()  # type: ignore[misc]  # the warm-up counts for nothing, clean
    out("ready", sessions=len(sessions), setupSeconds=round(setupSeconds, 4))
    if args.wait_go:
        await readLine()
    cpu0 = cpuSeconds()
    t0 = _mono()
    t1 = await phase(args.calls, args.max_seconds, True)
    cpu1 = cpuSeconds()
    out("measured")  # the measured calls are done: what follows is not theirs
    stuck = sum(1 for s in sessions if s.inFlight)
    tally.lost += stuck
    for s in sessions:
        if s.conn.transport is not None:
            s.conn.transport.close()
    out(
        "result",
        ok=tally.ok,
        errors=tally.errors,
        misrouted=tally.misrouted,
        lost=tally.lost,
        sent=sum(s.i for s in sessions) - len(sessions) * args.warmup,
        jsonResponses=tally.json,
        sseResponses=tally.sse,
        notifications=tally.notifications,
        samples=tally.samples,
        start=t0,
        end=t1,
        cpuSeconds=round(cpu1 - cpu0, 4),
        latUs=[ns // 1000 for ns in tally.latNs],
        loop=args.loopName,
    )


# -- idle sessions -----------------------------------------------------------------


async def runIdle(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    host, port, path = splitUrl(args.url)
    hostHeader = f"{host}:{port}"
    streams: list[HttpConn] = []
    failures: list[str] = []
    sem = asyncio.Semaphore(args.parallel)

    async def one() -> None:
        async with sem:
            try:
                conn, sid = await openSession(host, port, path, hostHeader)
                conn.transport.close()  # type: ignore[union-attr]
                _, get = await loop.create_connection(HttpConn, host, port)
                status, headers, _ = await asyncio.wait_for(
                    get.request(requestBytes(path, hostHeader, b"", sid, "GET"), stream=True), 30
                )
                if status != 200 or not headers.get("content-type", "").startswith(
                    "text/event-stream"
                ):
                    failures.append(f"GET: HTTP {status}")
                    get.transport.close()  # type: ignore[union-attr]
                    return
                streams.append(get)
            except (TimeoutError, OSError, OpenFailed) as e:
                failures.append(f"{type(e).__name__}: {e}")

    t0 = _mono()
    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(args.sessions))), args.max_seconds)
    out(
        "ready",
        open=len(streams),
        failed=len(failures),
        samples=failures[:5],
        seconds=round(_mono() - t0, 3),
        nofile=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    )
    await readLine()
    stillOpen = sum(1 for s in streams if not s.closed.done())
    for s in streams:
        if s.transport is not None:
            s.transport.close()
    out("result", stillOpen=stillOpen, streamBytes=sum(s.streamBytes for s in streams))


# -- main ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("load")
    p.add_argument("--url", required=True)
    p.add_argument("--sessions", type=int, default=1)
    p.add_argument("--first", type=int, default=0, help="index of the first session (for ids)")
    p.add_argument("--calls", type=int, default=100, help="calls per session")
    p.add_argument("--warmup", type=int, default=5, help="warm-up calls per session")
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--grace", type=float, default=10.0)
    p.add_argument("--nonce", default="")
    p.add_argument("--wait-go", action="store_true")
    p.add_argument(
        "--header",
        action="append",
        default=[],
        help="'Name: value' added to every request (repeatable)",
    )
    p = sub.add_parser("canned")
    p.add_argument("--port", type=int, default=0)
    p.add_argument(
        "--corrupt-every",
        type=int,
        default=0,
        help="self-check: every Nth call is answered with another call's message",
    )
    p.add_argument(
        "--drop-every",
        type=int,
        default=0,
        help="self-check: every Nth call's connection is closed unanswered",
    )
    p = sub.add_parser("direct")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1])
    p.add_argument("--calls", type=int, default=1000, help="calls per level")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--grace", type=float, default=10.0)
    p.add_argument("--wait-go", action="store_true")
    p.add_argument("command", nargs="+")
    p = sub.add_parser("idle")
    p.add_argument("--url", required=True)
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--parallel", type=int, default=16)
    p.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    raiseNofile()
    loop, args.loopName = newLoop()
    runner = {"load": runLoad, "canned": runCanned, "direct": runDirect, "idle": runIdle}[args.mode]
    try:
        loop.run_until_complete(runner(args))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
