# -*- test-case-name: tests.core.test_status, tests.core.pools.test_pool -*-
"""What a pool is doing, as every renderer reads it: the L{StatusReader}.

A pool's state (L{ServerState}) follows from its breaker's circuit and its
children's lifecycles; its snapshot (L{ServerStatus}) adds the children one
by one, the request statistics, the resolution of an C{npx}/C{uvx} command,
the promotion and the MCP 2026-07-28 counters. Which children a pool has,
and whose each is, is the pool's to say (L{Observed}).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, cast

from twisted.internet.interfaces import IReactorTime

from mcpgateway.core.healing import Breaker, circuitReason
from mcpgateway.core.spawn import notFoundFor
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.stats import RequestStats
from mcpgateway.core.status import (
    CatalogCounts,
    ChildStatus,
    Circuit,
    Era2026Stats,
    Lifecycle,
    RequestSnapshot,
    Resolution,
    ServerState,
    ServerStatus,
)
from mcpgateway.core.upstream import Upstream

__all__ = ["CapacityCounts", "ChildRow", "Observed", "StatusReader", "keysOf"]


@dataclass
class CapacityCounts:
    """What a pool bounded by C{maxChildren} counted (a scoped pool's; the
    others' stay zero)."""

    waits: int = 0
    """Requests that found the pool full with nothing idle and waited."""
    waitTimeouts: int = 0
    """Of those, the ones that waited their whole timeout."""
    evictions: int = 0
    """Idle children stopped to make room for another."""


@dataclass(frozen=True)
class ChildRow:
    """One child of a pool as its snapshot shows it."""

    upstream: Upstream
    owner: str | None = None
    """The id of the session whose own child it is (C{None}: the placement's)."""
    scopes: tuple[str, ...] = ()
    """The route and credential keys a placement's child serves: its own
    route's, and those its sessions came with."""
    principal: str = ""
    """The key of the principal whose child a placement's child is (C{""}: anyone's)."""


class Observed(Protocol):
    """What a L{StatusReader} reads of its pool, each time it is asked."""

    @property
    def spec(self) -> ServerSpec:
        """The server as configured now."""

    @property
    def launchSpec(self) -> ServerSpec:
        """What its children start with now."""

    @property
    def disabled(self) -> bool:
        """Whether the management API disabled it."""

    @property
    def resolution(self) -> Resolution | None:
        """Where the resolution of its C{npx}/C{uvx} command is."""

    @property
    def promoted(self) -> str | None:
        """Why new sessions get a child of their own, or C{None}."""

    def upstreams(self) -> list[Upstream]:
        """Every child of the pool."""

    def childRows(self) -> list[ChildRow]:
        """Every child, with whose it is and what it serves."""

    def era2026Refusal(self) -> str | None:
        """Why it does not serve MCP 2026-07-28 clients, or C{None}."""

    def servedFromCatalog(self) -> bool:
        """Whether sessions were answered from its saved catalog since its
        child last ran (L{ServerState.CATALOG} while none runs)."""

    def catalogCounts(self) -> CatalogCounts:
        """What it answered from its saved catalog."""

    def era2026Stats(self) -> Era2026Stats:
        """The counters of its 2026 traffic."""


class StatusReader:
    """The state and the snapshot of one pool."""

    def __init__(
        self,
        pool: Observed,
        clock: IReactorTime,
        breaker: Breaker,
        stats: RequestStats,
        limits: CapacityCounts,
        remotes: object,
        created: float,
    ) -> None:
        """
        @param created: when the pool was made.
        @param remotes: the spawner's remote connector, which may say how a
            remote server's own login is (C{loginState(name)}).
        """
        self._pool = pool
        self._clock = clock
        self._breaker = breaker
        self._stats = stats
        self._limits = limits
        self._remotes = remotes
        self._created = created

    def _state(self, circuit: Circuit) -> ServerState:
        """The server's state, its circuit being C{circuit} (see
        docs/guide/operations.md for what moves a server between them)."""
        pool, breaker = self._pool, self._breaker
        if pool.disabled:
            return ServerState.DISABLED
        if not pool.launchSpec.runnable or circuit is Circuit.OPEN:
            return ServerState.ERROR
        lifecycles = {u.state for u in pool.upstreams()}
        if Lifecycle.RESTARTING in lifecycles:
            return ServerState.RESTARTING
        if Lifecycle.RUNNING in lifecycles:
            return ServerState.DEGRADED if breaker.recentFailures() else ServerState.RUNNING
        if Lifecycle.STARTING in lifecycles:
            return ServerState.STARTING
        return ServerState.CATALOG if pool.servedFromCatalog() else ServerState.STOPPED

    def status(self, sessions: int) -> ServerStatus:
        """A snapshot of the server and its children; C{sessions}: how many
        sessions the gateway has open on it."""
        pool, breaker, limits = self._pool, self._breaker, self._limits
        spec, launch = pool.spec, pool.launchSpec
        counts = pool.catalogCounts()
        circuit = breaker.state
        error = None
        if circuit is Circuit.OPEN:
            error = circuitReason(launch.name, breaker)
        if not launch.runnable:
            # Not the served spec's: an npx/uvx wrapper missing from PATH may
            # have been resolved to the program it runs (which then works).
            error = f"command '{spec.command}' {notFoundFor(spec)}"
        return ServerStatus(
            name=spec.name,
            sharing=spec.sharing,
            state=self._state(circuit),
            circuit=circuit,
            children=tuple(
                _childStatus(row.owner, row.upstream, row.scopes, row.principal)
                for row in pool.childRows()
            ),
            sessions=sessions,
            requests=_requests(self._stats),
            failures=breaker.totalFailures,
            created=self._created,
            now=self._clock.seconds(),
            disabled=pool.disabled,
            resolution=pool.resolution,
            error=error,
            launch=None if launch is spec else (launch.executable or launch.command, *launch.args),
            spec=spec,
            maxChildren=spec.maxChildren,
            waits=limits.waits,
            waitTimeouts=limits.waitTimeouts,
            evictions=limits.evictions,
            promoted=pool.promoted,
            era2026=pool.era2026Refusal(),
            era2026Stats=pool.era2026Stats(),
            login=self._loginState(spec),
            catalogStartups=counts.startups,
            catalogAnswers=counts.answers,
        )

    def _loginState(self, spec: ServerSpec) -> str | None:
        """A remote server's login for the gateway itself (L{ServerStatus.login})."""
        if spec.remote is None:
            return None
        state = getattr(self._remotes, "loginState", None)
        return None if state is None else cast("str | None", state(spec.name))


def keysOf(sessions: Iterable[object], *extra: str) -> tuple[str, ...]:
    """The route and credential keys of C{sessions}, with C{extra}, sorted."""
    keys = set(extra)
    for session in sessions:
        keys.add(getattr(session, "scope", ""))
        credential = getattr(session, "credential", "")
        if credential:
            keys.add(credential)
    return tuple(sorted(keys))


def _requests(stats: RequestStats) -> RequestSnapshot:
    return RequestSnapshot(
        requests=dict(stats.requests),
        count=stats.count,
        sum=stats.sum,
        bucketCounts=tuple(stats.bucketCounts),
        lateReplies=stats.lateReplies,
        ambiguousServerRequests=stats.ambiguousServerRequests,
        bytesIn=stats.bytesIn,
        bytesOut=stats.bytesOut,
        sandboxRefusals=tuple(stats.sandboxRefusals.values()),
    )


def _childStatus(
    owner: str | None, upstream: Upstream, scopes: tuple[str, ...], principal: str = ""
) -> ChildStatus:
    child = upstream.child
    return ChildStatus(
        pid=upstream.pid,
        lifecycle=upstream.state,
        startedAt=upstream.startedAt if child is not None else None,
        spawns=upstream.spawns,
        inFlight=upstream.router.clientRequestsInFlight(),
        bytesIn=child.bytesIn if child is not None else 0,
        bytesOut=child.bytesOut if child is not None else 0,
        lastExit=upstream.lastExit,
        owner=owner,
        scopes=scopes,
        sessions=len(upstream.router.sessions),
        principal=principal,
    )
