"""The gateway's sessions written off the reactor thread (a
L{mcpgateway.ops.sessionstore.SessionStore} on a thread runner the test
drives by hand): an C{initialize} is answered once its session's journal
line is on the disk, the stop waits for the last save (and for a restart's
hand-over save before it), and a save that failed is written again at the
next tick."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops import sessionstore
from tests.core.aggregate.aggtools import Children, FakeServer, tool
from tests.fakes import capturedGatewayLogs
from tests.http import initializeMessage
from tests.support.core.continuity_writes import StoredHarness


def aggregateSpec(name: str) -> ServerSpec:
    """A server the fake children of L{Children} answer as C{name}."""
    return ServerSpec(
        name=name, command="fake-server", args=(f"--name={name}",), executable=sys.executable
    )


@pytest.fixture
def h(tmp_path: Path) -> StoredHarness:
    return StoredHarness(tmp_path)


def test_an_initialize_is_answered_once_its_session_is_on_the_disk(h: StoredHarness) -> None:
    response = h.opening()
    assert not response.complete and "mcp-session-id" not in response.headers
    [(_, _, _)] = h.threads.jobs  # its journal line, handed to a thread
    h.threads.runNext()
    assert response.complete and response.status == 200
    assert h.saved() == {response.headers["mcp-session-id"]}


def test_the_stop_waits_for_the_last_save(h: StoredHarness) -> None:
    sid = h.opened()
    stopped: list[Any] = []
    h.service.stopService().addBoth(stopped.append)
    h.reactor.advance(60)  # the children are gone
    assert stopped == [] and len(h.threads.jobs) == 1
    h.threads.runNext()
    assert len(stopped) == 1
    assert h.saved() == {sid} and not h.store.journal.path.exists()


def test_the_stop_waits_for_a_hand_over_save_under_way(h: StoredHarness) -> None:
    """A restart saves before its successor starts (no job of the stop's
    own then: the records are the same), and the stop waits for it."""
    sid = h.opened()
    h.gateway.continuity.save(always=True)
    stopped: list[Any] = []
    h.service.stopService().addBoth(stopped.append)
    h.reactor.advance(60)
    assert stopped == [] and len(h.threads.jobs) == 1
    h.threads.runAll()
    assert len(stopped) == 1 and h.saved() == {sid}


def test_the_saves_while_one_is_written_become_one(h: StoredHarness) -> None:
    """The ticks that come while a save is written: the newest records are
    written once, after the journal lines asked for meanwhile (each
    C{initialize} answered when its own line is written)."""
    h.opened()
    h.reactor.advance(1.0)  # the batched save, handed to a thread
    second = h.opening()
    h.reactor.advance(1.0)
    third = h.opening()
    h.reactor.advance(1.0)
    assert len(h.threads.jobs) == 1
    h.threads.runNext()  # the first save
    h.threads.runNext()  # the second session's line
    assert second.complete and not third.complete
    h.threads.runAll()
    assert third.complete and h.threads.jobs == []
    assert len(h.saved()) == 3 and h.store.writes == 2


def test_a_failed_save_is_logged_and_written_again_at_the_next_tick(
    h: StoredHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = h.opened()

    def full(path: Path, data: bytes, mode: int = 0o600) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sessionstore, "writeFileAtomic", full)
    with capturedGatewayLogs() as events:
        h.reactor.advance(1.0)
        h.threads.runAll()
    assert any("saving the sessions failed" in e["log_format"] for e in events)
    monkeypatch.undo()
    h.reactor.advance(1.0)  # no session changed, but the last save did not go through
    h.threads.runAll()
    assert h.store.writes == 1 and h.saved() == {sid}


def test_an_aggregate_initialize_is_answered_once_its_session_is_on_the_disk(
    tmp_path: Path,
) -> None:
    h = StoredHarness(tmp_path, {"alpha": aggregateSpec("alpha")})
    children = Children(h.reactor, {"alpha": FakeServer(tools=[tool("x")])})
    response = h.request("POST", "/mcp", initializeMessage())
    children.pump()
    assert not response.complete and len(h.threads.jobs) == 1
    h.threads.runNext()
    assert response.complete and response.status == 200
    assert h.saved() == {response.headers["mcp-session-id"]}
