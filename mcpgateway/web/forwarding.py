# -*- test-case-name: tests.web.test_mcp -*-
"""How the MCP endpoint forwards what a client posted.

One message or a batch goes to the session's backend; its answers are
written as JSON or on the request's SSE stream, measured (the request's
span and duration) and audited; a failure becomes the JSON-RPC error the
client is owed. L{Forwarding} is a part of
L{mcpgateway.web.mcp.McpEndpoint}: the attributes and methods it declares
without defining are the endpoint's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import CancelledError, Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.core import tracing
from mcpgateway.core.catalogdata import publicReason
from mcpgateway.core.gateway import Gateway
from mcpgateway.core.pools.pool import ServerUnavailable, SessionGone
from mcpgateway.core.sessions import Session
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.protocol import envelope, jsonrpc
from mcpgateway.protocol.jsonrpc import Kind, Message
from mcpgateway.protocol.limits import Limits
from mcpgateway.web import measure
from mcpgateway.web.guard import (
    forCaller,
    header,
    showsChildText,
)
from mcpgateway.web.policystep import screenedAnswer
from mcpgateway.web.replay import StreamLog
from mcpgateway.web.sse import SSEStream

if TYPE_CHECKING:
    pass  # cryptography: clustered gateways only
from mcpgateway.web.auditnote import auditNote
from mcpgateway.web.backends import (
    Backend,
    principalOf,
)
from mcpgateway.web.replies import ClientErrors, accepted
from mcpgateway.web.requestfacts import (
    internalError,
    shortName,
)


class Forwarding:
    """Forwarding a posted message or batch, and answering it."""

    _clock: IReactorTime
    _credentialProblem: Callable[..., tuple[int, str] | None]
    _gateway: Gateway
    _keepAlive: float
    _limits: Limits
    _logFor: Callable[..., StreamLog | None]
    _loopbackOnly: bool
    _maxInFlight: int
    _operations: tracing.Operations
    _refuse: Callable[..., bytes]
    _scope: str
    _server: str
    _session: Callable[..., Session | bytes]
    backend: Backend
    clientErrors: ClientErrors
    log: Logger
    requestPolicy: PolicyGate | None

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
                stream.end(internalError(message["id"]))
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
            shortName(session),  # the id itself is the session's secret: never exported
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
        nothing to hide: the caller is not looked at (the answer's way out),
        but a listing loses what the policy does not let the caller call."""
        if type(response.get("error")) is not dict:
            if self.requestPolicy is not None:
                return screenedAnswer(
                    self.requestPolicy, request, response, self._gateway, self._server, self._scope
                )
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
