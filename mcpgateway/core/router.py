# -*- test-case-name: tests.core.test_router, tests.core.test_start_timeout -*-
"""Correlation between client sessions and one child: the child's id space.

A L{Router} owns everything that crosses one child's stdio boundary. Every
client request gets a child-side id unique on that child (clients reuse ids:
the TypeScript SDK starts each session at 0, Python at 1), and so does its
C{_meta.progressToken}; C{notifications/cancelled} is mapped the same way.
Child-to-client requests get gateway ids and go to exactly one session; the
client's answer goes back with the child's own id. Notifications go to the
sessions they concern and nowhere else. It knows neither HTTP nor processes:
it writes to the child through the C{send} it is attached to
(L{Router.attachChild}) and to clients through the callables it is handed.

A child request that names the request it serves (the gateway's hint
C{_meta["mcpgateway/relatedRequestId"]}: the child-side id of that request,
documented in docs/design/era.md) goes exactly to that request's exchange, whatever
else is in flight; the others go where the fanout proves they belong. An
exchange can be I{held} (L{Router.hold}): its timeout is paused while a
2026 call waits for its client's next round (L{mcpgateway.core.era2026.mrtr}).

What differs between a child shared by many sessions and a child of one
session (who receives notifications and the child's requests, which client
requests the gateway answers or merges itself, whose each MCP task is) is
the router's L{Fanout} (L{mcpgateway.core.fanout}).

A request times out C{timeout} seconds after it was sent, or after the
child last reported its progress on it (a long tool call that keeps
reporting runs on, as MCP lets a client allow), never later than
L{PROGRESS_CAP} seconds after it was sent.

Each request it writes to the child is timed (C{mcp.client.operation.duration})
and, when the gateway traces (L{mcpgateway.core.tracing}), is a CLIENT span
whose context replaces the C{_meta.traceparent} the child receives.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core import tracing
from mcpgateway.core.childasks import ChildAsks
from mcpgateway.core.exchange import (
    LIST_CHANGED,
    STARTS,
    Exchange,
    Sink,
    discard,
    noop,
    nowhere,
    sameId,
    taskAugmented,
)
from mcpgateway.core.sessions import SessionLike, shortId
from mcpgateway.core.stats import RequestStats, operationsFor
from mcpgateway.core.toolgate import GATED, LISTINGS, ToolGate
from mcpgateway.core.unproven import ChildRoots
from mcpgateway.protocol import jsonrpc, paramheaders
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs
from mcpgateway.runtime.timers import Deadlines

PROGRESS_CAP = 3600.0
"""Seconds after a request was sent past which its progress no longer
restarts its timeout: a request that keeps reporting progress is cut at
most this long after it was sent (docs/guide/limits.md)."""


class Fanout(Protocol):
    """How one child's traffic is spread over its sessions: everything a
    shared child and a child of one session do differently."""

    handshake: bool
    """Whether the gateway initializes the child itself (and brings it back
    on its own when it dies with sessions attached)."""
    intercepts: frozenset[str]
    """Client request methods that L{intercept} answers or merges."""
    keeps: frozenset[str]
    """Client notification methods that stay in the gateway."""
    tracksTasks: bool
    """Whether a task-augmented client request (C{params.task}: MCP
    2025-11-25 tasks) goes to L{intercept} too, whatever its method: the
    child's task ids are shared by several sessions, and the fanout learns
    whose each task is."""
    roots: tuple[dict[str, Any], ...]
    """The roots the gateway itself answers the child's C{roots/list} with
    when no session can be proven to have asked (a workspace child: its
    workspace); empty: such a request is refused."""

    def intercept(
        self, router: Router, session: SessionLike, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        """Handle a client request whose method is in L{intercepts}."""

    def detached(self, router: Router, session: SessionLike) -> None:
        """C{session} has left the child: give back what it held."""

    def notification(self, router: Router, message: Message) -> None:
        """Deliver a notification of the child (progress excepted) to the
        sessions it concerns."""

    def requester(
        self, router: Router, message: Message
    ) -> tuple[SessionLike, Exchange | None] | str:
        """The session that provably made the child ask C{message} (with the
        exchange to answer on), or why none can be proven."""

    def restored(self, router: Router) -> None:
        """A fresh child was initialized: restore what the sessions had asked of it."""


class Router:
    """The id space of one child and the routing of everything through it.

    @ivar fanout: what this child does differently for being shared or owned.
    @ivar send: writes one message to the child; set by L{attachChild} and
        L{detachChild}, never from outside.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        name: str,
        clock: IReactorTime,
        timeout: float,
        fanout: Fanout,
        stats: RequestStats | None = None,
        onAmbiguous: Callable[[str, int], None] | None = None,
        startTimeout: float = 0.0,
    ) -> None:
        """
        @param startTimeout: seconds its handshake (L{STARTS}) may take, if over C{timeout}.
        @param onAmbiguous: called with (method, L{clientSessions}: 2025
            sessions whose client may run; not 2026 calls) when the child asks
            a client something and the asking session cannot be proven.
        """
        self.name = name
        self.onAmbiguous = onAmbiguous
        self.stats = stats if stats is not None else RequestStats()
        self._clock = clock
        self._operations = operationsFor(clock)
        self.timeout = timeout
        self.fanout = fanout
        self._intercepts = fanout.intercepts
        self._keeps = fanout.keeps
        self._tracksTasks = fanout.tracksTasks
        self.send: Callable[[Message], None] = nowhere
        self.hurry: Callable[[], None] = noop
        self._ids = itertools.count(1)
        self._pending: dict[int, Exchange] = {}
        self._deadlines: Deadlines[int] = Deadlines(clock, timeout, self._timedOut)
        """The child ids in flight whose timeout runs (all but the held ones)."""
        self.startTimeout = startTimeout
        self._starts: Deadlines[int] = Deadlines(clock, max(startTimeout, timeout), self._timedOut)
        self.asks = ChildAsks(self, clock, self._ids)
        """The child's requests to its clients (L{mcpgateway.core.childasks})."""
        self._heldAsks = self.asks.waits
        """Its requests held for a session with no stream yet: each request
        opened with a stream looks whether any is (a call, per request,
        only when one is)."""
        self._serverRequests = self.asks.requests
        self.childRoots = ChildRoots(self, fanout.handshake, clock, bool(fanout.roots))
        """Whose roots the child holds (L{mcpgateway.core.unproven})."""
        self.sessions: set[SessionLike] = set()
        self.childServed: set[SessionLike] = set()
        """The sessions a request of which reached the current child (reset for each child)."""
        self.unusedSince = clock.seconds()
        """When the last session detached (or the router was made)."""
        self.lastActivity = self.unusedSince
        """When a client last sent a request through this router."""
        self.served = 0
        self.lateReplies = 0
        self.ambiguousServerRequests = 0
        self._drainWaiters: list[Deferred[None]] = []
        self._invalidBudget = logs.LogBudget(clock, 1.0, 10, 10.0, self._invalidDropped)
        self.toolHeaders: dict[str, dict[str, str]] = {}
        """Each listed tool's C{Mcp-Param-*} header map, until its tools change."""
        self.toolTasks: dict[str, str] = {}
        """Each listed tool's C{execution.taskSupport}, where the child says one."""
        self.toolsListed = False
        """Whether a C{tools/list} answer was seen since the tools last changed."""
        self.tools: ToolGate | None = None
        """What its server's pinned tools let through (L{mcpgateway.core.toolgate})."""
        self.onList: Callable[[str], None] | None = None
        """Told the method of each C{notifications/{tools,prompts,resources}/list_changed}
        of the child (the catalogs list that kind again); set by its pool."""
        self.onClientInitialized: Callable[[], None] | None = None
        """Told when a session's C{notifications/initialized} was passed to
        the child (a child of one session is then ready to be listed)."""
        self.clientAlive: Callable[[int], bool] | None = None
        """Whether a client process (a session's C{clientPid}) still runs,
        asked only when the child asks something of a client (set by its
        pool); C{None}: every attached session counts (L{clientSessions})."""
        self.onServed: Callable[[SessionLike], object] | None = None
        """Told the first time a session's request reaches this child (its
        saved record then says so: L{mcpgateway.core.sessions.SessionLike.called})."""
        self.resultCheck: Callable[[str, Message], None] | None = None
        """Reads a confined child's answers (L{mcpgateway.core.refusals}); set per child."""

    def attachChild(
        self, send: Callable[[Message], None], hurry: Callable[[], None] | None = None
    ) -> None:
        """Write to the child through C{send} from now on (a child started).
        C{hurry()}: send what was written now rather than at the end of the
        turn (L{mcpgateway.core.child.ChildProtocol.hurry}), called after a
        request that is the only one in flight."""
        self.send = send
        self.hurry = noop if hurry is None else hurry

    def detachChild(self) -> None:
        """The child is gone: what would be written to it goes nowhere."""
        self.send = discard
        self.hurry = noop

    def setTimeout(self, timeout: float) -> None:
        """Answer requests the child has not answered C{timeout} seconds
        after they were sent from now on, those in flight included (a
        reloaded config's C{requestTimeout})."""
        self.timeout = timeout
        self._deadlines.setTimeout(timeout)
        self._starts.setTimeout(max(self.startTimeout, timeout))

    @property
    def inFlight(self) -> int:
        """Requests waiting for the child, the gateway's own included."""
        return len(self._pending)

    def clientRequestsInFlight(self) -> int:
        """Client requests waiting for the child (the gateway's own excluded)."""
        return sum(1 for ex in self._pending.values() if ex.session is not None)

    def whenDrained(self) -> Deferred[None]:
        """Fires once no client request is in flight on this child.

        Cancelling it (a stop giving up on the drain) lets go of it at once:
        it fails with C{CancelledError}, which its consumer must handle."""
        if not self.clientRequestsInFlight():
            return succeed(None)
        waiter: Deferred[None] = Deferred(self._forgetDrainWaiter)
        self._drainWaiters.append(waiter)
        return waiter

    def _forgetDrainWaiter(self, waiter: Deferred[None]) -> None:
        with suppress(ValueError):
            self._drainWaiters.remove(waiter)

    def _checkDrained(self) -> None:
        if self._drainWaiters and not self.clientRequestsInFlight():
            waiters, self._drainWaiters = self._drainWaiters, []
            for waiter in waiters:
                waiter.callback(None)

    def inFlightFor(self, session: SessionLike) -> int:
        """Requests of C{session} waiting for the child."""
        return sum(1 for ex in self._pending.values() if ex.session is session)

    def inFlightBySession(self) -> Counter[str]:
        """Client requests waiting for the child, by session id (one pass)."""
        return Counter(ex.session.id for ex in self._pending.values() if ex.session is not None)

    def clientExchanges(self) -> list[Exchange]:
        """The client requests waiting for the child, oldest first."""
        return [ex for ex in self._pending.values() if ex.session is not None]

    def clientSessions(self) -> list[SessionLike]:
        """The 2025 sessions a request of the child may be for: those
        attached and those with requests in flight, less those whose client
        process is known to have exited (not reaped yet: clients rarely end
        their sessions). A session whose client pid is unknown (behind a
        proxy, in a cluster) counts, and so does one whose probe fails. The
        processes are probed here, only when the child asks something of a
        client: never on the way of a call."""
        found: dict[int, SessionLike] = {id(s): s for s in self.sessions if not s.era2026}
        for ex in self.clientExchanges():
            if ex.session is not None and not ex.session.era2026:
                found.setdefault(id(ex.session), ex.session)
        return [s for s in found.values() if not self._clientGone(s)]

    def _clientGone(self, session: SessionLike) -> bool:
        probe = self.clientAlive
        pid = getattr(session, "clientPid", None)
        if probe is None or not isinstance(pid, int):
            return False
        try:
            if probe(pid):
                return False
        except Exception:
            self.log.failure(
                "server {server}: probing client pid {pid} failed", server=self.name, pid=pid
            )
            return False
        self.log.debug(
            "server {server}: session {sid} not counted: its client process {pid} has exited",
            server=self.name,
            sid=shortId(session.id),
            pid=pid,
        )
        return True

    def latestExchange(self, session: SessionLike) -> Exchange | None:
        """The newest request of C{session} waiting for the child."""
        for ex in reversed(self._pending.values()):
            if ex.session is session:
                return ex
        return None

    # -- sessions ------------------------------------------------------------

    def attach(self, session: SessionLike) -> None:
        """Route notifications of this child to C{session} from now on."""
        self.sessions.add(session)

    def detach(self, session: SessionLike, reason: str = "session ended") -> None:
        """Forget C{session}: cancel its requests on the child, drop its
        subscriptions, and answer the child's requests waiting on it."""
        if session in self.sessions:
            created = getattr(session, "created", None)
            if isinstance(created, float | int):
                self._operations.session(self.name, self._clock.seconds() - created)
        self.sessions.discard(session)
        self.childServed.discard(session)
        if not self.sessions:
            self.unusedSince = self._clock.seconds()
        for ex in list(self._pending.values()):
            if ex.session is session:
                ex.cancelReason = reason
                ex.response.cancel()
        self.asks.detached(session, reason)
        self.fanout.detached(self, session)

    # -- client to child -----------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None) -> Deferred[Message]:
        """Send a request of the gateway's own to the child."""
        return self.forward(None, jsonrpc.request(None, method, params), None)

    def request(
        self,
        session: SessionLike,
        message: Message,
        related: Sink | None,
    ) -> Deferred[Message]:
        """Forward a client request; fires with the response (client id restored).

        Messages about this request (progress, logs, requests to the client)
        go to C{related}. On timeout or child exit the response is a JSON-RPC
        error; cancelling the Deferred cancels the request on the child.
        """
        if message["method"] in self._intercepts or (self._tracksTasks and taskAugmented(message)):
            return self.fanout.intercept(self, session, message, related)
        first = None if self.tools is None else self.tools.listedFirst(self, message)
        if first is not None:  # a name decided before its call: the child is listed first
            return first.addCallback(lambda _: self.forward(session, message, related))
        return self.open(session, message, related).response  # forward's, one call fewer

    def clientNotification(self, session: SessionLike, message: Message) -> None:
        """Forward a client notification, rewriting what refers to ids."""
        method = message["method"]
        if method == "notifications/cancelled":
            params = message.get("params") or {}
            requestId = params.get("requestId")
            for ex in list(self._pending.values()):
                if ex.session is session and sameId(ex.clientId, requestId):
                    reason = params.get("reason")
                    ex.cancelReason = reason if isinstance(reason, str) else None
                    ex.response.cancel()
                    return
            return
        if method in self._keeps:
            return  # e.g. notifications/initialized: the gateway initialized the child
        self.send(message)
        if method == "notifications/initialized" and self.onClientInitialized is not None:
            try:
                self.onClientInitialized()
            except Exception:
                self.log.failure(
                    "server {server}: a listener of the client's initialized failed",
                    server=self.name,
                )

    def clientResponse(self, session: SessionLike, message: Message) -> bool:
        """Pass a client's answer to a child request back with the child's id."""
        return self.asks.clientResponse(session, message)

    def forward(
        self,
        session: SessionLike | None,
        message: Message,
        related: Sink | None,
    ) -> Deferred[Message]:
        """Send C{message} to the child as it is, under a child-side id (the
        fanout's interceptions already done); fires with the response."""
        return self.open(session, message, related).response

    def open(
        self,
        session: SessionLike | None,
        message: Message,
        related: Sink | None,
    ) -> Exchange:
        """Like L{forward}, and the exchange itself (its child id, its
        response) for whoever follows it across rounds."""
        childId = next(self._ids)
        if self.tools is not None and message["method"] in GATED:
            refused = self.tools.gated(childId, session, message, related)
            if refused is not None:
                return refused
        clientToken = jsonrpc.progressToken(message)
        # Cancelling the response cancels the request on the child (once).
        ex = Exchange(
            session,
            message.get("id"),
            message["method"],
            clientToken,
            related,
            lambda _: self._cancel(childId, ex.cancelReason),
        )
        ex.childId = childId
        out = {**message, "id": childId}
        if clientToken is not None:
            out = jsonrpc.withProgressToken(out, childId)
        active = tracing.tracer
        if active is not None:
            ex.span, out = tracing.startClient(active, out, self.name)
        self._pending[childId] = ex
        ex.started = now = self._clock.seconds()
        if session is not None:
            self.lastActivity = now
            if not session.era2026:
                self.childServed.add(session)  # the child may hold something of it now
                if not session.called:
                    session.called = True
                    if self.onServed is not None:
                        self.onServed(session)  # its saved record says so
            if related is not None and self._heldAsks.held:  # the common case: nothing held
                self.asks.opened(session, ex)
        (self._starts if message["method"] in STARTS else self._deadlines).add(childId)
        self.served += 1
        roots = self.childRoots
        if roots.asked and session is not None and roots.beforeCall(session, ex, out):
            return ex  # written once the child has the caller's roots (unproven.ChildRoots)
        self.send(out)
        if len(self._pending) == 1:
            self.hurry()  # an idle child: it may start at once
        return ex

    def hold(self, ex: Exchange) -> None:
        """Pause C{ex}'s timeout (its client will come back for it)."""
        ex.blocked = True
        (self._starts if ex.method in STARTS else self._deadlines).discard(ex.childId)

    def unhold(self, ex: Exchange) -> None:
        """Run C{ex}'s timeout again, from now (its client came back)."""
        ex.blocked = False
        if ex.childId not in self._deadlines and self._pending.get(ex.childId) is ex:
            (self._starts if ex.method in STARTS else self._deadlines).add(ex.childId)

    def holdRequest(self, session: SessionLike, clientId: Any) -> bool:
        """Pause for good the timeout of C{session}'s request C{clientId} in
        flight (a call that became a task: its time to live bounds it);
        whether there was one."""
        for ex in self._pending.values():
            if ex.session is session and ex.clientId == clientId:
                self.hold(ex)
                return True
        return False

    def exchangeFor(self, childId: Any) -> Exchange | None:
        """The request in flight with child-side id C{childId}, if any."""
        return self._pending.get(childId) if type(childId) is int else None

    def asking(self, session: SessionLike, gatewayId: int) -> bool:
        """Whether the child's request C{gatewayId} to C{session} still
        waits for an answer."""
        return self.asks.asking(session, gatewayId)

    def _timedOut(self, childId: int) -> None:
        ex = self._pending.get(childId)
        if ex is None:
            return
        self._cancel(childId, "request timed out in the gateway", "timeout")
        timeout = (self._starts if ex.method in STARTS else self._deadlines).timeout
        # The log says how long it waited too (a reload may have shortened the timeout,
        # a held request was away, the reactor was late); the client is told the timeout.
        now = self._clock.seconds()
        waited = round(now - ex.started, 1)
        within = f"{timeout:g} s"
        if ex.progressed is not None:
            within += (
                f" of its last progress, nor within {PROGRESS_CAP:g} s of being sent"
                if ex.progressed + timeout > ex.started + PROGRESS_CAP
                else " of its last progress"
            )
        self.log.warn(
            "server {server}: {method} timed out (its timeout: {timeout:g}s; it was sent"
            " {waited:g}s ago{progress})",
            server=self.name,
            method=ex.method,
            waited=waited,
            timeout=timeout,
            progress=""
            if ex.progressed is None
            else f", its last progress {round(now - ex.progressed, 1):g}s ago",
        )
        ex.response.callback(
            jsonrpc.errorResponse(
                ex.clientId,
                jsonrpc.REQUEST_TIMEOUT,
                f"server '{self.name}' did not answer {ex.method} within {within}",
            )
        )

    def _cancel(self, childId: int, reason: str | None, outcome: str = "cancelled") -> None:
        ex = self._pending.pop(childId, None)
        if ex is None:
            return
        self._record(ex, outcome)
        (self._starts if ex.method in STARTS else self._deadlines).discard(childId)
        params: dict[str, Any] = {"requestId": childId}
        if reason:
            params["reason"] = reason
        self.send(jsonrpc.notification("notifications/cancelled", params))
        if self.childRoots.held is not None:
            self.childRoots.ended()
        if self._drainWaiters:
            self._checkDrained()

    def refuse(self, ex: Exchange, text: str) -> None:
        """Answer C{ex}, held and never written to the child, with an error
        (L{ChildRoots}: it would run on another session's roots)."""
        if self._pending.pop(ex.childId, None) is not ex:
            return
        (self._starts if ex.method in STARTS else self._deadlines).discard(ex.childId)
        response = jsonrpc.errorResponse(ex.clientId, jsonrpc.INTERNAL_ERROR, text)
        self._record(ex, "error", response)
        ex.response.callback(response)
        if self._drainWaiters:
            self._checkDrained()

    def resubscribe(self) -> None:
        """After a child restart: restore the subscriptions and log level the
        sessions had asked for."""
        self.fanout.restored(self)

    # -- child to client -----------------------------------------------------

    def childMessage(self, message: Message) -> None:
        """Route one message the child wrote."""
        kind = jsonrpc.classify(message)
        if kind is jsonrpc.Kind.RESPONSE:
            self._childResponse(message)
        elif kind is jsonrpc.Kind.NOTIFICATION:
            self._childNotification(message)
        elif kind is jsonrpc.Kind.REQUEST:
            self.asks.childRequest(message)
        elif self._invalidBudget.allow():
            self.log.warn(
                "server {server} wrote an invalid JSON-RPC message; dropped", server=self.name
            )

    def _invalidDropped(self, count: int) -> None:
        self.log.warn(
            "server {server} wrote {count} more invalid JSON-RPC message(s); dropped"
            " (not logged one by one)",
            server=self.name,
            count=count,
        )

    def _childResponse(self, message: Message) -> None:
        childId = message["id"]
        ex = self._pending.pop(childId, None) if type(childId) is int else None
        if ex is None:
            self.lateReplies += 1
            self.stats.lateReplies += 1
            self.log.debug(
                "server {server}: reply to unknown or ended request {id!r}; dropped",
                server=self.name,
                id=childId,
            )
            return
        (self._starts if ex.method in STARTS else self._deadlines).discard(childId)
        outcome = "ok" if "result" in message else "error"
        seconds = self._clock.seconds() - ex.started
        span = ex.span
        if span is not None:
            ex.span = None
            tracing.finish(span, outcome, message)
        if self.tools is not None and ex.method in LISTINGS:
            message = self.tools.answered(self, childId, ex.method, message)
        if ex.method == "tools/list":
            self._learnTools(message.get("result"))
        elif self.resultCheck is not None:
            self.resultCheck(ex.method, message)
        message["id"] = ex.clientId
        ex.response.callback(message)
        # Counted once the answer is on its way: its client need not wait
        # for the bookkeeping (the time is the child's, taken before).
        self._count(ex, outcome, seconds)
        if self.childRoots.held is not None:
            self.childRoots.ended()  # a caller may wait for the others' calls to end
        if self._drainWaiters:
            self._checkDrained()

    def _learnTools(self, result: Any) -> None:
        """Keep the C{Mcp-Param-*} header map of each tool of a C{tools/list} page."""
        tools = result.get("tools") if isinstance(result, dict) else None
        if not isinstance(tools, list):
            return
        self.toolsListed = True
        for tool in tools:
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                execution = tool.get("execution")
                support = execution.get("taskSupport") if isinstance(execution, dict) else None
                if isinstance(support, str):
                    self.toolTasks[tool["name"]] = support
                else:
                    self.toolTasks.pop(tool["name"], None)
                try:
                    self.toolHeaders[tool["name"]] = paramheaders.xHeaderMap(tool)
                except Exception:  # the child's schema: never let it stop the answer
                    self.toolHeaders.pop(tool["name"], None)
                    self.log.failure(
                        "server {server}: reading the headers of tool {tool} failed",
                        server=self.name,
                        tool=tool["name"],
                    )

    def _childNotification(self, message: Message) -> None:
        method = message["method"]
        params = message.get("params")
        if method in LIST_CHANGED:
            self._forgetTools(method)
        if method in LIST_CHANGED and self.onList is not None:
            try:
                self.onList(method)
            except Exception:
                self.log.failure(
                    "server {server}: a listener of its {method} failed",
                    server=self.name,
                    method=method,
                )
        if method == "notifications/progress" and isinstance(params, dict):
            ex = self._pending.get(params.get("progressToken"))  # type: ignore[arg-type]
            if ex is not None:
                self._progressed(ex)
                if ex.clientToken is not None and ex.related is not None:
                    progress = {**params, "progressToken": ex.clientToken}
                    ex.related({**message, "params": progress})
            return
        self.fanout.notification(self, message)

    def _progressed(self, ex: Exchange) -> None:
        """The child reported progress on C{ex}: its timeout starts again
        from now, unless that would end past L{PROGRESS_CAP} after it was
        sent (a held request's has none running)."""
        now = ex.progressed = self._clock.seconds()
        deadlines = self._deadlines
        if ex.childId in deadlines and now + deadlines.timeout <= ex.started + PROGRESS_CAP:
            deadlines.add(ex.childId)

    def _forgetTools(self, method: str | None) -> None:
        """Forget what the child listed of C{method}'s kind (C{None}: all)."""
        if method in (None, "notifications/tools/list_changed"):
            self.toolHeaders.clear()
            self.toolTasks.clear()
            self.toolsListed = False
        if self.tools is not None:
            self.tools.changed(method)

    def toolsChanged(self) -> None:
        """What its sessions may see of its tools changed (its pins): tell
        them and the catalogs as the child's own C{list_changed} does."""
        self._childNotification(jsonrpc.notification("notifications/tools/list_changed"))

    def serverCancelled(self, message: Message, params: dict[str, Any]) -> None:
        """The child cancelled a request it had sent to a session: tell that
        session (L{ChildAsks.serverCancelled})."""
        self.asks.serverCancelled(message, params)

    # -- the child went away -------------------------------------------------

    def childExited(self, why: str) -> None:
        """Fail every pending request with a JSON-RPC error; forget its listings."""
        self.asks.clear()
        self.childRoots.childStarted()
        self._forgetTools(None)
        self.failAll(jsonrpc.CHILD_EXITED, f"server '{self.name}' {why}")

    def failAll(self, code: int, text: str, tellChild: bool = False) -> None:
        """Answer every pending request with a JSON-RPC error now; with
        C{tellChild}, also cancel each on the child."""
        pending, self._pending = self._pending, {}
        self._deadlines.stop()
        self._starts.stop()
        for childId, ex in pending.items():
            self._record(ex, "child_exit" if code == jsonrpc.CHILD_EXITED else "error")
            if tellChild:
                self.send(
                    jsonrpc.notification(
                        "notifications/cancelled", {"requestId": childId, "reason": text}
                    )
                )
            ex.response.callback(jsonrpc.errorResponse(ex.clientId, code, text))
        self._checkDrained()

    def letGo(self, text: str) -> int:
        """Leave nothing of this process waiting on the child, which goes
        on elsewhere (a restart hands it to the next process): every
        request in flight is answered with the error C{text} and cancelled
        on the child, and every request of the child's own that waits for
        a client is refused, with C{text} too. How many there were."""
        asked = self.asks.refuseAll(text)
        pending = len(self._pending)
        if pending:
            self.failAll(jsonrpc.INTERNAL_ERROR, text, tellChild=True)
        return pending + asked

    def _record(self, ex: Exchange, outcome: str, response: Message | None = None) -> None:
        self._count(ex, outcome, self._clock.seconds() - ex.started)
        span = ex.span
        if span is not None:
            ex.span = None
            tracing.finish(span, outcome, response)

    def _count(self, ex: Exchange, outcome: str, seconds: float) -> None:
        """Count a client request that ended with C{outcome} after
        C{seconds} (the gateway's own requests are not client traffic)."""
        if ex.session is not None:
            self.stats.record(ex.method, outcome, seconds)
            self._operations.clientOperation(self.name, ex.method, outcome, seconds)
