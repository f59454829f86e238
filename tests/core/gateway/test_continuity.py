"""Sessions outlive the gateway process: the registry is saved
batched on the clock and at stop, and a new gateway serves the sessions of
the old one, shared (re-attached) or stateful (a fresh child, its
initialize replayed), without a 404, and told once that the child is new."""

from __future__ import annotations

import json
from typing import Any

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.lostchild import NOTICE_KEY
from mcpgateway.core.spec import ServerSpec
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.http import spec
from tests.support.core.continuity import MemoryStore, PersistentHarness, answerLast, call

SHARED = {"srv": spec("srv")}
STATEFUL = {"st": spec("st", mode="stateful")}


def restarted(store: MemoryStore, servers: dict[str, ServerSpec]) -> PersistentHarness:
    """The first gateway is stopped (its sessions saved), a second one starts."""
    return PersistentHarness(store, servers)


def restoredAfterRestart(
    servers: dict[str, ServerSpec], server: str
) -> tuple[PersistentHarness, str]:
    """A session opened on C{server}, its gateway stopped and a new one
    started on the same store: the new gateway and the session's id."""
    store = MemoryStore()
    first = PersistentHarness(store, servers)
    sid = first.initialize(server)
    first.gateway.stop()
    return restarted(store, servers), sid


def test_shared_session_is_served_after_a_graceful_restart() -> None:
    store = MemoryStore()
    first = PersistentHarness(store, SHARED)
    sid = first.initialize("srv")
    call(first, "srv", sid)  # the child may hold something of the session now
    answerLast(first, "tools/call", {"content": []})
    first.gateway.stop()
    assert [r["id"] for r in store.load()] == [sid]

    second = restarted(store, SHARED)
    # The gateway started the shared child for the restored session itself.
    second.answerHandshake()
    response = call(second, "srv", sid)
    answerLast(second, "tools/call", {"content": []})
    assert response.status == 200
    # The shared child is new: the session is told so, once, on this answer's stream.
    notice, answer = response.events()[-2:]
    assert (notice["method"], notice["params"]["level"]) == ("notifications/message", "warning")
    assert answer["result"] == {"content": [], "_meta": {NOTICE_KEY: True}}
    again = call(second, "srv", sid)
    answerLast(second, "tools/call", {"content": []})
    assert again.events()[-1]["result"] == {"content": []}
    assert len(again.events()) == 1
    # No second initialize reached the child: the gateway's own handshake only.
    inits = [m for m in second.process().sentMessages() if m.get("method") == "initialize"]
    assert len(inits) == 1


def test_shared_session_gets_its_subscriptions_and_log_level_back() -> None:
    store = MemoryStore()
    first = PersistentHarness(store, SHARED)
    sid = first.initialize("srv")
    session = first.gateway.sessions.get(sid)
    assert session is not None
    session.subscriptions.add("file:///a")
    session.logLevel = "warning"
    first.reactor.advance(1.0)  # the batched save

    second = restarted(store, SHARED)
    restored = second.gateway.sessions.get(sid)
    assert restored is not None and restored.restored
    assert restored.subscriptions == {"file:///a"}
    second.answerHandshake(capabilities={"tools": {}, "resources": {"subscribe": True}})
    sent = second.process().sentMessages()
    assert {"uri": "file:///a"} in [
        m.get("params") for m in sent if m.get("method") == "resources/subscribe"
    ]
    assert {"level": "warning"} in [
        m.get("params") for m in sent if m.get("method") == "logging/setLevel"
    ]


