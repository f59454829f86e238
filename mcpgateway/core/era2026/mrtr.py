# -*- test-case-name: tests.core.era2026.test_mrtr -*-
"""2026 calls on a handshake child: the multi round-trip (MRTR) bridge.

A 2026-07-28 client has no session and no stream the gateway could put a
child's question on: a child's C{sampling/createMessage},
C{elicitation/create} or C{roots/list} during a C{tools/call},
C{prompts/get} or C{resources/read} becomes the answer of that request, an
C{InputRequiredResult} (C{resultType: "input_required"}) with the question
under a key and a C{requestState} token; the client retries the same
request with its answers and the token, and the gateway answers the child's
questions under the child's own ids. The child's call keeps running the
whole time: only the client's side is cut into rounds.

 - A L{Era2026Call} is the client of one call chain as the child's router
   sees it (a session-like object; never in C{router.sessions}, never in
   the session registry): its capabilities and log level are the current
   round's.
 - A L{Suspension} is the state of one chain: the child's call (its
   exchange), the questions asked and not answered, the round the next
   token must name, progress kept while no round is attached, the child's
   final answer if it came while nobody waited.
 - The L{InputBridge} (one per server pool) makes the chains, keeps the
   suspended ones by handle (at most C{maxSuspended}, no eviction: evicting
   would let one client end another's call), seals and opens the tokens
   (L{mcpgateway.protocol.requeststate}), and counts rounds, expiries and bad tokens.

The rules (docs/design/era.md): questions arriving within L{COALESCE} seconds of
the first of a round go out together; a question's key is its
C{mcpgateway/inputKey} hint when usable, else C{elicitation-N},
C{sampling-N}, C{roots-N}; each round's capabilities are checked (a missing
one ends the call with -32021, unless the child marked the question
C{mcpgateway/optional}, or it is a C{roots/list} without
C{mcpgateway/relatedRequestId}: then only that question is refused); a token is
good for one retry; answers are validated, and unanswered keys are asked
again at once; a suspended call's router timeout is paused and its TTL
runs instead (on expiry the child's questions are answered as dismissed
and its call is cancelled); a disconnect of an attached round is a cancel.
A child's -32042 (URL elicitation required) becomes a round of URL
elicitations whose retry starts the call afresh.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.era2026.childtask import ChildTask
from mcpgateway.core.era2026.types import Era2026Request, Sink
from mcpgateway.core.era2026.waits import BridgeWaits
from mcpgateway.core.exchange import Exchange
from mcpgateway.core.router import Router
from mcpgateway.protocol import childhints, era2026form, jsonrpc
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.protocol.requeststate import (
    HANDLE_SIZE,
    INVALID_STATE,
    Binding,
    StateCodec,
    StateError,
    argumentsDigest,
)
from mcpgateway.runtime import logs

__all__ = [
    "COALESCE",
    "MAX_OUTSTANDING",
    "Era2026Call",
    "InputBridge",
    "Suspension",
    "bindingOf",
]

COALESCE = 0.05
"""Seconds the first question of a round waits for others to join it."""
MAX_OUTSTANDING = 16
"""Questions one call may have unanswered at once (more: refused to the child)."""
"""The one text of every refused token (no oracle)."""
KINDS = {
    "elicitation/create": "elicitation",
    "sampling/createMessage": "sampling",
    "roots/list": "roots",
}
"""The child requests a 2026 client can answer, and their key prefix."""
_NO_ANSWER = "the client did not answer"


def bindingOf(server: str, request: Era2026Request) -> Binding:
    """What a token of C{request}'s chain is bound to: the server, the route
    (and credential), the method, its target, its arguments, the caller."""
    params = request.params
    key = era2026form.NAMED_METHODS.get(request.method)
    target = params.get(key) if key is not None else None
    route = request.scope + (f"/c:{request.credentialKey}" if request.credentialKey else "")
    digest = b"" if request.method == "resources/read" else argumentsDigest(params.get("arguments"))
    return Binding(
        server=server,
        route=route,
        method=request.method,
        target=target if isinstance(target, str) else "",
        argsDigest=digest,
        principal=request.principal,
    )


class Era2026Call:
    """The client of one 2026 call chain, as the child's router sees it.

    @ivar capabilities: the current round's C{clientCapabilities}.
    @ivar logLevel: the current round's C{logLevel} (C{None}: no logs).
    """

    era2026 = True
    called = False  # never restored: nothing to tell it of a child started anew
    __slots__ = ("capabilities", "id", "logLevel", "principal", "subscriptions", "suspension")

    def __init__(
        self, capabilities: dict[str, Any], logLevel: str | None, principal: str = ""
    ) -> None:
        self.id = "m-" + secrets.token_hex(6)
        self.principal = principal
        """The key of its caller's principal (C{""}: no authentication): whose
        roots a shared child holds once it answered (L{mcpgateway.core.unproven})."""
        self.capabilities = capabilities
        self.logLevel = logLevel if logLevel in LOG_LEVELS else None
        self.subscriptions: set[str] = set()
        self.suspension: Suspension | None = None

    def deliver(self, message: Message) -> bool:
        """A 2026 call has no standalone stream: only the child's
        withdrawal of a question it had asked (its key is forgotten) and
        the status of the call's task in the child are taken."""
        method = message.get("method")
        params = message.get("params")
        if self.suspension is None or not isinstance(params, dict):
            return False
        if method == "notifications/cancelled":
            self.suspension.withdrawn(params.get("requestId"))
            return True
        if method == "notifications/tasks/status":
            self.suspension.taskStatus(params)
            return True
        return False

    def __repr__(self) -> str:
        return f"<Era2026Call {self.id}>"


