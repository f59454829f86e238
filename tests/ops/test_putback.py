"""The client entries a gateway that did not stop cleanly left adopted are
put back, the Claude config it served and every other client's file; with
nothing adopted, nothing is done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway.clientconfigs.claude import ClaudeConfig
from mcpgateway.ops.putback import adoptionInEffect, putBackEverything
from mcpgateway.ops.statedir import writeState
from tests.clientconfigs.adoptkit import otherPort

SERVERS = {"fs": {"command": "fs-server"}, "mem": {"command": "mem-server"}}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    return home


def adopted(path: Path, stateDir: Path, home: Path) -> None:
    """C{path}'s entries adopted by a gateway on port 9200 that never
    restored them (it crashed)."""
    path.write_text(json.dumps({"mcpServers": SERVERS}, indent=2))
    assert len(ClaudeConfig(path, stateDir, home=home, environ={}).adopt(otherPort).adopted) == 2


def test_the_claude_config_the_gateway_served_gets_its_entries_back(
    home: Path, tmp_path: Path
) -> None:
    stateDir = tmp_path / "state"
    stateDir.mkdir(mode=0o700)
    served = home / "servers" / "claude.json"
    served.parent.mkdir()
    adopted(served, stateDir, home)
    writeState(stateDir, {"pid": 1, "port": 9200, "config": str(served)})  # the crashed one's
    assert adoptionInEffect(stateDir, served)

    said = putBackEverything(stateDir)

    assert json.loads(served.read_text())["mcpServers"] == SERVERS
    assert said == [f"put back in {served}: fs (gateway scope), mem (gateway scope)"]
    assert not adoptionInEffect(stateDir, served)
    assert putBackEverything(stateDir) == []  # nothing adopted any more: nothing done


def test_without_a_state_file_the_users_claude_config_is_put_back(
    home: Path, tmp_path: Path
) -> None:
    stateDir = tmp_path / "state"
    stateDir.mkdir(mode=0o700)
    adopted(home / ".claude.json", stateDir, home)
    assert putBackEverything(stateDir) == [
        f"put back in {home / '.claude.json'}: fs (user scope), mem (user scope)"
    ]
    assert json.loads((home / ".claude.json").read_text())["mcpServers"] == SERVERS


def test_an_unreadable_claude_config_is_said_and_the_rest_goes_on(
    home: Path, tmp_path: Path
) -> None:
    stateDir = tmp_path / "state"
    stateDir.mkdir(mode=0o700)
    path = home / ".claude.json"
    adopted(path, stateDir, home)
    path.write_text("{ not json")
    [said] = putBackEverything(stateDir)  # said once, though the engine tried it too
    assert said.startswith(f"could not put back {path}:") and "mcpgateway restore" in said
