"""A request for a route the gateway does not serve yet waits for the reload
under way, then reaches the route that reload served, or gets the 404 it
would have had (L{mcpgateway.web.awaitedroute}).

Real Site and pools, fake children, fake clock: the reload is a Deferred
the test fires after reconfiguring the gateway, as the config service does."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from mcpgateway.web.app import makeSite
from mcpgateway.web.awaitedroute import ROUTE_WAIT
from mcpgateway.web.teamcluster import TeamServices
from tests.http import Harness, Response, spec
from tests.support.web.api import initializeBody
from tests.support.web.team_web import FakeGate


class Reloads:
    """What the config service's C{settling} says: a Deferred per waiter
    while a reload is under way (C{underWay}), fired by L{served}."""

    def __init__(self) -> None:
        self.underWay = False
        self.waiting: list[Deferred[None]] = []

    def settling(self) -> Deferred[None] | None:
        if not self.underWay:
            return None
        waiter: Deferred[None] = Deferred()
        self.waiting.append(waiter)
        return waiter

    def served(self) -> None:
        self.underWay = False
        waiting, self.waiting = self.waiting, []
        for waiter in waiting:
            waiter.callback(None)


def harness() -> tuple[Harness, Reloads]:
    h = Harness()
    reloads = Reloads()
    h.site = makeSite(h.gateway, h.reactor, loopbackOnly=True, settling=reloads.settling)
    return h, reloads


def initialize(h: Harness, path: str) -> Response:
    return h.request("POST", path, initializeBody())


def test_a_route_a_reload_under_way_adds_is_reached_once_it_is_served() -> None:
    h, reloads = harness()
    reloads.underWay = True
    response = initialize(h, "/later/mcp")
    assert h.reactor.processes == []
    assert response.transport.value() == b""  # held: not a 404
    h.gateway.reconfigurer.reconfigure({"srv": spec("srv"), "later": spec("later")})
    reloads.served()
    assert len(h.reactor.processes) == 1  # the new route's child got the initialize
    h.answerHandshake()
    assert response.status == 200, response.body
    assert h.gateway.sessions.get(response.headers["mcp-session-id"]) is not None


def test_a_route_still_unknown_once_the_reload_is_served_is_404() -> None:
    h, reloads = harness()
    reloads.underWay = True
    response = initialize(h, "/nope/mcp")
    assert response.transport.value() == b""
    reloads.served()
    assert response.status == 404
    assert "no server named 'nope'" in response.json()["error"]["message"]


def test_with_no_reload_under_way_an_unknown_route_is_404_at_once() -> None:
    h, reloads = harness()
    response = initialize(h, "/nope/mcp")
    assert response.status == 404
    assert reloads.waiting == []


def test_a_known_route_never_waits_for_a_reload() -> None:
    h, reloads = harness()
    reloads.underWay = True
    assert h.initialize("srv")
    assert reloads.waiting == []


def test_a_reload_that_takes_too_long_gives_the_404_after_the_wait() -> None:
    h, reloads = harness()
    reloads.underWay = True
    response = initialize(h, "/nope/mcp")
    h.reactor.advance(ROUTE_WAIT - 0.1)
    assert response.transport.value() == b""
    h.reactor.advance(0.1)
    assert response.status == 404
    assert reloads.waiting[0].called  # cancelled: its config service forgets it


def test_a_client_gone_before_the_reload_is_served_gets_nothing() -> None:
    h, reloads = harness()
    reloads.underWay = True
    response = initialize(h, "/later/mcp")
    response.protocol.connectionLost(Failure(ConnectionError("gone")))  # type: ignore[attr-defined]
    h.gateway.reconfigurer.reconfigure({"srv": spec("srv"), "later": spec("later")})
    reloads.served()
    assert response.transport.value() == b""
    assert h.reactor.processes == []  # nothing was started for it


def test_a_gateway_that_authenticates_never_waits() -> None:
    """A wait before the gate would tell a caller without a token which
    names exist (a known one is refused at once, an unknown one later)."""
    h = Harness()
    reloads = Reloads()
    team = TeamServices(gate=FakeGate())
    h.site = makeSite(h.gateway, h.reactor, settling=reloads.settling, team=team)
    reloads.underWay = True
    response = initialize(h, "/nope/mcp")
    assert response.status == 401
    assert reloads.waiting == []
