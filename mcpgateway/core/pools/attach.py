# -*- test-case-name: tests.core.pools.test_pool -*-
"""A session on a shared child: L{adopt} attaches it, L{release} detaches
it, each keeping the child's subscriptions and log level right (a shared
or scoped pool's sessions, restored or moving between children).
"""

from __future__ import annotations

from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.sessions import Session
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol.envelope import LOG_LEVELS


def adopt(upstream: Upstream, session: Session) -> None:
    """Attach C{session} to the shared child C{upstream} as if it had just
    initialized, and count its subscriptions and log level: the child is told
    them when it is initialized (or now, if it runs)."""
    router = upstream.router
    router.attach(session)
    fanout = router.fanout
    assert isinstance(fanout, SharedFanout)
    running = upstream.state is Lifecycle.RUNNING
    for uri in sorted(session.subscriptions):
        fanout.subscriptions[uri] += 1
        if running and fanout.subscriptions[uri] == 1:
            router.call("resources/subscribe", {"uri": uri})
    if session.logLevel not in LOG_LEVELS and fanout.childLogLevel is None:
        return  # no session has a level: nothing to count (no walk of them all)
    levels = [s.logLevel for s in router.sessions if s.logLevel in LOG_LEVELS]
    lowest = min(levels, key=LOG_LEVELS.index) if levels else None
    if lowest is not None and lowest != fanout.childLogLevel:
        fanout.childLogLevel = lowest
        if running:
            router.call("logging/setLevel", {"level": lowest})


def release(upstream: Upstream, session: Session, reason: str, keep: bool = False) -> None:
    """Detach C{session} from the shared child C{upstream}. A running child
    is told what the session gave back (its requests cancelled, its last
    subscriptions dropped); a child with no process only forgets it (and
    its tasks, as a running one does). With
    C{keep}, the session keeps its subscriptions and log level (it moves to
    another child)."""
    router = upstream.router
    subscriptions, level = set(session.subscriptions), session.logLevel
    if upstream.state is Lifecycle.RUNNING:
        router.detach(session, reason)
    else:
        router.sessions.discard(session)
        fanout = router.fanout
        assert isinstance(fanout, SharedFanout)
        fanout.tasks.forgetSession(session)
        for uri in subscriptions:
            fanout.subscriptions[uri] -= 1
            if fanout.subscriptions[uri] <= 0:
                del fanout.subscriptions[uri]
        if not keep:
            session.subscriptions.clear()
        if level is not None or fanout.childLogLevel is not None:
            levels = [s.logLevel for s in router.sessions if s.logLevel in LOG_LEVELS]
            fanout.childLogLevel = min(levels, key=LOG_LEVELS.index) if levels else None
    if keep:
        session.subscriptions, session.logLevel = subscriptions, level