def test_stateful_session_gets_a_fresh_child_and_its_initialize_replayed() -> None:
    store = MemoryStore()
    first = PersistentHarness(store, STATEFUL)
    sid = first.initialize("st", capabilities={"roots": {}})
    first.gateway.stop()

    second = restarted(store, STATEFUL)
    assert second.reactor.processes == []  # started on the session's next request
    with capturedGatewayLogs() as events:
        response = call(second, "st", sid)
        proc = second.process()
        init = proc.takeMessages()
        assert [m["method"] for m in init] == ["initialize"]
        assert init[0]["params"]["capabilities"] == {"roots": {}}
        assert init[0]["params"]["clientInfo"] == {"name": "test", "version": "1"}
        assert not response.complete
        proc.reply(
            {
                "jsonrpc": "2.0",
                "id": init[0]["id"],
                "result": {"protocolVersion": "2025-11-25", "capabilities": {}},
            }
        )
        after = proc.sentMessages()
        assert [m["method"] for m in after] == ["notifications/initialized", "tools/call"]
        proc.reply({"jsonrpc": "2.0", "id": after[1]["id"], "result": {"content": []}})
    assert response.status == 200
    notice, answer = response.events()[-2:]
    assert (notice["method"], notice["params"]["level"]) == ("notifications/message", "warning")
    assert answer == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {"content": [], "_meta": {NOTICE_KEY: True}},
    }
    assert any("in memory is lost" in (e.get("log_format") or "") for e in events)


def test_a_stateful_sessions_log_level_and_subscriptions_reach_its_next_child() -> None:
    """What a session asked of its own child (a log level, a subscription)
    is kept once the child agreed, and given to the child started anew for
    it after a restart, so that it gets no messages below its level and
    its updates go on."""
    store = MemoryStore()
    first = PersistentHarness(store, STATEFUL)
    served = {"tools": {}, "logging": {}, "resources": {"subscribe": True}}
    sid = first.initialize("st", served=served)
    proc = first.process()  # its own child
    for requestId, (method, params) in enumerate(
        [
            ("logging/setLevel", {"level": "error"}),
            ("resources/subscribe", {"uri": "file:///a"}),
            ("resources/subscribe", {"uri": "file:///b"}),
            ("resources/unsubscribe", {"uri": "file:///b"}),
            ("resources/subscribe", {"uri": "file:///refused"}),
        ],
        start=20,
    ):
        first.request(
            "POST",
            "/st/mcp",
            {"jsonrpc": "2.0", "id": requestId, "method": method, "params": params},
            session=sid,
        )
        [sent] = [m for m in proc.takeMessages() if m.get("method") == method]
        if params.get("uri") == "file:///refused":
            proc.reply(
                {"jsonrpc": "2.0", "id": sent["id"], "error": {"code": -32602, "message": "no"}}
            )
        else:
            proc.reply({"jsonrpc": "2.0", "id": sent["id"], "result": {}})
    session = first.gateway.sessions.get(sid)
    assert session is not None
    assert (session.logLevel, session.subscriptions) == ("error", {"file:///a"})
    first.gateway.stop()

    second = restarted(store, STATEFUL)
    response = call(second, "st", sid)
    fresh = second.process()
    [init] = fresh.takeMessages()
    fresh.reply(
        {
            "jsonrpc": "2.0",
            "id": init["id"],
            "result": {"protocolVersion": "2025-11-25", "capabilities": served},
        }
    )
    replayed = [(m["method"], m.get("params")) for m in fresh.sentMessages()]
    assert ("logging/setLevel", {"level": "error"}) in replayed
    assert ("resources/subscribe", {"uri": "file:///a"}) in replayed
    assert ("resources/subscribe", {"uri": "file:///b"}) not in replayed
    [forwarded] = [m for m in fresh.sentMessages() if m.get("method") == "tools/call"]
    fresh.reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"content": []}})
    assert response.status == 200
    assert [e for e in response.events() if e.get("method") == "notifications/message"] == []


def test_concurrent_requests_of_a_restored_stateful_session_wait_for_one_replay() -> None:
    second, sid = restoredAfterRestart(STATEFUL, "st")
    one, two = call(second, "st", sid, 1), call(second, "st", sid, 2)
    assert len(second.reactor.processes) == 1
    proc = second.process()
    init = proc.takeMessages()
    assert [m["method"] for m in init] == ["initialize"]
    proc.reply({"jsonrpc": "2.0", "id": init[0]["id"], "result": {"protocolVersion": "x"}})
    calls = [m for m in proc.sentMessages() if m.get("method") == "tools/call"]
    assert len(calls) == 2
    for m in calls:
        proc.reply({"jsonrpc": "2.0", "id": m["id"], "result": {}})
    assert one.status == two.status == 200


