# -*- test-case-name: tests.web.endpoints.test_mcppost,tests.web.endpoints.test_mcp,tests.web.endpoints.test_one_answer,tests.web.plumbing.test_resumable -*-
"""Every step of a POST to C{/<server>/mcp}, in the order it runs.

L{McpPost.post} is the whole path of a client message, read top to
bottom: the headers, the body (parsed once), the era, the envelope, the
gates the gateway is configured with, then by kind: a 2026-07-28 request,
a batch, an C{initialize}, or a message of an open session (looked up,
checked, and answered here or forwarded to the server's children).

The gates are a list built once from what is configured
(L{McpPost.configure}), in this order: the principal's quota, the request
policy, the rate limits of calls. A gateway with none of them (a laptop's)
has an empty list: its POST calls none of them, not even to learn that
there is nothing to do. The same holds for the other configured parts of
a request's path: the request's context (L{IRequestContext}, which a team
gateway's door fills in: who the caller is, the audit note, a peer's
forwarded request) is read only when a door stands in front of the
endpoint, the credential headers only for a server whose entry lists
C{credentialEnv}, a span only while tracing runs, and an answer is
shaped for its caller only when it is an error or a policy screens
results.

What each step does lives with the collaborator of that job
(L{mcpgateway.web.endpoints.mcp.SessionLookup}, L{CredentialCheck},
L{PostAdmission}, L{EndpointForwarder}, L{BatchRequests},
L{EndpointInitializer}): this module only orders them, and
forwards one request, the common case, itself, its answer waiting as a
L{PendingAnswer}: one JSON body, until it has to be a stream.

Most requests a client posts are answered by the child with nothing else
related to them first: the answer goes out as one C{application/json} body
with a Content-Length, written from the request straight to its connection.
Such an answer needs no SSE stream, no replay log and no keep-alive: a
L{PendingAnswer} is a few fields and one entry in its clock's keep-alive
ticker's queue (L{mcpgateway.web.plumbing.sse.KeepAlive.waiting}), appended and
never searched.

It becomes an L{SSEStream} (made by its L{StreamOpener}, with the replay log
of a resumable session starting then) at the moment one of these comes
first:

  - a message related to the request that is not its answer (a progress
    notification, a log message, a request of the child's): the stream
    carries it, its headers and priming event go out with it;
  - C{HEADERS_AFTER} seconds of silence: the ticker makes the stream, whose
    headers (and priming event) go out at once, and keep-alives follow, so
    a long call holds its connection through proxies;
  - the request is cancelled without an answer: an empty stream, finished.

The bytes on the wire are the ones an L{SSEStream} that waited for its first
event would have written in each case. A response finished behind its back
(an error answer written over it) or a connection gone before any byte is
dropped: no client can resume what was never given an event id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import CancelledError
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.core import stats, tracing
from mcpgateway.core.sessions import Session
from mcpgateway.httpbase.clienterrors import ClientErrors
from mcpgateway.httpbase.headers import GatewayHeaders, canonical
from mcpgateway.protocol import envelope, jsonrpc
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.protocol.jsonrpc import Kind, Message
from mcpgateway.web.endpoints.admission import PostAdmission
from mcpgateway.web.endpoints.answers import CallerAnswers
from mcpgateway.web.endpoints.auditnote import AuditNote
from mcpgateway.web.endpoints.backends import Backend, PoolBackend, SessionFinder
from mcpgateway.web.endpoints.batchrequests import BatchRequests
from mcpgateway.web.endpoints.credentialcheck import CredentialCheck
from mcpgateway.web.endpoints.endpointforwarder import EndpointForwarder, EndSession, serverSpan
from mcpgateway.web.endpoints.guard import checkPostHeaders, header
from mcpgateway.web.endpoints.initialize import EndpointInitializer
from mcpgateway.web.endpoints.refusals import EndpointRefusals
from mcpgateway.web.plumbing.replies import accepted, internalError, jsonReply, validIdOrNull
from mcpgateway.web.plumbing.requestcontext import contextOf
from mcpgateway.web.plumbing.sse import KeepAlive, SSEStream, keepAliveFor

if TYPE_CHECKING:
    from mcpgateway.core.exchange import Sink
    from mcpgateway.flow.labels import Labels
    from mcpgateway.flow.step import Admission, FlowStep

Gate = Callable[[Request, Any], "bytes | None"]
"""One configured gate of a POST: its refusal, or C{None} (it goes on)."""
Era2026Post = Callable[[Request, Any, "str | None"], "bytes | int"]
"""Serves a 2026-07-28 POST (the endpoint's: it may forward it to the
replica holding its task)."""


class McpPost:
    """The POSTs of one MCP endpoint (one server, one route)."""

    def __init__(
        self,
        *,
        backend: Backend,
        refusals: EndpointRefusals,
        clientErrors: ClientErrors,
        answers: CallerAnswers,
        admission: PostAdmission,
        lookup: SessionFinder,
        credentials: CredentialCheck,
        opener: EndpointInitializer,
        batches: BatchRequests,
        forwarder: EndpointForwarder,
        era2026: Era2026Post,
        endSession: EndSession,
        clock: IReactorTime,
        limits: MessageBounds,
        server: str,
        log: Logger,
    ) -> None:
        self._backend = backend
        self._refusals = refusals
        self._clientErrors = clientErrors
        self._answers = answers
        self._admission = admission
        self._lookup = lookup
        self._credentials = credentials
        self._opener = opener
        self._batches = batches
        self._forwarder = forwarder
        self._era2026 = era2026
        self._endSession = endSession
        self._clock = clock
        self._maxDepth = limits.maxDepth
        self._maxDigits = limits.maxNumberDigits
        self._maxInFlight = limits.maxInFlightPerSession
        self._ticker = keepAliveFor(clock, limits.keepAliveInterval)
        self._operations = stats.operationsFor(clock)
        self._server = server
        self._log = log
        self._pool = backend.pool if isinstance(backend, PoolBackend) else None
        """A server's pool, whose entry says whether it takes credential
        headers (C{None}: another backend, whose requests are all checked)."""
        if isinstance(backend, PoolBackend) and backend.direct:
            # A server's own pool, no feature in between: its methods at once.
            pool = backend.pool
            self._gone: Callable[[Session], str | None] = pool.gone
            self._forward: Callable[[Session, Message, Sink | None], Any] = pool.forward
        else:
            self._gone, self._forward = backend.gone, backend.forward
        self.gates: tuple[Gate, ...] = ()
        """The configured gates, in order (L{configure})."""
        self.doors = False
        """Whether a door stands in front of the endpoint (it fills in the
        request's context): the context is read only then."""
        self.screens = False
        """Whether a result is screened for its caller (a request policy)."""
        self.flow: FlowStep | None = None
        """The flow rule on C{tools/call} (L{mcpgateway.flow.step}); asked
        only while it is active: a gateway where no server served can give
        private data runs nothing of it."""

    def configure(self, *, quota: bool, policy: bool, callQuotas: bool, doors: bool) -> None:
        """Build the steps from what is configured: each gate only when its
        feature is on (the principal's C{quota}, the request C{policy}, the
        rate limits of calls), the context only behind C{doors}."""
        admission = self._admission
        gates: list[Gate] = []
        if quota:
            gates.append(admission.quota)
        if policy:
            gates.append(admission.policy)
        if callQuotas:
            gates.append(admission.callQuotas)
        self.gates = tuple(gates)
        self.doors = doors
        self.screens = policy

    def post(self, request: Request) -> bytes | int:
        """Serve one POST: every step, in order."""
        # 1. The headers: Accept and Content-Type; the body within its limit.
        refusal = checkPostHeaders(request)
        if refusal is not None:
            return self._refusals.refuse(request, refusal[0], jsonrpc.INVALID_REQUEST, refusal[1])
        if getattr(request, "bodyTooLarge", False):
            return self._refusals.refuse(
                request,
                413,
                jsonrpc.INVALID_REQUEST,
                f"request body is over the {getattr(request, 'bodyLimit', None)}-byte limit",
            )
        # 2. The body, parsed once within the depth and digit bounds.
        assert request.content is not None
        try:
            payload = jsonrpc.loads(
                request.content.read(), maxDepth=self._maxDepth, maxDigits=self._maxDigits
            )
        except jsonrpc.ParseError as e:
            return self._refusals.refuse(request, 400, jsonrpc.PARSE_ERROR, f"Parse error: {e}")
        # 3. The request's context, which a door filled in; the audit note.
        context = contextOf(request) if self.doors else None
        note = None if context is None else context.auditNote
        if note is not None:
            note.message(payload)
        # 4. The era: the body first, then MCP-Protocol-Version.
        version = header(request, "mcp-protocol-version")
        era2026 = isEra2026(payload, version)
        batch = isinstance(payload, list)
        if batch and not era2026:
            # Refused for its size before it is counted: a batch nothing of
            # which is acted on owes the principal's limits nothing.
            refused = self._batches.size(request, payload)
            if refused is not None:
                return refused
        # 5. The envelope, before any gate reads it.
        kind = Kind.INVALID if era2026 or batch else jsonrpc.classify(payload)
        if kind is Kind.INVALID and not (era2026 or batch):
            return self._refusals.refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                "Invalid Request: not a JSON-RPC 2.0 message",
                validIdOrNull(payload.get("id")) if isinstance(payload, dict) else None,
            )
        # 6. The configured gates: quota, policy, rate limits (none on a laptop).
        for gate in self.gates:
            refused = gate(request, payload)
            if refused is not None:
                return refused
        # 7. What is not a message of an open session.
        if era2026:
            return self._era2026(request, payload, version)
        if batch:
            return self._batches.post(request, payload, version)
        if kind is Kind.REQUEST and payload["method"] == "initialize":
            return self._opener.initialize(request, payload)
        # 8. The session Mcp-Session-Id names.
        session = self._lookup.session(request, version, payload, context)
        if isinstance(session, bytes):
            return session
        # 9. The message's envelope, for its kind.
        if kind is Kind.REQUEST:
            problem = envelope.checkRequest(payload)
            if problem is not None:
                if problem[0] == jsonrpc.INVALID_REQUEST:  # not a request at all
                    return self._refusals.refuse(request, 400, *problem, payload["id"])
                return self._refusals.inBand(request, payload, *problem)
        else:
            problem = envelope.check(payload, kind)
            if problem is not None:
                return self._refusals.refuse(request, 400, *problem)
        # 10. The credential headers, for a server whose entry (as reloaded) takes them.
        pool = self._pool
        if pool is None or pool.spec.credentialEnv:
            refused = self._credentialsDiffer(request, session, payload, kind)
            if refused is not None:
                return refused
        # 11. A notification or a response goes on; a ping is answered here.
        if kind is Kind.NOTIFICATION:
            self._backend.notify(session, payload)
            return accepted(request)
        if kind is Kind.RESPONSE:
            self._backend.answer(session, payload)
            return accepted(request)
        if payload["method"] == "ping":
            if note is not None:
                note.settle("ok")
            return jsonReply(request, 200, jsonrpc.resultResponse(payload["id"], {}))
        # 12. Within the session's in-flight limit.
        if session.inFlight >= self._maxInFlight:
            return self._busy(request, session, payload, note)
        # 13. The flow rule on a tool's call, where it can hold one (unless
        #     the backend decides it, as a task's call: Backend.decidesCall).
        flow = self._flowHere(session, payload)
        if flow is not None:
            return self._flowCall(flow, request, session, payload, note)
        # 14. To the server's children; the answer is written when it comes.
        return self.forward(request, session, payload, note)

    def _busy(
        self, request: Request, session: Session, payload: Any, note: AuditNote | None
    ) -> bytes:
        """The answer to a request past its session's in-flight limit: a
        JSON-RPC error, counted as the client's and settled in the audit."""
        busy = self._forwarder.busy(payload, session.inFlight)
        self._clientErrors.note(request, 200, busy["error"]["message"])
        if note is not None:
            note.settle("error", jsonrpc.TOO_MANY_REQUESTS)
        return jsonReply(request, 200, busy)

    def _credentialsDiffer(
        self, request: Request, session: Session, payload: Any, kind: Kind
    ) -> bytes | None:
        """The refusal of a message whose credential headers do not fit its
        session (L{CredentialCheck.problem}); C{None}: they fit."""
        differ = self._credentials.problem(request, session)
        if differ is None:
            return None
        code, text = differ
        if kind is not Kind.REQUEST:
            return self._refusals.refuse(request, 400, code, text)
        if code == jsonrpc.INVALID_PARAMS:
            return self._refusals.inBand(request, payload, code, text)
        return self._refusals.refuse(request, 400, code, text, payload["id"])

    def _flowCall(
        self,
        flow: FlowStep,
        request: Request,
        session: Session,
        message: Message,
        note: AuditNote | None,
    ) -> bytes | int:
        """A C{tools/call} decided by the flow rule: allowed, forwarded
        (its result recorded for the session's client); held, its request
        kept open (L{PendingAnswer}, counted in flight) until a person
        decides it or the step's wait is over (L{FlowStep.admit})."""
        params = message.get("params")
        if not isinstance(params, dict):  # no tool named: the server refuses it
            return self.forward(request, session, message, note)
        decision, labels = flow.decide(session, self._server, params)
        if decision.allowed:
            return self.forward(request, session, message, note, labels)
        pending = PendingAnswer(
            request, self._clock.seconds(), self._forwarder, session, self._ticker
        )
        session.inFlight += 1

        def admitted(admission: Admission) -> None:
            session.inFlight -= 1
            if admission.ended:
                pending.close()  # as a request its session's end cancelled: no answer
                return
            if admission.denial is not None:
                if note is not None:
                    note.settle("error", jsonrpc.INVALID_REQUEST)
                pending.end(jsonrpc.resultResponse(message["id"], admission.denial))
                return
            gone = self._gone(session)
            if gone is not None:
                self._endSession(session, gone)
                pending.end(
                    jsonrpc.errorResponse(
                        message["id"], jsonrpc.INVALID_REQUEST, f"Session not found: {gone}"
                    )
                )
                return
            self._send(request, session, message, note, labels, pending)

        def failed(failure: Failure) -> None:
            session.inFlight -= 1
            self._log.failure(
                "server {server}: deciding a held call failed", failure, server=self._server
            )
            pending.end(internalError(message["id"]))

        flow.admit(session, self._server, params, decision).addCallbacks(admitted, failed)
        return NOT_DONE_YET

    def forwardCall(
        self, request: Request, session: Session, message: Message, note: AuditNote | None
    ) -> bytes | int:
        """One request of a session alone (a batch of one request): a
        tool's call decided by the flow rule as at step 13, any other
        request forwarded (L{forward})."""
        flow = self._flowHere(session, message)
        if flow is not None:
            return self._flowCall(flow, request, session, message, note)
        return self.forward(request, session, message, note)

    def _flowHere(self, session: Session, message: Message) -> FlowStep | None:
        """The flow step, when it decides C{message} here: it is active,
        the message is a C{tools/call}, and the backend does not decide it
        itself (L{Backend.decidesCall<mcpgateway.web.endpoints.backends.Backend.decidesCall>})."""
        flow = self.flow
        if flow is None or not flow.active or message["method"] != "tools/call":
            return None
        return None if self._backend.decidesCall(session, message) else flow

    def forward(
        self,
        request: Request,
        session: Session,
        message: Message,
        note: AuditNote | None,
        labels: Labels | None = None,
    ) -> bytes | int:
        """One request to the session's child. Its answer waits as a
        L{PendingAnswer}: one JSON body unless something related to it
        comes first (then an SSE stream, L{EndpointForwarder.openStream}).
        C{labels}: a tool's call whose result the flow rule records."""
        gone = self._gone(session)
        if gone is not None:
            self._endSession(session, gone)
            return self._refusals.refuse(
                request, 404, jsonrpc.INVALID_REQUEST, f"Session not found: {gone}", message["id"]
            )
        return self._send(request, session, message, note, labels, None)

    def _send(
        self,
        request: Request,
        session: Session,
        message: Message,
        note: AuditNote | None,
        labels: Labels | None,
        pending: PendingAnswer | None,
    ) -> int:
        """Forward C{message} of a session found live, its answer waiting
        as C{pending} (a new one when C{None})."""
        started = self._clock.seconds()
        if pending is None:
            pending = PendingAnswer(request, started, self._forwarder, session, self._ticker)
        span: tracing.Span | None = None
        active = tracing.tracer
        if active is not None:
            span, message = serverSpan(active, request, session, message, self._server)
        try:
            response = self._forward(session, message, pending.send)
        except Exception:
            self._log.failure(
                "server {server}: routing {method} failed",
                server=self._server,
                method=message["method"],
            )
            pending.end(internalError(message["id"]))
            self._measured(None, message["method"], started, span, "error")
            if note is not None:
                note.settle("error", jsonrpc.INTERNAL_ERROR)
            return NOT_DONE_YET
        session.inFlight += 1
        if note is not None:
            response.addCallbacks(note.answered, note.failed)
        # The answer is written first, then measured: its client need not
        # wait for the bookkeeping.
        response.addBoth(self._answered, message, session, pending, started, span, request, labels)
        return NOT_DONE_YET

    def _answered(
        self,
        result: Message | Failure,
        message: Message,
        session: Session,
        pending: PendingAnswer,
        started: float,
        span: tracing.Span | None,
        request: Request,
        labels: Labels | None = None,
    ) -> None:
        """The request C{pending} waits for was answered (or failed) with
        C{result}: write it as its caller may read it, then measure it. A
        tool's result the flow rule records (C{labels}) is recorded first:
        the client holds what it gathered before it can call again."""
        session.inFlight -= 1
        if labels is not None and type(result) is dict and "result" in result:
            flow = self.flow
            if flow is not None:
                flow.record(session, labels)
        if isinstance(result, Failure):
            if result.check(CancelledError):
                pending.close()  # cancelled by the client or its session ending: no response
            else:
                pending.end(self._answers.errorFor(message["id"], result, request))
        elif self.screens or type(result.get("error")) is dict:
            pending.end(self._answers.forCaller(result, request))
        else:
            pending.end(result)  # a result, and no policy to screen it: as it came
        self._measured(result, message["method"], started, span)

    def _measured(
        self,
        result: Any,
        method: str,
        started: float,
        span: tracing.Span | None,
        outcome: str | None = None,
    ) -> None:
        """The request's duration on the metrics, and its span ended."""
        stats.answered(
            result, self._operations, self._clock, self._server, method, started, span, outcome
        )


