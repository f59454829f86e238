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
(or is C{server/discover}) goes to the endpoint's L{ModernEndpoint}
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

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import CancelledError, Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.auth.principal import ANONYMOUS, Principal
from mcpgateway.cluster.routing import Forward, Local, Where
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core import tracing
from mcpgateway.core.catalogdata import publicReason
from mcpgateway.core.era2026.types import ModernService
from mcpgateway.core.gateway import Gateway
from mcpgateway.core.gatewaysettings import Connection
from mcpgateway.core.pools.pool import ServerPool, ServerUnavailable, SessionGone, UnknownRoute
from mcpgateway.core.sessions import Session, shortId
from mcpgateway.protocol import envelope, jsonrpc, versions
from mcpgateway.protocol.jsonrpc import Kind, Message
from mcpgateway.protocol.limits import Limits
from mcpgateway.runtime import logs
from mcpgateway.web import measure
from mcpgateway.web.guard import (
    checkGetHeaders,
    checkPostHeaders,
    forCaller,
    header,
    isLoopbackHost,
    showsChildText,
)
from mcpgateway.web.modern import ModernEndpoint, principalKey
from mcpgateway.web.replay import ReplayStore, StreamLog, kindOf, resumable
from mcpgateway.web.sse import SSEStream

if TYPE_CHECKING:
    from mcpgateway.cluster.sealing import Address  # cryptography: clustered gateways only
from mcpgateway.web.replies import ClientErrors, accepted, errorReply, jsonReply, validIdOrNull

PREDECESSOR_WAIT = 60.0
"""Seconds a request for an unknown session waits for a restart's
predecessor to exit (its sessions are merged then), unless the gateway says
otherwise (L{Gateway.predecessorWait}: the restart's timeouts, and a margin)."""


_TIMED_OUT = object()

STOPPING = (
    "Service Unavailable: the gateway is stopping; retry the request (the session"
    " is kept and goes on once the gateway runs again)"
)
"""The error of a session request that comes once the gateway's stop has begun."""
STOPPING_RETRY_AFTER = b"2"
"""Its C{Retry-After}, in seconds."""
SESSION_RETRY_AFTER = 30
"""The C{Retry-After}, in seconds, of an C{initialize} refused for want of
room (the caller's sessions are all in use)."""

CREDENTIAL_HEADER = b"x-mcp-env-"
"""The prefix of a credential header: C{X-Mcp-Env-<NAME>: value}."""
MAX_CREDENTIAL = 8192
"""The longest credential value accepted, in bytes."""
Credentials = tuple[tuple[str, str], ...]
Sink = Callable[[Message], bool]


class BadCredential(Exception):
    """A credential header that cannot be used (the message names it, never its value)."""


def readCredentials(request: IRequest, names: tuple[str, ...]) -> Credentials:
    """The values of the C{X-Mcp-Env-<NAME>} headers of C{request} for
    C{names} (header names are case-insensitive), sorted by name.

    @raise BadCredential: a header is repeated, or its value is not UTF-8
        text without NUL of at most L{MAX_CREDENTIAL} bytes.
    """
    values: list[tuple[str, str]] = []
    headers = request.requestHeaders
    for name in names:
        raw = headers.getRawHeaders(CREDENTIAL_HEADER + name.encode("ascii"))
        if raw is None:
            continue
        shown = f"X-Mcp-Env-{name}"
        if len(raw) != 1:
            raise BadCredential(f"{shown} is given {len(raw)} times; give it once")
        data = raw[0]
        if len(data) > MAX_CREDENTIAL:
            raise BadCredential(f"{shown} is over {MAX_CREDENTIAL} bytes")
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadCredential(f"{shown} is not UTF-8 text") from None
        if "\0" in value:
            raise BadCredential(f"{shown} holds a NUL character")
        values.append((name, value))
    values.sort()
    return tuple(values)


def ignoredCredentialHeaders(request: IRequest, names: tuple[str, ...]) -> list[str]:
    """The names of the C{X-Mcp-Env-*} headers of C{request} that are not for
    C{names}, never their values. A header's name has no case (HTTP; the
    request keeps none of the client's), and neither has the variable it
    names (C{X-Mcp-Env-token} gives C{credentialEnv}'s C{"TOKEN"}): each is
    given in upper case, the way environment variables are written."""
    listed = {CREDENTIAL_HEADER + name.lower().encode("ascii") for name in names}
    lowered = (key.lower() for key, _ in request.requestHeaders.getAllRawHeaders())
    return [
        key[len(CREDENTIAL_HEADER) :].upper().decode("latin-1")[:64]
        for key in lowered
        if key.startswith(CREDENTIAL_HEADER) and key not in listed
    ]


class Quota(Protocol):
    """Per-principal limits (L{mcpgateway.auth.quota.PrincipalQuota})."""

    def admit(self, principal: str, requests: int = 1) -> float | None:
        """C{None}: admitted; else the seconds after which to try again."""

    def release(self, principal: str, requests: int = 1) -> None:
        """C{requests} admitted ones ended."""


_NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""The param that names what a request uses (the audit's C{tool})."""


class AuditNote:
    """What the audit record of one HTTP request will say, filled in as the
    request goes (see L{mcpgateway.ops.audit}); written when it ends."""

    __slots__ = ("code", "method", "outcome", "payload", "session", "started", "tool")

    def __init__(self, started: float, keepPayload: bool = False) -> None:
        self.started = started
        self.method: str = "-"
        self.tool: str | None = None
        self.session: str | None = None
        self.outcome: str | None = None
        self.code: int | None = None
        self.payload: dict[str, Any] | None = {} if keepPayload else None

    def message(self, message: Any) -> None:
        """The request being served: its method and tool (and arguments)."""
        if not isinstance(message, dict):
            return
        method = message.get("method")
        if isinstance(method, str):
            self.method = method[:128]
        params = message.get("params")
        if isinstance(params, dict) and method in _NAMED:
            name = params.get(_NAMED[method])
            if isinstance(name, str):
                self.tool = name[:256]
        if self.payload is not None and isinstance(params, dict):
            self.payload["arguments"] = params.get("arguments", params)

    def settle(self, outcome: str, code: int | None = None) -> None:
        """How it ended (the first error of a batch stays)."""
        if self.outcome in (None, "ok"):
            self.outcome, self.code = outcome, code

    def answered(self, response: Any) -> Any:
        """A callback: note a JSON-RPC response; returns it."""
        error = response.get("error") if isinstance(response, dict) else None
        if isinstance(error, dict):
            code = error.get("code")
            code = code if type(code) is int else None
            self.settle("timeout" if code == jsonrpc.REQUEST_TIMEOUT else "error", code)
            if self.payload is not None:
                self.payload["error"] = error
        else:
            self.settle("ok")
            if self.payload is not None and isinstance(response, dict):
                self.payload["result"] = response.get("result")
        return response

    def failed(self, reason: Failure) -> Failure:
        """An errback: note why a request failed, with the code its client
        is answered with (L{failureCode}); returns the failure."""
        if reason.check(CancelledError):
            self.settle("cancelled")
        else:
            self.settle("error", failureCode(reason))
        return reason

    def opened(self, response: Any, session: str) -> Any:
        """A callback on an C{initialize}: the session's short id
        C{session} is noted only when it answered with a result (an error
        gives its client no C{Mcp-Session-Id}: no session was opened);
        returns C{response}."""
        if isinstance(response, dict) and "result" in response:
            self.session = session
        return response


def failureCode(reason: Failure) -> int:
    """The JSON-RPC code of the error a request that failed with C{reason}
    is answered with (as L{McpEndpoint._errorFor} builds it): C{-32000} for
    a server's failure (its child exited or could not start, the session is
    gone), C{-32603} (a defect in the gateway) for anything else."""
    if reason.check(ServerUnavailable, SessionGone):
        return jsonrpc.SERVER_UNAVAILABLE
    return jsonrpc.INTERNAL_ERROR


def auditNote(request: IRequest) -> AuditNote | None:
    """The audit note of C{request}, when the gateway keeps an audit log."""
    note = getattr(request, "auditNote", None)
    return note if isinstance(note, AuditNote) else None


def requestCount(payload: Any) -> int:
    """How many JSON-RPC requests C{payload} (a message or a batch) holds:
    what per-principal limits count (notifications and responses are free)."""
    if isinstance(payload, dict):
        return 1 if "method" in payload and "id" in payload else 0
    if isinstance(payload, list):
        return sum(
            1 for item in payload if isinstance(item, dict) and "method" in item and "id" in item
        )
    return 0


class Cluster(Protocol):
    """Where requests for unknown session ids go in a cluster
    (L{mcpgateway.web.surfaces.ClusterSurface})."""

    def resolve(
        self, sessionId: str, server: str, scope: str, principal: Principal, fromPeer: bool
    ) -> Where:
        """See L{mcpgateway.cluster.routing.ClusterSessions.resolve}."""

    def ownedElsewhere(self, sessionId: str, server: str, scope: str, principal: Principal) -> bool:
        """See L{mcpgateway.cluster.routing.ClusterSessions.ownedElsewhere}."""

    def forward(
        self, request: Request, owner: Address, principal: Principal, body: bytes
    ) -> Deferred[bool]:
        """See L{mcpgateway.cluster.forward.Forwarder.forward}."""


def principalOf(request: IRequest) -> Principal:
    """The principal the door found for C{request} (L{ANONYMOUS} without one)."""
    principal = getattr(request, "principal", None)
    return principal if isinstance(principal, Principal) else ANONYMOUS


class _ForwardTo(Exception):
    """The request's session belongs to another replica: forward it there."""

    def __init__(self, owner: Address) -> None:
        self.owner = owner


class _AfterPredecessor(Exception):
    """The request must wait until the predecessor's sessions are merged;
    C{requestId}: the id its refusal carries if the wait times out."""

    def __init__(self, waiting: Deferred[None], requestId: Any = None) -> None:
        self.waiting = waiting
        self.requestId = requestId


class Backend(Protocol):
    """What an endpoint serves its 2025 sessions from: one server's pool
    (L{PoolBackend}), or the aggregate of every server
    (L{mcpgateway.web.aggregate.AggregateBackend})."""

    @property
    def credentialEnv(self) -> tuple[str, ...]:
        """The C{X-Mcp-Env-*} names its sessions may send."""

    def open(
        self,
        request: Request,
        initialize: Message,
        version: str,
        *,
        clientPid: int | None,
        connection: Connection | None,
        scope: str,
        credentialKey: str,
        credentials: Credentials,
        principal: str,
    ) -> tuple[Session, Deferred[Message]]:
        """Open a session (see L{Gateway.openSession})."""

    def gone(self, session: Session) -> str | None:
        """Why C{session} can no longer be served, or C{None}."""

    def forward(
        self, session: Session, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        """Serve one client request of C{session}."""

    def notify(self, session: Session, message: Message) -> None:
        """Pass on one client notification."""

    def answer(self, session: Session, message: Message) -> bool:
        """Pass on one client answer to a request it was sent."""

    def bind(self, session: Session, request: Request) -> None:
        """C{session} serves C{request} (its principal's now: the web has
        checked the key); what the session may reach follows it."""


class PoolBackend:
    """The sessions of one server's pool (C{/<server>/mcp})."""

    def __init__(self, gateway: Gateway, server: str) -> None:
        self._gateway = gateway
        self._server = server
        self.pool: ServerPool = gateway.pools[server]

    @property
    def credentialEnv(self) -> tuple[str, ...]:
        return self.pool.spec.credentialEnv

    def open(
        self,
        request: Request,
        initialize: Message,
        version: str,
        *,
        clientPid: int | None,
        connection: Connection | None,
        scope: str,
        credentialKey: str,
        credentials: Credentials,
        principal: str,
    ) -> tuple[Session, Deferred[Message]]:
        return self._gateway.openSession(
            self._server,
            initialize,
            version,
            clientPid=clientPid,
            connection=connection,
            scope=scope,
            credentialKey=credentialKey,
            credentials=credentials,
            principal=principal,
        )

    def gone(self, session: Session) -> str | None:
        return self.pool.gone(session)

    def forward(
        self, session: Session, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        return self.pool.forward(session, message, related)

    def notify(self, session: Session, message: Message) -> None:
        self.pool.notify(session, message)

    def answer(self, session: Session, message: Message) -> bool:
        return self.pool.answer(session, message)

    def bind(self, session: Session, request: Request) -> None:
        """Nothing: the session's server is the one the door let through."""


class McpEndpoint(Resource):
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
        modern: ModernService | None = None,
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
        self.modern = ModernEndpoint(
            modern if modern is not None else gateway,
            server,
            clock,
            limits,
            self.clientErrors,
            self._modernCredentials,
            scope,
            loopbackOnly,
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
            if _modernHeader(request):
                return self.modern.notAllowed(request)
            request.setHeader("allow", "GET, POST, DELETE")
            return self._refuse(
                request,
                405,
                jsonrpc.INVALID_REQUEST,
                f"method {method.decode('ascii', 'replace')[:16]} is not allowed",
            )
        except _AfterPredecessor as later:
            return self._later(request, later.waiting, later.requestId)
        except _ForwardTo as forward:
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
        gone = _watchDisconnect(request)

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
        gone = _watchDisconnect(request)
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
                request.write(_internalErrorReply(request))
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
        modern = _isModern(payload, version)
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
        if modern:
            if version is None or version in versions.MODERN_VERSIONS or _isModern(payload, None):
                return self.modern.post(request, payload)
            # Modern by its header alone, which names no revision at all.
            return self._refuse(
                request, 400, jsonrpc.INVALID_REQUEST, unsupportedVersion(version), _idOf(payload)
            )
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

    def _admit(self, request: Request, payload: Any) -> bytes | None:
        """Count the requests of C{payload} against the principal's limits:
        C{None} when admitted (released when the HTTP request ends), else
        the 429 to answer (C{Retry-After}, a JSON-RPC -32004 body)."""
        assert self._quota is not None
        count = requestCount(payload)
        if not count or getattr(request, "quotaHeld", False):
            return None  # nothing to count, or counted before (rendered again)
        if getattr(request, "fromPeer", False):
            return None  # counted by the replica the client sent it to
        key = principalKey(request)
        retryAfter = self._quota.admit(key, count)
        if retryAfter is None:
            quota = self._quota
            request.quotaHeld = True  # type: ignore[attr-defined]
            request.notifyFinish().addBoth(lambda _: quota.release(key, count))
            return None
        if self._throttled is not None:
            self._throttled()
        seconds = max(1, math.ceil(retryAfter))
        request.setHeader(b"retry-after", str(seconds).encode("ascii"))
        requestId = validIdOrNull(payload.get("id")) if isinstance(payload, dict) else None
        note = auditNote(request)
        if note is not None:
            note.settle("refused", jsonrpc.TOO_MANY_REQUESTS)
            claimed = header(request, "mcp-session-id")
            if claimed:  # refused before the session is looked up: named as claimed
                note.session = shortId(claimed)
        self.clientErrors.note(request, 429, "over the principal's request limits")
        return errorReply(
            request,
            429,
            jsonrpc.TOO_MANY_REQUESTS,
            f"too many requests: over this caller's limits; retry in {seconds} s",
            requestId,
        )

    def _noRoom(self, caller: str, limit: int, own: int) -> str:
        """Whose sessions fill which limit, for an C{initialize} refused."""
        opened = self._gateway.liveSessionsOf(caller)
        if not caller:
            return f"the gateway has {opened} sessions open, its limit"
        if opened >= own:
            return f"this caller has {opened} sessions open, its limit of {own} per caller"
        return f"the gateway has {limit} sessions open, its limit, {opened} of them this caller's"

    def _initialize(self, request: Request, message: Message) -> int | bytes:
        problem = envelope.checkRequest(message)
        if problem is None:
            problem = envelope.sessionInfoProblem(message["params"], self._limits.maxSessionInfo)
        if problem is not None:
            return self._refuse(request, 400, *problem, message["id"])
        limit, own = self._limits.maxSessions, self._limits.maxSessionsPerPrincipal
        caller = principalKey(request)
        if not self._gateway.makeRoom(limit, caller, own):  # else the caller's idlest ends
            request.setHeader(b"Retry-After", str(SESSION_RETRY_AFTER).encode("ascii"))
            return self._refuse(
                request,
                503,
                jsonrpc.SERVER_UNAVAILABLE,
                f"{self._noRoom(caller, limit, own)}, each with a GET stream or a request in"
                " flight: end one (DELETE), or initialize again later",
                message["id"],
            )
        params = message["params"]
        version = versions.negotiate(params["protocolVersion"])
        try:
            credentialKey, credentials = self._credentialsOf(request)
        except BadCredential as e:
            return self._refuse(request, 400, jsonrpc.INVALID_REQUEST, str(e), message["id"])
        started = self._clock.seconds()
        active = tracing.tracer
        span: tracing.Span | None = None
        if active is not None:
            span, message = tracing.startServer(
                active, message, None, version, header(request, "traceparent")
            )
            span.setAttribute("mcpgateway.server", self._server)
        try:
            session, opened = self.backend.open(
                request,
                message,
                version,
                clientPid=_headerPid(request) if not principalKey(request) else None,
                connection=_loopbackConnection(request),
                scope=self._scope,
                credentialKey=credentialKey,
                credentials=credentials,
                principal=principalKey(request),
            )
        except UnknownRoute as e:
            # The route went away between routing and here (a reload).
            if span is not None:
                tracing.finish(span, "error")
            return self._refuse(
                request, 404, jsonrpc.INVALID_REQUEST, f"no route: {e}", message["id"]
            )
        gone = _watchDisconnect(request)
        note = auditNote(request)
        if note is not None:
            opened.addCallback(note.opened, _shortId(session))
            opened.addCallbacks(note.answered, note.failed)
        if span is not None:
            span.setAttribute("mcp.session.id", _shortId(session))
        opened.addBoth(self._measured, "initialize", started, span)

        def answer(response: Message) -> None:
            if gone:
                return
            if "result" in response:
                request.setHeader(b"mcp-session-id", session.id.encode("ascii"))
            request.write(jsonReply(request, 200, self._forCaller(response, request)))
            request.finish()

        def failed(reason: Failure) -> None:
            if gone:
                return
            request.write(jsonReply(request, 200, self._errorFor(message["id"], reason, request)))
            request.finish()

        opened.addCallbacks(answer, failed)
        return NOT_DONE_YET

    def _modernCredentials(self, request: Request) -> tuple[str, Credentials] | str:
        """L{_credentialsOf} for a modern request: why they cannot be used,
        as text, instead of raising."""
        try:
            return self._credentialsOf(request)
        except BadCredential as e:
            return str(e)

    def _credentialsOf(self, request: Request) -> tuple[str, Credentials]:
        """The credential key and values the request's C{X-Mcp-Env-*}
        headers give (C{("", ())} for none, or for a server without
        C{credentialEnv}); other such headers are counted and their names
        logged once.

        @raise BadCredential: see L{readCredentials}.
        """
        names = self.backend.credentialEnv
        if not names:
            self._ignored(ignoredCredentialHeaders(request, ()))
            return "", ()
        self._ignored(ignoredCredentialHeaders(request, names))
        values = readCredentials(request, names)
        if not values:
            return "", ()
        if self._keys is None:
            raise BadCredential("this endpoint takes no credential headers")
        return self._keys.credential(dict(values)), values

    def _ignored(self, names: list[str]) -> None:
        if not names:
            return
        self.ignoredCredentialHeaders += len(names)
        new = sorted(set(names) - self._ignoredNames)
        if new and len(self._ignoredNames) < 64:
            self._ignoredNames.update(new)
            self.log.warn(
                "server {server}: ignored the header(s) {names}: its entry does not list"
                ' them in "credentialEnv", so they never reach its children',
                server=self._server,
                names=", ".join(f"X-Mcp-Env-{name}" for name in new),
            )

    def _credentialProblem(self, request: Request, session: Session) -> tuple[int, str] | None:
        """Why the request's credential headers do not fit C{session} (the
        JSON-RPC code and text), or C{None}. A header that cannot be used
        (L{BadCredential}: repeated, too long, not UTF-8) is C{-32600}, as on
        C{initialize}, and always HTTP 400; values that are not the
        session's are C{-32602}, in-band for a request. A session restored
        from a previous process (its values are never saved) is bound again
        to the values it gives."""
        if not self.backend.credentialEnv:
            return None
        try:
            credentialKey, credentials = self._credentialsOf(request)
        except BadCredential as e:
            return jsonrpc.INVALID_REQUEST, str(e)
        if session.variant is None and session.credential:
            if not credentials:
                return jsonrpc.INVALID_PARAMS, (
                    "this session's credentials are not known to this gateway process (it"
                    " restarted): send its X-Mcp-Env-* headers again, or initialize again"
                )
            if self._gateway.rebind(session, credentialKey, credentials):
                return None
        elif not credentials or credentialKey == session.credential:
            return None
        return (
            jsonrpc.INVALID_PARAMS,
            "credentials differ from this session's; initialize again to use them",
        )

    def _batchSize(self, request: Request, batch: list[Any]) -> bytes | None:
        """The refusal of an empty batch (400) or one of more than
        C{maxBatch} messages (413), else C{None}."""
        if not batch:
            return self._refuse(
                request, 400, jsonrpc.INVALID_REQUEST, "Invalid Request: empty batch"
            )
        if len(batch) > self._limits.maxBatch:
            return self._refuse(
                request,
                413,
                jsonrpc.INVALID_REQUEST,
                f"Invalid Request: a batch of {len(batch)} messages is over the"
                f" limit of {self._limits.maxBatch}",
            )
        return None

    def _batch(self, request: Request, batch: list[Any], version: str | None) -> bytes | int:
        """A batch (of a size L{_batchSize} let through)."""
        if any(isinstance(m, dict) and m.get("method") == "initialize" for m in batch):
            return self._refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                "Invalid Request: initialize must not be part of a batch",
            )
        session = self._session(request, version)
        if isinstance(session, bytes):
            return session
        if session.protocolVersion != "2025-03-26":
            return self._refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                "Invalid Request: batches are only allowed in protocol 2025-03-26",
            )
        differ = self._credentialProblem(request, session)
        if differ is not None:
            return self._refuse(request, 400, *differ)
        # Check everything before acting on anything: a batch is refused whole,
        # or each of its requests gets its answer.
        requests: list[Message] = []
        answers: list[Message] = []
        others: list[tuple[Kind, Message]] = []
        refusals: list[str] = []
        for index, item in enumerate(batch):
            kind = jsonrpc.classify(item)
            if kind is Kind.INVALID:
                return self._refuse(
                    request,
                    400,
                    jsonrpc.INVALID_REQUEST,
                    f"Invalid Request: batch element {index} is not a JSON-RPC message",
                )
            problem = envelope.check(item, kind)
            if problem is not None:
                if kind is not Kind.REQUEST or problem[0] == jsonrpc.INVALID_REQUEST:
                    return self._refuse(
                        request, 400, problem[0], f"batch element {index}: {problem[1]}"
                    )
                answers.append(jsonrpc.errorResponse(item["id"], *problem))
                refusals.append(problem[1])
            elif kind is not Kind.REQUEST:
                others.append((kind, item))
            elif item["method"] == "ping":
                answers.append(jsonrpc.resultResponse(item["id"], {}))
            else:
                requests.append(item)
        room = max(self._maxInFlight - session.inFlight, 0)
        if len(requests) > room:
            for item in requests[room:]:
                answers.append(self._busy(item, session.inFlight + room))
            refusals.append(answers[-1]["error"]["message"])
            requests = requests[:room]
        if refusals:
            self.clientErrors.note(
                request, 200, f"{len(refusals)} request(s) of a batch refused, first: {refusals[0]}"
            )
        for kind, item in others:
            if kind is Kind.NOTIFICATION:
                self._notification(session, item)
            else:
                self._response(session, item)
        if not requests and not answers:
            return accepted(request)
        return self._forward(request, session, requests, answers)

    def _notification(self, session: Session, message: Message) -> None:
        self.backend.notify(session, message)

    def _response(self, session: Session, message: Message) -> None:
        self.backend.answer(session, message)

    def _forward(
        self,
        request: Request,
        session: Session,
        messages: list[Message],
        answers: list[Message] | None = None,
    ) -> int | bytes:
        """Send C{messages} to the session's child; C{answers} (to a batch's
        requests the gateway answered itself) go first on the same stream.
        The callers keep within the session's in-flight limit."""
        pool = self.backend
        if messages:
            gone = pool.gone(session)
            if gone is not None:
                self._gateway.endSession(session, gone)
                return self._refuse(
                    request,
                    404,
                    jsonrpc.INVALID_REQUEST,
                    f"Session not found: {gone}",
                    messages[0]["id"] if len(messages) == 1 and not answers else None,
                )
        stream = SSEStream(request, self._clock, False, self._keepAlive, self._logFor(session, "p"))
        started = self._clock.seconds()
        active = tracing.tracer
        if not answers and len(messages) == 1:
            # The common case: one request, its response ends the stream.
            message = messages[0]
            span: tracing.Span | None = None
            if active is not None:
                span, message = self._serverSpan(active, request, session, message)
            try:
                response = pool.forward(session, message, stream.send)
            except Exception:
                self.log.failure(
                    "server {server}: routing {method} failed",
                    server=self._server,
                    method=message["method"],
                )
                stream.end(_internalError(message["id"]))
                self._measured(None, message["method"], started, span, "error")
                note = auditNote(request)
                if note is not None:
                    note.settle("error", jsonrpc.INTERNAL_ERROR)
                return NOT_DONE_YET
            session.inFlight += 1
            note = auditNote(request)
            if note is not None:
                response.addCallbacks(note.answered, note.failed)
            # The answer is written first, then measured: its client need
            # not wait for the bookkeeping.
            response.addBoth(self._answeredLast, message, session, stream, started, span, request)
            return NOT_DONE_YET
        if not messages:
            assert answers
            for answer in answers[:-1]:
                stream.send(answer)
            stream.end(answers[-1])
            return NOT_DONE_YET
        for answer in answers or ():
            stream.send(answer)
        remaining = [len(messages)]

        def sent(_: object) -> None:
            session.inFlight -= 1
            remaining[0] -= 1
            if remaining[0] == 0:
                stream.close()

        note = auditNote(request)
        for message in messages:
            session.inFlight += 1
            oneSpan: tracing.Span | None = None
            if active is not None:
                oneSpan, message = self._serverSpan(active, request, session, message)
            one: Deferred[Any] = maybeDeferred(pool.forward, session, message, stream.send)
            one.addBoth(self._measured, message["method"], started, oneSpan)
            if note is not None:
                one.addCallbacks(note.answered, note.failed)
            one.addCallback(self._forCaller, request)
            one.addCallbacks(stream.send, self._failed, errbackArgs=(message, stream, request))
            one.addBoth(sent)
        return NOT_DONE_YET

    def _serverSpan(
        self, active: tracing.Tracer, request: Request, session: Session, message: Message
    ) -> tuple[tracing.Span, Message]:
        """The SERVER span of a client request, and the request carrying its
        context (the parent of the router's CLIENT span)."""
        span, message = tracing.startServer(
            active,
            message,
            _shortId(session),  # the id itself is the session's secret: never exported
            session.protocolVersion,
            header(request, "traceparent"),
        )
        span.setAttribute("mcpgateway.server", self._server)
        return span, message

    def _measured(
        self,
        result: Any,
        method: str,
        started: float,
        span: tracing.Span | None,
        outcome: str | None = None,
    ) -> Any:
        """A client request was answered (or failed) with C{result}: see
        L{measure.answered}."""
        return measure.answered(
            result, self._operations, self._clock, self._server, method, started, span, outcome
        )

    def _busy(self, message: Message, waiting: int) -> Message:
        """The answer to a request over the session's in-flight limit, while
        C{waiting} of its requests wait for the child."""
        return jsonrpc.errorResponse(
            message["id"],
            jsonrpc.TOO_MANY_REQUESTS,
            f"too many requests in flight: this session already has {waiting} waiting for"
            f" server '{self._server}', the most one session may have ({self._maxInFlight});"
            " send more when some are answered",
        )

    def _answered(self, response: Message, session: Session, stream: SSEStream) -> None:
        session.inFlight -= 1
        stream.end(response)

    def _answeredLast(
        self,
        result: Message | Failure,
        message: Message,
        session: Session,
        stream: SSEStream,
        started: float,
        span: tracing.Span | None,
        request: IRequest,
    ) -> None:
        """The request that ends C{stream} was answered (or failed) with
        C{result}: write it, then measure it."""
        if isinstance(result, Failure):
            self._failedLast(result, message, session, stream, request)
        else:
            self._answered(self._forCaller(result, request), session, stream)
        self._measured(result, message["method"], started, span)

    def _failedLast(
        self,
        reason: Failure,
        message: Message,
        session: Session,
        stream: SSEStream,
        request: IRequest,
    ) -> None:
        session.inFlight -= 1
        if reason.check(CancelledError):
            stream.close()  # cancelled by the client or its session ending: no response
        else:
            stream.end(self._errorFor(message["id"], reason, request))

    def _failed(
        self, reason: Failure, message: Message, stream: SSEStream, request: IRequest
    ) -> None:
        if reason.check(CancelledError):
            return  # cancelled by the client or its session ending: no response
        stream.send(self._errorFor(message["id"], reason, request))

    def _forCaller(self, response: Message, request: IRequest) -> Message:
        """C{response} as C{request}'s caller may read it (L{forCaller}): the
        gateway's C{-32003} (the child exited while the request waited)
        quotes the child's stderr, which only a caller L{showsChildText}
        allows gets; the others get the gateway's own words. A result has
        nothing to hide: the caller is not looked at (the answer's way out)."""
        if type(response.get("error")) is not dict:
            return response
        return forCaller(response, self._showsChildText(request))

    def _showsChildText(self, request: IRequest) -> bool:
        return showsChildText(self._loopbackOnly, principalOf(request), request)

    def _errorFor(self, requestId: Any, reason: Failure, request: IRequest) -> Message:
        """The answer to a request that failed with C{reason}: a server's
        failure may quote its child's stderr, which only a caller
        L{showsChildText} allows reads (the others get the gateway's own
        words, L{publicReason}); anything else is the gateway's defect."""
        if reason.check(ServerUnavailable, SessionGone):
            text = str(reason.value)
            if not self._showsChildText(request):
                text = publicReason(text)
            return jsonrpc.errorResponse(requestId, jsonrpc.SERVER_UNAVAILABLE, text)
        self.log.failure("request to server {server} failed", failure=reason, server=self._server)
        return jsonrpc.errorResponse(
            requestId, jsonrpc.INTERNAL_ERROR, f"gateway error: {reason.getErrorMessage()}"
        )

    # -- GET and DELETE ------------------------------------------------------

    def _get(self, request: Request) -> bytes | int:
        if _modernHeader(request) and header(request, "mcp-session-id") is None:
            return self.modern.notAllowed(request)
        refusal = checkGetHeaders(request)
        if refusal is not None:
            return self._refuse(request, refusal[0], jsonrpc.INVALID_REQUEST, refusal[1])
        session = self._session(request, header(request, "mcp-protocol-version"))
        if isinstance(session, bytes):
            return session
        differ = self._credentialProblem(request, session)
        if differ is not None:
            return self._refuse(request, 400, *differ)
        lastEventId = header(request, "last-event-id")
        if lastEventId is not None and resumable(session.protocolVersion):
            resumed = self._resume(request, session, lastEventId)
            if resumed is not None:
                return resumed
        current = session.getStream
        if isinstance(current, SSEStream) and current.open:
            if current.connected:
                return self._refuse(
                    request,
                    409,
                    jsonrpc.INVALID_REQUEST,
                    "Conflict: this session already has an open GET stream",
                )
            current.close()  # its connection is gone and the client did not resume it
        if getattr(getattr(request, "site", None), "handingOver", False):
            return self._handedOver(request, session)
        stream = SSEStream(request, self._clock, True, self._keepAlive, self._logFor(session, "g"))
        session.getStream = stream
        stream.onClose(session.streamEnded)
        return NOT_DONE_YET

    def _handedOver(self, request: Request, session: Session) -> bytes:
        """A new GET stream while a restart's successor takes over
        (L{mcpgateway.web.app.GatewaySite.handOver}): it must not hold this
        process open. An SSE response that ends at once, on a connection that
        closes (C{Connection: close}, see C{GatewayChannel.checkPersistence}),
        so the client opens the stream again, at the successor; a resumable
        session is told when (C{retry:}), an older one gets no event."""
        request.setResponseCode(200)
        request.setHeader(b"content-type", b"text/event-stream")
        request.setHeader(b"cache-control", b"no-cache")
        if resumable(session.protocolVersion):
            return b"retry: %d\n\n" % self.replay.retryMs
        return b""

    def _resume(self, request: Request, session: Session, lastEventId: str) -> bytes | int | None:
        """Resume the stream C{lastEventId} belongs to over this GET; C{None}
        to open a fresh GET stream instead."""
        found = self.replay.find(session.id, lastEventId)
        if found is not None:
            log, seq = found
            stream = log.stream
            if stream is not None and (log.kind == "p" or stream is session.getStream):
                if log.evicted > seq:
                    self.log.warn(
                        "server {server}: session {session}: resuming stream {stream} after"
                        " event {seq}, but events up to {evicted} were dropped (over the"
                        " replay bounds); the client misses them",
                        server=self._server,
                        session=_shortId(session),
                        stream=log.key,
                        seq=seq,
                        evicted=log.evicted,
                    )
                stream.attach(request, seq)
                return NOT_DONE_YET
        # An id this gateway no longer has: evicted after its TTL, answered
        # and delivered, or from an earlier gateway process. MCP 2025-11-25
        # (basic/transports §Resumability and Redelivery, item 2) makes the
        # replay a MAY and says nothing more; 404 would tell the client its
        # session ended (§Session Management, item 3), which it did not. For
        # the GET stream we open a fresh one (§Listening for Messages from the
        # Server: a GET is answered with an SSE stream); for a request's
        # stream a fresh stream would never carry the response the client
        # waits for, so it gets 400 (as the TypeScript SDK's reference server
        # answers an unknown event id) and gives up on that request.
        shown = envelope.shown(lastEventId)
        if kindOf(lastEventId) == "g":
            self.log.info(
                "server {server}: session {session}: Last-Event-ID {id} is no longer known;"
                " opened a fresh GET stream",
                server=self._server,
                session=_shortId(session),
                id=shown,
            )
            return None
        return self._refuse(
            request,
            400,
            jsonrpc.INVALID_REQUEST,
            f"Bad Request: Last-Event-ID {shown} is not known (its stream ended, expired"
            " or belongs to an earlier gateway process); nothing to resume",
        )

    def _delete(self, request: Request) -> bytes:
        if _modernHeader(request) and header(request, "mcp-session-id") is None:
            return self.modern.notAllowed(request)
        session = self._session(request, header(request, "mcp-protocol-version"))
        if isinstance(session, bytes):
            return session
        note = auditNote(request)
        if note is not None:
            note.method = "session/delete"
        if self.backend.credentialEnv:
            # An unusable credential header is refused here as on every
            # request of the session; the values themselves are not compared
            # (ending a session needs no child, and a restored session's
            # client may end it without them).
            try:
                self._credentialsOf(request)
            except BadCredential as e:
                return self._refuse(request, 400, jsonrpc.INVALID_REQUEST, str(e))
        if note is not None:
            note.settle("ok")
        ended, pids = self._gateway.endSessions([session], "session deleted by the client")
        return jsonReply(request, 200, {"ended": {"sessions": ended, "childPids": pids}})

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
                _idOf(payload),
            )
        if sessionId is None:
            return self._refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                "Bad Request: Mcp-Session-Id header is required",
                _idOf(payload),
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
                raise _AfterPredecessor(waiting, _idOf(payload))
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
                request, 404, jsonrpc.INVALID_REQUEST, "Session not found", _idOf(payload)
            )
        self._gateway.sessions.touch(session)
        if session.clientPid is None:
            self._gateway.lookForOwner(session, _loopbackConnection(request))
        self.backend.bind(session, request)
        note = auditNote(request)
        if note is not None:
            note.session = _shortId(session)
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
        return self._refuse(request, 503, jsonrpc.SERVER_UNAVAILABLE, STOPPING, _idOf(payload))

    def _clustered(self, request: Request, sessionId: str) -> Session | None:
        """The session a sealed id names, when it is served here; raises
        L{_ForwardTo} when its owner is another replica that answers."""
        assert self._cluster is not None
        fromPeer = bool(getattr(request, "fromPeer", False))
        failed = bool(getattr(request, "forwardFailed", False))
        where = self._cluster.resolve(
            sessionId, self._server, self._scope, principalOf(request), fromPeer or failed
        )
        if isinstance(where, Forward):
            raise _ForwardTo(where.owner)
        if isinstance(where, Local):
            return where.session
        return None


