"""Correlation between client sessions and one child: the child's id space.

A L{Router} owns everything that crosses one child's stdio boundary. Every
client request gets a child-side id unique on that child (clients reuse ids:
the TypeScript SDK starts each session at 0, Python at 1), and so does its
C{_meta.progressToken}; C{notifications/cancelled} is mapped the same way.
Child-to-client requests get gateway ids and go to exactly one session; the
client's answer goes back with the child's own id. Notifications go to the
sessions they concern and nowhere else. It knows neither HTTP nor processes:
it writes to the child through C{send} and to clients through the callables
it is handed.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mcpgateway import jsonrpc, logs
from mcpgateway.core.stats import RequestStats
from mcpgateway.jsonrpc import Message

Sink = Callable[[Message], bool]
"""Writes one message to a client stream; C{False} when the stream is gone."""

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_LEVEL_RANK = {name: rank for rank, name in enumerate(LOG_LEVELS)}
_LIST_CHANGED = frozenset(
    {
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
    }
)


class Client(Protocol):
    """What the router needs of a client session."""

    id: str
    capabilities: dict[str, Any]
    logLevel: str | None
    subscriptions: set[str]

    def deliver(self, message: Message) -> bool:
        """Put C{message} on the session's standalone (GET) stream."""


class Exchange:
    """One client request in flight on the child."""

    __slots__ = ("cancelReason", "clientId", "clientToken", "method", "related", "response",
                 "session", "started", "timer")

    def __init__(
        self,
        session: Client | None,
        clientId: Any,
        method: str,
        clientToken: Any,
        related: Sink | None,
        canceller: Callable[[Deferred[Message]], None],
    ) -> None:
        self.session = session
        self.clientId = clientId
        self.method = method
        self.clientToken = clientToken
        self.related = related
        self.response: Deferred[Message] = Deferred(canceller)
        self.timer: IDelayedCall | None = None
        self.cancelReason: str | None = None
        self.started = 0.0


class _ServerRequest:
    __slots__ = ("childId", "method", "session")

    def __init__(self, childId: Any, method: str, session: Client) -> None:
        self.childId = childId
        self.method = method
        self.session = session


