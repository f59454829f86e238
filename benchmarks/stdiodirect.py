#!/usr/bin/env python3
"""The direct stdio driver: C{mcpload.py direct}'s worker, the physical limit
the gateway is compared with.

It spawns one stdio child (C{node .../server-everything stdio}), initializes
it, then sends the same C{tools/call echo} calls straight down its pipe with C
in flight, each answer checked to be its own call's (id and echoed text), and
prints its C{started} and C{result} lines (L{workerio.out}). Every level is
bounded by a call count and a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
from collections.abc import Callable
from typing import Any, cast

from workerio import (
    CALL_TEMPLATE,
    INITIALIZED,
    Tally,
    _loads,
    _mono,
    _perf,
    cpuSeconds,
    initializeBody,
    out,
    readLine,
)


class ChildPipe(asyncio.SubprocessProtocol):
    """The child's stdout, cut into lines for C{onLine}; C{exited} fires when
    it exits."""

    def __init__(self) -> None:
        self.partial = b""
        self.onLine: Callable[[bytes], None] = lambda line: None
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd != 1:
            return
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            if line.strip():
                self.onLine(line)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


def procCpuSeconds(pid: int) -> float:
    """utime + stime of process C{pid}, in seconds (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class DirectLevel:
    """One level down the pipe: C{calls} calls, C{conc} in flight, each
    answer checked, until all are answered or the deadline passes."""

    def __init__(
        self,
        proto: ChildPipe,
        stdin: asyncio.WriteTransport,
        nonce: str,
        nextId: list[int],
        calls: int,
        deadline: float,
    ) -> None:
        self.proto = proto
        self.stdin = stdin
        self.nonce = nonce
        self.nextId = nextId
        self.tally = Tally()
        self.inflight: dict[int, tuple[int, bytes]] = {}
        self.remaining = calls
        self.deadline = deadline
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def sendOne(self) -> None:
        i = self.nextId[0]
        self.nextId[0] += 1
        msg = f"{self.nonce}-d{i}".encode()
        self.inflight[i] = (_perf(), msg)
        self.stdin.write(CALL_TEMPLATE % (i, msg) + b"\n")

    def onLine(self, line: bytes) -> None:
        t1 = _perf()
        m = _loads(line)
        mid = m.get("id")
        tally = self.tally
        if mid is None or "method" in m:
            tally.notifications += 1
            return
        entry = self.inflight.pop(mid, None)
        if entry is None:
            tally.misrouted += 1
            return
        t, msg = entry
        try:
            text = m["result"]["content"][0]["text"]
        except (KeyError, IndexError, TypeError):
            text = None
        if text == "Echo: " + msg.decode():
            tally.ok += 1
            tally.latNs.append(t1 - t)
        elif "error" in m:
            tally.errors += 1
        else:
            tally.misrouted += 1
        if self.remaining > 0 and _mono() < self.deadline:
            self.remaining -= 1
            self.sendOne()
        elif not self.inflight and not self.done.done():
            self.done.set_result(None)

    async def run(self, conc: int, pid: int, wait: float) -> dict[str, Any]:
        """Send the first C{conc} calls, wait for the rest (at most C{wait}
        seconds); the level's figures."""
        self.proto.onLine = self.onLine
        cpu0, ccpu0 = cpuSeconds(), procCpuSeconds(pid)
        start = _mono()
        first = min(conc, self.remaining)
        self.remaining -= first
        for _ in range(first):
            self.sendOne()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.done, wait)
        end = _mono()
        self.tally.lost += len(self.inflight)
        return {
            "concurrency": conc,
            "ok": self.tally.ok,
            "errors": self.tally.errors,
            "misrouted": self.tally.misrouted,
            "lost": self.tally.lost,
            "start": start,
            "end": end,
            "cpuSeconds": round(cpuSeconds() - cpu0, 4),
            "childCpuSeconds": round(procCpuSeconds(pid) - ccpu0, 4),
            "latUs": [ns // 1000 for ns in self.tally.latNs],
        }


async def initialized(proto: ChildPipe, stdin: asyncio.WriteTransport) -> bool:
    """Send C{initialize}, wait (30 s at most) for its answer, then send
    C{notifications/initialized}; False when the child did not answer."""
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def initLine(line: bytes) -> None:
        m = _loads(line)
        if m.get("id") == 0 and not got.done():
            got.set_result(m)

    proto.onLine = initLine
    stdin.write(initializeBody("mcpload-direct") + b"\n")
    try:
        await asyncio.wait_for(got, 30)
    except TimeoutError:
        return False
    stdin.write(INITIALIZED + b"\n")
    return True


async def runDirect(args: argparse.Namespace) -> None:
    """C{mcpload.py direct}: spawn C{args.command}, initialize it, and for each
    concurrency a warm-up level then a measured one."""
    loop = asyncio.get_running_loop()
    nonce = secrets.token_hex(4)
    t0 = _mono()
    transport, proto = await loop.subprocess_exec(
        ChildPipe,
        *args.command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    stdin = cast(asyncio.WriteTransport, transport.get_pipe_transport(0))
    pid = transport.get_pid()
    if not await initialized(proto, stdin):
        out("failed", error="the child did not answer initialize within 30 s")
        transport.kill()
        return
    startSeconds = _mono() - t0
    out("started", pid=pid, startSeconds=round(startSeconds, 4), loop=args.loopName)
    if args.wait_go:
        await readLine()
    nextId = [1]
    levels = []
    for conc in args.concurrency:
        for label, calls in (("warmup", args.warmup), ("measure", args.calls)):
            level = DirectLevel(proto, stdin, nonce, nextId, calls, _mono() + args.max_seconds)
            figures = await level.run(conc, pid, args.max_seconds + args.grace)
            if label == "measure":
                levels.append(figures)
    stdin.close()
    try:
        await asyncio.wait_for(proto.exited, 5)
    except TimeoutError:
        transport.kill()
    out("result", startSeconds=round(startSeconds, 4), levels=levels, loop=args.loopName)
