#!/usr/bin/env python3
"""The worker processes of ``paths.py``: ``mcpload.py``'s raw HTTP client
(one keep-alive connection per session, every answer checked to be the
caller's own) with what the paths besides ``/<server>/mcp`` need.

  load    C sessions, each with its own ``Authorization`` value (a line of
          ``--auth-file``, session i taking line i; none without the file),
          then R calls per session of one ``--kind``:
          ``echo``    ``tools/call`` of ``--tool`` (``echo`` on
                      ``/<server>/mcp``, ``everything__echo`` on ``/mcp``),
                      answered ``Echo: <the call's own message>``;
          ``invoke``  the search mode's ``invoke`` of ``--tool`` with the
                      call's own message, answered the same way;
          ``search``  the search mode's ``search`` with ``--query``, whose
                      first result must be ``--tool``.
          Prints ``ready`` after the warm-up calls, waits for a line on stdin
          (``--wait-go``), prints ``result`` (as ``mcpload.py load`` does).
  hold    ``--per-url`` sessions on each URL of ``--urls-file``, opened by
          ``--parallel`` keep-alive connections (``initialize`` and
          ``notifications/initialized`` each), then left idle. Prints
          ``ready``; on the line ``STREAM`` opens a GET SSE stream for every
          session (a connection each) and prints ``streaming``; on
          ``CLOSE`` closes everything and prints ``result``.

Standard library plus ``mcpload.py`` (and uvloop when it is importable).
Every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mcpload
from mcpload import (
    EXTRA_HEADERS,
    INITIALIZED,
    HttpConn,
    LoadSession,
    OpenFailed,
    Tally,
    cpuSeconds,
    initializeBody,
    messagesOf,
    out,
    readLine,
    requestBytes,
    splitUrl,
)

T = TypeVar("T")
_mono = mcpload._mono
_perf = mcpload._perf


def withHeaders(headers: list[str], build: Callable[[], T]) -> T:
    """C{build()} with C{headers} as the extra headers of every request
    built meanwhile (mcpload's list is global; building is synchronous, so
    sessions of different principals never mix)."""
    EXTRA_HEADERS[:] = headers
    try:
        return build()
    finally:
        EXTRA_HEADERS[:] = []


async def openWith(
    conn: HttpConn, path: str, hostHeader: str, headers: list[str], clientName: str
) -> str:
    """initialize and notifications/initialized on C{conn}; the session id."""
    status, answer, body = await conn.request(
        withHeaders(
            headers, lambda: requestBytes(path, hostHeader, initializeBody(clientName), None)
        )
    )
    sid = answer.get("mcp-session-id")
    msgs = messagesOf(answer, body) if status == 200 else []
    if status != 200 or not sid or not msgs or "result" not in msgs[0]:
        raise OpenFailed(f"initialize: HTTP {status} {body[:200]!r}")
    status, _, body = await conn.request(
        withHeaders(headers, lambda: requestBytes(path, hostHeader, INITIALIZED, sid))
    )
    if status not in (200, 202):
        raise OpenFailed(f"notifications/initialized: HTTP {status} {body[:200]!r}")
    return sid


# -- load ------------------------------------------------------------------------


def callTemplate(kind: str, tool: str, query: str) -> bytes:
    """The request of one call, with C{%d} for its id and C{%s} for its
    message (unused by C{search}, whose query is fixed)."""
    if kind == "echo":
        params = b'{"name":"%s","arguments":{"message":"%%s"}}' % tool.encode()
    elif kind == "invoke":
        params = (
            b'{"name":"invoke","arguments":{"name":"%s","arguments":{"message":"%%s"}}}'
            % tool.encode()
        )
    else:
        params = b'{"name":"search","arguments":{"query":%s,"limit":5},"_meta":{"m":"%%s"}}' % (
            json.dumps(query).encode()
        )
    return b'{"jsonrpc":"2.0","id":%%d,"method":"tools/call","params":%s}' % params


class PathSession(LoadSession):
    """One session's calls of one kind; an answer counts as ok only if it is
    the caller's (its id) and says what that call must say."""

    kind = "echo"
    tool = "echo"

    def _mine(self, response: dict[str, Any]) -> bool:
        result = response.get("result")
        if response.get("id") != self.i or not isinstance(result, dict) or result.get("isError"):
            return False
        if self.kind == "search":
            found = result.get("structuredContent", {}).get("results") or [{}]
            return bool(found[0].get("name") == self.tool)
        text = None
        with contextlib.suppress(KeyError, IndexError, TypeError):
            text = result["content"][0]["text"]
        return bool(text == "Echo: " + self.expect.decode())

    def _got(self, status: int, headers: dict[str, str], body: bytes) -> None:
        t1 = _perf()
        tally = self.tally
        if status == 0:
            tally.lost += 1
            tally.sample("connection closed before the response")
            self.inFlight = False
            self.onDone(self)
            return
        try:
            msgs = messagesOf(headers, body) if status == 200 else []
        except ValueError as e:
            msgs = []
            tally.sample(f"unparsable body ({e}): {body[:200]!r}")
        response = next(
            (
                m
                for m in msgs
                if isinstance(m, dict) and "id" in m and ("result" in m or "error" in m)
            ),
            None,
        )
        if headers.get("content-type", "").startswith("text/event-stream"):
            tally.sse += 1
        else:
            tally.json += 1
        if status != 200 or (response is not None and "error" in response):
            tally.errors += 1
            tally.sample(f"HTTP {status}: {body[:200]!r}")
        elif response is None:
            tally.lost += 1
            tally.sample(f"stream ended without a response: {body[:200]!r}")
        elif self._mine(response):
            tally.ok += 1
            if self.measure:
                tally.latNs.append(t1 - self.t0)
        else:
            tally.misrouted += 1
            tally.sample(f"not mine (id {self.i}, {self.expect!r}): {json.dumps(response)[:200]}")
        self._next()


