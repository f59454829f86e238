"""Every client's adoption wired into the config source and the config
service: L{ClientsSource} adopts once listening, serves the
originals, restores at stop (a failure leaves the marker); the service
watches every client file; a project entry that is a user-scope server gets
the global URL (the engine's route rule, as the gateway serves it)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import succeed
from twisted.internet.task import Clock

from mcpgateway import tap
from mcpgateway.clientconfigs.backups import backupPaths
from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.clients.mcpservers import Cursor
from mcpgateway.clientconfigs.clientsource import ClientsSource, RestoreIncomplete, claudeProjects
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.config.configservice import ConfigService
from mcpgateway.config.servers import demoConfig
from mcpgateway.config.watched import PlainFile, watchedPathsOf
from mcpgateway.startup.preflight import preflight
from tests.clientconfigs.adoptkit import urlFor
from tests.support.config.configservice_clients import FakeSource, cursorFile, service
from tests.support.startup.options import parseIn

DEMO = demoConfig()["mcpServers"]["demo"]


def makeSource(tmp_path: Path) -> tuple[ClientsSource, Path]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    stateDir = tmp_path / "state"
    stateDir.mkdir(exist_ok=True)
    engine = AdoptionEngine(
        stateDir, [Cursor()], Host(home), bridgeArgv=["/bin/mcpgateway"], environ={"PATH": ""}
    )
    return ClientsSource(PlainFile(None), engine, stateDir, "127.0.0.1", {"PATH": ""}), stateDir


def test_adopted_once_listening_served_and_given_back(tmp_path: Path) -> None:
    path = cursorFile(
        tmp_path / "home",
        {
            "fs": {"command": "fs-server", "args": ["/data"]},
            "demo": {"command": "another-demo"},  # not the demo the gateway serves
            "remote": {"url": "https://example.com/mcp"},
        },
    )
    before = path.read_bytes()
    source, _ = makeSource(tmp_path)
    assert source.watchedPaths() == [path]
    first = source.load()
    assert "fs" not in first.servers  # nothing adopted before listening

    notes = source.listening(9100)

    assert source.reloadNeeded
    entries = json.loads(path.read_text())["mcpServers"]
    assert entries["fs"] == {"url": "http://127.0.0.1:9100/fs/mcp"}
    # The bundled demo (served only because there is no ~/.claude.json) yields
    # to the user's own server of its name.
    assert entries["demo"] == {"url": "http://127.0.0.1:9100/demo/mcp"}
    assert not any("different server" in n for n in notes)
    loaded = source.load()
    assert loaded.servers["fs"].command == "fs-server" and loaded.servers["fs"].args == ("/data",)
    assert loaded.servers["demo"].command == "another-demo"  # Cursor's, not the bundled one
    assert DEMO["command"] != "another-demo"
    assert "client configs" in loaded.source

    source.stopping()
    assert path.read_bytes() == before


def test_a_restore_that_fails_raises_and_leaves_the_marker(tmp_path: Path) -> None:
    path = cursorFile(tmp_path / "home", {"fs": {"command": "fs-server"}})
    source, stateDir = makeSource(tmp_path)
    source.listening(9100)
    path.write_text("{ not json")  # someone broke it: left untouched, backup kept

    with pytest.raises(RestoreIncomplete, match=str(path)):
        source.stopping()
    source.restoreFailed("could not restore it")

    marker = json.loads((stateDir / "restore-failed.json").read_text())
    assert marker["config"] == str(path) and marker["error"] == "could not restore it"
    assert backupPaths(stateDir)  # the originals are still there


def test_a_project_entry_that_is_the_user_server_gets_the_global_url(tmp_path: Path) -> None:
    """The engine's URL of a project entry follows the gateway's routes:
    one equal to the user-scope server has no workspace route (a workspace
    URL would be 404)."""
    home = tmp_path / "home"
    cursorFile(home, {"fs": {"command": "fs-server"}})
    project = tmp_path / "proj"
    shared = project / ".cursor" / "mcp.json"
    shared.parent.mkdir(parents=True)
    shared.write_text(
        json.dumps({"mcpServers": {"fs": {"command": "fs-server"}, "own": {"command": "own"}}})
    )
    engine = AdoptionEngine(
        tmp_path / "state",
        [Cursor()],
        Host(home),
        projects=[project],
        bridgeArgv=["/bin/mcpgateway"],
        environ={"PATH": ""},
    )
    engine.adopt(urlFor)
    entries = json.loads(shared.read_text())["mcpServers"]
    assert entries["fs"] == {"url": urlFor("fs", None)}
    assert entries["own"] == {"url": urlFor("own", str(project))}


def test_claude_projects_are_the_trusted_ones(tmp_path: Path) -> None:
    """Claude Code lists a folder as soon as it runs there, before its trust
    dialog: only a project whose trust the user accepted has its client
    files adopted."""
    trusted, declined, unasked = tmp_path / "p", tmp_path / "q", tmp_path / "r"
    for folder in (trusted, declined, unasked):
        folder.mkdir()
    projects = {
        str(trusted): {"hasTrustDialogAccepted": True},
        str(declined): {"hasTrustDialogAccepted": False},
        str(unasked): {},
        "relative": {"hasTrustDialogAccepted": True},
        "/gone": {"hasTrustDialogAccepted": True},
    }
    claude = tmp_path / ".claude.json"
    claude.write_text(json.dumps({"projects": projects}))
    assert claudeProjects(claude) == [trusted]
    assert claudeProjects(tmp_path / "missing.json") == []


def test_the_service_polls_every_client_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main, other = tmp_path / "claude.json", tmp_path / "cursor" / "mcp.json"
    other.parent.mkdir()
    main.write_text("{}")
    other.write_text("{}")
    source, clock, reloads = FakeSource(main, [other, main]), Clock(), list[Any]()
    assert watchedPathsOf(source) == [main, other]
    configService = service(tmp_path, source, clock, reloads)
    monkeypatch.setattr(configService.files, "watchWithInotify", lambda paths: False)
    configService.startService()
    other.write_text('{"mcpServers": {}}')
    clock.advance(2.0)  # the poll
    clock.advance(1.0)  # the debounce
    assert source.loads == 1 and len(reloads) == 1
    configService.stopService()


def test_the_inotify_event_of_a_client_file_reloads(tmp_path: Path) -> None:
    from twisted.python.filepath import FilePath

    main, other = tmp_path / "claude.json", tmp_path / "cursor" / "mcp.json"
    source, clock, reloads = FakeSource(main, [other]), Clock(), list[Any]()
    configService = service(tmp_path, source, clock, reloads)
    configService.files.fingerprints = {os.path.abspath(main): None, os.path.abspath(other): None}
    configService.files.inotifyEvent(None, FilePath(str(tmp_path / "cursor" / "other.json")), 0)
    assert not configService.serversChanges.pending  # another file of that directory
    configService.files.inotifyEvent(None, FilePath(os.fsencode(str(other))), 0)
    assert configService.serversChanges.pending


def test_listening_reloads_when_the_source_adopted_entries(tmp_path: Path) -> None:
    source, clock, reloads = FakeSource(tmp_path / "c.json", []), Clock(), list[Any]()
    configService = service(tmp_path, source, clock, reloads)
    configService.listening(9100)
    assert source.loads == 1 and len(reloads) == 1


# -- preflight -------------------------------------------------------------------------


def test_preflight_adopts_other_clients_without_a_claude_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = cursorFile(tmp_path, {"fs": {"command": "fs-server"}})
    found = preflight(parseIn(tmp_path, "--rewrite-config"), "127.0.0.1")
    try:
        assert isinstance(found.source, ClientsSource)
        assert isinstance(found.source.base, PlainFile) and found.source.path is None
        assert "demo" in found.loaded.servers
        assert found.source.watchedPaths() == [path]
    finally:
        found.lock.release()

    # No VS Code file yet: the demo is served, and VS Code's file awaited.
    waiting = preflight(parseIn(tmp_path, "--rewrite-config", "--clients", "vscode"), "127.0.0.1")
    assert "demo" in waiting.loaded.servers
    assert tmp_path / ".config" / "Code" / "User" / "mcp.json" in waiting.source.awaitedPaths()  # type: ignore[attr-defined]


def test_preflight_recovers_client_files_but_not_when_taking_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = cursorFile(tmp_path, {"fs": {"command": sys.executable}})
    before = path.read_bytes()
    stateDir = tmp_path / "st"
    crashed = AdoptionEngine(stateDir, [Cursor()], Host(tmp_path), bridgeArgv=["/bin/gw"])
    crashed.adopt(urlFor)  # a gateway that was SIGKILLed
    adopted = path.read_bytes()
    assert adopted != before

    class Inherited:
        lockFd = -1

    from mcpgateway.ops.statedir import InstanceLock

    held = InstanceLock(stateDir)
    held.acquire()
    monkeypatch.setattr(InstanceLock, "inherited", staticmethod(lambda s, fd: held))
    successor = parseIn(tmp_path, "--rewrite-config")
    successor["handover"] = Inherited()
    found = preflight(successor, "127.0.0.1")
    assert path.read_bytes() == adopted  # the predecessor still serves it
    held.release()

    found = preflight(parseIn(tmp_path, "--rewrite-config"), "127.0.0.1")
    try:
        assert path.read_bytes() == before  # restored first
    finally:
        found.lock.release()


def test_preflight_clients_none_without_a_claude_config_serves_the_demo_and_no_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """C{--clients none} leaves Cursor's file alone; with no Claude config
    yet the demo is served and only C{~/.claude.json} is awaited."""
    monkeypatch.setenv("HOME", str(tmp_path))
    cursor = cursorFile(tmp_path, {"fs": {"command": "fs-server"}})
    before = cursor.read_bytes()
    found = preflight(parseIn(tmp_path, "--rewrite-config", "--clients", "none"), "127.0.0.1")
    try:
        assert list(found.loaded.servers) == ["demo"]
        assert found.source.listening(9100) == []
        assert list(found.source.load().servers) == ["demo"]
        assert found.source.awaitedPaths() == [tmp_path / ".claude.json"]  # type: ignore[attr-defined]
        assert cursor.read_bytes() == before
    finally:
        found.lock.release()


def test_an_unknown_client_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        tap.Options().parseOptions(["--clients", "cursor,nope"])
    assert "no client named 'nope'" in capsys.readouterr().err


def test_a_warning_note_at_listening_is_logged_as_a_warning(tmp_path: Path) -> None:
    """A source's note that starts with "warning: " (a policy that blocks the
    rewrite, found at start) is a warning in the log, not an info line."""
    from twisted.internet.task import Clock

    from tests.fakes import capturedGatewayLogs

    class Source:
        path = None

        def listening(self, port: int) -> list[str]:
            return ["adopted 1 entry: x", "warning: Claude Code's allowedMcpServers blocks it"]

    service = ConfigService(
        Source(),  # type: ignore[arg-type]
        tmp_path,
        Clock(),
        None,
        lambda f, *a, **k: succeed(f(*a, **k)),
        lambda specs: succeed(None),
    )
    with capturedGatewayLogs() as events:
        service.listening(9100)
    levels = {
        e["log_format"].split("{")[0] + str(e.get("warning", e.get("note"))): e["log_level"].name
        for e in events
    }
    assert levels["config: Claude Code's allowedMcpServers blocks it"] == "warn"
    assert levels["config: adopted 1 entry: x"] == "info"
