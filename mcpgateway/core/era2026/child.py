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
 - B{The reverse bridge}
   (L{mcpgateway.core.era2026.reversebridge.ReverseBridge}, which the adapter
   holds): an C{InputRequiredResult} answering a handshake session's call
   becomes real requests of the child to that session, on that very
   request's stream; their answers are caught on their way to the child,
   and once all are in the call is retried with C{inputResponses} and the
   child's C{requestState}, and the session's request is answered with what
   the retry brings (at most
   L{mcpgateway.core.era2026.reversebridge.MAX_ROUNDS} rounds). A client's
   error answer fails the call with that error.

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
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mcpgateway.core.era2026.mrtr import bindingOf
from mcpgateway.core.era2026.reversebridge import ReverseBridge
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
from mcpgateway.protocol import era2026form, jsonrpc, versions
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.protocol.jsonrpc import Kind, Message
from mcpgateway.protocol.requeststate import INVALID_STATE, Binding, StateError, StateWrapper
from mcpgateway.runtime import logs

__all__ = ["Era2026ChildAdapter", "processWrapper"]

ID_PREFIX = "mcpgw-"
"""Every id the adapter itself writes to the child (or to the router) starts so."""
RELISTEN_DELAY = 1.0
"""Seconds before the upstream listen is opened again after the child ended it."""
RELISTEN_MAX_DELAY = 60.0


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


class Era2026ChildAdapter:
    """The stdio wire of one 2026-only child process.

    @ivar discover: the child's C{DiscoverResult} (L{discovered}).
    @ivar initializeResult: what handshake sessions are told of the child.
    @ivar version: the 2026 revision spoken to the child.
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
        self._bridge = ReverseBridge(
            router, clock, self._write, self._nextId, self.envelope, self._deliver
        )
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
        self.refusedRequests = 0
        self.lateReplies = 0

    @property
    def inputRounds(self) -> int:
        """C{InputRequiredResult}s bridged to handshake sessions."""
        return self._bridge.inputRounds

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
        if self._listenTimer is not None and self._listenTimer.active():
            self._listenTimer.cancel()
        self._listenTimer = None
        self._bridge.close()

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
            self._bridge.track(requestId, params)
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
            reason = params.get("reason") if isinstance(params, dict) else None
            if self._bridge.cancelled(requestId, reason if isinstance(reason, str) else None):
                return  # a bridged call: the bridge ended it (and any retry in flight)
        self._write(message)

    def _clientAnswer(self, message: Message) -> None:
        """A client's answer to one of the requests the adapter made of it
        (the reverse bridge's questions: the only ones)."""
        if self._bridge.answer(message):
            return
        self.lateReplies += 1
        self.log.debug(
            "server {server}: an answer to unknown request {id!r}; dropped",
            server=self.name,
            id=message.get("id"),
        )

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
            if self._bridge.retried(responseId, message):
                return  # a retry's answer: the bridge's
            if sameId(responseId, self._listenId):
                error = message.get("error")
                self._listenEnded(None if "result" in message else str(error))
            else:
                self.lateReplies += 1  # an old listen's end, or a cancelled retry's answer
            return
        if type(responseId) is not int:
            self.router.childMessage(message)
            return
        params = self._bridge.untrack(responseId)
        exchange = self.router.exchangeFor(responseId)
        if exchange is None or isinstance(exchange.session, _Caller):
            self.router.childMessage(message)  # a 2026 client's, or a late reply
            return
        result = message.get("result")
        if isinstance(result, dict) and result.get("resultType") == "input_required":
            self._bridge.inputRequired(
                responseId, exchange.method, params, exchange.session, result
            )
            return
        if exchange.session is None:
            self.router.childMessage(message)  # the gateway's own (discover): as it is
            return
        self._deliver(responseId, exchange.method, message, exchange.session)

    def _deliver(self, childId: int, method: str, message: Message, session: object = None) -> None:
        """The final answer of the session's request C{childId} (its cache
        hints kept for a session that C{keepsCacheHints}: the catalogs'); the
        reverse bridge's for a bridged call, which it hands no session."""
        result = message.get("result")
        if isinstance(result, dict):
            hints = bool(getattr(session, "keepsCacheHints", False))
            message = {**message, "id": childId, "result": handshakeResult(method, result, hints)}
        else:
            message = {**message, "id": childId}
        self.router.childMessage(message)

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
