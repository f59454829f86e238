# -*- test-case-name: tests.web.endpoints.test_mcp -*-
"""How the MCP endpoint forwards what a client posted to its session's backend.

One job: one request, or the requests of a batch, go to the session's
backend; their answers are written for the request, measured
(the request's span and duration) and audited; a failure becomes the
JSON-RPC error the client is owed. The callers keep within the session's
in-flight limit (L{Forwarder.busy} answers a request over it).

One request's answer waits as a L{PendingAnswer}: written as one JSON
body when nothing else comes first, which is the common case, and an SSE
stream (with its replay log) only from the moment it needs one
(L{mcpgateway.web.plumbing.oneanswer}). A batch's answers go on an SSE stream
from the start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.core import tracing
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.protocol.limits import Limits
from mcpgateway.web.endpoints.answers import CallerAnswers
from mcpgateway.web.endpoints.auditnote import auditNote
from mcpgateway.web.endpoints.backends import Backend
from mcpgateway.web.endpoints.guard import header
from mcpgateway.web.endpoints.refusals import Refusals
from mcpgateway.web.endpoints.requestfacts import internalError, shortName
from mcpgateway.web.endpoints.streams import logFor
from mcpgateway.web.plumbing import measure
from mcpgateway.web.plumbing.oneanswer import PendingAnswer
from mcpgateway.web.plumbing.replay import ReplayStore
from mcpgateway.web.plumbing.sse import SSEStream, keepAliveFor

EndSession = Callable[[Session, str], object]
"""End a session whose child is gone, for the reason given
(L{mcpgateway.core.gateway.gateway.Gateway.endSession})."""


class Forwarder:
    """The requests of one MCP endpoint's sessions, forwarded and answered."""

    def __init__(
        self,
        backend: Backend,
        endSession: EndSession,
        refusals: Refusals,
        answers: CallerAnswers,
        replay: ReplayStore,
        clock: IReactorTime,
        limits: Limits,
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
        self._operations = tracing.operationsFor(clock)
        self._keepAlive = limits.keepAliveInterval
        self._ticker = keepAliveFor(clock, limits.keepAliveInterval)
        self._maxInFlight = limits.maxInFlightPerSession
        self._server = server
        self._log = log

    def forward(
        self,
        request: Request,
        session: Session,
        messages: list[Message],
        answers: list[Message] | None = None,
    ) -> int | bytes:
        """Send C{messages} to the session's child; C{answers} (to a batch's
        requests the gateway answered itself) go first on the same stream.
        The callers keep within the session's in-flight limit."""
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
                    messages[0]["id"] if len(messages) == 1 and not answers else None,
                )
        clock = self._clock
        started = clock.seconds()
        active = tracing.tracer
        if not answers and len(messages) == 1:
            # The common case: one request, whose answer is one JSON body
            # unless something related to it comes first.
            message = messages[0]
            pending = PendingAnswer(request, started, self, session, self._ticker)
            span: tracing.Span | None = None
            if active is not None:
                span, message = self._serverSpan(active, request, session, message)
            try:
                response = pool.forward(session, message, pending.send)
            except Exception:
                self._log.failure(
                    "server {server}: routing {method} failed",
                    server=self._server,
                    method=message["method"],
                )
                pending.end(internalError(message["id"]))
                self.measured(None, message["method"], started, span, "error")
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
            response.addBoth(self._answeredLast, message, session, pending, started, span, request)
            return NOT_DONE_YET
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

        note = auditNote(request)
        for message in messages:
            session.inFlight += 1
            oneSpan: tracing.Span | None = None
            if active is not None:
                oneSpan, message = self._serverSpan(active, request, session, message)
            one: Deferred[Any] = maybeDeferred(pool.forward, session, message, stream.send)
            one.addBoth(self.measured, message["method"], started, oneSpan)
            if note is not None:
                one.addCallbacks(note.answered, note.failed)
            one.addCallback(self._answers.forCaller, request)
            one.addCallbacks(stream.send, self._failed, errbackArgs=(message, stream, request))
            one.addBoth(sent)

    def _serverSpan(
        self, active: tracing.Tracer, request: Request, session: Session, message: Message
    ) -> tuple[tracing.Span, Message]:
        """The SERVER span of a client request, and the request carrying its
        context (the parent of the router's CLIENT span)."""
        span, message = tracing.startServer(
            active,
            message,
            shortName(session),  # the id itself is the session's secret: never exported
            session.protocolVersion,
            header(request, "traceparent"),
        )
        span.setAttribute("mcpgateway.server", self._server)
        return span, message

    def measured(
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

    def _answeredLast(
        self,
        result: Message | Failure,
        message: Message,
        session: Session,
        pending: PendingAnswer,
        started: float,
        span: tracing.Span | None,
        request: IRequest,
    ) -> None:
        """The request that C{pending} waits for was answered (or failed)
        with C{result}: write it, then measure it."""
        if isinstance(result, Failure):
            session.inFlight -= 1
            if result.check(CancelledError):
                pending.close()  # cancelled by the client or its session ending: no response
            else:
                pending.end(self._answers.errorFor(message["id"], result, request))
        else:
            answer = self._answers.forCaller(result, request)
            session.inFlight -= 1
            pending.end(answer)
        self.measured(result, message["method"], started, span)

    def _failed(
        self, reason: Failure, message: Message, stream: SSEStream, request: IRequest
    ) -> None:
        if reason.check(CancelledError):
            return  # cancelled by the client or its session ending: no response
        stream.send(self._answers.errorFor(message["id"], reason, request))
