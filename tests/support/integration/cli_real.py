"""What tests/integration/cli/test_cli_real.py shares with the other tests: Cli,
freePort."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import REPO
from tests.integration.gateway import freePort as freePort  # one per worker


class Cli:
    """Runs C{python -m mcpgateway.cli} with a temporary HOME and state dir."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.stateDir = home / "gw-state"
        self.env = {
            **os.environ,
            "HOME": str(home),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        for name in ("MCPGATEWAY_HOME", "NO_COLOR", "http_proxy", "HTTP_PROXY"):
            self.env.pop(name, None)

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mcpgateway.cli", *args, "--state-dir", str(self.stateDir)],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def state(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.stateDir / "state.json").read_text())  # type: ignore[no-any-return]
        except FileNotFoundError:
            return None

    def gatewayPids(self) -> list[int]:
        """Every live process whose command line names our state directory."""
        found = []
        marker = os.fsencode(str(self.stateDir))
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        if marker in f.read() and pidAlive(int(entry)):
                            found.append(int(entry))
                except OSError:
                    continue
        return found


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path)
    yield runner
    for pid in runner.gatewayPids():  # a failed test must not leave a daemon behind
        os.kill(pid, signal.SIGKILL)
