# -*- test-case-name: tests.core.pools.test_pool -*-
"""What every kind of pool does the same way: L{BasePool}.

It holds the server's spec and routes, the breaker, the request statistics
and the event log, and the collaborators every kind has: the
L{Launcher} (what children start with, after a pending C{npx}/C{uvx}
resolution), the L{ChildMaker} (its upstreams, wired to what their children
say), the L{Promotion}, the L{StatusReader} (its state and snapshot, which
every renderer reads), the L{Era2026Side} (MCP 2026-07-28 clients) and the
L{OwnedChildren} (the sessions that have a child of their own). What is left
here is the client traffic every kind forwards the same way, and the
operations over all of its children.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, cast

from twisted.internet.defer import Deferred, DeferredList, maybeDeferred, succeed
from twisted.logger import Logger

from mcpgateway.core.era2026.mrtr import BridgeLimits, InputBridge
from mcpgateway.core.era2026.types import Era2026Request, ListenFilter, ListenHandle
from mcpgateway.core.events import EventLog
from mcpgateway.core.exchange import Sink
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pools.era2026side import Era2026Side
from mcpgateway.core.pools.launching import Launcher
from mcpgateway.core.pools.making import ChildMaker
from mcpgateway.core.pools.owned import LAZY_START, OwnedChildren
from mcpgateway.core.pools.pool import (
    CatalogSource,
    ChildListener,
    PidProbe,
    PromotionSink,
    Resolver,
    ServerPool,
    Sweep,
    TaskSupport,
    variantsOf,
)
from mcpgateway.core.pools.promotion import Promotion
from mcpgateway.core.pools.scopecatalog import ScopeStartup, probeOwnChild, scopeKey
from mcpgateway.core.pools.snapshot import LimitCounts, StatusReader, keysOf
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session, SessionLike
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec, Sharing, Variant
from mcpgateway.core.stats import RequestStats
from mcpgateway.core.status import (
    CatalogCounts,
    Era2026Stats,
    Lifecycle,
    Resolution,
    ServerState,
    ServerStatus,
)
from mcpgateway.core.toolgate import PinnedTools
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs


def _decidesNoName() -> bool:
    """A gateway without a policy or rate limits decides no call's name."""
    return False


