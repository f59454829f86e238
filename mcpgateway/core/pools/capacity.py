# -*- test-case-name: tests.core.pools.test_keyedplacement, tests.core.pools.test_per_user -*-
"""How many of a scoped pool's children run, and for how long: the
L{ChildCapacity}.

 - At most C{spec.maxChildren} children run at once (starting, running or
   waiting out a restart backoff). A request that needs another stops the
   least recently used child with nothing in flight (an I{eviction}); when
   every child is busy it waits, and is retried whenever a child drains,
   starts or stops, for at most the server's request timeout; then it fails
   with L{ServerUnavailable} naming the limit (C{"maxChildren"}).
 - L{ChildCapacity.expire} (the reaper, each sweep) stops the children quiet
   for their C{idleTimeout} (default L{SCOPED_IDLE_TIMEOUT}).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.pools.routechildren import RouteChildren
from mcpgateway.core.spec import SCOPED_IDLE_TIMEOUT, ServerSpec, Variant
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import ServerUnavailable, Upstream
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.core.pools.placement import Kit

__all__ = ["ChildCapacity"]


class _Waiter:
    """A request waiting for room in a full pool."""

    __slots__ = ("deferred", "timer", "variant")

    def __init__(self, variant: Variant, deferred: Deferred[Upstream]) -> None:
        self.variant = variant
        self.deferred = deferred
        self.timer: IDelayedCall | None = None


class ChildCapacity:
    """Starts a scoped pool's children within C{maxChildren}, and stops
    those idle past their C{idleTimeout}."""

    log = Logger(observer=logs.observer)

    def __init__(self, kit: Kit, table: RouteChildren) -> None:
        """
        @param kit: what its pool serves now (C{maxChildren}, timeouts),
            starts children with, and counts its waits, their timeouts and
            its evictions in.
        """
        self._kit = kit
        self._table = table
        self._counts = kit.limitCounts
        self._waiters: deque[_Waiter] = deque()
        self._reserved: dict[str, list[Deferred[Upstream]]] = {}
        """Children whose launch spec is being resolved (they count as
        running), with the other requests waiting for them."""
        self._watching: set[str] = set()
        """Children whose drain or start retries the waiters."""
        self._retrying = False

    def acquire(self, variant: Variant) -> Deferred[Upstream]:
        """The running child of C{variant}: started when needed, once there is
        room (after a pending C{npx}/C{uvx} resolution)."""
        return self._kit.launcher.whenLaunchable(lambda: self._launch(variant))

    def acquireAll(self, variants: list[Variant]) -> Deferred[None]:
        """The running children of C{variants}, each started when there is
        room; fails (once every one has started or failed) with the first
        failure."""
        starting = [self.acquire(variant) for variant in variants]

        def checked(results: list[tuple[bool, Any]]) -> None:
            for ok, result in results:
                if not ok:
                    result.raiseException()

        return DeferredList(starting, consumeErrors=True).addCallback(checked)

    def held(self, key: str) -> bool:
        """Whether a request waits for the child C{key}, or it is being
        launched (it must not be forgotten)."""
        return key in self._reserved or any(w.variant.childKey == key for w in self._waiters)

    def _running(self) -> int:
        """The children that count against C{maxChildren}."""
        return sum(
            1
            for key, upstream in self._table.items()
            if upstream.state is not Lifecycle.STOPPED or key in self._reserved
        )

    def _launch(self, variant: Variant) -> Deferred[Upstream]:
        key, table = variant.childKey, self._table
        upstream = table.childOf(variant)
        table.touch(key)
        others = self._reserved.get(key)
        if others is not None:
            waiter: Deferred[Upstream] = Deferred()
            others.append(waiter)
            return waiter
        if upstream.state is not Lifecycle.STOPPED:
            return upstream.ensure().addCallback(lambda _: upstream)
        if self._running() >= self._kit.spec().maxChildren and not self._evict():
            return self._wait(variant)
        self._reserved[key] = []

        def spawn(launch: ServerSpec) -> Deferred[None]:
            upstream.spec = launch.forPrincipal(table.madeFrom(key).principal)
            started = upstream.ensure()
            for other in self._reserved.pop(key, []):
                upstream.ensure().addCallback(lambda _: upstream).chainDeferred(other)
            return started

        def unreserve(reason: Failure) -> Failure:
            for other in self._reserved.pop(key, []):
                other.errback(reason)
            return reason

        launch = self._kit.launcher.launchOf(table.madeFrom(key))
        launching: Deferred[None] = launch.addCallback(spawn)
        return launching.addErrback(unreserve).addCallback(lambda _: upstream)

    def _evict(self) -> bool:
        """Stop the least recently used running child with nothing in flight;
        whether there was one."""
        idle = [
            upstream
            for upstream in self._table.upstreams()
            if upstream.state is Lifecycle.RUNNING and not upstream.router.clientRequestsInFlight()
        ]
        if not idle:
            return False
        victim = min(idle, key=lambda upstream: upstream.router.lastActivity)
        self._counts.evictions += 1
        self.log.info(
            "server {server}: {count} children (maxChildren), stopping the least recently"
            " used idle one, pid {pid}",
            server=self._kit.spec().name,
            count=self._running(),
            pid=victim.pid,
        )
        self._kit.events.emit(
            "evicted", f"child pid {victim.pid} stopped to make room", pid=victim.pid
        )
        victim.stop(why="to make room for another (maxChildren)")
        return True

    def _wait(self, variant: Variant) -> Deferred[Upstream]:
        self._counts.waits += 1
        waiter = _Waiter(variant, Deferred())
        timeout = self._kit.spec().requestTimeout
        waiter.timer = self._kit.clock.callLater(timeout, self._waitedTooLong, waiter, timeout)
        self._waiters.append(waiter)
        self.log.info(
            "server {server}: {count} children (maxChildren), all busy; a request waits"
            " for one to drain",
            server=self._kit.spec().name,
            count=self._running(),
        )
        self._watch()
        return waiter.deferred

    def _watch(self) -> None:
        """Retry the waiters when a child starts (or fails to), or drains."""
        for key, upstream in self._table.items():
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
        self.retry()

    def retry(self) -> None:
        """Give the waiters, oldest first, the room there is now."""
        if self._retrying:
            return
        self._retrying = True
        try:
            while self._waiters:
                waiter = self._waiters[0]
                upstream = self._table.child(waiter.variant.childKey)
                started = upstream is not None and upstream.state is not Lifecycle.STOPPED
                if (
                    not started
                    and self._running() >= self._kit.spec().maxChildren
                    and not self._evict()
                ):
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
        self._counts.waitTimeouts += 1
        spec = self._kit.spec()
        limit = spec.maxChildren
        self.log.warn(
            "server {server}: a request waited {timeout:g} s for one of its {limit}"
            " children (maxChildren) to drain; answered with an error",
            server=spec.name,
            timeout=timeout,
            limit=limit,
        )
        waiter.deferred.errback(
            ServerUnavailable(
                f"server '{spec.name}' is at its limit of {limit} children"
                f' ("maxChildren"), all busy; waited {timeout:g} s. Raise maxChildren for it'
                " in its entry or classification.json"
            )
        )

    def expire(self, now: float) -> list[int]:
        """Stop the children with nothing in flight that had no request for
        their C{idleTimeout}: their own entry's (a project's entry may set
        its own; a child two routes share waits for the longer),
        else the server's, else L{SCOPED_IDLE_TIMEOUT}; forget those with no
        session left. The pids stopped."""
        spec, table = self._kit.spec(), self._table
        default = spec.idleTimeout or SCOPED_IDLE_TIMEOUT
        stopped = []
        waited = {waiter.variant.childKey for waiter in self._waiters}
        for key, upstream in table.items():
            router = upstream.router
            if upstream.state is Lifecycle.RUNNING and not router.inFlight:
                quiet = now - max(router.lastActivity, upstream.startedAt or 0.0)
                timeout = table.routeSetting(key, lambda launch: launch.idleTimeout, default)
                if quiet >= timeout:
                    pid = upstream.pid
                    self.log.info(
                        "server {server}: child pid {pid} idle for {seconds:.0f} s; stopping"
                        " it (restarts on its sessions' next request)",
                        server=spec.name,
                        pid=pid,
                        seconds=quiet,
                    )
                    why = f"no traffic for {quiet:.0f} s"
                    self._kit.events.emit("idle-stop", why, pid=pid)
                    upstream.stop(why=why)
                    if pid is not None:
                        stopped.append(pid)
            if (
                upstream.state is Lifecycle.STOPPED
                and not router.sessions
                and key not in waited
                and key not in self._reserved
            ):
                table.forget(key)
        if stopped:
            self.retry()
        return stopped
