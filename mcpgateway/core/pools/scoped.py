# -*- test-case-name: tests.core.pools.test_scoped -*-
"""One child per launch spec of a server: the L{ScopedPool} (workspace and
credential scopes, and a child per principal).

Each route of the server (C{/<server>/mcp}, C{/<server>~<key>/mcp}) is a
L{Variant}: the launch spec config resolved for it (the workspace as cwd, the
layers of C{.env} in its env) and a I{child key}, a keyed hash of what the
child is. A session is bound to the child of its variant's child key; variants
with equal child keys share one child, so workspace, credential and
"identical spec" sharing all come from that one rule. With C{credentialEnv},
a client's credential values make a variant of their own
(L{Variant.withCredentials}); on a per-user or credential-scoped server, so
does the authenticated principal (L{Variant.withPrincipal}: the principal's
key is part of the child key, so two principals never share a child, and
C{maxChildren} and its least-recently-used eviction count them all). The
pool never looks at the scope itself.

Each child is a shared child (initialized by the gateway, its traffic spread
by a L{mcpgateway.core.fanout.SharedFanout}), kept in least-recently-used
order. The pool is bounded:

 - at most C{spec.maxChildren} children run at once (starting, running or
   waiting out a restart backoff). A request that needs another stops the
   least recently used child with nothing in flight (an I{eviction}); when
   every child is busy it waits, and is retried whenever a child drains, starts
   or stops, for at most the server's request timeout; then it fails with
   L{ServerUnavailable} naming the limit (C{"maxChildren"}).
 - L{ScopedPool.expire} (the reaper, each sweep) stops the children quiet for
   the server's C{idleTimeout} (default L{SCOPED_IDLE_TIMEOUT}).

A stopped child keeps its upstream, its sessions and its fanout state: the
next request of one of its sessions starts it again, and the subscriptions
and log level come back with it.

A reconfiguration (L{ScopedPool.useSpec}) brings new variants. A session
whose route now gives another child key (its workspace's C{.env} changed, or
its project's entry) moves to that child at its current child's next idle
moment; a child no variant produces any more is then stopped ("the
environment of workspace K changed; restarting its child", or "the entry
of ..."). A session whose route is gone is handed back to the gateway to end
(which ends it before the new variants come, whatever the pool:
L{mcpgateway.core.gateway.Gateway.reconfigure}), and its child is stopped.

Once promoted (a child asked a client something no session could be proven
to have caused), each new session gets a child of its own
(L{mcpgateway.core.pools.owned.OwnedChildren}); the sessions open then stay
where they are.
"""

from __future__ import annotations

import os
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.era2026.mrtr import BridgeLimits
from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.exchange import Sink
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pools.attach import adopt, release
from mcpgateway.core.pools.base import BasePool, keysOf
from mcpgateway.core.pools.owned import OwnedChildren
from mcpgateway.core.pools.pool import (
    GLOBAL_CHILD,
    Idle,
    PidProbe,
    PromotionSink,
    SessionGone,
    Sweep,
    UnknownRoute,
)
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import SCOPED_IDLE_TIMEOUT, ServerSpec, Variant
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import ServerUnavailable, Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

__all__ = ["ScopedPool"]


class _Waiter:
    """A request waiting for room in a full pool."""

    __slots__ = ("deferred", "timer", "variant")

    def __init__(self, variant: Variant, deferred: Deferred[Upstream]) -> None:
        self.variant = variant
        self.deferred = deferred
        self.timer: IDelayedCall | None = None


