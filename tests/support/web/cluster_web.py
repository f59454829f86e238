"""What tests/web/endpoints/test_cluster_web.py shares with the other tests:
ClusterHarness, FakeForwarder, FakePeers, FakeRouter, SOURCE."""

from __future__ import annotations

from collections import Counter
from typing import Any

from twisted.internet.defer import Deferred
from twisted.web.server import Request

from mcpgateway.cluster.peer import PeerClaim
from mcpgateway.cluster.routing import Forward, Local, NotFound, Where
from mcpgateway.cluster.sealing import Address
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.httpbase.principal import VIA_PEER, VIA_TOKEN, Principal
from mcpgateway.web.app import makeSite
from mcpgateway.web.teamcluster import ClusterServices, TeamServices
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, Response, spec
from tests.support.web.api import initializeBody
from tests.support.web.team_web import FakeGate, FakeQuota, RecordingAudit

PEER = Address("10.0.0.2", 9100)
SOURCE = "192.0.2.7"
"""The address a peer's forwarded request came from where it was received."""


BOB_VIA_PEER = Principal("bob", "key-bob", VIA_PEER, servers=frozenset({"srv"}))


class FakeRouter:
    """Every id it does not know is another replica's (L{PEER}); a request
    that must not be forwarded (from a peer, or its forward failed) gets 404."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.calls: list[tuple[str, str, str, str, bool]] = []
        self.failedOver = 0

    def resolve(
        self, sessionId: str, server: str, scope: str, principal: Principal, fromPeer: bool
    ) -> Where:
        self.calls.append((sessionId, server, scope, principal.key, fromPeer))
        known = self.gateway.sessions.get(sessionId)
        if known is not None:
            return Local(known)
        if not fromPeer:
            return Forward(PEER)
        return NotFound()

    def ownedElsewhere(self, sessionId: str, server: str, scope: str, principal: Principal) -> bool:
        return sessionId.startswith("r2.")


class FakeForwarder:
    def __init__(self) -> None:
        self.calls: list[tuple[Request, Address, Principal, bytes, Deferred[bool]]] = []
        self.outcomes: Counter[str] = Counter()

    def forward(
        self, request: Request, owner: Address, principal: Principal, body: bytes
    ) -> Deferred[bool]:
        d: Deferred[bool] = Deferred()
        self.calls.append((request, owner, principal, body, d))
        return d

    def ownersDown(self) -> int:
        return 0

    def answer(self, index: int = -1, status: int = 200, body: bytes = b"{}") -> None:
        """Answer a forwarded request as the owner would."""
        request, _, _, _, d = self.calls[index]
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"application/json")
        request.write(body)
        request.finish()
        self.outcomes["ok"] += 1
        d.callback(True)


class FakePeers:
    """A header value C{ok:<principal>} opens to that principal, for any
    request, received by the replica that forwarded it from L{SOURCE}
    with a token."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, bytes, bytes, str, bytes]] = []

    def claim(
        self, value: str, method: bytes, path: bytes, sessionId: str, body: bytes
    ) -> PeerClaim | None:
        self.opened.append((value, method, path, sessionId, body))
        if value == "ok:bob":
            return PeerClaim(BOB_VIA_PEER, "r2", VIA_TOKEN, SOURCE)
        return None


class ClusterHarness(Harness):
    def __init__(self, gate: bool = True) -> None:
        self.reactor = FakeProcessReactor()
        self.gateway = Gateway({"srv": spec("srv")}, fakeSpawner(self.reactor))
        self.router = FakeRouter(self.gateway)
        self.forwarder = FakeForwarder()
        self.peers = FakePeers()
        self.cluster = ClusterServices(
            self.router, self.forwarder, self.peers, "r1", lambda: "http://10.0.0.1:9100"
        )
        self.gate = FakeGate() if gate else None
        self.quota = FakeQuota() if gate else None
        self.audit = RecordingAudit()
        self.team = TeamServices(self.gate, self.quota, self.audit, cluster=self.cluster)
        self.site = makeSite(self.gateway, self.reactor, loopbackOnly=False, team=self.team)

    def as_(self, who: str, method: str, path: str, body: Any = None, **kw: Any) -> Response:
        headers = {"authorization": f"Bearer {who}", **kw.pop("headers", {})}
        return self.request(method, path, body, headers=headers, **kw)

    def initializeAs(self, who: str) -> str:
        """Open a session here for C{who}; its id."""
        response = self.as_(
            who,
            "POST",
            "/srv/mcp",
            initializeBody({}),
        )
        if not response.complete:
            self.answerHandshake()
        assert response.status == 200, response.body
        return response.headers["mcp-session-id"]
