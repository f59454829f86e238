"""Claude Code moved onto the adoption engine: a gateway upgraded
while a backup of the earlier Claude-only adoption is in the state directory
(C{config-backup.json}, its own format: C{mcpServers} and
C{projects.<path>.mcpServers} of C{{"url", "original"}} records, shadows
with C{"original": null} and C{"createdBlock"}, C{timestampBefore}) still
restores it, byte for byte: by hand (C{ClaudeConfig.restore}, what
C{mcpgateway restore} runs), at the next start (recovery), and after
adopting on top of it (the backup is then written in the engine's format).

Every file lives under C{tmp_path} (the fake home, also C{$HOME})."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
from mcpgateway.clientconfigs.claude import ClaudeConfig, hasBackup, inspectBackup
from mcpgateway.config.workspaces import WorkspaceKeys

ENV: dict[str, str] = {"PATH": ""}
KEYS = WorkspaceKeys(bytes(range(32)))
DB = {"type": "stdio", "command": "npx", "args": ["-y", "server-db"], "env": {}}


def url(name: str, workspace: str | None = None) -> str:
    route = name if workspace is None else f"{name}~{KEYS.key(workspace)}"
    return f"http://127.0.0.1:9100/{route}/mcp"


def http(name: str, workspace: str | None = None) -> dict[str, str]:
    return {"type": "http", "url": url(name, workspace)}


def setUp(home: Path) -> tuple[Path, Path, bytes]:
    """A C{~/.claude.json} as the earlier gateway left it adopted (killed,
    or stopped by an upgrade), and that gateway's backup; the original bytes."""
    one, two = home / "work" / "one", home / "work" / "two"
    for project in (one, two):
        project.mkdir(parents=True)
        (project / ".mcp.json").write_text(json.dumps({"mcpServers": {"db": DB}}, indent=2))
    p1, p2 = str(one), str(two)
    before: dict[str, Any] = {
        "numStartups": 5,
        "mcpServers": {"search": {"command": "search-mcp"}},
        "_mcp_gateway_ts": 7,
        "projects": {
            p1: {
                "hasTrustDialogAccepted": True,
                "enableAllProjectMcpServers": True,
                "mcpServers": {"lint": {"command": "lint"}},
            },
            p2: {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True},
        },
    }
    adopted: dict[str, Any] = json.loads(json.dumps(before))
    adopted["mcpServers"]["search"] = http("search")
    adopted["_mcp_gateway_ts"] = 1_700_000_000_000
    adopted["projects"][p1]["mcpServers"] = {"lint": http("lint", p1), "db": http("db", p1)}
    adopted["projects"][p2]["mcpServers"] = {"db": http("db", p2)}
    config = home / ".claude.json"
    config.write_text(json.dumps(adopted, indent=2))
    stateDir = home / ".mcpgateway"
    stateDir.mkdir(mode=0o700)
    # exactly as mcpgateway/clientconfigs/claude.py of the Claude-only adoption wrote it
    oldBackup = {
        "version": 1,
        "configPath": str(config),
        "timestampAdded": False,
        "timestampBefore": 7,
        "mcpServers": {"search": {"url": url("search"), "original": {"command": "search-mcp"}}},
        "projects": {
            p1: {
                "mcpServers": {
                    "lint": {"url": url("lint", p1), "original": {"command": "lint"}},
                    "db": {"url": url("db", p1), "original": None},
                }
            },
            p2: {
                "mcpServers": {"db": {"url": url("db", p2), "original": None}},
                "createdBlock": True,
            },
        },
    }
    (stateDir / "config-backup.json").write_text(json.dumps(oldBackup, indent=2) + "\n")
    return config, stateDir, json.dumps(before, indent=2).encode()


def test_an_old_format_backup_is_restored_by_hand(home: Path) -> None:
    config, stateDir, before = setUp(home)
    assert inspectBackup(stateDir, config) == 4  # doctor and restore read it
    report = ClaudeConfig(config, stateDir, environ=ENV).restore()
    assert sorted(report.restored) == sorted(
        [
            "search (user scope)",
            f"lint (local scope of project {home / 'work' / 'one'})",
            f"db (local scope of project {home / 'work' / 'one'})",
            f"db (local scope of project {home / 'work' / 'two'})",
        ]
    )
    assert report.kept == []
    assert config.read_bytes() == before  # the created block and the timestamp too
    assert not hasBackup(stateDir, config)
    assert (stateDir / "config-backup.json.1").is_file()  # kept, as before the upgrade


def test_an_old_format_backup_is_restored_at_the_next_start(home: Path) -> None:
    config, stateDir, before = setUp(home)
    source = AdoptedClaudeConfig(config, stateDir, "127.0.0.1", ENV, keys=KEYS)
    loaded = source.load()  # recovery of the unclean stop, then adoption
    assert config.read_bytes() == before
    assert any("restored after an unclean stop" in w for w in loaded.warnings)
    assert sorted(loaded.servers) == ["search"]
    source.listening(9100)
    assert json.loads(config.read_text())["projects"][str(home / "work" / "two")] == {
        "hasTrustDialogAccepted": True,
        "enableAllProjectMcpServers": True,
        "mcpServers": {"db": http("db", str(home / "work" / "two"))},
    }
    assert json.loads((stateDir / "config-backup.json").read_text())["version"] == 2
    source.stopping()
    assert config.read_bytes() == before


def test_adopting_on_top_of_an_old_format_backup_keeps_its_originals(home: Path) -> None:
    """A restart that takes over (nothing recovered) adopts with the old
    backup as it is: nothing to rewrite, the originals served, the backup
    now in the engine's format, and the stop restores the bytes."""
    config, stateDir, before = setUp(home)
    adoptedBytes = config.read_bytes()
    source = AdoptedClaudeConfig(config, stateDir, "127.0.0.1", ENV, keys=KEYS)
    source.continueAdoption()
    assert source.load().servers["search"].command == "search-mcp"
    assert source.listening(9100) == []  # every entry already where it belongs
    assert config.read_bytes() == adoptedBytes
    saved = json.loads((stateDir / "config-backup.json").read_text())
    assert saved["version"] == 2 and saved["stamp"] == {
        "key": "_mcp_gateway_ts",
        "added": False,
        "before": 7,
    }
    assert source.servedRoutes()[("db", str(home / "work" / "two"))] == DB
    source.stopping()
    assert config.read_bytes() == before
