# -*- test-case-name: tests.web.endpoints.test_mcp,tests.web.endpoints.test_flowpaths -*-
"""How the MCP endpoint forwards the requests of a batch to its session's backend.

One job: a batch's requests go to the session's backend; their answers
are written on one SSE stream as they come (the request's streams are
made here, L{EndpointForwarder.openStream}), measured (each request's span and
duration) and audited; a failure becomes the JSON-RPC error the client is
owed. The callers keep within the session's in-flight limit
(L{EndpointForwarder.busy} answers a request over it). One request alone is the
POST pipeline's (L{mcpgateway.web.endpoints.mcppost.McpPost.forward},
L{EndpointForwarder.one}): its answer waits as one JSON body
(L{mcpgateway.web.endpoints.mcppost.PendingAnswer}).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import CancelledError, Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.core import stats, tracing
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.web.endpoints.answers import CallerAnswers
from mcpgateway.web.endpoints.auditnote import AuditNote, shortName
from mcpgateway.web.endpoints.backends import Backend
from mcpgateway.web.endpoints.guard import header
from mcpgateway.web.endpoints.refusals import EndpointRefusals
from mcpgateway.web.endpoints.streams import logFor
from mcpgateway.web.plumbing.replay import ReplayStore
from mcpgateway.web.plumbing.requestcontext import contextOf
from mcpgateway.web.plumbing.sse import SSEStream, keepAliveFor

if TYPE_CHECKING:
    from mcpgateway.flow.step import FlowStep

EndSession = Callable[[Session, str], object]
"""End a session whose child is gone, for the reason given
(L{mcpgateway.core.gateway.gateway.Gateway.endSession})."""


ForwardOne = Callable[[Request, Session, Message, "AuditNote | None"], "int | bytes"]
"""Forwards one request alone, its answer written when it comes."""


def _noOne(request: Request, session: Session, message: Message, note: object) -> int | bytes:
    raise NotImplementedError("no forwarder of one request was given")


class EndpointForwarder:
    """The requests of one MCP endpoint's sessions, forwarded and answered."""

    def __init__(
        self,
        backend: Backend,
        endSession: EndSession,
        refusals: EndpointRefusals,
        answers: CallerAnswers,
        replay: ReplayStore,
        clock: IReactorTime,
        limits: MessageBounds,
        server: str,
        log: Logger,
    ) -> None:
        """
        @param backend: what serves the endpoint's sessions.
        @param answers: what each caller may read of an answer.
        @param replay: where a resumable session's streams are kept.
        @param log: where a failure of the gateway is logged.
        """
        self._backend = backend
        self._endSession = endSession
        self._refusals = refusals
        self._answers = answers
        self._replay = replay
        self._clock = clock
        self._operations = stats.operationsFor(clock)
        self._keepAlive = limits.keepAliveInterval
        self._ticker = keepAliveFor(clock, limits.keepAliveInterval)
        self._maxInFlight = limits.maxInFlightPerSession
        self._server = server
        self._log = log
        self.one: ForwardOne = _noOne
        """Forwards one request alone
        (L{mcpgateway.web.endpoints.mcppost.McpPost.forwardCall}, set by the
        endpoint that makes both)."""
        self.flow: FlowStep | None = None
        """The flow rule on a batch's C{tools/call} requests, asked only
        while it is active (L{mcpgateway.flow.step.FlowStep.through})."""

    def forward(
        self,
        request: Request,
        session: Session,
        messages: list[Message],
        answers: list[Message] | None = None,
    ) -> int | bytes:
        """Send C{messages} to the session's child; C{answers} (to a batch's
        requests the gateway answered itself) go first on the same stream.
        The callers keep within the session's in-flight limit. One request
        alone goes to L{one}: its answer is one JSON body unless something
        related to it comes first."""
        if not answers and len(messages) == 1:
            return self.one(request, session, messages[0], contextOf(request).auditNote)
        pool = self._backend
        if messages:
            gone = pool.gone(session)
            if gone is not None:
                self._endSession(session, gone)
                return self._refusals.refuse(
                    request,
                    404,
                    jsonrpc.INVALID_REQUEST,
                    f"Session not found: {gone}",
                )
        started = self._clock.seconds()
        active = tracing.tracer
        stream = self.openStream(request, session, False)
        if not messages:
            assert answers
            for answer in answers[:-1]:
                stream.send(answer)
            stream.end(answers[-1])
            return NOT_DONE_YET
        for answer in answers or ():
            stream.send(answer)
        self._forwardMany(request, session, messages, stream, started, active)
        return NOT_DONE_YET

    def openStream(self, request: Request, owner: Session, headersNow: bool) -> SSEStream:
        """A new SSE stream of session C{owner} over C{request} (resumable
        when its version is, L{logFor}); its head goes out at once when
        C{headersNow}, else with its first event or after a second."""
        return SSEStream(
            request, self._clock, headersNow, self._keepAlive, logFor(self._replay, owner, "p")
        )

    def _forwardMany(
        self,
        request: Request,
        session: Session,
        messages: list[Message],
        stream: SSEStream,
        started: float,
        active: tracing.Tracer | None,
    ) -> None:
        """Send a batch's C{messages}, each answer on C{stream} as it comes;
        the last one closes it."""
        pool = self._backend
        remaining = [len(messages)]

        def sent(_: object) -> None:
            session.inFlight -= 1
            remaining[0] -= 1
            if remaining[0] == 0:
                stream.close()

        note = contextOf(request).auditNote
        flow = self.flow
        if flow is not None and not flow.active:
            flow = None
        for message in messages:
            session.inFlight += 1
            oneSpan: tracing.Span | None = None
            if active is not None:
                oneSpan, message = serverSpan(active, request, session, message, self._server)
            one: Deferred[Any]
            if flow is not None and message["method"] == "tools/call":
                # Each call decided alone: a held one waits, the others' answers go on.
                one = flow.through(
                    session,
                    self._server,
                    message.get("params"),
                    partial(pool.forward, session, message, stream.send),
                    flow.answered(message["id"]),
                )
            else:
                one = maybeDeferred(pool.forward, session, message, stream.send)
            one.addBoth(self.measured, message["method"], started, oneSpan)
            if note is not None:
                one.addCallbacks(note.answered, note.failed)
            one.addCallback(self._answers.forCaller, request)
            one.addCallbacks(stream.send, self._failed, errbackArgs=(message, stream, request))
            one.addBoth(sent)

    def measured(
        self,
        result: Any,
        method: str,
        started: float,
        span: tracing.Span | None,
        outcome: str | None = None,
    ) -> Any:
        """A client request was answered (or failed) with C{result}: see
        L{stats.answered}."""
        return stats.answered(
            result, self._operations, self._clock, self._server, method, started, span, outcome
        )

    def busy(self, message: Message, waiting: int) -> Message:
        """The answer to a request over the session's in-flight limit, while
        C{waiting} of its requests wait for the child."""
        return jsonrpc.errorResponse(
            message["id"],
            jsonrpc.TOO_MANY_REQUESTS,
            f"too many requests in flight: this session already has {waiting} waiting for"
            f" server '{self._server}', the most one session may have ({self._maxInFlight});"
            " send more when some are answered",
        )

    def _failed(
        self, reason: Failure, message: Message, stream: SSEStream, request: IRequest
    ) -> None:
        if reason.check(CancelledError):
            return  # cancelled by the client or its session ending: no response
        stream.send(self._answers.errorFor(message["id"], reason, request))


def serverSpan(
    active: tracing.Tracer, request: Request, session: Session, message: Message, server: str
) -> tuple[tracing.Span, Message]:
    """The SERVER span of a client request to C{server}, and the request
    carrying its context (the parent of the router's CLIENT span)."""
    span, message = tracing.startServer(
        active,
        message,
        shortName(session),  # the id itself is the session's secret: never exported
        session.protocolVersion,
        header(request, "traceparent"),
    )
    span.setAttribute("mcpgateway.server", server)
    return span, message