_SUPPORTED = ", ".join(versions.HANDSHAKE_VERSIONS)


def unsupportedVersion(version: str) -> str:
    """The refusal of an C{MCP-Protocol-Version} the gateway does not serve
    (the client's value, then the revisions it does serve)."""
    return (
        f"Bad Request: unsupported MCP-Protocol-Version {envelope.shown(version)};"
        f" supported: {_SUPPORTED} (after initialize), and"
        f" {', '.join(versions.MODERN_VERSIONS)} (per request, with the _meta envelope)"
    )


def _idOf(payload: Any) -> Any:
    """The id a refusal of the POSTed C{payload} carries: a request's id
    (C{validIdOrNull}), C{None} for a notification, a batch or no body."""
    if isinstance(payload, dict) and "method" in payload:
        return validIdOrNull(payload.get("id"))
    return None


def _shortId(session: Session) -> str:
    """How logs and the audit name a session (never its whole id)."""
    short = getattr(session, "shortId", None)
    return short if isinstance(short, str) else session.id[:8]


def _isModern(payload: Any, version: str | None) -> bool:
    """Whether a POSTed body belongs to the 2026-07-28 era (a batch does
    when the header, or any of its messages, says so)."""
    if versions.eraOf(payload, version) is versions.Era.MODERN:
        return True
    return isinstance(payload, list) and any(
        versions.eraOf(item, None) is versions.Era.MODERN for item in payload
    )


