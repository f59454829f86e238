# -*- test-case-name: tests.web.endpoints.test_mcp,tests.web.test_team_web -*-
"""The root of the gateway's resource tree: which door a request goes
through. L{GatewayRoot} checks C{Origin} and C{Host} and maps
C{/<server>/mcp}, C{/<server>~<key>/mcp} and C{/mcp...} to their endpoints,
C{/health} and C{/metrics} to their liveness-aware resources,
C{/.well-known/mcp/server-card} to the server cards, C{/sessions}
and C{/api/v1} to the management apps; on a gateway that authenticates, a
request without a valid token is refused before any route is looked up, so
server names and route keys cannot be probed. On a gateway with a front
door (L{mcpgateway.httpbase.door}), a request of a connection whose
account the kernel could not name must carry the owner token, or it is
refused, before anything else, on every path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.decision import Decision
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.httpbase.clienterrors import ClientErrors
from mcpgateway.httpbase.principal import Principal, Refusal, Verdict
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.runtime import logs
from mcpgateway.web.awaitedroute import AwaitedRoute
from mcpgateway.web.endpoints.aggregate import (
    AggregateBackend,
    AggregateEndpoint,
    AggregatePath,
    aggregatePath,
    serverName,
)
from mcpgateway.web.endpoints.auditnote import AuditNote
from mcpgateway.web.endpoints.guard import checkOrigin
from mcpgateway.web.endpoints.mcp import McpEndpoint
from mcpgateway.web.pages import favicon
from mcpgateway.web.pages.liveness import Health, MetricsDoor
from mcpgateway.web.pages.servercard import ServerCards, isCardPath
from mcpgateway.web.plumbing.replies import errorReply, jsonReply
from mcpgateway.web.plumbing.requestcontext import contextOf

if TYPE_CHECKING:
    from mcpgateway.config.problems import ConfigProblems
    from mcpgateway.core.era2026.types import Era2026Gateway
    from mcpgateway.core.sessions import Session
    from mcpgateway.httpbase.door import Door
    from mcpgateway.ops.audit import AuditSink  # loaded with a team's audit log
    from mcpgateway.web.endpoints.backends import Backend
    from mcpgateway.web.pages.approvalspage import HeldCallsIfAny
    from mcpgateway.web.pages.statuspage import StatusPage  # loaded at the page's first request
from mcpgateway.web.teamcluster import PEER_HEADER, ClusterServices, Gate, TeamServices

ResourceFactory = Callable[[], IResource]


class _RefusedResource(Resource):
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

    def __init__(self, refused: _RefusedResource, gate: Gate) -> None:
        super().__init__()
        self._refused = refused
        self._gate = gate

    def render(self, request: Request) -> bytes | int:
        verdict = self._gate.check(request, None)
        if isinstance(verdict, Deferred):
            return later(request, verdict, lambda v: self._decided(request, v))
        return self._decided(request, verdict)

    def _decided(self, request: Request, verdict: Verdict) -> bytes | int:
        if isinstance(verdict, Refusal):
            return self._gate.refuse(request, verdict)
        return self._refused.render(request)


def managementResource(
    gateway: Gateway, team: TeamServices | None = None, door: Door | None = None
) -> IResource:
    """C{/sessions} and C{/metrics} (L{mcpgateway.web.pages.reports}), made on the
    first request for them; the session DELETEs' Klein routes
    (L{mcpgateway.web.admin.sessionends}) on the first DELETE. C{door}: the
    front door whose refusals C{/metrics} counts."""
    from mcpgateway.web.pages.reports import ReportsResource

    made: IResource | None = None

    def sessionEnds() -> IResource:
        nonlocal made
        if made is None:
            from mcpgateway.web.admin.changerecords import ChangeRecords
            from mcpgateway.web.admin.sessionends import SessionEnds

            audit = None if team is None else team.audit
            made = SessionEnds(gateway, ChangeRecords(audit, gateway.clock, False)).resource()
        return made

    return ReportsResource(gateway, sessionEnds, team, door)


def later(
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
    the endpoint with the principal on the request's context; one audit record when the
    request ends. A request still open once rendered (a stream, an answer
    that comes later) lives no longer than its credential
    (L{mcpgateway.web.plumbing.holds})."""

    isLeaf = True

    def __init__(
        self,
        endpoint: McpEndpoint,
        server: str,
        scope: str,
        team: TeamServices,
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
            contextOf(request).auditNote = note
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
            return later(request, verdict, lambda v: self._decided(request, v))
        return self._decided(request, verdict)

    def _fromPeer(self, request: Request, cluster: ClusterServices, value: bytes) -> bytes | int:
        """A request another replica forwarded: its C{Mcp-Gateway-Peer}
        header is the principal (the token gate and the limits were the
        forwarding replica's), or 401."""
        principal = cluster.peer(request, value)
        gate = self._team.gate
        if principal is not None and gate is not None:  # the admin-only servers, as its door
            principal = gate.withholding(principal)
        context = contextOf(request)
        if principal is None or not (self._aggregate or principal.mayUse(self._server)):
            note = context.auditNote
            if note is not None:
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
        context.principal = principal
        context.fromPeer = True
        return self._endpoint.render(request)

    def _decided(self, request: Request, verdict: Verdict) -> bytes | int:
        gate = self._team.gate
        assert gate is not None
        context = contextOf(request)
        if (
            isinstance(verdict, Principal)
            and not self._aggregate
            and not verdict.mayUse(self._server)
        ):
            context.principal = verdict
            verdict = Refusal(
                403,
                "insufficient_scope",
                f"this principal may not use server {self._server[:64]!r}",
                scope=f"mcp:{self._server}",
            )
        if isinstance(verdict, Refusal):
            note = context.auditNote
            if note is not None:
                note.settle("refused")
                if verdict.status == 429:  # the gate's own limits: recorded as what they are
                    note.decision = Decision(
                        "limited", ("auth",), verdict.description, verdict.retryAfter
                    )
            return gate.refuse(request, verdict)
        context.principal = verdict
        body = self._endpoint.render(request)
        if body is NOT_DONE_YET:
            gate.hold(request, verdict)  # a stream, an answer later: no longer than its token
        return body

    def _audited(self, result: object, request: Request, note: AuditNote, audit: AuditSink) -> None:
        from mcpgateway.ops.audit import AuditRecord

        context = contextOf(request)
        if context.forwardedTo is not None:
            return  # the owner it was forwarded to writes its record
        principal = context.principal
        status = int(request.code or 200)
        outcome = note.outcome
        if outcome is None:
            if isinstance(result, Failure):
                outcome = "disconnected"
            else:
                outcome = "ok" if status < 400 else "invalid"
        peer = request.getClientAddress()
        decision = note.decision
        if decision is None and status == 429:  # refused for a limit no gate named
            decision = Decision("limited", reason="too many requests")
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
                    decision=decision,
                    arguments=note.arguments,
                    member=note.member,
                )
            )
        except Exception:
            _log.failure("writing an audit record failed")


