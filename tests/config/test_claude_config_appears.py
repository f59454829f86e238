"""A gateway started without C{~/.claude.json} (serving
the bundled demo and adopting Cursor) adopts that file when it appears
later (Claude Code installed after the gateway, as a service): the file's
creation is watched, the next load adopts it as a start would, serves its
servers instead of the demo, and stop restores it byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock

from mcpgateway.clientconfigs.clients.mcpservers import Cursor
from mcpgateway.config.watched import watchedPathsOf
from tests.reloading import write
from tests.support.config.configservice_clients import cursorFile
from tests.support.config.demosource import demoService, demoSource

EVERYTHING = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]}
CLAUDE = json.dumps({"numStartups": 1, "mcpServers": {"everything": EVERYTHING}}, indent=2)


@pytest.fixture
def home(home: Path) -> Path:
    """The config tests' HOME, with a Cursor config serving C{fs}."""
    cursorFile(home, {"fs": {"command": "fs-server"}})
    return home


def test_a_claude_config_created_after_the_start_is_adopted_at_the_next_load(
    home: Path,
) -> None:
    source = demoSource(home, [Cursor()])
    claude = home / ".claude.json"
    assert claude in watchedPathsOf(source)  # watched while missing
    source.listening(9100)
    assert "demo" in source.load().servers

    claude.write_text(CLAUDE)
    loaded = source.load()

    entries = json.loads(claude.read_text())["mcpServers"]
    assert entries["everything"] == {"type": "http", "url": "http://127.0.0.1:9100/everything/mcp"}
    assert loaded.servers["everything"].args == tuple(EVERYTHING["args"])
    assert "demo" not in loaded.servers and "fs" in loaded.servers
    assert any(f"{claude} appeared" in note for note in loaded.notes)
    assert source.path == claude and source.awaitedPaths() == []

    source.stopping()
    assert claude.read_text() == CLAUDE


def test_a_half_written_claude_config_waits_for_its_next_change(home: Path) -> None:
    source = demoSource(home, [Cursor()])
    source.listening(9100)
    claude = home / ".claude.json"
    claude.write_text('{"mcpServers": {')

    loaded = source.load()

    assert "demo" in loaded.servers and source.path is None
    assert any("cannot be adopted yet" in w for w in loaded.warnings)
    assert claude.read_text() == '{"mcpServers": {'
    claude.write_text(CLAUDE)
    assert "everything" in source.load().servers


def test_an_adoption_that_fails_midway_is_put_back_and_the_demo_stays(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError while adopting (the file vanished, a full disk) leaves
    the demo served, the file as it was, and a warning."""
    from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig

    source = demoSource(home, [Cursor()])
    source.listening(9100)
    claude = home / ".claude.json"
    claude.write_text(CLAUDE)
    listening = AdoptedClaudeConfig.listening

    def failing(self: AdoptedClaudeConfig, port: int) -> list[str]:
        listening(self, port)  # the file is rewritten, then something fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(AdoptedClaudeConfig, "listening", failing)
    loaded = source.load()
    assert "demo" in loaded.servers and source.path is None
    assert any("No space left on device" in w for w in loaded.warnings)
    assert claude.read_text() == CLAUDE  # put back


def test_the_service_reloads_when_the_claude_config_appears(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = demoSource(home, [Cursor()])
    clock, reloads, served = Clock(), list[Any](), list[Path | None]()
    configService = demoService(source, clock, reloads, onConfigPath=served.append)
    monkeypatch.setattr(configService.files, "watchWithInotify", lambda paths: False)
    configService.startService()
    configService.listening(9100)
    before = len(reloads)

    write(home / ".claude.json", CLAUDE)
    clock.advance(2.0)  # the poll
    clock.advance(1.0)  # the debounce

    assert len(reloads) == before + 1 and "everything" in reloads[-1]
    assert json.loads((home / ".claude.json").read_text())["mcpServers"]["everything"]["url"]
    assert served == [home / ".claude.json"]  # what state.json (and status) say it serves
    cursorFile(home, {"fs": {"command": "fs-server"}, "more": {"command": "more-server"}})
    clock.advance(2.0)
    clock.advance(1.0)
    assert len(reloads) == before + 2 and served == [home / ".claude.json"]  # the same file
    configService.stopService()
