"""Fixtures of the tests of the C{mcpgateway} command: a temporary HOME and
state directory, the gateway's lock, a fake gateway answering HTTP, and the
commands' seams (L{CliContext})."""

from __future__ import annotations

import fcntl
import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpgateway.cli.context import CliContext, defaultContext
from mcpgateway.ops.statedir import LOCK_FILE
from mcpgateway.runtime import ownertoken, portuse
from tests.cli.support import Cli, FakeClaudeConfig, FakeGateway, run, writeState
from tests.support.cli.started import Start, startGateway


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME; no colour settings or proxies leak in from outside."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    for name in ("MCPGATEWAY_HOME", "NO_COLOR", "MCPGATEWAY_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture(autouse=True)
def noForeignListener(monkeypatch: pytest.MonkeyPatch) -> None:
    """No port the tests' entries point at is another account's (9100 may
    be anyone's on the machine running them); a test says when one is."""
    monkeypatch.setattr(portuse, "foreignListener", lambda port, host="127.0.0.1": None)
    monkeypatch.setattr(ownertoken, "foreignListener", lambda port, host="127.0.0.1": None)


@pytest.fixture
def stateDir(tmp_path: Path, home: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def locked(stateDir: Path) -> Iterator[None]:
    """Hold the gateway's flock, as a running gateway does."""
    fd = os.open(stateDir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    yield
    os.close(fd)


@pytest.fixture
def fakeGateway() -> Iterator[FakeGateway]:
    gateway = FakeGateway()
    yield gateway
    gateway.close()


@pytest.fixture
def running(stateDir: Path, locked: None, fakeGateway: FakeGateway) -> FakeGateway:
    """state.json names this (live, lock-holding) process and the fake's port."""
    writeState(stateDir, os.getpid(), fakeGateway.port)
    return fakeGateway


@pytest.fixture
def warmed() -> list[str | None]:
    """The bytecode warm-ups the commands run with L{ctx} asked for: the
    private bytecode folder of each, or C{None}."""
    return []


@pytest.fixture
def ctx(warmed: list[str | None]) -> CliContext:
    """The seams of the commands, real until a test puts a fake in (pass it
    to L{run} or L{main}); but C{start} finds every port free (the tests'
    fake gateways listen on the port they start on, and 9100 may be taken
    on the machine running them), the bytecode warm-up before a start
    (a Python process of its own, about half a second of CPU) is only
    counted, in L{warmed}: the integration tests' starts run it; and the
    standard library has the gateway's bytecode (no private folder), as on
    the machines the tests run on, whatever Python runs them."""
    context = defaultContext()
    context.checkPort = lambda port: None
    context.bytecodeFolder = lambda stateDir: None
    context.warm = warmed.append
    return context


@pytest.fixture
def fakeClaude(ctx: CliContext) -> list[tuple[Path, Path]]:
    """C{ctx} restores with L{FakeClaudeConfig}: the calls it got."""
    FakeClaudeConfig.calls = []
    ctx.claudeConfigClass = lambda: FakeClaudeConfig
    return FakeClaudeConfig.calls


@pytest.fixture
def start(
    capsys: pytest.CaptureFixture[str],
    stateDir: Path,
    home: Path,
    locked: None,
    fakeGateway: FakeGateway,
    ctx: CliContext,
) -> Start:
    """Runs C{mcpgateway start --port <fakeGateway's> ARGS} (L{startGateway})
    in the temporary HOME, the lock held as a starting gateway holds it."""
    return functools.partial(startGateway, capsys, stateDir, fakeGateway, ctx)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], stateDir: Path, ctx: CliContext) -> Cli:
    """Runs C{mcpgateway ARGS --state-dir <stateDir>} with C{ctx}'s seams
    (L{run}): the exit code, stdout and stderr."""
    return functools.partial(run, capsys, stateDir, ctx=ctx)
