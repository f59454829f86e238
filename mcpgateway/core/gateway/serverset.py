# -*- test-case-name: tests.core.gateway.test_gateway, tests.core.gateway.test_gateway_parts -*-
"""The servers a gateway serves: L{ServerSet}, one L{PoolLike} per
configured server.

Each pool is made for its server's spec (L{mcpgateway.core.pools.factory}),
with the gateway's pinned tools, and attached to the catalogs. Once the
gateway runs, an C{npx}/C{uvx} server is resolved to its real binary
before its first launch, and the servers marked C{prewarm} start their
shared child at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.catalogdata import entryOf
from mcpgateway.core.era2026.waits import BridgeWaits
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.catalogserve import CatalogServe
from mcpgateway.core.gateway.settings import GatewaySettings
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.pools.runningchildren import movedChildren
from mcpgateway.core.pools.scopecatalogfile import SavedScopeCatalogs
from mcpgateway.core.sessions import SessionRegistry
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Resolution
from mcpgateway.core.tasks.handshake import speaksTasks
from mcpgateway.core.upstream import Upstream

if TYPE_CHECKING:
    from mcpgateway.core.adopted import LayoutCheck


class ServersHost(Protocol):
    """What L{ServerSet} reads of its gateway when it makes a pool (the
    wiring may give the gateway other settings or catalogs after it is
    made)."""

    @property
    def settings(self) -> GatewaySettings: ...

    @property
    def catalogs(self) -> Catalogs: ...

    @property
    def scopeCatalogs(self) -> SavedScopeCatalogs: ...

    @property
    def sessions(self) -> SessionRegistry: ...


class ServerSet:
    """The gateway's pools by server name, and how each is made and started."""

    def __init__(
        self,
        host: ServersHost,
        specs: Mapping[str, ServerSpec],
        spawner: Spawner,
        log: Logger,
    ) -> None:
        """
        @param host: the gateway (its settings and catalogs).
        @param specs: the servers at start, by name.
        @param spawner: starts every child.
        @param log: the gateway's logger (these lines are the gateway's).
        """
        settings = host.settings
        self._host = host
        self._spawner = spawner
        self.log = log
        self._healing = settings.healing if settings.healing is not None else HealingPolicy()
        self._promotions = settings.promotions
        self.limits = BridgeWaits(settings.era2026InputTimeout, settings.maxSuspendedCalls)
        """How long and how many 2026 calls may wait for their clients."""
        self._clientAlive: Callable[[int], bool] | None = settings.clientAlive
        self._resolver = settings.resolver
        self._watchChildren = settings.catalogs is not None
        self.catalogServe = CatalogServe(host, settings.lazyStart)
        """Which saved catalog answers a shared server's start-ups."""
        self.namesDecided = settings.namesDecided
        """Whether a call's name is decided before the call (every pool's
        L{PoolLike.namesDecided}): L{decideNames} changes it."""
        self.pools: dict[str, PoolLike] = {name: self._make(spec) for name, spec in specs.items()}
        """Every pool by server name: the one mapping the gateway, its
        aggregator and the web read, changed in place."""
        for pool in self.pools.values():
            self._attach(pool)

    def _make(self, spec: ServerSpec) -> PoolLike:
        """The pool of C{spec}, wired to the gateway once (what it is
        given here, nothing outside the pools reads again)."""
        pool = makePool(
            spec,
            self._spawner,
            self._healing,
            self._promotions,
            self.limits,
            self._clientAlive,
            speaksTasks,  # the tasks feature's reading of a child's initialize
        )
        pool.toolPins = self._host.settings.toolPins  # its children's routers apply them
        pool.sessionServed = self._host.sessions.served  # a served session's record is saved again
        pool.namesDecided = self.namesDecided  # its children list before a call they did not
        pool.catalogSource = self.catalogServe  # start-ups answered from the saved catalog
        pool.scopeStartup.saved = self._host.scopeCatalogs  # and from its scopes' saved catalogs
        return pool

    def _attach(self, pool: PoolLike) -> None:
        """Let the catalogs serve C{pool}, and list each new child of it
        (only with a catalog service given: without one, catalogs come
        from probes)."""
        self._host.catalogs.attach(pool, watch=self._watchChildren)

    def add(self, name: str, spec: ServerSpec) -> PoolLike:
        """Serve C{spec} as server C{name} from now on: its pool, made and
        attached (not started: L{start})."""
        pool = self.pools[name] = self._make(spec)
        self._attach(pool)
        self._host.scopeCatalogs.entryIs(name, entryOf(spec))
        return pool

    def remove(self, name: str, forget: bool) -> None:
        """Serve server C{name} no more (its pool is stopped by the caller);
        C{forget}: its catalog is dropped too (the server is gone, not
        replaced)."""
        del self.pools[name]
        if forget:
            self._host.catalogs.forget(name)
            self._host.scopeCatalogs.forget(name)

    def moveChildren(self, name: str, old: PoolLike, new: PoolLike) -> None:
        """Serve the running children of server C{name}'s pool C{old}, which
        C{new} replaces, as C{new}'s where it would start the same ones
        (L{mcpgateway.core.childmove}): they go on with what they hold, and
        C{old}'s stop does not reach them. A child that cannot move is
        logged, and stops with C{old}."""
        from mcpgateway.core.childmove import moveChild  # a reload's: rare

        for before, after in movedChildren(old, new):
            pid = before.pid
            why, check = moveChild(before, after, self._spawner)
            if why is not None:
                self.log.info(
                    "config: server {server}'s child pid {pid} stops with its old pool ({why});"
                    " its new pool starts one when needed",
                    server=name,
                    pid=pid,
                    why=why,
                )
                continue
            self.log.info(
                "config: server {server}'s child pid {pid} goes on in its new pool, with what"
                " it holds in memory",
                server=name,
                pid=pid,
            )
            if check is not None:
                self._checkMoved(name, after, check)

    def _checkMoved(self, name: str, upstream: Upstream, check: LayoutCheck) -> None:
        """Stop C{upstream}'s moved child if its sandbox shows what its new
        routes name (L{mcpgateway.core.childmove.checkMoved}), saying so."""
        from mcpgateway.core.childmove import checkMoved

        def said(why: str | None) -> None:
            if why is not None:
                self.log.info(
                    "config: server {server}'s moved child is stopped: {why}", server=name, why=why
                )

        checkMoved(upstream, check, self._spawner.runInThread).addCallback(said)

    def decideNames(self, decided: bool) -> None:
        """Whether a call's name is decided before the call from now on
        (a policy, the config's rate limits; the wiring decides at start
        and at each reload): every pool's flag, and the one pools made
        later take. A call reads the flag; nothing is asked per call."""
        self.namesDecided = decided
        for pool in self.pools.values():
            pool.namesDecided = decided

    def start(self, names: Iterable[str] | None = None) -> None:
        """Start the servers C{names} (C{None}: all): resolve C{npx}/C{uvx}
        to the real binary, and prewarm those marked so."""
        for name in self.pools if names is None else names:
            self._resolve(self.pools[name])
        self.prewarm(names)

    def _resolve(self, pool: PoolLike) -> None:
        """Have C{npx}/C{uvx} servers launch their real binary (no wrapper)."""
        resolver = self._resolver
        wrapper = resolver.wrapperOf(pool.spec) if resolver is not None else None
        if resolver is None or wrapper is None:
            return
        kind, package, _ = wrapper
        what = f"`{kind} {package}` to be installed into the gateway's cache"
        pool.resolution = Resolution("pending", f"installing {kind} {package}")
        spec = pool.spec

        def done(resolved: ServerSpec) -> ServerSpec:
            why = resolver.failureOf(spec)
            if why is not None:
                pool.resolution = Resolution("failed", f"{kind} {package}: {why}")
            else:
                pool.resolution = Resolution(
                    "resolved", " ".join([resolved.command, *resolved.args])
                )
            return resolved

        pool.launchAfter(resolver.resolve(spec).addCallback(done), what, resolver.resolve)

    def prewarm(self, names: Iterable[str] | None = None) -> None:
        """Start the shared children of servers marked C{prewarm}."""
        for name in self.pools if names is None else names:
            pool = self.pools[name]
            if pool.spec.prewarm:
                self.log.info("server {server}: prewarming its shared child", server=name)
                pool.prewarm().addErrback(self._prewarmFailed, name)

    def prewarmRestored(self, servers: set[str]) -> None:
        """Start the shared children restored sessions of C{servers} will
        use now rather than on their first call (those marked C{prewarm}
        are started already), once the saved catalogs are read: a server
        whose sessions its catalog can serve starts at their first request
        it cannot answer (L{PoolLike.startsOnCall})."""
        names = sorted(servers - {n for n, p in self.pools.items() if p.spec.prewarm})
        if names:
            self.catalogServe.loaded().addCallback(lambda _: self._prewarmRestored(names))

    def _prewarmRestored(self, names: list[str]) -> None:
        for name in names:
            pool = self.pools.get(name)
            if pool is None or pool.startsOnCall():
                continue
            pool.prewarm().addErrback(self._prewarmFailed, name)

    def _prewarmFailed(self, reason: Failure, name: str) -> None:
        self.log.warn(
            "server {server}: prewarm failed: {why}", server=name, why=reason.getErrorMessage()
        )
