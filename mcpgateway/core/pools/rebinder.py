# -*- test-case-name: tests.core.pools.test_keyedplacement_reload, tests.core.pools.test_keyedplacement -*-
"""A scoped pool's sessions following their routes after a reload: the
L{Rebinder}.

A reconfiguration brings new variants. A session whose route now gives
another child key (its workspace's C{.env} changed, or its project's entry)
moves to that child at its current child's next idle moment; a child no
variant produces any more is then stopped ("the environment of workspace K
changed; restarting its child", or "the entry of ..."). A session whose
route is gone is handed back to the gateway to end, and its child is
stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.logger import Logger

from mcpgateway.core.pools.capacity import ChildCapacity
from mcpgateway.core.pools.pool import programOf
from mcpgateway.core.pools.routechildren import RouteChildren
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import Variant
from mcpgateway.core.status import Lifecycle
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.core.pools.placement import Kit

__all__ = ["Rebinder"]


class Rebinder:
    """Moves a scoped pool's sessions to their route's new child after a
    reload, and stops the children no route gives any more."""

    log = Logger(observer=logs.observer)

    def __init__(self, kit: Kit, table: RouteChildren, limit: ChildCapacity) -> None:
        self._kit = kit
        self._table = table
        self._limit = limit
        self._settling: set[str] = set()
        """Children with sessions to move once they drain."""

    def reload(self) -> list[Session]:
        """The pool serves new variants now: the sessions of a route that is
        gone are returned (to be ended); the others follow their route's
        new child key, at their child's next idle moment."""
        kit, table = self._kit, self._table
        ended = []
        for session in table.boundSessions():
            route = kit.variantFor(
                session.scope, session.credential, self._credentials(session), session.principal
            )
            if route is None:
                ended.append(session)
                continue
            session.variant = route
        for key, _ in table.items():
            self.settle(key)
        self._limit.retry()
        return ended

    def _credentials(self, session: Session) -> tuple[tuple[str, str], ...]:
        """The credential values C{session} gave (in its variant's env)."""
        if session.variant is None:
            return ()
        env = dict(session.variant.launch.env)
        return tuple((name, env[name]) for name in self._kit.spec().credentialEnv if name in env)

    def settle(self, key: str) -> None:
        """Move the sessions of child C{key} whose route now gives another
        child, and stop it if no route gives it any more; now if it has
        nothing in flight, else once it drains."""
        table = self._table
        upstream = table.child(key)
        if upstream is None:
            return
        movers = [
            session
            for session in table.boundTo(key)
            if (v := session.variant) is not None and v.childKey != key
        ]
        routeKeys = {variant.childKey for variant in self._kit.routes().values()}
        wanted = routeKeys | {s.variant.childKey for s in table.boundSessions() if s.variant}
        # A credential's or a principal's child of a route that did not change
        # (one a 2026 client uses, with no session) is still what it was.
        stale = key not in wanted and not any(key.startswith(f"{r}/") for r in routeKeys)
        if not movers and not stale:
            return
        if upstream.router.clientRequestsInFlight():
            if key not in self._settling:
                self._settling.add(key)
                upstream.router.whenDrained().addCallback(self._drainedToSettle, key)
            return
        routes = sorted(
            {s.scope or "global" for s in movers} or {table.madeFrom(key).key or "global"}
        )
        for session in movers:
            assert session.variant is not None
            table.move(session, session.variant)
        if not stale or upstream.router.sessions or self._limit.held(key):
            return
        pid = upstream.pid
        if pid is not None or upstream.state is not Lifecycle.STOPPED:
            self._sayStale(table.madeFrom(key), routes, pid)
        table.forget(key)
        upstream.stop()
        self._limit.retry()

    def _sayStale(self, made: Variant, routes: list[str], pid: int | None) -> None:
        """Log why the child made for C{made} is stopped: its route's
        environment changed (the line docs/guide/scopes.md promises; a C{.env}
        that an entry's C{${VAR}} expand from changes both), else its entry
        changed (command, args, cwd), or its route is gone."""
        now = self._kit.routes().get(made.key)
        server, names = self._kit.spec().name, ", ".join(routes)
        if now is None:
            self.log.info(
                "server {server}: workspace {routes} has no route any more; stopping its"
                " child pid {pid}",
                server=server,
                routes=names,
                pid=pid,
            )
            why = "its route was removed"
        elif now.launch.env != made.launch.env or programOf(now.launch) == programOf(made.launch):
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
        self._kit.events.emit("stale", f"child pid {pid} stopped: {why}", pid=pid)

    def _drainedToSettle(self, _: object, key: str) -> None:
        self._settling.discard(key)
        self.settle(key)
