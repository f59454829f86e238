# -*- test-case-name: tests.web.endpoints.test_era2026,tests.web.endpoints.test_flowpaths -*-
"""The MCP 2026-07-28 side of C{/<server>/mcp}: the checks a 2026 request
passes, in the order the transport specification gives them, and its
dispatch to the gateway's core.

L{McpEndpoint<mcpgateway.web.endpoints.mcp.McpEndpoint>} hands every POST whose body
is 2026 (L{mcpgateway.protocol.envelope.eraOf}) to the server's L{Era2026Endpoint}.
It checks, first failure wins (docs/design/era.md has the table):

  1. a batch, a message that is not JSON-RPC, a client response, or a
     request with a member other than C{jsonrpc}, C{id}, C{method} and
     C{params} (L{envelope.checkMembers}, as on the 2025 side): 400,
     C{-32600};
  2. a server that does not serve the 2026 revision
     (L{Era2026Gateway.era2026Refusal}): 404, C{-32601}, for everything below
     too, so that clients fall back to C{initialize};
  3. a notification (C{notifications/cancelled} included: on HTTP, closing
     the stream is the cancel): 202, dropped;
  4. the C{_meta} envelope: 400, C{-32602}; the routing headers
     (C{MCP-Protocol-Version}, C{Mcp-Method}, C{Mcp-Name}): 400, C{-32020};
     the protocol version: 400, C{-32022}; the method: 404, C{-32601};
     C{Mcp-Param-*} against the tool's schema: 400, C{-32020}; the params the
     gateway reads (a name, a uri, C{inputResponses}, C{requestState}, a
     listen filter): 400, C{-32602};
  5. more than C{MessageBounds.maxEra2026InFlight} requests of this endpoint in
     flight: 200, C{-32004};
  6. a listen that names C{taskIds} without declaring the Tasks extension:
     400, C{-32021}.

Nothing below reaches the core (so no child) until every check passed.
Then the request, as a L{Era2026Request}, goes to L{Era2026Gateway.era2026Call}
(or L{Era2026Gateway.listen} for C{subscriptions/listen}); its answer is
written by a L{Era2026Response}: JSON with the status its error code names,
or in-band on an SSE stream once something was streamed. The client closing
the connection cancels the core's Deferred.

A C{subscriptions/listen} stream opens with its acknowledgement (what the
child can send, and the C{taskIds} whose status it carries), then carries
the child's notifications and the tasks' C{notifications/tasks}, each tagged with
the listen request's id (C{_meta.io.modelcontextprotocol/subscriptionId}),
and keep-alive comments; it ends with a graceful result when the core ends
it, the gateway stops or hands over (L{Era2026Endpoint.endStreams}), or the
token that opened it is revoked or expires (its request's context says so:
L{mcpgateway.web.plumbing.holds}); the client listens again, with a token
that stands.

A server's failure quotes its child's stderr only to a caller
L{showsChildText<mcpgateway.web.endpoints.guard.showsChildText>} allows, as on the
2025 side; the others get the gateway's own words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from weakref import WeakMethod

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.core import stats, tracing
from mcpgateway.core.catalogdata import publicReason
from mcpgateway.core.era2026.types import Era2026Gateway, Era2026Request, ListenFilter, ListenHandle
from mcpgateway.core.gateway.ownerlookup import clientPid
from mcpgateway.core.pools.pool import ServerUnavailable, SessionGone
from mcpgateway.core.taskterms import EXTENSION
from mcpgateway.httpbase.clienterrors import ClientErrors
from mcpgateway.protocol import envelope, era2026form, jsonrpc, versions
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.protocol.jsonrpc import Kind, Message
from mcpgateway.runtime import logs
from mcpgateway.web.endpoints.era2026response import Era2026Response
from mcpgateway.web.endpoints.guard import forCaller, header, showsChildText
from mcpgateway.web.endpoints.principal import (
    askerOf,
    principalKey,
    principalServers,
    principalWithheld,
)
from mcpgateway.web.endpoints.requestreading import headerPid
from mcpgateway.web.plumbing.replies import validIdOrNull
from mcpgateway.web.plumbing.requestcontext import contextOf

if TYPE_CHECKING:
    from mcpgateway.core.exchange import Sink
    from mcpgateway.flow.step import FlowStep

Credentials = tuple[tuple[str, str], ...]
CredentialReader = Callable[[Request], "tuple[str, Credentials] | str"]
"""Reads a request's credential headers: (key, values), or why they cannot be used."""

