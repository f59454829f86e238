# -*- test-case-name: tests.core.pools.test_pool -*-
"""The children of one configured server: the L{ServerPool}.

One class serves every kind of server; how its children are shared is its
I{placement} (L{mcpgateway.core.pools.placement}), a strategy chosen once
by L{mcpgateway.core.pools.factory.makePool}:

 - shared (L{mcpgateway.core.pools.shared.SharedPlacement}): one child for
   every session;
 - per session (L{mcpgateway.core.pools.placement.SessionPlacement}): every
   session has a child of its own;
 - keyed by workspace, credential or user
   (L{mcpgateway.core.pools.keyedplacement.KeyedPlacement}): a child per child key.

The placement answers which child serves a session and under which key,
and holds its own map (the shared child; the children by key and the
sessions bound to them). The sessions that own a child (a per-session
server's, and a promoted server's new sessions) are the pool's
L{OwnedChildren}, whatever the placement: the pool asks them first, then
the placement. What only one kind of placement does the pool reaches
through that placement's part, read once (L{Placement}'s C{attached},
C{keyed}, C{single}; C{None} on the other kinds): a per-session server
has no sessions attached to a child of the placement, so the pool gives
every session its own; only a keyed placement answers its sessions from
their route's catalog, times each child by its route and stops the idle
ones; only a shared one answers start-ups from the server's saved catalog
and is idle or pinged. So a client request is: a session answered from its
scope's catalog (L{ScopeStartup}) waits for its child; a session on a
running child of the placement is forwarded at once (the hot path: one
placement lookup); else the saved catalog answers it, or a promoted
server moves it to a child of its own, or its child is made ready first.

Every collaborator is given what it needs as values and callables, never
the pool: the L{PoolLauncher} (what children start with, after an
C{npx}/C{uvx} resolution), the L{ChildMaker} (upstreams made and wired),
the L{PoolPromotion}, the L{OwnedChildren}, the L{LostChildNotices}, and the
placement (a L{Kit}), and the L{Era2026Side}, made at the first 2026
request, which its callers reach as the pool's C{era2026}. None reads
another's maps: each answers through its methods. What still sees the
pool itself is what knows pools by identity: the catalogs
(L{ScopeStartup}, the shared placement's catalog start-up, the tool gate)
and the renderers' L{StatusReader}, which read its public interface
(L{mcpgateway.core.pools.pool.PoolLike}).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, fail, maybeDeferred, succeed
from twisted.logger import Logger

from mcpgateway.core.catalogdata import Catalog
from mcpgateway.core.era2026.waits import BridgeWaits
from mcpgateway.core.eventlog import EventLog
from mcpgateway.core.exchange import Sink
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pools.childmaker import ChildMaker
from mcpgateway.core.pools.lostchild import LostChildNotices
from mcpgateway.core.pools.owned import LAZY_START, OwnedChildren
from mcpgateway.core.pools.placement import Kit, Placement, perSessionRefusal
from mcpgateway.core.pools.pool import (
    NO_SCOPES,
    CatalogSource,
    ChildListener,
    Idle,
    PidProbe,
    PromotionSink,
    Resolver,
    ScopesRefreshed,
    Sweep,
    TaskSupport,
    clientVariant,
    configuredRefusal,
    disabledError,
    launchEnvOf,
    promotedAtStart,
    variantsOf,
)
from mcpgateway.core.pools.poollauncher import PoolLauncher
from mcpgateway.core.pools.promotion import PoolPromotion
from mcpgateway.core.pools.scopecatalog import (
    ScopeCatalog,
    ScopeStartup,
    probeOwnChild,
    routeKey,
    scopeKey,
)
from mcpgateway.core.pools.scoperefresh import refreshRoutes, refreshSession
from mcpgateway.core.pools.snapshot import CapacityCounts, ChildRow, StatusReader
from mcpgateway.core.sessions import Session, SessionLike
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec, Sharing, Variant
from mcpgateway.core.stats import RequestStats
from mcpgateway.core.status import (
    CatalogCounts,
    Era2026Stats,
    Lifecycle,
    Resolution,
    ServerStatus,
)
from mcpgateway.core.toolgate import PinnedTools
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    # The 2026-07-28 side loads on the pool's first 2026 request (L{ServerPool.era2026}).
    from mcpgateway.core.pools.era2026side import Era2026Side

__all__ = ["PlacementOf", "ServerPool"]

PlacementOf = Callable[[Kit], Placement]
"""Makes a pool's placement from what the pool gives it."""


