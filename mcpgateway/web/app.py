# -*- test-case-name: tests.web.test_api,tests.web.test_mcp,tests.web.test_sessions_api -*-
"""The gateway's HTTP tree: guards, the MCP endpoints, and the management apps.

L{GatewayRoot} checks C{Origin} and C{Host} on every request, hands
C{/<server>/mcp} to that server's L{McpEndpoint} and C{/<server>~<key>/mcp}
to the endpoint of one of its workspace routes (see docs/scopes.md; an
unknown key is 404, never the global route), answers C{/health} itself,
serves the status page at C{/} and its stream at C{/status/events}
(L{mcpgateway.web.statuspage}; a browser's request that changes something
must carry its CSRF header), and hands everything else to the management
surface (the Klein app of C{/api/v1}, and L{mcpgateway.web.admin.ManagementApp}
for C{/sessions} and C{/metrics}), which is loaded on first use: a gateway
that only serves MCP traffic and C{mcpgateway status} never imports Klein
(about 5 MB).
L{makeSite} builds the C{Site} within a L{Limits}: a request class that caps
body sizes, and a channel that gives a request's headers a deadline and caps
the connections of one peer address. A path that is not UTF-8 is refused
before it can reach Klein.

A team gateway (docs/team.md) puts a L{TeamSurface} in front: every MCP
request passes a door (the authentication gate, whose refusal never reaches
a pool; the principal it finds rides on C{request.principal}; one audit
record when the request ends), C{/sessions*}, C{/api/v1} and the status
page need an admin principal, C{/.well-known/oauth-protected-resource*} is the gate's, and
C{/health} and C{/metrics} stay open but show a caller without an admin's token
only that the gateway lives (L{mcpgateway.web.liveness}). An MCP path no
server, route or aggregate endpoint answers is authenticated first, as a
real one is: no caller without a valid token learns which exist.

A replica of a cluster (docs/cluster.md) puts a L{ClusterSurface} on that
surface: the door looks for a peer's C{Mcp-Gateway-Peer} header first (a
valid one is the principal, with neither the token gate nor the limits:
the replica the client reached checked and counted it; an invalid one is
401), the endpoints send unknown session ids to it, the audit record of a
forwarded request is the owner's to write, and C{/health} and C{/metrics}
show what it forwarded and which sessions visit.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from io import BytesIO
from typing import IO, TYPE_CHECKING, Any, Protocol

from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.http import HTTPFactory, _GenericHTTPChannelProtocol
from twisted.web.http_headers import Headers
from twisted.web.iweb import INonQueuedRequestFactory, IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from mcpgateway.auth.principal import Principal, Refusal, Verdict
from mcpgateway.cluster.routing import Where
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.era2026.types import ModernService
from mcpgateway.core.gateway import Gateway
from mcpgateway.ops.audit import AuditRecord, AuditSink
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.limits import MAX_BODY, Limits
from mcpgateway.runtime import logs
from mcpgateway.runtime.turnflush import TurnFlusher, writerOf
from mcpgateway.web.aggregate import (
    AggregateBackend,
    AggregateEndpoint,
    AggregatePath,
    aggregatePath,
    serverName,
)
from mcpgateway.web.guard import checkOrigin, header, isHost
from mcpgateway.web.headers import GatewayHeaders
from mcpgateway.web.httpreader import Message, RequestReader, checkInstalled
from mcpgateway.web.liveness import Health, MetricsDoor
from mcpgateway.web.mcp import (
    AuditNote,
    ClientErrors,
    McpEndpoint,
    Quota,
    errorReply,
    jsonReply,
)
from mcpgateway.web.request import GatewayRequest, responseHead

if TYPE_CHECKING:
    from mcpgateway.cluster.sealing import Address  # cryptography: clustered gateways only
    from mcpgateway.web.statuspage import StatusPage  # loaded at the page's first request

ResourceFactory = Callable[[], IResource]

DEFAULT_MAX_BODY = MAX_BODY
IDLE_CONNECTION_TIMEOUT = 60.0
"""Seconds a connection may stay silent between requests (no byte of a new
request, no response in progress) before it is closed."""
BODY_STALL_TIMEOUT = 30.0
"""Seconds a request's body may go without a byte before the request gets
408 and its connection closes."""
BODY_GRACE = 30.0
BODY_MIN_RATE = 500.0
"""A request's body must be complete within C{BODY_GRACE} seconds of its
head, plus a second per C{BODY_MIN_RATE} bytes received (Apache's
C{mod_reqtimeout} rule, C{body=20,MinRate=500}): a 4 MiB body may take
over two hours at 500 bytes a second; a byte a second is cut after 30 s."""
_READ_SLICE = 4096
"""Bytes the reader is given at a time: at most what one slice holds is
parsed ahead of a response in progress; the rest waits as bytes."""


class Gate(Protocol):
    """The authentication gate (L{mcpgateway.web.auth.AuthGate})."""

    refusals: Counter[tuple[int, str]]

    def check(self, request: IRequest, server: str | None) -> Verdict | Deferred[Verdict]:
        """Who C{request} comes from, or why it is refused."""

    def refuse(self, request: IRequest, refusal: Refusal) -> bytes:
        """Answer C{refusal} (status, C{WWW-Authenticate}, JSON-RPC body)."""

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
    """L{mcpgateway.cluster.forward.Forwarder}, as the web sees it."""

    outcomes: Counter[str]

    def forward(
        self, request: Request, owner: Address, principal: Principal, body: bytes
    ) -> Deferred[bool]: ...

    def ownersDown(self) -> int: ...


class OpensPeers(Protocol):
    """L{mcpgateway.cluster.peer.PeerSeal}, as the web sees it."""

    def open(
        self, value: str, method: bytes, path: bytes, sessionId: str, body: bytes
    ) -> Principal | None: ...


PEER_HEADER = b"mcp-gateway-peer"
FORWARD_OUTCOMES = ("ok", "unreachable", "failed", "cancelled")
"""L{mcpgateway.cluster.forward.OUTCOMES} (not imported: it needs cryptography)."""


class ClusterSurface:
    """What a replica of a cluster adds to the web (docs/cluster.md): where
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
    ) -> None:
        """
        @param replica: this replica's label (C{--replica-id}).
        @param advertise: the URL its peers reach it at.
        """
        self.sessions = sessions
        self.forwarder = forwarder
        self.peers = peers
        self.replica = replica
        self._advertise = advertise

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
        C{None} (forged, expired, sealed for another request)."""
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
        return self.peers.open(text, request.method, request.uri, sessionId, body)

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


class TeamSurface:
    """What a team gateway puts in front of its endpoints (docs/team.md):
    the authentication gate, the per-principal limits, the audit log, and
    what C{/health} and C{/metrics} say of them. The default: none of them
    (a loopback gateway, as before)."""

    def __init__(
        self,
        gate: Gate | None = None,
        quota: Quota | None = None,
        audit: AuditSink | None = None,
        authStatus: Callable[[], dict[str, Any]] | None = None,
        cluster: ClusterSurface | None = None,
        publicHealth: bool = False,
    ) -> None:
        """
        @param publicHealth: C{--public-health}: C{/health} and C{/metrics}
            show their figures to callers without an admin's token
            (L{mcpgateway.web.liveness}).
        """
        self.gate = gate
        self.publicHealth = publicHealth
        self.quota = quota
        self.audit = audit
        self.cluster = cluster
        self._authStatus = authStatus
        self.throttled = 0
        """Requests refused by the per-principal limits (429)."""

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

    @property
    def active(self) -> bool:
        """Whether MCP requests pass a door (gate, limits, audit or a cluster's peers)."""
        return (
            self.gate is not None
            or self.quota is not None
            or self.audit is not None
            or self.cluster is not None
        )


class _Refused(Resource):
    isLeaf = True

    def __init__(
        self,
        status: int,
        text: str,
        clientErrors: ClientErrors | None = None,
    ) -> None:
        super().__init__()
        self._status, self._text = status, text
        self._clientErrors = clientErrors

    def render(self, request: IRequest) -> bytes:
        if self._clientErrors is not None:
            self._clientErrors.note(request, self._status, self._text)
        return errorReply(request, self._status, jsonrpc.INVALID_REQUEST, self._text)


class _GatedRefusal(Resource):
    """A 404 for an MCP path no server or route answers, on a gateway that
    requires tokens: the caller is authenticated first, as at a real
    endpoint, so that one without a valid token learns nothing of which
    servers and route keys exist (the same 401 either way)."""

    isLeaf = True

    def __init__(self, refused: _Refused, gate: Gate) -> None:
        super().__init__()
        self._refused = refused
        self._gate = gate

    def render(self, request: Request) -> bytes | int:
        verdict = self._gate.check(request, None)
        if isinstance(verdict, Deferred):
            return _later(request, verdict, lambda v: self._decided(request, v))
        return self._decided(request, verdict)

    def _decided(self, request: Request, verdict: Verdict) -> bytes | int:
        if isinstance(verdict, Refusal):
            return self._gate.refuse(request, verdict)
        return self._refused.render(request)


def _managementResource(gateway: Gateway, team: TeamSurface | None = None) -> IResource:
    from mcpgateway.web.admin import ManagementApp

    return ManagementApp(gateway, team)


def _later(
    request: Request,
    verdict: Deferred[Verdict],
    then: Callable[[Verdict], bytes | int],
) -> int:
    """Render C{request} with C{then} once C{verdict} fires (a JWT whose key
    is being fetched); nothing if the client went away meanwhile."""
    gone: list[bool] = []
    request.notifyFinish().addErrback(lambda _: gone.append(True))

    def decided(result: Verdict) -> None:
        if gone or request.finished:
            return
        body = then(result)
        if body is not NOT_DONE_YET:
            assert isinstance(body, bytes)
            request.write(body)
            request.finish()

    def failed(reason: Failure) -> None:
        _log.failure("checking a request's credentials failed", reason)
        if not (gone or request.finished):
            request.write(
                errorReply(
                    request,
                    500,
                    jsonrpc.INTERNAL_ERROR,
                    "internal error in the gateway; see its log",
                )
            )
            request.finish()

    verdict.addCallbacks(decided, failed)
    return NOT_DONE_YET


_log = Logger(observer=logs.observer, namespace="mcpgateway.web.app")


class _Door(Resource):
    """In front of one MCP endpoint of a team gateway: the gate (a refusal
    never reaches a pool; a principal not allowed the server gets 403), then
    the endpoint with C{request.principal} set; one audit record when the
    request ends."""

    isLeaf = True

    def __init__(
        self,
        endpoint: McpEndpoint,
        server: str,
        scope: str,
        team: TeamSurface,
        clock: IReactorTime,
        aggregate: bool = False,
    ) -> None:
        """
        @param aggregate: an aggregate endpoint (C{/mcp}): any valid
            principal passes; its members are narrowed to the servers the
            principal may use.
        """
        super().__init__()
        self._aggregate = aggregate
        self._endpoint = endpoint
        self._server = server
        self._scope = scope
        self._team = team
        self._clock = clock

    def render(self, request: Request) -> bytes | int:
        audit = self._team.audit
        if audit is not None:
            note = AuditNote(self._clock.seconds(), audit.payloads)
            request.auditNote = note  # type: ignore[attr-defined]
            request.notifyFinish().addBoth(self._audited, request, note, audit)
        cluster = self._team.cluster
        if cluster is not None:
            value = request.getHeader(PEER_HEADER)
            if value is not None:
                return self._fromPeer(request, cluster, value)
        gate = self._team.gate
        if gate is None:
            return self._endpoint.render(request)
        verdict = gate.check(request, None if self._aggregate else self._server)
        if isinstance(verdict, Deferred):
            return _later(request, verdict, lambda v: self._decided(request, v))
        return self._decided(request, verdict)

    def _fromPeer(self, request: Request, cluster: ClusterSurface, value: bytes) -> bytes | int:
        """A request another replica forwarded: its C{Mcp-Gateway-Peer}
        header is the principal (the token gate and the limits were the
        forwarding replica's), or 401."""
        principal = cluster.peer(request, value)
        if principal is None or not (self._aggregate or principal.mayUse(self._server)):
            note = getattr(request, "auditNote", None)
            if isinstance(note, AuditNote):
                note.settle("refused")
            _log.warn(
                "refused a forwarded {method} from {peer}: its Mcp-Gateway-Peer header is not"
                " valid for it (another cluster key, expired: are the replicas' clocks apart"
                " by more than 30 s?, or not sealed for this request)",
                method=request.method.decode("ascii", "replace")[:16],
                peer=getattr(request.getClientAddress(), "host", "?"),
            )
            return errorReply(
                request,
                401,
                jsonrpc.INVALID_REQUEST,
                "the Mcp-Gateway-Peer header is not valid for this request",
            )
        request.principal = principal  # type: ignore[attr-defined]
        request.fromPeer = True  # type: ignore[attr-defined]
        return self._endpoint.render(request)

    def _decided(self, request: Request, verdict: Verdict) -> bytes | int:
        gate = self._team.gate
        assert gate is not None
        if (
            isinstance(verdict, Principal)
            and not self._aggregate
            and not verdict.mayUse(self._server)
        ):
            request.principal = verdict  # type: ignore[attr-defined]
            verdict = Refusal(
                403,
                "insufficient_scope",
                f"this principal may not use server {self._server[:64]!r}",
                scope=f"mcp:{self._server}",
            )
        if isinstance(verdict, Refusal):
            note = getattr(request, "auditNote", None)
            if isinstance(note, AuditNote):
                note.settle("refused")
            return gate.refuse(request, verdict)
        request.principal = verdict  # type: ignore[attr-defined]
        return self._endpoint.render(request)

    def _audited(self, result: object, request: Request, note: AuditNote, audit: AuditSink) -> None:
        if getattr(request, "forwardedTo", None) is not None:
            return  # the owner it was forwarded to writes its record
        principal = getattr(request, "principal", None)
        status = int(request.code or 200)
        outcome = note.outcome
        if outcome is None:
            if isinstance(result, Failure):
                outcome = "disconnected"
            else:
                outcome = "ok" if status < 400 else "invalid"
        peer = request.getClientAddress()
        try:
            audit.record(
                AuditRecord(
                    ts=note.started,
                    principal=getattr(principal, "key", ""),
                    session=note.session,
                    server=self._server,
                    route=self._scope or "global",
                    method=note.method,
                    tool=note.tool,
                    outcome=outcome,
                    code=note.code,
                    status=status,
                    durationMs=(self._clock.seconds() - note.started) * 1000.0,
                    via=getattr(principal, "via", None),
                    peer=getattr(peer, "host", None),
                    payload=note.payload or None,
                )
            )
        except Exception:
            _log.failure("writing an audit record failed")


class _AdminDoor(Resource):
    """In front of the management surface (C{/sessions*}, C{/api/v1}, the
    status page) of a team gateway: an admin principal only (or the C{--api-token}, for the
    API); C{/health} and C{/metrics} stay open (L{mcpgateway.web.liveness})."""

    isLeaf = True

    def __init__(self, inner: Callable[[], IResource], gate: Gate) -> None:
        super().__init__()
        self._inner = inner
        self._gate = gate

    def render(self, request: Request) -> bytes | int:
        inner = self._inner()
        tokenMatches = getattr(inner, "tokenMatches", None)
        if callable(tokenMatches) and tokenMatches(request):
            return inner.render(request)  # type: ignore[no-any-return]
        verdict = self._gate.check(request, None)
        if isinstance(verdict, Deferred):
            return _later(request, verdict, lambda v: self._decided(request, inner, v))
        return self._decided(request, inner, verdict)

    def _decided(self, request: Request, inner: IResource, verdict: Verdict) -> bytes | int:
        if isinstance(verdict, Refusal):
            return self._gate.refuse(request, verdict)
        if not verdict.admin:
            return jsonReply(
                request,
                403,
                {
                    "error": "the management surface needs an admin principal (a token with"
                    ' "admin": true, or the mcp:admin scope)'
                },
            )
        request.principal = verdict  # type: ignore[attr-defined]
        request.adminPrincipal = True  # type: ignore[attr-defined]
        return inner.render(request)  # type: ignore[no-any-return]


class GatewayRoot(Resource):
    """Dispatches C{/<server>/mcp} and C{/<server>~<key>/mcp} to MCP
    endpoints, the rest to Klein."""

    def __init__(
        self,
        gateway: Gateway,
        clock: IReactorTime,
        loopbackOnly: bool,
        api: ResourceFactory | None = None,
        limits: Limits | None = None,
        clientErrors: ClientErrors | None = None,
        keys: WorkspaceKeys | None = None,
        modern: ModernService | None = None,
        team: TeamSurface | None = None,
    ) -> None:
        """
        @param keys: what credential sets (C{X-Mcp-Env-*} headers) are keyed
            with: the state directory's (L{WorkspaceKeys.forStateDir}, read
            once at start); C{None}: a secret of this process only.
        @param modern: what serves 2026-07-28 requests (C{None}: the gateway).
        @param team: the gate, limits and audit log of a team gateway
            (C{None}: none, as on loopback).
        """
        super().__init__()
        self.team = team if team is not None else TeamSurface()
        self._modern = modern
        self._limits = limits if limits is not None else Limits()
        self._keys = keys if keys is not None else WorkspaceKeys(os.urandom(32))
        self.clientErrors = clientErrors if clientErrors is not None else ClientErrors(clock)
        self._apiFactory = api
        self._api: IResource | None = None
        self._loopbackOnly = loopbackOnly
        self._gateway = gateway
        self._clock = clock
        self._endpoints: dict[str, McpEndpoint] = {}
        self._routes: dict[tuple[str, str], McpEndpoint] = {}
        """The endpoints of workspace routes, by (server, key)."""
        self._aggregates: dict[tuple[str, str], McpEndpoint] = {}
        """The aggregate endpoints, by (endpoint name, workspace key)."""
        self._health = Health(gateway, self.team, loopbackOnly, self._apiTokenMatches)
        self._metrics = MetricsDoor(self._managementApp, self._health.access)
        self._management: IResource | None = None
        self._status: StatusPage | None = None

    def _endpoint(self, name: str) -> McpEndpoint | None:
        """The endpoint of server C{name}; servers come and go on reload."""
        pool = self._gateway.pools.get(name)
        if pool is None:
            self._endpoints.pop(name, None)
            return None
        endpoint = self._endpoints.get(name)
        if endpoint is None or endpoint.pool is not pool:
            endpoint = self._endpoints[name] = McpEndpoint(
                self._gateway,
                name,
                self._clock,
                self._limits,
                self.clientErrors,
                keys=self._keys,
                modern=self._modern,
                quota=self.team.quota,
                throttled=self.team.throttle,
                cluster=self.team.cluster,
                loopbackOnly=self._childTextForAll(),
            )
        return endpoint

    def _route(self, name: str, key: str) -> McpEndpoint | None:
        """The endpoint of route C{key} of server C{name}, if the server has
        that route now (routes come and go with the config and its projects)."""
        pool = self._gateway.pools.get(name)
        if pool is None or not key or pool.variantFor(key) is None:
            self._routes.pop((name, key), None)
            return None
        endpoint = self._routes.get((name, key))
        if endpoint is None or endpoint.pool is not pool:
            endpoint = self._routes[(name, key)] = McpEndpoint(
                self._gateway,
                name,
                self._clock,
                self._limits,
                self.clientErrors,
                scope=key,
                keys=self._keys,
                modern=self._modern,
                quota=self.team.quota,
                throttled=self.team.throttle,
                cluster=self.team.cluster,
                loopbackOnly=self._childTextForAll(),
            )
        return endpoint

    def _aggregate(self, where: AggregatePath) -> McpEndpoint | None:
        """The aggregate endpoint C{where} names, if its settings exist."""
        if not self._gateway.hasAggregateEndpoint(where.endpoint) or (
            where.scope
            and not any(pool.variantFor(where.scope) for pool in self._gateway.pools.values())
        ):
            self._aggregates.pop((where.endpoint, where.scope), None)
            return None
        endpoint = self._aggregates.get((where.endpoint, where.scope))
        if endpoint is None:
            if len(self._aggregates) > 1024:
                self._aggregates.clear()
            endpoint = self._aggregates[(where.endpoint, where.scope)] = AggregateEndpoint(
                self._gateway,
                serverName(where.endpoint),
                self._clock,
                self._limits,
                self.clientErrors,
                scope=where.scope,
                keys=self._keys,
                modern=self._modern,
                quota=self.team.quota,
                throttled=self.team.throttle,
                cluster=self.team.cluster,
                loopbackOnly=self._childTextForAll(),
                backend=AggregateBackend(self._gateway, where.endpoint),
            )
        return endpoint

    def endModernStreams(self, reason: str) -> int:
        """End every open 2026-07-28 listen stream with its graceful result
        (the gateway stops, or hands over to a restart's successor: the
        clients listen again there); how many ended."""
        endpoints = [*self._endpoints.values(), *self._routes.values()]
        return sum(endpoint.modern.endStreams(reason) for endpoint in endpoints)

    def _childTextForAll(self) -> bool:
        """Whether every caller may see what a child wrote (its stderr), as
        the endpoints' C{loopbackOnly} says (L{showsChildText}): a gateway
        bound to loopback only that authenticates nobody. One that requires
        tokens is reached through a proxy or a load balancer by others (a
        team gateway, a cluster's replica): there only admins see it."""
        return self._loopbackOnly and self.team.gate is None

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:
        refusal = checkOrigin(request, self._loopbackOnly, self.team.gate is not None)
        if refusal is not None:
            return _Refused(*refusal, self.clientErrors)
        if request.postpath and request.postpath[0] == b"mcp":
            name, tilde, key = path.decode("utf-8", "replace").partition("~")
            endpoint = self._route(name, key) if tilde else self._endpoint(name)
            if endpoint is not None:
                request.postpath.pop(0)
                request.prepath.append(b"mcp")
                if self.team.active:
                    return _Door(endpoint, name, key if tilde else "", self.team, self._clock)
                return endpoint
            if tilde and name in self._gateway.pools:
                refused = _Refused(
                    404,
                    f"no route {key[:64]!r} on server {name[:64]!r}: no workspace of its"
                    " config has that key (the project's entry may be gone, or the state"
                    " directory's workspace.key changed; GET /health lists the servers)",
                    self.clientErrors,
                )
            else:
                refused = _Refused(
                    404,
                    f"no server named {name[:64]!r} (GET /health lists the servers)",
                    self.clientErrors,
                )
            gate = self.team.gate
            return refused if gate is None else _GatedRefusal(refused, gate)
        if path == b"mcp" or path.startswith(b"mcp~"):
            where = aggregatePath(path.decode("utf-8", "replace"), request.postpath)
            aggregate = self._aggregate(where) if where is not None else None
            if aggregate is None:
                refused = _Refused(
                    404,
                    "no such aggregate endpoint: /mcp serves every server, /mcp/search"
                    " searches them, /mcp/<name> the endpoints of aggregate.json",
                    self.clientErrors,
                )
                gate = self.team.gate
                return refused if gate is None else _GatedRefusal(refused, gate)
            assert where is not None
            if request.postpath:
                request.prepath.append(request.postpath.pop(0))
            if self.team.active:
                return _Door(aggregate, "/mcp", where.scope, self.team, self._clock, aggregate=True)
            return aggregate
        if path == b"health" and not request.postpath:
            return self._health
        gate = self.team.gate
        if (path == b"" and not request.postpath) or (
            path == b"status" and request.postpath == [b"events"]
        ):
            if gate is not None:
                return _AdminDoor(self._statusPage, gate)
            return self._statusPage()
        if (
            gate is not None
            and path == b".well-known"
            and request.postpath
            and request.postpath[0] == b"oauth-protected-resource"
        ):
            # RFC 9728: the root document, and one per endpoint path below it.
            request.prepath.append(request.postpath.pop(0))
            return gate.metadata()
        if not _isUtf8(path, request.postpath):
            # Klein would log a traceback and answer in plain text.
            return _Refused(
                400, "the path is not UTF-8 (after percent-decoding)", self.clientErrors
            )
        from mcpgateway.web.statuspage import CsrfRefused, csrfRefusal

        csrf = csrfRefusal(request)
        if csrf is not None:
            return CsrfRefused(csrf)
        # Give Klein the whole path back: it routes from the root.
        request.postpath.insert(0, request.prepath.pop())
        if path == b"api" and self._apiFactory is not None:
            if gate is not None:
                return _AdminDoor(self._apiResource, gate)
            return self._apiResource()
        if gate is not None and path == b"sessions":
            return _AdminDoor(self._managementApp, gate)
        if gate is not None and request.postpath == [b"metrics"]:
            return self._metrics
        return self._managementApp()

    def _apiResource(self) -> IResource:
        if self._api is None:
            assert self._apiFactory is not None
            self._api = self._apiFactory()
        return self._api

    def _apiTokenMatches(self, request: IRequest) -> bool:
        """Whether C{request} carries the management API's C{--api-token}."""
        if self._apiFactory is None:
            return False
        tokenMatches = getattr(self._apiResource(), "tokenMatches", None)
        return callable(tokenMatches) and bool(tokenMatches(request))

    def _statusPage(self) -> StatusPage:
        if self._status is None:
            from mcpgateway.web.statuspage import StatusPage

            self._status = StatusPage(
                self._gateway,
                self._clock,
                controls=self._apiFactory is not None,
                stderrShown=self._stderrShown,
            )
        return self._status

    def _stderrShown(self) -> bool:
        """Whether the status page may show stderr lines: the management
        API (which serves them) has no token, or a team gateway's door let
        only admins in."""
        if self.team.gate is not None or self._apiFactory is None:
            return True
        return not getattr(self._apiResource(), "hasToken", False)

    def _managementApp(self) -> IResource:
        if self._management is None:
            self._management = _managementResource(self._gateway, self.team)
        return self._management


class GatewayChannel(http.HTTPChannel):
    """An HTTP/1.1 connection held to the site's L{Limits}: a request's
    headers must be complete within C{headerTimeout} seconds of its first
    byte, and its body must keep coming (L{bodyLate}: no pause of
    L{BODY_STALL_TIMEOUT} seconds, L{BODY_MIN_RATE} bytes a second after
    L{BODY_GRACE}), else 408 and the connection closes; a peer address may
    hold at most C{maxConnectionsPerPeer} connections (more are answered 503
    and closed). None of this touches a response in progress: once a
    request is read, an SSE stream may stay open as long as it likes.

    The deadlines cost no timer per request: the first byte notes the time
    (or the end of the response a pipelined head waited behind), the end of
    the headers clears it (C{_open}) and, if a body is still to come, notes
    when its wait began (cleared when it is in), and the site's
    L{ConnectionGuard} looks at every connection once a second. No deadline
    runs while a response is in progress. So does the idle timeout
    (C{idleTimeout} seconds without a byte and without a request in
    progress, L{IDLE_CONNECTION_TIMEOUT}; the site's own C{timeOut} is
    C{None}), which Twisted would otherwise reset on every line of every
    request and re-arm with a new C{DelayedCall} after every response.

    Request heads and bodies are read by a L{RequestReader} (httptools)
    instead of Twisted's line parser: the channel builds Twisted's request
    objects from its L{Message}s, one at a time, as Twisted's own parser
    would: what comes during a response waits unread, and past 16 KiB the
    connection is not read until the response is done."""

    __slots__ = (
        "_adopted",
        "_advancing",
        "_answering",
        "_guard",
        "_host",
        "_opened",
        "_peer",
        "_peerAddress",
        "_reader",
        "_refused",
        "_serving",
        "_unread",
        "bodyReceived",
        "bodySince",
        "busy",
        "headersSince",
        "idleTimeout",
        "lastActive",
    )
    headersSince: float | None
    """When the first byte of the request whose headers are incomplete came."""
    bodySince: float | None
    """When the head of the request whose body is incomplete was read."""
    bodyReceived: int
    """Bytes received since then, and in the read that brought the head."""
    idleTimeout: float | None
    """Seconds a connection may stay silent between requests (from the site)."""
    lastActive: float
    """When a byte last came, or a response last ended."""
    busy: bool
    """A request's body is in and its response is not finished yet."""
    site: Any = None
    leanWrites = True
    """A L{GatewayRequest} may write its response's head and first piece
    of body in one piece here (see L{mcpgateway.web.request})."""
    _guard: ConnectionGuard | None
    _peer: str | None
    _refused: bool
    _host: IAddress | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._host = None
        self._peerAddress: IAddress | None = None
        self._adopted: FileDescriptor | None = None
        """The connection's descriptor, when the site's flusher adopted it."""
        self._answering = False
        """Its request in progress is counted in the site's C{answering}."""
        self._serving = False
        """Its request in progress is counted in the site's C{serving}."""
        self.headersSince = None
        self.bodySince = None
        self.bodyReceived = 0
        self.idleTimeout = None
        self.lastActive = 0.0
        self.busy = False
        self._guard = None
        self._peer = None
        self._refused = False
        self._advancing = False
        self._opened: http.Request | None = None
        self._unread = b""
        """Bytes received and not yet read: those behind a response in
        progress (Twisted's buffer), and the rest of a read past a slice."""
        super().__init__(*args, **kwargs)
        self._reader: RequestReader | None = None

    def connectionMade(self) -> None:
        guard: ConnectionGuard | None = getattr(self.site, "guard", None)
        self._guard = guard
        peer = self.transport.getPeer() if self.transport is not None else None
        self._peerAddress = peer
        host = peer.host if isinstance(peer, (IPv4Address, IPv6Address)) else None
        if guard is not None and not guard.opened(self, host):
            self._refused = True
            assert self.transport is not None
            body = jsonrpc.dumps(
                jsonrpc.errorResponse(
                    None,
                    jsonrpc.INVALID_REQUEST,
                    f"too many connections from {host}: {guard.maxPerPeer} are open, the most"
                    " one address may hold",
                )
            )
            self.transport.write(
                b"HTTP/1.1 503 Service Unavailable\r\n"
                b"content-type: application/json\r\nretry-after: 1\r\n"
                b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
            )
            self.transport.loseConnection()
            return
        self._peer = host
        flusher: TurnFlusher | None = getattr(self.site, "flusher", None)
        if flusher is not None:
            writer = writerOf(self.transport)
            if writer is not None:
                flusher.adopt(writer)  # what a turn writes leaves at its end
                self._adopted = writer
        self.idleTimeout = getattr(self.site, "idleTimeout", None)
        if guard is not None:
            self.lastActive = guard.clock.seconds()
        super().connectionMade()

    def dataReceived(self, data: bytes) -> None:
        if self._refused or getattr(self.transport, "disconnecting", False):
            return  # closing: nothing more is read (TLS may still pass data up)
        self.resetTimeout()
        guard = self._guard
        if guard is not None:
            self.lastActive = now = guard.clock.seconds()
            if self._opened is not None:
                self.bodyReceived += len(data)  # a body's bytes: held to BODY_MIN_RATE
            elif self.headersSince is None and not self._handlingRequest:
                self.headersSince = now  # the first byte of a request (not of a body)
        unread = self._unread
        self._unread = unread + data if unread else data
        self._advance(len(data))

    def _advance(self, received: int = 0) -> None:
        """Read and serve requests, one at a time, while no response is in
        progress; bytes that come during a response wait unread (as Twisted
        keeps them), and past 16 KiB the connection is not read until the
        response is done. C{received}: the bytes just received, counted for
        a body that is now awaited (L{bodyReceived})."""
        if self._advancing:
            return  # a response finished inside _advance: its loop goes on
        self._advancing = True
        try:
            self._serve()
        finally:
            self._advancing = False
        if self._handlingRequest or self._opened is not None:
            self.headersSince = None  # no header deadline during a response, or a body
            if self._opened is not None and self.bodySince is None:
                guard = self._guard
                if guard is not None:  # a body is awaited: the guard holds it to time
                    self.bodySince = guard.clock.seconds()
                    self.bodyReceived = received
            if len(self._unread) > self._optimisticEagerReadSize:
                self._networkProducer.pauseProducing()
        elif self.headersSince is None and self._reader is not None and self._reader.inHead:
            guard = self._guard
            if guard is not None:  # a head read ahead of a response now done
                self.headersSince = guard.clock.seconds()

    def _serve(self) -> None:
        transport = self.transport
        while not self._handlingRequest and not getattr(transport, "disconnecting", False):
            reader = self._reader
            if reader is None:
                if not self._unread:
                    return  # dropped by streaming(): made again when there is something to read
                reader = self._reader = RequestReader(self.totalHeadersSize, self.maxHeaders)
            messages = reader.messages
            if messages:
                message = messages[0]
                if message.bad is not None:
                    messages.clear()
                    self._unread = b""
                    self._unreadable(message.bad)
                    return
                request = self._opened
                if request is None:
                    request = self._opened = self._open(message)
                    if request is None:
                        return  # refused from its head: the connection closes
                if getattr(request, "bodyTooLarge", False):
                    self._refuseBody(request)
                    return
                if message.complete:
                    del messages[0]
                    self._opened = None
                    self.bodySince = None
                    if self.timeOut:
                        self._savedTimeOut = self.setTimeout(None)
                    self._handlingRequest = True
                    self.busy = True
                    self._serving = True
                    self.site.serving += 1
                    if self._adopted is not None:
                        self._answering = True
                        self.site.answering += 1
                    request.requestReceived(message.method, message.uri, message.version)
                    continue
            unread = self._unread
            if not unread:
                return
            # A slice at a time: what one read brings is not all parsed
            # ahead of the response it may wait behind.
            if len(unread) > _READ_SLICE:
                self._unread = unread[_READ_SLICE:]
                unread = unread[:_READ_SLICE]
            else:
                self._unread = b""
            reader.feed(unread)

    def _open(self, message: Message) -> http.Request | None:
        """The request object for C{message}, whose head is in, made as
        Twisted's parser makes it; its body goes there as it comes.

        C{None} when the head alone is refused, and the connection closes:
        an HTTP/1.1 request without one C{Host} header (RFC 9112 §3.2; an
        HTTP/1.0 one may have none), or with more than one, is 400; a
        C{Content-Length} over the body limit is 413 at once, before
        C{100 Continue} and without waiting for a body that may never come
        (a chunked body is refused as soon as it passes the limit:
        L{_refuseBody}). So is a C{Host}
        that is not C{host[:port]} (RFC 9112 §3.2), and two different values
        of one of L{mcpgateway.web.httpreader.SINGLE_HEADERS} (C{Origin}, C{Mcp-Session-Id},
        C{MCP-Protocol-Version}: which one would count is ambiguous)."""
        self.headersSince = None  # its head is complete: the deadline is met
        hosts = message.hosts
        if hosts != 1 and (hosts or message.version == b"HTTP/1.1"):
            self._refuseHead(
                b"400 Bad Request",
                "an HTTP/1.1 request needs one Host header (RFC 9112, section 3.2)"
                if not hosts
                else "a request may carry one Host header only (RFC 9112, section 3.2)",
            )
            return None
        if hosts and not isHost(message.host):
            self._refuseHead(
                b"400 Bad Request",
                f"the Host header {message.host[:100].decode('latin-1')!r} is not host[:port]"
                " (RFC 9112, section 3.2)",
            )
            return None
        if message.repeated:
            conflict = message.conflicting()
            if conflict is not None:
                self._refuseHead(
                    b"400 Bad Request",
                    f"a request may carry one value of {conflict} only: it has two different ones",
                )
                return None
        length = message.length
        if length:
            limit = getattr(self.requestFactory, "bodyLimit", None)
            if limit is not None and length > limit:
                self._refuseHead(
                    b"413 Request Entity Too Large",
                    f"request body is over the {limit}-byte limit (its Content-Length is {length})",
                )
                return None
        factory = self.requestFactory
        request: http.Request = (
            factory(self) if _nonQueued(factory) else factory(self, len(self.requests))
        )
        self.requests.append(request)
        headers = request.requestHeaders
        if type(headers) is GatewayHeaders:
            headers.addLines(message.headers)
        else:
            for name, value in message.headers:
                headers.addRawHeader(name, value)
        if message.cookies:
            request.parseCookies()
        persistent = self.checkPersistence(request, message.version)
        if persistent and not message.keepAlive:
            # llhttp reads every form of "close" (a list, a second header);
            # Twisted's check looks at the first word of the first one.
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            persistent = False
        self.persistent = persistent
        request.gotLength(message.length)
        if message.expectContinue and message.version == b"HTTP/1.1" and not message.complete:
            self._send100Continue()
        message.take(request.handleContentChunk)
        return request

    def _unreadable(self, reason: str) -> None:
        """A request that cannot be read: 400 with a JSON-RPC error saying
        why (as the gateway's other 400s), and close."""
        if self._guard is not None:
            self._guard.clientErrors.noteConnection(
                self._peer, 400, f"a request that cannot be read ({reason[:80]})"
            )
        self._closeWith(b"400 Bad Request", f"the request cannot be read: {reason[:200]}")

    def _refuseHead(self, status: bytes, text: str) -> None:
        """A request refused from its head alone: C{status} with a JSON-RPC
        error saying why, and close (what follows the head is not read)."""
        reader = self._reader
        if reader is not None:
            reader.messages.clear()
            reader.closed = True
        self._unread = b""
        if self._guard is not None:
            self._guard.clientErrors.noteConnection(self._peer, int(status[:3]), text)
        self._closeWith(status, text)

    def _refuseBody(self, request: http.Request) -> None:
        """A chunked body that went past the body limit: 413 as soon as it
        does, as for a C{Content-Length} over it, and close; the rest of the
        body is not read (an endless one would keep the reactor reading).
        The request is never served: the connection's end tells it so."""
        limit = getattr(request, "bodyLimit", None)
        self._refuseHead(
            b"413 Request Entity Too Large",
            f"request body is over the {limit}-byte limit (a chunked body, refused once"
            " it passed the limit)",
        )

    def _closeWith(self, status: bytes, text: str) -> None:
        """Answer C{status} (code and phrase) with a JSON-RPC error body
        (C{id} null, C{-32600}), and close. No deadline runs after it: the
        request it answers is no longer read (nor its body awaited), so the
        guard never writes a 408 behind this answer."""
        self.headersSince = self.bodySince = None
        self._opened = None
        body = jsonrpc.dumps(jsonrpc.errorResponse(None, jsonrpc.INVALID_REQUEST, text))
        self.write(
            b"HTTP/1.1 %s\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (status, len(body), body)
        )
        self.loseConnection()

    def streaming(self) -> None:
        """The response in progress stays open (a GET stream, for as long as
        its session): its L{RequestReader} goes until the client sends more,
        unless it holds something read ahead (issue 19: about 1 KiB per idle
        session)."""
        reader = self._reader
        if reader is not None and reader.idle:
            self._reader = None

    def requestDone(self, request: Any) -> None:
        """As Twisted's, reading on from the L{RequestReader}. When no other
        request waits for its answer, a finished response is sent at once:
        its client need not wait for the rest of the turn. Under load,
        answers go at the end of the turn, together, as the clients' next
        requests then come together (sending each at once measured 10 µs
        more CPU per call at C=16, and 18 µs less latency at C=1)."""
        self.headOut()
        adopted = self._adopted
        if adopted is not None and self.site.answering == 0:
            self.site.flusher.sendNow(adopted)
        self._served()
        self.busy = False
        guard = self._guard
        if guard is not None:
            self.lastActive = guard.clock.seconds()
        if request is not self.requests[0]:
            raise TypeError(request)
        del self.requests[0]
        if not self._waitingForTransport and not getattr(self.transport, "disconnecting", False):
            self._networkProducer.resumeProducing()  # _advance pauses again if much waits
        if not self.persistent:
            self.loseConnection()
            return
        self._handlingRequest = False
        if self._savedTimeOut:
            self.setTimeout(self._savedTimeOut)
        self._advance()  # what was read, or held unread, behind it

    def timeoutConnection(self) -> None:
        """Twisted's, once: the guard looks again every second while a
        peer that does not read keeps the connection from closing."""
        self.idleTimeout = None
        if getattr(self.transport, "disconnecting", False):
            # Closing already (a response that closes, a 408), and the peer
            # does not read what is left: abort it, as Twisted would.
            if self.abortTimeout is not None and self._abortingCall is None:
                self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)
            return
        super().timeoutConnection()

    def idle(self, now: float) -> bool:
        """Whether the connection has been silent, between requests, for
        its C{idleTimeout}."""
        limit = self.idleTimeout
        return limit is not None and not self.busy and now - self.lastActive >= limit

    def bodyLate(self, now: float) -> str | None:
        """Why the body of the request being read is late at C{now}: no byte
        for L{BODY_STALL_TIMEOUT} seconds, or slower than L{BODY_MIN_RATE}
        after L{BODY_GRACE}; C{None} when it is not (or no body is awaited)."""
        since = self.bodySince
        if since is None:
            return None
        if now - self.lastActive >= BODY_STALL_TIMEOUT:
            return f"request body stalled: no byte for {BODY_STALL_TIMEOUT:g} s"
        allowed = BODY_GRACE + self.bodyReceived / BODY_MIN_RATE
        if now - since >= allowed:
            return (
                f"request body not complete within {allowed:.0f} s of its headers"
                f" ({self.bodyReceived} bytes came; at least {BODY_MIN_RATE:g} a second"
                f" are needed after the first {BODY_GRACE:g} s)"
            )
        return None

    def headersTooSlow(self) -> None:
        """The request's headers missed their deadline: 408, and close."""
        self.tooSlow("request headers not complete in time")

    def tooSlow(self, text: str) -> None:
        """A request's headers or body missed their deadline: 408 with a
        JSON-RPC error saying which, and close; the connection is aborted
        if the peer does not read it (as Twisted's own idle timeout)."""
        self.headersSince = self.bodySince = self.idleTimeout = None
        self.setTimeout(None)
        body = jsonrpc.dumps(jsonrpc.errorResponse(None, jsonrpc.INVALID_REQUEST, text))
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        )
        if self.abortTimeout is not None:  # as Twisted's own idle timeout does
            self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)
        self.loseConnection()

    def writeHeaders(self, version: bytes, code: bytes, reason: bytes, headers: Any) -> None:
        """As Twisted writes them, in one piece: its C{writeSequence} of
        four pieces per header costs a type check and a list append each,
        on every response (issue 19's profile). A L{GatewayRequest} usually
        sends its head with its first piece of body instead
        (C{leanWrites})."""
        if not isinstance(headers, Headers):
            super().writeHeaders(version, code, reason, headers)
            return
        assert self.transport is not None
        self.transport.write(responseHead(version, code, reason, headers))

    def getHost(self) -> IAddress:
        """The local address, asked of the socket once per connection
        (Twisted asks for every request: a C{getsockname} system call)."""
        host = self._host
        if host is None:
            assert self.transport is not None
            host = self._host = self.transport.getHost()
        return host

    def getPeer(self) -> IAddress:
        """The client's address, made once per connection (Twisted makes an
        address object for every request)."""
        peer = self._peerAddress
        if peer is None:
            assert self.transport is not None
            peer = self._peerAddress = self.transport.getPeer()
        return peer

    def checkPersistence(self, request: Any, version: bytes) -> bool:
        """As Twisted decides, except while the site hands over to a
        restart's successor: then every response closes its connection (the
        client's next request opens one to the successor)."""
        if getattr(self.site, "handingOver", False):
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            return False
        return bool(super().checkPersistence(request, version))

    def answerWritten(self) -> None:
        """The whole answer to the request in progress was written: when no
        other request waits for its answer, it is sent at once, before the
        request is finished (its client need not wait for the gateway's
        bookkeeping)."""
        adopted = self._adopted
        if adopted is not None and self.site.answering == 0:
            self.site.flusher.sendNow(adopted)

    def headOut(self) -> None:
        """The head of the response in progress went out (or the connection
        is gone): no longer counted in the site's L{GatewaySite.answering}."""
        if self._answering:
            self._answering = False
            self.site.answering -= 1

    def _served(self) -> None:
        """The request in progress is finished (or the connection is gone):
        no longer counted in the site's L{GatewaySite.serving}."""
        if self._serving:
            self._serving = False
            self.site.serving -= 1

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.headOut()
        self._served()
        if self._guard is not None and not self._refused:
            self._guard.closed(self, self._peer)
        super().connectionLost(reason)


