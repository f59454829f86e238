"""Room for a new session: at the gateway's limit, or at the limit of one
caller (principal), the idlest unused session of the caller itself ends;
another caller's sessions never do. A caller with none to give is refused.
Without authentication every caller is one, held to the gateway's limit
only."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.core import sessionshortage
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner

SPEC = ServerSpec(name="srv", command="srv", executable="/opt/srv")
INIT_RESULT = {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "s"}}


def initialize() -> dict[str, Any]:
    return jsonrpc.request(
        0,
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c"}},
    )


class Room:
    def __init__(self) -> None:
        self.clock = FakeProcessReactor()
        self.gateway = Gateway({"srv": SPEC}, fakeSpawner(self.clock))

    def open(self, principal: str) -> Session:
        self.clock.advance(1)  # each a second after the last: the first is idlest
        spawned = len(self.clock.processes)
        session, opened = self.gateway.opener.openSession(
            "srv", initialize(), "2025-11-25", principal=principal
        )
        if len(self.clock.processes) > spawned:  # the shared child's handshake
            child = self.clock.lastProcess
            [init] = child.takeMessages()
            child.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
            child.takeMessages()
        answers: list[dict[str, Any]] = []
        opened.addCallback(answers.append)
        assert "result" in answers[0]
        return session

    def initialize(self, principal: str, limit: int, perPrincipal: int) -> Session | None:
        """What the web layer does for an C{initialize}: room, then a session."""
        if not self.gateway.sessionCapacity.admitSession(limit, principal, perPrincipal):
            return None
        return self.open(principal)

    def ids(self) -> set[str]:
        return {s.id for s in self.gateway.sessions}

    def counts(self) -> dict[tuple[str, str], int]:
        return {k: n for k, n in self.gateway.capacityCounts.counts().items() if n}


def evictions(events: list[Any]) -> list[Any]:
    return [e for e in events if "session limit of" in e["log_format"]]


def test_a_caller_at_its_own_limit_gives_up_its_own_idlest_session() -> None:
    room_ = Room()
    alice = room_.open("alice")
    bob1, bob2 = room_.open("bob"), room_.open("bob")
    with capturedGatewayLogs() as events:
        assert room_.gateway.sessionCapacity.admitSession(10, "bob", 2)
    assert room_.ids() == {alice.id, bob2.id}  # alice's, older, is kept
    [said] = evictions(events)
    assert (said["limit"], said["which"], said["sid"]) == (2, "the limit per caller", bob1.shortId)
    assert said["principal"] == "bob"  # the principal's key, never a token
    assert room_.counts() == {(sessionshortage.PRINCIPAL, sessionshortage.EVICTED): 1}


def test_alice_survives_bob_filling_the_gateways_limit() -> None:
    """The attack: bob initializes in a loop, up to the gateway's limit and
    on; alice's session, idlest of all, never ends: his own do."""
    room_ = Room()
    alice = room_.open("alice")
    bobs = [room_.initialize("bob", 4, 5) for _ in range(10)]
    assert all(bob is not None for bob in bobs)
    assert room_.ids() == {alice.id, *(b.id for b in bobs[-3:] if b is not None)}
    assert room_.counts() == {(sessionshortage.GATEWAY, sessionshortage.EVICTED): 7}
    # Carol, with no session to give, is refused: neither alice's nor bob's ends.
    before = room_.ids()
    assert room_.initialize("carol", 4, 5) is None
    assert room_.ids() == before
    assert room_.counts()[(sessionshortage.GATEWAY, sessionshortage.REFUSED)] == 1


def test_alice_survives_bob_going_past_his_own_limit() -> None:
    room_ = Room()
    alice = room_.open("alice")
    bobs = [room_.initialize("bob", 100, 3) for _ in range(10)]
    assert room_.ids() == {alice.id, *(b.id for b in bobs[-3:] if b is not None)}
    assert room_.gateway.sessionCapacity.liveOf("bob") == 3
    assert room_.counts() == {(sessionshortage.PRINCIPAL, sessionshortage.EVICTED): 7}


def test_at_the_gateways_limit_room_is_made_only_among_the_callers_own() -> None:
    room_ = Room()
    alice = room_.open("alice")  # the idlest of all
    bob = room_.open("bob")
    carol = room_.open("carol")
    assert room_.gateway.sessionCapacity.admitSession(3, "carol", 3)
    assert room_.ids() == {alice.id, bob.id}  # carol's own went
    assert room_.counts() == {(sessionshortage.GATEWAY, sessionshortage.EVICTED): 1}
    # A caller with no session of its own to give is refused; nobody's ends.
    assert not room_.gateway.sessionCapacity.admitSession(2, "dave", 3)
    assert room_.ids() == {alice.id, bob.id}
    assert room_.counts()[(sessionshortage.GATEWAY, sessionshortage.REFUSED)] == 1
    del carol


def test_a_caller_whose_sessions_are_all_busy_is_refused() -> None:
    room_ = Room()
    other = room_.open("alice")
    busy = room_.open("bob")
    busy.inFlight = 1
    with capturedGatewayLogs() as events:
        assert not room_.gateway.sessionCapacity.admitSession(10, "bob", 1)
    assert evictions(events) == []
    assert room_.ids() == {other.id, busy.id}
    assert room_.counts() == {(sessionshortage.PRINCIPAL, sessionshortage.REFUSED): 1}


def test_without_authentication_every_caller_is_one() -> None:
    """A loopback gateway: the idlest session of all makes room, as ever."""
    room_ = Room()
    first, second = room_.open(""), room_.open("")
    assert room_.gateway.sessionCapacity.liveOf("") == 2
    assert room_.gateway.sessionCapacity.admitSession(2, "", 1000)
    assert room_.ids() == {second.id}
    del first


def test_without_authentication_only_the_gateways_limit_holds() -> None:
    """The per-principal limit is for authenticated callers: an anonymous
    gateway keeps its whole limit, not one caller's share of it."""
    room_ = Room()
    opened = [room_.open("") for _ in range(3)]
    assert room_.gateway.sessionCapacity.admitSession(10, "", 1)
    assert room_.ids() == {s.id for s in opened}
    assert room_.counts() == {}


@given(
    live=st.integers(0, 50),
    limit=st.integers(1, 50),
    principal=st.sampled_from(["", "bob"]),
    own=st.integers(0, 50),
    perPrincipal=st.one_of(st.none(), st.integers(1, 50)),
)
def test_shortage_names_the_limit_a_new_session_would_pass(
    live: int, limit: int, principal: str, own: int, perPrincipal: int | None
) -> None:
    short = sessionshortage.shortage(live, limit, principal, own, perPrincipal)
    atOwn = bool(principal) and perPrincipal is not None and own >= perPrincipal
    if atOwn:
        assert short == sessionshortage.Shortage(perPrincipal or 0, sessionshortage.PRINCIPAL)
    elif live >= limit:
        assert short == sessionshortage.Shortage(limit, sessionshortage.GATEWAY)
    else:
        assert short is None
