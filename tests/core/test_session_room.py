"""Room for a new session: at the gateway's limit, or at the limit of one
caller (principal), the idlest unused session of the caller itself ends;
another caller's sessions never do. A caller with none to give is refused."""

from __future__ import annotations

from typing import Any

from mcpgateway import jsonrpc
from mcpgateway.core.gateway import Gateway
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
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
        session, opened = self.gateway.openSession(
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

    def ids(self) -> set[str]:
        return {s.id for s in self.gateway.sessions}


def test_a_caller_at_its_own_limit_gives_up_its_own_idlest_session() -> None:
    room = Room()
    alice = room.open("alice")
    bob1, bob2 = room.open("bob"), room.open("bob")
    with capturedGatewayLogs() as events:
        assert room.gateway.makeRoom(10, "bob", 2)
    assert room.ids() == {alice.id, bob2.id}  # alice's, older, is kept
    [said] = [e for e in events if "session limit of" in e["log_format"]]
    assert (said["limit"], said["which"]) == (2, "the limit per caller")
    del bob1


def test_at_the_gateways_limit_room_is_made_only_among_the_callers_own() -> None:
    room = Room()
    alice = room.open("alice")  # the idlest of all
    bob = room.open("bob")
    carol = room.open("carol")
    assert room.gateway.makeRoom(3, "carol", 3)
    assert room.ids() == {alice.id, bob.id}  # carol's own went
    # A caller with no session of its own to give is refused; nobody's ends.
    assert not room.gateway.makeRoom(2, "dave", 3)
    assert room.ids() == {alice.id, bob.id}
    del carol


def test_a_caller_whose_sessions_are_all_busy_is_refused() -> None:
    room = Room()
    other = room.open("alice")
    busy = room.open("bob")
    busy.inFlight = 1
    assert not room.gateway.makeRoom(10, "bob", 1)
    assert room.ids() == {other.id, busy.id}


def test_without_authentication_every_caller_is_one() -> None:
    """A loopback gateway: the idlest session of all makes room, as ever."""
    room = Room()
    first, second = room.open(""), room.open("")
    assert room.gateway.liveSessionsOf("") == 2
    assert room.gateway.makeRoom(2, "", 1000)
    assert room.ids() == {second.id}
    del first
