# -*- test-case-name: tests.core.test_promotion, tests.core.test_promotion_scope -*-
"""Whether a shared server is promoted: the L{Promotion}.

A shared child that asks a client something (a sampling, an elicitation, a
C{roots/list}) while several 2025 sessions use it cannot say which session
asked: the request is refused, and the server is promoted (once) to the
widest scope that proves whose such a request is. C{workspace}: the reload
that follows gives each workspace route a child of its own. C{session}: each
new session gets a child of its own from now on (the pool is told, and moves
the sessions open at their next request). The promotion is kept through the
L{PromotionSink} (C{promotions.json}), unless C{classification.json} pins
the server's share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from twisted.logger import Logger

from mcpgateway.core.events import EventLog
from mcpgateway.core.pools.pool import PromotionSink
from mcpgateway.core.router import Router
from mcpgateway.core.spec import ServerSpec, Sharing, Variant
from mcpgateway.runtime import logs

__all__ = ["Promotion", "PromotionHost"]


class PromotionHost(Protocol):
    """What a L{Promotion} needs of its pool."""

    @property
    def spec(self) -> ServerSpec:
        """The server as configured now."""

    @property
    def routes(self) -> Mapping[str, Variant]:
        """The server's routes by key."""

    def ownsChildren(self) -> bool:
        """Whether a session opened now gets a child of its own."""


class Promotion:
    """Whether, and why, a pool's server is promoted.

    @ivar promoted: why new sessions get a child of their own (the server
        was promoted, in this process or an earlier one), or C{None}.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        host: PromotionHost,
        events: EventLog,
        sink: PromotionSink | None,
        eachSession: Callable[[], None],
    ) -> None:
        """
        @param eachSession: called when the server is promoted to
            C{session} in this process: each new session gets a child of
            its own from then on.
        """
        self._host = host
        self._events = events
        self._sink = sink
        self._eachSession = eachSession
        self.promoted: str | None = host.spec.promoted
        self._workspaceEach = False
        """Promoted to C{workspace} in this process: the reload that follows
        gives each workspace route a child of its own."""
        self._pinnedSaid = False

    def ambiguous(self, method: str, sessions: int, router: Router | None = None) -> None:
        """A shared child (C{router}'s) asked C{method} of a client while
        C{sessions} 2025 sessions used it: the request was refused. Unless
        the server is per session already, or pinned, narrow its share to
        the widest scope that proves whose such a request is
        (L{_provingScope}), and have that kept: C{workspace} (the reload
        that follows gives each workspace route a child of its own, which
        answers C{roots/list} with its workspace), else C{session} (each new
        session gets a child of its own from now on)."""
        spec = self._host.spec
        if self._host.ownsChildren() or sessions < 2:
            return  # fewer than two 2025 sessions: a child per session would not help
        scope = self._provingScope(method, router)
        if scope is Sharing.WORKSPACE and self._workspaceEach:
            return  # promoted to it already: the reload brings the children
        if spec.pinned:
            if not self._pinnedSaid:
                self._pinnedSaid = True
                self.log.warn(
                    "server {server}: not promoted: classification.json pins share"
                    " {share!r}; its {method} requests are refused while several sessions"
                    " use its child",
                    server=spec.name,
                    share=spec.mode,
                    method=method,
                )
            return
        why = (
            f"its child sent {method} while {sessions} sessions used it,"
            " so the session it was for could not be proven"
        )
        self.promoted = why
        undo = f'classification.json {{"{spec.name}": {{"share": "{spec.mode}"}}}}'
        if scope is Sharing.WORKSPACE:
            self._workspaceEach = True
            self.log.warn(
                "server {server} promoted to share 'workspace': {why}; every session"
                " attached came through a workspace route, so each workspace gets a child"
                " of its own (running in it, answering roots/list with it), and its"
                " sessions move there at their child's next idle moment. Undo: {undo}",
                server=spec.name,
                why=why,
                undo=undo,
            )
        else:
            self._eachSession()
            self.log.warn(
                "server {server} promoted to share 'session': {why}; each 2025 session gets"
                " a child of its own (a new one at once, one open now at its next request"
                " with nothing in flight), MCP 2026-07-28 requests stay on the shared child."
                " Undo: {undo}",
                server=spec.name,
                why=why,
                undo=undo,
            )
        self._events.emit("promoted", why)
        self._keep(spec.name, why, scope)

    def _keep(self, server: str, why: str, scope: Sharing) -> None:
        """Have the promotion kept (C{promotions.json}); a failure is logged."""
        if self._sink is None:
            return
        try:
            self._sink.promote(server, why, scope.value)
        except Exception:
            self.log.failure("server {server}: keeping its promotion failed", server=server)

    def _provingScope(self, method: str, router: Router | None) -> Sharing:
        """The widest scope in which C{router}'s child would not have had to
        refuse C{method}: C{workspace} for a C{roots/list} of a global
        server when every session counted came through a workspace route
        whose entry is its project's own (not the user's, whose child it
        shares at any scope): a workspace child runs in its workspace and
        the gateway answers its C{roots/list} with it. C{session} for
        everything else: a sampling or an elicitation is a person's, and
        only a child per session proves whose."""
        host = self._host
        if method != "roots/list" or router is None or host.spec.sharing is not Sharing.GLOBAL:
            return Sharing.SESSION
        routes = host.routes
        keyless = routes.get("")
        users = keyless.childKey if keyless is not None else None
        for session in router.clientSessions():
            variant = routes.get(getattr(session, "scope", ""))
            if variant is None or not variant.key or variant.childKey.split("/")[0] == users:
                return Sharing.SESSION
        return Sharing.WORKSPACE