class ConnectionGuard:
    """A site's open connections: how many each peer address holds, and
    which are late: a request's headers (C{Limits.headerTimeout}), its body
    (L{GatewayChannel.bodyLate}), or silent between requests
    (L{GatewayChannel.idle}). A connection whose response is in progress
    (an SSE stream, a long call) is none of these."""

    log = Logger(observer=logs.observer)

    def __init__(self, clock: IReactorTime, limits: Limits, clientErrors: ClientErrors) -> None:
        self.clock = clock
        self.maxPerPeer = limits.maxConnectionsPerPeer
        self._headerTimeout = limits.headerTimeout
        self.clientErrors = clientErrors
        self.perPeer: dict[str, int] = {}
        self.channels: set[GatewayChannel] = set()
        self._sweep: IDelayedCall | None = None

    def opened(self, channel: GatewayChannel, host: str | None) -> bool:
        """Admit a new connection from C{host} (C{None}: not an IP peer)."""
        if host is not None:
            count = self.perPeer.get(host, 0)
            if count >= self.maxPerPeer:
                self.clientErrors.noteConnection(
                    host, 503, f"over {self.maxPerPeer} connections from one address"
                )
                return False
            self.perPeer[host] = count + 1
        self.channels.add(channel)
        if self._sweep is None:
            self._sweep = self.clock.callLater(1.0, self._check)
        return True

    def closed(self, channel: GatewayChannel, host: str | None) -> None:
        self.channels.discard(channel)
        if host is not None:
            count = self.perPeer.get(host, 0) - 1
            if count > 0:
                self.perPeer[host] = count
            else:
                self.perPeer.pop(host, None)

    def _check(self) -> None:
        self._sweep = None
        now = self.clock.seconds()
        deadline = self._headerTimeout
        for channel in list(self.channels):
            since = channel.headersSince
            if getattr(channel.transport, "disconnecting", False):
                # Closing already (a 400, a response that closes): it has
                # its answer, and a 408 after it would be a second one. Only
                # the idle path (an abort if the peer does not read) is left.
                late = None
            elif since is not None and now - since >= deadline:
                late = f"request headers not complete within {deadline:g} s"
            else:
                late = channel.bodyLate(now)
            if late is not None:
                self.clientErrors.noteConnection(channel._peer, 408, late)
                try:
                    channel.tooSlow(late)
                except Exception:
                    self.log.failure("closing a slow connection failed")
            elif channel.idle(now):
                try:
                    channel.timeoutConnection()  # Twisted's own: logs, closes, aborts later
                except Exception:
                    self.log.failure("closing an idle connection failed")
        if self.channels:
            self._sweep = self.clock.callLater(1.0, self._check)