class ServerPool:
    """The children of one configured server (see the module docstring).

    @ivar placement: which of its own children serves a session.
    @ivar owned: the children each of one session (every pool may have
        some: a per-session server's, and a promoted server's new sessions).
    """

    log = Logger(observer=logs.observer)
    clientAlive: PidProbe | None = None
    """Whether a session's client process still runs, asked when a shared
    child asks something of a client: a session whose client exited does
    not count as attached to it (L{mcpgateway.core.router.Router.clientSessions});
    C{None}: every attached session counts."""
    toolPins: PinnedTools | None = None
    """The gateway's pinned tools (L{PoolLike.toolPins})."""
    sessionServed: Callable[[SessionLike], object] | None = None
    """Told the first time a session's request reaches one of its children
    (the gateway's sessions save it: L{mcpgateway.core.sessions.SessionRegistry.served};
    C{None}: nobody is)."""
    taskSupport: TaskSupport | None = None
    """Reads from a child's C{InitializeResult} whether it serves
    task-augmented C{tools/call} itself (L{childTasks}); C{None}: no child
    is asked to, the gateway makes every such task."""
    catalogSource: CatalogSource | None = None
    """The saved catalogs a shared pool answers a client's start-up from
    while its child does not run (L{mcpgateway.core.pools.fromcatalog});
    C{None}: its child starts at the first session's C{initialize}."""

    def __init__(
        self,
        spec: ServerSpec,
        spawner: Spawner,
        placement: PlacementOf,
        healing: HealingPolicy | None = None,
        promotions: PromotionSink | None = None,
        limits: BridgeWaits | None = None,
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
        stats, created = RequestStats(), clock.seconds()
        self.events = EventLog(clock)
        self.resolution: Resolution | None = None
        """Where the resolution of an C{npx}/C{uvx} command to its real
        binary is (C{None} for other servers)."""
        self.disabled = spec.disabled
        """Set through the management API: requests are refused, children stopped."""
        self.namesDecided = False
        """Whether a call's name is decided before the call (L{PoolLike.namesDecided})."""
        self._ownEach = promotedAtStart(self.spec)
        """Promoted (in this process, or an earlier one): each new session
        gets an owned child."""
        self.limitCounts = CapacityCounts()
        """What its C{maxChildren} bound counted (a keyed placement's)."""
        specNow, disabledNow = (lambda: self.spec), (lambda: self.disabled)
        self.launcher = PoolLauncher(specNow, lambda: self.launchSpec, self._useLaunchSpec, clock)
        self.promotion = PoolPromotion(
            specNow, self.ownsChildren, self.events, promotions, self._eachSession
        )
        self.maker = ChildMaker(
            self,
            spawner,
            self.breaker,
            stats,
            self.events,
            self.promotion.ambiguous,
            self.upstreams,
            self._childPrincipal,
        )
        self._reader = StatusReader(
            self, clock, self.breaker, stats, self.limitCounts, spawner.remotes, created
        )
        self.notices = LostChildNotices(spec.name)
        """The sessions to be told, with their next answer, that their child is new."""
        self.owned = OwnedChildren(specNow, disabledNow, self.maker, self.launcher, self.notices)
        self.scopeStartup = ScopeStartup(self, clock)
        """Answers the start-ups of sessions whose child is their own (or a
        route's) from the catalog of their scope (L{mcpgateway.core.pools.scopecatalog})."""
        self.placement: Placement = placement(
            Kit(
                spec=specNow,
                launchSpec=lambda: self.launchSpec,
                routes=lambda: self.routes,
                disabled=disabledNow,
                ownsEach=self.ownsChildren,
                maker=self.maker,
                launcher=self.launcher,
                scopeStartup=self.scopeStartup,
                notices=self.notices,
                limitCounts=self.limitCounts,
                events=self.events,
                clock=clock,
                catalogHost=self,
            )
        )
        self._bridgeWaits = limits if limits is not None else BridgeWaits()
        """How its 2026 calls wait for their clients' input (its L{era2026}'s bridge)."""
        self._era2026: Era2026Side | None = None
        """Its 2026-07-28 side, once a 2026 request needed it (L{era2026})."""
        placed = self.placement
        self._attached, self._keyed, self._single = placed.attached, placed.keyed, placed.single
        """Its placement's parts, read once (L{Placement}): no sessions
        attached to its children (every session has a child of its own
        whatever happens: a per-session server; a server promoted before
        this process has them: its 2026 requests have the shared child),
        no children by route key, no one child for all are each C{None}."""
        self._startup = None if placed.single is None else placed.single.startup
        """What answers its sessions' start-ups from the server's saved
        catalog while its one child does not run (C{None}: nothing does)."""

    # -- which child serves a session ---------------------------------------------

    @property
    def perLaunch(self) -> bool:
        """Whether it keeps a child per launch spec (a keyed placement: any
        other serves each of its routes as the key-less one)."""
        return self._keyed is not None

    def upstreams(self) -> list[Upstream]:
        """Every child of the pool: its placement's, and the sessions' own."""
        return self.placement.children() + self.owned.upstreams()

    def upstreamFor(self, session: Session) -> Upstream | None:
        """The upstream serving C{session} (C{None} after it was closed)."""
        if self.owned:
            own = self.owned.child(session)
            if own is not None:
                return own
        return self.placement.childOf(session)

    def ready(self, session: Session) -> Deferred[Upstream]:
        """The session's upstream, with a running child (a shared one is
        started again if it died).

        @raise SessionGone: the session's own child is gone.
        """
        attached = self._attached
        if attached is None or session in self.owned:
            return self.owned.ready(session)
        return attached.ready(session)

    def gone(self, session: Session) -> str | None:
        attached = self._attached
        if attached is None or session in self.owned:
            return self.owned.gone(session)
        return attached.gone(session)

    def untime(self, session: Session, clientId: Any) -> bool:
        """Lift the request timeout of C{session}'s request C{clientId} in
        flight (a call the gateway made a task of); whether it was found."""
        upstream = self.upstreamFor(session)
        return upstream is not None and upstream.router.holdRequest(session, clientId)

    def childTasks(self, session: Session) -> Deferred[bool]:
        """Whether the session's child serves 2025-11-25 task-augmented
        C{tools/call} itself (its C{initialize} result says so, as
        L{taskSupport} reads it: the saved catalog's while a shared child
        does not run, the gateway's own for a shared child, the session's
        for a child of its own)."""
        reads = self.taskSupport
        startup = self._startup
        if startup is not None and session not in self.owned:
            known = startup.initializeFor(session)
            if known is not None:  # the saved catalog's: its capabilities are the child's
                return succeed(reads is not None and reads(known))
        known = self.scopeStartup.initializeFor(session)
        if known is not None:  # answered from its scope's catalog: its child has not started
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

    def _childPrincipal(self, upstream: Upstream) -> str:
        """The key of the principal whose child C{upstream} is (C{""}: anyone's)."""
        principal = self.owned.principalOf(upstream)
        if principal is not None:
            return principal
        attached = self._attached
        return "" if attached is None else attached.principalOf(upstream)

    # -- promotion -------------------------------------------------------------------

    @property
    def promoted(self) -> str | None:
        """Why new sessions get a child of their own, or C{None}."""
        return self.promotion.promoted

    def _eachSession(self) -> None:
        """Promoted to C{session} now: each new session gets a child of its own."""
        self._ownEach = True

    def ownsChildren(self) -> bool:
        return self._attached is None or self.spec.sharing is Sharing.SESSION or self._ownEach

    # -- sessions ------------------------------------------------------------------

    def open(self, session: Session, initialize: jsonrpc.Message) -> Deferred[jsonrpc.Message]:
        """A session with a child of its own gets it (L{_openOwned}); any
        other is answered by its placement."""
        if self.disabled:
            return fail(disabledError(self.spec.name))
        attached = self._attached
        if attached is None or self.ownsChildren():
            return self._openOwned(session, initialize)
        return attached.open(session, initialize)

    def restore(self, session: Session) -> None:
        """A server whose sessions own their children (per session, or
        promoted before this process) gives C{session} one (its
        C{initialize} replayed on its next request); else its placement
        attaches it."""
        attached = self._attached
        if attached is None or promotedAtStart(self.spec):
            self.owned.restore(session)
        else:
            attached.restore(session)

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session}; its own child stops, a placement's stays for the others."""
        self.scopeStartup.forget(session)
        startup = self._startup
        if startup is not None:
            startup.forget(session)
        self.notices.forget(session)
        attached = self._attached
        if attached is None or session in self.owned:
            return self.owned.close(session, reason)
        return attached.close(session, reason)

    # -- sessions with a child of their own, started at their first call -------------

    def _openOwned(
        self, session: Session, initialize: jsonrpc.Message
    ) -> Deferred[jsonrpc.Message]:
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
            routeKey(self, session.variant, session.principal),
        )

    def refreshScopes(
        self, listed: Catalog | None, principals: bool, timeout: float
    ) -> Deferred[ScopesRefreshed]:
        """Keep the catalog of each of its routes for C{mcpgateway catalog
        refresh} (L{mcpgateway.core.pools.scoperefresh}); nothing for a
        server whose start-ups its own catalog answers."""
        own, keyed = self.ownsChildren(), self._keyed
        if not own and keyed is None:
            return succeed(NO_SCOPES)
        clock, owned = self._clock, self.owned

        def probe(variant: Variant, key: str) -> Deferred[ScopeCatalog] | None:
            if not own and keyed is not None:
                return keyed.probeRoute(variant, key)
            session = refreshSession(variant, self.spec.name, clock.seconds())
            return probeOwnChild(owned, self.spec, session, key, clock, self.log)

        startup = self.scopeStartup
        return refreshRoutes(startup, self, self.routes, probe, listed, principals, clock, timeout)

    def _forwardOwned(
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

    # -- client traffic --------------------------------------------------------

    def forward(
        self,
        session: Session,
        message: jsonrpc.Message,
        related: Sink | None,
    ) -> Deferred[jsonrpc.Message]:
        """Send C{message} to the session's child; a session restored on a
        shared child a restart did not keep is told with its answer that
        its child is new (L{LostChildNotices})."""
        notices = self.notices
        if notices and session in notices and session not in self.owned:
            answer = self._forward(session, message, related).addCallback(self._kept, session)
            return notices.told(answer, session, related)
        return self._forward(session, message, related)

    def _kept(self, answer: jsonrpc.Message, session: Session) -> jsonrpc.Message:
        """A restored C{session}'s answer came: nothing to tell it if its
        child is one a restart kept (with its memory)."""
        upstream = self.placement.childOf(session)
        if upstream is not None and upstream.adopted:
            self.notices.forget(session)
        return answer

    def _forward(
        self,
        session: Session,
        message: jsonrpc.Message,
        related: Sink | None,
    ) -> Deferred[jsonrpc.Message]:
        owned, placement = self.owned, self.placement
        if not self._ownEach and not self.disabled:
            upstream = placement.childOf(session)
            if (
                upstream is not None
                and upstream.state is Lifecycle.RUNNING
                # A keyed child started for another (a prewarm, a 2026 client)
                # still ends the catalog's answers to its sessions first.
                and not (self._keyed is not None and self.scopeStartup.pending(session))
            ):
                return upstream.router.request(session, message, related)  # the hot path
        keyed = self._keyed
        if self.scopeStartup.pending(session):
            if keyed is not None and session not in owned:
                return keyed.forwardPending(session, message, related)
            return self._forwardOwned(session, message, related)
        if not self._ownEach:
            startup = self._startup
            known = None if startup is None else startup.answer(session, message)
            if known is not None:
                return succeed(known)
        elif session not in owned:
            upstream = placement.childOf(session)
            if upstream is not None and owned.takeOver(session, upstream) and keyed is not None:
                keyed.unbind(session)
        if owned.replaying(session):
            return owned.forward(session, message, related)
        upstream = self.upstreamFor(session)
        if upstream is not None and upstream.state is Lifecycle.RUNNING and not self.disabled:
            answer = upstream.router.request(session, message, related)
        else:
            answer = self.ready(session).addCallback(_request, session, message, related)
        if session in owned:
            return self.notices.told(answer, session, related)
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

    # -- routes and reconfiguration ---------------------------------------------------

    def variantFor(
        self,
        scope: str,
        credentialKey: str = "",
        credentials: tuple[tuple[str, str], ...] = (),
        principal: str = "",
    ) -> Variant | None:
        return clientVariant(self.spec, self.routes, scope, credentialKey, credentials, principal)

    def useSpec(self, spec: ServerSpec) -> list[Session]:
        """Serve C{spec}: the placement follows it (a shared child whose
        environment changed restarts when idle, a keyed placement's
        sessions follow their routes); the sessions' own children keep
        what they were started with until their sessions end."""
        before = self.spec.requestTimeout
        env = launchEnvOf(self.launchSpec)
        self.spec, self.disabled = spec, spec.disabled
        self.routes = variantsOf(spec)
        self._retime(before)
        self.launcher.rebase()
        ended = self.placement.reconfigured(env)
        running = len(self.owned.items())
        keyless = not spec.variants or "" in self.routes
        if self._attached is None and running and keyless and launchEnvOf(self.launchSpec) != env:
            self.log.info(
                "server {server}: its environment changed; the {count} session(s) open keep"
                " their own child as it is until they end, new sessions get the new one",
                server=spec.name,
                count=running,
            )
        return ended

    def _retime(self, before: float) -> None:
        """Give each running child the request timeout of the spec served
        now, its requests in flight included (a reload): a child that had
        the server's (C{before}) has the server's new one; a child of a
        route with its own keeps it (a reload that changed nothing must
        change no child), as its keyed placement says."""
        keyed = self._keyed
        for upstream in self.upstreams():
            router = upstream.router
            timeout = None if keyed is None else keyed.requestTimeoutOf(upstream)
            if timeout is None:
                timeout = self.spec.requestTimeout if router.timeout == before else router.timeout
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
        """Its keyed placement's children idle past their timeout are
        stopped; any other placement's one child is stopped by the gateway
        when L{idle} says so, a session's own with its session."""
        keyed = self._keyed
        return [] if keyed is None else keyed.expire(now)

    # -- starting children ---------------------------------------------------

    def prewarm(self) -> Deferred[None]:
        """Its placement starts what its attached sessions want first; a
        session's own child starts when its session asks."""
        attached = self._attached
        return succeed(None) if attached is None else attached.prewarm()

    def startsOnCall(self) -> bool:
        """Its shared placement's catalog start-up says (L{CatalogStartup.startsOnCall
        <mcpgateway.core.pools.fromcatalog.CatalogStartup.startsOnCall>}); no
        other placement's sessions are answered from the server's catalog."""
        startup = self._startup
        return startup is not None and startup.startsOnCall()

    def resetCircuit(self) -> None:
        self.breaker.reset()
        for upstream in self.upstreams():
            upstream.resetBackoff()

    def launchAfter(
        self, resolving: Deferred[ServerSpec], what: str, resolve: Resolver | None = None
    ) -> None:
        """Start no child until C{resolving} fires (L{PoolLauncher.after})."""
        self.launcher.after(resolving, what, resolve)

    def _useLaunchSpec(self, spec: ServerSpec) -> None:
        """Start children with C{spec} from the next spawn on; running ones
        are left alone."""
        self.launchSpec = spec
        self.placement.useLaunchSpec(spec, self.owned.upstreams())

    # -- the children ------------------------------------------------------------

    def pids(self) -> list[int]:
        return [u.pid for u in self.upstreams() if u.pid is not None]

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
        stopping = self.stopAll().addCallback(lambda _: pids)
        if self._keyed is not None:
            self._keyed.restarted()
        return stopping

    def stopAll(self) -> Deferred[Any]:
        """Stop every child of this server (its suspended 2026 calls and
        listen streams end first); fires when all have exited."""
        self.endEra2026(f"server '{self.spec.name}' stopped")
        return DeferredList([u.stop() for u in self.upstreams()], consumeErrors=True)

    def stopChild(self, pid: int, why: str = "") -> Deferred[None] | None:
        for upstream in self.upstreams():
            if upstream.pid == pid:
                return upstream.stop(why=why)
        return None

    def stopShared(self, why: str = "") -> Deferred[None]:
        return self.placement.stopShared(why)

    def idle(self, now: float) -> Idle | None:
        """How idle its one child for all is (C{None}: it has none: a keyed
        placement stops each idle child itself, L{expire})."""
        single = self._single
        return None if single is None else single.idle(now)

    def healthPing(self) -> None:
        """Ping its one child for all (a keyed placement's idle children
        are stopped, not pinged; a session's own is never pinged)."""
        if self._single is not None:
            self._single.healthPing()

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

    def status(self, sessions: int) -> ServerStatus:
        return self._reader.status(sessions)

    def childRows(self) -> list[ChildRow]:
        """Every child: its placement's, with the keys and principal each
        serves, then the sessions' own, with the id of their session."""
        attached = self._attached
        rows = (
            []
            if attached is None
            else [
                ChildRow(
                    upstream, None, attached.scopesOf(upstream), attached.principalOf(upstream)
                )
                for upstream in self.placement.children()
            ]
        )
        return rows + [ChildRow(upstream, owner) for owner, upstream in self.owned.items()]

    # -- MCP 2026-07-28 clients (L{Era2026Side}) -------------------------------------

    @property
    def era2026(self) -> Era2026Side:
        """Its 2026-07-28 side: its 2026 calls and listen streams, made (and
        its modules imported) when a 2026 request first needs it, so that a
        gateway whose clients are all 2025-era loads none of them."""
        side = self._era2026
        if side is None:
            from mcpgateway.core.era2026.mrtr import InputBridge
            from mcpgateway.core.pools.era2026side import Era2026Side

            waits = self._bridgeWaits
            bridge = InputBridge(
                self.spec.name,
                self._clock,
                ttl=waits.inputTimeout,
                maxSuspended=waits.maxSuspended,
            )
            startup = self._startup
            side = self._era2026 = Era2026Side(
                lambda: self.spec,
                lambda: self.routes,
                self.era2026Refusal,
                self.placement,
                self._keyed is not None,
                bridge,
                None if startup is None else startup.serveEra2026,
            )
        return side

    def era2026Refusal(self) -> str | None:
        """A per-session server never serves them (L{perSessionRefusal});
        a disabled server, or one configured C{"era2026": false}, does not."""
        if self._attached is None:
            return perSessionRefusal(self.spec.name)
        return configuredRefusal(self.spec, self.disabled)

    def era2026Stats(self) -> Era2026Stats:
        """Its side's counters; all zero while it has none (not made to say so)."""
        side = self._era2026
        return Era2026Stats() if side is None else side.stats()

    def endEra2026(self, reason: str) -> None:
        """Its side's calls and listen streams end; none while it has none."""
        side = self._era2026
        if side is not None:
            side.end(reason)

    # -- start-ups answered from a saved catalog --------------------------------------

    def servedFromCatalog(self) -> bool:
        """Whether sessions answered from a catalog wait for their child."""
        startup = self._startup
        return (startup is not None and startup.serving()) or self.scopeStartup.serving()

    def catalogCounts(self) -> CatalogCounts:
        """What it answered from a catalog."""
        startup, owned = self._startup, self.scopeStartup.counts
        if startup is None:
            return owned
        shared = startup.counts
        return CatalogCounts(shared.startups + owned.startups, shared.answers + owned.answers)


def _request(
    upstream: Upstream, session: Session, message: jsonrpc.Message, related: Sink | None
) -> Deferred[jsonrpc.Message]:
    return upstream.router.request(session, message, related)