class _AdminDoor(Resource):
    """In front of the management surface (C{/sessions*}, C{/api/v1}, the
    status page) of a team gateway: an admin principal only (or the C{--api-token}, for the
    API); C{/health} and C{/metrics} stay open (L{mcpgateway.web.pages.liveness}).
    A log stream lives no longer than the admin's credential, as on the MCP door."""

    isLeaf = True

    def __init__(self, inner: Callable[[], IResource], gate: Gate) -> None:
        super().__init__()
        self._inner = inner
        self._gate = gate

    def render(self, request: Request) -> bytes | int:
        inner = self._inner()
        matches = getattr(inner, "doorMatches", None)
        if callable(matches) and matches(request):
            return inner.render(request)  # type: ignore[no-any-return]
        verdict = self._gate.check(request, None)
        if isinstance(verdict, Deferred):
            return later(request, verdict, lambda v: self._decided(request, inner, v))
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
        context = contextOf(request)
        context.principal = verdict
        context.adminPrincipal = True
        body: bytes | int = inner.render(request)
        if body is NOT_DONE_YET:
            self._gate.hold(request, verdict)  # a log stream: no longer than its token
        return body


class GatewayRoot(Resource):
    """Dispatches C{/<server>/mcp} and C{/<server>~<key>/mcp} to MCP
    endpoints, the rest to Klein."""

    def __init__(
        self,
        gateway: Gateway,
        clock: IReactorTime,
        loopbackOnly: bool,
        api: ResourceFactory | None = None,
        limits: MessageBounds | None = None,
        clientErrors: ClientErrors | None = None,
        keys: WorkspaceKeys | None = None,
        era2026: Era2026Gateway | None = None,
        team: TeamServices | None = None,
        door: Door | None = None,
        config: Callable[[], ConfigProblems] | None = None,
        apiHasToken: bool | None = None,
        approvals: HeldCallsIfAny | None = None,
        settling: Callable[[], Deferred[None] | None] | None = None,
    ) -> None:
        """
        @param settling: while a reload of the config is under way, a
            Deferred that fires once it is served (L{AwaitedRoute}: a
            request for a route not served yet waits for it); C{None}.
        @param apiHasToken: whether C{api} needs its bearer token
            (C{--api-token}), which decides whether the status page shows
            stderr lines without making the API (Klein); C{None}: the API
            is made and asked.
        @param keys: what credential sets (C{X-Mcp-Env-*} headers) are keyed
            with: the state directory's (L{WorkspaceKeys.forStateDir}, read
            once at start); C{None}: a secret of this process only.
        @param era2026: what serves 2026-07-28 requests (C{None}: the gateway).
        @param team: the gate, limits and audit log of a team gateway
            (C{None}: none, as on loopback).
        @param door: the front door of a gateway that authenticates no one,
            which asks the owner token of each request whose connection's
            account it could not name (C{None}: no door).
        @param config: what the config holds that the gateway cannot use
            (C{/health} shows it; C{None}: nothing).
        @param approvals: the gateway's held calls, which the console's held
            calls' page shows and C{/health} counts (C{None}: none are held).
        """
        super().__init__()
        self.team = team if team is not None else TeamServices()
        self._door = door
        self._era2026 = era2026
        self._limits = limits if limits is not None else MessageBounds()
        self._keys = keys if keys is not None else WorkspaceKeys(os.urandom(32))
        self.clientErrors = clientErrors if clientErrors is not None else ClientErrors(clock)
        self._apiFactory = api
        self._api: IResource | None = None
        self._apiHasToken = apiHasToken
        self._loopbackOnly = loopbackOnly
        self._gateway = gateway
        self._clock = clock
        self._endpoints: dict[str, McpEndpoint] = {}
        self._routes: dict[tuple[str, str], McpEndpoint] = {}
        """The endpoints of workspace routes, by (server, key)."""
        self._aggregates: dict[tuple[str, str], McpEndpoint] = {}
        """The aggregate endpoints, by (endpoint name, workspace key)."""
        self._config = config
        self._approvals = approvals
        self._settling = settling
        self._health = Health(
            gateway, self.team, loopbackOnly, self._apiTokenMatches, door, config, approvals
        )
        self._metrics = MetricsDoor(self._managementApp, self._health.access)
        self._management: IResource | None = None
        self._status: StatusPage | None = None
        self._signInPage: IResource | None = None
        self._cards = ServerCards(gateway, lambda: self.team.gate)

    def _serverRoute(self, path: bytes, request: IRequest, mayWait: bool) -> IResource:
        """The endpoint of C{/<server>/mcp} or C{/<server>~<key>/mcp}; a
        route not served while a reload is under way is looked up again once
        it is served (when C{mayWait}, L{AwaitedRoute}), else a 404."""
        name, tilde, key = path.decode("utf-8", "replace").partition("~")
        endpoint = self._route(name, key) if tilde else self._endpoint(name)
        if endpoint is not None:
            request.postpath.pop(0)
            request.prepath.append(b"mcp")
            if self.team.active:  # what _govern gave the endpoint
                return _Door(endpoint, name, key if tilde else "", self.team, self._clock)
            return endpoint
        # A gateway that authenticates answers at once: a wait before its gate
        # would tell a caller without a token which names exist.
        waits = mayWait and self._settling is not None and self.team.gate is None
        settled = self._settling() if waits and self._settling is not None else None
        if settled is not None:
            return AwaitedRoute(
                settled, lambda: self._childFor(path, request, mayWait=False), self._clock
            )
        if tilde and name in self._gateway.pools:
            refused = _RefusedResource(
                404,
                f"no route {key[:64]!r} on server {name[:64]!r}: no workspace of its"
                " config has that key (the project's entry may be gone, or the state"
                " directory's workspace.key changed; GET /health lists the servers)",
                self.clientErrors,
            )
        else:
            refused = _RefusedResource(
                404,
                f"no server named {name[:64]!r} (GET /health lists the servers)",
                self.clientErrors,
            )
        gate = self.team.gate
        return refused if gate is None else _GatedRefusal(refused, gate)

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
                era2026=self._era2026,
                quota=self.team.quota,
                throttled=self.team.throttle,
                cluster=self.team.cluster,
                loopbackOnly=self._childTextForAll(),
            )
        self._govern(endpoint)
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
                era2026=self._era2026,
                quota=self.team.quota,
                throttled=self.team.throttle,
                cluster=self.team.cluster,
                loopbackOnly=self._childTextForAll(),
            )
        self._govern(endpoint)
        return endpoint

    def _aggregate(self, where: AggregatePath) -> McpEndpoint | None:
        """The aggregate endpoint C{where} names, if its settings exist."""
        if not self._gateway.aggregateSide.hasEndpoint(where.endpoint) or (
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
                era2026=self._era2026,
                quota=self.team.quota,
                throttled=self.team.throttle,
                cluster=self.team.cluster,
                loopbackOnly=self._childTextForAll(),
                backend=AggregateBackend(self._gateway, where.endpoint),
            )
        self._govern(endpoint)
        return endpoint

    def backendOf(self, session: Session) -> Backend | None:
        """What serves C{session} at its endpoint (C{None}: its server, route
        or aggregate endpoint is gone): a client answer a restart's
        successor passes back goes there (L{mcpgateway.ops.lateanswers})."""
        aggregate = getattr(session, "endpoint", None)
        if isinstance(aggregate, str):  # an aggregate endpoint's session
            endpoint = self._aggregate(AggregatePath(aggregate, session.scope))
        elif session.scope:
            endpoint = self._route(session.server, session.scope)
        else:
            endpoint = self._endpoint(session.server)
        return None if endpoint is None else endpoint.backend

    def _govern(self, endpoint: McpEndpoint) -> None:
        """Give C{endpoint} the team surface's current gates and doors (set
        after the endpoints were made, and changed by tests): it builds its
        steps again only when one changed."""
        team = self.team
        endpoint.govern(team.callQuotas, team.requestPolicy, team.active)

    def endEra2026Streams(self, reason: str) -> int:
        """End every open 2026-07-28 listen stream with its graceful result
        (the gateway stops, or hands over to a restart's successor: the
        clients listen again there); how many ended."""
        endpoints = [*self._endpoints.values(), *self._routes.values()]
        ended = sum(endpoint.endEra2026Streams(reason) for endpoint in endpoints)
        for aggregate in self._aggregates.values():
            if isinstance(aggregate, AggregateEndpoint):
                ended += aggregate.endEra2026Streams(reason)
        return ended

    def _childTextForAll(self) -> bool:
        """Whether every caller may see what a child wrote (its stderr), as
        the endpoints' C{loopbackOnly} says (L{showsChildText}): a gateway
        bound to loopback only that authenticates nobody. One that requires
        tokens is reached through a proxy or a load balancer by others (a
        team gateway, a cluster's replica): there only admins see it."""
        return self._loopbackOnly and self.team.gate is None

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:
        """Every request passes the front door first (a gateway that
        authenticates no one: the owner token of a connection whose account
        was not named), then goes where its path says (L{_childFor})."""
        door = self._door
        if door is not None:
            why = door.requestRefusal(request)
            if why is not None:
                return _RefusedResource(403, why, self.clientErrors)
        return self._childFor(path, request)

    def _childFor(self, path: bytes, request: IRequest, mayWait: bool = True) -> IResource:
        """The resource of C{path}; a route not served while a reload is
        under way is looked up again once it is served (when C{mayWait})."""
        if path == b"oauth" and self.team.upstreamLogin is not None:
            # Principals' logins to remote servers: a browser's, without a bearer
            # token. Their forms come from the gateway's own origin, which behind a
            # proxy is no loopback one: the pages check Origin themselves.
            return self.team.upstreamLogin
        refusal = checkOrigin(request, self._loopbackOnly, self.team.gate is not None)
        if refusal is not None:
            return _RefusedResource(*refusal, self.clientErrors)
        if path == b".well-known" and isCardPath(request.postpath):
            request.prepath.extend(request.postpath[:2])  # SEP-2127's draft
            del request.postpath[:2]
            return self._cards
        if request.postpath and request.postpath[0] == b"mcp":
            return self._serverRoute(path, request, mayWait)
        if path == b"mcp" or path.startswith(b"mcp~"):
            where = aggregatePath(path.decode("utf-8", "replace"), request.postpath)
            aggregate = self._aggregate(where) if where is not None else None
            if aggregate is None:
                refused = _RefusedResource(
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
            if aggregate.doors:
                return _Door(aggregate, "/mcp", where.scope, self.team, self._clock, aggregate=True)
            return aggregate
        if path == b"health" and not request.postpath:
            return self._health
        if path in favicon.PATHS and not request.postpath:
            return favicon.FAVICON  # the page's icon: no secret, no admin door
        gate = self.team.gate
        if path == b"status" and request.postpath[:1] == [b"signin"]:
            if gate is not None:
                return _AdminDoor(self._signIn, gate)
            return self._signIn()
        if (path == b"" and not request.postpath) or (path == b"status" and request.postpath):
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
            return _RefusedResource(
                400, "the path is not UTF-8 (after percent-decoding)", self.clientErrors
            )
        from mcpgateway.web.pages.statuspage import CsrfRefused, csrfRefusal

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
            from mcpgateway.web.pages.statuspage import StatusPage

            self._status = StatusPage(
                self._gateway,
                self._clock,
                controls=self._apiFactory is not None,
                stderrShown=self._stderrShown,
                limits=lambda: self.team.callQuotas,
                config=self._config,
                approvals=self._approvals or (lambda: None),
            )
        return self._status

    def _signIn(self) -> IResource:
        """The status page's "Sign in" button (L{mcpgateway.web.pages.consolesignin})."""
        if self._signInPage is None:
            from mcpgateway.web.pages.consolesignin import ConsoleSignIn

            self._signInPage = ConsoleSignIn(self._gateway, self._clock, self.team)
        return self._signInPage

    def _stderrShown(self) -> bool:
        """Whether the status page may show stderr lines: the management
        API (which serves them) has no token, or a team gateway's door let
        only admins in."""
        if self.team.gate is not None or self._apiFactory is None:
            return True
        if self._apiHasToken is not None:  # known without loading Klein
            return not self._apiHasToken
        return not getattr(self._apiResource(), "hasToken", False)

    def _managementApp(self) -> IResource:
        if self._management is None:
            self._management = managementResource(self._gateway, self.team, self._door)
        return self._management


def _isUtf8(segment: bytes, rest: list[bytes]) -> bool:
    """Whether every (percent-decoded) segment of a path is UTF-8."""
    try:
        segment.decode("utf-8")
        for other in rest:
            other.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
