"""A restart's old process lets go of what it still waits for of the
children it hands over (L{mcpgateway.ops.childhandover.ChildSender.letGo}):
a call still in flight once C{--restart-timeout} has passed is answered
with an error and cancelled on its child, a request of the child's own
waiting for a client is refused, and the children move once those last
writes have left."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.task import Clock

from mcpgateway.ops import childhandover
from mcpgateway.ops.childhandover import WRITES_POLL, WRITES_WAIT, ChildSender
from mcpgateway.protocol import jsonrpc
from tests.fakes import capturedGatewayLogs
from tests.http import Harness

RESTARTED = "the gateway restarted while this request ran"


@pytest.fixture
def keepable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake children count as children a restart can keep."""
    monkeypatch.setattr(childhandover, "whyNotKept", lambda upstream: None)
    monkeypatch.setattr(childhandover, "unsentTo", lambda upstream: 0)


def senderOf(h: Harness) -> ChildSender:
    return ChildSender(lambda: dict(h.gateway.pools), h.reactor)


@pytest.mark.usefixtures("keepable")
def test_a_call_in_flight_is_answered_with_an_error_and_cancelled_on_its_child() -> None:
    h = Harness()
    sid = h.initialize()
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "slow"}}
    response = h.request("POST", "/srv/mcp", call, session=sid)
    assert not response.complete
    [sent] = [m for m in h.process().sentMessages() if m.get("method") == "tools/call"]

    with capturedGatewayLogs() as events:
        assert senderOf(h).letGo() == 1

    [answer] = response.events()
    assert answer["id"] == 7 and RESTARTED in answer["error"]["message"]
    assert "'srv'" in answer["error"]["message"]
    cancelled = h.process().sentMessages()[-1]
    assert cancelled["method"] == "notifications/cancelled"
    assert cancelled["params"]["requestId"] == sent["id"]
    assert any(e.get("count") == 1 and "ended with an error" in e["log_format"] for e in events)
    assert senderOf(h).letGo() == 0  # nothing is left to end


@pytest.mark.usefixtures("keepable")
def test_a_childs_request_waiting_for_a_client_is_refused() -> None:
    """The child asked its one client for its roots; that client has no
    stream open, so the request waits for one, which the old process will
    never have: the child is told, rather than left waiting."""
    h = Harness()
    h.initialize(capabilities={"roots": {}})
    h.process().reply(jsonrpc.request(41, "roots/list", None))
    assert senderOf(h).letGo() == 1
    [refused] = [m for m in h.process().sentMessages() if m.get("id") == 41]
    assert refused["error"]["message"].startswith(f"roots/list: server 'srv': {RESTARTED}")


def test_a_child_not_kept_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(childhandover, "whyNotKept", lambda upstream: "it was given secrets")
    h = Harness()
    sid = h.initialize()
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "slow"}}
    response = h.request("POST", "/srv/mcp", call, session=sid)
    assert senderOf(h).letGo() == 0
    assert not response.complete


class Unsent:
    """What L{childhandover.unsentTo} says: bytes left for C{looks} looks."""

    def __init__(self, looks: int) -> None:
        self.looks = looks

    def __call__(self, upstream: Any) -> int:
        self.looks -= 1
        return 10 if self.looks >= 0 else 0


def sending(
    monkeypatch: pytest.MonkeyPatch, unsent: Unsent
) -> tuple[Clock, ChildSender, list[bool]]:
    """A sender of a gateway with one child that can be kept, whose writes
    leave as C{unsent} says; what it hands over is recorded, not sent."""
    monkeypatch.setattr(childhandover, "whyNotKept", lambda upstream: None)
    monkeypatch.setattr(childhandover, "unsentTo", unsent)
    h = Harness()
    h.initialize()
    clock = Clock()
    sender = ChildSender(lambda: dict(h.gateway.pools), clock)
    handed: list[bool] = []
    monkeypatch.setattr(sender, "_send", lambda transport: handed.append(True))
    return clock, sender, handed


def test_the_children_move_once_their_last_writes_have_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, sender, handed = sending(monkeypatch, Unsent(2))
    sender.send(object())
    assert handed == []
    clock.advance(WRITES_POLL)
    assert handed == []
    clock.advance(WRITES_POLL)
    assert handed == [True]


def test_writes_that_do_not_leave_hold_the_children_no_longer_than_the_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, sender, handed = sending(monkeypatch, Unsent(10**6))
    sender.send(object())
    clock.pump([WRITES_POLL] * int(WRITES_WAIT / WRITES_POLL - 2))
    assert handed == []
    clock.pump([WRITES_POLL] * 3)
    assert handed == [True]
