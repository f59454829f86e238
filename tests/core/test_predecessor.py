"""A gateway started by a restart (L{mcpgateway.ops.handover}):
while its predecessor still serves, it does not write the sessions file;
once the predecessor is gone, the sessions it saved last are merged in
(neither resurrecting what this process ended meanwhile nor duplicating
what it knows), saving starts, and the requests that waited go on.

Two gateways share one in-memory sessions store, each on its own fake
reactor: the predecessor and the successor."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError, Deferred

from mcpgateway.core.gateway.continuity import SAVE_INTERVAL
from mcpgateway.core.pools.placement import SessionPlacement
from mcpgateway.core.pools.serverpool import ServerPool
from tests.fakes import capturedGatewayLogs
from tests.http import Harness
from tests.support.core.backlog import listened, reopened, updated
from tests.support.core.continuity import MemoryStore, PersistentHarness
from tests.support.core.predecessor import SERVERS, Restart, SuccessorHarness, savedIds


def ids(h: Harness) -> set[str]:
    return {s.id for s in h.gateway.sessions}


def test_the_successor_starts_with_the_sessions_saved_before_it_started() -> None:
    r = Restart()
    assert ids(r.new) == {r.first, r.stateful}
    assert r.new.gateway.continuity.waitFor() is not None


def test_no_save_while_the_predecessor_runs() -> None:
    r = Restart()
    r.new.initialize("srv")  # the sessions change here...
    writes = r.store.writes
    r.new.reactor.advance(SAVE_INTERVAL * 10)
    assert r.store.writes == writes  # ...but the predecessor still writes the file


def test_stopping_while_the_predecessor_runs_does_not_save() -> None:
    r = Restart()
    r.new.initialize("srv")
    writes = r.store.writes
    r.new.gateway.stop()
    assert r.store.writes == writes


def test_wait_for_predecessor_is_none_without_one() -> None:
    h = SuccessorHarness(MemoryStore(), None)
    assert h.gateway.continuity.waitFor() is None


def test_wait_for_predecessor_is_none_once_it_is_gone() -> None:
    r = Restart()
    waiting = r.new.gateway.continuity.waitFor()
    assert isinstance(waiting, Deferred) and not waiting.called
    r.predecessorExits()
    assert waiting.called
    assert r.new.gateway.continuity.waitFor() is None


def test_a_predecessor_gone_before_start_is_no_predecessor() -> None:
    store = MemoryStore()
    gone: Deferred[None] = Deferred()
    gone.callback(None)
    h = SuccessorHarness(store, gone)
    assert h.gateway.continuity.waitFor() is None
    h.initialize("srv")
    h.reactor.advance(SAVE_INTERVAL)
    assert store.writes == 1  # saving as any gateway


def test_sessions_the_predecessor_opened_meanwhile_are_merged_on_their_pools() -> None:
    r = Restart()
    shared = r.old.initialize("other")  # a server the successor has no child for yet
    stateful = r.old.initialize("st")
    processes = len(r.new.reactor.processes)
    with capturedGatewayLogs() as events:
        r.predecessorExits()
    assert ids(r.new) == {r.first, r.stateful, shared, stateful}
    for sid in (shared, stateful):
        session = r.new.gateway.sessions.get(sid)
        assert session is not None and session.restored
    pool = r.new.gateway.pools["st"]
    assert isinstance(pool, ServerPool) and isinstance(pool.placement, SessionPlacement)
    assert stateful in dict(pool.owned.items())  # its child starts on its next request
    # The shared child of the merged session is started (prewarmed) now.
    assert len(r.new.reactor.processes) == processes + 1
    [merged] = [e for e in events if "merged" in (e.get("log_format") or "")]
    assert (merged["count"], merged["known"]) == (2, 2)


def test_sessions_ended_meanwhile_are_not_resurrected() -> None:
    r = Restart()
    assert r.new.request("DELETE", "/srv/mcp", session=r.first).status == 200
    r.predecessorExits()
    # The predecessor's last save still had it; the merge saves at once, without it.
    assert r.first not in savedIds(r.store)
    assert r.first not in ids(r.new)
    assert (
        r.new.request(
            "POST",
            "/srv/mcp",
            {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
            session=r.first,
        ).status
        == 404
    )


def test_a_session_whose_client_exited_is_not_merged_back() -> None:
    """The successor ends, at start, a saved session whose client process
    is gone; the predecessor's last save still lists it (its reaper had
    not looked yet): the merge does not bring it back, so that
    C{mcpgateway status} never counts it."""
    store = MemoryStore()
    old = PersistentHarness(store, SERVERS)
    gone = old.initialize("srv")
    kept = old.initialize("srv")
    old.gateway.sessions.get(gone).clientPid = 4242  # type: ignore[union-attr]
    old.gateway.sessions.get(kept).clientPid = 4343  # type: ignore[union-attr]
    old.gateway.continuity.save(always=True)
    exited = Deferred[None]()
    new = SuccessorHarness(store, exited, clientAlive=lambda pid: pid != 4242)
    assert ids(new) == {kept}
    later = old.initialize("other")  # opened on the predecessor meanwhile
    with capturedGatewayLogs() as events:
        old.gateway.stop()
        exited.callback(None)
    assert ids(new) == {kept, later}
    assert gone not in savedIds(store)
    [merged] = [e for e in events if "merged" in (e.get("log_format") or "")]
    assert (merged["count"], merged["gone"]) == (1, 1)


def test_known_sessions_are_not_duplicated() -> None:
    r = Restart()
    before = r.new.gateway.sessions.get(r.first)
    r.predecessorExits()
    assert r.new.gateway.sessions.get(r.first) is before
    assert sorted(s.id for s in r.new.gateway.sessions) == sorted({r.first, r.stateful})
    pool = r.new.gateway.pools["st"]
    assert isinstance(pool, ServerPool) and isinstance(pool.placement, SessionPlacement)
    assert [sid for sid, _ in pool.owned.items()] == [r.stateful]


def test_sessions_the_predecessor_ended_meanwhile_are_ended_here_too() -> None:
    """A client's DELETE that reached the predecessor after the successor
    had started (on a connection still open to the old process): the
    session is really ended, and must not live on in the successor (it
    would answer 200 where the client was told it ended)."""
    r = Restart()
    assert r.old.request("DELETE", "/srv/mcp", session=r.first).status == 200
    r.predecessorExits()
    assert r.first not in savedIds(r.store)  # the predecessor's last save
    assert r.first not in ids(r.new)
    response = r.new.request(
        "POST", "/srv/mcp", {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, session=r.first
    )
    assert response.status == 404


def test_saving_starts_once_the_predecessor_is_gone() -> None:
    r = Restart()
    mine = r.new.initialize("srv")
    assert mine not in savedIds(r.store)  # the predecessor still writes the file
    r.new.reactor.advance(SAVE_INTERVAL)
    assert mine not in savedIds(r.store)
    r.predecessorExits()
    assert savedIds(r.store) == {r.first, r.stateful, mine}  # at once after the merge


def test_waiters_fire_after_the_merge() -> None:
    r = Restart()
    late = r.old.initialize("srv")
    seen: list[bool] = []
    for _ in range(2):
        waiting = r.new.gateway.continuity.waitFor()
        assert waiting is not None
        waiting.addCallback(lambda _: seen.append(r.new.gateway.sessions.get(late) is not None))
    assert seen == []
    r.predecessorExits()
    assert seen == [True, True]


def test_a_waiter_that_gave_up_does_not_break_the_others() -> None:
    r = Restart()
    impatient = r.new.gateway.continuity.waitFor()
    patient = r.new.gateway.continuity.waitFor()
    assert impatient is not None and patient is not None
    errors: list[Any] = []
    impatient.addErrback(lambda f: errors.append(f.check(CancelledError)))
    impatient.cancel()  # a request that timed out
    fired: list[object] = []
    patient.addCallback(fired.append)
    r.predecessorExits()  # no AlreadyCalledError
    assert errors == [CancelledError] and fired == [None]


def test_a_predecessor_gone_after_stop_merges_nothing_and_releases_the_waiters() -> None:
    r = Restart()
    r.old.initialize("srv")
    waiting = r.new.gateway.continuity.waitFor()
    assert waiting is not None
    r.new.gateway.stop()
    writes = r.store.writes
    r.predecessorExits()
    assert waiting.called
    assert ids(r.new) == set()
    r.new.reactor.advance(SAVE_INTERVAL * 3)
    assert r.store.writes == writes + 1  # the predecessor's own last save only


def test_a_successor_started_after_its_predecessor_is_gone_restores_all() -> None:
    """twistd daemonizes before start: the predecessor may be gone already."""
    store = MemoryStore()
    old = PersistentHarness(store, SERVERS)
    sid = old.initialize("srv")
    gone: Deferred[None] = Deferred()
    new = SuccessorHarness(store, gone, start=False)
    old.gateway.stop()
    gone.callback(None)
    new.gateway.start()
    assert ids(new) == {sid}


def test_the_successor_sends_on_what_the_predecessor_kept_after_the_streams_moved() -> None:
    """The old process ends the GET streams at a restart; its child goes on
    speaking until it is handed over, and what it says waits in the old
    process's session, which its last save keeps; the successor, whose
    stream of that session is open by then, sends it on at the merge."""
    r = Restart()
    old = r.old.gateway.sessions.get(r.first)
    assert old is not None
    listened(old)  # the hand-over closed it; its client opened it again at the successor
    new = r.new.gateway.sessions.get(r.first)
    assert new is not None
    stream = reopened(new)
    old.deliver(updated(1))
    old.deliver(updated(2))
    with capturedGatewayLogs() as events:
        r.predecessorExits()
    assert stream.sent == [updated(1), updated(2)]
    assert any("missed while the predecessor" in e.get("log_format", "") for e in events)