def test_a_get_stream_reconnects_with_a_restored_session() -> None:
    second, sid = restoredAfterRestart(SHARED, "srv")
    response = second.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert response.status == 200


def test_a_deleted_session_is_not_restored() -> None:
    store = MemoryStore()
    first = PersistentHarness(store, SHARED)
    kept, deleted = first.initialize("srv"), first.initialize("srv")
    assert first.request("DELETE", "/srv/mcp", session=deleted).status == 200
    first.gateway.stop()

    second = restarted(store, SHARED)
    second.answerHandshake()
    assert call(second, "srv", deleted).status == 404
    assert second.gateway.sessions.get(kept) is not None


def test_sessions_are_saved_batched_not_per_request() -> None:
    store = MemoryStore()
    h = PersistentHarness(store, SHARED)
    sid = h.initialize("srv")
    assert store.writes == 0
    for n in range(20):
        call(h, "srv", sid, n)
        answerLast(h, "tools/call", {})
    assert store.writes == 0
    h.reactor.advance(1.0)
    assert store.writes == 1
    h.reactor.advance(5.0)  # nothing changed: no write
    assert store.writes == 1


def test_an_idle_registry_is_not_handed_over_again() -> None:
    """The once-a-second save builds no record while no session changed (an
    idle gateway of thousands of sessions would encode them all each time);
    a request, a new session, an ended one make the next save go through."""
    store = MemoryStore()
    h = PersistentHarness(store, SHARED)
    sid = h.initialize("srv")
    h.reactor.advance(1.0)
    assert (store.saves, store.writes) == (1, 1)
    h.reactor.advance(30.0)
    assert store.saves == 1
    call(h, "srv", sid)
    answerLast(h, "tools/call", {})
    h.reactor.advance(1.0)
    assert store.saves == 2
    other = h.initialize("srv")
    h.reactor.advance(1.0)
    assert (store.saves, store.writes) == (3, 3)
    h.request("DELETE", "/srv/mcp", session=other)
    h.reactor.advance(1.0)
    assert (store.saves, store.writes) == (4, 4)
    h.reactor.advance(10.0)
    assert store.saves == 4
    h.gateway.continuity.save(always=True)  # a restart's hand-over writes whatever it finds
    assert store.saves == 5


def test_sessions_of_servers_no_longer_configured_are_dropped() -> None:
    store = MemoryStore()
    first = PersistentHarness(store, SHARED)
    sid = first.initialize("srv")
    first.gateway.stop()

    second = restarted(store, STATEFUL)
    assert second.gateway.sessions.get(sid) is None


def test_a_gateway_that_never_started_does_not_save() -> None:
    store = MemoryStore()
    store.data = json.dumps([])
    reactor = FakeProcessReactor()
    gateway = Gateway(SHARED, fakeSpawner(reactor), persistence=store, lazyStart=False)
    gateway.stop()
    assert store.writes == 0


def test_a_restored_session_whose_client_died_meanwhile_is_ended_at_the_first_sweep() -> None:
    from mcpgateway.ops.reaper import Reaper

    store = MemoryStore()
    first = PersistentHarness(store, SHARED)
    gone = first.initialize("srv")
    first.gateway.sessions.get(gone).clientPid = 4242  # type: ignore[union-attr]
    alive = first.initialize("srv")
    first.gateway.sessions.get(alive).clientPid = 4343  # type: ignore[union-attr]
    first.gateway.stop()

    second = restarted(store, SHARED)
    second.answerHandshake()
    assert {s.id for s in second.gateway.sessions} == {gone, alive}
    reaper = Reaper(second.gateway, second.reactor, 1e9, alive=lambda pid: pid == 4343)
    counts = reaper.sweep()
    assert counts.deadClientSessions == 1
    assert {s.id for s in second.gateway.sessions} == {alive}
    assert call(second, "srv", gone).status == 404


