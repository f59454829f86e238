# -*- test-case-name: tests.web.test_mcp -*-
"""C{/<server>/mcp}: the MCP Streamable HTTP endpoint of one server (or of
one of its workspace routes, C{/<server>~<key>/mcp}).

POST carries client messages: C{initialize} opens a session, notifications
and responses are answered 202, requests the gateway can answer itself
(C{ping}) get JSON, and requests for the child get an SSE stream that carries
everything related to that request and closes after its response. GET opens
the session's standalone SSE stream, or with C{Last-Event-ID} resumes a
broken stream (L{mcpgateway.web.replay}); DELETE ends the session. A plain
C{twisted.web} resource: this is the hot path, kept free of routing overhead.
It reaches the server's children only through its L{ServerPool}.

Every message is parsed within the parser limits and its envelope checked
(L{mcpgateway.protocol.envelope}) before anything acts on it: what can never succeed
is answered at once, with the JSON-RPC error the specification names, and
logged as one warning line (L{ClientErrors}), never with a traceback. A
batch is capped, and so is what one session may have waiting for a child
(L{mcpgateway.protocol.limits}).

Both eras of MCP share the endpoint, chosen per request, body first
(L{mcpgateway.protocol.versions.eraOf}): a POST whose body claims protocol 2026-07-28
(or is C{server/discover}) goes to the endpoint's L{Era2026Endpoint}
(docs/era.md: no session, every request carries its own envelope); a GET
or DELETE that names a modern C{MCP-Protocol-Version} without a session is
405 (C{Allow: POST}); everything else is the handshake era below.

Scopes (docs/scopes.md): an endpoint serves one route of its server (its
C{scope}: C{""} or a workspace key), and only the sessions opened through
it. For a server whose entry lists C{"credentialEnv"}, a client may give
those variables as C{X-Mcp-Env-<NAME>} headers: their values are keyed
(L{mcpgateway.config.workspaces.WorkspaceKeys.credential}) and the session
is served by the child of that credential set. Any other C{X-Mcp-Env-*}
header is ignored (counted in L{McpEndpoint.ignoredCredentialHeaders}, its
name logged once); a value is never logged, and never reaches any other
server.

On a team gateway (docs/team.md) the door in L{mcpgateway.web.app} sets
C{request.principal}: a session is opened for that principal's key and is
not found (404, the same answer as an unknown id) for any other; requests
are counted against the principal's L{Quota} (429 with C{Retry-After} and
a C{-32004} body beyond it; notifications and responses are free); and
what ends each request is noted on its L{AuditNote}. On a gateway
reachable from other machines, a server's failure (its child exited, could
not start) is told to a caller that is not an admin in the gateway's own
words only (L{mcpgateway.core.catalog.publicReason}), never with what the
child wrote: the rule of C{/health}, L{showsChildText}.

In a cluster (docs/cluster.md) a session id this process does not know goes
to the endpoint's L{Cluster}: it may be another replica's session, which the
request is then forwarded to (POST, GET and DELETE alike; the owner answers,
streamed back as it comes), or one served here from its sealed facts. A
request that could not be forwarded (the owner is down) is looked at again
here. A request a peer forwarded (C{request.fromPeer}) is never forwarded
again and not counted against the principal's limits (the replica it
first reached counted it).

Once the gateway's stop has begun (L{Gateway.stopBegun}), a request naming
a session (POST, GET, DELETE with C{Mcp-Session-Id}) is answered 503 with
C{Retry-After} and C{Connection: close} before its session is looked up:
the session is saved and goes on in the next gateway process, and a 404
would tell its client it is gone for good. Requests in flight drain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.cluster.routing import Forward, Local
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core import tracing
from mcpgateway.core.era2026.types import Era2026Service
from mcpgateway.core.gateway import Gateway
from mcpgateway.core.pools.pool import ServerPool
from mcpgateway.core.sessions import Session
from mcpgateway.governance.cachescope import perCaller
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.governance.limitsgate import LimitsGate
from mcpgateway.governance.policy import LISTED
from mcpgateway.protocol import envelope, jsonrpc, versions, wire2026
from mcpgateway.protocol.jsonrpc import Kind, Message
from mcpgateway.protocol.limits import Limits
from mcpgateway.remote.ratelimited import RATE_LIMITED
from mcpgateway.runtime import logs
from mcpgateway.web.era2026 import Era2026Endpoint, principalKey
from mcpgateway.web.guard import (
    checkPostHeaders,
    header,
)
from mcpgateway.web.replay import ReplayStore, StreamLog, resumable

if TYPE_CHECKING:
    from mcpgateway.cluster.sealing import Address  # cryptography: clustered gateways only
from mcpgateway.web.auditnote import auditNote
from mcpgateway.web.backends import (
    PREDECESSOR_WAIT,
    AfterPredecessor,
    Backend,
    Cluster,
    ForwardTo,
    PoolBackend,
    Quota,
    principalOf,
)
from mcpgateway.web.forwarding import Forwarding
from mcpgateway.web.opening import EndpointOpening
from mcpgateway.web.policystep import refusedPost, screenedAnswer
from mcpgateway.web.replies import ClientErrors, accepted, errorReply, jsonReply, validIdOrNull
from mcpgateway.web.requestfacts import (
    era2026Header,
    internalErrorReply,
    isEra2026,
    loopbackConnection,
    refusalId,
    shortName,
    unsupportedVersion,
    watchDisconnect,
)
from mcpgateway.web.streams import StreamRequests

_TIMED_OUT = object()

STOPPING = (
    "Service Unavailable: the gateway is stopping; retry the request (the session"
    " is kept and goes on once the gateway runs again)"
)
"""The error of a session request that comes once the gateway's stop has begun."""
STOPPING_RETRY_AFTER = b"2"
"""Its C{Retry-After}, in seconds."""


