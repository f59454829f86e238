#!/usr/bin/env python3
"""Load as MCP clients built on a library make it: aiohttp, httpx, the Python SDK.

``mcpload.py load`` is a raw HTTP/1.1 loader (one socket per session, no
library in the hot loop). Real clients are built on an HTTP library, or are
an SDK's client built on one: each session has its own client and connection
pool, sends ``Accept: application/json, text/event-stream`` and reads an
answer that may come as SSE. The kinds here make the load those clients make,
so what a target serves them is measured, not only what a raw loader gets:

  aiohttp     an ``aiohttp.ClientSession`` per MCP session (a pool of one
              connection), answers parsed (JSON or SSE) and verified here
  httpx       the same on ``httpx2.AsyncClient`` (the Python SDK 2.x's fork of
              httpx), or ``httpx`` when httpx2 is not installed
  sdk-python  the official Python MCP SDK's client: a ``ClientSession`` over
              ``streamable_http_client`` per MCP session (its own httpx2
              client, its GET stream), ``initialize`` and ``list_tools`` once,
              then sequential ``call_tool("echo", {"message": ...})``

Usage (the options and the output are ``mcpload.py load``'s, so that
``bench.runLevel`` drives every kind alike)::

    python benchmarks/libload.py KIND --url URL [--sessions C] [--first K]
        [--calls R] [--warmup W] [--max-seconds S] [--grace G] [--nonce N]
        [--wait-go] [--unique-ids]

C sessions open (32 at a time, each within 15 s), make W warm-up calls each, then print
``{"event": "ready"}``, wait for a ``GO`` line on stdin (``--wait-go``), make R
calls each (one in flight per session, until the bound of S seconds), close
(a ``DELETE`` each, so that a target serving several kinds in a row does not
keep the sessions of the previous one), and print ``{"event": "result"}``: ok,
errors, misrouted, lost, latencies in µs, start and end on
``time.monotonic()`` (``mcpload.py``'s clock). Every call's message is
``<nonce>-s<session>-<n>``: an answer with another text (another session's)
is misrouted, no answer (none in the body, a dropped connection, the bound
plus G seconds passed) is lost, a JSON-RPC error or a non-200 status is an
error. ``--unique-ids`` (aiohttp, httpx) offsets session k's JSON-RPC ids by
``(k + 1) * 10**7``, initialize included; the SDK picks its own ids.

The kinds run on plain asyncio, as their users run them (``LIBLOAD_UVLOOP=1``:
on uvloop when it is importable).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import resource
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

VERSION = "2025-11-25"
ID_STRIDE = 10**7
"""Session k's JSON-RPC ids are (k + 1) * ID_STRIDE + n with ``--unique-ids``."""
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
OPEN_AT_ONCE = 32
OPEN_SECONDS = 15.0
"""At most this long opening one session (initialize, and the SDK's tools/list)."""
CLOSE_SECONDS = 10.0
"""At most this long closing the sessions after the measured calls."""

_mono = time.monotonic
_perf = time.perf_counter_ns


