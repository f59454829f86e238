"""The user's config end to end, with real gateways: a client's stale copy
written back after stop, a project's private server, leftovers of a killed
write, and entries that point at a gateway with no backup."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, callEcho, twistdCommand, waitFor
from tests.support.mcpclient import initializeMessage, post

pytestmark = pytest.mark.integration
DEMO = {"type": "stdio", "command": sys.executable, "args": ["-m", "mcpgateway.demo"], "env": {}}


def claudeJson(home: Path, extra: dict[str, Any] | None = None) -> Path:
    path = home / ".claude.json"
    data = {
        "numStartups": 3,
        "mcpServers": {"demo": DEMO, **(extra or {})},
        "projects": {
            str(home / "p"): {
                "allowedTools": [],
                "mcpServers": {
                    "private": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
                },
            }
        },
    }
    path.write_text(json.dumps(data, indent=2))
    return path


def test_a_stale_copy_written_back_after_stop_is_restored_on_the_next_start(
    start: Any, home: Path
) -> None:
    """The user's path: adopt; a client reads the file; stop (the
    restore); the client writes its copy back; start again."""
    config = claudeJson(home)
    before = config.read_bytes()
    first: RunningGateway = start("--rewrite-config", command=twistdCommand())
    assert waitFor(lambda: json.loads(config.read_text())["mcpServers"]["demo"]["type"] == "http")
    stale = config.read_bytes()  # a client reads the adopted file
    first.stop()
    assert config.read_bytes() == before
    config.write_bytes(stale)  # Claude Code's read-modify-write lands after the restore

    second: RunningGateway = start("--rewrite-config", command=twistdCommand())
    assert "pointed at a stopped gateway" in second.text()
    assert callEcho(second.url("demo"), "back") == "back"  # the original is served
    second.stop()
    assert config.read_bytes() == before  # and the file is the user's again
    assert (home / "state" / "config-backup.json.1").is_file()  # kept for the next time


def test_without_rewrite_a_projects_private_server_is_not_served_globally(
    start: Any, home: Path
) -> None:
    """Then `twistd -n mcpgateway` reading ~/.claude.json
    serves a project's own server at its workspace's route only: the global
    route of that name answers 404 (no project's server is reachable from
    another route)."""
    claudeJson(home)
    gateway: RunningGateway = start(command=twistdCommand())
    assert sorted(gateway.health()["servers"]) == ["demo", "private"]
    assert "not serving" not in gateway.text()
    refused = post(gateway.url("private"), initializeMessage(0), timeout=10)
    assert refused.status == 404


def test_a_start_removes_leftovers_and_says_which_entries_lost_their_backup(
    start: Any, home: Path
) -> None:
    config = claudeJson(home, {"lost": {"type": "http", "url": "http://127.0.0.1:9/lost/mcp"}})
    leftover = home / "..claude.json.k9x2ab_q.tmp"  # what a kill -9 mid-write leaves
    leftover.write_text('{"numStartups": 3, "mcp')
    unrelated = home / ".claude.json.backup.tmp"
    unrelated.write_text("not ours")
    old = time.time() - 3600
    for path in (leftover, unrelated):
        os.utime(path, (old, old))
    gateway: RunningGateway = start("--rewrite-config")
    assert not leftover.exists()
    assert unrelated.read_text() == "not ours"
    text = gateway.text()
    assert "lost (user scope) -> http://127.0.0.1:9/lost/mcp" in text
    assert "no backup in" in text
    assert callEcho(gateway.url("demo"), "still") == "still"
    assert waitFor(lambda: "adopted 2 entries" in gateway.text())
    gateway.stop()
    assert json.loads(config.read_text())["mcpServers"]["demo"] == DEMO
