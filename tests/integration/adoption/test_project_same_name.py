"""A repository's C{.mcp.json} entry named as one of the user's servers,
end to end: C{mcpgateway start} (the real CLI, detached, on a temporary
HOME) serves the user's C{mem} at C{/mem/mcp}; one session holds it while
the repository adds a different C{mem} (a C{git pull}), edits it and
removes it. The session carries on through every change, answered by the
user's server, and the log never says the user's server changed."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import waitFor
from tests.support.integration.cli_real import Cli, freePort
from tests.support.integration.cli_real import cli as cli  # the fixture
from tests.support.mcpclient import Session

pytestmark = pytest.mark.integration

DEMO = {"type": "stdio", "command": sys.executable, "args": ["-m", "mcpgateway.demo"], "env": {}}
ENDED = "config: server mem changed; ending its sessions"


def shadowOf(config: Path, project: Path) -> dict[str, Any] | None:
    data = json.loads(config.read_text())
    entry = data["projects"][str(project)].get("mcpServers", {}).get("mem")
    return entry if isinstance(entry, dict) and entry.get("type") == "http" else None


def reloaded(log: Path) -> bool:
    """Whether the gateway took the repository's new entry: the pool of
    C{mem} made anew, its user's sessions carried on (or ended)."""
    text = log.read_text()
    return "of its unchanged routes carry on" in text or ENDED in text


def repositorys(word: str) -> dict[str, Any]:
    return {**DEMO, "env": {"WHO": word}, "share": "global"}


def test_a_repositorys_same_named_entry_never_ends_the_users_sessions(cli: Cli) -> None:
    home, port = cli.home, freePort()
    project = home / "repo"
    project.mkdir()
    mcpJson = project / ".mcp.json"
    mcpJson.write_text(json.dumps({"mcpServers": {}}) + "\n")
    config = home / ".claude.json"
    approved = {
        "allowedTools": [],
        "hasTrustDialogAccepted": True,
        "enableAllProjectMcpServers": True,
    }
    config.write_text(
        json.dumps({"mcpServers": {"mem": DEMO}, "projects": {str(project): approved}}, indent=2)
    )
    os.chmod(config, 0o600)
    log = cli.stateDir / "gateway.log"

    started = cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        user = Session(f"http://127.0.0.1:{port}/mem/mcp")
        user.open()

        def echoes(message: str) -> bool:
            result = user.call("echo", {"message": message})
            return bool(result["content"][0]["text"] == message)

        assert echoes("before")
        mcpJson.write_text(json.dumps({"mcpServers": {"mem": repositorys("a")}}) + "\n")
        assert waitFor(lambda: shadowOf(config, project) is not None, 20), config.read_text()
        shadow = shadowOf(config, project)
        assert shadow is not None and "/mem~" in shadow["url"]
        assert waitFor(lambda: reloaded(log), 20), log.read_text()
        assert ENDED not in log.read_text()
        assert echoes("after the pull")
        mcpJson.write_text(json.dumps({"mcpServers": {"mem": repositorys("b")}}) + "\n")
        time.sleep(3)
        assert echoes("after the edit")
        mcpJson.write_text(json.dumps({"mcpServers": {}}) + "\n")
        assert waitFor(lambda: shadowOf(config, project) is None, 20), config.read_text()
        time.sleep(1)
        assert echoes("after the removal")
        assert ENDED not in log.read_text()
    finally:
        stopped = cli("stop")
        assert stopped.returncode == 0, stopped.stderr + stopped.stdout