def out(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def optional(*names: str) -> Any:
    """The first of the modules C{names} that imports (the kinds' libraries are
    optional: a kind whose library is missing fails to open, the others run)."""
    for name in names[:-1]:
        with contextlib.suppress(ImportError):
            return importlib.import_module(name)
    return importlib.import_module(names[-1])


# -- what a call's answer was -------------------------------------------------------


@dataclass
class Outcome:
    """One call's verdict: ok, errors, misrouted or lost (and why, when not ok)."""

    verdict: str
    why: str = ""
    sse: bool | None = None
    """True/False: the answer came as SSE/JSON; None: not seen (the SDK kinds)."""
    notifications: int = 0
    fatal: bool = False
    """The session cannot go on (its connection is gone): no further calls."""


def messagesOf(contentType: str, body: bytes) -> list[Any]:
    """The JSON-RPC messages of a JSON or SSE body (an event without data, an SSE
    priming event, is no message)."""
    if contentType.startswith("text/event-stream"):
        found = []
        for block in body.replace(b"\r\n", b"\n").split(b"\n\n"):
            data = [
                line[5:].lstrip(b" ") for line in block.split(b"\n") if line.startswith(b"data:")
            ]
            if any(data):
                found.append(json.loads(b"\n".join(data)))
        return found
    if not body:
        return []
    parsed = json.loads(body)
    return parsed if isinstance(parsed, list) else [parsed]


def judge(status: int, contentType: str, body: bytes, requestId: int, message: str) -> Outcome:
    """The verdict on an HTTP answer to the echo call C{requestId} of C{message}:
    ok only with the caller's id and C{Echo: <message>}."""
    if status != 200:
        return Outcome("errors", f"HTTP {status}: {body[:200]!r}")
    sse = contentType.startswith("text/event-stream")
    try:
        messages = messagesOf(contentType, body)
    except ValueError as e:
        return Outcome("errors", f"unparsable body ({e}): {body[:200]!r}", sse)
    response, notes = None, 0
    for m in messages:
        if isinstance(m, dict) and "id" in m and ("result" in m or "error" in m):
            response = m
        else:
            notes += 1
    if response is None:
        return Outcome("lost", f"no response in the body: {body[:200]!r}", sse, notes)
    if "error" in response:
        return Outcome("errors", f"error: {json.dumps(response)[:200]}", sse, notes)
    text = None
    with contextlib.suppress(KeyError, IndexError, TypeError):
        text = response["result"]["content"][0]["text"]
    if response["id"] == requestId and text == "Echo: " + message:
        return Outcome("ok", "", sse, notes)
    why = f"not mine (id {requestId}, {message!r}): {json.dumps(response)[:200]}"
    return Outcome("misrouted", why, sse, notes)


def judgeText(text: Any, isError: bool, message: str) -> Outcome:
    """The verdict on an SDK's tool result (the SDK matched the id already)."""
    if isError:
        return Outcome("errors", f"isError: {str(text)[:200]}")
    if text == "Echo: " + message:
        return Outcome("ok")
    return Outcome("misrouted", f"not mine ({message!r}): {str(text)[:200]}")


@dataclass
class Tally:
    ok: int = 0
    errors: int = 0
    misrouted: int = 0
    lost: int = 0
    sent: int = 0
    json: int = 0
    sse: int = 0
    notifications: int = 0
    samples: list[str] = field(default_factory=list)
    latUs: list[int] = field(default_factory=list)

    def count(self, outcome: Outcome, nanoseconds: int) -> None:
        setattr(self, outcome.verdict, getattr(self, outcome.verdict) + 1)
        if outcome.sse is not None:
            self.sse += outcome.sse
            self.json += not outcome.sse
        self.notifications += outcome.notifications
        if outcome.verdict == "ok":
            self.latUs.append(nanoseconds // 1000)
        elif len(self.samples) < 5:
            self.samples.append(outcome.why[:300])


# -- the kinds: each opens one MCP session and gives back its call ------------------

Call = Callable[[int, str], Awaitable[Outcome]]
"""Make the echo call with JSON-RPC id n (where the kind picks ids) and message."""
Opener = Callable[[contextlib.AsyncExitStack, int], Awaitable[Call]]
"""Open session k on the stack (closed with it), give back its call."""
Post = Callable[[dict[str, Any], dict[str, str]], Awaitable[tuple[int, str, str, bytes]]]
"""POST a message with extra headers: status, content type, session id, body."""


class OpenFailed(Exception):
    pass


def idBase(args: argparse.Namespace, index: int) -> int:
    return (index + 1) * ID_STRIDE if args.unique_ids else 0


async def openHttp(post: Post, initId: int) -> dict[str, str]:
    """initialize and notifications/initialized as a client does: the headers
    every later request of the session carries."""
    init = {
        "jsonrpc": "2.0",
        "id": initId,
        "method": "initialize",
        "params": {
            "protocolVersion": VERSION,
            "capabilities": {},
            "clientInfo": {"name": "libload", "version": "1"},
        },
    }
    status, contentType, sid, body = await post(init, {})
    messages = messagesOf(contentType, body) if status == 200 else []
    if status != 200 or not sid or not any("result" in m for m in messages):
        raise OpenFailed(f"initialize: HTTP {status} {body[:200]!r}")
    extra = {"mcp-session-id": sid, "mcp-protocol-version": VERSION}
    status, _, _, body = await post(
        {"jsonrpc": "2.0", "method": "notifications/initialized"}, extra
    )
    if status not in (200, 202):
        raise OpenFailed(f"notifications/initialized: HTTP {status} {body[:200]!r}")
    return extra


async def quietly(request: Awaitable[Any]) -> None:
    """The session's DELETE when it closes (a server that refuses it, or is gone,
    changes nothing measured)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(request, CLOSE_SECONDS / 2)


def httpCall(post: Post, extra: dict[str, str]) -> Call:
    async def call(requestId: int, message: str) -> Outcome:
        request = {
            "jsonrpc": "2.0",
            "id": requestId,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": message}},
        }
        try:
            status, contentType, _, body = await post(request, extra)
        except Exception as e:  # the connection went away: the session is over
            return Outcome("lost", f"{type(e).__name__}: {e}", fatal=True)
        return judge(status, contentType, body, requestId, message)

    return call


def aiohttpOpener(args: argparse.Namespace) -> Opener:
    aiohttp = optional("aiohttp")

    async def opener(stack: contextlib.AsyncExitStack, index: int) -> Call:
        client = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        )

        async def post(
            message: dict[str, Any], extra: dict[str, str]
        ) -> tuple[int, str, str, bytes]:
            async with client.post(args.url, json=message, headers={**HEADERS, **extra}) as r:
                body = await r.read()
                return (
                    r.status,
                    r.headers.get("content-type", ""),
                    r.headers.get("mcp-session-id", ""),
                    body,
                )

        async def delete(extra: dict[str, str]) -> None:
            async with client.delete(args.url, headers=extra) as r:
                await r.read()

        extra = await openHttp(post, idBase(args, index))
        stack.push_async_callback(quietly, delete(extra))
        return httpCall(post, extra)

    return opener


def httpxOpener(args: argparse.Namespace) -> Opener:
    httpx = optional("httpx2", "httpx")

    async def opener(stack: contextlib.AsyncExitStack, index: int) -> Call:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        client = await stack.enter_async_context(httpx.AsyncClient(limits=limits, timeout=60))

        async def post(
            message: dict[str, Any], extra: dict[str, str]
        ) -> tuple[int, str, str, bytes]:
            r = await client.post(args.url, json=message, headers={**HEADERS, **extra})
            return (
                r.status_code,
                r.headers.get("content-type", ""),
                r.headers.get("mcp-session-id", ""),
                r.content,
            )

        extra = await openHttp(post, idBase(args, index))
        stack.push_async_callback(quietly, client.delete(args.url, headers=extra))
        return httpCall(post, extra)

    return opener


def sdkOpener(args: argparse.Namespace) -> Opener:
    """The Python SDK's client (2.x: C{streamable_http_client}; 1.x:
    C{streamablehttp_client}), one C{ClientSession} per MCP session."""
    mcp = optional("mcp")
    transport = optional("mcp.client.streamable_http")
    connect = getattr(transport, "streamable_http_client", None) or transport.streamablehttp_client
    rpcError = getattr(mcp, "MCPError", None) or mcp.McpError

    async def opener(stack: contextlib.AsyncExitStack, index: int) -> Call:
        streams = await stack.enter_async_context(connect(args.url))
        session = await stack.enter_async_context(mcp.ClientSession(streams[0], streams[1]))
        await session.initialize()
        await session.list_tools()  # as a client does first; the SDK would on its first call

        async def call(requestId: int, message: str) -> Outcome:
            try:
                result = await session.call_tool("echo", {"message": message})
            except rpcError as e:
                return Outcome("errors", f"error: {e}")
            content = result.content
            text = getattr(content[0], "text", None) if content else None
            isError = getattr(result, "is_error", None)  # 2.x; 1.x: isError
            if isError is None:
                isError = getattr(result, "isError", False)
            return judgeText(text, bool(isError), message)

        return call

    return opener


KINDS: dict[str, Callable[[argparse.Namespace], Opener]] = {
    "aiohttp": aiohttpOpener,
    "httpx": httpxOpener,
    "sdk-python": sdkOpener,
}


# -- the sessions and the phases ----------------------------------------------------


@dataclass
class Phase:
    calls: int
    deadline: float
    grace: float
    tally: Tally


class Session:
    """One MCP session in a task of its own (an SDK's context managers must be
    entered and left by one task): open, run the phases it is given, close."""

    def __init__(self, index: int, nonce: str, base: int) -> None:
        self.index = index
        self.prefix = f"{nonce}-s{index}-"
        self.base = base
        self.n = 0
        self.gone = False
        """Its connection failed: it makes no more calls."""
        self.ended = False
        """Its task is over: phases given to it now are settled at once."""
        self.closing = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inbox: asyncio.Queue[tuple[Phase, asyncio.Future[None]] | None] = asyncio.Queue()

    async def life(self, opener: Opener, gate: asyncio.Semaphore) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                try:
                    async with gate, asyncio.timeout(OPEN_SECONDS):
                        call = await opener(stack, self.index)
                except Exception as e:
                    why = (
                        f"no answer within {OPEN_SECONDS:g} s"
                        if isinstance(e, TimeoutError)
                        else f"{type(e).__name__}: {e}"
                    )
                    self.opened.set_exception(OpenFailed(why))
                    return
                self.opened.set_result(None)
                while (item := await self.inbox.get()) is not None:
                    phase, done = item
                    try:
                        await self.run(call, phase)
                    finally:
                        done.set_result(None)
        finally:
            # An SDK whose connection failed cancels the task that entered it
            # (anyio's task group): the session ends, what it still owes is lost.
            self.gone = self.ended = True
            if not self.opened.done():
                self.opened.set_exception(OpenFailed("cancelled while opening"))
            while not self.inbox.empty():
                item = self.inbox.get_nowait()
                if item is not None:
                    self.owe(item[0])
                    item[1].set_result(None)

    def give(self, phase: Phase) -> asyncio.Future[None]:
        """Run C{phase}; the future is done when this session has finished it."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.ended:
            self.owe(phase)
            done.set_result(None)
        else:
            self.inbox.put_nowait((phase, done))
        return done

    def owe(self, phase: Phase) -> None:
        """A gone session owed the phase's calls: the first is lost (as
        C{mcpload.py} counts a connection closed between calls)."""
        if phase.calls and _mono() < phase.deadline:
            phase.tally.count(Outcome("lost", "the session was gone before this call"), 0)

    async def run(self, call: Call, phase: Phase) -> None:
        """Up to C{phase.calls} calls one after another, until the deadline; a call
        still unanswered at the deadline plus the grace is lost (the session too)."""
        tally = phase.tally
        for _ in range(phase.calls):
            if _mono() >= phase.deadline:
                return
            if self.gone:
                self.owe(phase)
                return
            self.n += 1
            message = self.prefix + str(self.n)
            tally.sent += 1
            t0 = _perf()
            try:
                outcome = await asyncio.wait_for(
                    call(self.base + self.n, message),
                    max(0.001, phase.deadline + phase.grace - _mono()),
                )
            except TimeoutError:
                outcome = Outcome("lost", "no answer within the bound", fatal=True)
            except asyncio.CancelledError:
                if self.closing:
                    raise
                # the SDK cancelled its own task: its connection failed
                tally.count(Outcome("lost", "the SDK cancelled the call"), 0)
                self.gone = True
                raise
            except Exception as e:  # transport failures: the session cannot go on
                outcome = Outcome("lost", f"{type(e).__name__}: {e}", fatal=True)
            tally.count(outcome, _perf() - t0)
            if outcome.fatal:
                self.gone = True
                return


async def phase(sessions: list[Session], calls: int, seconds: float, grace: float) -> Tally:
    tally = Tally()
    deadline = _mono() + seconds
    done = [s.give(Phase(calls, deadline, grace, tally)) for s in sessions]
    await asyncio.wait(done, timeout=seconds + grace + 5)
    return tally


async def readLine() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def cpuSeconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def runLoad(args: argparse.Namespace, loopName: str) -> None:
    try:
        opener = KINDS[args.kind](args)
    except ImportError as e:
        out("failed", error=f"{args.kind}: {e}")
        return
    nonce = args.nonce or secrets.token_hex(4)
    gate = asyncio.Semaphore(OPEN_AT_ONCE)
    sessions = [
        Session(args.first + i, nonce, idBase(args, args.first + i)) for i in range(args.sessions)
    ]
    tasks = [asyncio.create_task(s.life(opener, gate)) for s in sessions]
    t = _mono()
    opened = await asyncio.gather(*(s.opened for s in sessions), return_exceptions=True)
    problems = [e for e in opened if isinstance(e, BaseException)]
    if problems:
        out("failed", error=f"opening sessions: {len(problems)} failed, e.g. {problems[0]}")
        await close(sessions, tasks)
        return
    setupSeconds = _mono() - t
    if args.warmup:
        await phase(sessions, args.warmup, args.max_seconds, args.grace)
    out("ready", sessions=len(sessions), setupSeconds=round(setupSeconds, 4))
    if args.wait_go:
        await readLine()
    cpu0 = cpuSeconds()
    t0 = _mono()
    tally = await phase(sessions, args.calls, args.max_seconds, args.grace)
    t1 = _mono()
    cpu1 = cpuSeconds()
    out("measured")  # the measured calls are done: closing the sessions is not theirs
    await close(sessions, tasks)
    out(
        "result",
        ok=tally.ok,
        errors=tally.errors,
        misrouted=tally.misrouted,
        lost=tally.lost,
        sent=tally.sent,
        jsonResponses=tally.json,
        sseResponses=tally.sse,
        notifications=tally.notifications,
        samples=tally.samples[:5],
        start=t0,
        end=t1,
        cpuSeconds=round(cpu1 - cpu0, 4),
        latUs=tally.latUs,
        loop=loopName,
    )


async def close(sessions: list[Session], tasks: list[asyncio.Task[None]]) -> None:
    """Leave every session (the SDK sends its DELETE), within CLOSE_SECONDS."""
    for s in sessions:
        s.closing = True
        s.inbox.put_nowait(None)
    _, late = await asyncio.wait(tasks, timeout=CLOSE_SECONDS)
    for task in late:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def newLoop() -> tuple[asyncio.AbstractEventLoop, str]:
    if os.environ.get("LIBLOAD_UVLOOP") == "1":
        with contextlib.suppress(ImportError):
            uvloop = importlib.import_module("uvloop")
            return uvloop.new_event_loop(), "uvloop " + uvloop.__version__
    return asyncio.new_event_loop(), "asyncio"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("kind", choices=sorted(KINDS))
    ap.add_argument("--url", required=True)
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--first", type=int, default=0, help="index of the first session")
    ap.add_argument("--calls", type=int, default=100, help="calls per session")
    ap.add_argument("--warmup", type=int, default=5, help="warm-up calls per session")
    ap.add_argument("--max-seconds", type=float, default=30.0)
    ap.add_argument("--grace", type=float, default=10.0)
    ap.add_argument("--nonce", default="")
    ap.add_argument("--wait-go", action="store_true")
    ap.add_argument(
        "--unique-ids",
        action="store_true",
        help="JSON-RPC ids unique across sessions (aiohttp, httpx)",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.unique_ids and args.kind.startswith("sdk"):
        out("failed", error=f"{args.kind}: the SDK picks its ids (no --unique-ids)")
        return 2
    with contextlib.suppress(ValueError, OSError):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop, loopName = newLoop()
    try:
        loop.run_until_complete(runLoad(args, loopName))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
