"""Where a request for a session this replica does not hold goes
(cluster/routing.py): the decision table, with fakes at its edges, then
once end to end with a real gateway and real sealed ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.cluster.routing import (
    ENDED_FILE,
    SAVE_DELAY,
    ClusterSessions,
    EndedSessions,
    Forward,
    Local,
    NotFound,
)
from mcpgateway.cluster.sealing import Address, SessionSealer
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.sessions import Session, SessionFacts
from mcpgateway.core.spec import ServerSpec
from mcpgateway.httpbase.principal import ANONYMOUS, VIA_TOKEN, Principal
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcessReactor, fakeSpawner

ME = Address("10.0.0.1", 9100)
PEER = Address("10.0.0.2", 9100)
ALICE = Principal("alice", "key-alice", VIA_TOKEN)


def facts(owned: bool = False, server: str = "fs") -> SessionFacts:
    return SessionFacts(
        server=server,
        scope="",
        principal="key-alice",
        credential="",
        protocolVersion="2025-11-25",
        capabilities=frozenset(),
        owned=owned,
        created=100.0,
    )


@dataclass
class FakeGateway:
    known: dict[str, Session] = field(default_factory=dict)
    rebuilt: list[tuple[str, SessionFacts, bool]] = field(default_factory=list)
    started: float = 1000.5  # after facts().created: a restart since
    clock: Clock = field(default_factory=Clock)

    @property
    def sessions(self) -> FakeGateway:
        return self

    def get(self, sessionId: str) -> Session | None:
        return self.known.get(sessionId)

    def rebuild(self, sessionId: str, facts: SessionFacts, owner: bool = False) -> Session | None:
        self.rebuilt.append((sessionId, facts, owner))
        if facts.owned:
            return None  # its child is gone with its owner (or with the restart)
        session = Session(sessionId, facts.server, facts.protocolVersion, {}, {}, 0.0)
        self.known[sessionId] = session
        return session


@dataclass
class FakeGatewayView:
    """The fake gateway as routing sees it: its registry, its start, and
    itself as the visitor (its own C{rebuilt} records them)."""

    fake: FakeGateway

    @property
    def sessions(self) -> FakeGateway:
        return self.fake

    @property
    def started(self) -> float:
        return self.fake.started

    @property
    def foreignSessions(self) -> FakeGateway:
        return self.fake


@dataclass
class FakeSealer:
    ids: dict[str, tuple[Address, SessionFacts]] = field(default_factory=dict)
    opened: list[tuple[str, str, str, str]] = field(default_factory=list)

    def open(
        self, sessionId: str, server: str, scope: str, principal: str
    ) -> tuple[Address, SessionFacts] | None:
        self.opened.append((sessionId, server, scope, principal))
        found = self.ids.get(sessionId)
        if found is None:
            return None
        _, sealed = found
        # The AAD: another server, route or principal does not open it.
        if (sealed.server, sealed.scope, sealed.principal) != (server, scope, principal):
            return None
        return found


@dataclass
class FakeOwners:
    down: set[Address] = field(default_factory=set)

    def isDown(self, owner: Address) -> bool:
        return owner in self.down


class Table:
    def __init__(self) -> None:
        self.gateway = FakeGateway()
        self.sealer = FakeSealer()
        self.owners = FakeOwners()
        self.router = ClusterSessions(
            FakeGatewayView(self.gateway), self.sealer, self.owners, lambda: ME
        )

    def resolve(self, sessionId: str, fromPeer: bool = False, principal: Principal = ALICE) -> Any:
        return self.router.resolve(sessionId, "fs", "", principal, fromPeer)


def test_a_session_known_here_is_local_and_nothing_is_opened() -> None:
    t = Table()
    session = Session("sid", "fs", "2025-11-25", {}, {}, 0.0)
    t.gateway.known["sid"] = session
    assert t.resolve("sid") == Local(session)
    assert t.resolve("sid", fromPeer=True) == Local(session)
    assert t.sealer.opened == [] and t.gateway.rebuilt == []


def test_an_id_that_does_not_open_is_not_found() -> None:
    t = Table()
    assert t.resolve("random-or-tampered") == NotFound()
    assert t.gateway.rebuilt == []


def test_another_principals_or_routes_id_is_not_found() -> None:
    t = Table()
    t.sealer.ids["r2.x"] = (PEER, facts())
    assert t.resolve("r2.x", principal=Principal("bob", "key-bob", VIA_TOKEN)) == NotFound()
    assert t.router.resolve("r2.x", "fs", "somekey", ALICE, False) == NotFound()
    assert t.router.resolve("r2.x", "other", "", ALICE, False) == NotFound()
    assert t.resolve("r2.x", principal=ANONYMOUS) == NotFound()
    assert t.gateway.rebuilt == []


def test_sealed_by_us_and_unknown_is_taken_back_as_its_owner() -> None:
    t = Table()
    t.sealer.ids["r1.x"] = (ME, facts())
    where = t.resolve("r1.x")
    assert isinstance(where, Local) and where.session.id == "r1.x"
    assert t.gateway.rebuilt == [("r1.x", facts(), True)]
    assert (t.router.reclaimed, t.router.failedOver, t.router.forwards) == (1, 0, 0)


def test_sealed_by_us_with_an_owned_child_lost_in_a_restart_is_not_found() -> None:
    t = Table()
    t.sealer.ids["r1.x"] = (ME, facts(owned=True))
    assert t.resolve("r1.x") == NotFound()


@pytest.mark.parametrize("owned", [False, True])
def test_owned_elsewhere_and_the_owner_alive_is_forwarded(owned: bool) -> None:
    t = Table()
    t.sealer.ids["r2.x"] = (PEER, facts(owned=owned))
    assert t.resolve("r2.x") == Forward(PEER)
    assert t.gateway.rebuilt == [] and t.router.forwards == 1


def test_owner_down_and_a_shared_child_visits_here() -> None:
    t = Table()
    t.sealer.ids["r2.x"] = (PEER, facts())
    t.owners.down.add(PEER)
    where = t.resolve("r2.x")
    assert isinstance(where, Local) and where.session.id == "r2.x"
    assert t.gateway.rebuilt == [("r2.x", facts(), False)]
    assert t.router.failedOver == 1


def test_owner_down_and_an_owned_child_is_not_found() -> None:
    t = Table()
    t.sealer.ids["r2.x"] = (PEER, facts(owned=True))
    t.owners.down.add(PEER)
    assert t.resolve("r2.x") == NotFound()
    assert t.router.failedOver == 0


@pytest.mark.parametrize("owned, expected", [(False, "local"), (True, "notfound")])
def test_from_a_peer_it_is_never_forwarded_again(owned: bool, expected: str) -> None:
    t = Table()
    t.sealer.ids["r2.x"] = (PEER, facts(owned=owned))
    where = t.resolve("r2.x", fromPeer=True)  # also: forwarding it just failed
    assert not isinstance(where, Forward)
    assert (isinstance(where, Local), isinstance(where, NotFound)) == (
        expected == "local",
        expected == "notfound",
    )


def test_the_owner_answers_again_after_its_down_time_forwarding_resumes() -> None:
    t = Table()
    t.sealer.ids["r2.x"] = (PEER, facts())
    t.sealer.ids["r2.y"] = (PEER, facts())
    t.owners.down.add(PEER)
    assert isinstance(t.resolve("r2.x"), Local)
    t.owners.down.clear()
    assert t.resolve("r2.x") == Local(t.gateway.known["r2.x"])  # visiting stays here
    assert t.resolve("r2.y") == Forward(PEER)  # a session not visiting goes to its owner


# -- end to end: a real gateway, real sealed ids -----------------------------

KEY = bytes(range(32))
SHARED = ServerSpec(name="fs", command="fs", executable="/opt/fs", requestTimeout=10.0)
STATEFUL = ServerSpec(
    name="st", command="st", executable="/opt/st", requestTimeout=10.0, mode="stateful"
)


def replica(address: Address) -> tuple[Gateway, SessionSealer, FakeProcessReactor]:
    reactor = FakeProcessReactor()
    sealer = SessionSealer([KEY], "r", lambda: address)
    gateway = Gateway({"fs": SHARED, "st": STATEFUL}, fakeSpawner(reactor), sessionIds=sealer)
    return gateway, sealer, reactor


def opened(gateway: Gateway, server: str) -> Session:
    init = jsonrpc.request(
        0,
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {}},
    )
    session, _ = gateway.opener.openSession(server, init, "2025-11-25", principal="key-alice")
    return session


def test_end_to_end_with_sealed_ids() -> None:
    owner, _, _ = replica(PEER)
    here, sealer, _ = replica(ME)
    owners = FakeOwners()
    router = ClusterSessions(here, sealer, owners, lambda: ME)
    shared = opened(owner, "fs")
    own = opened(owner, "st")
    assert router.resolve(shared.id, "fs", "", ALICE, False) == Forward(PEER)
    assert router.resolve(own.id, "st", "", ALICE, False) == Forward(PEER)
    assert router.resolve(shared.id, "st", "", ALICE, False) == NotFound()  # another server
    bob = Principal("bob", "key-bob", VIA_TOKEN)
    assert router.resolve(shared.id, "fs", "", bob, False) == NotFound()
    owners.down.add(PEER)
    where = router.resolve(shared.id, "fs", "", ALICE, False)
    assert isinstance(where, Local)
    assert where.session.visiting and where.session.principal == "key-alice"
    assert here.sessions.get(shared.id) is where.session
    assert router.resolve(own.id, "st", "", ALICE, False) == NotFound()


# -- ended sessions are never rebuilt (MCP 2025-11-25: 404 after DELETE) -----


def test_a_session_opened_and_deleted_here_is_not_rebuilt_from_its_id() -> None:
    """The reported path: initialize on the owner, DELETE, then a
    request for the id, on the owner itself and forwarded by a peer: 404
    (it was issued by this very process, so it ended here), never rebuilt."""
    reactor = FakeProcessReactor()
    reactor.advance(5000.5)
    sealer = SessionSealer([KEY], "r", lambda: ME)
    here = Gateway({"fs": SHARED}, fakeSpawner(reactor), sessionIds=sealer)
    router = ClusterSessions(here, sealer, FakeOwners(), lambda: ME)
    reactor.advance(2)
    session = opened(here, "fs")
    assert router.resolve(session.id, "fs", "", ALICE, False) == Local(session)
    here.endSessions([session], "session deleted by the client")
    assert router.resolve(session.id, "fs", "", ALICE, False) == NotFound()
    assert router.resolve(session.id, "fs", "", ALICE, True) == NotFound()  # a peer's
    assert here.sessions.get(session.id) is None
    assert (router.reclaimed, router.refusedEnded) == (0, 2)


def test_a_tombstoned_id_is_refused_on_the_owner_and_where_it_visited() -> None:
    t = Table()
    t.sealer.ids["r1.x"] = (ME, facts())  # issued before this process began
    t.sealer.ids["r2.y"] = (PEER, facts())
    t.owners.down.add(PEER)
    for sessionId in ("r1.x", "r2.y"):
        assert isinstance(t.resolve(sessionId), Local)
        del t.gateway.known[sessionId]  # ended (the reaper, a DELETE)
        t.router.sessionEnded(sessionId)
        assert t.resolve(sessionId) == NotFound()
        assert t.resolve(sessionId, fromPeer=True) == NotFound()
    assert len(t.gateway.rebuilt) == 2


def test_tombstones_expire_after_keep_for_and_are_bounded() -> None:
    clock = Clock()
    ended = EndedSessions(clock, keepFor=1800.0)
    ended.add("a")
    clock.advance(1799.9)
    assert "a" in ended
    clock.advance(0.1)
    assert "a" not in ended and len(ended) == 0


def test_tombstones_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / ENDED_FILE
    clock = Clock()
    clock.advance(10_000)
    first = EndedSessions(clock, keepFor=1800.0, path=path)
    first.add("r1.x")
    assert not path.exists()  # written a second later (a burst: one write)
    clock.advance(SAVE_DELAY)
    assert path.exists() and path.stat().st_mode & 0o777 == 0o600
    first.add("r1.y")
    first.flush()  # at stop
    later = Clock()
    later.advance(10_000 + 600)
    t = Table()
    t.router = ClusterSessions(
        FakeGatewayView(t.gateway),
        t.sealer,
        t.owners,
        lambda: ME,
        EndedSessions(later, 1800.0, path),
    )
    t.sealer.ids["r1.x"] = (ME, facts())
    t.sealer.ids["r1.z"] = (ME, facts())
    assert t.resolve("r1.x") == NotFound()  # ended before the restart
    assert isinstance(t.resolve("r1.z"), Local)  # lost in it: taken back
    later.advance(1200)
    del t.gateway.known["r1.z"]
    assert isinstance(t.resolve("r1.x"), Local)  # expired: taken back, as if never ended


@pytest.mark.parametrize("text", [b"", b"[]", b'{"ended": 3}', b"\xff", b'{"ended": {"a": "x"}}'])
def test_a_bad_tombstone_file_is_ignored(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / ENDED_FILE
    path.write_bytes(text)
    assert len(EndedSessions(Clock(), 1800.0, path)) == 0


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(max_size=300), st.one_of(st.floats(), st.integers(), st.booleans(), st.none())
        )
    )
)
def test_restore_takes_only_well_formed_unexpired_pairs(pairs: list[tuple[Any, Any]]) -> None:
    clock = Clock()
    clock.advance(100)
    ended = EndedSessions(clock, keepFor=50.0)
    ended.restore(pairs)
    for sessionId, until in ended.records().items():
        assert 0 < len(sessionId) <= 256 and 100 < until <= 150


def test_owned_elsewhere_is_said_only_of_another_replicas_sealed_id() -> None:
    t = Table()
    t.sealer.ids["r2.x"] = (PEER, facts())
    t.sealer.ids["r1.x"] = (ME, facts())
    assert t.router.ownedElsewhere("r2.x", "fs", "", ALICE)
    assert not t.router.ownedElsewhere("r1.x", "fs", "", ALICE)
    assert not t.router.ownedElsewhere("random-or-tampered", "fs", "", ALICE)
    assert not t.router.ownedElsewhere("r2.x", "fs", "", Principal("bob", "key-bob", VIA_TOKEN))
    assert t.gateway.rebuilt == []
