# -*- test-case-name: tests.core.pools.test_pool, tests.core.gateway.test_catalog -*-
"""A pool's upstreams made and wired: the L{ChildMaker}.

Every child of a pool, whatever kind, is an L{Upstream} whose router tells
the pool what its child says that concerns more than one request: a request
to a client no session could be proven to have caused (the promotion), a
changed list (the catalogs, through the pool's L{ChildListener}), and which
tools it may list (the pinned tools, L{mcpgateway.core.toolgate}). The
maker is also where the catalogs hear of a child that became ready.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Protocol

from mcpgateway.core.era2026.lazysupport import ERA2026_SUPPORT
from mcpgateway.core.eventlog import EventLog
from mcpgateway.core.healing import Breaker
from mcpgateway.core.pools.pool import ChildListener, PidProbe, PoolLike
from mcpgateway.core.router import Fanout
from mcpgateway.core.sessions import SessionLike
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.stats import RequestStats
from mcpgateway.core.toolgate import ToolGate
from mcpgateway.core.upstream import GATEWAY_CAPABILITIES, Upstream

__all__ = ["Ambiguous", "ChildMaker", "MakersPool"]

Ambiguous = Callable[[str, int], None]
"""Told that a shared child asked a method of a client while
this many 2025 sessions used it (L{mcpgateway.core.pools.promotion.PoolPromotion.ambiguous})."""


class MakersPool(PoolLike, Protocol):
    """The pool a L{ChildMaker} makes children for, read each time a child
    needs it: what the listener is told of, and what the pool is wired with
    when it is made."""

    launchSpec: ServerSpec
    """What children are started with (the real binary behind C{npx}/C{uvx})."""
    sessionServed: Callable[[SessionLike], object] | None
    """Told the first time a session's request reaches one of its children."""
    clientAlive: PidProbe | None
    """Whether a session's client process still runs (C{None}: not known)."""


class ChildMaker:
    """Makes the upstreams of one pool, and tells its listener of them.

    @ivar listener: told when a child is ready and when its lists change
        (L{PoolLike.watchChildren}); C{None}: nobody is.
    """

    def __init__(
        self,
        pool: MakersPool,
        spawner: Spawner,
        breaker: Breaker,
        stats: RequestStats,
        events: EventLog,
        ambiguous: Ambiguous,
        upstreams: Callable[[], list[Upstream]],
        principalOf: Callable[[Upstream], str],
    ) -> None:
        """
        @param pool: the pool whose children it makes (its launch spec, tool
            pins and client probe are read when used).
        @param upstreams: every child of the pool now.
        @param principalOf: the key of the principal whose child an upstream
            of the pool is (C{""}: anyone's).
        """
        self._pool = pool
        self._spawner = spawner
        self._breaker = breaker
        self._stats = stats
        self._events = events
        self._ambiguous = ambiguous
        self._upstreams = upstreams
        self._principalOf = principalOf
        self.listener: ChildListener | None = None

    def make(self, fanout: Fanout, spec: ServerSpec | None = None) -> Upstream:
        """A new upstream with C{fanout}, started with C{spec} (C{None}: the
        pool's launch spec)."""
        pool = self._pool
        upstream = Upstream(
            pool.launchSpec if spec is None else spec,
            self._spawner,
            fanout,
            self._breaker,
            self._stats,
            self._events,
            onReady=self._childReady,
            era2026=ERA2026_SUPPORT,
        )
        router = upstream.router
        router.onAmbiguous = self._ambiguous
        router.onList = lambda method: self._childListChanged(upstream, method)
        router.clientAlive = self._clientRuns
        router.onServed = self._served
        child = weakref.ref(upstream)
        router.tools = ToolGate(pool, _listedTo(child), _servedBy(child), clock=self._spawner.clock)
        return upstream

    def _served(self, session: SessionLike) -> None:
        """The pool's C{sessionServed}, as it is when told."""
        served = self._pool.sessionServed
        if served is not None:
            served(session)

    def _clientRuns(self, pid: int) -> bool:
        """The pool's C{clientAlive}, as it is when asked (C{True}: not known)."""
        probe = self._pool.clientAlive
        return True if probe is None else probe(pid)

    def _childReady(self, upstream: Upstream) -> None:
        listener = self.listener
        if listener is not None:
            listener.childReady(self._pool, upstream, self._principalOf(upstream))

    def _childListChanged(self, upstream: Upstream, method: str) -> None:
        listener = self.listener
        if listener is not None and upstream in self._upstreams():
            principal = self._principalOf(upstream)
            listener.childListChanged(self._pool, upstream, principal, method)


def _servedBy(upstream: weakref.ReferenceType[Upstream]) -> Callable[[], Any]:
    """What a child declared it serves, for its tool gate
    (L{mcpgateway.core.toolgate.ServedCapabilities}): the capabilities of
    its C{initialize} answer (the gateway's handshake, or its session's),
    C{None} while it has none."""

    def served() -> Any:
        child = upstream()
        if child is None:
            return None
        result = child.initializeResult or child.sessionInitializeResult
        return result.get("capabilities") if isinstance(result, dict) else None

    return served


def _listedTo(upstream: weakref.ReferenceType[Upstream]) -> Callable[[], dict[str, Any] | None]:
    """What the client a child lists its tools to declared, for its tool gate
    (L{mcpgateway.core.toolgate.ListingClient}): the gateway's capabilities for
    a child it initialized, the session's for a child of one session."""

    def declared() -> dict[str, Any] | None:
        child = upstream()
        if child is None:
            return None
        return GATEWAY_CAPABILITIES if child.handshake else child.sessionCapabilities

    return declared