class _Round:
    """One HTTP request of a chain: the client's id and token, its stream,
    the Deferred of its answer (cancelled: the client went away)."""

    __slots__ = ("capabilities", "clientId", "deferred", "sink", "token")

    def __init__(self, request: Era2026Request, sink: Sink, suspension: Suspension) -> None:
        self.clientId = request.clientId
        self.token = _progressToken(request.params)
        self.sink = sink
        self.capabilities = request.capabilities
        self.deferred: Deferred[Message] = Deferred(lambda _: suspension.disconnected(self))

    def answer(self, message: Message) -> None:
        if not self.deferred.called:
            self.deferred.callback(message)


class _Asked:
    """One question of the child: its gateway id on the router (C{None}: a
    question the gateway made up, a URL elicitation of a -32042), its key and
    its C{inputRequests} entry."""

    __slots__ = ("entry", "gatewayId", "key", "method", "optional", "request")

    def __init__(
        self,
        gatewayId: int | None,
        key: str,
        method: str,
        request: Message,
        entry: dict[str, Any],
        optional: bool,
    ) -> None:
        self.gatewayId = gatewayId
        self.key = key
        self.method = method
        self.request = request
        self.entry = entry
        self.optional = optional


class Suspension:
    """One 2026 call chain on the child, from its first round to its end.

    Attached (a client request waits on it: L{attached}) or suspended (an
    C{InputRequiredResult} went out; the bridge keeps it by L{handle} until
    the retry, the TTL or the gateway's stop).
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self, bridge: InputBridge, router: Router, request: Era2026Request, binding: Binding
    ) -> None:
        self.bridge = bridge
        self.router = router
        self.request = request
        self.method = request.method
        self.binding = binding
        self.handle = secrets.token_bytes(HANDLE_SIZE)
        self.call = Era2026Call(request.capabilities, request.logLevel, request.principal)
        self.call.suspension = self
        self.exchange: Exchange | None = None
        self.round = 0
        """The round the next token is sealed for (and a retry must name)."""
        self.attached: _Round | None = None
        self.collecting: dict[str, _Asked] = {}
        """Questions of the attached round, waiting for the coalescing window."""
        self.outstanding: dict[str, _Asked] = {}
        """Questions the client was given and has not answered."""
        self.queued: dict[str, _Asked] = {}
        """Questions that came while the chain was suspended (the next round's)."""
        self.keys: set[str] = set()
        self._counters: dict[str, int] = {}
        self.progress: dict[str, Any] | None = None
        """The latest progress of the child while no round was attached."""
        self.final: Message | None = None
        """The child's answer, when it came while no round was attached."""
        self.restart = False
        """No child call behind it (a -32042's round): a retry starts afresh."""
        self.window: IDelayedCall | None = None
        self.expiry: IDelayedCall | None = None
        self.ended = False
        self.childTask: ChildTask | None = None
        """The call, when it runs as the child's own task."""

    # -- the child's side ---------------------------------------------------------

    def start(self, sink: Sink) -> Deferred[Message]:
        """Send the call to the child; its first round."""
        request = self.request
        rnd = self._attach(request, sink)
        message = jsonrpc.request(request.clientId, request.method, request.params)
        if request.method in era2026form.MRTR_METHODS or rnd.token is not None:
            # Always a token on a call that may last several rounds: the
            # child's progress is the chain's, whatever round is attached.
            message = _withProgressToken(message, self.call.id)
        if request.childTask:
            self.childTask = ChildTask(
                self.router, self.call, message, self.related, request.untimed, self._sent
            )
            self.childTask.response.addCallbacks(self._finished, self._gone)
            self.childTask.start()
            return rnd.deferred
        self.exchange = self.router.open(self.call, message, self.related)
        self.exchange.response.addCallbacks(self._finished, self._gone)
        if request.untimed:  # a task's call: its time to live bounds it, not the timeout
            self.router.hold(self.exchange)
        return rnd.deferred

    def _sent(self, exchange: Exchange) -> None:
        """The child's task's call sent C{exchange}: the one in flight now
        (held while its client answers, or while a task bounds it)."""
        self.exchange = exchange
        if self.request.untimed:
            self.router.hold(exchange)

    def taskStatus(self, params: dict[str, Any]) -> None:
        """The child's status of the call's task: its message is the call's progress."""
        progress = self.childTask.status(params) if self.childTask is not None else None
        if progress is not None:
            self.related(progress)

    def related(self, message: Message) -> bool:
        """What the router routes to the chain: the child's questions,
        progress and log lines of its call."""
        method = message.get("method")
        if method is None or self.ended:
            return False
        if "id" in message:
            self._asked(message)
            return True
        rnd = self.attached
        if method == "notifications/progress":
            params = message.get("params")
            if not isinstance(params, dict):
                return False
            if rnd is None:
                self.progress = params  # kept, latest only, for the next round
                return True
            if rnd.token is not None:
                rnd.sink({**message, "params": {**params, "progressToken": rnd.token}})
            return True  # dropped when the round sent no token
        if method == "notifications/message" and rnd is not None:
            return rnd.sink(message)
        return False

    def _asked(self, message: Message) -> None:
        gatewayId = message["id"]
        method = message["method"]
        if self.method not in era2026form.MRTR_METHODS:
            self._refuse(
                gatewayId,
                jsonrpc.INTERNAL_ERROR,
                f"{method}: a 2026 client cannot be asked anything during {self.method}",
            )
            return
        kind = KINDS.get(method)
        if kind is None or self.restart:
            self._refuse(
                gatewayId, jsonrpc.METHOD_NOT_FOUND, f"{method}: a 2026 client cannot answer it"
            )
            return
        if len(self.collecting) + len(self.outstanding) + len(self.queued) >= MAX_OUTSTANDING:
            self._refuse(
                gatewayId,
                jsonrpc.INTERNAL_ERROR,
                f"{method}: {MAX_OUTSTANDING} questions of this call are unanswered already",
            )
            return
        hint, entry = era2026form.inputRequest(message)
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        optional = isinstance(meta, dict) and meta.get(childhints.HINT_OPTIONAL) is True
        if method == "roots/list" and not (
            isinstance(meta, dict) and childhints.HINT_RELATED in meta
        ):
            # A hint-less roots/list is often no part of the call (a TS-SDK
            # server syncs its roots at start-up): without roots, the child is
            # answered as a direct client would answer it, the call goes on.
            optional = True
        asked = _Asked(gatewayId, self._key(kind, hint), method, message, entry, optional)
        rnd = self.attached
        if rnd is None:
            self.queued[asked.key] = asked
            return
        if not self._admit(asked, rnd):
            return
        self.collecting[asked.key] = asked
        if self.window is None:
            # A call held behind its child's roots barrier has not reached the
            # child: its roots question is all the child asks for it now.
            held = self.exchange is not None and self.router.childRoots.holds(self.exchange)
            wait = 0.0 if held else COALESCE
            self.window = self.bridge.clock.callLater(wait, self._windowClosed)

    def _key(self, kind: str, hint: str | None) -> str:
        if hint is not None and hint not in self.keys:
            key = hint
        else:
            while True:
                self._counters[kind] = count = self._counters.get(kind, 0) + 1
                key = f"{kind}-{count}"
                if key not in self.keys:
                    break
        self.keys.add(key)
        return key

    def _admit(self, asked: _Asked, rnd: _Round) -> bool:
        """Whether the client of C{rnd} can answer C{asked}; if not, the
        child is refused, and (unless the question was optional: hinted so,
        or a hint-less C{roots/list}) the call ends with -32021 for the
        client."""
        missing = era2026form.missingCapability(asked.request, rnd.capabilities)
        if missing is None:
            return True
        names = ", ".join(_capabilityNames(missing))
        if asked.gatewayId is not None:
            self._refuse(
                asked.gatewayId,
                jsonrpc.METHOD_NOT_FOUND,
                f"the client did not declare the {names} capability",
            )
        if asked.optional:
            self.log.info(
                "server {server}: the child asked a 2026 {method} for {question}, which needs"
                " the {names} capability its client did not declare; refused to the child,"
                " the call goes on",
                server=self.bridge.server,
                method=self.method,
                question=asked.method,
                names=names,
            )
            return False
        self._fail(
            rnd,
            jsonrpc.errorResponse(
                rnd.clientId,
                jsonrpc.MISSING_CAPABILITY,
                f"Server requires the {names} capability for this request",
                {"requiredCapabilities": missing},
            ),
            f"the client lacks the {names} capability",
        )
        return False

    def withdrawn(self, gatewayId: Any) -> None:
        """The child cancelled its question C{gatewayId}: forget it."""
        for questions in (self.collecting, self.outstanding, self.queued):
            for key, asked in list(questions.items()):
                if asked.gatewayId == gatewayId and type(asked.gatewayId) is type(gatewayId):
                    del questions[key]

    def _finished(self, response: Message) -> None:
        """The child answered the call (or the router did: timeout, exit)."""
        self.exchange = None
        rnd = self.attached
        if rnd is None:
            # Kept for the next valid retry; the questions are moot now.
            self.final = response
            self._dismiss(self.queued, self.outstanding)
            return
        self._complete(rnd, response)

    def _gone(self, reason: Failure) -> None:
        self.exchange = None
        reason.trap(CancelledError)

    def _complete(self, rnd: _Round, response: Message) -> None:
        """C{response} ends the chain: C{rnd}'s client gets it (a -32042 is
        a round of URL elicitations first, when the client can take them)."""
        self._stopWindow()
        self._dismiss(self.collecting, self.outstanding, self.queued)
        error = response.get("error")
        if (
            isinstance(error, dict)
            and error.get("code") == era2026form.URL_ELICITATION_REQUIRED
            and self.method in era2026form.MRTR_METHODS
        ):
            self._urlElicitations(rnd, error)
            return
        self._end()
        rnd.answer({**response, "id": rnd.clientId})

    def _urlElicitations(self, rnd: _Round, error: dict[str, Any]) -> None:
        data = error.get("data")
        wanted = data.get("elicitations") if isinstance(data, dict) else None
        entries = [
            {"mode": "url", "message": e.get("message", ""), "url": e["url"]}
            for e in (wanted if isinstance(wanted, list) else [])
            if isinstance(e, dict) and isinstance(e.get("url"), str)
        ]
        elicitation = rnd.capabilities.get("elicitation")
        if not entries or not (isinstance(elicitation, dict) and "url" in elicitation):
            self._end()
            message = (
                "Server requires the elicitation capability (url mode) for this request"
                if entries
                else str(error.get("message", "URL elicitation required"))
            )
            rnd.answer(
                jsonrpc.errorResponse(
                    rnd.clientId,
                    jsonrpc.MISSING_CAPABILITY,
                    message,
                    {"requiredCapabilities": {"elicitation": {"url": {}}}},
                )
            )
            return
        self.restart = True
        for params in entries:
            entry = {"method": "elicitation/create", "params": params}
            key = self._key("elicitation", None)
            self.outstanding[key] = _Asked(None, key, "elicitation/create", entry, entry, False)
        self._suspend(rnd)

    # -- rounds ---------------------------------------------------------------------

    def _attach(self, request: Era2026Request, sink: Sink) -> _Round:
        rnd = _Round(request, sink, self)
        self.attached = rnd
        self.call.capabilities = request.capabilities
        self.call.logLevel = request.logLevel if request.logLevel in LOG_LEVELS else None
        return rnd

    def _windowClosed(self) -> None:
        self.window = None
        rnd = self.attached
        if rnd is None or not self.collecting or self.ended:
            return
        self.outstanding.update(self.collecting)
        self.collecting.clear()
        self._suspend(rnd)

    def _suspend(self, rnd: _Round) -> None:
        """Answer C{rnd} with the outstanding questions and a token for the next round."""
        bridge = self.bridge
        self.attached = None
        if bridge.suspended() >= bridge.maxSuspended:
            self.log.warn(
                "server {server}: {count} 2026 calls wait for their clients' input"
                " (maxSuspendedCalls); refused one more",
                server=bridge.server,
                count=bridge.suspended(),
            )
            self._fail(
                rnd,
                jsonrpc.errorResponse(
                    rnd.clientId,
                    jsonrpc.TOO_MANY_REQUESTS,
                    f"server '{bridge.server}' has {bridge.maxSuspended} calls waiting for"
                    " their clients' input (maxSuspendedCalls); try again later",
                ),
                "too many calls wait for their clients' input",
            )
            return
        if self.exchange is not None:
            self.router.hold(self.exchange)
        clock = bridge.clock
        expiresAt = clock.seconds() + bridge.ttl
        token = bridge.codec.seal(self.handle, self.round, expiresAt, self.binding)
        bridge._suspended[self.handle] = self
        if self.expiry is not None and self.expiry.active():
            self.expiry.cancel()
        self.expiry = clock.callLater(bridge.ttl, self._expired)
        bridge.inputRounds += 1
        result = {
            "resultType": "input_required",
            "inputRequests": {key: asked.entry for key, asked in self.outstanding.items()},
            "requestState": token,
        }
        rnd.answer(jsonrpc.resultResponse(rnd.clientId, result))

    def resume(self, request: Era2026Request, sink: Sink) -> Deferred[Message]:
        """A valid retry (its token's round consumed already): answer the
        child's questions, then wait with the client for what comes next."""
        bridge = self.bridge
        del bridge._suspended[self.handle]
        if self.expiry is not None and self.expiry.active():
            self.expiry.cancel()
        self.expiry = None
        if self.restart:
            self._end()
            fresh = dataclasses.replace(request, inputResponses=None, requestState=None)
            return bridge.call(self.router, fresh, sink)
        rnd = self._attach(request, sink)
        if self.final is not None:
            self._complete(rnd, self.final)  # inputResponses ignored: nobody asks any more
            return rnd.deferred
        answers = request.inputResponses if request.inputResponses is not None else {}
        problem = _problem(answers, self.outstanding)
        if problem is not None:
            self._fail(
                rnd,
                jsonrpc.errorResponse(rnd.clientId, jsonrpc.INVALID_PARAMS, problem),
                "the client's answers were malformed",
            )
            return rnd.deferred
        for key in [key for key in self.outstanding if key in answers]:
            asked = self.outstanding.pop(key)
            value = {k: v for k, v in answers[key].items() if k != "resultType"}
            if asked.gatewayId is not None and self.router.asking(self.call, asked.gatewayId):
                self.router.clientResponse(
                    self.call, jsonrpc.resultResponse(asked.gatewayId, value)
                )
        if self.exchange is not None and not self.request.untimed:
            self.router.unhold(self.exchange)
        queued, self.queued = self.queued, {}
        for key, asked in queued.items():
            if not self._admit(asked, rnd):
                if self.ended:
                    self._dismiss(queued)
                    return rnd.deferred
                continue
            self.collecting[key] = asked
        if self.outstanding or self.collecting:
            # Unanswered, or asked meanwhile: a new round at once.
            self.outstanding.update(self.collecting)
            self.collecting.clear()
            self._suspend(rnd)
            return rnd.deferred
        progress, self.progress = self.progress, None
        if progress is not None and rnd.token is not None:
            rnd.sink(
                jsonrpc.notification(
                    "notifications/progress", {**progress, "progressToken": rnd.token}
                )
            )
        return rnd.deferred

    # -- endings --------------------------------------------------------------------

    def disconnected(self, rnd: _Round) -> None:
        """The client of the attached round C{rnd} went away: a cancel."""
        if self.attached is not rnd or self.ended:
            return
        self.attached = None
        self._abandon("client disconnected")

    def _expired(self) -> None:
        self.expiry = None
        if self.ended or self.attached is not None:
            return
        self.bridge.inputExpired += 1
        self.log.info(
            "server {server}: a 2026 {method} waited {ttl:g} s for its client's input; cancelled",
            server=self.bridge.server,
            method=self.method,
            ttl=self.bridge.ttl,
        )
        self._abandon("the client did not answer in time")

    def stop(self, reason: str) -> None:
        """End a suspended chain (the gateway or the server stops)."""
        if not self.ended and self.attached is None:
            self._abandon(reason)

    def _fail(self, rnd: _Round, message: Message, reason: str) -> None:
        """End the chain: the child's call cancelled, C{rnd} answered C{message}."""
        self.attached = None
        self._abandon(reason)
        rnd.answer(message)

    def _abandon(self, reason: str) -> None:
        """Answer the child's questions as dismissed, cancel its call, forget the chain."""
        self._dismiss(self.collecting, self.outstanding, self.queued)
        exchange, self.exchange = self.exchange, None
        self._end()
        childTask = self.childTask
        if childTask is not None and not childTask.response.called:
            childTask.cancelReason = reason
            childTask.response.cancel()  # its request in flight, and its task
        elif exchange is not None and not exchange.response.called:
            exchange.cancelReason = reason
            exchange.response.cancel()

    def _dismiss(self, *questions: dict[str, _Asked]) -> None:
        """Answer the child's questions as a client that says nothing:
        an elicitation is cancelled, anything else fails."""
        for asked in _drain(questions):
            gatewayId = asked.gatewayId
            if gatewayId is None or not self.router.asking(self.call, gatewayId):
                continue
            if asked.method == "elicitation/create":
                answer = jsonrpc.resultResponse(gatewayId, {"action": "cancel"})
            else:
                answer = jsonrpc.errorResponse(gatewayId, jsonrpc.INTERNAL_ERROR, _NO_ANSWER)
            self.router.clientResponse(self.call, answer)

    def _refuse(self, gatewayId: int, code: int, text: str) -> None:
        """Refuse the child's question C{gatewayId}, a 2026 client being
        unable to take it, and count it (L{InputBridge.refusedServerRequests})."""
        self.bridge.refusedServerRequests += 1
        self._answerChild(gatewayId, code, text)

    def _answerChild(self, gatewayId: int, code: int, text: str) -> None:
        if self.router.asking(self.call, gatewayId):
            self.router.clientResponse(self.call, jsonrpc.errorResponse(gatewayId, code, text))

    def _stopWindow(self) -> None:
        if self.window is not None and self.window.active():
            self.window.cancel()
        self.window = None

    def _end(self) -> None:
        self.ended = True
        self._stopWindow()
        if self.expiry is not None and self.expiry.active():
            self.expiry.cancel()
        self.expiry = None
        self.bridge._suspended.pop(self.handle, None)
        self.call.suspension = None


class InputBridge:
    """The 2026 calls of one server pool, and the suspended ones by handle.

    @ivar ttl: seconds a suspended call waits for its retry.
    @ivar maxSuspended: suspended calls at most (more: -32004 in band).
    @ivar inputRounds: C{InputRequiredResult}s sent.
    @ivar inputExpired: suspended calls whose TTL ran out.
    @ivar badRequestStates: retries refused for their token.
    @ivar refusedServerRequests: the child's questions (sampling,
        elicitation, roots) refused because a 2026 client could not be
        asked them: during a request that cannot return C{input_required}
        (a list), one it cannot answer, one over the bound of a call, or
        one needing a capability the client did not declare.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        server: str,
        clock: IReactorTime,
        codec: StateCodec | None = None,
        ttl: float = BridgeWaits.inputTimeout,
        maxSuspended: int = BridgeWaits.maxSuspended,
    ) -> None:
        self.server = server
        self.clock = clock
        self.codec = codec if codec is not None else StateCodec()
        self.ttl = ttl
        self.maxSuspended = maxSuspended
        self._suspended: dict[bytes, Suspension] = {}
        self.inputRounds = 0
        self.inputExpired = 0
        self.badRequestStates = 0
        self.refusedServerRequests = 0

    def call(self, router: Router, request: Era2026Request, sink: Sink) -> Deferred[Message]:
        """One round of C{request} on the child of C{router}: a fresh call,
        or the retry its C{requestState} names. Fires with the round's
        answer (the client's id; the 2025 shape of the child's result, or an
        C{InputRequiredResult}, or an error); cancelling it is the client's
        disconnect."""
        if request.requestState is not None:
            return self._retry(request, sink)
        return Suspension(self, router, request, bindingOf(self.server, request)).start(sink)

    def _retry(self, request: Era2026Request, sink: Sink) -> Deferred[Message]:
        try:
            handle, round = self.codec.open(
                request.requestState or "", bindingOf(self.server, request), self.clock.seconds()
            )
        except StateError:
            return self._badState(request)
        suspension = self._suspended.get(handle)
        if suspension is None or suspension.round != round:
            return self._badState(request)  # ended, expired, or that round was used
        suspension.round += 1  # consumed before anything acts on it
        return suspension.resume(request, sink)

    def _badState(self, request: Era2026Request) -> Deferred[Message]:
        self.badRequestStates += 1
        return succeed(
            jsonrpc.errorResponse(request.clientId, jsonrpc.INVALID_PARAMS, INVALID_STATE)
        )

    def suspended(self) -> int:
        """Calls waiting for their client's retry."""
        return len(self._suspended)

    def stopAll(self, reason: str) -> None:
        """End every suspended call (the server or the gateway stops): the
        child's questions answered as dismissed, its calls cancelled."""
        for suspension in list(self._suspended.values()):
            suspension.stop(reason)


def _problem(answers: Any, outstanding: dict[str, _Asked]) -> str | None:
    """Why the client's C{inputResponses} cannot be taken (C{None}: they can)."""
    if not isinstance(answers, dict):
        return "inputResponses must be an object"
    for key, asked in outstanding.items():
        if key in answers:
            problem = era2026form.inputResponseProblem(asked.method, answers[key])
            if problem is not None:
                return f"inputResponses[{key!r}]: {problem}"
    return None


def _drain(questions: tuple[dict[str, _Asked], ...]) -> Iterator[_Asked]:
    for each in questions:
        items = list(each.values())
        each.clear()
        yield from items


def _capabilityNames(missing: dict[str, Any]) -> list[str]:
    """C{{"sampling": {"tools": {}}}} as C{["sampling.tools"]}."""
    names = []
    for name, value in missing.items():
        subs = list(value) if isinstance(value, dict) else []
        names += [f"{name}.{sub}" for sub in subs] or [name]
    return names


def _progressToken(params: dict[str, Any]) -> Any:
    meta = params.get("_meta")
    return meta.get("progressToken") if isinstance(meta, dict) else None


def _withProgressToken(message: Message, token: Any) -> Message:
    params = dict(message.get("params") or {})
    meta = params.get("_meta")
    params["_meta"] = {**(meta if isinstance(meta, dict) else {}), "progressToken": token}
    return {**message, "params": params}
