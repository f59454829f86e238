# -*- test-case-name: tests.core.gateway.test_env_reload, tests.core.pools.test_pool -*-
"""A shared child whose environment changed, restarted when idle: the
L{StaleEnvRestart}.

A reconfiguration that changes only the shared child's environment (the
gateway's C{<state-dir>/.env}, or the entry's C{env}) restarts that child
at its next idle moment (nothing of a client in flight): it is stopped, and
the next one is started and initialized by the gateway itself, and given
back the sessions' subscriptions and log level, as after a crash; the
sessions carry on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.logger import Logger

from mcpgateway.core.child import Child
from mcpgateway.core.pools.pool import launchEnvOf
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.core.pools.placement import Kit

__all__ = ["StaleEnvRestart"]


class StaleEnvRestart:
    """Restarts a pool's shared child, once idle, after its environment changed."""

    log = Logger(observer=logs.observer)

    def __init__(self, kit: Kit, child: Callable[[], Upstream | None]) -> None:
        """
        @param kit: what its pool serves now, and starts children with.
        @param child: the pool's shared child's upstream, once made.
        """
        self._kit = kit
        self._child = child
        self._stale: tuple[Child, tuple[object, ...]] | None = None
        """The shared child started with an environment the server no longer
        has (and that environment: L{launchEnvOf}), to restart when idle."""
        self._settling = False
        """Whether a wait for the stale child to be idle is under way."""

    def changed(self, before: tuple[object, ...]) -> None:
        """The pool serves a new spec, its launch environment until now
        being C{before} (L{launchEnvOf}): if that changed, restart the
        running shared child at its next idle moment."""
        upstream = self._child()
        child = upstream.child if upstream is not None else None
        if child is not None and launchEnvOf(self._kit.launchSpec()) != before:
            stale = self._stale
            if stale is None or stale[0] is not child:
                self._stale = (child, before)  # else: it runs with an older one still
            self._settle()

    def _settle(self) -> None:
        """Restart the stale shared child now if it has nothing of a client
        in flight, else once it drains (or has started)."""
        upstream, stale = self._child(), self._stale
        if upstream is None or stale is None or stale[0] is not upstream.child:
            self._stale = None  # it exited (or was stopped) since: the next one is new
            return
        child, env = stale
        if env == launchEnvOf(upstream.spec):
            self._stale = None  # changed back before it was idle
            return
        if self._settling:
            return
        if upstream.state is Lifecycle.STARTING:
            started = upstream.ensure()
            if not started.called:
                self._settling = True
                # After the requests it releases have reached the child.
                started.addBoth(lambda _: self._kit.clock.callLater(0, self._settled))
                return
            started.addErrback(lambda _: None)
        elif upstream.router.clientRequestsInFlight():
            self._settling = True
            upstream.router.whenDrained().addBoth(lambda _: self._settled())
            return
        self._stale = None
        self._restart(upstream, child)

    def _settled(self) -> None:
        self._settling = False
        self._settle()

    def _restart(self, upstream: Upstream, child: Child) -> None:
        """Stop C{child} (idle) and, when it serves sessions, start and
        initialize the next one now, with the new environment; its sessions
        keep their subscriptions and log level (L{Upstream.ensure}, as
        after a crash)."""
        kit = self._kit
        pid = child.pid
        self.log.info(
            "server {server}: its environment changed; restarting its child pid {pid}",
            server=kit.spec().name,
            pid=pid,
        )
        kit.events.emit("stale", f"child pid {pid} stopped: its environment changed", pid=pid)
        upstream.stop(why="its environment changed")
        if not kit.disabled() and (upstream.router.sessions or kit.spec().prewarm):
            kit.launcher.whenLaunchable(upstream.ensure).addErrback(lambda _: None)
