# -*- test-case-name: tests.web.endpoints.test_mcp,tests.web.endpoints.test_cluster_web,tests.web.endpoints.test_stopping -*-
"""C{/<server>/mcp}: the MCP Streamable HTTP endpoint of one server (or of
one of its workspace routes, C{/<server>~<key>/mcp}).

POST carries client messages: C{initialize} opens a session, notifications
and responses are answered 202, requests the gateway can answer itself
(C{ping}) get JSON, and requests for the child get an SSE stream that carries
everything related to that request and closes after its response. GET opens
the session's standalone SSE stream, or with C{Last-Event-ID} resumes a
broken stream (L{mcpgateway.web.plumbing.replay}); DELETE ends the session. A plain
C{twisted.web} resource: this is the hot path, kept free of routing overhead.
It reaches the server's children only through its L{PoolLike}.

Every message is parsed within the parser limits and its envelope checked
(L{mcpgateway.protocol.envelope}) before anything acts on it: what can never succeed
is answered at once, with the JSON-RPC error the specification names, and
logged as one warning line (L{ClientErrors}), never with a traceback. A
batch is capped, and so is what one session may have waiting for a child
(L{mcpgateway.protocol.bounds}).

Both eras of MCP share the endpoint, chosen per request, body first
(L{mcpgateway.protocol.envelope.eraOf}): a POST whose body claims protocol 2026-07-28
(or is C{server/discover}) goes to the endpoint's L{Era2026Endpoint}
(docs/design/era.md: no session, every request carries its own envelope); a GET
or DELETE that names a 2026 C{MCP-Protocol-Version} without a session is
405 (C{Allow: POST}); everything else is the handshake era below.

Scopes (docs/guide/scopes.md): an endpoint serves one route of its server (its
C{scope}: C{""} or a workspace key), and only the sessions opened through
it. For a server whose entry lists C{"credentialEnv"}, a client may give
those variables as C{X-Mcp-Env-<NAME>} headers: their values are keyed
(L{mcpgateway.config.workspaces.WorkspaceKeys.credential}) and the session
is served by the child of that credential set. Any other C{X-Mcp-Env-*}
header is ignored (counted in L{McpEndpoint.ignoredCredentialHeaders}, its
name logged once); a value is never logged, and never reaches any other
server.

On a team gateway (docs/guide/team.md) the door in L{mcpgateway.web.app} sets
the principal on the request's context (L{mcpgateway.web.plumbing.requestcontext}):
a session is opened for that principal's key and is
not found (404, the same answer as an unknown id) for any other; requests
are counted against the principal's L{Quota} (429 with C{Retry-After} and
a C{-32004} body beyond it; notifications and responses are free); and
what ends each request is noted on its L{AuditNote}. On a gateway
reachable from other machines, a server's failure (its child exited, could
not start) is told to a caller that is not an admin in the gateway's own
words only (L{mcpgateway.core.gateway.catalog.publicReason}), never with what the
child wrote: the rule of C{/health}, L{showsChildText}.

In a cluster (docs/guide/cluster.md) a session id this process does not know goes
to the endpoint's L{ClusterSessionsLike}: it may be another replica's session, which the
request is then forwarded to (POST, GET and DELETE alike; the owner answers,
streamed back as it comes), or one served here from its sealed facts. A
request that could not be forwarded (the owner is down) is looked at again
here. A request a peer forwarded (its context's C{fromPeer}) is never forwarded
again and not counted against the principal's limits (the replica it
first reached counted it).

Once the gateway's stop has begun
(L{mcpgateway.core.gateway.shutdown.Shutdown.begun}), a request naming
a session (POST, GET, DELETE with C{Mcp-Session-Id}) is answered 503 with
C{Retry-After} and C{Connection: close} before its session is looked up:
the session is saved and goes on in the next gateway process, and a 404
would tell its client it is gone for good. Requests in flight drain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.sessions import Session
from mcpgateway.httpbase.clienterrors import ClientErrors
from mcpgateway.protocol import jsonrpc, versions
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.runtime import logs
from mcpgateway.web.endpoints.admission import PostAdmission
from mcpgateway.web.endpoints.answers import CallerAnswers
from mcpgateway.web.endpoints.auditnote import shortName
from mcpgateway.web.endpoints.backends import (
    AfterPredecessor,
    Backend,
    ClusterSessionsLike,
    ForwardTo,
    PoolBackend,
    Quota,
    principalOf,
)
from mcpgateway.web.endpoints.batchrequests import BatchRequests
from mcpgateway.web.endpoints.credentialcheck import CredentialCheck
from mcpgateway.web.endpoints.endpointforwarder import EndpointForwarder
from mcpgateway.web.endpoints.guard import header
from mcpgateway.web.endpoints.initialize import EndpointInitializer
from mcpgateway.web.endpoints.mcppost import McpPost, isEra2026
from mcpgateway.web.endpoints.refusals import EndpointRefusals, refusalId, unsupportedVersion
from mcpgateway.web.endpoints.requestreading import era2026Header, loopbackConnection
from mcpgateway.web.endpoints.rerouting import Rerouting
from mcpgateway.web.endpoints.streams import SessionStreams
from mcpgateway.web.plumbing.replay import ReplayStore
from mcpgateway.web.plumbing.replies import errorReply
from mcpgateway.web.plumbing.requestcontext import ANONYMOUS_KEY, RequestContext, contextOf

if TYPE_CHECKING:
    from mcpgateway.core.era2026.types import Era2026Gateway
    from mcpgateway.governance.gate import PolicyGate  # loaded with a policy
    from mcpgateway.governance.quotagate import QuotaGate  # loaded with call limits
    from mcpgateway.web.endpoints.era2026 import Era2026Endpoint


class McpEndpoint(Resource):
    """The MCP endpoint of one configured server.

    A POST goes to L{McpPost} (L{posts}), which runs every step of it in
    order; a GET or a DELETE to L{SessionStreams}; what they raise to
    L{Rerouting} (another replica, or after a restart's predecessor). It
    makes the collaborators, one per job (L{PostAdmission}: quota, policy,
    call limits; L{SessionLookup}, L{CredentialCheck}, L{EndpointInitializer},
    L{EndpointForwarder}, L{BatchRequests}, with L{EndpointRefusals} and L{CallerAnswers}
    for what it answers), and has the POST's steps built again when what is
    configured changes (L{callQuotas}, L{requestPolicy}, L{doors}).
    """

    isLeaf = True
    log = Logger(observer=logs.observer)

    def __init__(
        self,
        gateway: Gateway,
        server: str,
        clock: IReactorTime,
        limits: MessageBounds | None = None,
        clientErrors: ClientErrors | None = None,
        *,
        scope: str = "",
        keys: WorkspaceKeys | None = None,
        era2026: Era2026Gateway | None = None,
        quota: Quota | None = None,
        throttled: Callable[[], object] | None = None,
        cluster: ClusterSessionsLike | None = None,
        backend: Backend | None = None,
        loopbackOnly: bool = True,
    ) -> None:
        """
        @param scope: the route key this endpoint serves (C{""}: the global
            route C{/<server>/mcp}).
        @param backend: what serves its sessions (C{None}: server C{server}'s
            pool, through L{PoolBackend}).
        @param quota: per-principal limits on requests (C{None}: none).
        @param throttled: called once per request refused by C{quota}.
        @param keys: keys credential sets; C{None}: credential headers are
            refused (a gateway always gives one, see L{GatewayRoot}).
        @param era2026: what serves the endpoint's 2026-07-28 requests
            (C{None}: the gateway itself).
        @param cluster: where unknown session ids go (C{None}: not
            clustered, they are not found).
        @param loopbackOnly: the gateway is bound to loopback only; else
            (reachable from other machines) what a child wrote reaches
            admins only (L{showsChildText}).
        """
        super().__init__()
        self._loopbackOnly = loopbackOnly
        self._gateway = gateway
        self._server = server
        self._scope = scope
        self._callQuotas: QuotaGate | None = None
        self._requestPolicy: PolicyGate | None = None
        self._quota = quota
        self._doors = False
        if backend is None:
            poolBackend = PoolBackend(gateway, server)
            self.pool: PoolLike | None = poolBackend.pool
            backend = poolBackend
        else:
            self.pool = None
        self.backend: Backend = backend
        self._clock = clock
        self._limits = limits = limits if limits is not None else MessageBounds()
        self.clientErrors = clientErrors if clientErrors is not None else ClientErrors(clock)
        self.replay = ReplayStore(clock, limits)
        self._wire(keys, era2026, quota, throttled, cluster)

    def _wire(
        self,
        keys: WorkspaceKeys | None,
        era2026: Era2026Gateway | None,
        quota: Quota | None,
        throttled: Callable[[], object] | None,
        cluster: ClusterSessionsLike | None,
    ) -> None:
        """Make the collaborators, one per job (see L{__init__} for the parameters)."""
        gateway, server, scope, clock, log = (
            self._gateway,
            self._server,
            self._scope,
            self._clock,
            self.log,
        )
        backend, limits, replay = self.backend, self._limits, self.replay
        self._refusals = refusals = EndpointRefusals(self.clientErrors)
        self._answers = answers = CallerAnswers(
            self, gateway, server, scope, self._loopbackOnly, log
        )
        self._credentials = credentials = CredentialCheck(
            backend, keys, gateway.foreignSessions.rebind, server, log
        )
        self._admission = PostAdmission(
            self, gateway, server, scope, self.clientErrors, quota, throttled
        )
        lookup = SessionLookup(gateway, server, scope, backend, refusals, cluster)
        forwarder = EndpointForwarder(
            backend, gateway.endSession, refusals, answers, replay, clock, limits, server, log
        )
        self.posts = McpPost(
            backend=backend,
            refusals=refusals,
            clientErrors=self.clientErrors,
            answers=answers,
            admission=self._admission,
            lookup=lookup,
            credentials=credentials,
            opener=EndpointInitializer(
                gateway, backend, credentials, answers, refusals, clock, limits, server, scope
            ),
            batches=BatchRequests(
                lookup, credentials, forwarder, backend, refusals, self.clientErrors, limits
            ),
            forwarder=forwarder,
            era2026=self._era2026Post,
            endSession=gateway.endSession,
            clock=clock,
            limits=limits,
            server=server,
            log=log,
        )
        """Every step of a POST, in order (L{mcpgateway.web.endpoints.mcppost})."""
        forwarder.one = self.posts.forwardCall
        self.posts.flow = forwarder.flow = getattr(gateway, "flow", None)
        self._configure()
        self._rerouting = Rerouting(self, gateway, refusals, clock, server, scope, log, cluster)
        self._era2026Gateway: Era2026Gateway = era2026 if era2026 is not None else gateway
        """What serves its 2026-07-28 requests (L{era2026})."""
        self._era2026Flow = self.posts.flow
        """The flow rule on its 2026-07-28 calls (L{era2026})."""
        self._era2026: Era2026Endpoint | None = None
        """Its 2026-07-28 side, once a 2026 request needed it (L{era2026})."""
        self._streams = SessionStreams(
            lookup,
            credentials,
            refusals,
            self._era2026NotAllowed,
            replay,
            gateway.endSessions,
            clock,
            limits.keepAliveInterval,
            server,
            log,
        )

    @property
    def era2026(self) -> Era2026Endpoint:
        """The endpoint's 2026-07-28 side: its checks of a 2026 request and
        its dispatch to the core, made (and its modules imported) when a
        2026 request first reaches the endpoint, so that an endpoint whose
        clients are all 2025-era loads none of them."""
        endpoint = self._era2026
        if endpoint is None:
            endpoint = self._era2026 = self._era2026Of(self._era2026Gateway)
            endpoint.flow = self._era2026Flow
        return endpoint

    def _era2026Of(self, gateway: Era2026Gateway) -> Era2026Endpoint:
        """A 2026-07-28 side of this endpoint that serves through C{gateway}
        (its flow decision left to the caller)."""
        from mcpgateway.web.endpoints.era2026 import Era2026Endpoint

        endpoint = Era2026Endpoint(
            gateway,
            self._server,
            self._clock,
            self._limits,
            self.clientErrors,
            self._credentials.forEra2026,
            self._scope,
            self._loopbackOnly,
        )
        endpoint.screen = self._answers.screened
        return endpoint

    def endEra2026Streams(self, reason: str) -> int:
        """End the endpoint's open listen streams with their graceful result
        (L{Era2026Endpoint.endStreams}); how many ended (none when no 2026
        request reached it)."""
        endpoint = self._era2026
        return 0 if endpoint is None else endpoint.endStreams(reason)

    def _era2026NotAllowed(self, request: Request) -> bytes:
        """A GET or DELETE of a 2026 client: its side's 405."""
        return self.era2026.notAllowed(request)

    @property
    def callQuotas(self) -> QuotaGate | None:
        """The rate limits and quotas of calls (L{mcpgateway.governance.quotas}), set by
        whoever builds the endpoint; C{None}: none."""
        return self._callQuotas

    @callQuotas.setter
    def callQuotas(self, limits: QuotaGate | None) -> None:
        if limits is not self._callQuotas:
            self._callQuotas = limits
            self._configure()

    @property
    def requestPolicy(self) -> PolicyGate | None:
        """The policy on every request (L{mcpgateway.web.endpoints.policystep}), set by
        whoever builds the endpoint; C{None}: none."""
        return self._requestPolicy

    @requestPolicy.setter
    def requestPolicy(self, policy: PolicyGate | None) -> None:
        if policy is not self._requestPolicy:
            self._requestPolicy = policy
            self._configure()

    @property
    def doors(self) -> bool:
        """Whether a door (L{mcpgateway.web.root}) stands in front of the
        endpoint and fills in each request's context; set by whoever
        builds the endpoint."""
        return self._doors

    @doors.setter
    def doors(self, doors: bool) -> None:
        if doors is not self._doors:
            self._doors = doors
            self._configure()

    def govern(
        self, callQuotas: QuotaGate | None, requestPolicy: PolicyGate | None, doors: bool
    ) -> None:
        """Take the gates and doors configured now (L{callQuotas},
        L{requestPolicy}, L{doors}) in one call, as the root does on each
        request: the POST's steps are built again only when one changed."""
        if (
            callQuotas is not self._callQuotas
            or requestPolicy is not self._requestPolicy
            or doors is not self._doors
        ):
            self._callQuotas = callQuotas
            self._requestPolicy = requestPolicy
            self._doors = doors
            self._configure()

    def _configure(self) -> None:
        """The POST's steps, built again from what is configured now."""
        posts = getattr(self, "posts", None)
        if posts is not None:
            posts.configure(
                quota=self._quota is not None,
                policy=self._requestPolicy is not None,
                callQuotas=self._callQuotas is not None,
                doors=self._doors,
            )

    @property
    def ignoredCredentialHeaders(self) -> int:
        """C{X-Mcp-Env-*} headers not listed in the entry's C{credentialEnv}: ignored."""
        return self._credentials.ignoredHeaders

    callsMembers = False
    """A call of a server's endpoint is that server's (L{callTarget})."""

    def callTarget(self, request: IRequest, message: Any) -> tuple[str, str] | None:
        """The server a call of C{message} reaches and its name there, when
        that is not this endpoint's own (an aggregate endpoint's member);
        C{None} on a server's endpoint: the call is that server's."""
        return None

    def taskServers(self) -> tuple[str, ...]:
        """The servers whose tasks this endpoint's clients poll (a task id
        is sealed for its server): its own."""
        return (self._server,)

    def era2026For(self, request: Request) -> Era2026Endpoint:
        """What serves C{request}'s 2026-07-28 POST: the endpoint's own
        L{era2026} (an aggregate endpoint's C{?mode=} may name another)."""
        return self.era2026

    def render(self, request: Request) -> bytes | int:
        try:
            if request.postpath:
                return self._refusals.refuse(
                    request, 404, jsonrpc.METHOD_NOT_FOUND, "no such endpoint"
                )
            method = request.method
            if method == b"POST":
                return self.posts.post(request)
            if method == b"GET":
                return self._streams.get(request)
            if method == b"DELETE":
                return self._streams.delete(request)
            if era2026Header(request):
                return self.era2026.notAllowed(request)
            request.setHeader("allow", "GET, POST, DELETE")
            return self._refusals.refuse(
                request,
                405,
                jsonrpc.INVALID_REQUEST,
                f"method {method.decode('ascii', 'replace')[:16]} is not allowed",
            )
        except AfterPredecessor as later:
            return self._rerouting.later(request, later.waiting, later.requestId)
        except ForwardTo as forward:
            return self._rerouting.forwardTo(request, forward.owner)
        except Exception:
            # A defect of the gateway, not of the request: say so (in JSON), and
            # log it with its traceback. Nothing registered for the request
            # outlives it (a stream finished behind its back is dropped).
            self.log.failure(
                "server {server}: {method} failed in the gateway",
                server=self._server,
                method=request.method.decode("ascii", "replace")[:16],
            )
            if request.startedWriting:
                request.loseConnection()
                return NOT_DONE_YET
            return errorReply(
                request, 500, jsonrpc.INTERNAL_ERROR, "internal error in the gateway; see its log"
            )

    def _era2026Post(self, request: Request, payload: Any, version: str | None) -> bytes | int:
        """A 2026-07-28 POST: to the replica holding its task, or served here."""
        if version is None or version in versions.ERA2026_VERSIONS or isEra2026(payload, None):
            owner = self._rerouting.taskOwner(request, payload)
            if owner is not None:
                return self._rerouting.forwardTo(request, owner)
            return self.era2026For(request).post(request, payload)
        # 2026 by its header alone, which names no revision at all.
        return self._refusals.refuse(
            request,
            400,
            jsonrpc.INVALID_REQUEST,
            unsupportedVersion(version),
            refusalId(payload),
        )


STOPPING = (
    "Service Unavailable: the gateway is stopping; retry the request (the session"
    " is kept and goes on once the gateway runs again)"
)
"""The error of a session request that comes once the gateway's stop has begun."""
STOPPING_RETRY_AFTER = b"2"
"""Its C{Retry-After}, in seconds."""


class SessionLookup:
    """The sessions of one MCP endpoint (one server, one route): the
    C{Mcp-Session-Id} of a POST, GET or DELETE, looked up. A session of
    another route (another workspace) or another principal is not found,
    the same answer as an unknown id (no oracle). An id this process does
    not know may be a session opened by a restart's predecessor in its last
    moments (L{AfterPredecessor}: the request is rendered again once the
    predecessor exited), or, in a cluster, another replica's (L{ForwardTo})
    or one served here from its sealed facts. Once the gateway's stop has
    begun, a request naming a session is answered 503 before it is looked up."""

    def __init__(
        self,
        gateway: Gateway,
        server: str,
        scope: str,
        backend: Backend,
        refusals: EndpointRefusals,
        cluster: ClusterSessionsLike | None = None,
    ) -> None:
        """
        @param backend: what serves the endpoint's sessions (each request
            found is bound to it).
        @param cluster: where unknown session ids go (C{None}: not
            clustered, they are not found).
        """
        self._gateway = gateway
        self._server = server
        self._scope = scope
        self._backend = backend
        self._refusals = refusals
        self._cluster = cluster
        self._binds = not isinstance(backend, PoolBackend)
        """Whether a session found is bound to the request (a pool's
        session serves the server the door let through: nothing to bind)."""

    def session(
        self,
        request: Request,
        version: str | None,
        payload: Any = None,
        context: RequestContext | None = None,
    ) -> Session | bytes:
        """The request's session, or the error body to answer with.
        C{payload}: the POSTed body, when it was read (a refusal carries its
        id; C{null} for a batch, a GET or a DELETE). C{context}: the
        request's context when the caller holds it (C{None}: no door ran,
        an anonymous request with nothing to note, as on a laptop).

        @raise AfterPredecessor: the id may be a restart's predecessor's session.
        @raise ForwardTo: the id is another replica's session.
        """
        sessionId = header(request, "mcp-session-id")
        gateway = self._gateway
        if gateway.shutdown.begun and sessionId is not None:
            return self._stopping(request, payload)
        if version is not None and version not in versions.HANDSHAKE_VERSIONS:
            return self._refusals.refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                unsupportedVersion(version),
                refusalId(payload),
            )
        if sessionId is None:
            return self._refusals.refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                "Bad Request: Mcp-Session-Id header is required",
                refusalId(payload),
            )
        session = gateway.sessions.get(sessionId)
        if session is None:
            # Another replica's session is forwarded at once, even during a
            # restart: only this replica's own could be the predecessor's.
            elsewhere = self._cluster is not None and self._cluster.ownedElsewhere(
                sessionId, self._server, self._scope, principalOf(request)
            )
            waiting = None if elsewhere else gateway.continuity.waitFor(sessionId)
            if waiting is not None:
                # Opened on the process this one took over from, in its last
                # moments: known once it has exited (see Gateway).
                raise AfterPredecessor(waiting, refusalId(payload))
            if self._cluster is not None:
                session = self._clustered(self._cluster, request, sessionId)
        if (
            session is None
            or session.server != self._server
            or session.scope != self._scope
            or session.principal != (ANONYMOUS_KEY if context is None else context.principalKey)
        ):
            # A session of another route (another workspace), or another
            # principal's: not found here (the same answer: no oracle).
            return self._refusals.refuse(
                request, 404, jsonrpc.INVALID_REQUEST, "Session not found", refusalId(payload)
            )
        gateway.sessions.touch(session)
        if session.clientPid is None and gateway.opener.looksForOwners:
            gateway.lookForOwner(session, loopbackConnection(request))
        if self._binds:
            self._backend.bind(session, request)
        note = None if context is None else context.auditNote
        if note is not None:
            note.session = shortName(session)
        return session

    def _stopping(self, request: Request, payload: Any) -> bytes:
        """A session request once the gateway's stop has begun: not looked
        up (the session is being saved, and goes on in the next gateway
        process: a 404 would tell its client it is gone for good), but 503
        with C{Retry-After}, on a connection that then closes, so the retry
        does not come back to this process. Requests already in flight are
        not concerned: they drain (L{Gateway.stop})."""
        request.setHeader(b"retry-after", STOPPING_RETRY_AFTER)
        if request.clientproto.startswith(b"HTTP/1"):
            # HTTP/1 only: HTTP/2 forbids the header (and has no keep-alive).
            request.setHeader(b"connection", b"close")
            channel = getattr(request, "channel", None)
            if channel is not None:
                channel.persistent = False  # what Twisted's channel reads when the response is done
        return self._refusals.refuse(
            request, 503, jsonrpc.SERVER_UNAVAILABLE, STOPPING, refusalId(payload)
        )

    def _clustered(
        self, cluster: ClusterSessionsLike, request: Request, sessionId: str
    ) -> Session | None:
        """The session a sealed id names, when it is served here; raises
        L{ForwardTo} when its owner is another replica that answers."""
        from mcpgateway.cluster.routing import Forward, Local  # a cluster's replicas only

        context = contextOf(request)
        fromPeer, failed = context.fromPeer, context.forwardFailed
        where = cluster.resolve(
            sessionId, self._server, self._scope, principalOf(request), fromPeer or failed
        )
        if isinstance(where, Forward):
            raise ForwardTo(where.owner)
        if isinstance(where, Local):
            return where.session
        return None
