"""The saved sessions of servers the configuration brings only after start
(held until the first config pass,
L{mcpgateway.core.gateway.continuity.SessionContinuity.configured})
across a restart whose predecessor exits before that pass, and what a
request for an unknown session waits for meanwhile."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core.gateway.continuity import CONFIG_WAIT
from tests.fakes import capturedGatewayLogs
from tests.support.core.continuity import MemoryStore, PersistentHarness, call
from tests.support.core.pools.pool import serverPoolOf
from tests.support.core.predecessor import SuccessorHarness, savedIds
from tests.support.core.restore_removal import CLAUDE, EVERY, savedOn

KEEPING = "keeping {count} saved session(s) of server(s) not configured yet"


class EarlyExit:
    """A predecessor serving C{cur} (a server only another client's file
    defines) with a session C{early} on it, saved, and its successor,
    started with the predecessor running, which serves only C{srv} until
    its first config pass: C{early} is held there."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.old = PersistentHarness(self.store, EVERY)
        self.early = self.old.initialize("cur")
        self.old.gateway.continuity.save(always=True)
        self.gone: Deferred[None] = Deferred()
        self.new = SuccessorHarness(self.store, self.gone, servers=CLAUDE)
        assert self.new.gateway.sessions.get(self.early) is None  # held

    def predecessorExits(self) -> None:
        self.old.gateway.stop()
        self.gone.callback(None)


def test_the_predecessors_late_sessions_of_unconfigured_servers_are_held() -> None:
    """The predecessor exits before the successor's first config pass: the
    session it opened after the successor started, and the newer state of
    the held one, survive until the pass restores them."""
    r = EarlyExit()
    late = r.old.initialize("cur")
    r.old.reactor.advance(50.0)
    r.old.gateway.sessions.touch(r.old.gateway.sessions.get(r.early))  # type: ignore[arg-type]
    with capturedGatewayLogs() as events:
        r.predecessorExits()
    [keeping] = [e for e in events if str(e.get("log_format", "")).startswith(KEEPING)]
    assert keeping["count"] == 2 and keeping["names"] == "cur"
    assert savedIds(r.store) == {r.early, late}  # the successor's first save keeps both
    waiting = r.new.gateway.continuity.waitFor(late)
    assert waiting is not None and not waiting.called
    r.new.gateway.reconfigurer.reconfigure(EVERY)  # the config service's first pass
    assert waiting.called
    restored = r.new.gateway.sessions.get(late)
    assert restored is not None and restored.server == "cur"
    early = r.new.gateway.sessions.get(r.early)
    assert early is not None and early.lastActivity == 50.0  # the predecessor's last state


def test_a_held_session_the_predecessor_ended_meanwhile_is_not_restored() -> None:
    r = EarlyExit()
    ended = r.old.gateway.sessions.get(r.early)
    assert ended is not None
    r.old.gateway.endSession(ended, "session deleted by the client")
    r.predecessorExits()
    assert savedIds(r.store) == set()
    r.new.gateway.reconfigurer.reconfigure(EVERY)
    assert r.new.gateway.sessions.get(r.early) is None


def test_late_held_sessions_are_dropped_if_no_pass_comes() -> None:
    """The merge held them: they wait for the pass at most L{CONFIG_WAIT}
    seconds, as those held at start."""
    store = MemoryStore()
    old = PersistentHarness(store, EVERY)
    gone: Deferred[None] = Deferred()
    new = SuccessorHarness(store, gone, servers=CLAUDE)  # nothing held at start
    late = old.initialize("cur")
    old.gateway.stop()
    gone.callback(None)
    assert new.gateway.continuity.waitFor(late) is not None
    new.reactor.advance(CONFIG_WAIT)
    assert new.gateway.continuity.waitFor(late) is None
    new.reactor.advance(1.0)
    assert savedIds(store) == set()


def test_an_unknown_session_is_not_found_at_once_while_others_are_held() -> None:
    """Only the held sessions' own ids wait for the config pass: a request
    for any other id (never saved, or ended) gets its 404 at once."""
    store, (cursor,) = savedOn(EVERY, "cur")
    h = PersistentHarness(store, CLAUDE)
    assert h.gateway.continuity.waitFor(cursor) is not None  # held: waits for the pass
    assert h.gateway.continuity.waitFor("never-saved") is None
    response: Any = call(h, "srv", "never-saved")
    assert response.complete and response.status == 404
    assert response.json()["error"]["message"] == "Session not found"


def test_every_pool_gets_the_gateways_client_probe() -> None:
    """The strict requester's liveness check needs the probe in the pools
    the gateway makes at start and in a reload."""

    def alive(pid: int) -> bool:
        return pid != 4242

    h = PersistentHarness(MemoryStore(), CLAUDE, clientAlive=alive)
    h.gateway.reconfigurer.reconfigure(EVERY)
    assert set(h.gateway.pools) == {"srv", "cur"}
    assert all(serverPoolOf(pool).clientAlive is alive for pool in h.gateway.pools.values())