class Router:
    """The id space of one child and the routing of everything through it.

    @ivar owner: the one session of a per-session child, or C{None} for a
        shared child.
    @ivar send: writes one message to the child (set when a child attaches).
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        name: str,
        clock: IReactorTime,
        timeout: float,
        owner: Client | None = None,
        stats: RequestStats | None = None,
    ) -> None:
        self.name = name
        self.stats = stats if stats is not None else RequestStats()
        self._clock = clock
        self.timeout = timeout
        self.owner = owner
        self.send: Callable[[Message], None] = _nowhere
        self._ids = itertools.count(1)
        self._pending: dict[int, Exchange] = {}
        self._serverRequests: dict[int, _ServerRequest] = {}
        self._subscriptions: Counter[str] = Counter()
        self._childLogLevel: str | None = None
        self.sessions: set[Client] = set()
        self.unusedSince = clock.seconds()
        self.lastActivity = self.unusedSince
        """When a client last sent a request through this router."""
        """When the last session detached (or the router was made)."""
        self.served = 0
        self.lateReplies = 0
        self.ambiguousServerRequests = 0
        self._drainWaiters: list[Deferred[None]] = []
        self._invalidBudget = logs.LogBudget(clock, 1.0, 10, 10.0, self._invalidDropped)

    @property
    def inFlight(self) -> int:
        """Client requests waiting for the child."""
        return len(self._pending)

    def clientRequestsInFlight(self) -> int:
        """Client requests waiting for the child (the gateway's own excluded)."""
        return sum(1 for ex in self._pending.values() if ex.session is not None)

    def whenDrained(self) -> Deferred[None]:
        """Fires once no client request is in flight on this child."""
        if not self.clientRequestsInFlight():
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._drainWaiters.append(waiter)
        return waiter

    def _checkDrained(self) -> None:
        if self._drainWaiters and not self.clientRequestsInFlight():
            waiters, self._drainWaiters = self._drainWaiters, []
            for waiter in waiters:
                waiter.callback(None)

    def inFlightFor(self, session: Client) -> int:
        """Requests of C{session} waiting for the child."""
        return sum(1 for ex in self._pending.values() if ex.session is session)

    # -- sessions ------------------------------------------------------------

    def attach(self, session: Client) -> None:
        """Route notifications of this child to C{session} from now on."""
        self.sessions.add(session)

    def detach(self, session: Client, reason: str = "session ended") -> None:
        """Forget C{session}: cancel its requests on the child, drop its
        subscriptions, and answer the child's requests waiting on it."""
        self.sessions.discard(session)
        if not self.sessions:
            self.unusedSince = self._clock.seconds()
        for ex in list(self._pending.values()):
            if ex.session is session:
                ex.cancelReason = reason
                ex.response.cancel()
        for gatewayId, sreq in list(self._serverRequests.items()):
            if sreq.session is session:
                del self._serverRequests[gatewayId]
                self.send(jsonrpc.errorResponse(
                    sreq.childId, jsonrpc.INTERNAL_ERROR, f"client {reason}"))
        for uri in session.subscriptions:
            self._subscriptions[uri] -= 1
            if self._subscriptions[uri] <= 0:
                del self._subscriptions[uri]
                self.call("resources/unsubscribe", {"uri": uri})
        session.subscriptions.clear()
        if self.owner is None and session.logLevel is not None:
            lowest = min((s.logLevel for s in self.sessions if s.logLevel),
                         key=_LEVEL_RANK.__getitem__, default=None)
            if lowest is not None and lowest != self._childLogLevel:
                self._childLogLevel = lowest
                self.call("logging/setLevel", {"level": lowest})

    # -- client to child -----------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None) -> Deferred[Message]:
        """Send a request of the gateway's own to the child."""
        return self._forward(None, jsonrpc.request(None, method, params), None)

    def request(self, session: Client, message: Message, related: Sink | None) -> Deferred[Message]:
        """Forward a client request; fires with the response (client id restored).

        Messages about this request (progress, logs, requests to the client)
        go to C{related}. On timeout or child exit the response is a JSON-RPC
        error; cancelling the Deferred cancels the request on the child.
        """
        method = message["method"]
        if self.owner is None:
            if method == "resources/subscribe":
                return self._subscribe(session, message, related)
            if method == "resources/unsubscribe":
                return self._unsubscribe(session, message, related)
            if method == "logging/setLevel":
                return self._setLevel(session, message, related)
        return self._forward(session, message, related)

    def clientNotification(self, session: Client, message: Message) -> None:
        """Forward a client notification, rewriting what refers to ids."""
        method = message["method"]
        if method == "notifications/cancelled":
            params = message.get("params") or {}
            requestId = params.get("requestId")
            for ex in list(self._pending.values()):
                if ex.session is session and _sameId(ex.clientId, requestId):
                    reason = params.get("reason")
                    ex.cancelReason = reason if isinstance(reason, str) else None
                    ex.response.cancel()
                    return
            return
        if method == "notifications/initialized" and self.owner is None:
            return  # the gateway initialized the shared child itself
        self.send(message)

    def clientResponse(self, session: Client, message: Message) -> bool:
        """Pass a client's answer to a child request back with the child's id."""
        gatewayId = message.get("id")
        sreq = self._serverRequests.get(gatewayId) if isinstance(gatewayId, int) else None
        if sreq is None or sreq.session is not session or not isinstance(gatewayId, int):
            self.log.warn(
                "server {server}: session {sid} answered unknown request id {id!r}; dropped",
                server=self.name, sid=session.id[:8], id=gatewayId)
            return False
        del self._serverRequests[gatewayId]
        self.send({**message, "id": sreq.childId})
        return True

    def _forward(self, session: Client | None, message: Message, related: Sink | None,
                 ) -> Deferred[Message]:
        childId = next(self._ids)
        clientToken = jsonrpc.progressToken(message)
        # Cancelling the response cancels the request on the child (once).
        ex = Exchange(session, message.get("id"), message["method"], clientToken, related,
                      lambda _: self._cancel(childId, ex.cancelReason))
        out = {**message, "id": childId}
        if clientToken is not None:
            out = jsonrpc.withProgressToken(out, childId)
        self._pending[childId] = ex
        ex.started = now = self._clock.seconds()
        if session is not None:
            self.lastActivity = now
        ex.timer = self._clock.callLater(self.timeout, self._timedOut, childId)
        self.served += 1
        self.send(out)
        return ex.response

    def _timedOut(self, childId: int) -> None:
        ex = self._pending.get(childId)
        if ex is None:
            return
        ex.timer = None
        self._cancel(childId, "request timed out in the gateway", "timeout")
        self.log.warn("server {server}: {method} timed out after {timeout}s",
                      server=self.name, method=ex.method, timeout=self.timeout)
        ex.response.callback(jsonrpc.errorResponse(
            ex.clientId, jsonrpc.REQUEST_TIMEOUT,
            f"server '{self.name}' did not answer {ex.method} within {self.timeout:g} s"))

    def _cancel(self, childId: int, reason: str | None, outcome: str = "cancelled") -> None:
        ex = self._pending.pop(childId, None)
        if ex is None:
            return
        self._record(ex, outcome)
        if ex.timer is not None and ex.timer.active():
            ex.timer.cancel()
        params: dict[str, Any] = {"requestId": childId}
        if reason:
            params["reason"] = reason
        self.send(jsonrpc.notification("notifications/cancelled", params))
        if self._drainWaiters:
            self._checkDrained()

    # -- shared-child bookkeeping ------------------------------------------

    def _subscribe(self, session: Client, message: Message, related: Sink | None,
                   ) -> Deferred[Message]:
        uri = (message.get("params") or {}).get("uri")
        if not isinstance(uri, str) or uri in session.subscriptions:
            return self._forward(session, message, related) if not isinstance(uri, str) \
                else succeed(jsonrpc.resultResponse(message["id"], {}))
        session.subscriptions.add(uri)
        self._subscriptions[uri] += 1
        if self._subscriptions[uri] > 1:
            return succeed(jsonrpc.resultResponse(message["id"], {}))

        def undoOnError(response: Message) -> Message:
            if "error" in response and uri in session.subscriptions:
                session.subscriptions.discard(uri)
                self._subscriptions[uri] -= 1
                if self._subscriptions[uri] <= 0:
                    del self._subscriptions[uri]
            return response

        return self._forward(session, message, related).addCallback(undoOnError)

    def _unsubscribe(self, session: Client, message: Message, related: Sink | None,
                     ) -> Deferred[Message]:
        uri = (message.get("params") or {}).get("uri")
        if not isinstance(uri, str) or uri not in session.subscriptions:
            return succeed(jsonrpc.resultResponse(message["id"], {}))
        session.subscriptions.discard(uri)
        self._subscriptions[uri] -= 1
        if self._subscriptions[uri] > 0:
            return succeed(jsonrpc.resultResponse(message["id"], {}))
        del self._subscriptions[uri]
        return self._forward(session, message, related)

    def _setLevel(self, session: Client, message: Message, related: Sink | None,
                  ) -> Deferred[Message]:
        level = (message.get("params") or {}).get("level")
        if level not in _LEVEL_RANK:
            return succeed(jsonrpc.errorResponse(message["id"], jsonrpc.INVALID_PARAMS,
                                                 f"unknown logging level {level!r}"))
        session.logLevel = level
        lowest = min((s.logLevel for s in self.sessions if s.logLevel), key=_LEVEL_RANK.__getitem__,
                     default=level)
        if lowest == self._childLogLevel:
            return succeed(jsonrpc.resultResponse(message["id"], {}))
        self._childLogLevel = lowest
        params = {**message.get("params", {}), "level": lowest}
        return self._forward(session, {**message, "params": params}, related)

    def resubscribe(self) -> None:
        """After a child restart: restore the subscriptions and log level the
        sessions had asked for."""
        for uri in self._subscriptions:
            self.call("resources/subscribe", {"uri": uri})
        if self._childLogLevel is not None:
            self.call("logging/setLevel", {"level": self._childLogLevel})

    # -- child to client -----------------------------------------------------

    def childMessage(self, message: Message) -> None:
        """Route one message the child wrote."""
        kind = jsonrpc.classify(message)
        if kind is jsonrpc.Kind.RESPONSE:
            self._childResponse(message)
        elif kind is jsonrpc.Kind.NOTIFICATION:
            self._childNotification(message)
        elif kind is jsonrpc.Kind.REQUEST:
            self._childRequest(message)
        elif self._invalidBudget.allow():
            self.log.warn("server {server} wrote an invalid JSON-RPC message; dropped",
                          server=self.name)

    def _invalidDropped(self, count: int) -> None:
        self.log.warn("server {server} wrote {count} more invalid JSON-RPC message(s); dropped"
                      " (not logged one by one)", server=self.name, count=count)

    def _childResponse(self, message: Message) -> None:
        childId = message["id"]
        ex = self._pending.pop(childId, None) if type(childId) is int else None
        if ex is None:
            self.lateReplies += 1
            self.stats.lateReplies += 1
            self.log.debug("server {server}: reply to unknown or ended request {id!r}; dropped",
                           server=self.name, id=childId)
            return
        if ex.timer is not None and ex.timer.active():
            ex.timer.cancel()
        self._record(ex, "ok" if "result" in message else "error")
        message["id"] = ex.clientId
        ex.response.callback(message)
        if self._drainWaiters:
            self._checkDrained()

    def _childNotification(self, message: Message) -> None:
        method = message["method"]
        params = message.get("params")
        if method == "notifications/progress" and isinstance(params, dict):
            ex = self._pending.get(params.get("progressToken"))  # type: ignore[arg-type]
            if ex is not None and ex.clientToken is not None and ex.related is not None:
                ex.related({**message, "params": {**params, "progressToken": ex.clientToken}})
            return
        if self.owner is not None:
            self._toOwner(message)
        elif method in _LIST_CHANGED:
            for session in self.sessions:
                session.deliver(message)
        elif method == "notifications/resources/updated" and isinstance(params, dict):
            uri = params.get("uri")
            for session in self.sessions:
                if uri in session.subscriptions:
                    session.deliver(message)
        elif method == "notifications/message" and isinstance(params, dict):
            self._logMessage(message, params)
        elif method == "notifications/cancelled" and isinstance(params, dict):
            self._serverCancelled(message, params)
        else:
            self.log.debug("server {server}: notification {method} concerns no session; dropped",
                           server=self.name, method=method)

    def _toOwner(self, message: Message) -> None:
        """Per-session child: everything goes to its one session, on the
        stream of its latest request when there is one."""
        assert self.owner is not None
        if message["method"] == "notifications/cancelled":
            self._serverCancelled(message, message.get("params") or {})
            return
        latest = self._latestExchange(self.owner)
        if latest is not None and latest.related is not None and latest.related(message):
            return
        self.owner.deliver(message)

    def _logMessage(self, message: Message, params: dict[str, Any]) -> None:
        rank = _LEVEL_RANK.get(params.get("level", ""), len(LOG_LEVELS))
        inflight = [ex for ex in self._pending.values() if ex.session is not None]
        if len(inflight) == 1 and inflight[0].related is not None:
            # Part of that request's output, unless its session asked for less.
            level = inflight[0].session.logLevel  # type: ignore[union-attr]
            if (level is None or rank >= _LEVEL_RANK[level]) and inflight[0].related(message):
                return
        for session in self.sessions:
            if session.logLevel is not None and rank >= _LEVEL_RANK[session.logLevel]:
                session.deliver(message)

    def _serverCancelled(self, message: Message, params: dict[str, Any]) -> None:
        for gatewayId, sreq in list(self._serverRequests.items()):
            if _sameId(sreq.childId, params.get("requestId")):
                del self._serverRequests[gatewayId]
                sreq.session.deliver({**message, "params": {**params, "requestId": gatewayId}})
                return

    def _childRequest(self, message: Message) -> None:
        method = message["method"]
        if method == "ping":
            self.send(jsonrpc.resultResponse(message["id"], {}))
            return
        target = self._serverRequestTarget()
        if isinstance(target, str):
            if target.startswith("ambiguous"):
                self.ambiguousServerRequests += 1
                self.stats.ambiguousServerRequests += 1
                self.log.warn("server {server}: refused its {method} request: {why}",
                              server=self.name, method=method, why=target)
            self.send(jsonrpc.errorResponse(message["id"], jsonrpc.INTERNAL_ERROR,
                                            f"{method}: {target}"))
            return
        session, ex = target
        refusal = _refusal(session, message)
        if refusal is not None:
            self.send(jsonrpc.errorResponse(message["id"], *refusal))
            return
        gatewayId = next(self._ids)
        self._serverRequests[gatewayId] = _ServerRequest(message["id"], method, session)
        out = {**message, "id": gatewayId}
        delivered = ex is not None and ex.related is not None and ex.related(out)
        if not delivered and not session.deliver(out):
            del self._serverRequests[gatewayId]
            self.send(jsonrpc.errorResponse(
                message["id"], jsonrpc.INTERNAL_ERROR,
                f"{method}: the client session has no open stream to receive it"))

    def _serverRequestTarget(self) -> tuple[Client, Exchange | None] | str:
        """The session that provably made the child ask, with its latest
        exchange; or why no session can be proven to be the requester.

        stdio carries no link between a child's request and the call that
        caused it. The requester is proven only on a per-session child, or
        when exactly one session has requests in flight on a shared child.
        Anything else would be a guess, and a wrong guess shows one user's
        prompt to another user's model: the gateway never guesses.
        """
        if self.owner is not None:
            return self.owner, self._latestExchange(self.owner)
        inflight = [ex for ex in self._pending.values() if ex.session is not None]
        if not inflight:
            return "no client session is waiting on this server to answer it"
        session = inflight[0].session
        if any(ex.session is not session for ex in inflight):
            count = len({id(ex.session) for ex in inflight})
            return (f"ambiguous: {count} client sessions have requests in flight on the shared"
                    f" server '{self.name}', so the gateway cannot tell which one asked;"
                    " run this server per session (\"mode\": \"stateful\") to use it")
        assert session is not None
        calls = [ex for ex in inflight if ex.method == "tools/call"]
        return session, (calls or inflight)[-1]

    def _latestExchange(self, session: Client) -> Exchange | None:
        for ex in reversed(self._pending.values()):
            if ex.session is session:
                return ex
        return None

    # -- the child went away -------------------------------------------------

    def childExited(self, why: str) -> None:
        """Fail every pending request at once with a JSON-RPC error."""
        self._serverRequests.clear()
        self.failAll(jsonrpc.CHILD_EXITED, f"server '{self.name}' {why}")

    def failAll(self, code: int, text: str, tellChild: bool = False) -> None:
        """Answer every pending request with a JSON-RPC error now; with
        C{tellChild}, also cancel each on the child."""
        pending, self._pending = self._pending, {}
        for childId, ex in pending.items():
            if ex.timer is not None and ex.timer.active():
                ex.timer.cancel()
            self._record(ex, "child_exit" if code == jsonrpc.CHILD_EXITED else "error")
            if tellChild:
                self.send(jsonrpc.notification("notifications/cancelled",
                                               {"requestId": childId, "reason": text}))
            ex.response.callback(jsonrpc.errorResponse(ex.clientId, code, text))
        self._checkDrained()

    def _record(self, ex: Exchange, outcome: str) -> None:
        if ex.session is not None:  # the gateway's own requests are not client traffic
            self.stats.record(ex.method, outcome, self._clock.seconds() - ex.started)


def _nowhere(message: Message) -> None:
    raise RuntimeError("no child is attached to this router")


def _sameId(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


def _refusal(session: Client, message: Message) -> tuple[int, str] | None:
    """The error to answer the child with when C{session} did not declare
    the capability C{message} needs."""
    caps = session.capabilities
    method = message["method"]
    if method == "sampling/createMessage" and "sampling" not in caps:
        return jsonrpc.METHOD_NOT_FOUND, "the client did not declare the sampling capability"
    if method == "roots/list" and "roots" not in caps:
        return jsonrpc.METHOD_NOT_FOUND, "the client did not declare the roots capability"
    if method == "elicitation/create":
        declared = caps.get("elicitation")
        mode = (message.get("params") or {}).get("mode", "form")
        supported = isinstance(declared, dict) and (
            mode in declared or (mode == "form" and not declared))
        if not supported:
            return jsonrpc.INVALID_PARAMS, f"the client does not support elicitation mode '{mode}'"
    return None
