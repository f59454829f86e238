"""Runs C{mcpgateway start} against a L{FakeLauncher} and reads back the
command line it launched: what the tests of C{start}'s options share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcpgateway import tap
from mcpgateway.cli.context import CliContext
from tests.cli.support import FakeGateway, run
from tests.support.cli.start import FakeLauncher


@dataclass
class Started:
    """One C{start}'s exit code, output and the twistd command line it ran."""

    code: int
    out: str
    err: str
    launcher: FakeLauncher

    @property
    def argv(self) -> list[str]:
        """twistd's whole command line."""
        return self.launcher.argv

    @property
    def outcome(self) -> tuple[int, str, str]:
        """The exit code, stdout and stderr, as L{run} gives them."""
        return self.code, self.out, self.err

    @property
    def gateway(self) -> list[str]:
        """The gateway's own arguments: those after C{mcpgateway} (not twistd's)."""
        return self.argv[self.argv.index("mcpgateway") + 1 :]

    def options(self) -> tap.Options:
        """The gateway's arguments as the gateway parses them."""
        options = tap.Options()
        options.parseOptions(self.gateway)
        return options


Start = Callable[..., Started]
"""The C{start} fixture: L{startGateway} bound to a test's fixtures."""


def startGateway(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    gateway: FakeGateway,
    ctx: CliContext,
    *args: str,
    launcher: type[FakeLauncher] = FakeLauncher,
) -> Started:
    """Run C{mcpgateway start --port <gateway's port> ARGS} with a
    C{launcher} (a L{FakeLauncher}) standing in for twistd and no bytecode
    warming."""
    launched = launcher(stateDir, gateway)
    ctx.launch = launched
    ctx.warm = lambda folder: None
    code, out, err = run(capsys, stateDir, "start", "--port", str(gateway.port), *args, ctx=ctx)
    return Started(code, out, err, launched)
