"""The official MCP conformance suite, run through the gateway against a stdio
fixture server (tests/fixtures/conformance_server.py) shared by every session:
the 2025 wire (the default "active" suite) and the 2026-07-28 wire (the
revision's frozen requirement set), each against one shared handshake child."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import REPO, RunningGateway, writeConfig

pytestmark = [pytest.mark.integration, pytest.mark.front]
FIXTURE = REPO / "tests" / "fixtures" / "conformance_server.py"


def passesTheSuite(conformance: list[str], home: Path, url: str) -> None:
    """The 2025 suite's active server scenarios against C{url}: all of them
    pass (at least 70), the session, rebinding, SSE, sampling and progress
    ones among them."""
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


def test_every_active_server_scenario_passes(
    start: Any, home: Path, conformance: list[str]
) -> None:
    config = writeConfig(
        home / "servers.json", {"conformance": {"command": sys.executable, "args": [str(FIXTURE)]}}
    )
    gateway: RunningGateway = start("--config", str(config))
    # localhost, not 127.0.0.1: the dns-rebinding scenario requires a localhost URL.
    url = f"http://localhost:{gateway.port}/conformance/mcp"
    passesTheSuite(conformance, home, url)
    # One shared child served every scenario's sessions.
    assert gateway.health()["servers"]["conformance"]["children"] == 1


def requiredScenarios(conformance: list[str], revision: str, leg: str = "server") -> list[str]:
    """The scenarios C{revision} requires of a C{leg}, from the installed
    suite's frozen C{requirements/<revision>.yaml}."""
    path = Path(conformance[-1]).parent.parent / "requirements" / f"{revision}.yaml"
    names: list[str] = []
    inLeg = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\S", line):
            inLeg = line.rstrip() == f"{leg}:"
            continue
        match = re.match(r"^  - ([\w./-]+)\s*$", line)
        if inLeg and match:
            names.append(match.group(1))
    return names


def run2026(conformance: list[str], home: Path, url: str) -> str:
    """Run the suite's 2026-07-28 requirements against C{url}; its output,
    once every required scenario passed, and every scenario of the tasks
    extension too (not scored: the suite lists them apart)."""
    required = requiredScenarios(conformance, "2026-07-28")
    assert len(required) >= 37, required
    proc = subprocess.run(
        [*conformance, "server", "--url", url, "--requirements", "2026-07-28"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=home,
    )
    output = proc.stdout + proc.stderr
    print("\n".join(line for line in output.splitlines() if re.match(r"\s*[✓✗] ", line)))
    failing = [
        name
        for name in required
        if not re.search(rf"✓ {re.escape(name)}: \d+ passed, 0 failed", output)
    ]
    assert failing == [], "\n".join(failing) + "\n" + output[-8000:]
    assert proc.returncode == 0, output[-4000:]
    tasks = re.findall(r"✓ (tasks-[\w-]+): \d+ passed, 0 failed", output)
    assert len(tasks) >= 10 and not re.search(r"✗ tasks-", output), output[-8000:]
    return output


def test_every_required_2026_scenario_passes(
    start: Any, home: Path, conformance: list[str]
) -> None:
    """MCP 2026-07-28 served in front of a handshake stdio child: every scenario
    the revision requires passes, and so does every scenario of the tasks
    extension, and the whole run used one child."""
    config = writeConfig(
        home / "servers.json", {"conformance": {"command": sys.executable, "args": [str(FIXTURE)]}}
    )
    gateway: RunningGateway = start("--config", str(config))
    run2026(conformance, home, f"http://localhost:{gateway.port}/conformance/mcp")
    assert gateway.health()["servers"]["conformance"]["children"] == 1


def test_every_active_scenario_passes_on_the_aggregate_endpoint(
    start: Any, home: Path, conformance: list[str]
) -> None:
    """The 2025 suite against C{/mcp}, the aggregate endpoint,
    with the conformance fixture as its only server and bare names
    (C{aggregate.json}: the default endpoint's C{namespace} is C{never}):
    every active scenario passes, as on C{/conformance/mcp}."""
    (home / "state" / "aggregate.json").write_text(
        json.dumps({"endpoints": {"default": {"namespace": "never"}}})
    )
    config = writeConfig(
        home / "servers.json", {"conformance": {"command": sys.executable, "args": [str(FIXTURE)]}}
    )
    gateway: RunningGateway = start("--config", str(config))
    url = f"http://localhost:{gateway.port}/mcp"
    passesTheSuite(conformance, home, url)
    # The aggregate served every scenario, through one shared child.
    assert "opened on the aggregate endpoint /mcp" in gateway.text()
    assert gateway.health()["servers"]["conformance"]["children"] == 1


def test_every_required_2026_scenario_passes_on_the_aggregate_endpoint(
    start: Any, home: Path, conformance: list[str]
) -> None:
    """MCP 2026-07-28 on C{/mcp}, the aggregate endpoint, with the
    conformance fixture as its only server under bare names: every
    scenario the revision requires passes, every scenario of the tasks
    extension too, as on C{/conformance/mcp}; no session is opened, and one
    child served it all."""
    (home / "state" / "aggregate.json").write_text(
        json.dumps({"endpoints": {"default": {"namespace": "never"}}})
    )
    config = writeConfig(
        home / "servers.json", {"conformance": {"command": sys.executable, "args": [str(FIXTURE)]}}
    )
    gateway: RunningGateway = start("--config", str(config))
    run2026(conformance, home, f"http://localhost:{gateway.port}/mcp")
    assert "opened on the aggregate endpoint" not in gateway.text()
    assert gateway.health()["servers"]["conformance"]["children"] == 1
