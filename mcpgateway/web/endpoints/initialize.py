# -*- test-case-name: tests.web.endpoints.test_mcp,tests.web.endpoints.test_session_capacity_web -*-
"""How the MCP endpoint opens a session.

One job: an C{initialize}. It is checked (its envelope, its session info),
admitted under the session limits (else the caller's idlest session ends,
or 503 with C{Retry-After}), its credential headers read, and the session
opened on the backend; the child's answer, as the caller may read it,
carries the new C{Mcp-Session-Id}.
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.core import stats, tracing
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.pool import UnknownRoute
from mcpgateway.protocol import envelope, jsonrpc, versions
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.web.endpoints.answers import CallerAnswers
from mcpgateway.web.endpoints.auditnote import shortName
from mcpgateway.web.endpoints.backends import Backend
from mcpgateway.web.endpoints.credentialcheck import CredentialCheck
from mcpgateway.web.endpoints.credentials import BadCredential
from mcpgateway.web.endpoints.guard import header
from mcpgateway.web.endpoints.principal import principalKey
from mcpgateway.web.endpoints.refusals import EndpointRefusals
from mcpgateway.web.endpoints.requestreading import headerPid, loopbackConnection, watchDisconnect
from mcpgateway.web.plumbing.replies import jsonReply
from mcpgateway.web.plumbing.requestcontext import contextOf

SESSION_RETRY_AFTER = 30
"""The C{Retry-After}, in seconds, of an C{initialize} refused for want of
room (the caller's sessions are all in use)."""


class EndpointInitializer:
    """The C{initialize} requests of one MCP endpoint (one server, one route)."""

    def __init__(
        self,
        gateway: Gateway,
        backend: Backend,
        credentials: CredentialCheck,
        answers: CallerAnswers,
        refusals: EndpointRefusals,
        clock: IReactorTime,
        limits: MessageBounds,
        server: str,
        scope: str,
    ) -> None:
        """
        @param gateway: whose session limits admit a new session.
        @param backend: what opens the endpoint's sessions.
        @param credentials: reads a request's credential headers.
        @param answers: what the caller may read of the answer.
        """
        self._gateway = gateway
        self._backend = backend
        self._credentials = credentials
        self._answers = answers
        self._refusals = refusals
        self._clock = clock
        self._operations = stats.operationsFor(clock)
        self._limits = limits
        self._server = server
        self._scope = scope

    def _noCapacity(self, caller: str, limit: int, own: int) -> str:
        """Whose sessions fill which limit, for an C{initialize} refused."""
        opened = self._gateway.sessionCapacity.liveOf(caller)
        if not caller:
            return f"the gateway has {opened} sessions open, its limit"
        if opened >= own:
            return f"this caller has {opened} sessions open, its limit of {own} per caller"
        return f"the gateway has {limit} sessions open, its limit, {opened} of them this caller's"

    def initialize(self, request: Request, message: Message) -> int | bytes:
        """Open a session with the C{initialize} request C{message}: answered
        once its child answered (C{NOT_DONE_YET}), or refused at once."""
        refuse = self._refusals.refuse
        problem = envelope.checkRequest(message)
        if problem is None:
            problem = envelope.sessionInfoProblem(message["params"], self._limits.maxSessionInfo)
        if problem is not None:
            return refuse(request, 400, *problem, message["id"])
        limit, own = self._limits.maxSessions, self._limits.maxSessionsPerPrincipal
        caller = principalKey(request)
        # A session over the limit takes the place of the caller's idlest, if any.
        if not self._gateway.sessionCapacity.admitSession(limit, caller, own):
            request.setHeader(b"Retry-After", str(SESSION_RETRY_AFTER).encode("ascii"))
            return refuse(
                request,
                503,
                jsonrpc.SERVER_UNAVAILABLE,
                f"{self._noCapacity(caller, limit, own)}, each with a GET stream or a request in"
                " flight: end one (DELETE), or initialize again later",
                message["id"],
            )
        params = message["params"]
        version = versions.negotiate(params["protocolVersion"])
        try:
            credentialKey, credentials = self._credentials.read(request)
        except BadCredential as e:
            return refuse(request, 400, jsonrpc.INVALID_REQUEST, str(e), message["id"])
        started = self._clock.seconds()
        active = tracing.tracer
        span: tracing.Span | None = None
        if active is not None:
            span, message = tracing.startServer(
                active, message, None, version, header(request, "traceparent")
            )
            span.setAttribute("mcpgateway.server", self._server)
        try:
            session, opened = self._backend.open(
                request,
                message,
                version,
                clientPid=headerPid(request) if not principalKey(request) else None,
                connection=loopbackConnection(request),
                scope=self._scope,
                credentialKey=credentialKey,
                credentials=credentials,
                principal=principalKey(request),
            )
        except UnknownRoute as e:
            # The route went away between routing and here (a reload).
            if span is not None:
                tracing.finish(span, "error")
            return refuse(request, 404, jsonrpc.INVALID_REQUEST, f"no route: {e}", message["id"])
        gone = watchDisconnect(request)
        note = contextOf(request).auditNote
        if note is not None:
            opened.addCallback(note.opened, shortName(session))
            opened.addCallbacks(note.answered, note.failed)
        if span is not None:
            span.setAttribute("mcp.session.id", shortName(session))
        opened.addBoth(
            stats.answered,
            self._operations,
            self._clock,
            self._server,
            "initialize",
            started,
            span,
        )
        answers = self._answers

        def answer(response: Message) -> None:
            if gone:
                return
            if "result" in response:
                request.setHeader(b"mcp-session-id", session.id.encode("ascii"))
            request.write(jsonReply(request, 200, answers.forCaller(response, request)))
            request.finish()

        def failed(reason: Failure) -> None:
            if gone:
                return
            request.write(jsonReply(request, 200, answers.errorFor(message["id"], reason, request)))
            request.finish()

        opened.addCallbacks(answer, failed)
        return NOT_DONE_YET