class ScopedPool(BasePool):
    """The children of one workspace- or credential-scoped server, by child key.

    @ivar owned: the children of the sessions opened since the server was promoted.
    """

    log = Logger(observer=logs.observer)
    perLaunch = True

    def __init__(
        self,
        spec: ServerSpec,
        spawner: Spawner,
        healing: HealingPolicy | None = None,
        promotions: PromotionSink | None = None,
        limits: BridgeLimits | None = None,
    ) -> None:
        super().__init__(spec, spawner, healing, promotions, limits)
        self._children: OrderedDict[str, Upstream] = OrderedDict()
        """Every child by child key, least recently used first."""
        self._made: dict[str, Variant] = {}
        """The variant each child starts from, by child key."""
        self._bound: dict[str, str] = {}
        """The child key of each session, by session id."""
        self._sessions: dict[str, Session] = {}
        self._waiters: deque[_Waiter] = deque()
        self._reserved: dict[str, list[Deferred[Upstream]]] = {}
        """Children whose launch spec is being resolved (they count as
        running), with the other requests waiting for them."""
        self._watching: set[str] = set()
        """Children whose drain or start retries the waiters."""
        self._settling: set[str] = set()
        """Children with sessions to move once they drain."""
        self._retrying = False
        self.owned = OwnedChildren(self)

    # -- what it holds -------------------------------------------------------------

    def upstreams(self) -> list[Upstream]:
        return list(self._children.values()) + list(self.owned.perSession.values())

    def upstreamFor(self, session: Session) -> Upstream | None:
        if self.owned:
            owned = self.owned.perSession.get(session.id)
            if owned is not None:
                return owned
        key = self._bound.get(session.id)
        return None if key is None else self._children.get(key)

    def childKeyOf(self, session: Session) -> str | None:
        """The child key C{session} is bound to (C{None}: none, or an owned child)."""
        return self._bound.get(session.id)

    def _byOwner(self) -> list[tuple[str | None, Upstream]]:
        shared: list[tuple[str | None, Upstream]] = [(None, u) for u in self._children.values()]
        return shared + list(self.owned.perSession.items())

    def _scopesOf(self, upstream: Upstream) -> tuple[str, ...]:
        for key, child in self._children.items():
            if child is upstream:
                return keysOf(upstream.router.sessions, self._made[key].key)
        return keysOf(upstream.router.sessions)

    def _principalOf(self, upstream: Upstream) -> str:
        for key, child in self._children.items():
            if child is upstream:
                return self._made[key].principal
        return ""

    def useLaunchSpec(self, spec: ServerSpec) -> None:
        """Start the global route's child with C{spec} from its next spawn on
        (the other routes' children start from their own launch specs)."""
        self.launchSpec = spec
        child = self._children.get(GLOBAL_CHILD)
        if child is not None:
            child.spec = spec

    # -- getting a running child -----------------------------------------------------

    def _running(self) -> int:
        """The children that count against C{maxChildren}."""
        return sum(
            1
            for key, upstream in self._children.items()
            if upstream.state is not Lifecycle.STOPPED or key in self._reserved
        )

    def _childOf(self, variant: Variant) -> Upstream:
        key = variant.childKey
        upstream = self._children.get(key)
        if upstream is None:
            keyless = self._variants.get("")
            if keyless is not None and key.split("/")[0] == keyless.childKey:
                roots: tuple[dict[str, Any], ...] = ()  # the user's child, whatever route asked
            else:
                roots = workspaceRoots(variant)
            upstream = self._newUpstream(SharedFanout(roots), variant.launch)
            self._children[key] = upstream
            self._made[key] = variant
            upstream.router.setTimeout(self._routeTimeout(key))  # not only the starting route's
        return upstream

    def _acquire(self, variant: Variant) -> Deferred[Upstream]:
        """The running child of C{variant}: started when needed, once there is
        room (after a pending C{npx}/C{uvx} resolution)."""
        return self._whenLaunchable(lambda: self._launch(variant))

    def _launch(self, variant: Variant) -> Deferred[Upstream]:
        key = variant.childKey
        upstream = self._childOf(variant)
        self._children.move_to_end(key)
        others = self._reserved.get(key)
        if others is not None:
            waiter: Deferred[Upstream] = Deferred()
            others.append(waiter)
            return waiter
        if upstream.state is not Lifecycle.STOPPED:
            return upstream.ensure().addCallback(lambda _: upstream)
        if self._running() >= self.spec.maxChildren and not self._evict():
            return self._wait(variant)
        self._reserved[key] = []

        def spawn(launch: ServerSpec) -> Deferred[None]:
            upstream.spec = launch.forPrincipal(self._made[key].principal)
            started = upstream.ensure()
            for other in self._reserved.pop(key, []):
                upstream.ensure().addCallback(lambda _: upstream).chainDeferred(other)
            return started

        def unreserve(reason: Failure) -> Failure:
            for other in self._reserved.pop(key, []):
                other.errback(reason)
            return reason

        launching: Deferred[None] = self._launchOf(self._made[key]).addCallback(spawn)
        return launching.addErrback(unreserve).addCallback(lambda _: upstream)

    def _evict(self) -> bool:
        """Stop the least recently used running child with nothing in flight;
        whether there was one."""
        idle = [
            upstream
            for upstream in self._children.values()
            if upstream.state is Lifecycle.RUNNING and not upstream.router.clientRequestsInFlight()
        ]
        if not idle:
            return False
        victim = min(idle, key=lambda upstream: upstream.router.lastActivity)
        self.evictions += 1
        self.log.info(
            "server {server}: {count} children (maxChildren), stopping the least recently"
            " used idle one, pid {pid}",
            server=self.spec.name,
            count=self._running(),
            pid=victim.pid,
        )
        self.events.emit("evicted", f"child pid {victim.pid} stopped to make room", pid=victim.pid)
        victim.stop()
        return True

    def _wait(self, variant: Variant) -> Deferred[Upstream]:
        self.waits += 1
        waiter = _Waiter(variant, Deferred())
        timeout = self.spec.requestTimeout
        waiter.timer = self._clock.callLater(timeout, self._waitedTooLong, waiter, timeout)
        self._waiters.append(waiter)
        self.log.info(
            "server {server}: {count} children (maxChildren), all busy; a request waits"
            " for one to drain",
            server=self.spec.name,
            count=self._running(),
        )
        self._watch()
        return waiter.deferred

    def _watch(self) -> None:
        """Retry the waiters when a child starts (or fails to), or drains."""
        for key, upstream in self._children.items():
            if key in self._watching:
                continue
            if upstream.state in (Lifecycle.STARTING, Lifecycle.RESTARTING):
                woken: Deferred[Any] = upstream.ensure()
            elif upstream.state is Lifecycle.RUNNING and upstream.router.clientRequestsInFlight():
                woken = upstream.router.whenDrained()
            else:
                continue
            if woken.called:  # it failed at once (an open circuit): nothing to wait for
                woken.addErrback(lambda _: None)
                continue
            self._watching.add(key)
            woken.addBoth(self._woken, key)

    def _woken(self, result: object, key: str) -> None:
        self._watching.discard(key)
        self._retry()

    def _retry(self) -> None:
        """Give the waiters, oldest first, the room there is now."""
        if self._retrying:
            return
        self._retrying = True
        try:
            while self._waiters:
                waiter = self._waiters[0]
                upstream = self._children.get(waiter.variant.childKey)
                started = upstream is not None and upstream.state is not Lifecycle.STOPPED
                if not started and self._running() >= self.spec.maxChildren and not self._evict():
                    break
                self._waiters.popleft()
                if waiter.timer is not None and waiter.timer.active():
                    waiter.timer.cancel()
                self._launch(waiter.variant).chainDeferred(waiter.deferred)
        finally:
            self._retrying = False
        if self._waiters:
            self._watch()

    def _waitedTooLong(self, waiter: _Waiter, timeout: float) -> None:
        if waiter not in self._waiters:
            return
        self._waiters.remove(waiter)
        self.waitTimeouts += 1
        limit = self.spec.maxChildren
        self.log.warn(
            "server {server}: a request waited {timeout:g} s for one of its {limit}"
            " children (maxChildren) to drain; answered with an error",
            server=self.spec.name,
            timeout=timeout,
            limit=limit,
        )
        waiter.deferred.errback(
            ServerUnavailable(
                f"server '{self.spec.name}' is at its limit of {limit} children"
                f' ("maxChildren"), all busy; waited {timeout:g} s. Raise maxChildren for it'
                " in its entry or classification.json"
            )
        )

    # -- MCP 2026-07-28 clients --------------------------------------------------------

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        """The child of the request's route and credentials, as a session of
        them would get (started when needed, once there is room). A call
        waiting for its client's input keeps its child busy: never evicted."""
        if self.disabled:
            return fail(self._disabled())
        variant = self.variantFor(
            request.scope, request.credentialKey, request.credentials, request.principal
        )
        if variant is None:
            return fail(UnknownRoute(f"server '{self.spec.name}' has no route '{request.scope}'"))
        return self._acquire(variant)

    def era2026Router(self, scope: str) -> Router | None:
        """The router of the route's child; of one of its credential (or
        principal) children when the route has no child without them."""
        variant = self._variants.get(scope)
        if variant is None:
            return None
        child = self._children.get(variant.childKey)
        if child is None:
            prefixes = (f"{variant.childKey}/c:", f"{variant.childKey}/p:")
            child = next((u for k, u in self._children.items() if k.startswith(prefixes)), None)
        return None if child is None else child.router

    # -- sessions ----------------------------------------------------------------

    def _variantOf(self, session: Session) -> Variant:
        variant = session.variant
        if variant is None:
            variant = self._variants.get(session.scope, self._variants[""])
            if self.spec.perPrincipal:
                variant = variant.withPrincipal(session.principal)
            session.variant = variant
        return variant

    def _bind(self, session: Session, variant: Variant, restoring: bool) -> Upstream:
        upstream = self._childOf(variant)
        self._bound[session.id] = variant.childKey
        self._sessions[session.id] = session
        if restoring:
            adopt(upstream, session)
        else:
            upstream.router.attach(session)
        return upstream

    def prewarm(self) -> Deferred[None]:
        """Start the children the sessions are bound to (restored sessions)
        and, with C{prewarm}, the global route's."""
        if self.disabled or not self.spec.runnable:
            return succeed(None)
        variants = {key: self._made[key] for key in set(self._bound.values())}
        if self.spec.prewarm:
            variants.setdefault(self._variants[""].childKey, self._variants[""])
        if not variants:
            return succeed(None)
        starting = [self._acquire(variant) for _, variant in sorted(variants.items())]

        def checked(results: list[tuple[bool, Any]]) -> None:
            for ok, result in results:
                if not ok:
                    result.raiseException()

        return DeferredList(starting, consumeErrors=True).addCallback(checked)

    def open(
        self,
        session: Session,
        initialize: jsonrpc.Message,
    ) -> Deferred[jsonrpc.Message]:
        """Answered from the C{initialize} result of the child of the
        session's route (started, and initialized, first when needed)."""
        if self.disabled:
            return fail(self._disabled())
        if self._ownEach:
            return self.owned.open(session, initialize)
        variant = self._variantOf(session)

        def answer(upstream: Upstream) -> jsonrpc.Message:
            assert upstream.initializeResult is not None
            self._bind(session, variant, restoring=False)
            result = {**upstream.initializeResult, "protocolVersion": session.protocolVersion}
            return jsonrpc.resultResponse(initialize["id"], result)

        return self._acquire(variant).addCallback(answer)

    def restore(self, session: Session) -> None:
        """Bind C{session} to the child of its route (started on its next
        request, or by the gateway's prewarm of restored sessions)."""
        self._bind(session, self._variantOf(session), restoring=True)

    def gone(self, session: Session) -> str | None:
        if session in self.owned:
            return self.owned.gone(session)
        if session.id not in self._bound and not self.disabled:
            return self._sessionGone()
        return None

    def ready(self, session: Session) -> Deferred[Upstream]:
        if session in self.owned:
            return self.owned.ready(session)
        key = self._bound.get(session.id)
        upstream = None if key is None else self._children.get(key)
        if upstream is not None and upstream.state is Lifecycle.RUNNING:
            return succeed(upstream)
        if self.disabled:
            return fail(self._disabled())
        if key is None:
            raise SessionGone(self._sessionGone())
        variant = session.variant
        if variant is not None and variant.childKey != key:
            # Its route's launch changed, and its child is not running: move now.
            self._move(session, variant)
            self._settle(key)
        else:
            variant = self._made[key]
        return self._acquire(variant)

    def forward(
        self,
        session: Session,
        message: jsonrpc.Message,
        related: Sink | None,
    ) -> Deferred[jsonrpc.Message]:
        """To the child of the session's route; a session opened before the
        server was promoted moves to a child of its own first (as on a
        shared server: L{mcpgateway.core.pools.shared.SharedPool.forward}), and a
        session whose own child is being started (its C{initialize}
        replayed) waits for it."""
        if self._ownEach and session not in self.owned:
            self._moveToOwn(session)
        if self.owned.replaying(session):
            return self.owned.forward(session, message, related)
        return super().forward(session, message, related)

    def _moveToOwn(self, session: Session) -> None:
        """Move C{session} from its route's child to a child of its own,
        unless a request of it is in flight there (a later request moves it)."""
        key = self._bound.get(session.id)
        upstream = None if key is None else self._children.get(key)
        if upstream is None:
            return
        if any(ex.session is session for ex in upstream.router.clientExchanges()):
            return
        del self._bound[session.id]
        self._sessions.pop(session.id, None)
        release(upstream, session, "moved to a child of its own", keep=True)
        self.owned.restore(session, "moved to a child of its own: the server was promoted")

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session}; its child stays (until idle) for the others."""
        if session in self.owned:
            return self.owned.close(session, reason)
        key = self._bound.pop(session.id, None)
        self._sessions.pop(session.id, None)
        upstream = None if key is None else self._children.get(key)
        if upstream is not None:
            release(upstream, session, reason)
        return succeed(None)

    # -- reconfiguration ---------------------------------------------------------------

    def useSpec(self, spec: ServerSpec) -> list[Session]:
        """New variants: the sessions of a route that is gone are returned
        (to be ended); the others follow their route's new child key, at
        their child's next idle moment."""
        super().useSpec(spec)
        self._launches = {k: v for k, v in self._launches.items() if k in self._children}
        ended = []
        for sessionId in list(self._bound):
            session = self._sessions[sessionId]
            route = self.variantFor(
                session.scope, session.credential, self._credentials(session), session.principal
            )
            if route is None:
                ended.append(session)
                continue
            session.variant = route
        for key in list(self._children):
            self._settle(key)
        self._retry()
        return ended

    def _credentials(self, session: Session) -> tuple[tuple[str, str], ...]:
        """The credential values C{session} gave (in its variant's env)."""
        if session.variant is None:
            return ()
        env = dict(session.variant.launch.env)
        return tuple((name, env[name]) for name in self.spec.credentialEnv if name in env)

    def _settle(self, key: str) -> None:
        """Move the sessions of child C{key} whose route now gives another
        child, and stop it if no route gives it any more; now if it has
        nothing in flight, else once it drains."""
        upstream = self._children.get(key)
        if upstream is None:
            return
        movers = [
            self._sessions[sid]
            for sid, bound in self._bound.items()
            if bound == key and (v := self._sessions[sid].variant) is not None and v.childKey != key
        ]
        routeKeys = {variant.childKey for variant in self._variants.values()}
        wanted = routeKeys | {s.variant.childKey for s in self._sessions.values() if s.variant}
        # A credential's or a principal's child of a route that did not change
        # (one a modern client uses, with no session) is still what it was.
        stale = key not in wanted and not any(key.startswith(f"{r}/") for r in routeKeys)
        if not movers and not stale:
            return
        if upstream.router.clientRequestsInFlight():
            if key not in self._settling:
                self._settling.add(key)
                upstream.router.whenDrained().addCallback(self._drainedToSettle, key)
            return
        routes = sorted({s.scope or "global" for s in movers} or {self._made[key].key or "global"})
        for session in movers:
            assert session.variant is not None
            self._move(session, session.variant)
        if not stale or upstream.router.sessions:
            return
        if any(w.variant.childKey == key for w in self._waiters) or key in self._reserved:
            return
        pid = upstream.pid
        if pid is not None or upstream.state is not Lifecycle.STOPPED:
            self._sayStale(self._made[key], routes, pid)
        del self._children[key]
        del self._made[key]
        self._launches.pop(key, None)
        upstream.stop()
        self._retry()

    def _sayStale(self, made: Variant, routes: list[str], pid: int | None) -> None:
        """Log why the child made for C{made} is stopped: its route's
        environment changed (the line docs/scopes.md promises; a C{.env}
        that an entry's C{${VAR}} expand from changes both), else its entry
        changed (command, args, cwd), or its route is gone."""
        now = self._variants.get(made.key)
        server, names = self.spec.name, ", ".join(routes)
        if now is None:
            self.log.info(
                "server {server}: workspace {routes} has no route any more; stopping its"
                " child pid {pid}",
                server=server,
                routes=names,
                pid=pid,
            )
            why = "its route was removed"
        elif now.launch.env != made.launch.env or _programOf(now.launch) == _programOf(made.launch):
            self.log.info(
                "server {server}: the environment of workspace {routes} changed;"
                " restarting its child pid {pid}",
                server=server,
                routes=names,
                pid=pid,
            )
            why = "its environment changed"
        else:
            self.log.info(
                "server {server}: the entry of workspace {routes} changed; restarting its"
                " child pid {pid}",
                server=server,
                routes=names,
                pid=pid,
            )
            why = "its entry changed"
        self.events.emit("stale", f"child pid {pid} stopped: {why}", pid=pid)

    def _drainedToSettle(self, _: object, key: str) -> None:
        self._settling.discard(key)
        self._settle(key)

    def _move(self, session: Session, variant: Variant) -> None:
        """Bind C{session} to the child of C{variant}, with its subscriptions
        and log level (its current child has nothing of its in flight)."""
        old = self._children.get(self._bound[session.id])
        if old is not None:
            release(old, session, "moved to another child", keep=True)
        self._bind(session, variant, restoring=True)

    # -- the children ------------------------------------------------------------------

    def _routeSetting(
        self, key: str, setting: Callable[[ServerSpec], float | None], default: float
    ) -> float:
        """C{setting} of the launch of the child C{key} under the spec served
        now: its route's own (a project's entry may set one), the longest
        when routes share the child, else C{default}. A child of one
        credential or principal is its route's child for this."""
        made = self._made.get(key)
        current = self._variants.get(made.key) if made is not None else None
        if current is None:
            return default  # its route is gone: it is stopped when idle
        values = [
            setting(variant.launch)
            for variant in self._variants.values()
            if variant.childKey == current.childKey
        ]
        return max((default if v is None else v) for v in values)

    def _requestTimeoutOf(self, upstream: Upstream, before: float) -> float:
        for key, child in self._children.items():
            if child is upstream:
                return self._routeTimeout(key)
        return super()._requestTimeoutOf(upstream, before)  # a session's own child

    def _routeTimeout(self, key: str) -> float:
        """The request timeout of the shared child C{key}: its routes' (the
        longest when routes share it), as made and after each reload."""
        return self._routeSetting(
            key, lambda launch: launch.requestTimeout, self.spec.requestTimeout
        )

    def expire(self, now: float) -> list[int]:
        """Stop the children with nothing in flight that had no request for
        their C{idleTimeout}: their own entry's (a project's entry may set
        its own; a child two routes share waits for the longer),
        else the server's, else L{SCOPED_IDLE_TIMEOUT}; forget those with no
        session left. The pids stopped."""
        default = self.spec.idleTimeout or SCOPED_IDLE_TIMEOUT
        stopped = []
        waited = {waiter.variant.childKey for waiter in self._waiters}
        for key, upstream in list(self._children.items()):
            router = upstream.router
            if upstream.state is Lifecycle.RUNNING and not router.inFlight:
                quiet = now - max(router.lastActivity, upstream.startedAt or 0.0)
                timeout = self._routeSetting(key, lambda launch: launch.idleTimeout, default)
                if quiet >= timeout:
                    pid = upstream.pid
                    self.log.info(
                        "server {server}: child pid {pid} idle for {seconds:.0f} s; stopping"
                        " it (restarts on its sessions' next request)",
                        server=self.spec.name,
                        pid=pid,
                        seconds=quiet,
                    )
                    self.events.emit("idle-stop", f"no traffic for {quiet:.0f} s", pid=pid)
                    upstream.stop()
                    if pid is not None:
                        stopped.append(pid)
            if (
                upstream.state is Lifecycle.STOPPED
                and not router.sessions
                and key not in waited
                and key not in self._reserved
            ):
                del self._children[key]
                del self._made[key]
                self._launches.pop(key, None)
        if stopped:
            self._retry()
        return stopped

    def restart(
        self,
        endSession: Callable[[Session], object],
        why: str,
    ) -> Deferred[list[int]]:
        stopping = super().restart(endSession, why)
        self._retry()
        return stopping

    def stopShared(self) -> Deferred[None]:
        """Stop every child of a route (each starts again on demand)."""
        stopping = DeferredList([u.stop() for u in self._children.values()], consumeErrors=True)
        self._retry()
        return stopping.addCallback(lambda _: None)

    def idle(self, now: float) -> Idle | None:
        """Never as a whole: L{expire} stops each child when it is idle."""
        return None

    def call(self, method: str, params: dict[str, Any]) -> Deferred[jsonrpc.Message] | None:
        """Ask the global route's child, when it runs."""
        upstream = self._children.get(self._variants[""].childKey)
        if upstream is None or upstream.state is not Lifecycle.RUNNING:
            return None
        return upstream.router.call(method, params)

    def healthPing(self) -> None:
        """Nothing: a scoped child that is idle is stopped (L{expire}), not pinged."""

    def sweep(self, alive: PidProbe) -> Sweep:
        vanished = self._vanished(alive)
        dead, orphaned = self.owned.orphans(vanished)
        return Sweep(dead=len(vanished) + dead, orphaned=orphaned)


def _programOf(launch: ServerSpec) -> tuple[object, ...]:
    """What a route's child runs, its environment aside."""
    return (launch.command, launch.args, launch.cwd)


def workspaceRoots(variant: Variant) -> tuple[dict[str, Any], ...]:
    """The roots of a workspace route's child: its workspace (the directory
    it runs in), which every session on that route shares; none for the
    global route (its sessions' roots are their own)."""
    cwd = variant.launch.cwd
    if not variant.key or not cwd or not os.path.isabs(cwd):
        return ()
    return ({"uri": Path(cwd).as_uri(), "name": os.path.basename(cwd.rstrip("/")) or cwd},)
