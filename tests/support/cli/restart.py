"""What tests/cli/test_restart.py shares with the other tests: NEW, OLD, Scene."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from mcpgateway.cli.context import CliContext, Timeouts
from mcpgateway.ops.gatewayprobe import GatewayProbe

OLD, NEW = 4242, 5353


class Scene:
    """The seams of one run: the probes in order (the last one repeats), the
    signals sent, the time."""

    def __init__(self, stateDir: Path, probes: list[GatewayProbe]) -> None:
        self.stateDir = stateDir
        self.probes = probes
        self.probed = 0
        self.now = 1000.0
        self.slept = 0.0
        self.signals: list[tuple[int, int]] = []
        self.onSignal: Callable[[], None] = lambda: None
        self.killError: OSError | None = None

    def probe(self, stateDir: Path) -> GatewayProbe:
        assert stateDir == self.stateDir
        found = self.probes[min(self.probed, len(self.probes) - 1)]
        self.probed += 1
        return found

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds

    def kill(self, pid: int, signum: int) -> None:
        if self.killError is not None:
            raise self.killError
        self.signals.append((pid, signum))
        self.onSignal()

    def context(self, ctx: CliContext, timeout: float = 2.0) -> CliContext:
        ctx.probe = self.probe
        ctx.clock = self.clock
        ctx.sleep = self.sleep
        ctx.timeouts = replace(Timeouts(), start=timeout)
        return ctx