async def runLoad(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    host, port, path = splitUrl(args.url)
    hostHeader = f"{host}:{port}"
    mcpload.CALL_TEMPLATE = callTemplate(args.kind, args.tool, args.query)
    PathSession.kind, PathSession.tool = args.kind, args.tool
    auth = Path(args.auth_file).read_text().split("\n") if args.auth_file else []
    auth = [line for line in auth if line.strip()]
    nonce = args.nonce or secrets.token_hex(4)
    tally = Tally()
    sessions: list[PathSession] = []
    pending: set[LoadSession] = set()
    allDone: asyncio.Future[None] = loop.create_future()

    def finished(s: LoadSession) -> None:
        pending.discard(s)
        if not pending and not allDone.done():
            allDone.set_result(None)

    sem = asyncio.Semaphore(32)

    async def one(idx: int) -> None:
        headers = [f"Authorization: {auth[idx % len(auth)]}"] if auth else []
        async with sem:
            _, conn = await loop.create_connection(HttpConn, host, port)
            sid = await openWith(conn, path, hostHeader, headers, "pathload")
        sessions.append(
            withHeaders(
                headers,
                lambda: PathSession(idx, conn, sid, path, hostHeader, tally, nonce, finished),
            )
        )

    t = _mono()
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
        warm = (tally.errors, tally.misrouted, tally.lost, list(tally.samples))
        tally.__init__()  # type: ignore[misc]
        if any(warm[:3]):  # a path that fails warming up fails measured too: say so now
            tally.samples = [f"warm-up: {s}" for s in warm[3]]
    out("ready", sessions=len(sessions), setupSeconds=round(setupSeconds, 4))
    if args.wait_go:
        await readLine()
    cpu0 = cpuSeconds()
    t0 = _mono()
    t1 = await phase(args.calls, args.max_seconds, True)
    cpu1 = cpuSeconds()
    tally.lost += sum(1 for s in sessions if s.inFlight)
    for s in sessions:
        if s.conn.transport is not None:
            s.conn.transport.close()
    out(
        "result",
        ok=tally.ok,
        errors=tally.errors,
        misrouted=tally.misrouted,
        lost=tally.lost,
        samples=tally.samples,
        start=t0,
        end=t1,
        cpuSeconds=round(cpu1 - cpu0, 4),
        latUs=[ns // 1000 for ns in tally.latNs],
        loop=args.loopName,
    )


# -- hold --------------------------------------------------------------------------


async def openStreams(
    host: str, port: int, opened: list[tuple[str, str]], parallel: int, failures: list[str]
) -> list[HttpConn]:
    """A GET SSE stream for each (path, session id) of C{opened}."""
    loop = asyncio.get_running_loop()
    hostHeader = f"{host}:{port}"
    sem = asyncio.Semaphore(parallel)
    streams: list[HttpConn] = []

    async def one(path: str, sid: str) -> None:
        async with sem:
            try:
                _, get = await loop.create_connection(HttpConn, host, port)
                status, headers, _ = await asyncio.wait_for(
                    get.request(requestBytes(path, hostHeader, b"", sid, "GET"), stream=True), 30
                )
            except (TimeoutError, OSError) as e:
                failures.append(f"GET: {type(e).__name__}: {e}")
                return
            if status != 200 or not headers.get("content-type", "").startswith("text/event-stream"):
                failures.append(f"GET: HTTP {status}")
                get.transport.close()  # type: ignore[union-attr]
                return
            streams.append(get)

    await asyncio.gather(*(one(p, s) for p, s in opened))
    return streams


async def runHold(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    urls = [u for u in Path(args.urls_file).read_text().split("\n") if u.strip()]
    host, port, _ = splitUrl(urls[0])
    hostHeader = f"{host}:{port}"
    todo = [splitUrl(urls[j % len(urls)])[2] for j in range(args.per_url * len(urls))]
    opened: list[tuple[str, str]] = []
    failures: list[str] = []
    deadline = _mono() + args.max_seconds

    async def worker(w: int) -> None:
        _, conn = await loop.create_connection(HttpConn, host, port)
        for path in todo[w :: args.parallel]:
            if _mono() > deadline:
                failures.append("deadline")
                break
            if conn.closed.done():  # the gateway closed it (idle): open another
                _, conn = await loop.create_connection(HttpConn, host, port)
            try:
                sid = await openWith(conn, path, hostHeader, args.header, "pathhold")
                opened.append((path, sid))
            except (OSError, OpenFailed) as e:
                failures.append(f"{type(e).__name__}: {e}")
        conn.transport.close()  # type: ignore[union-attr]

    t0 = _mono()
    await asyncio.gather(*(worker(w) for w in range(args.parallel)))
    out(
        "ready",
        open=len(opened),
        failed=len(failures),
        samples=failures[:5],
        seconds=round(_mono() - t0, 3),
        nofile=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    )
    streams: list[HttpConn] = []
    while True:
        line = (await readLine()).strip()
        if line == "STREAM" and not streams:
            failures.clear()
            t0 = _mono()
            streams = await openStreams(host, port, opened, args.parallel, failures)
            out(
                "streaming",
                open=len(streams),
                failed=len(failures),
                samples=failures[:5],
                seconds=round(_mono() - t0, 3),
            )
            continue
        break
    stillOpen = sum(1 for s in streams if not s.closed.done())
    for s in streams:
        if s.transport is not None:
            s.transport.close()
    out("result", stillOpen=stillOpen, streamBytes=sum(s.streamBytes for s in streams))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("load")
    p.add_argument("--url", required=True)
    p.add_argument("--sessions", type=int, default=1)
    p.add_argument("--calls", type=int, default=100, help="calls per session")
    p.add_argument("--warmup", type=int, default=5, help="warm-up calls per session")
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--grace", type=float, default=10.0)
    p.add_argument("--nonce", default="")
    p.add_argument("--wait-go", action="store_true")
    p.add_argument("--auth-file", default="", help="one Authorization value a line")
    p.add_argument("--kind", choices=("echo", "invoke", "search"), default="echo")
    p.add_argument("--tool", default="echo")
    p.add_argument("--query", default="echo a message back")
    p = sub.add_parser("hold")
    p.add_argument("--urls-file", required=True)
    p.add_argument("--per-url", type=int, default=100)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument(
        "--header", action="append", default=[], help="'Name: value' added to each initialize"
    )
    p.add_argument("--max-seconds", type=float, default=300.0)
    args = parser.parse_args(argv)
    mcpload.raiseNofile()
    loop, args.loopName = mcpload.newLoop()
    runner = {"load": runLoad, "hold": runHold}[args.mode]
    try:
        loop.run_until_complete(runner(args))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