def test_a_saved_session_whose_client_exited_while_no_gateway_ran_is_not_restored() -> None:
    """Its shared child is not started for nobody at start (it would run
    until the reaper's next look, and then on, with no session)."""
    store = MemoryStore()
    first = PersistentHarness(store, SHARED)
    gone = first.initialize("srv")
    first.gateway.sessions.get(gone).clientPid = 4242  # type: ignore[union-attr]
    anonymous = first.initialize("srv")
    first.gateway.stop()

    probed: list[int] = []

    def alive(pid: int) -> bool:
        probed.append(pid)
        return False

    with capturedGatewayLogs() as events:
        second = PersistentHarness(store, SHARED, clientAlive=alive)
    assert probed == [4242]
    assert {s.id for s in second.gateway.sessions} == {anonymous}  # no pid: kept
    assert any(e.get("gone") == 1 for e in events)
    assert call(second, "srv", gone).status == 404

    third = PersistentHarness(MemoryStore(), SHARED, clientAlive=alive)
    store.data = json.dumps([r for r in json.loads(store.data or "[]") if r["id"] == gone])
    fourth = PersistentHarness(store, SHARED, clientAlive=alive)
    assert list(fourth.gateway.sessions) == []
    assert fourth.reactor.spawned == third.reactor.spawned == []  # no child for nobody


def test_a_restored_stateful_session_is_not_orphaned_before_its_next_request() -> None:
    """Its child is started (and its initialize replayed) on its next
    request: until then the reaper finds no dead child and no orphan."""
    from mcpgateway.ops.reaper import Reaper

    second, sid = restoredAfterRestart(STATEFUL, "st")
    counts = Reaper(second.gateway, second.reactor, 1e9, alive=lambda pid: True).sweep()
    assert (counts.deadChildren, [s.id for s in second.gateway.sessions]) == (0, [sid])
    call(second, "st", sid)
    assert [m["method"] for m in second.process().sentMessages()] == ["initialize"]


class JournalingStore(MemoryStore):
    """A store that keeps what L{remember} is given, as the session journal does."""

    def __init__(self) -> None:
        super().__init__()
        self.remembered: list[dict[str, Any]] = []
        self.forgotten: list[str] = []

    def remember(self, record: dict[str, Any]) -> None:
        self.remembered.append(record)

    def forget(self, sessionId: str) -> None:
        self.forgotten.append(sessionId)


def test_an_aggregate_session_is_made_durable_before_its_id_is_answered() -> None:
    """A crash right after C{/mcp}'s C{initialize} is answered, before the
    batched save, keeps the session (as for C{/<server>/mcp})."""
    from tests.http import initializeMessage

    store = JournalingStore()
    h = PersistentHarness(store, SHARED)
    response = h.request("POST", "/mcp", initializeMessage())
    h.answerHandshake()
    h.reactor.advance(30)
    assert response.status == 200
    sid = response.headers["mcp-session-id"]
    assert [r["id"] for r in store.remembered] == [sid]
    assert store.remembered[0]["aggregate"] == {"endpoint": "default", "mode": "full"}


def test_a_session_deleted_by_its_client_is_forgotten_at_once() -> None:
    """Its end reaches the store before the next save (a crash in between
    must not bring it back); a gateway stopping forgets nothing (its
    sessions go on in the next process)."""
    store = JournalingStore()
    h = PersistentHarness(store, SHARED)
    deleted, kept = h.initialize("srv"), h.initialize("srv")
    assert h.request("DELETE", "/srv/mcp", session=deleted).status == 200
    assert store.forgotten == [deleted]
    h.gateway.stop()
    assert store.forgotten == [deleted]
    assert kept in {r["id"] for r in json.loads(store.data or "[]")}


def test_a_restored_session_no_child_served_is_not_told_of_a_new_child() -> None:
    store = MemoryStore()
    first = PersistentHarness(store, SHARED)
    sid = first.initialize("srv")  # listed, never called: no child holds anything of it
    first.gateway.stop()
    assert "called" not in store.load()[0]

    second = restarted(store, SHARED)
    second.answerHandshake()
    response = call(second, "srv", sid)
    answerLast(second, "tools/call", {"content": []})
    assert [event["result"] for event in response.events()] == [{"content": []}]
