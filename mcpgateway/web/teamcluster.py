# -*- test-case-name: tests.web.test_team_web,tests.web.endpoints.test_cluster_web -*-
"""What a team gateway's door and a cluster replica's forwarding are made
of, as the web tree sees them: the authentication gate, the owner lookup
and the forwarder of a replica, and the two surfaces that bundle them
(L{TeamServices}, L{ClusterServices}). The wiring fills them in
(L{mcpgateway.startup.team}, L{mcpgateway.startup.cluster}); a laptop's
gateway has neither.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from twisted.web.server import Request

from mcpgateway.httpbase.principal import Principal, Refusal, Verdict
from mcpgateway.web.endpoints.backends import Quota
from mcpgateway.web.endpoints.guard import header
from mcpgateway.web.endpoints.principal import PeerOrigin, receivedAt

if TYPE_CHECKING:
    from mcpgateway.cluster.routing import Where  # a cluster's replicas only
    from mcpgateway.cluster.sealing import Address  # cryptography: clustered gateways only
    from mcpgateway.governance.gate import PolicyGate  # loaded with a policy
    from mcpgateway.governance.quotagate import QuotaGate  # loaded with call limits
    from mcpgateway.ops.audit import AuditSink  # loaded with a team's audit log


class Gate(Protocol):
    """The authentication gate (L{mcpgateway.web.plumbing.auth.AuthGate})."""

    refusals: Counter[tuple[int, str]]

    def check(self, request: IRequest, server: str | None) -> Verdict | Deferred[Verdict]:
        """Who C{request} comes from, or why it is refused."""

    def refuse(self, request: IRequest, refusal: Refusal) -> bytes:
        """Answer C{refusal} (status, C{WWW-Authenticate}, JSON-RPC body)."""

    def hold(self, request: IRequest, principal: Principal) -> None:
        """C{request}, let in by C{principal}, is still open once rendered:
        end it when its credential ends."""

    def withholding(self, principal: Principal) -> Principal:
        """C{principal} with the servers it may not use as a non-admin withheld."""

    def metadata(self) -> IResource:
        """The C{/.well-known/oauth-protected-resource} tree."""


class Resolves(Protocol):
    """L{mcpgateway.cluster.routing.ClusterSessions}, as the web sees it."""

    failedOver: int

    def resolve(
        self, sessionId: str, server: str, scope: str, principal: Principal, fromPeer: bool
    ) -> Where: ...

    def ownedElsewhere(
        self, sessionId: str, server: str, scope: str, principal: Principal
    ) -> bool: ...


class Forwards(Protocol):
    """L{mcpgateway.cluster.forward.PeerForwarder}, as the web sees it."""

    outcomes: Counter[str]

    def forward(
        self, request: Request, owner: Address, principal: Principal, body: bytes
    ) -> Deferred[bool]: ...

    def ownersDown(self) -> int: ...


class OpensPeers(Protocol):
    """L{mcpgateway.cluster.peer.PeerSeal}, as the web sees it."""

    def claim(
        self, value: str, method: bytes, path: bytes, sessionId: str, body: bytes
    ) -> PeerClaimed | None: ...


class PeerClaimed(Protocol):
    """L{mcpgateway.cluster.peer.PeerClaim}, as the web sees it."""

    @property
    def principal(self) -> Principal: ...

    @property
    def via(self) -> str: ...

    @property
    def source(self) -> str: ...


class OpensTaskIds(Protocol):
    """L{mcpgateway.cluster.taskids.TaskIdSealer}, as the web sees it."""

    def owner(self, taskId: str, server: str, scope: str, principal: str) -> OwnedBy | None: ...


class OwnedBy(Protocol):
    """L{mcpgateway.cluster.taskids.TaskOwner}, as the web sees it."""

    @property
    def address(self) -> Address: ...

    @property
    def label(self) -> str: ...


PEER_HEADER = b"mcp-gateway-peer"
FORWARD_OUTCOMES = ("ok", "unreachable", "failed", "cancelled")
"""L{mcpgateway.cluster.forward.OUTCOMES} (not imported: it needs cryptography)."""


class ClusterServices:
    """What a replica of a cluster adds to the web (docs/guide/cluster.md): where
    unknown session ids go (C{sessions}), the proxy to their owners
    (C{forwarder}), the check of a peer's C{Mcp-Gateway-Peer} header
    (C{peers}), and what C{/health} and C{/metrics} say of them."""

    def __init__(
        self,
        sessions: Resolves,
        forwarder: Forwards,
        peers: OpensPeers,
        replica: str,
        advertise: Callable[[], str],
        taskIds: OpensTaskIds | None = None,
    ) -> None:
        """
        @param replica: this replica's label (C{--replica-id}).
        @param advertise: the URL its peers reach it at.
        @param taskIds: opens the sealed ids of the replicas' tasks.
        """
        self.sessions = sessions
        self.forwarder = forwarder
        self.peers = peers
        self.replica = replica
        self._advertise = advertise
        self._taskIds = taskIds

    def taskOwner(self, taskId: str, server: str, scope: str, principal: str) -> Address | None:
        """The address of the replica that holds task C{taskId} when it is
        another one (C{None}: this one, or not a task id of this cluster for
        that server, route and principal)."""
        if self._taskIds is None:
            return None
        owner = self._taskIds.owner(taskId, server, scope, principal)
        if owner is None or owner.label == self.replica:
            return None
        return owner.address

    def resolve(
        self, sessionId: str, server: str, scope: str, principal: Principal, fromPeer: bool
    ) -> Where:
        return self.sessions.resolve(sessionId, server, scope, principal, fromPeer)

    def ownedElsewhere(self, sessionId: str, server: str, scope: str, principal: Principal) -> bool:
        """See L{mcpgateway.cluster.routing.ClusterSessions.ownedElsewhere}."""
        return self.sessions.ownedElsewhere(sessionId, server, scope, principal)

    def forward(
        self, request: Request, owner: Address, principal: Principal, body: bytes
    ) -> Deferred[bool]:
        return self.forwarder.forward(request, owner, principal, body)

    def peer(self, request: Request, value: bytes) -> Principal | None:
        """The principal a peer's C{Mcp-Gateway-Peer} header C{value}
        carries for this very request (method, path, session id, body), or
        C{None} (forged, expired, sealed for another request); where that
        peer received the request is kept on it
        (L{mcpgateway.web.endpoints.principal.PeerOrigin})."""
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError:
            return None
        body = b""
        content = request.content
        if content is not None:
            content.seek(0)
            body = content.read()
            content.seek(0)
        sessionId = header(request, "mcp-session-id") or ""
        claim = self.peers.claim(text, request.method, request.uri, sessionId, body)
        if claim is None:
            return None
        receivedAt(request, PeerOrigin(claim.via, claim.source))
        return claim.principal

    def forwardCounts(self) -> dict[str, int]:
        """Forwarded requests by outcome (every outcome, zeros included)."""
        counts = {outcome: 0 for outcome in FORWARD_OUTCOMES}
        counts.update(self.forwarder.outcomes)
        return counts

    def line(self, visiting: int) -> dict[str, Any]:
        """The C{"cluster"} object of C{/health}: C{forwarded} counts the
        requests an owner got (not those it could not be reached for: they
        were served here, counted in C{failedOver}, or not found)."""
        return {
            "replica": self.replica,
            "advertise": self._advertise(),
            "visiting": visiting,
            "forwarded": sum(
                count
                for outcome, count in self.forwarder.outcomes.items()
                if outcome != "unreachable"
            ),
            "failedOver": self.sessions.failedOver,
            "ownersDown": self.forwarder.ownersDown(),
        }


_DOOR_PARTS = ("gate", "quota", "audit", "cluster")
"""What puts a door in front of the MCP endpoints (L{TeamServices.active})."""


class TeamServices:
    """What a team gateway puts in front of its endpoints (docs/guide/team.md):
    the authentication gate, the per-principal limits, the audit log, and
    what C{/health} and C{/metrics} say of them. The default: none of them
    (a loopback gateway)."""

    active: bool = False
    """Whether MCP requests pass a door (gate, limits, audit or a cluster's
    peers): kept as each of them is set, since the root reads it at every
    request."""

    def __init__(
        self,
        gate: Gate | None = None,
        quota: Quota | None = None,
        audit: AuditSink | None = None,
        authStatus: Callable[[], dict[str, Any]] | None = None,
        cluster: ClusterServices | None = None,
        publicHealth: bool = False,
    ) -> None:
        """
        @param publicHealth: C{--public-health}: C{/health} and C{/metrics}
            show their figures to callers without an admin's token
            (L{mcpgateway.web.pages.liveness}).
        """
        self.gate = gate
        self.publicHealth = publicHealth
        self.quota = quota
        self.audit = audit
        self.cluster = cluster
        self._authStatus = authStatus
        self.throttled = 0
        """Requests refused by the per-principal limits (429)."""
        self.upstreamLogin: IResource | None = None
        """C{/oauth}: where principals sign in to remote servers
        (L{mcpgateway.web.pages.upstreamlogin}; C{None}: not served)."""
        self.callQuotas: QuotaGate | None = None
        """The rate limits and quotas of calls (L{mcpgateway.governance.quotagate});
        C{None}: none configured."""
        self.requestPolicy: PolicyGate | None = None
        """The policy on every request (L{mcpgateway.governance.gate});
        C{None}: no C{--policy}."""
        self.listeners: list[Callable[[int], None]] = []
        """Told the port the gateway listens on, once it does."""

    def throttle(self) -> None:
        self.throttled += 1

    def throttledCounts(self) -> dict[str, int]:
        """Requests refused (429) by kind (C{rate}, C{concurrency}) when the
        quota tells them apart, else all as C{limit}."""
        kinds = getattr(self.quota, "throttled", None)
        if isinstance(kinds, Counter):
            return {kind: count for kind, count in kinds.items() if count}
        return {"limit": self.throttled} if self.throttled else {}

    def authLine(self) -> dict[str, Any]:
        """The C{"auth"} object of C{/health} (C{{"mode": "none"}} without auth)."""
        if self._authStatus is not None:
            return self._authStatus()
        return {"mode": "none" if self.gate is None else "on"}

    def refusals(self) -> dict[tuple[int, str], int]:
        """Refused requests by (HTTP status, reason)."""
        return dict(self.gate.refusals) if self.gate is not None else {}

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _DOOR_PARTS:
            object.__setattr__(
                self, "active", any(getattr(self, part, None) is not None for part in _DOOR_PARTS)
            )
