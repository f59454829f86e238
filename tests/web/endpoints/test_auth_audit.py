"""The real L{AuthGate} in front of a team gateway's endpoint (web/app.py):
what the audit record of a refusal says, and the status line of a refusal
(7 and 19)."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock

from mcpgateway.auth.tokens import INVALID
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.httpbase.principal import VIA_TOKEN, Principal
from mcpgateway.web.app import makeSite
from mcpgateway.web.plumbing.auth import AuthGate
from mcpgateway.web.teamcluster import TeamServices
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, Response, initializeMessage, spec
from tests.support.web.team_web import FakeQuota, RecordingAudit

BOB = Principal("bob", "key-bob", VIA_TOKEN, servers=frozenset({"other"}))


class Tokens:
    """C{bob-token} is bob (limited to the server C{other}); anything else is refused."""

    def authenticate(self, token: str, endpoint: str = "") -> Any:
        return BOB if token == "bob-token" else INVALID


class RealGateHarness(Harness):
    def __init__(self) -> None:
        self.reactor = FakeProcessReactor()
        self.gateway = Gateway(
            {"srv": spec("srv"), "other": spec("other")}, fakeSpawner(self.reactor)
        )
        self.gate = AuthGate(Tokens(), Clock(), None, None, lambda: [])
        self.audit = RecordingAudit()
        self.team = TeamServices(self.gate, FakeQuota(), self.audit)
        self.site = makeSite(self.gateway, self.reactor, loopbackOnly=False, team=self.team)

    def initializeWith(self, token: str | None, server: str = "srv") -> Response:
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        return self.request(
            "POST",
            f"/{server}/mcp",
            initializeMessage(clientInfo={}),
            headers=headers,
        )


def test_the_audit_record_of_a_403_names_the_principal_refused() -> None:
    """bob's token may use 'other' only: his initialize on /srv/mcp is 403,
    and the audit line says it was bob (his key), proven by a token."""
    h = RealGateHarness()
    response = h.initializeWith("bob-token")
    assert response.status == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert h.reactor.spawned == []  # no child for a refusal
    [record] = h.audit.records
    assert (record.principal, record.via, record.status, record.outcome) == (
        "key-bob",
        "token",
        403,
        "refused",
    )


def test_a_wrong_token_is_refused_as_such_and_no_token_as_missing() -> None:
    h = RealGateHarness()
    wrong = h.initializeWith("not-a-token")
    assert wrong.status == 401
    assert wrong.headers["www-authenticate"] == (
        'Bearer realm="mcpgateway", error="invalid_token",'
        ' error_description="the bearer token was refused: it is not valid"'
    )
    assert wrong.json()["error"]["message"] == "the bearer token was refused: it is not valid"
    missing = h.initializeWith(None)
    assert missing.status == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="mcpgateway"'
    assert "needs a bearer token" in missing.json()["error"]["message"]
    assert [(r.principal, r.status) for r in h.audit.records] == [("", 401), ("", 401)]


def test_a_get_streams_record_names_it_as_one() -> None:
    """A GET stream's record says so (C{session/stream}), whether it
    opened or was refused (here: a session bob does not have)."""
    h = RealGateHarness()
    headers = {"authorization": "Bearer bob-token", "mcp-session-id": "no-such-session"}
    response = h.request("GET", "/other/mcp", headers=headers, accept="text/event-stream")
    assert response.status == 404
    assert [(r.method, r.principal, r.status) for r in h.audit.records] == [
        ("session/stream", "key-bob", 404)
    ]