@lru_cache(maxsize=64)
def _nonQueued(factory: object) -> bool:
    """Whether a site's request factory is called without the queue
    position (Twisted's rule), asked once per factory, not per request."""
    return bool(INonQueuedRequestFactory.providedBy(factory))


def _channelFactory(site: HTTPFactory) -> GatewayChannel | _GenericHTTPChannelProtocol:
    """A connection's protocol: its L{GatewayChannel} itself, or, where
    Twisted's HTTP/2 support is installed (h2), Twisted's wrapper around it,
    which hands the connection to HTTP/2 when TLS negotiates it (ALPN).
    Without h2 the wrapper would only pass every call on: a few hundred
    bytes per connection, held by every idle session's GET stream, and a
    call more per read (issue 19)."""
    channel = GatewayChannel()
    return _GenericHTTPChannelProtocol(channel) if http.H2_ENABLED else channel


class GatewaySite(Site):
    """A C{Site} without the per-request access log (hot path; see /health),
    whose connections are L{GatewayChannel}s."""

    _log = Logger(observer=logs.observer)

    protocol = _channelFactory  # type: ignore[assignment]  # Twisted types it as the h2 wrapper only

    idleTimeout: float | None = IDLE_CONNECTION_TIMEOUT
    """Seconds a connection may stay silent between requests (no byte of a
    new request, no response in progress); enforced by the site's
    L{ConnectionGuard}, not by a timer per connection."""

    def __init__(
        self,
        resource: IResource,
        clock: IReactorTime,
        limits: Limits,
        clientErrors: ClientErrors,
        flusher: TurnFlusher | None = None,
    ) -> None:
        super().__init__(resource, reactor=clock, timeout=None)
        self.flusher = flusher if flusher is not None else TurnFlusher(clock)
        """Sends what a reactor turn wrote to a connection at the end of
        that turn (L{mcpgateway.runtime.turnflush})."""
        self.answering = 0
        """Requests read whose response's head has not gone out yet (streams
        that stay open are not counted once their head is out): at 0, a
        finished response is sent at once, not at the end of the turn
        (L{GatewayChannel.requestDone})."""
        self.serving = 0
        """Requests read and not finished yet, on every connection (a
        response streamed for long counts until it ends)."""
        self.limits = limits
        self.guard = ConnectionGuard(clock, limits, clientErrors)

    handingOver = False
    """Set by L{handOver}: a restart's successor accepts the connections now."""
    gateway: Gateway | None = None

    def servesAtMostOne(self) -> bool:
        """Whether at most one request is being served (read and not
        finished): the reactor polls a little before it sleeps only then
        (L{mcpgateway.runtime.reactor.GatewayReactor.spinBeforeWaiting})."""
        return self.serving <= 1

    def log(self, request: http.Request) -> None:
        pass

    def getContentFile(self, length: int | None) -> IO[bytes]:
        """Where a request's body goes, as Twisted decides (memory under
        100,000 bytes of announced length, else a temporary file); defined
        here, Twisted's request finds it without raising and catching an
        C{AttributeError} on every request."""
        if length is not None and length < 100_000:
            return BytesIO()
        return tempfile.TemporaryFile()

    def handOver(self, deadline: float) -> Deferred[None]:
        """A restart's successor accepts the new connections (see
        L{mcpgateway.ops.handover}): answer what still comes on the open ones
        with C{Connection: close}, end the GET streams (their clients open
        them again, at the successor) and the 2026-07-28 listen streams
        (with their graceful result: their clients listen again, at the
        successor), and fire once every connection is
        closed, or after C{deadline} seconds (the rest are closed then)."""
        # A response in progress keeps the persistence it was given: closing
        # after it without having said so would make the client's next request
        # on the connection fail. That next request is answered with
        # Connection: close instead (GatewayChannel.checkPersistence).
        self.handingOver = True
        channels = self.guard.channels
        endModernStreams(self, "the gateway is restarting")
        if self.gateway is not None:
            for session in list(self.gateway.sessions):
                stream = session.getStream
                if stream is not None:
                    stream.close()
        done: Deferred[None] = Deferred()
        clock = self.guard.clock
        started = clock.seconds()

        def check() -> None:
            if not channels:
                done.callback(None)
                return
            if clock.seconds() - started >= deadline:
                self._log.info(
                    "closing {count} connection(s) still open {deadline:g} s after the hand-over",
                    count=len(channels),
                    deadline=deadline,
                )
                for channel in list(channels):
                    if channel.transport is not None:
                        channel.transport.loseConnection()
                done.callback(None)
                return
            clock.callLater(0.05, check)

        check()
        return done


