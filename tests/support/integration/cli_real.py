"""What tests/integration/cli/test_cli_real.py shares with the other tests: Cli,
its cli fixture, freePort, and echoes, the readiness check of the adoption
tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import callEcho, errorText
from tests.integration.gateway import freePort as freePort  # one per worker
from tests.support.integration.detached import environment, gatewayPids, runCli


class Cli:
    """Runs C{python -m mcpgateway.cli} with a temporary HOME and state dir."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.stateDir = home / "gw-state"
        self.env = environment(home)

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return runCli(self.home, *args, stateDir=self.stateDir, env=self.env, timeout=timeout)

    def state(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.stateDir / "state.json").read_text())  # type: ignore[no-any-return]
        except FileNotFoundError:
            return None

    def gatewayPids(self) -> list[int]:
        """Every live process whose command line names our state directory."""
        return gatewayPids(self.stateDir)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path)
    yield runner
    for pid in runner.gatewayPids():  # a failed test must not leave a daemon behind
        os.kill(pid, signal.SIGKILL)


def echoes(url: str, message: str) -> bool:
    """Whether the C{echo} tool behind C{url} gives C{message} back: what a
    test waits for (L{tests.integration.gateway.waitFor}) after a CLI command
    has handed a client's entry to the gateway. A failed call says why and
    counts as not yet: the reload that serves the adopted entries may be
    pending."""
    try:
        return callEcho(url, message) == message
    except Exception as e:
        print("call failed:", errorText(e))
        return False
