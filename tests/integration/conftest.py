"""Fixtures for end-to-end tests: real gateway subprocesses, real MCP servers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.ops.signals import IGNORED_ENV
from tests.integration.gateway import REPO, RunningGateway, writeConfig

CACHE = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache" / "test-backends")
EVERYTHING = (
    CACHE / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def undeliveredStopSignals() -> list[str]:
    """What would keep a stop signal from a gateway this process starts: a
    child keeps the signals its parent ignores and blocks across C{exec},
    and a gateway ignores those its environment names."""
    found = [f"{s.name} ignored" for s in STOP_SIGNALS if signal.getsignal(s) is signal.SIG_IGN]
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    found += [f"{s.name} blocked" for s in STOP_SIGNALS if s in blocked]
    if IGNORED_ENV in os.environ:
        found.append(f"${IGNORED_ENV}={os.environ[IGNORED_ENV]}")
    return found


def deliverStopSignals() -> None:
    for s in STOP_SIGNALS:
        if signal.getsignal(s) is signal.SIG_IGN:
            signal.signal(s, signal.default_int_handler if s == signal.SIGINT else signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    os.environ.pop(IGNORED_ENV, None)


@pytest.fixture(autouse=True)
def stopSignalsReachTheGateways(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each integration test starts its gateways able to take a stop signal.
    A run started as a shell's background job (C{.ci/run}'s stock pass, a CI
    runner's C{&}) has SIGINT ignored, and a gateway keeps an inherited
    ignored signal ignored, as twistd does: the tests of SIGINT and of a
    second signal would pass only in a worker where an earlier test had
    happened to reset it. A test that leaves one ignored, blocked or named
    is named in a warning."""
    deliverStopSignals()
    yield
    left = undeliveredStopSignals()
    if left:
        warnings.warn(
            f"{request.node.nodeid} left {', '.join(left)} in the test process", stacklevel=2
        )
        deliverStopSignals()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A temporary HOME: tests never see the real ~/.claude.json."""
    (tmp_path / "state").mkdir()
    return tmp_path


@pytest.fixture
def start(home: Path) -> Iterator[object]:
    """Start gateways with C{start(args...)}; all are stopped after the test."""
    running: list[RunningGateway] = []

    def starter(*args: str, **kwargs: object) -> RunningGateway:
        gateway = RunningGateway(list(args), home, **kwargs)  # type: ignore[arg-type]
        running.append(gateway)
        return gateway

    yield starter
    for gateway in running:
        gateway.stop()


def _backends() -> dict[str, str]:
    """Install the npm test backends (once) and return their paths."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not found: tests with npm MCP backends need them")
    paths = CACHE / "paths.env"
    if not EVERYTHING.is_file() or not paths.is_file():
        subprocess.run(
            [str(REPO / "scripts" / "install-test-backends")],
            check=True,
            env={**os.environ, "MCPGATEWAY_TEST_CACHE": str(CACHE)},
        )
    found = dict(line.split("=", 1) for line in paths.read_text().splitlines() if "=" in line)
    return {key: value.strip() for key, value in found.items()}


@pytest.fixture(scope="session")
def conformance() -> list[str]:
    """argv prefix of the official conformance CLI, run by Node 22."""
    paths = _backends()
    node22, cli = paths.get("NODE22", ""), paths.get("CONFORMANCE_JS", "")
    assert Path(node22).is_file() and Path(cli).is_file(), paths
    return [node22, cli]


@pytest.fixture(scope="session")
def everything() -> list[str]:
    """argv of @modelcontextprotocol/server-everything over stdio.

    Installed by scripts/install-test-backends (which .ci/run also calls);
    skipped with a reason only when Node itself is missing."""
    _backends()
    assert EVERYTHING.is_file(), f"server-everything missing at {EVERYTHING}"
    return [str(shutil.which("node")), str(EVERYTHING), "stdio"]


@pytest.fixture
def sharedEverything(start: Any, home: Path, everything: list[str]) -> RunningGateway:
    """A gateway serving server-everything on one child all sessions share
    (C{share: global}): what routes a child's messages to the right session
    has one child to get right."""
    config = writeConfig(
        home / "servers.json",
        {"everything": {"command": everything[0], "args": everything[1:], "share": "global"}},
    )
    return start("--config", str(config))  # type: ignore[no-any-return]