MAX_LISTEN_URIS = 256
"""Resources one C{subscriptions/listen} may name (-32602 beyond)."""
MAX_EARLY_FRAMES = 64
"""Notifications kept for a listen stream before its acknowledgement went
out (later ones are dropped: list changes repeat, and an update is only a
hint to read again)."""

_LIST_FLAGS = (
    ("toolsListChanged", "tools"),
    ("promptsListChanged", "prompts"),
    ("resourcesListChanged", "resources"),
)


def routingHeaders(request: IRequest) -> dict[str, list[str]]:
    """The request's C{Mcp-*} headers (lower-case names) with every value
    received, decoded as Latin-1 (so any byte can be checked, none fails)."""
    headers: dict[str, list[str]] = {}
    for name, values in request.requestHeaders.getAllRawHeaders():
        key = name.decode("latin-1").lower()
        if key.startswith("mcp-"):
            headers.setdefault(key, []).extend(v.decode("latin-1") for v in values)
    return headers


def listenFilter(params: Mapping[str, Any]) -> ListenFilter | str:
    """What a C{subscriptions/listen} asks for, or why its params are wrong."""
    wanted = params.get("notifications", {})
    if not isinstance(wanted, dict):
        return "Invalid params: subscriptions/listen needs params.notifications to be an object"
    flags: dict[str, bool] = {}
    for key, field in _LIST_FLAGS:
        value = wanted.get(key, False)
        if not isinstance(value, bool):
            return f"Invalid params: notifications.{key} must be a boolean"
        flags[field] = value
    uris = wanted.get("resourceSubscriptions", [])
    if not isinstance(uris, list) or not all(isinstance(uri, str) for uri in uris):
        return "Invalid params: notifications.resourceSubscriptions must be an array of strings"
    if len(uris) > MAX_LISTEN_URIS:
        return (
            f"Invalid params: {len(uris)} resourceSubscriptions are over the limit of"
            f" {MAX_LISTEN_URIS} for one listen"
        )
    taskIds = wanted.get("taskIds", [])
    if not isinstance(taskIds, list) or not all(isinstance(taskId, str) for taskId in taskIds):
        return "Invalid params: notifications.taskIds must be an array of strings"
    if len(taskIds) > MAX_LISTEN_URIS:
        return (
            f"Invalid params: {len(taskIds)} taskIds are over the limit of"
            f" {MAX_LISTEN_URIS} for one listen"
        )
    return ListenFilter(
        uris=tuple(dict.fromkeys(uris)), taskIds=tuple(dict.fromkeys(taskIds)), **flags
    )


def honouredNotifications(honoured: ListenFilter) -> dict[str, Any]:
    """A listen filter as the C{notifications} object of its acknowledgement."""
    out: dict[str, Any] = {}
    for key, field in _LIST_FLAGS:
        if getattr(honoured, field):
            out[key] = True
    if honoured.uris:
        out["resourceSubscriptions"] = list(honoured.uris)
    if honoured.taskIds:
        out["taskIds"] = list(honoured.taskIds)
    return out


def _declaresTasks(capabilities: Mapping[str, Any]) -> bool:
    """Whether a request's C{clientCapabilities} declare the Tasks extension
    (a listen's C{taskIds} need it)."""
    extensions = capabilities.get("extensions")
    return isinstance(extensions, dict) and isinstance(extensions.get(EXTENSION), dict)


