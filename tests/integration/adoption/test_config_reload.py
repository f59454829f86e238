"""Hot reload of a plain config file, and the single-instance rule."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import REPO, RunningGateway, refusedStart, waitFor, writeConfig

pytestmark = pytest.mark.integration
DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}


def servers(gateway: RunningGateway) -> dict[str, Any]:
    return gateway.health()["servers"]  # type: ignore[no-any-return]


def test_added_changed_and_removed_servers_follow_the_file(start: Any, home: Path) -> None:
    config = writeConfig(home / "servers.json", {"a": DEMO})
    gateway: RunningGateway = start("--config", str(config))
    assert list(servers(gateway)) == ["a"]
    # Replace the file by rename, as editors and Claude Code do.
    tmp = home / "servers.json.tmp"
    tmp.write_text(json.dumps({"mcpServers": {"b": DEMO, "serena": DEMO}}))
    os.replace(tmp, config)
    assert waitFor(lambda: sorted(servers(gateway)) == ["b", "serena"], timeout=5)
    assert servers(gateway)["serena"]["mode"] == "stateful"  # built-in classification
    config.write_text("{broken")
    assert waitFor(lambda: "reload of" in gateway.text(), timeout=5)
    assert sorted(servers(gateway)) == ["b", "serena"]  # a broken file changes nothing


def test_state_json_and_a_second_gateway_refused(start: Any, home: Path) -> None:
    gateway: RunningGateway = start()
    state = json.loads((home / "state" / "state.json").read_text())
    assert state["pid"] == gateway.process.pid and state["port"] == gateway.port
    env = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": str(REPO),
        "MCPGATEWAY_HOME": str(home / "state"),
    }
    second = refusedStart(
        [sys.executable, "-m", "twisted", "mcpgateway", "--port", "0"],
        home,
        env,
    )
    assert "another gateway is running" in second.stderr
    assert f"pid {gateway.process.pid}" in second.stderr
    gateway.stop()
    assert not (home / "state" / "state.json").exists()
