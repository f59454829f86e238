# -*- test-case-name: tests.ops.test_crashkeep,tests.ops.test_childhandover -*-
"""The running children of a server's pool, as a restart passes them to
its successor (L{mcpgateway.ops.childhandover}) and the crash keeping
gives them to the warden (L{mcpgateway.ops.crashkeep}): a shared child,
and each session's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mcpgateway.core.pools.owned import OwnedChildren
from mcpgateway.core.upstream import Upstream


def ownedOf(pool: Any) -> OwnedChildren | None:
    """The sessions' own children of C{pool}, when it has them."""
    owned = getattr(pool, "owned", None)
    return owned if isinstance(owned, OwnedChildren) else None


def sharedOf(pool: Any) -> Upstream | None:
    """A shared pool's shared child, when its sessions share it (a promoted
    server's serves MCP 2026-07-28 requests only: it is not kept)."""
    from mcpgateway.core.pools.shared import SharedPlacement

    placement = getattr(pool, "placement", None)
    if isinstance(placement, SharedPlacement) and not pool.ownsChildren():
        return placement.shared
    return None


def runningChildren(pool: Any) -> Iterator[tuple[str, Upstream, str | None, tuple[str, ...]]]:
    """The running children of C{pool}: C{(session id or "", upstream, log
    level, subscriptions)}."""
    shared = sharedOf(pool)
    if shared is not None and shared.child is not None:
        fanout = shared.router.fanout
        level = getattr(fanout, "childLogLevel", None)
        subscriptions = tuple(sorted(getattr(fanout, "subscriptions", ())))
        yield "", shared, level, subscriptions
    owned = ownedOf(pool)
    if owned is None:
        return
    for sessionId, upstream in owned.items():
        if upstream.child is None:
            continue
        session = owned.owner(sessionId)
        level = getattr(session, "logLevel", None)
        subscriptions = tuple(sorted(getattr(session, "subscriptions", ())))
        yield sessionId, upstream, level, subscriptions
