"""The session limits on a team gateway's C{/<server>/mcp}: an
C{initialize} past a limit ends only the caller's own idlest unused
session; a caller with none to give gets HTTP 503 with C{Retry-After} and
a JSON-RPC error, and nobody's session ends. Real Site, fake gate, fake
children, fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from mcpgateway.core import sessionshortage
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.report.metrics import renderMetrics
from mcpgateway.web.app import makeSite
from mcpgateway.web.endpoints.initialize import SESSION_RETRY_AFTER
from mcpgateway.web.teamcluster import TeamServices
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Response, initializeMessage, spec
from tests.support.web.team_web import FakeGate, FakeQuota, RecordingAudit, TeamHarness, ping


class RoomHarness(TeamHarness):
    """A team harness whose site has the given session limits."""

    def __init__(self, maxSessions: int, perPrincipal: int) -> None:
        self.reactor = FakeProcessReactor()
        self.gateway = Gateway({"srv": spec("srv")}, fakeSpawner(self.reactor))
        self.gate = FakeGate()
        self.quota = FakeQuota()
        self.audit = RecordingAudit()
        self.team = TeamServices(self.gate, self.quota, self.audit)
        limits = MessageBounds(maxSessions=maxSessions, maxSessionsPerPrincipal=perPrincipal)
        self.site = makeSite(
            self.gateway, self.reactor, loopbackOnly=False, limits=limits, team=self.team
        )

    def opened(self, who: str) -> str:
        self.reactor.advance(1.0)  # the first opened is the idlest
        return self.open(who)

    def attempt(self, who: str) -> Response:
        self.reactor.advance(1.0)
        return self.as_(
            who,
            "POST",
            "/srv/mcp",
            initializeMessage(clientInfo={}, requestId=7),
        )

    def works(self, who: str, sid: str) -> bool:
        return self.as_(who, "POST", "/srv/mcp", ping(), session=sid).status == 200


def busy(h: RoomHarness, who: str, sid: str) -> Any:
    """A GET stream open on C{sid}: the session is in use."""
    stream = h.as_(who, "GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert stream.status == 200
    return stream


@pytest.mark.parametrize(
    ("maxSessions", "perPrincipal"),
    [(100, 2), (3, 100)],
    ids=["past-his-own-limit", "at-the-gateways-limit"],
)
def test_bob_past_a_limit_ends_his_own_idlest_never_alices(
    maxSessions: int, perPrincipal: int
) -> None:
    h = RoomHarness(maxSessions=maxSessions, perPrincipal=perPrincipal)
    alice = h.opened("alice")
    bobs = [h.opened("bob") for _ in range(4)]
    assert h.works("alice", alice)
    assert [h.works("bob", sid) for sid in bobs] == [False, False, True, True]


def test_with_none_of_his_own_to_give_bob_gets_503_with_retry_after() -> None:
    h = RoomHarness(maxSessions=100, perPrincipal=2)
    alice = h.opened("alice")
    bobs = [h.opened("bob") for _ in range(2)]
    streams = [busy(h, "bob", sid) for sid in bobs]
    refused = h.attempt("bob")
    assert refused.status == 503
    assert refused.headers["retry-after"] == str(SESSION_RETRY_AFTER) == "30"
    body = refused.json()
    assert body["id"] == 7 and body["error"]["code"] == jsonrpc.SERVER_UNAVAILABLE
    assert body["error"]["message"].startswith(
        "this caller has 2 sessions open, its limit of 2 per caller, each with a GET stream"
    )
    assert "mcp-session-id" not in refused.headers
    assert h.works("alice", alice) and all(h.works("bob", sid) for sid in bobs)
    assert h.attempt("alice").status == 200  # the limit is bob's, not alice's
    counts = h.gateway.capacityCounts.counts()
    assert counts[(sessionshortage.PRINCIPAL, sessionshortage.REFUSED)] == 1
    assert 'mcpgateway_session_limit_total{limit="principal",outcome="refused"} 1' in (
        renderMetrics(h.gateway, "/nonexistent-proc").decode()
    )
    [record] = [r for r in h.audit.records if r.status == 503]
    assert record.principal == "key-bob"  # who was refused, by key
    del streams


def test_a_caller_with_no_session_at_the_gateways_limit_gets_503() -> None:
    h = RoomHarness(maxSessions=2, perPrincipal=100)
    alice, bob = h.opened("alice"), h.opened("bob")
    refused = h.attempt("root")  # an admin too: no one else's session ends for it
    assert refused.status == 503 and refused.headers["retry-after"] == "30"
    message = refused.json()["error"]["message"]
    assert message.startswith("the gateway has 2 sessions open, its limit, 0 of them this caller's")
    assert h.works("alice", alice) and h.works("bob", bob)