def _modernHeader(request: Request) -> bool:
    """Whether C{MCP-Protocol-Version} names a revision outside the handshake era."""
    version = header(request, "mcp-protocol-version")
    return version is not None and version not in versions.HANDSHAKE_VERSIONS


def _internalErrorReply(request: IRequest) -> bytes:
    return errorReply(
        request, 500, jsonrpc.INTERNAL_ERROR, "internal error in the gateway; see its log"
    )


def _internalError(requestId: Any) -> Message:
    return jsonrpc.errorResponse(
        requestId, jsonrpc.INTERNAL_ERROR, "internal error in the gateway; see its log"
    )


def _headerPid(request: Request) -> int | None:
    """The C{X-Client-Pid} header, when it is a plausible pid. Not asked
    on an authenticated request: its client may run on another machine,
    where its pid names nothing on the gateway's host."""
    value = header(request, "x-client-pid")
    value = value.strip() if value is not None else ""
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        return None
    pid = int(value)
    return pid if 0 < pid < 2**31 else None


def _loopbackConnection(request: Request) -> tuple[str, int, str, int] | None:
    """(peer host, peer port, local host, local port) of a loopback TCP request."""
    peer, local = request.getClientAddress(), request.getHost()
    tcp = (IPv4Address, IPv6Address)
    if isinstance(peer, tcp) and isinstance(local, tcp) and isLoopbackHost(peer.host):
        return peer.host, peer.port, local.host, local.port
    return None


def _watchDisconnect(request: Request) -> list[bool]:
    """A list that becomes truthy when the client goes away before the answer."""
    gone: list[bool] = []
    request.notifyFinish().addErrback(lambda _: gone.append(True))
    return gone
