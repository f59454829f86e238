"""A project's C{.mcp.json} end to end: C{mcpgateway start} (the real CLI,
detached, on a temporary HOME) shadows its approved server with a local-scope
entry in C{~/.claude.json}, a call through that entry's URL answers,
C{mcpgateway stop} gives C{~/.claude.json} back byte for byte, and the
C{.mcp.json} is never written."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.integration.gateway import waitFor
from tests.support.integration.cli_real import Cli, echoes, freePort
from tests.support.integration.cli_real import cli as cli  # the fixture

pytestmark = pytest.mark.integration

DEMO = {"type": "stdio", "command": sys.executable, "args": ["-m", "mcpgateway.demo"], "env": {}}


def shadow(config: Path, project: str) -> dict[str, str] | None:
    data = json.loads(config.read_text())
    entry = data["projects"][project].get("mcpServers", {}).get("demo")
    return entry if isinstance(entry, dict) and entry.get("type") == "http" else None


def test_an_approved_mcp_json_server_is_shadowed(cli: Cli) -> None:
    home, port = cli.home, freePort()
    project = home / "repo"
    project.mkdir()
    mcpJson = project / ".mcp.json"
    mcpJson.write_text(json.dumps({"mcpServers": {"demo": DEMO}}, indent=2) + "\n")
    mcpBefore, mcpStat = mcpJson.read_bytes(), mcpJson.stat()
    config = home / ".claude.json"
    config.write_text(
        json.dumps(
            {
                "numStartups": 4,
                "projects": {
                    str(project): {
                        "allowedTools": [],
                        "hasTrustDialogAccepted": True,
                        "enableAllProjectMcpServers": True,
                    }
                },
            },
            indent=2,
        )
    )
    os.chmod(config, 0o600)
    before = config.read_bytes()

    started = cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    assert waitFor(lambda: shadow(config, str(project)) is not None, 15)
    entry = shadow(config, str(project))
    assert entry is not None
    assert entry["url"].startswith(f"http://127.0.0.1:{port}/demo~")
    assert entry["url"].endswith("/mcp")
    assert waitFor(lambda: echoes(entry["url"], "through the shadow"), 30, 0.5)
    assert mcpJson.read_bytes() == mcpBefore

    stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stderr + stopped.stdout
    assert config.read_bytes() == before
    assert mcpJson.read_bytes() == mcpBefore
    assert mcpJson.stat().st_mtime_ns == mcpStat.st_mtime_ns  # never written
    assert mcpJson.stat().st_ino == mcpStat.st_ino  # nor replaced


def test_an_edit_of_the_mcp_json_is_served_within_seconds(cli: Cli) -> None:
    """A server a C{git pull} (or an edit) adds to a project's C{.mcp.json}
    is shadowed and served without waiting for C{~/.claude.json} to change."""
    home, port = cli.home, freePort()
    project = home / "repo"
    project.mkdir()
    mcpJson = project / ".mcp.json"
    mcpJson.write_text(json.dumps({"mcpServers": {"demo": DEMO}}, indent=2) + "\n")
    config = home / ".claude.json"
    approved = {
        "allowedTools": [],
        "hasTrustDialogAccepted": True,
        "enableAllProjectMcpServers": True,
    }
    config.write_text(json.dumps({"projects": {str(project): approved}}, indent=2))
    os.chmod(config, 0o600)
    started = cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        assert waitFor(lambda: shadow(config, str(project)) is not None, 15)

        def pulled() -> dict[str, str] | None:
            data = json.loads(config.read_text())
            entry = data["projects"][str(project)].get("mcpServers", {}).get("pulled")
            return entry if isinstance(entry, dict) and entry.get("type") == "http" else None

        mcpJson.write_text(json.dumps({"mcpServers": {"demo": DEMO, "pulled": DEMO}}) + "\n")
        assert waitFor(lambda: pulled() is not None, 20), config.read_text()
        entry = pulled()
        assert entry is not None
        assert waitFor(lambda: echoes(entry["url"], "pulled in"), 30, 0.5)
    finally:
        stopped = cli("stop")
        assert stopped.returncode == 0, stopped.stderr + stopped.stdout
