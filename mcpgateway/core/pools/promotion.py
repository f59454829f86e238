# -*- test-case-name: tests.core.pools.test_promotion, tests.core.pools.test_promotion_scope -*-
"""Whether a shared server is promoted: the L{PoolPromotion}.

A shared child that asks a client something other than a question
(sampling, elicitation, roots: those never promote, see
L{mcpgateway.core.unproven}) while several 2025 sessions use it, and no
session can be proven its asker, keeps per-session state with its clients:
the request is refused, and the server is promoted (once) to C{session}:
each new session gets a child of its own from now on (the pool is told, and
moves the sessions open at their next request). The promotion is kept
through the L{PromotionSink} (C{promotions.json}, for a limited time:
L{mcpgateway.config.promotions}), unless C{classification.json} pins the
server's share.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.logger import Logger

from mcpgateway.core.eventlog import EventLog
from mcpgateway.core.pools.pool import PromotionSink
from mcpgateway.core.spec import ServerSpec, Sharing
from mcpgateway.runtime import logs

__all__ = ["PoolPromotion"]


class PoolPromotion:
    """Whether, and why, a pool's server is promoted.

    @ivar promoted: why new sessions get a child of their own (the server
        was promoted, in this process or an earlier one), or C{None}.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        spec: Callable[[], ServerSpec],
        ownsChildren: Callable[[], bool],
        events: EventLog,
        sink: PromotionSink | None,
        eachSession: Callable[[], None],
    ) -> None:
        """
        @param spec: the server as configured now.
        @param ownsChildren: whether a session opened now gets a child of
            its own (a per-session server, or one promoted already).
        @param eachSession: called when the server is promoted to
            C{session} in this process: each new session gets a child of
            its own from then on.
        """
        self._spec = spec
        self._ownsChildren = ownsChildren
        self._events = events
        self._sink = sink
        self._eachSession = eachSession
        self.promoted: str | None = spec().promoted
        self._pinnedSaid = False

    def ambiguous(self, method: str, sessions: int) -> None:
        """A shared child asked C{method} of a client while C{sessions}
        2025 sessions used it, and no session could be proven its asker:
        the request was refused. Unless the server is per session already,
        or pinned, each new session gets a child of its own from now on,
        and that is kept (for L{mcpgateway.config.promotions.TTL}).
        The router never tells of a question (sampling, elicitation, roots:
        L{mcpgateway.core.unproven}): those never cost a server its share.
        It tells, as C{roots/list}, of a call refused because the child may
        hold another session's roots (the roots barrier): a child of its own
        gives each session its roots."""
        spec = self._spec()
        if self._ownsChildren() or sessions < 2:
            return  # fewer than two 2025 sessions: a child per session would not help
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
            f"its child may hold the roots one of the {sessions} sessions using it gave, and"
            " another's call could not be given its own"
            if method == "roots/list"
            else f"its child sent {method} while {sessions} sessions used it,"
            " so the session it was for could not be proven"
        )
        self.promoted = why
        undo = f'classification.json {{"{spec.name}": {{"share": "{spec.mode}"}}}}'
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
        self._keep(spec.name, why, Sharing.SESSION)

    def _keep(self, server: str, why: str, scope: Sharing) -> None:
        """Have the promotion kept (C{promotions.json}); a failure is logged."""
        if self._sink is None:
            return
        try:
            self._sink.promote(server, why, scope.value)
        except Exception:
            self.log.failure("server {server}: keeping its promotion failed", server=server)
