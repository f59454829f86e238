# -*- test-case-name: tests.core.pools.test_keyedplacement, tests.core.pools.test_workspace_roots -*-
"""A scoped pool's shared children by child key, and its sessions bound to
them: the L{RouteChildren}.

Each route of a scoped server is a L{Variant}; a session is bound to the
child of its variant's child key, and variants with equal child keys share
that child (L{mcpgateway.core.pools.keyedplacement}). A child keeps the variant it
was made from (its route, credential or principal) and is kept in
least-recently-used order. A workspace route's child answers C{roots/list}
with its workspace (L{workspaceRoots}).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.pools.attach import adopt, release
from mcpgateway.core.pools.snapshot import keysOf
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.core.upstream import Upstream

if TYPE_CHECKING:
    from mcpgateway.core.pools.placement import Kit

__all__ = ["RouteChildren", "workspaceRoots"]


class RouteChildren:
    """The shared children of a scoped pool by child key, least recently
    used first, with the variant each was made from, and the child key of
    each of its sessions. Nobody else reads its maps: it answers."""

    def __init__(self, kit: Kit) -> None:
        self._kit = kit
        self._children: OrderedDict[str, Upstream] = OrderedDict()
        """Every child by child key, least recently used first."""
        self._made: dict[str, Variant] = {}
        """The variant each child starts from, by child key."""
        self._bound: dict[str, str] = {}
        """The child key of each session, by session id."""
        self._sessions: dict[str, Session] = {}
        """The bound sessions, by session id."""

    # -- the children --------------------------------------------------------------

    def child(self, key: str) -> Upstream | None:
        """The child C{key} (C{None}: none)."""
        return self._children.get(key)

    def items(self) -> list[tuple[str, Upstream]]:
        """Every child with its key, least recently used first."""
        return list(self._children.items())

    def upstreams(self) -> list[Upstream]:
        """Every child, least recently used first."""
        return list(self._children.values())

    def touch(self, key: str) -> None:
        """The child C{key} is the most recently used now."""
        self._children.move_to_end(key)

    def madeFrom(self, key: str) -> Variant:
        """The variant the child C{key} starts from."""
        return self._made[key]

    def childOf(self, variant: Variant) -> Upstream:
        """The child of C{variant}'s child key (made, not started, when it
        has none yet)."""
        key = variant.childKey
        upstream = self._children.get(key)
        if upstream is None:
            keyless = self._kit.routes().get("")
            if keyless is not None and key.split("/")[0] == keyless.childKey:
                roots: tuple[dict[str, Any], ...] = ()  # the user's child, whatever route asked
            else:
                roots = workspaceRoots(variant)
            upstream = self._kit.maker.make(SharedFanout(roots), variant.launch)
            self._children[key] = upstream
            self._made[key] = variant
            upstream.router.setTimeout(self.routeTimeout(key))  # not only the starting route's
        return upstream

    def forget(self, key: str) -> None:
        """Forget the child C{key} (stopped, or being stopped), and its launch."""
        del self._children[key]
        del self._made[key]
        self._kit.launcher.forget(key)

    def keyOf(self, upstream: Upstream) -> str | None:
        """The child key of C{upstream} (C{None}: not one of these children)."""
        for key, child in self._children.items():
            if child is upstream:
                return key
        return None

    def upstreamOf(self, session: Session) -> Upstream | None:
        """The child C{session} is bound to (C{None}: none)."""
        key = self._bound.get(session.id)
        return None if key is None else self._children.get(key)

    def boundKey(self, session: Session) -> str | None:
        """The child key C{session} is bound to (C{None}: none)."""
        return self._bound.get(session.id)

    def boundKeys(self) -> set[str]:
        """The child keys sessions are bound to."""
        return set(self._bound.values())

    def boundTo(self, key: str) -> list[Session]:
        """The sessions bound to the child C{key}."""
        return [self._sessions[sid] for sid, bound in self._bound.items() if bound == key]

    def boundSessions(self) -> list[Session]:
        """Every bound session."""
        return list(self._sessions.values())

    def routerOf(self, scope: str) -> Router | None:
        """The router of route C{scope}'s child; of one of its credential (or
        principal) children when the route has no child without them."""
        variant = self._kit.routes().get(scope)
        if variant is None:
            return None
        child = self._children.get(variant.childKey)
        if child is None:
            prefixes = (f"{variant.childKey}/c:", f"{variant.childKey}/p:")
            child = next((u for k, u in self._children.items() if k.startswith(prefixes)), None)
        return None if child is None else child.router

    # -- sessions ------------------------------------------------------------------

    def variantOf(self, session: Session) -> Variant:
        """The variant of C{session}'s route (and principal), kept on it."""
        variant = session.variant
        if variant is None:
            routes = self._kit.routes()
            variant = routes.get(session.scope, routes[""])
            if self._kit.spec().perPrincipal:
                variant = variant.withPrincipal(session.principal)
            session.variant = variant
        return variant

    def bind(self, session: Session, variant: Variant, restoring: bool) -> Upstream:
        """Bind C{session} to the child of C{variant} (C{restoring}: with its
        subscriptions and log level, as L{adopt} counts them)."""
        upstream = self.childOf(variant)
        self._bound[session.id] = variant.childKey
        self._sessions[session.id] = session
        if restoring:
            adopt(upstream, session)
        else:
            upstream.router.attach(session)
        return upstream

    def unbind(self, session: Session) -> Upstream | None:
        """Forget C{session}'s binding; the child it was bound to, if any."""
        key = self._bound.pop(session.id, None)
        self._sessions.pop(session.id, None)
        return None if key is None else self._children.get(key)

    def move(self, session: Session, variant: Variant) -> None:
        """Bind C{session} to the child of C{variant}, with its subscriptions
        and log level (its current child has nothing of its in flight)."""
        old = self._children.get(self._bound[session.id])
        if old is not None:
            release(old, session, "moved to another child", keep=True)
        self.bind(session, variant, restoring=True)

    # -- what each child is -----------------------------------------------------------

    def scopesOf(self, upstream: Upstream) -> tuple[str, ...]:
        """The route and credential keys C{upstream} serves: its own route's,
        and those its sessions came with."""
        key = self.keyOf(upstream)
        extra = () if key is None else (self._made[key].key,)
        return keysOf(upstream.router.sessions, *extra)

    def principalOf(self, upstream: Upstream) -> str:
        """The key of the principal whose child C{upstream} is (C{""}: anyone's)."""
        key = self.keyOf(upstream)
        return "" if key is None else self._made[key].principal

    def routeSetting(
        self, key: str, setting: Callable[[ServerSpec], float | None], default: float
    ) -> float:
        """C{setting} of the launch of the child C{key} under the spec served
        now: its route's own (a project's entry may set one), the longest
        when routes share the child, else C{default}. A child of one
        credential or principal is its route's child for this."""
        routes = self._kit.routes()
        made = self._made.get(key)
        current = routes.get(made.key) if made is not None else None
        if current is None:
            return default  # its route is gone: it is stopped when idle
        values = [
            setting(variant.launch)
            for variant in routes.values()
            if variant.childKey == current.childKey
        ]
        return max((default if v is None else v) for v in values)

    def routeTimeout(self, key: str) -> float:
        """The request timeout of the child C{key}: its routes' (the longest
        when routes share it), as made and after each reload."""
        return self.routeSetting(
            key, lambda launch: launch.requestTimeout, self._kit.spec().requestTimeout
        )


def workspaceRoots(variant: Variant) -> tuple[dict[str, Any], ...]:
    """The roots of a workspace route's child: its workspace (the directory
    it runs in), which every session on that route shares; none for the
    global route (its sessions' roots are their own)."""
    cwd = variant.launch.cwd
    if not variant.key or not cwd or not os.path.isabs(cwd):
        return ()
    return ({"uri": Path(cwd).as_uri(), "name": os.path.basename(cwd.rstrip("/")) or cwd},)