def listenEnded(listenId: Any) -> Message:
    """The graceful end of a listen stream (its request's result)."""
    return jsonrpc.resultResponse(
        listenId,
        {"resultType": "complete", "_meta": {era2026form.SUBSCRIPTION_ID_KEY: listenId}},
    )


def _reply(request: IRequest, status: int, message: Message) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json")
    return jsonrpc.dumps(message)


class _RungFailed(Exception):
    """One rung of the ladder failed: answer with this."""

    def __init__(self, status: int, code: int, text: str, data: Any = None) -> None:
        super().__init__(text)
        self.status, self.code, self.text, self.data = status, code, text, data


def _raiseFor(problem: era2026form.Problem | None) -> None:
    if problem is not None:
        code, text, data = problem
        raise _RungFailed(era2026form.httpStatus(code), code, text, data)


class Era2026Endpoint:
    """The 2026 requests of one MCP endpoint (one server, one route).

    @ivar inFlight: its requests the core has not answered yet, and its
        open listen streams.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        service: Era2026Gateway,
        server: str,
        clock: IReactorTime,
        limits: MessageBounds,
        clientErrors: ClientErrors,
        credentials: CredentialReader,
        scope: str = "",
        loopbackOnly: bool = True,
    ) -> None:
        """
        @param loopbackOnly: the gateway is bound to loopback only; else
            (reachable from other machines) what a child wrote reaches
            admins only (L{showsChildText}), as on the 2025 side.
        """
        self._loopbackOnly = loopbackOnly
        self._service = service
        self._server = server
        self._scope = scope
        self._clock = clock
        self._operations = stats.operationsFor(clock)
        self._keepAlive = limits.keepAliveInterval
        self._maxInFlight = limits.maxEra2026InFlight
        self._clientErrors = clientErrors
        self._credentials = credentials
        self.inFlight = 0
        self.listens: set[_Listen] = set()
        self.screen: Callable[[str, Message, IRequest], Message] | None = None
        """What an answer goes through on its way to the caller (the
        policy's screening of a listing, L{mcpgateway.web.endpoints.policystep});
        C{None}: nothing."""
        self.flow: FlowStep | None = None
        """The flow rule on a C{tools/call}, asked only while it is active
        (L{_served})."""

    # -- the ladder ----------------------------------------------------------

    def post(self, request: Request, payload: Any) -> bytes | int:
        """Answer one 2026 POST whose body parsed as C{payload}."""
        method = payload.get("method") if isinstance(payload, dict) else None
        requestId = validIdOrNull(payload.get("id")) if isinstance(payload, dict) else None
        try:
            return self._checked(request, payload)
        except _RungFailed as refused:
            if method != "server/discover":  # clients in "auto" mode probe with it
                self._clientErrors.note(request, refused.status, refused.text)
            return _reply(
                request,
                refused.status,
                jsonrpc.errorResponse(requestId, refused.code, refused.text, refused.data),
            )

    def _checked(self, request: Request, payload: Any) -> bytes | int:
        if isinstance(payload, list):
            raise _RungFailed(
                400,
                jsonrpc.INVALID_REQUEST,
                "Invalid Request: a 2026-07-28 request is one JSON-RPC message, not a batch",
            )
        kind = jsonrpc.classify(payload)
        if kind is Kind.INVALID:
            raise _RungFailed(
                400, jsonrpc.INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message"
            )
        if kind is Kind.RESPONSE:
            raise _RungFailed(
                400,
                jsonrpc.INVALID_REQUEST,
                "Invalid Request: a 2026-07-28 client sends no responses (the server"
                " sends it no requests)",
            )
        if kind is Kind.REQUEST:
            problem = envelope.checkMembers(payload)
            if problem is not None:
                raise _RungFailed(400, *problem)
        reason = self._service.era2026Refusal(self._server)
        if reason is not None:
            return self._refusal(request, payload, reason)
        if kind is Kind.NOTIFICATION:
            request.setResponseCode(202)
            return b""
        message: Message = payload
        headers = routingHeaders(request)
        _raiseFor(era2026form.checkEnvelope(message))
        _raiseFor(era2026form.checkHeaders(message, headers))
        _raiseFor(era2026form.checkVersion(message))
        method = message["method"]
        if (
            method not in era2026form.ERA2026_METHODS
            and method not in era2026form.TASK_METHODS
            and method not in era2026form.SKILLS_METHODS
        ):
            raise _RungFailed(
                404,
                jsonrpc.METHOD_NOT_FOUND,
                f"Method not found: {method[:64]!r} is not a method of protocol 2026-07-28",
            )
        params = message.get("params")
        if not isinstance(params, dict):  # the envelope check guarantees it
            raise _RungFailed(
                400, jsonrpc.INVALID_PARAMS, "Invalid params: params must be an object"
            )
        if method == "tools/call":
            self._checkParamHeaders(params, headers)
        wanted = self._checkParams(method, params)
        credentials = self._credentials(request)
        if isinstance(credentials, str):
            raise _RungFailed(400, jsonrpc.INVALID_REQUEST, credentials)
        if self.inFlight >= self._maxInFlight:
            text = (
                f"too many requests in flight: {self.inFlight} 2026-07-28 requests already wait"
                f" for server '{self._server}', the most one endpoint may have"
                f" ({self._maxInFlight}); send more when some are answered"
            )
            self._clientErrors.note(request, 200, text)
            return _reply(
                request,
                200,
                jsonrpc.errorResponse(message["id"], jsonrpc.TOO_MANY_REQUESTS, text),
            )
        era2026 = self._era2026Request(
            message, params, credentials, principalKey(request), principalServers(request)
        )
        era2026 = replace(
            era2026,
            withheld=principalWithheld(request),
            asker=askerOf(request),
            clientPid=clientPid(headerPid(request), era2026.clientInfo, era2026.principal),
        )
        if wanted is not None:
            if wanted.taskIds and not _declaresTasks(era2026.capabilities):
                raise _RungFailed(
                    400,
                    jsonrpc.MISSING_CAPABILITY,
                    f"Missing required client capability: taskIds need the {EXTENSION}"
                    " extension declared in the listen's clientCapabilities",
                    {"requiredCapabilities": {"extensions": {EXTENSION: {}}}},
                )
            return self._listen(request, era2026, wanted)
        return self._call(request, era2026)

    def _refusal(self, request: Request, payload: Any, reason: str) -> bytes:
        """A server that does not serve the 2026 revision: 404/-32601 for
        every 2026 request (not logged: clients in "auto" mode probe with
        one, then fall back to C{initialize})."""
        requestId = validIdOrNull(payload.get("id")) if isinstance(payload, dict) else None
        return _reply(
            request,
            404,
            jsonrpc.errorResponse(
                requestId,
                jsonrpc.METHOD_NOT_FOUND,
                f"server '{self._server}' speaks the initialize handshake only (protocol"
                f" 2025-11-25 and earlier): {reason}",
            ),
        )

    def _checkParamHeaders(self, params: dict[str, Any], headers: dict[str, list[str]]) -> None:
        name = params.get("name")
        if not isinstance(name, str):
            return  # refused below, as a missing name
        xHeaders = self._service.paramHeaders(self._server, self._scope, name)
        if xHeaders is None:
            return  # a tool not listed yet: nothing to check against
        _raiseFor(era2026form.checkParamHeaders(params.get("arguments"), xHeaders, headers))

    def _checkParams(self, method: str, params: dict[str, Any]) -> ListenFilter | None:
        """The params the gateway reads itself; a listen's filter."""
        key = era2026form.NAMED_METHODS.get(method)
        if key is not None and not isinstance(params.get(key), str):
            raise _RungFailed(
                400, jsonrpc.INVALID_PARAMS, f"Invalid params: {method} needs a string {key}"
            )
        if method in era2026form.MRTR_METHODS:
            if "inputResponses" in params and not isinstance(params["inputResponses"], dict):
                raise _RungFailed(
                    400, jsonrpc.INVALID_PARAMS, "Invalid params: inputResponses must be an object"
                )
            if "requestState" in params and not isinstance(params["requestState"], str):
                raise _RungFailed(
                    400, jsonrpc.INVALID_PARAMS, "Invalid params: requestState must be a string"
                )
        if method == "tasks/update" and not isinstance(params.get("inputResponses"), dict):
            raise _RungFailed(
                400, jsonrpc.INVALID_PARAMS, "Invalid params: inputResponses must be an object"
            )
        if method != "subscriptions/listen":
            return None
        wanted = listenFilter(params)
        if isinstance(wanted, str):
            raise _RungFailed(400, jsonrpc.INVALID_PARAMS, wanted)
        return wanted

    def _era2026Request(
        self,
        message: Message,
        params: dict[str, Any],
        credentials: tuple[str, Credentials],
        principal: str = "",
        servers: frozenset[str] | None = None,
    ) -> Era2026Request:
        meta = params["_meta"]
        mrtr = message["method"] in era2026form.MRTR_METHODS
        answers = mrtr or message["method"] == "tasks/update"
        responses = params.get("inputResponses") if answers else None
        state = params.get("requestState") if mrtr else None
        info = meta.get(era2026form.CLIENT_INFO_KEY)
        level = meta.get(era2026form.LOG_LEVEL_KEY)
        return Era2026Request(
            clientId=message["id"],
            method=message["method"],
            params=era2026form.stripEnvelope(params),
            capabilities=dict(meta.get(era2026form.CAPABILITIES_KEY) or {}),
            clientInfo=dict(info) if isinstance(info, dict) else {},
            logLevel=level if isinstance(level, str) else None,
            inputResponses=responses if isinstance(responses, dict) else None,
            requestState=state if isinstance(state, str) else None,
            scope=self._scope,
            credentialKey=credentials[0],
            credentials=credentials[1],
            principal=principal,
            servers=servers,
        )

    # -- calls ---------------------------------------------------------------

    def _call(self, request: Request, era2026: Era2026Request) -> int:
        response = Era2026Response(request, self._clock, self._keepAlive)
        started = self._clock.seconds()
        active = tracing.tracer
        span: tracing.Span | None = None
        if active is not None:
            span, era2026 = self._serverSpan(active, request, era2026)
        self.inFlight += 1
        try:
            answer = self._served(request, era2026, response.send)
        except Exception:
            self.inFlight -= 1
            self.log.failure(
                "server {server}: {method} failed in the gateway",
                server=self._server,
                method=era2026.method,
            )
            response.finish(_internalError(era2026.clientId))
            self._measured(None, era2026.method, started, span, "error")
            return NOT_DONE_YET
        response.onDisconnect(answer.cancel)
        answer.addBoth(self._measured, era2026.method, started, span)

        def answered(message: Message) -> None:
            if self.screen is not None:
                message = self.screen(era2026.method, message, request)
            status = response.finish(forCaller(message, self._showsChildText(request)))
            if status is not None and status >= 400 and era2026.method != "server/discover":
                error = message.get("error")
                text = error.get("message") if isinstance(error, dict) else None
                self._clientErrors.noteAnswered(request, status, str(text)[:300])

        def failed(reason: Failure) -> None:
            if not response.open:
                return  # cancelled by the client going away: nothing more is written
            response.finish(self._errorFor(era2026.clientId, reason, request))

        def done(result: object) -> None:
            self.inFlight -= 1

        answer.addCallbacks(answered, failed)
        answer.addErrback(lambda f: self.log.failure("answering a 2026-07-28 request failed", f))
        answer.addBoth(done)
        return NOT_DONE_YET

    def _served(self, request: Request, era2026: Era2026Request, sink: Sink) -> Deferred[Message]:
        """The core's answer to C{era2026}; a C{tools/call} decided by the
        flow rule as it goes to the child, exactly as one of a session of
        the 2025 revisions is
        (L{FlowStep.through<mcpgateway.flow.step.FlowStep.through>}), its
        denial a complete result. The decision sits inside the task the
        call may become: a held call of a client that declared the Tasks
        extension is answered with a task, C{working} while it waits for a
        person (the client polls it, not its request); any other waits on
        its request, at most the step's bound. With no session to name it, the
        client is what the request carries
        (L{FlowStep.caller<mcpgateway.flow.step.FlowStep.caller>}):
        the pid it says it runs as (C{X-Client-Pid}, else
        C{clientInfo.pid}; never for an authenticated request), else its
        principal and C{clientInfo.name}, else its principal alone."""
        flow = self.flow
        if flow is None or not flow.active or era2026.method != "tools/call":
            return self._service.era2026Call(self._server, era2026, sink)
        caller = flow.caller(era2026.principal, era2026.clientPid, era2026.clientInfo)
        denied = flow.answered(era2026.clientId, {"resultType": "complete"})

        def gate(
            server: str, params: Any, send: Callable[[], Deferred[Message]], bounded: bool
        ) -> Deferred[Message]:
            return flow.through(caller, server, params, send, denied, bounded)

        return self._service.era2026Call(self._server, replace(era2026, gate=gate), sink)

    def _serverSpan(
        self, active: tracing.Tracer, request: Request, era2026: Era2026Request
    ) -> tuple[tracing.Span, Era2026Request]:
        """The SERVER span of a 2026 request, and the request whose
        params carry its context (the parent of the router's CLIENT span)."""
        message = jsonrpc.request(era2026.clientId, era2026.method, era2026.params)
        version = header(request, "mcp-protocol-version") or versions.ERA2026_VERSIONS[0]
        span, message = tracing.startServer(
            active, message, None, version, header(request, "traceparent")
        )
        span.setAttribute("mcpgateway.server", self._server)
        return span, replace(era2026, params=message["params"])

    def _measured(
        self,
        result: Any,
        method: str,
        started: float,
        span: tracing.Span | None,
        outcome: str | None = None,
    ) -> Any:
        """A 2026 request was answered (or failed) with C{result}: see
        L{stats.answered}."""
        return stats.answered(
            result, self._operations, self._clock, self._server, method, started, span, outcome
        )

    def _showsChildText(self, request: IRequest) -> bool:
        return showsChildText(self._loopbackOnly, contextOf(request).principal, request)

    def _errorFor(self, requestId: Any, reason: Failure, request: IRequest) -> Message:
        """The answer to a request that failed with C{reason}: a server's
        failure may quote its child's stderr, which only a caller
        L{showsChildText} allows reads (the others get the gateway's own
        words, L{publicReason}); anything else is the gateway's defect."""
        if reason.check(ServerUnavailable, SessionGone):
            text = reason.getErrorMessage()
            if not self._showsChildText(request):
                text = publicReason(text)
            return jsonrpc.errorResponse(requestId, jsonrpc.SERVER_UNAVAILABLE, text)
        if reason.check(CancelledError):
            return jsonrpc.errorResponse(
                requestId, jsonrpc.SERVER_UNAVAILABLE, "the gateway cancelled this request"
            )
        self.log.failure(
            "2026-07-28 request to server {server} failed", failure=reason, server=self._server
        )
        return jsonrpc.errorResponse(
            requestId, jsonrpc.INTERNAL_ERROR, f"gateway error: {reason.getErrorMessage()}"
        )

    # -- listen streams ------------------------------------------------------

    def _listen(self, request: Request, era2026: Era2026Request, wanted: ListenFilter) -> int:
        response = Era2026Response(request, self._clock, self._keepAlive)
        listen = _Listen(self, era2026.clientId, response)
        self.inFlight += 1
        self.listens.add(listen)
        try:
            opening = self._service.listen(self._server, era2026, wanted, listen.sink)
        except Exception:
            self.log.failure("server {server}: opening a listen stream failed", server=self._server)
            listen.fail(_internalError(era2026.clientId))
            return NOT_DONE_YET
        listen.opening = opening
        response.onDisconnect(listen.lost)
        # Weakly: the listen holds the request, which holds its context.
        contextOf(request).credentialEnded = WeakMethod(listen.credentialEnded)
        opening.addCallbacks(
            listen.started,
            lambda f: listen.fail(self._errorFor(era2026.clientId, f, request)),
        )
        opening.addErrback(lambda f: self.log.failure("a listen stream failed", f))
        return NOT_DONE_YET

    def _forget(self, listen: _Listen) -> None:
        if listen in self.listens:
            self.listens.discard(listen)
            self.inFlight -= 1

    def endStreams(self, reason: str) -> int:
        """End every open listen stream with its graceful result (the gateway
        stops or hands over to a restart's successor); how many ended."""
        listens = list(self.listens)
        for listen in listens:
            listen.end(reason, closeHandle=True)
        return len(listens)

    def notAllowed(self, request: Request) -> bytes:
        """A GET or DELETE (or any other method) of a 2026 client: the
        2026-07-28 endpoint is POST only."""
        method = (request.method or b"?").decode("ascii", "replace")[:16]
        text = f"method {method} is not allowed: protocol 2026-07-28 uses POST only"
        self._clientErrors.note(request, 405, text)
        request.setHeader(b"allow", b"POST")
        return _reply(request, 405, jsonrpc.errorResponse(None, jsonrpc.INVALID_REQUEST, text))


class _Listen:
    """One open C{subscriptions/listen} stream of an endpoint."""

    log = Logger(observer=logs.observer)

    def __init__(self, endpoint: Era2026Endpoint, listenId: Any, response: Era2026Response) -> None:
        self.endpoint = endpoint
        self.id = listenId
        self.response = response
        self.opening: Deferred[ListenHandle] | None = None
        self.handle: ListenHandle | None = None
        self.early: list[Message] | None = []
        """Notifications that came before the acknowledgement went out."""
        self.done = False

    def sink(self, message: Message) -> bool:
        """Where the core writes the stream's notifications (untagged)."""
        if self.done or not self.response.open:
            return False
        early = self.early
        if early is not None:
            if len(early) < MAX_EARLY_FRAMES:
                early.append(message)
            return True
        return self.response.send(era2026form.tagged(message, self.id))

    def started(self, handle: ListenHandle) -> None:
        """The core opened the stream: the acknowledgement, then what came early."""
        if self.done:
            handle.close()
            return
        self.handle = handle
        self.response.send(
            era2026form.acknowledged(self.id, honouredNotifications(handle.honoured))
        )
        early, self.early = self.early or [], None
        for message in early:
            self.response.send(era2026form.tagged(message, self.id))
        handle.ended.addCallback(lambda reason: self.end(str(reason), closeHandle=False))
        handle.ended.addErrback(lambda f: self.log.failure("a listen stream's end failed", f))

    def end(self, reason: str, closeHandle: bool) -> None:
        """End the stream with its graceful result."""
        if self.done:
            return
        self.done = True
        self.response.finish(listenEnded(self.id))
        self._release(closeHandle)

    def credentialEnded(self) -> None:
        """The token that opened the stream was revoked or expired: end it
        with its graceful result (the client listens again, and only a
        token that stands is let in)."""
        self.end("its token ended", closeHandle=True)

    def fail(self, error: Message) -> None:
        """The stream could not open: answer its request with C{error}."""
        if self.done:
            return
        self.done = True
        self.response.finish(error)
        self._release(False)

    def lost(self) -> None:
        """The client went away: give back what the stream held."""
        if self.done:
            return
        self.done = True
        opening = self.opening
        if self.handle is None and opening is not None:
            opening.cancel()
        self._release(True)

    def _release(self, closeHandle: bool) -> None:
        handle, self.handle = self.handle, None
        if closeHandle and handle is not None:
            try:
                handle.close()
            except Exception:
                self.log.failure("closing a listen stream failed")
        self.endpoint._forget(self)


def _internalError(requestId: Any) -> Message:
    return jsonrpc.errorResponse(
        requestId, jsonrpc.INTERNAL_ERROR, "internal error in the gateway; see its log"
    )
