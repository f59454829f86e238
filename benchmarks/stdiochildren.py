"""Stdio servers started without the gateway, as a client starts them: the
child's own start time (L{childStartSeconds}) and the status quo of the
session-scaling step (L{statusQuo}: every session spawning its own children),
each child initialized and answering one call.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import time
from typing import Any

from procstat import memAvailableMB, treeMemory

INIT_LINE = (
    json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bench-direct", "version": "1"},
            },
        }
    ).encode()
    + b"\n"
)
INITIALIZED_LINE = b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
CALL_LINE = (
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",'
    b'"arguments":{"message":"hello"}}}\n'
)


class StdioChild:
    """One stdio server started as a client would start it (own process group)."""

    def __init__(
        self, argv: list[str], cwd: str | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b""
        self.initialized = 0.0
        self.called = 0.0
        self.proc.stdin.write(INIT_LINE)
        self.proc.stdin.flush()

    def fileno(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def readable(self) -> bool:
        """Consume output; True when this child is done (answered the call)."""
        try:
            data = os.read(self.fileno(), 65536)
        except BlockingIOError:
            return False
        if not data:
            raise RuntimeError(f"{self.proc.args} exited before answering")
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("id") == 0 and not self.initialized:
                self.initialized = time.monotonic()
                assert self.proc.stdin is not None
                self.proc.stdin.write(INITIALIZED_LINE + CALL_LINE)
                self.proc.stdin.flush()
            elif msg.get("id") == 1 and not self.called:
                text = msg.get("result", {}).get("content", [{}])[0].get("text")
                if text != "Echo: hello":
                    raise RuntimeError(f"unexpected answer {msg}")
                self.called = time.monotonic()
        return bool(self.called)

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                f.close()  # type: ignore[union-attr]


def waitAll(kids: list[StdioChild], timeout: float) -> None:
    pending = {k.fileno(): k for k in kids if not k.called}
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"{len(pending)} stdio children did not answer within {timeout:g}s")
        ready, _, _ = select.select(list(pending), [], [], min(left, 1.0))
        for fd in ready:
            if pending[fd].readable():
                del pending[fd]


def childStartSeconds(js: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        kid = StdioChild(["node", js, "stdio"])
        try:
            waitAll([kid], 30)
            times.append(kid.initialized - kid.started)
        finally:
            kid.kill()
    return times


def statusQuo(
    argv: list[str],
    total: int,
    measure: int,
    batch: int,
    cwd: str | None,
    env: dict[str, str] | None,
    reserveMB: float,
) -> dict[str, Any]:
    """Start C{measure} children (each: initialize + one call), measure their
    trees, kill them. When C{measure} < C{total}, scale linearly, and say so."""
    kids: list[StdioChild] = []
    started = time.monotonic()
    stoppedEarly = None
    try:
        while len(kids) < measure:
            if kids and memAvailableMB() < reserveMB:
                stoppedEarly = f"stopped at {len(kids)}: MemAvailable under {reserveMB:g} MB"
                break
            group = [StdioChild(argv, cwd, env) for _ in range(min(batch, measure - len(kids)))]
            kids += group
            waitAll(group, 120)
        elapsed = time.monotonic() - started
        mem = treeMemory([k.proc.pid for k in kids])
    finally:
        for k in kids:
            k.kill()
    n = len(kids)
    result = {
        "measured": n,
        "of": total,
        "seconds": round(elapsed, 2),
        "meanInitSeconds": round(sum(k.initialized - k.started for k in kids) / n, 3),
        **mem,
    }
    if n < total:
        f = total / n
        result.update(
            {
                "estimate": True,
                "note": (stoppedEarly or f"measured {n}") + f", scaled x{f:g} to {total}",
                "processes": round(mem["processes"] * f),
                "rssMB": round(mem["rssMB"] * f, 1),
                "pssMB": round(mem["pssMB"] * f, 1),
                "measuredProcesses": mem["processes"],
                "measuredRssMB": mem["rssMB"],
                "measuredPssMB": mem["pssMB"],
            }
        )
    return result