class McpEndpoint(Forwarding, EndpointOpening, StreamRequests, Resource):
    """The MCP endpoint of one configured server."""

    isLeaf = True
    log = Logger(observer=logs.observer)

    def __init__(
        self,
        gateway: Gateway,
        server: str,
        clock: IReactorTime,
        limits: Limits | None = None,
        clientErrors: ClientErrors | None = None,
        *,
        scope: str = "",
        keys: WorkspaceKeys | None = None,
        modern: Era2026Service | None = None,
        quota: Quota | None = None,
        throttled: Callable[[], object] | None = None,
        cluster: Cluster | None = None,
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
        @param modern: what serves the endpoint's 2026-07-28 requests
            (C{None}: the gateway itself).
        @param cluster: where unknown session ids go (C{None}: not
            clustered, they are not found).
        @param loopbackOnly: the gateway is bound to loopback only; else
            (reachable from other machines) what a child wrote reaches
            admins only (L{showsChildText}).
        """
        super().__init__()
        self._loopbackOnly = loopbackOnly
        self._cluster = cluster
        self._gateway = gateway
        self._server = server
        self._scope = scope
        self._keys = keys
        self._quota = quota
        self.callLimits: LimitsGate | None = None
        """The rate limits and quotas of calls (L{mcpgateway.governance.limits}), set by
        whoever builds the endpoint; C{None}: none."""
        self.requestPolicy: PolicyGate | None = None
        """The policy on every request (L{mcpgateway.web.policystep}), set by
        whoever builds the endpoint; C{None}: none."""
        self._throttled = throttled
        self.ignoredCredentialHeaders = 0
        """C{X-Mcp-Env-*} headers not listed in the entry's C{credentialEnv}: ignored."""
        self._ignoredNames: set[str] = set()
        if backend is None:
            poolBackend = PoolBackend(gateway, server)
            self.pool: ServerPool | None = poolBackend.pool
            backend = poolBackend
        else:
            self.pool = None
        self.backend: Backend = backend
        self._clock = clock
        self._operations = tracing.operationsFor(clock)
        self._limits = limits = limits if limits is not None else Limits()
        self._maxDepth = limits.maxDepth
        self._maxDigits = limits.maxNumberDigits
        self._maxInFlight = limits.maxInFlightPerSession
        self._keepAlive = limits.keepAliveInterval
        self.clientErrors = clientErrors if clientErrors is not None else ClientErrors(clock)
        self.replay = ReplayStore(clock, limits)
        self.modern = Era2026Endpoint(
            modern if modern is not None else gateway,
            server,
            clock,
            limits,
            self.clientErrors,
            self._era2026Credentials,
            scope,
            loopbackOnly,
        )
        self.modern.screen = self._screened

    def _screened(self, method: str, message: Message, request: IRequest) -> Message:
        """A 2026-07-28 answer to C{method} as the policy lets its caller see
        it; with a policy, any cache hints say C{private} (L{perCaller})."""
        if self.requestPolicy is None:
            return message
        if method in LISTED:
            message = screenedAnswer(
                self.requestPolicy, request, message, self._gateway, self._server, self._scope
            )
        return perCaller(message)

    def callTarget(self, request: IRequest, message: Any) -> tuple[str, str] | None:
        """The server a call of C{message} reaches and its name there, when
        that is not this endpoint's own (an aggregate endpoint's member);
        C{None} on a server's endpoint: the call is that server's."""
        return None

    def _callLimited(self, request: Request, payload: Any) -> bytes | None:
        """The 429 of a POST a rate limit refuses a call of (C{None}: every
        call may go on, or no limits; a peer's forwarded request was
        counted where it came in). A call of an aggregate endpoint counts
        as its member's (L{callTarget})."""
        limits = self.callLimits
        if limits is None or getattr(request, "fromPeer", False):
            return None
        limited = limits.decide(
            payload,
            principalKey(request),
            self._server,
            lambda message: self.callTarget(request, message),
        )
        if limited is None:
            return None
        self.clientErrors.note(request, 429, limited[0].reason)
        note = auditNote(request)
        if note is not None:
            note.decision = limited[0]
            note.settle("refused", RATE_LIMITED)
        return limits.refuse(request, *limited)

    def _policyRefused(self, request: Request, payload: Any) -> bytes | None:
        """The answer to a POST the policy refuses (C{None}: it goes on, or
        no policy; a peer's forwarded request was decided where it came in)."""
        if self.requestPolicy is None or getattr(request, "fromPeer", False):
            return None
        return refusedPost(
            self.requestPolicy, request, payload, self._gateway, self._server, self._scope
        )

    def _logFor(self, session: Session, kind: str) -> StreamLog | None:
        """A log for a new stream of C{session}, if its version resumes streams."""
        if resumable(session.protocolVersion):
            return self.replay.open(session.id, kind)
        return None

    def render(self, request: Request) -> bytes | int:
        try:
            if request.postpath:
                return self._refuse(request, 404, jsonrpc.METHOD_NOT_FOUND, "no such endpoint")
            method = request.method
            if method == b"POST":
                return self._post(request)
            if method == b"GET":
                return self._get(request)
            if method == b"DELETE":
                return self._delete(request)
            if era2026Header(request):
                return self.modern.notAllowed(request)
            request.setHeader("allow", "GET, POST, DELETE")
            return self._refuse(
                request,
                405,
                jsonrpc.INVALID_REQUEST,
                f"method {method.decode('ascii', 'replace')[:16]} is not allowed",
            )
        except AfterPredecessor as later:
            return self._later(request, later.waiting, later.requestId)
        except ForwardTo as forward:
            return self._forwardTo(request, forward.owner)
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

    def _later(self, request: Request, waiting: Deferred[None], requestId: Any = None) -> int:
        """Render C{request} again once C{waiting} fires; after
        L{Gateway.predecessorWait} seconds, answer that the session is not
        found (with C{requestId}, the id of the request's body)."""
        gone = watchDisconnect(request)

        def again(timedOut: object) -> None:
            if gone or request.finished:
                return
            if timedOut is _TIMED_OUT:
                body: bytes | int = self._refuse(
                    request, 404, jsonrpc.INVALID_REQUEST, "Session not found", requestId
                )
            else:
                if request.content is not None:
                    request.content.seek(0)
                body = self.render(request)
            if body is not NOT_DONE_YET:
                assert isinstance(body, bytes)
                request.write(body)
                request.finish()

        limit = getattr(self._gateway, "predecessorWait", PREDECESSOR_WAIT)
        waiting.addTimeout(limit, self._clock, onTimeoutCancel=lambda *_: _TIMED_OUT)
        waiting.addCallback(again)
        waiting.addErrback(
            lambda f: self.log.failure("answering after the predecessor exited failed", f)
        )
        return NOT_DONE_YET

    def _modernPost(self, request: Request, payload: Any, version: str | None) -> bytes | int:
        """A 2026-07-28 POST: to the replica holding its task, or served here."""
        if version is None or version in versions.ERA2026_VERSIONS or isEra2026(payload, None):
            owner = self._taskOwner(request, payload)
            if owner is not None:
                return self._forwardTo(request, owner)
            return self._modernFor(request).post(request, payload)
        # Modern by its header alone, which names no revision at all.
        return self._refuse(
            request,
            400,
            jsonrpc.INVALID_REQUEST,
            unsupportedVersion(version),
            refusalId(payload),
        )

    def _modernFor(self, request: Request) -> Era2026Endpoint:
        """What serves C{request}'s 2026-07-28 POST: the endpoint's own
        L{modern} (an aggregate endpoint's C{?mode=} may name another)."""
        return self.modern

    def _taskOwner(self, request: Request, payload: Any) -> Address | None:
        """The replica a C{tasks/*} request's task lives on, when it is
        another one, the task is not here and the request may be forwarded
        (not a peer's, not one whose owner just failed to answer)."""
        if self._cluster is None or not isinstance(payload, dict):
            return None
        if payload.get("method") not in wire2026.TASK_METHODS:
            return None
        if getattr(request, "fromPeer", False) or getattr(request, "forwardFailed", False):
            return None
        params = payload.get("params")
        taskId = params.get("taskId") if isinstance(params, dict) else None
        if not isinstance(taskId, str):
            return None
        principal = principalKey(request)
        tasks = self._gateway.settings.tasks
        if tasks is not None and tasks.owned(taskId, self._scope, principal) is not None:
            return None
        for server in self._taskServers():
            owner = self._cluster.taskOwner(taskId, server, self._scope, principal)
            if owner is not None:
                return owner
        return None

    def _taskServers(self) -> tuple[str, ...]:
        """The servers whose tasks this endpoint's clients poll (a task id
        is sealed for its server): its own."""
        return (self._server,)

    def _forwardTo(self, request: Request, owner: Address) -> int:
        """Forward C{request} to C{owner}, the replica whose session it
        names; if the owner cannot be reached, look at it again here (the
        owner is down now: the session visits, or is not found)."""
        assert self._cluster is not None
        content = request.content
        body = b""
        if content is not None:
            content.seek(0)
            body = content.read()
            content.seek(0)
        gone = watchDisconnect(request)
        request.forwardedTo = owner  # type: ignore[attr-defined]
        forwarded = self._cluster.forward(request, owner, principalOf(request), body)

        def done(handled: bool) -> None:
            if handled:
                return
            request.forwardedTo = None  # type: ignore[attr-defined]
            request.forwardFailed = True  # type: ignore[attr-defined]
            if gone or request.finished:
                return
            if request.content is not None:
                request.content.seek(0)
            again = self.render(request)
            if again is not NOT_DONE_YET:
                assert isinstance(again, bytes)
                request.write(again)
                request.finish()

        def failed(reason: Failure) -> None:
            self.log.failure(
                "server {server}: forwarding a request failed", reason, server=self._server
            )
            if not (gone or request.finished or request.startedWriting):
                request.write(internalErrorReply(request))
                request.finish()

        forwarded.addCallback(done).addErrback(failed)
        return NOT_DONE_YET

    def _refuse(
        self, request: Request, status: int, code: int, text: str, requestId: Any = None
    ) -> bytes:
        """Answer a client error (HTTP C{status}, JSON-RPC C{code}); one log line."""
        self.clientErrors.note(request, status, text)
        note = auditNote(request)
        if note is not None:
            note.settle("invalid", code)
        return errorReply(request, status, code, text, requestId)

    def _answerInBand(self, request: Request, message: Message, code: int, text: str) -> bytes:
        """Answer a request that can never succeed with its JSON-RPC error, at once."""
        self.clientErrors.note(request, 200, text)
        note = auditNote(request)
        if note is not None:
            note.settle("error", code)
        return jsonReply(request, 200, jsonrpc.errorResponse(message["id"], code, text))

    # -- POST ----------------------------------------------------------------

    def _post(self, request: Request) -> bytes | int:
        refusal = checkPostHeaders(request)
        if refusal is not None:
            return self._refuse(request, refusal[0], jsonrpc.INVALID_REQUEST, refusal[1])
        if getattr(request, "bodyTooLarge", False):
            limit = getattr(request, "bodyLimit", None)
            return self._refuse(
                request,
                413,
                jsonrpc.INVALID_REQUEST,
                f"request body is over the {limit}-byte limit",
            )
        assert request.content is not None
        try:
            payload = jsonrpc.loads(
                request.content.read(), maxDepth=self._maxDepth, maxDigits=self._maxDigits
            )
        except jsonrpc.ParseError as e:
            return self._refuse(request, 400, jsonrpc.PARSE_ERROR, f"Parse error: {e}")
        note = auditNote(request)
        if note is not None:
            if isinstance(payload, list):
                note.method = "batch"
            else:
                note.message(payload)
        version = header(request, "mcp-protocol-version")
        modern = isEra2026(payload, version)
        if isinstance(payload, list) and not modern:
            # Refused for its size before it is counted: a batch nothing of
            # which is acted on owes the principal's limits nothing.
            refused = self._batchSize(request, payload)
            if refused is not None:
                return refused
        if self._quota is not None:
            throttled = self._admit(request, payload)
            if throttled is not None:
                return throttled
        if (refused := self._policyRefused(request, payload)) is not None:
            return refused
        if (limited := self._callLimited(request, payload)) is not None:
            return limited
        if modern:
            return self._modernPost(request, payload, version)
        if isinstance(payload, list):
            return self._batch(request, payload, version)
        kind = jsonrpc.classify(payload)
        if kind is Kind.INVALID:
            return self._refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                "Invalid Request: not a JSON-RPC 2.0 message",
                validIdOrNull(payload.get("id")) if isinstance(payload, dict) else None,
            )
        if kind is Kind.REQUEST and payload["method"] == "initialize":
            return self._initialize(request, payload)
        session = self._session(request, version, payload)
        if isinstance(session, bytes):
            return session
        if kind is Kind.REQUEST:
            problem = envelope.checkRequest(payload)
            if problem is not None:
                if problem[0] == jsonrpc.INVALID_REQUEST:  # not a request at all
                    return self._refuse(request, 400, *problem, payload["id"])
                return self._answerInBand(request, payload, *problem)
        else:
            problem = envelope.check(payload, kind)
            if problem is not None:
                return self._refuse(request, 400, *problem)
        differ = self._credentialProblem(request, session)
        if differ is not None:
            code, text = differ
            if kind is not Kind.REQUEST:
                return self._refuse(request, 400, code, text)
            if code == jsonrpc.INVALID_PARAMS:
                return self._answerInBand(request, payload, code, text)
            return self._refuse(request, 400, code, text, payload["id"])
        if kind is Kind.NOTIFICATION:
            self._notification(session, payload)
            return accepted(request)
        if kind is Kind.RESPONSE:
            self._response(session, payload)
            return accepted(request)
        if payload["method"] == "ping":
            if note is not None:
                note.settle("ok")
            return jsonReply(request, 200, jsonrpc.resultResponse(payload["id"], {}))
        if session.inFlight >= self._maxInFlight:
            busy = self._busy(payload, session.inFlight)
            self.clientErrors.note(request, 200, busy["error"]["message"])
            if note is not None:
                note.settle("error", jsonrpc.TOO_MANY_REQUESTS)
            return jsonReply(request, 200, busy)
        return self._forward(request, session, [payload])

    # -- GET and DELETE ------------------------------------------------------

    # -- sessions ------------------------------------------------------------

    def _session(
        self, request: Request, version: str | None, payload: Any = None
    ) -> Session | bytes:
        """The request's session, or the error body to answer with.
        C{payload}: the POSTed body, when it was read (a refusal carries its
        id; C{null} for a batch, a GET or a DELETE)."""
        sessionId = header(request, "mcp-session-id")
        if self._gateway.stopBegun and sessionId is not None:
            return self._stopping(request, payload)
        if version is not None and version not in versions.HANDSHAKE_VERSIONS:
            return self._refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                unsupportedVersion(version),
                refusalId(payload),
            )
        if sessionId is None:
            return self._refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                "Bad Request: Mcp-Session-Id header is required",
                refusalId(payload),
            )
        session = self._gateway.sessions.get(sessionId)
        if session is None:
            # Another replica's session is forwarded at once, even during a
            # restart: only this replica's own could be the predecessor's.
            elsewhere = self._cluster is not None and self._cluster.ownedElsewhere(
                sessionId, self._server, self._scope, principalOf(request)
            )
            waiting = None if elsewhere else self._gateway.waitForPredecessor(sessionId)
            if waiting is not None:
                # Opened on the process this one took over from, in its last
                # moments: known once it has exited (see Gateway).
                raise AfterPredecessor(waiting, refusalId(payload))
            if self._cluster is not None:
                session = self._clustered(request, sessionId)
        if (
            session is None
            or session.server != self._server
            or session.scope != self._scope
            or session.principal != principalKey(request)
        ):
            # A session of another route (another workspace), or another
            # principal's: not found here (the same answer: no oracle).
            return self._refuse(
                request, 404, jsonrpc.INVALID_REQUEST, "Session not found", refusalId(payload)
            )
        self._gateway.sessions.touch(session)
        if session.clientPid is None:
            self._gateway.lookForOwner(session, loopbackConnection(request))
        self.backend.bind(session, request)
        note = auditNote(request)
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
        return self._refuse(request, 503, jsonrpc.SERVER_UNAVAILABLE, STOPPING, refusalId(payload))

    def _clustered(self, request: Request, sessionId: str) -> Session | None:
        """The session a sealed id names, when it is served here; raises
        L{ForwardTo} when its owner is another replica that answers."""
        assert self._cluster is not None
        fromPeer = bool(getattr(request, "fromPeer", False))
        failed = bool(getattr(request, "forwardFailed", False))
        where = self._cluster.resolve(
            sessionId, self._server, self._scope, principalOf(request), fromPeer or failed
        )
        if isinstance(where, Forward):
            raise ForwardTo(where.owner)
        if isinstance(where, Local):
            return where.session
        return None
