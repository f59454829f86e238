"""A gateway started on a bare machine (no client has a file: the bundled
demo is served) awaits every client's user file, and adopts one the moment
it is written: through the poll on the gateway's clock, or through inotify
on the nearest folder that exists while the file's own folder does not."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import inotify
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath

from mcpgateway.clientconfigs.clients import select
from mcpgateway.config.configservice import ConfigService
from tests.reloading import write
from tests.support.config.demosource import demoService, demoSource

FS = {"command": "fs-server"}
EVERYTHING = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]}
CURSOR = json.dumps({"mcpServers": {"fs": FS}}, indent=2) + "\n"
CLAUDE = json.dumps({"numStartups": 1, "mcpServers": {"everything": EVERYTHING}}, indent=2)


def bareService(home: Path, reloads: list[Any], clock: Clock) -> ConfigService:
    """The config service of a gateway started with no client's file, its
    source as preflight makes it: the demo, Claude's config awaited, and
    the other clients (Cursor and VS Code here)."""
    return demoService(demoSource(home, select("cursor,vscode")), clock, reloads)


def test_every_client_file_is_awaited_on_a_bare_machine(home: Path) -> None:
    service = bareService(home, [], Clock())
    awaited = service.source.awaitedPaths()  # type: ignore[attr-defined]
    assert awaited[0] == home / ".claude.json"
    assert home / ".cursor" / "mcp.json" in awaited
    assert home / ".config" / "Code" / "User" / "mcp.json" in awaited


def test_the_poll_adopts_a_file_written_later_and_stop_gives_it_back(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, reloads = Clock(), list[Any]()
    service = bareService(home, reloads, clock)
    monkeypatch.setattr(service.files, "watchWithInotify", lambda paths: False)
    assert list(service.specs(service.source.load())) == ["demo"]  # the start's load
    service.startService()
    service.listening(9100)
    clock.advance(2.0)
    clock.advance(1.0)
    assert [list(r) for r in reloads] == [["demo"]]  # served again once listening

    cursor = home / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    cursor.write_text(CURSOR)
    clock.advance(2.0)  # the poll
    clock.advance(1.0)  # the debounce

    # Another client's file is served beside the demo, as at a start.
    assert sorted(reloads[-1]) == ["demo", "fs"]
    entry = json.loads(cursor.read_text())["mcpServers"]["fs"]
    assert entry == {"url": "http://127.0.0.1:9100/fs/mcp"}

    write(home / ".claude.json", CLAUDE)
    clock.advance(2.0)
    clock.advance(1.0)

    # The Claude config is served instead of the demo.
    assert sorted(reloads[-1]) == ["everything", "fs"]
    assert service.source.path == home / ".claude.json"
    service.stopService()
    assert cursor.read_text() == CURSOR
    assert (home / ".claude.json").read_text() == CLAUDE


class FakeINotify:
    """C{twisted.internet.inotify.INotify} as the config service uses it:
    the folders watched, and their callbacks to deliver events with."""

    instances: list[FakeINotify] = []

    def __init__(self, reactor: Any) -> None:
        self.watched: dict[str, list[Callable[..., None]]] = {}
        self.onWatch: Callable[[str], None] = lambda folder: None
        FakeINotify.instances.append(self)

    def startReading(self) -> None:
        pass

    def loseConnection(self) -> None:
        pass

    def watch(self, path: FilePath[str], mask: int, callbacks: list[Callable[..., None]]) -> None:
        self.watched[path.path] = callbacks
        self.onWatch(path.path)

    def created(self, path: Path) -> None:
        """The kernel's event for C{path}, to its folder's watch (as bytes)."""
        for callback in self.watched[str(path.parent)]:
            callback(None, FilePath(os.fsencode(str(path))), inotify.IN_CREATE)


@pytest.fixture
def fakeINotify(monkeypatch: pytest.MonkeyPatch) -> None:
    """The config service's inotify is a L{FakeINotify}."""
    FakeINotify.instances = []
    monkeypatch.setattr(inotify, "INotify", FakeINotify)


def startWatching(
    home: Path, reloads: list[Any], clock: Clock
) -> tuple[ConfigService, FakeINotify]:
    service = bareService(home, reloads, clock)
    service.specs(service.source.load())  # the start's load
    service.startService()
    service.listening(9100)
    clock.advance(1.0)
    return service, FakeINotify.instances[-1]


@pytest.mark.usefixtures("fakeINotify")
def test_a_missing_folder_is_awaited_through_the_nearest_one_that_exists(home: Path) -> None:
    clock, reloads = Clock(), list[Any]()
    service, watching = startWatching(home, reloads, clock)
    assert str(home) in watching.watched
    assert str(home / ".cursor") not in watching.watched  # not there yet
    loads = len(reloads)

    (home / ".cursorrules").write_text("")
    watching.created(home / ".cursorrules")  # not on the way to an awaited file
    clock.advance(1.0)
    assert len(reloads) == loads

    (home / ".cursor").mkdir()
    watching.created(home / ".cursor")
    clock.advance(1.0)  # the debounce: the reload watches the new folder
    assert str(home / ".cursor") in watching.watched

    cursor = home / ".cursor" / "mcp.json"
    cursor.write_text(CURSOR)
    watching.created(cursor)
    clock.advance(1.0)
    assert sorted(reloads[-1]) == ["demo", "fs"]
    assert json.loads(cursor.read_text())["mcpServers"]["fs"]["url"].endswith("/fs/mcp")
    service.stopService()
    assert cursor.read_text() == CURSOR


@pytest.mark.usefixtures("fakeINotify")
def test_a_file_written_as_its_new_folder_is_watched_is_adopted(home: Path) -> None:
    """The file is written while its folder's watch is being placed: no
    event of its own reaches the gateway, and it is adopted all the same,
    since the file is looked at once the watch is on."""
    clock, reloads = Clock(), list[Any]()
    service, watching = startWatching(home, reloads, clock)
    cursor = home / ".cursor" / "mcp.json"

    def writeAsWatched(folder: str) -> None:
        if folder == str(cursor.parent):
            cursor.write_text(CURSOR)

    watching.onWatch = writeAsWatched
    cursor.parent.mkdir()
    watching.created(cursor.parent)
    clock.advance(1.0)  # the reload that watches the folder
    clock.advance(1.0)  # the one its file brings

    assert sorted(reloads[-1]) == ["demo", "fs"]
    assert json.loads(cursor.read_text())["mcpServers"]["fs"]["url"].endswith("/fs/mcp")
    service.stopService()
    assert cursor.read_text() == CURSOR
