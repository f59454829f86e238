"""Adopting Claude Code's config end to end: rewrite on start, serve from the
backup, hot-add, restore on stop, recover after a crash."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import REPO, RunningGateway, callEcho, waitFor

pytestmark = pytest.mark.integration
DEMO = {"type": "stdio", "command": sys.executable, "args": ["-m", "mcpgateway.demo"], "env": {}}


def claudeJson(home: Path) -> Path:
    path = home / ".claude.json"
    (home / "p").mkdir(exist_ok=True)  # the project's directory: its child starts there
    data = {
        "numStartups": 3,
        "mcpServers": {
            "demo": DEMO,
            "remote": {"type": "http", "url": "https://example.invalid/mcp"},
        },
        "projects": {
            str(home / "p"): {
                "allowedTools": [],
                "mcpServers": {
                    "thinker": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
                },
            }
        },
    }
    path.write_text(json.dumps(data, indent=2))  # as Claude Code writes it
    os.chmod(path, 0o600)
    return path


def test_adopt_serve_hot_add_and_restore(start: Any, home: Path) -> None:
    config = claudeJson(home)
    original = config.read_bytes()
    gateway: RunningGateway = start("--rewrite-config")
    assert waitFor(lambda: "_mcp_gateway_ts" in config.read_text())  # adopted once listening
    data = json.loads(config.read_text())
    url = data["mcpServers"]["demo"]["url"]
    assert data["mcpServers"]["demo"] == {"type": "http", "url": gateway.url("demo")}
    assert data["mcpServers"]["remote"]["url"] == "https://example.invalid/mcp"
    # A project's own server is adopted at its workspace's route, never the global one.
    thinker = data["projects"][str(home / "p")]["mcpServers"]["thinker"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/thinker~[a-z2-7]{16}/mcp", thinker["url"])
    assert callEcho(thinker["url"], "ws") == "ws"
    assert isinstance(data["_mcp_gateway_ts"], int)
    assert (home / "state" / "config-backup.json").is_file()
    assert os.stat(config).st_mode & 0o777 == 0o600
    assert callEcho(url, "adopted") == "adopted"  # served from the backup

    # `claude mcp add`: a new stdio entry appears; it is adopted and served within seconds.
    data["mcpServers"]["added"] = dict(DEMO)
    config.write_text(json.dumps(data, indent=2))
    assert waitFor(
        lambda: json.loads(config.read_text())["mcpServers"]["added"].get("type") == "http",
        timeout=5,
    )
    assert callEcho(gateway.url("added"), "adopted") == "adopted"

    gateway.stop()
    expected = json.loads(original)
    expected["mcpServers"]["added"] = dict(DEMO)
    assert config.read_text() == json.dumps(expected, indent=2)  # no _mcp_gateway_ts left


def test_crash_then_restart_restores_first_and_adopts_again(start: Any, home: Path) -> None:
    config = claudeJson(home)
    before = config.read_bytes()
    first: RunningGateway = start("--rewrite-config")
    first.process.kill()
    first.process.wait()
    assert json.loads(config.read_text())["mcpServers"]["demo"]["type"] == "http"  # crashed
    second: RunningGateway = start("--rewrite-config")
    assert "restored after an unclean stop" in second.text()
    assert callEcho(second.url("demo"), "adopted") == "adopted"
    second.stop()
    assert config.read_bytes() == before


def test_a_claude_config_created_after_the_start_is_what_status_says_is_served(
    start: Any, home: Path
) -> None:
    """Claude Code installed after the gateway: the file it creates is
    adopted at its next load, and C{state.json} (what `mcpgateway status`
    prints as the config) names it instead of the bundled demo."""
    cursor = home / ".cursor" / "mcp.json"  # a client the start adopts meanwhile
    cursor.parent.mkdir()
    cursor.write_text(json.dumps({"mcpServers": {"tool": dict(DEMO)}}, indent=2) + "\n")
    gateway: RunningGateway = start("--rewrite-config")
    state = home / "state" / "state.json"
    assert waitFor(lambda: state.is_file())
    assert json.loads(state.read_text())["config"] is None  # the bundled demo
    config = claudeJson(home)
    assert waitFor(lambda: "_mcp_gateway_ts" in config.read_text(), timeout=10)
    assert waitFor(lambda: json.loads(state.read_text())["config"] == str(config), timeout=5)
    status = subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", "status", "--state-dir", str(home / "state")],
        env={
            **os.environ,
            "HOME": str(home),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"config {config} (rewritten to point at the gateway)" in status.stdout, status.stdout
    gateway.stop()
