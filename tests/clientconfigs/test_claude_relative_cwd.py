"""A user-scope entry of C{~/.claude.json} with a relative
C{cwd} is relative to the directory Claude Code runs in, which the gateway
does not know: it is left to Claude Code with a reason (as every other
client's user file), not adopted into a server that cannot start. A
project's entry keeps its relative C{cwd}, resolved against the project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli.clients import NOT_YET, claudeReport
from mcpgateway.clientconfigs.claude import ClaudeConfig
from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.config.servers import EntryError, parseEntry
from tests.clientconfigs.adoptkit import urlFor

MEMORY: dict[str, Any] = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}
WHY = "its cwd 'sub/dir' is relative to a directory only the client knows"


def claudeFile(home: Path, project: Path) -> Path:
    path = home / ".claude.json"
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "relcwd": {**MEMORY, "cwd": "sub/dir"},
                    "abscwd": {**MEMORY, "cwd": str(home)},
                },
                "projects": {str(project): {"mcpServers": {"projcwd": {**MEMORY, "cwd": "sub"}}}},
            },
            indent=2,
        )
    )
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    (path / "proj").mkdir(parents=True)
    return path


def test_a_relative_cwd_of_the_user_scope_is_not_adopted(home: Path, tmp_path: Path) -> None:
    project = home / "proj"
    path = claudeFile(home, project)
    config = ClaudeConfig(path, tmp_path / "state", home=home, environ={"PATH": ""})

    report = config.adopt(urlFor)

    assert report.adopted == ["abscwd (user scope)", f"projcwd (local scope of project {project})"]
    entries = json.loads(path.read_text())
    assert entries["mcpServers"]["relcwd"] == {**MEMORY, "cwd": "sub/dir"}  # Claude Code's own
    assert entries["projects"][str(project)]["mcpServers"]["projcwd"]["type"] == "http"
    loaded = config.loadServed()
    assert "relcwd" not in loaded.servers and "abscwd" in loaded.servers
    # What the gateway logs, as for every entry it cannot serve.
    assert f"server 'relcwd' (user scope): {WHY}; skipped" in loaded.warnings
    [projcwd] = [p for p in loaded.projects if p.name == "projcwd"]
    assert projcwd.entry["cwd"] == "sub"  # resolved against the project when served


def test_the_gateway_scope_and_a_variable_cwd_are_unchanged() -> None:
    with pytest.raises(EntryError, match="only the client knows"):
        parseEntry("x", {"command": "x", "cwd": "rel"}, {}, "user")
    assert parseEntry("x", {"command": "x", "cwd": "${HOME}/a"}, {"HOME": "/h"}, "user").cwd == (
        "/h/a"
    )
    assert parseEntry("x", {"command": "x", "cwd": "rel"}, {}, "gateway").cwd == "rel"


def test_clients_gives_the_reason(home: Path, tmp_path: Path) -> None:
    path = claudeFile(home, home / "proj")
    host = Host(home, "linux", {"PATH": ""})

    report = claudeReport(tmp_path / "state", host, path, "http://127.0.0.1:9100")

    [file] = report["files"]
    assert {"name": "relcwd", "why": WHY} in file["skipped"]
    assert {"name": "abscwd", "why": NOT_YET} in file["skipped"]  # no gateway ran
