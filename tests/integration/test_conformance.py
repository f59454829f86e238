"""The official MCP conformance suite, run through the gateway against a stdio
fixture server (tests/fixtures/conformance_server.py) shared by every session."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import REPO, RunningGateway, writeConfig

pytestmark = pytest.mark.integration
FIXTURE = REPO / "tests" / "fixtures" / "conformance_server.py"


def test_every_active_server_scenario_passes(
    start: Any, home: Path, conformance: list[str]
) -> None:
    config = writeConfig(
        home / "servers.json", {"conformance": {"command": sys.executable, "args": [str(FIXTURE)]}}
    )
    gateway: RunningGateway = start("--config", str(config))
    # localhost, not 127.0.0.1: the dns-rebinding scenario requires a localhost URL.
    url = f"http://localhost:{gateway.port}/conformance/mcp"
    proc = subprocess.run(
        [*conformance, "server", "--url", url],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=home,
    )
    output = proc.stdout + proc.stderr
    summary = re.search(r"Total: (\d+) passed, (\d+) failed", output)
    assert summary, output[-3000:]
    passed, failed = int(summary.group(1)), int(summary.group(2))
    assert failed == 0, output[-6000:]
    assert passed >= 70, output[-3000:]
    for scenario in (
        "server-session-lifecycle",
        "dns-rebinding-protection",
        "server-sse-multiple-streams",
        "tools-call-sampling",
        "tools-call-with-progress",
    ):
        assert re.search(rf"✓ {scenario}: \d+ passed, 0 failed", output), scenario
    assert proc.returncode == 0
    # One shared child served every scenario's sessions.
    assert gateway.health()["servers"]["conformance"]["children"] == 1