def isEra2026(payload: Any, version: str | None) -> bool:
    """Whether a POSTed body belongs to the 2026-07-28 era (a batch does
    when the header, or any of its messages, says so)."""
    if envelope.eraOf(payload, version) is envelope.Era.ERA2026:
        return True
    return isinstance(payload, list) and any(
        envelope.eraOf(item, None) is envelope.Era.ERA2026 for item in payload
    )


# -- the answer one request waits for --------------------------------------------

_CONTENT_TYPE = canonical(b"content-type")
_CACHE_CONTROL = canonical(b"cache-control")
_CONTENT_LENGTH = canonical(b"content-length")
_JSON = [b"application/json"]
_NO_CACHE = [b"no-cache"]


class StreamOpener(Protocol):
    """Makes the SSE stream a L{PendingAnswer} becomes (the endpoint's
    forwarder, which knows the session's replay store)."""

    def openStream(self, request: Request, owner: Any, headersNow: bool) -> SSEStream:
        """A new stream of C{owner}'s (a session) over C{request}; its head
        goes out at once when C{headersNow}."""


class PendingAnswer:
    """One request's answer, waiting. C{open} while it may still go out as
    one JSON body; C{stream} once it became a stream."""

    __slots__ = ("_opener", "_owner", "_request", "open", "since", "stream")

    headersSent = False
    """Nothing of it is on the wire (a stream's flag, for whoever looks at
    the keep-alive ticker's streams)."""

    def __init__(
        self,
        request: Request,
        since: float,
        opener: StreamOpener,
        owner: Any,
        ticker: KeepAlive,
    ) -> None:
        """
        @param since: when the request came (the clock's seconds).
        @param opener: makes the stream, if it becomes one.
        @param owner: the session whose stream it would be.
        @param ticker: the keep-alive ticker that makes it a stream after
            C{HEADERS_AFTER} seconds of silence.
        """
        self._request: Request | None = request
        self.since = since
        self._opener = opener
        self._owner = owner
        self.open = True
        self.stream: SSEStream | None = None
        # The ticker looks at it on each tick until it is done or becomes a
        # stream. Queued here, not through a call (an answer that comes at
        # once costs an append), after the done ones at the front: one call
        # at a time keeps one or two there, not a second's worth.
        waiting = ticker.waiting
        while waiting and not waiting[0].open:
            waiting.popleft()
        waiting.append(self)
        if not ticker.loop.running:
            ticker.start()

    def send(self, message: jsonrpc.Message) -> bool:
        """Send a message related to the request that is not its answer (the
        backend's sink): the answer becomes a stream, which carries it.
        C{False} when nothing can carry it any more."""
        stream = self.stream
        if stream is None:
            stream = self.toStream(False)
            if stream is None:
                return False
        return stream.send(message)

    def end(self, message: jsonrpc.Message) -> None:
        """Send the answer: one JSON body, or the stream's last event."""
        stream = self.stream
        if stream is not None:
            stream.end(message)
            return
        request = self._taken()
        if request is None:
            return
        body = jsonrpc.dumps(message)
        headers = request.responseHeaders
        if type(headers) is GatewayHeaders:  # the gateway's request: its short path
            headers.setCanonical(_CONTENT_TYPE, b"application/json")
            headers.setCanonical(_CACHE_CONTROL, b"no-cache")
            headers.setCanonical(_CONTENT_LENGTH, b"%d" % len(body))
        else:
            headers.setRawHeaders(b"content-type", _JSON)
            headers.setRawHeaders(b"cache-control", _NO_CACHE)
            headers.setRawHeaders(b"content-length", [b"%d" % len(body)])
        request.write(body)
        answered = getattr(request.channel, "answerWritten", None)
        if answered is not None:
            answered()  # sent now: the client need not wait for the bookkeeping
        request.finish()

    def close(self) -> None:
        """End without an answer (the request was cancelled): an empty stream."""
        stream = self.stream
        if stream is None:
            stream = self.toStream(False)
            if stream is None:
                return
        stream.close()

    def toStream(self, headersNow: bool) -> SSEStream | None:
        """Become a stream (its head at once when C{headersNow}); C{None}
        when its response is finished or its connection gone."""
        request = self._taken()
        if request is None:
            return None
        stream = self.stream = self._opener.openStream(request, self._owner, headersNow)
        return stream

    def finishedElsewhere(self) -> bool:
        """Whether its response was finished (or its connection lost)
        behind its back."""
        request = self._request
        return request is not None and bool(
            request.finished or getattr(request, "_disconnected", False)
        )

    def abandon(self) -> None:
        """Leave the request alone: nothing more is written for it."""
        self.open = False
        self._request = None

    def _taken(self) -> Request | None:
        """The request, for the one thing written over it now; C{None} when
        that is too late (it waits no more, its response was finished or its
        connection is gone)."""
        request = self._request
        if not self.open or request is None:
            return None
        self.open = False
        self._request = None
        if request.finished or getattr(request, "_disconnected", False):
            return None
        return request
