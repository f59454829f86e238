# -*- test-case-name: tests.core.era2026.test_era2026child -*-
"""The stdio wire to a child that speaks only MCP 2026-07-28.

A child whose entry says C{"era": "era2026"}, or that answers the gateway's
C{initialize} with -32022 listing only 2026 revisions (L{era2026Only}), is
driven in the 2026 era: no C{initialize}, no sessions, no C{ping}, no
C{logging/setLevel}, no C{resources/(un)subscribe}, and every request
carries the C{_meta} envelope. Its L{mcpgateway.core.upstream.Upstream}
runs C{server/discover} on it instead of the handshake, and makes the
answer into an C{InitializeResult} (L{initializeResultOf}) so that handshake
sessions are answered as before.

A L{Era2026ChildAdapter} sits between the child's L{Router} (which still
thinks in 2025 terms: sessions, ids, progress tokens, requests of the child
to its clients) and the child's stdin and stdout:

 - B{To the child} (L{Era2026ChildAdapter.toChild}, the router's C{send}): a
   handshake session's request gets an envelope made from that session (its
   capabilities without C{roots.listChanged} and C{tasks}, its
   C{clientInfo}, its log level); a 2026 client's request passes with its
   own envelope (L{Era2026ChildAdapter.serveEra2026}); the gateway's own requests
   get the gateway's. C{logging/setLevel} and C{resources/(un)subscribe}
   are answered by the adapter: the union of the URIs subscribed (by handshake
   sessions and listen streams, counted by the fanout) is one upstream
   C{subscriptions/listen}, opened again when the union changes, when the
   child ends it, and after a restart (a new adapter per child process). A
   handshake session's C{initialize} (a child per session) is answered from
   the discover result; the gateway's health C{ping} becomes a
   C{server/discover}. Client notifications other than
   C{notifications/cancelled} are dropped (2026 has none).
 - B{From the child} (L{Era2026ChildAdapter.fromChild}): the listen's
   notifications lose their C{subscriptionId} and go to the router (its
   fanout spreads them as for a handshake child); a request of the child is
   refused (a 2026 server sends none); a result for a handshake session loses
   what 2025 does not have (C{resultType}, cache hints, the server info in
   C{_meta}; a non-object C{structuredContent} is wrapped
   C{{"result": value}}, a non-object C{outputSchema} likewise).
 - B{The reverse bridge}: an C{InputRequiredResult} answering a handshake
   session's call becomes real requests of the child to that session, fed
   to the router with the L{childhints.HINT_RELATED} hint (so they go on that
   very request's stream); their answers are caught on their way to the
   child, and once all are in the adapter retries the call under a new id
   with C{inputResponses} and the child's C{requestState}, and answers the
   session's request with what the retry brings (at most L{MAX_ROUNDS}
   rounds). A client's error answer fails the call with that error.

A 2026 client's retry must reach the child that made its
C{requestState}: the adapter hands the client the child's state sealed in
a wrapper (L{StateWrapper}: an HMAC under a per-process key over the state
and the request's binding: server, route and credentials, method, target,
arguments, principal). The route and credentials pick the child (one child
per route), so the binding is what makes a retry reach the same child; a
retry with another route, credential, tool or arguments is refused by the
gateway (-32602) and never reaches any child. After a child restart the
new child gets the old state and judges it itself (a stateless server may
take it; one with a process-local key refuses it with -32602, passed on).
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mcpgateway.core.era2026.mrtr import bindingOf
from mcpgateway.core.era2026.translate import (
    LISTS,
    era2026Capabilities,
    handshakeResult,
    initializeResultOf,
    sameId,
    spokenVersion,
    withEnvelope,
    withoutTag,
    withoutTasks,
)
from mcpgateway.core.era2026.types import Era2026Request, Sink
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import SessionLike
from mcpgateway.protocol import childhints, era2026form, jsonrpc, versions
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.protocol.jsonrpc import Kind, Message
from mcpgateway.protocol.requeststate import INVALID_STATE, Binding, StateError, StateWrapper
from mcpgateway.runtime import logs

__all__ = ["MAX_ROUNDS", "Era2026ChildAdapter", "processWrapper"]

MAX_ROUNDS = 10
"""C{InputRequiredResult}s one handshake call may go through (more: -32603)."""
ID_PREFIX = "mcpgw-"
"""Every id the adapter itself writes to the child (or to the router) starts so."""
STATE_ONLY_DELAY = 0.05
"""Seconds before retrying an C{InputRequiredResult} that asks nothing (doubling)."""
STATE_ONLY_MAX_DELAY = 0.25
RELISTEN_DELAY = 1.0
"""Seconds before the upstream listen is opened again after the child ended it."""
RELISTEN_MAX_DELAY = 60.0
INPUT_METHODS = frozenset({"elicitation/create", "sampling/createMessage", "roots/list"})
"""What an C{inputRequests} entry may ask of a client."""


_process: list[StateWrapper] = []


def processWrapper() -> StateWrapper:
    """The wrapper of this gateway process (one key for every server: a
    token's binding names its server and route)."""
    if not _process:
        _process.append(StateWrapper())
    return _process[0]


# -- the adapter --------------------------------------------------------------------


class _Caller:
    """A 2026 client's request passing through to the child, as the
    router sees its client (a session-like object; never in
    C{router.sessions})."""

    era2026 = True
    called = False  # never restored: nothing to tell it of a child started anew
    __slots__ = ("capabilities", "id", "logLevel", "subscriptions")

    def __init__(self, capabilities: dict[str, Any], logLevel: str | None) -> None:
        self.id = "mc-" + secrets.token_hex(6)
        self.capabilities = capabilities
        self.logLevel = logLevel if logLevel in LOG_LEVELS else None
        self.subscriptions: set[str] = set()

    def deliver(self, message: Message) -> bool:
        """No standalone stream: nothing but its own request's is delivered."""
        return False


class _Bridged:
    """A handshake session's call that the child answered with an
    C{InputRequiredResult}: its rounds, from the first to the final answer."""

    __slots__ = (
        "answers",
        "asking",
        "childId",
        "current",
        "method",
        "params",
        "rounds",
        "session",
        "state",
        "stateOnly",
        "timer",
    )

    def __init__(
        self, childId: int, method: str, params: dict[str, Any], session: SessionLike | None
    ) -> None:
        self.childId = childId
        """The router's id of the call (the session's request)."""
        self.method = method
        self.params = params
        """The params as the child got them first (envelope included)."""
        self.session = session
        self.rounds = 0
        self.current: Any = None
        """The id of the child request in flight for it (C{None}: none, the
        client is being asked)."""
        self.asking: dict[str, str] = {}
        """The ids of the requests to the client not yet answered, to their keys."""
        self.answers: dict[str, Any] = {}
        self.state: str | None = None
        self.stateOnly = 0
        """State-only rounds in a row (for the retry back-off)."""
        self.timer: IDelayedCall | None = None


class Era2026ChildAdapter:
    """The stdio wire of one 2026-only child process.

    @ivar discover: the child's C{DiscoverResult} (L{discovered}).
    @ivar initializeResult: what handshake sessions are told of the child.
    @ivar version: the 2026 revision spoken to the child.
    @ivar inputRounds: C{InputRequiredResult}s bridged to handshake sessions.
    @ivar refusedRequests: requests the child sent (and was refused).
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        router: Router,
        clock: IReactorTime,
        send: Callable[[Message], None],
        clientInfo: Mapping[str, Any],
        version: str = versions.ERA2026_VERSIONS[-1],
        wrapper: StateWrapper | None = None,
    ) -> None:
        """
        @param router: the child's router (this adapter becomes its C{send}).
        @param send: writes one message to the child's stdin.
        @param clientInfo: what the gateway calls itself in its own requests.
        @param version: the revision to speak (from the child's -32022).
        """
        self.router = router
        self.name = router.name
        self._clock = clock
        self._send = send
        self._clientInfo = dict(clientInfo)
        self.version = version
        self._wrapper = wrapper if wrapper is not None else processWrapper()
        self.discover: dict[str, Any] | None = None
        self.initializeResult: dict[str, Any] | None = None
        self._ids = itertools.count(1)
        self._sent: dict[int, dict[str, Any]] = {}
        """Params of the calls of handshake sessions (and the gateway) that
        may be answered with an C{InputRequiredResult}, by router id."""
        self._bridged: dict[int, _Bridged] = {}
        self._retries: dict[str, _Bridged] = {}
        self._asking: dict[str, _Bridged] = {}
        self._uris: set[str] = set()
        """The union of the URIs subscribed through the router."""
        self._listenId: str | None = None
        self._listening: dict[str, Any] | None = None
        """The filter of the open upstream listen."""
        self._listenFailed = False
        self._listenDelay = RELISTEN_DELAY
        self._listenTimer: IDelayedCall | None = None
        self.started = False
        self.closed = False
        self.inputRounds = 0
        self.refusedRequests = 0
        self.lateReplies = 0

    # -- life -------------------------------------------------------------------------

    def discovered(self, result: dict[str, Any]) -> None:
        """The child's C{DiscoverResult} came: what handshake sessions will be told."""
        self.discover = result
        version = spokenVersion(result.get("supportedVersions"))
        if version is not None:
            self.version = version
        self.initializeResult = initializeResultOf(result, self.name)

    def start(self) -> None:
        """The child serves: open the upstream listen its lists and the
        subscriptions need."""
        self.started = True
        self._relistenSoon()

    def close(self) -> None:
        """The child is gone: nothing more is written, no timer runs."""
        self.closed = True
        for timer in [self._listenTimer, *(c.timer for c in self._bridged.values())]:
            if timer is not None and timer.active():
                timer.cancel()
        self._listenTimer = None
        self._bridged.clear()
        self._retries.clear()
        self._asking.clear()
        self._sent.clear()

    def _nextId(self, kind: str) -> str:
        return f"{ID_PREFIX}{kind}-{next(self._ids)}"

    def _write(self, message: Message) -> None:
        if not self.closed:
            self._send(message)

    def _capabilities(self) -> Mapping[str, Any]:
        caps = self.discover.get("capabilities") if self.discover is not None else None
        return caps if isinstance(caps, Mapping) else {}

    def envelope(self, session: SessionLike | None) -> dict[str, Any]:
        """The C{_meta} envelope of a request made for C{session} (a handshake
        session) or the gateway (C{None})."""
        if session is None:
            caps: dict[str, Any] = {}
            info: Any = self._clientInfo
            level = None
        else:
            caps = era2026Capabilities(session.capabilities)
            info = getattr(session, "clientInfo", None)
            level = session.logLevel
        envelope: dict[str, Any] = {
            era2026form.PROTOCOL_VERSION_KEY: self.version,
            era2026form.CAPABILITIES_KEY: caps,
            era2026form.CLIENT_INFO_KEY: dict(info) if isinstance(info, dict) else self._clientInfo,
        }
        if level in LOG_LEVELS:
            envelope[era2026form.LOG_LEVEL_KEY] = level
        return envelope

    # -- 2026 clients -----------------------------------------------------------------

    def serveEra2026(
        self,
        request: Era2026Request,
        sink: Sink,
        serverInfo: dict[str, Any] | None,
        cacheScope: str,
    ) -> Deferred[Message]:
        """Serve a 2026 client's request: it passes to the child with its
        own envelope; its C{requestState} is unwrapped on the way in, the
        child's wrapped on the way out. Fires with the finished answer;
        cancelling it cancels the request on the child."""
        binding = bindingOf(self.name, request)
        params = dict(request.params)
        if request.requestState is not None:
            try:
                params["requestState"] = self._wrapper.unwrap(request.requestState, binding)
            except StateError:
                return succeed(
                    jsonrpc.errorResponse(request.clientId, jsonrpc.INVALID_PARAMS, INVALID_STATE)
                )
        if request.inputResponses is not None:
            params["inputResponses"] = request.inputResponses
        envelope: dict[str, Any] = {
            era2026form.PROTOCOL_VERSION_KEY: self.version,
            era2026form.CAPABILITIES_KEY: withoutTasks(request.capabilities),
        }
        if request.clientInfo:
            envelope[era2026form.CLIENT_INFO_KEY] = dict(request.clientInfo)
        if request.logLevel in LOG_LEVELS:
            envelope[era2026form.LOG_LEVEL_KEY] = request.logLevel
        caller = _Caller(dict(request.capabilities), request.logLevel)
        message = jsonrpc.request(request.clientId, request.method, withEnvelope(params, envelope))
        exchange = self.router.open(caller, message, sink)
        return exchange.response.addCallback(
            self._finishEra2026, request.method, binding, serverInfo, cacheScope
        )

    def _finishEra2026(
        self,
        response: Message,
        method: str,
        binding: Binding,
        serverInfo: dict[str, Any] | None,
        cacheScope: str,
    ) -> Message:
        """The child's answer as the 2026 client gets it: its own
        C{resultType} and cache hints (a C{private} server's C{cacheScope}
        stays C{private}), the server info in C{_meta}, its C{requestState}
        wrapped."""
        error = response.get("error")
        if isinstance(error, dict):
            return {**response, "error": era2026form.translateError(error)}
        result = response.get("result")
        if not isinstance(result, dict):
            return jsonrpc.errorResponse(
                response.get("id"), jsonrpc.INTERNAL_ERROR, "the server's result is not an object"
            )
        result = dict(result)
        kind = result.setdefault("resultType", "complete")
        if kind == "input_required":
            if method not in era2026form.MRTR_METHODS:
                return jsonrpc.errorResponse(
                    response.get("id"),
                    jsonrpc.INTERNAL_ERROR,
                    f"server '{self.name}' asked for input during {method}",
                )
            state = result.get("requestState")
            if isinstance(state, str):
                result["requestState"] = self._wrapper.wrap(state, binding)
            result.pop("ttlMs", None)
            result.pop("cacheScope", None)
        elif kind != "complete":
            return jsonrpc.errorResponse(
                response.get("id"),
                jsonrpc.INTERNAL_ERROR,
                f"server '{self.name}' answered with resultType {kind!r}, which the gateway"
                " does not serve",
            )
        elif method in era2026form.CACHEABLE:
            ttl = result.get("ttlMs")
            if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
                result["ttlMs"] = 0
            if cacheScope == "private" or result.get("cacheScope") not in ("public", "private"):
                result["cacheScope"] = cacheScope
        if serverInfo is not None:
            meta = result.get("_meta")
            meta = dict(meta) if isinstance(meta, dict) else {}
            meta[era2026form.SERVER_INFO_KEY] = serverInfo  # as clients see it (identity)
            result["_meta"] = meta
        return {**response, "result": result}

    # -- to the child -------------------------------------------------------------------

    def toChild(self, message: Message) -> None:
        """What the router writes to the child (it is the router's C{send})."""
        if self.closed:
            return
        kind = jsonrpc.classify(message)
        if kind is Kind.REQUEST:
            self._request(message)
        elif kind is Kind.NOTIFICATION:
            self._notification(message)
        elif kind is Kind.RESPONSE:
            self._clientAnswer(message)

    def _answerHere(self, requestId: Any, result: dict[str, Any]) -> None:
        """Answer a request the router sent, in place of the child."""
        self.router.childMessage(jsonrpc.resultResponse(requestId, result))

    def _refuseHere(self, requestId: Any, code: int, text: str) -> None:
        self.router.childMessage(jsonrpc.errorResponse(requestId, code, text))

    def _request(self, message: Message) -> None:
        method = message["method"]
        requestId = message["id"]
        exchange = self.router.exchangeFor(requestId)
        session = exchange.session if exchange is not None else None
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if isinstance(session, _Caller):
            self._write(message)  # a 2026 client's own envelope
            return
        if method == "initialize":
            self._initialize(requestId, params)
            return
        if method == "logging/setLevel":
            self._answerHere(requestId, {})  # the level goes with each request instead
            return
        if method in ("resources/subscribe", "resources/unsubscribe"):
            self._subscription(requestId, method, params)
            return
        if method == "ping":
            if session is not None:
                self._answerHere(requestId, {})
                return
            method, params = "server/discover", {}  # the gateway's health ping
        params = withEnvelope(params, self.envelope(session))
        if method in era2026form.MRTR_METHODS and type(requestId) is int:
            self._sent[requestId] = params
        self._write({**message, "method": method, "params": params})

    def _initialize(self, requestId: Any, params: dict[str, Any]) -> None:
        """A session's own C{initialize} (a child per session): answered
        from the discover result."""
        if self.initializeResult is None:
            self._refuseHere(
                requestId, jsonrpc.INTERNAL_ERROR, f"server '{self.name}' was not discovered yet"
            )
            return
        version = versions.negotiate(params.get("protocolVersion"))
        self._answerHere(requestId, {**self.initializeResult, "protocolVersion": version})

    def answerInitialize(self, requestId: Any, requested: Any) -> None:
        """Answer the session's C{initialize} the child refused with -32022
        (it was found to be 2026-only on the way)."""
        self._initialize(requestId, {"protocolVersion": requested})

    def _subscription(self, requestId: Any, method: str, params: dict[str, Any]) -> None:
        uri = params.get("uri")
        resources = self._capabilities().get("resources")
        if not (isinstance(resources, Mapping) and resources.get("subscribe") is True):
            self._refuseHere(
                requestId,
                jsonrpc.METHOD_NOT_FOUND,
                f"server '{self.name}' does not support resource subscriptions",
            )
            return
        if not isinstance(uri, str):
            self._refuseHere(requestId, jsonrpc.INVALID_PARAMS, f"{method} needs a string uri")
            return
        before = set(self._uris)
        if method == "resources/subscribe":
            self._uris.add(uri)
        else:
            self._uris.discard(uri)
        self._answerHere(requestId, {})
        if self._uris != before:
            self._listenFailed = False
            self._relistenSoon()

    def _notification(self, message: Message) -> None:
        if message["method"] != "notifications/cancelled":
            return  # 2026-07-28 has no other notification from a client
        params = message.get("params")
        requestId = params.get("requestId") if isinstance(params, dict) else None
        if type(requestId) is int:
            self._sent.pop(requestId, None)
            call = self._bridged.pop(requestId, None)
            if call is not None:
                reason = params.get("reason") if isinstance(params, dict) else None
                self._end(call, reason if isinstance(reason, str) else None)
                return
        self._write(message)

    def _clientAnswer(self, message: Message) -> None:
        """A client's answer to one of the requests the adapter made of it."""
        questionId = message.get("id")
        call = self._asking.pop(questionId, None) if isinstance(questionId, str) else None
        if call is None or not isinstance(questionId, str):
            self.lateReplies += 1
            self.log.debug(
                "server {server}: an answer to unknown request {id!r}; dropped",
                server=self.name,
                id=questionId,
            )
            return
        key = call.asking.pop(questionId)
        error = message.get("error")
        if "error" in message:
            # inputResponses cannot carry an error: the call fails with it.
            self._fail(call, error if isinstance(error, dict) else None)
            return
        result = message.get("result")
        call.answers[key] = (
            {k: v for k, v in result.items() if k != "_meta"}
            if isinstance(result, dict)
            else result
        )
        if not call.asking:
            self._retry(call)

    # -- from the child -----------------------------------------------------------------

    def fromChild(self, message: Message) -> None:
        """What the child wrote."""
        if self.closed:
            return
        kind = jsonrpc.classify(message)
        if kind is Kind.RESPONSE:
            self._response(message)
        elif kind is Kind.NOTIFICATION:
            self._childNotification(message)
        elif kind is Kind.REQUEST:
            self._childRequest(message)
        else:
            self.router.childMessage(message)  # the router counts and logs it

    def _childRequest(self, message: Message) -> None:
        self.refusedRequests += 1
        if self.refusedRequests == 1:
            self.log.warn(
                "server {server} speaks 2026-07-28 and sent a {method} request, which that"
                " revision does not allow; refused (further ones are counted, not logged)",
                server=self.name,
                method=message["method"],
            )
        self._write(
            jsonrpc.errorResponse(
                message["id"],
                jsonrpc.METHOD_NOT_FOUND,
                "a 2026-07-28 server sends no requests; ask through an InputRequiredResult",
            )
        )

    def _childNotification(self, message: Message) -> None:
        method = message["method"]
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "notifications/subscriptions/acknowledged":
            self._listenDelay = RELISTEN_DELAY
            return
        if method == "notifications/cancelled":
            # A 2026-07-28 server cancels nothing but its listen streams.
            requestId = params.get("requestId")
            if self._listenId is not None and sameId(requestId, self._listenId):
                self._listenEnded(None)  # the child ended it: listen again
            return
        self.router.childMessage(withoutTag(message))

    def _response(self, message: Message) -> None:
        responseId = message["id"]
        if isinstance(responseId, str) and responseId.startswith(ID_PREFIX):
            call = self._retries.pop(responseId, None)
            if call is not None:
                call.current = None
                self._answered(call, message)
            elif sameId(responseId, self._listenId):
                error = message.get("error")
                self._listenEnded(None if "result" in message else str(error))
            else:
                self.lateReplies += 1  # an old listen's end, or a cancelled retry's answer
            return
        if type(responseId) is not int:
            self.router.childMessage(message)
            return
        params = self._sent.pop(responseId, None)
        exchange = self.router.exchangeFor(responseId)
        if exchange is None or isinstance(exchange.session, _Caller):
            self.router.childMessage(message)  # a 2026 client's, or a late reply
            return
        result = message.get("result")
        if isinstance(result, dict) and result.get("resultType") == "input_required":
            call = _Bridged(responseId, exchange.method, params or {}, exchange.session)
            self._bridged[responseId] = call
            self._inputRequired(call, result, params is not None)
            return
        if exchange.session is None:
            self.router.childMessage(message)  # the gateway's own (discover): as it is
            return
        self._deliver(responseId, exchange.method, message, exchange.session)

    def _deliver(self, childId: int, method: str, message: Message, session: object = None) -> None:
        """The final answer of the session's request C{childId} (its cache
        hints kept for a session that C{keepsCacheHints}: the catalogs')."""
        result = message.get("result")
        if isinstance(result, dict):
            hints = bool(getattr(session, "keepsCacheHints", False))
            message = {**message, "id": childId, "result": handshakeResult(method, result, hints)}
        else:
            message = {**message, "id": childId}
        self.router.childMessage(message)

    def _answered(self, call: _Bridged, message: Message) -> None:
        """The child answered a retry of C{call}."""
        result = message.get("result")
        if isinstance(result, dict) and result.get("resultType") == "input_required":
            self._inputRequired(call, result, True)
            return
        self._bridged.pop(call.childId, None)
        self._deliver(call.childId, call.method, message)

    # -- the reverse bridge ---------------------------------------------------------------

    def _inputRequired(self, call: _Bridged, result: dict[str, Any], retryable: bool) -> None:
        """The child wants input for C{call}: ask its session."""
        call.rounds += 1
        requests = result.get("inputRequests", {})
        state = result.get("requestState")
        problem = None
        if not retryable or call.method not in era2026form.MRTR_METHODS:
            problem = f"asked for input during {call.method}"
        elif call.session is None:
            problem = "asked the gateway itself for input"
        elif call.rounds > MAX_ROUNDS:
            problem = f"asked for input more than {MAX_ROUNDS} times in one {call.method}"
        elif (
            not isinstance(requests, dict)
            or (state is not None and not isinstance(state, str))
            or (not requests and state is None)
            or not all(_inputEntry(entry) for entry in requests.values())
        ):
            problem = "answered with a malformed InputRequiredResult"
        if problem is not None:
            self._fail(
                call, {"code": jsonrpc.INTERNAL_ERROR, "message": f"server '{self.name}' {problem}"}
            )
            return
        assert isinstance(requests, dict)
        call.state = state
        call.answers = {}
        if not requests:
            # Only a state: try again after a back-off (as the SDK clients do).
            delay = min(STATE_ONLY_DELAY * 2**call.stateOnly, STATE_ONLY_MAX_DELAY)
            call.stateOnly += 1
            call.timer = self._clock.callLater(delay, self._retry, call)
            return
        call.stateOnly = 0
        self.inputRounds += 1
        questions = [(self._nextId("in"), key, entry) for key, entry in requests.items()]
        for questionId, key, _ in questions:
            call.asking[questionId] = key
            self._asking[questionId] = call
        for questionId, _, entry in questions:
            if call.childId not in self._bridged:
                return  # refused on the way (a missing capability): the call is over
            self.router.childMessage(self._question(questionId, entry, call))

    def _question(self, questionId: str, entry: dict[str, Any], call: _Bridged) -> Message:
        """An C{inputRequests} entry as the child's request to the session."""
        method = entry["method"]
        params = dict(entry.get("params") or {})
        if method == "elicitation/create":
            if params.get("mode") == "url":
                params.setdefault("elicitationId", str(uuid.uuid4()))  # 2025-11-25 needs one
            elif params.get("mode") == "form" and _olderThan(call.session, "2025-11-25"):
                del params["mode"]
        meta = params.get("_meta")
        params["_meta"] = {
            **(meta if isinstance(meta, dict) else {}),
            childhints.HINT_RELATED: call.childId,
        }
        return jsonrpc.request(questionId, method, params)

    def _retry(self, call: _Bridged) -> None:
        """Every question of the round was answered: the child gets the call again."""
        call.timer = None
        if self.closed or self._bridged.get(call.childId) is not call:
            return
        retryId = self._nextId("retry")
        params = withEnvelope(call.params, self.envelope(call.session))
        if call.answers:
            params["inputResponses"] = call.answers
        if call.state is not None:
            params["requestState"] = call.state
        call.current = retryId
        self._retries[retryId] = call
        self._write(jsonrpc.request(retryId, call.method, params))

    def _fail(self, call: _Bridged, error: dict[str, Any] | None) -> None:
        """End C{call}: its session's request gets C{error}."""
        self._end(call, "the call failed")
        self._bridged.pop(call.childId, None)
        if error is None or not isinstance(error.get("code"), int):
            error = {"code": jsonrpc.INTERNAL_ERROR, "message": "the client answered with an error"}
        self.router.childMessage({"jsonrpc": "2.0", "id": call.childId, "error": error})

    def _end(self, call: _Bridged, reason: str | None) -> None:
        """Forget C{call}: questions not answered are withdrawn from the
        session, a retry in flight is cancelled on the child."""
        if call.timer is not None and call.timer.active():
            call.timer.cancel()
        call.timer = None
        asking, call.asking = call.asking, {}
        for questionId in asking:
            self._asking.pop(questionId, None)
            self.router.childMessage(
                jsonrpc.notification("notifications/cancelled", {"requestId": questionId})
            )
        current, call.current = call.current, None
        if current is not None and self._retries.pop(current, None) is call:
            params: dict[str, Any] = {"requestId": current}
            if reason:
                params["reason"] = reason
            self._write(jsonrpc.notification("notifications/cancelled", params))

    # -- the upstream listen -----------------------------------------------------------------

    def _wanted(self) -> dict[str, Any] | None:
        """The filter of the upstream listen: every list the child says
        changes, and the URIs subscribed when it takes subscriptions."""
        caps = self._capabilities()
        wanted: dict[str, Any] = {}
        for flag, name in LISTS:
            capability = caps.get(name)
            if isinstance(capability, Mapping) and capability.get("listChanged") is True:
                wanted[flag] = True
        resources = caps.get("resources")
        if self._uris and isinstance(resources, Mapping) and resources.get("subscribe") is True:
            wanted["resourceSubscriptions"] = sorted(self._uris)
        return wanted or None

    def _relistenSoon(self, delay: float = 0.0) -> None:
        if not self.started or self.closed:
            return
        if self._listenTimer is not None and self._listenTimer.active():
            if delay > 0:
                return
            self._listenTimer.cancel()
        self._listenTimer = self._clock.callLater(delay, self._relisten)

    def _relisten(self) -> None:
        self._listenTimer = None
        if self.closed or self._listenFailed:
            return
        wanted = self._wanted()
        if self._listenId is not None and wanted == self._listening:
            return
        old = self._listenId
        self._listenId = None
        self._listening = wanted
        if wanted is not None:
            self._listenId = self._nextId("listen")
            params = withEnvelope({"notifications": wanted}, self.envelope(None))
            self._write(jsonrpc.request(self._listenId, "subscriptions/listen", params))
        if old is not None:
            self._write(
                jsonrpc.notification(
                    "notifications/cancelled", {"requestId": old, "reason": "listening again"}
                )
            )

    def _listenEnded(self, error: str | None) -> None:
        """The child ended the upstream listen (C{error}: it refused it)."""
        self._listenId = None
        self._listening = None
        if error is not None:
            self._listenFailed = True
            self.log.warn(
                "server {server} refused subscriptions/listen: {error}; its list changes"
                " and resource updates are not followed",
                server=self.name,
                error=error,
            )
            return
        delay = self._listenDelay
        self._listenDelay = min(delay * 2, RELISTEN_MAX_DELAY)
        self._relistenSoon(delay)


def _inputEntry(entry: Any) -> bool:
    """Whether an C{inputRequests} value is something a client can be asked."""
    return (
        isinstance(entry, dict)
        and entry.get("method") in INPUT_METHODS
        and isinstance(entry.get("params", {}), dict)
    )


def _olderThan(session: SessionLike | None, version: str) -> bool:
    negotiated = getattr(session, "protocolVersion", None)
    return isinstance(negotiated, str) and negotiated < version