def makeSite(
    gateway: Gateway,
    clock: IReactorTime,
    loopbackOnly: bool = True,
    maxBody: int | None = None,
    api: ResourceFactory | None = None,
    limits: Limits | None = None,
    keys: WorkspaceKeys | None = None,
    modern: ModernService | None = None,
    team: TeamSurface | None = None,
    flusher: TurnFlusher | None = None,
) -> GatewaySite:
    """The C{Site} serving the gateway, within C{limits}; C{maxBody}, when
    given, overrides C{limits.maxBody}; C{keys}, C{modern}, C{team}: see
    L{GatewayRoot}; C{flusher}: the one the children's stdin is sent with
    too (one end-of-turn timer for both; C{None}: the site's own)."""
    checkInstalled()
    if limits is None:
        limits = Limits()
    if maxBody is not None and maxBody != limits.maxBody:
        limits = replace(limits, maxBody=maxBody)
    bodyBytes = limits.maxBody

    class LimitedRequest(GatewayRequest):
        bodyLimit = bodyBytes

    clientErrors = ClientErrors(clock)
    root = GatewayRoot(gateway, clock, loopbackOnly, api, limits, clientErrors, keys, modern, team)
    site = GatewaySite(root, clock, limits, clientErrors, flusher)
    site.gateway = gateway
    site.requestFactory = LimitedRequest
    site.displayTracebacks = False
    return site


def endModernStreams(site: Any, reason: str) -> int:
    """End the 2026-07-28 listen streams of C{site} (a L{makeSite} site)
    with their graceful result; how many ended (0 for any other factory)."""
    root = getattr(site, "resource", None)
    if isinstance(root, GatewayRoot):
        return root.endModernStreams(reason)
    return 0


def _isUtf8(segment: bytes, rest: list[bytes]) -> bool:
    """Whether every (percent-decoded) segment of a path is UTF-8."""
    try:
        segment.decode("utf-8")
        for other in rest:
            other.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