class BasePool:
    """What every kind of pool does the same way."""

    log = Logger(observer=logs.observer)
    perLaunch = False
    """Whether it keeps a child per launch spec (only a scoped pool does:
    any other serves each of its routes as the key-less one)."""
    clientAlive: PidProbe | None = None
    """Whether a session's client process still runs (L{ServerPool.clientAlive})."""
    toolPins: PinnedTools | None = None
    """The gateway's pinned tools (L{ServerPool.toolPins})."""
    sessionServed: Callable[[SessionLike], object] | None = None
    """Told the first time a session's request reaches one of its children
    (the gateway's sessions save it: L{mcpgateway.core.sessions.SessionRegistry.served})."""
    taskSupport: TaskSupport | None = None
    """Whether a child serves task-augmented calls itself (L{ServerPool.taskSupport})."""
    catalogSource: CatalogSource | None = None
    """The saved catalogs a shared pool answers start-ups from (L{ServerPool.catalogSource})."""

    def __init__(
        self,
        spec: ServerSpec,
        spawner: Spawner,
        healing: HealingPolicy | None = None,
        promotions: PromotionSink | None = None,
        limits: BridgeLimits | None = None,
    ) -> None:
        clock = spawner.clock
        self.spec = spec
        """The server as configured."""
        self.launchSpec = spec
        """What children are started with: the configured command, or the
        real binary an C{npx}/C{uvx} wrapper resolved to."""
        self.routes: dict[str, Variant] = variantsOf(spec)
        """The server's routes by key."""
        self._clock = clock
        self.breaker = (healing if healing is not None else HealingPolicy()).breaker(clock)
        self.stats = RequestStats()
        self.created = clock.seconds()
        self.events = EventLog(clock)
        self.resolution: Resolution | None = None
        """Where the resolution of an C{npx}/C{uvx} command to its real
        binary is (C{None} for other servers)."""
        self.disabled = spec.disabled
        """Set through the management API: requests are refused, children stopped."""
        self.listFirst: Callable[[], bool] = _decidesNoName
        """Whether a call's name is decided before the call (L{ServerPool.listFirst})."""
        self._ownEach = False
        """Promoted in this process: each new session gets an owned child."""
        self.limitCounts = LimitCounts()
        """What its C{maxChildren} bound counted (a scoped pool's)."""
        self.launcher = Launcher(self, clock)
        self.promotion = Promotion(self, self.events, promotions, self._eachSession)
        self.maker = ChildMaker(
            cast(ServerPool, self),
            spawner,
            self.breaker,
            self.stats,
            self.events,
            self.promotion.ambiguous,
            self.upstreams,
            self._childPrincipal,
        )
        self.reader = StatusReader(
            self, clock, self.breaker, self.stats, self.limitCounts, spawner.remotes, self.created
        )
        limits = limits if limits is not None else BridgeLimits()
        bridge = InputBridge(
            spec.name, clock, ttl=limits.inputTimeout, maxSuspended=limits.maxSuspended
        )
        self.era2026 = Era2026Side(self, bridge)
        self.owned = OwnedChildren(self, self.maker, self.launcher)
        """The children each of one session (every kind of pool may have some:
        a per-session server's, and a promoted server's new sessions)."""
        self.scopeStartup = ScopeStartup(self, clock)
        """Answers the start-ups of sessions whose child is their own (or a
        route's) from the catalog of their scope (L{mcpgateway.core.pools.scopecatalog})."""

    def upstreams(self) -> list[Upstream]:
        """Every child of the pool (for white-box tests and the kinds of pool)."""
        raise NotImplementedError

    def upstreamFor(self, session: Session) -> Upstream | None:
        """The upstream serving C{session} (C{None} after it was closed)."""
        raise NotImplementedError

    def ready(self, session: Session) -> Deferred[Upstream]:
        """The session's upstream, with a running child (a shared one is
        started again if it died).

        @raise SessionGone: the session's own child is gone.
        """
        raise NotImplementedError

    def untime(self, session: Session, clientId: Any) -> bool:
        """Lift the request timeout of C{session}'s request C{clientId} in
        flight (a call the gateway made a task of); whether it was found."""
        upstream = self.upstreamFor(session)
        return upstream is not None and upstream.router.holdRequest(session, clientId)

    def childTasks(self, session: Session) -> Deferred[bool]:
        """Whether the session's child serves 2025-11-25 task-augmented
        C{tools/call} itself (its C{initialize} result says so, as
        L{taskSupport} reads it: the gateway's own for a shared child, the
        session's for a child of its own)."""

        known = self.scopeStartup.initializeFor(session)
        if known is not None:  # answered from its scope's catalog: its child has not started
            reads = self.taskSupport
            return succeed(reads is not None and reads(known))

        def serves(upstream: Upstream) -> bool:
            reads = self.taskSupport
            # A session's own child answered that session's initialize.
            result = upstream.initializeResult or upstream.sessionInitializeResult
            return reads is not None and reads(result)

        return maybeDeferred(self.ready, session).addCallback(serves)

    # -- who hears of the children (the catalogs) -----------------------------------

    def watchChildren(self, listener: ChildListener | None) -> None:
        self.maker.listener = listener

    @property
    def childListener(self) -> ChildListener | None:
        """Told when a child is ready and when its lists change (L{watchChildren})."""
        return self.maker.listener

    def _childPrincipal(self, upstream: Upstream) -> str:
        """The key of the principal whose child C{upstream} is (C{""}: anyone's)."""
        principal = self.owned.principalOf(upstream)
        return self.principalOf(upstream) if principal is None else principal

    # -- promotion -------------------------------------------------------------------

    @property
    def promoted(self) -> str | None:
        """Why new sessions get a child of their own, or C{None}."""
        return self.promotion.promoted

    def _eachSession(self) -> None:
        """Promoted to C{session} now: each new session gets a child of its own."""
        self._ownEach = True

    def ownsChildren(self) -> bool:
        return self.spec.sharing is Sharing.SESSION or self._ownEach

    # -- sessions with a child of their own, started at their first call -------------

    def openOwned(self, session: Session, initialize: jsonrpc.Message) -> Deferred[jsonrpc.Message]:
        """C{session}'s own child: answered from the catalog of its scope
        (probed first when none is known), its child started at its first
        request the catalog cannot answer; else started now, C{initialize}
        forwarded to it (L{mcpgateway.core.pools.scopecatalog})."""
        startup, owned = self.scopeStartup, self.owned
        if not startup.allowed(session):
            return owned.open(session, initialize)
        key = scopeKey(self, session, ownChild=True)
        return startup.open(
            session,
            initialize,
            key,
            lambda: probeOwnChild(owned, self.spec, session, key, self._clock, self.log),
            lambda: owned.open(session, initialize),
            lambda opened: owned.restore(opened, LAZY_START),
        )

    def forwardOwned(
        self, session: Session, message: jsonrpc.Message, related: Sink | None
    ) -> Deferred[jsonrpc.Message]:
        """A request of C{session}, answered from its scope's catalog
        (L{ScopeStartup.pending}): from the catalog when it can, else once
        its own child started with its C{initialize} replayed."""
        known = self.scopeStartup.answer(session, message)
        if known is not None:
            return succeed(known)

        def started(upstream: Upstream) -> Upstream:
            router = upstream.router
            self.scopeStartup.started([session], lambda m, p: router.call(m, p))
            return upstream

        ready = self.owned.ready(session).addCallback(started)
        return ready.addCallback(_request, session, message, related)

    # -- routes --------------------------------------------------------------------

    def variantFor(
        self,
        scope: str,
        credentialKey: str = "",
        credentials: tuple[tuple[str, str], ...] = (),
        principal: str = "",
    ) -> Variant | None:
        variant = self.routes.get(scope)
        if variant is None:
            return None
        if credentialKey and self.spec.credentialEnv:
            listed = set(self.spec.credentialEnv)
            variant = variant.withCredentials(
                credentialKey, tuple((name, value) for name, value in credentials if name in listed)
            )
        if principal and self.spec.perPrincipal:
            variant = variant.withPrincipal(principal)
        return variant

    def useSpec(self, spec: ServerSpec) -> list[Session]:
        before = self.spec.requestTimeout
        self.spec, self.disabled = spec, spec.disabled
        self.routes = variantsOf(spec)
        self._retime(before)
        self.launcher.rebase()
        return []

    def _requestTimeoutOf(self, upstream: Upstream, before: float) -> float:
        """The request timeout C{upstream}'s child has under the spec served
        now: a child that had the server's (C{before}) has the server's new
        one; a child of a route with its own keeps it (a reload that
        changed nothing must change no child). A scoped pool's shared
        children: their routes' (L{mcpgateway.core.pools.scoped.ScopedPool})."""
        timeout = upstream.router.timeout
        return self.spec.requestTimeout if timeout == before else timeout

    def _retime(self, before: float) -> None:
        """Give each running child the request timeout of the spec served
        now, its requests in flight included (a reload);
        C{before}: the server's until now."""
        for upstream in self.upstreams():
            router = upstream.router
            timeout = self._requestTimeoutOf(upstream, before)
            if timeout != router.timeout:
                self.log.info(
                    "config: server {server}: its request timeout is now {timeout:g} s (was"
                    " {before:g} s) on child pid {pid}, for the requests in flight too"
                    " (counted from when each was sent)",
                    server=self.spec.name,
                    timeout=timeout,
                    before=router.timeout,
                    pid=upstream.pid,
                )
                router.setTimeout(timeout)

    def expire(self, now: float) -> list[int]:
        return []

    # -- starting children ---------------------------------------------------

    def resetCircuit(self) -> None:
        self.breaker.reset()
        for upstream in self.upstreams():
            upstream.resetBackoff()

    def launchAfter(
        self, resolving: Deferred[ServerSpec], what: str, resolve: Resolver | None = None
    ) -> None:
        """Start no child until C{resolving} fires (L{Launcher.after})."""
        self.launcher.after(resolving, what, resolve)

    def useLaunchSpec(self, spec: ServerSpec) -> None:
        """Start children with C{spec} from the next spawn on; running ones
        are left alone."""
        self.launchSpec = spec
        for upstream in self.upstreams():
            # A child that serves one principal keeps serving that principal.
            upstream.spec = spec.forPrincipal(upstream.spec.principal)

    # -- client traffic --------------------------------------------------------

    def forward(
        self,
        session: Session,
        message: jsonrpc.Message,
        related: Sink | None,
    ) -> Deferred[jsonrpc.Message]:
        upstream = self.upstreamFor(session)
        if upstream is not None and upstream.state is Lifecycle.RUNNING and not self.disabled:
            answer = upstream.router.request(session, message, related)
        else:
            answer = self.ready(session).addCallback(_request, session, message, related)
        if session in self.owned:  # a shared child's sessions: the pool's own forward
            return self.owned.notices.told(answer, session, related)
        return answer

    def notify(self, session: Session, message: jsonrpc.Message) -> None:
        if self.owned.replaying(session):
            return  # its child has not started: its initialize is replayed to it then
        upstream = self.upstreamFor(session)
        if upstream is not None:
            upstream.router.clientNotification(session, message)

    def answer(self, session: Session, message: jsonrpc.Message) -> bool:
        upstream = self.upstreamFor(session)
        return upstream is not None and upstream.router.clientResponse(session, message)

    def childPid(self, session: Session) -> int | None:
        upstream = self.upstreamFor(session)
        return upstream.pid if upstream is not None else None

    def ownChildPids(self, session: Session) -> list[int]:
        return self.owned.ownChildPids(session)

    def restart(
        self,
        endSession: Callable[[Session], object],
        why: str,
    ) -> Deferred[list[int]]:
        """End the sessions that have children of their own (theirs stop
        with them), and stop every child; fires with the pids stopped."""
        pids = self.pids()
        self.owned.endAll(endSession)
        self.events.emit("restart", why)
        return self.stopAll().addCallback(lambda _: pids)

    def inFlightBySession(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for upstream in self.upstreams():
            counts.update(upstream.router.inFlightBySession())
        return counts

    def clientRequestsInFlight(self) -> int:
        return sum(u.router.clientRequestsInFlight() for u in self.upstreams())

    def whenDrained(self) -> Deferred[Any]:
        # Cancelled (a stop gives up on the drain), each router's wait fails
        # with CancelledError: consumed here, or it is an unhandled error.
        return DeferredList([u.router.whenDrained() for u in self.upstreams()], consumeErrors=True)

    def failAll(self, code: int, text: str) -> None:
        for upstream in self.upstreams():
            upstream.router.failAll(code, text, tellChild=True)

    # -- the children ------------------------------------------------------------

    def pids(self) -> list[int]:
        return [u.pid for u in self.upstreams() if u.pid is not None]

    def stopAll(self) -> Deferred[Any]:
        """Stop every child of this server (its suspended 2026 calls and
        listen streams end first); fires when all have exited."""
        self.endEra2026(f"server '{self.spec.name}' stopped")
        return DeferredList([u.stop() for u in self.upstreams()], consumeErrors=True)

    def stopChild(self, pid: int) -> Deferred[None] | None:
        for upstream in self.upstreams():
            if upstream.pid == pid:
                return upstream.stop()
        return None

    def sweep(self, alive: PidProbe) -> Sweep:
        """Forget the children whose process is gone though no exit was seen
        (each is made to forget its child); report them, the children of
        sessions found stopped, and the sessions left without their child
        (L{OwnedChildren.orphans})."""
        vanished = []
        for upstream in self.upstreams():
            child = upstream.child
            if (
                child is not None
                and child.pid is not None
                and not child.exited
                and not alive(child.pid)
            ):
                upstream.childVanished()
                vanished.append(upstream)
        dead, orphaned = self.owned.orphans(vanished)
        return Sweep(dead=len(vanished) + dead, orphaned=orphaned)

    # -- what it is doing (L{StatusReader}) -----------------------------------------

    def state(self) -> ServerState:
        return self.reader.state()

    def status(self, sessions: int) -> ServerStatus:
        return self.reader.status(sessions)

    def byOwner(self) -> list[tuple[str | None, Upstream]]:
        """Every child, with the id of the session it belongs to (C{None}: shared)."""
        return [(None, upstream) for upstream in self.upstreams()]

    def scopesOf(self, upstream: Upstream) -> tuple[str, ...]:
        """The route and credential keys the shared child C{upstream} serves:
        the global route's, and those its sessions came with."""
        return keysOf(upstream.router.sessions, "")

    def principalOf(self, upstream: Upstream) -> str:
        """The key of the principal whose shared child C{upstream} is (C{""}: all's)."""
        return ""

    # -- MCP 2026-07-28 clients (L{Era2026Side}) -------------------------------------

    def era2026Refusal(self) -> str | None:
        """A disabled server, or one configured C{"era2026": false}, does not
        serve them (a per-session pool neither: see its own)."""
        return self.era2026.refusal()

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        """The running child that serves C{request}'s route (and
        credentials); fails with L{ServerUnavailable
        <mcpgateway.core.upstream.ServerUnavailable>} or L{UnknownRoute
        <mcpgateway.core.pools.pool.UnknownRoute>}."""
        raise NotImplementedError

    def era2026Router(self, scope: str) -> Router | None:
        """The router of route C{scope}'s child, when it has one (no start)."""
        raise NotImplementedError

    def serveEra2026(self, request: Era2026Request, sink: Sink) -> Deferred[jsonrpc.Message]:
        return self.era2026.serveEra2026(request, sink)

    def toolTaskSupport(self, request: Era2026Request, tool: str) -> Deferred[str | None]:
        return self.era2026.toolTaskSupport(request, tool)

    def describe(self, request: Era2026Request) -> Deferred[dict[str, Any]]:
        return self.era2026.describe(request)

    def listen(
        self, request: Era2026Request, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        return self.era2026.listen(request, wanted, sink)

    def paramHeaders(self, scope: str, tool: str) -> dict[str, str] | None:
        return self.era2026.paramHeaders(scope, tool)

    def era2026Stats(self) -> Era2026Stats:
        return self.era2026.stats()

    # -- start-ups answered from the saved catalog (a shared pool's) ----------------

    def servedFromCatalog(self) -> bool:
        """Whether sessions answered from a catalog wait for their child
        (a shared pool's: since its child last ran)."""
        return self.scopeStartup.serving()

    def catalogCounts(self) -> CatalogCounts:
        """What it answered from a catalog."""
        return self.scopeStartup.counts

    def startsOnCall(self) -> bool:
        return False

    def endEra2026(self, reason: str) -> None:
        self.era2026.end(reason)


def _request(
    upstream: Upstream, session: Session, message: jsonrpc.Message, related: Sink | None
) -> Deferred[jsonrpc.Message]:
    return upstream.router.request(session, message, related)
