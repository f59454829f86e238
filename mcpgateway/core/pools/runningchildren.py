# -*- test-case-name: tests.core.pools.test_runningchildren,tests.ops.test_crashkeep,tests.ops.test_childhandover -*-
"""The running children of a server's pool, as a restart passes them to
its successor (L{mcpgateway.ops.childhandover}) and the crash keeping
gives them to the warden (L{mcpgateway.ops.crashkeep}): a shared child,
each workspace route's child of a scoped pool (by its child key), and
each session's own; and where the successor serves each one it is handed
(L{placedAs}).

A scoped pool's child made for a client's credentials or for one
principal is named with why it is not kept: the next process knows its
launch only once a client of those credentials (or that principal) comes,
so it could not tell whether the child runs what it would start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from mcpgateway.core.handedchild import HandedChild
from mcpgateway.core.pools.owned import OwnedChildren
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.upstream import Upstream

if TYPE_CHECKING:  # a pool of another kind never loads it
    from mcpgateway.core.pools.keyedplacement import KeyedPlacement

NOT_KEPT_SCOPED = (
    "it was started for a client's credentials or one principal, whose launch the next"
    " process knows only once such a client comes"
)


class RunningChild(NamedTuple):
    """One running child of a pool, with what its record says of it."""

    session: str
    """The id of the session whose own child it is (C{""}: not one session's)."""
    upstream: Upstream
    level: str | None
    """The log level its sessions asked it for."""
    subscriptions: tuple[str, ...]
    """The resources its sessions subscribed to."""
    configured: ServerSpec
    """What its server (or its route) is configured to run: its fingerprint's."""
    childKey: str = ""
    """A scoped pool's child key (C{""}: the pool's shared child, or a session's)."""
    why: str | None = None
    """Why the pool does not let it be kept, whatever it is doing (C{None}: it may be)."""


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


def keyedOf(pool: Any) -> KeyedPlacement | None:
    """C{pool}'s placement when it keeps a child per child key (C{None}:
    another kind, whose pools never load the keyed placement's module)."""
    placement = getattr(pool, "placement", None)
    if getattr(placement, "keyed", None) is None:
        return None
    from mcpgateway.core.pools.keyedplacement import KeyedPlacement

    return placement if isinstance(placement, KeyedPlacement) else None


def _fanoutState(upstream: Upstream) -> tuple[str | None, tuple[str, ...]]:
    """The log level and subscriptions a shared child's sessions asked it for."""
    fanout = upstream.router.fanout
    level = getattr(fanout, "childLogLevel", None)
    return level, tuple(sorted(getattr(fanout, "subscriptions", ())))


def runningChildren(pool: Any) -> Iterator[RunningChild]:
    """The running children of C{pool}."""
    shared = sharedOf(pool)
    if shared is not None and shared.child is not None:
        yield RunningChild("", shared, *_fanoutState(shared), pool.spec)
    placement = keyedOf(pool)
    if placement is not None:
        for key, upstream in placement.table.items():
            if upstream.child is None:
                continue
            launch = placement.table.madeFrom(key).launch
            why = NOT_KEPT_SCOPED if ("/c:" in key or "/p:" in key) else None
            yield RunningChild("", upstream, *_fanoutState(upstream), launch, key, why)
    owned = ownedOf(pool)
    if owned is None:
        return
    for sessionId, upstream in owned.items():
        if upstream.child is None:
            continue
        session = owned.owner(sessionId)
        level = getattr(session, "logLevel", None)
        subscriptions = tuple(sorted(getattr(session, "subscriptions", ())))
        yield RunningChild(sessionId, upstream, level, subscriptions, pool.spec)


def placedAs(pool: Any, handed: HandedChild) -> tuple[Upstream, ServerSpec] | None:
    """Where C{pool} serves the kept child C{handed}, and what it is
    configured to run there (what its fingerprint must match): its shared
    child, the child of the route that makes its child key now, or its
    session's own (C{None}: none; a session's own child may be found once
    the sessions are merged).

    A child recorded in a pool of the other kind (a reload made the pool
    anew after the record was written: a project's entry of the server's
    name came or went) is tried as your route's child: a shared child in a
    pool with routes, a route's child in a pool of one shared child. Its
    fingerprint decides: only the child of your own entry's launch
    matches."""
    if handed.session:
        return servedAs(pool, handed.session, "")
    keyed = keyedOf(pool) is not None
    childKey = handed.childKey
    if keyed and not childKey:
        childKey = usersChildKey(pool) or ""
        if not childKey:
            return None
    elif not keyed:
        childKey = ""
    return servedAs(pool, "", childKey)


def servedAs(pool: Any, session: str, childKey: str) -> tuple[Upstream, ServerSpec] | None:
    """Where C{pool} serves the child of C{session} (C{""}: of no one
    session) and C{childKey} (C{""}: its shared child), made when it has
    none yet, with what its route is configured to run."""
    from mcpgateway.core.pools.shared import SharedPlacement

    placement = getattr(pool, "placement", None)
    if session:
        owned = ownedOf(pool)
        upstream = None if owned is None else owned.childById(session)
        return None if upstream is None else (upstream, pool.spec)
    if childKey:
        keyed = keyedOf(pool)
        found = None if keyed is None else keyed.childFor(childKey)
        return None if found is None else (found[0], found[1].launch)
    if isinstance(placement, SharedPlacement) and not pool.ownsChildren():
        return placement.upstream(), pool.spec
    return None


def usersChildKey(pool: Any) -> str | None:
    """The child key under which C{pool} serves its key-less route, the
    user's own entry (C{""}: its shared child; C{None}: it has no such route)."""
    if keyedOf(pool) is None:
        return ""
    users = pool.routes.get("")
    return None if users is None else str(users.childKey)


def movedChildren(old: Any, new: Any) -> list[tuple[Upstream, Upstream]]:
    """The running children of C{old} not of one session, each with the
    upstream of C{new} that serves the same launch: the child of your own
    route goes to your route's in C{new}, a workspace route's to the child
    of its key there (made, not started). The caller has checked that the
    routes it carries over launch alike in both."""
    before, after = usersChildKey(old), usersChildKey(new)
    pairs = []
    for running in runningChildren(old):
        if running.session or running.why is not None:
            continue
        key = running.childKey
        if key == before:
            if after is None:
                continue
            key = after
        target = servedAs(new, "", key)
        if target is not None:
            pairs.append((running.upstream, target[0]))
    return pairs
