# -*- test-case-name: tests.core.pools.test_pool -*-
"""What every kind of pool does the same way: L{BasePool}.

The launch spec and a pending C{npx}/C{uvx} resolution, the breaker, the
request statistics, the event log, the promotion of a shared server whose
child asked a client something no session could be proven to have caused,
and the server's state and its snapshot
(L{mcpgateway.core.status.ServerStatus}), which every renderer reads. Its
MCP 2026-07-28 half is L{mcpgateway.core.pools.era2026side.Era2026Side}.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, TypeVar, cast

from twisted.internet.defer import Deferred, DeferredList, maybeDeferred, succeed
from twisted.logger import Logger

from mcpgateway.core.era2026.listen import Listener
from mcpgateway.core.era2026.mrtr import BridgeLimits, InputBridge
from mcpgateway.core.events import EventLog
from mcpgateway.core.exchange import Sink
from mcpgateway.core.healing import HealingPolicy, circuitReason
from mcpgateway.core.pools.era2026side import Era2026Side
from mcpgateway.core.pools.owned import OwnedChildren
from mcpgateway.core.pools.pool import (
    GLOBAL_CHILD,
    ChildListener,
    PidProbe,
    PromotionSink,
    Resolver,
    ServerPool,
    programOf,
    variantsOf,
)
from mcpgateway.core.router import Fanout, Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.spawn import Spawner, notFound
from mcpgateway.core.spec import ServerSpec, Sharing, Variant
from mcpgateway.core.stats import RequestStats
from mcpgateway.core.status import (
    ChildStatus,
    Circuit,
    Lifecycle,
    RequestSnapshot,
    Resolution,
    ServerState,
    ServerStatus,
)
from mcpgateway.core.tasks.legacy import speaksTasks
from mcpgateway.core.toolgate import PinnedTools, ToolGate
from mcpgateway.core.upstream import GATEWAY_CAPABILITIES, ServerUnavailable, Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

T = TypeVar("T")


class BasePool(Era2026Side):
    """What every kind of pool does the same way."""

    log = Logger(observer=logs.observer)
    owned: OwnedChildren
    """The children each of one session (every kind of pool may have some:
    a per-session server's, and a promoted server's new sessions)."""
    perLaunch = False
    """Whether it keeps a child per launch spec (only a scoped pool does:
    any other serves each of its routes as the key-less one)."""
    clientAlive: PidProbe | None = None
    """Whether a session's client process still runs (L{ServerPool.clientAlive})."""
    toolPins: PinnedTools | None = None
    """The gateway's pinned tools (L{ServerPool.toolPins})."""

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
        self._launchBase = spec
        """The spec L{launchSpec} was made from (L{_rebase})."""
        self._spawner = spawner
        self._clock = clock
        self.breaker = (healing if healing is not None else HealingPolicy()).breaker(clock)
        self.stats = RequestStats()
        self.created = clock.seconds()
        self.events = EventLog(clock)
        self._resolving: Deferred[ServerSpec] | None = None
        self._resolvingWhat = ""
        self._launchWaiters: list[Deferred[None]] = []
        self.resolution: Resolution | None = None
        """Where the resolution of an C{npx}/C{uvx} command to its real
        binary is (C{None} for other servers)."""
        self.disabled = spec.disabled
        """Set through the management API: requests are refused, children stopped."""
        self._promotions = promotions
        self.promoted: str | None = spec.promoted
        """Why new sessions get a child of their own, or C{None}."""
        self._ownEach = False
        """Promoted in this process: each new session gets an owned child."""
        self._workspaceEach = False
        """Promoted to C{workspace} in this process: the reload that follows
        gives each workspace route a child of its own."""
        self._pinnedSaid = False
        self._variants = variantsOf(spec)
        self._resolveLaunch: Resolver | None = None
        self._launches: dict[str, ServerSpec] = {}
        """Resolved launch specs of the routes' children, by child key."""
        self.waits = 0
        """Requests that found the pool full with nothing idle (scoped pools)."""
        self.waitTimeouts = 0
        self.evictions = 0
        limits = limits if limits is not None else BridgeLimits()
        self.bridge = InputBridge(
            spec.name, clock, ttl=limits.inputTimeout, maxSuspended=limits.maxSuspended
        )
        """The modern calls on its children (their suspended rounds)."""
        self.listeners: set[Listener] = set()
        """The open listen streams on its children."""
        self.modernRequests = 0
        self.childListener: ChildListener | None = None
        """Told when a child is ready and when its lists change (L{watchChildren})."""

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
        C{tools/call} itself (its C{initialize} result says so)."""
        return maybeDeferred(self.ready, session).addCallback(
            lambda upstream: speaksTasks(upstream.initializeResult)
        )

    def _newUpstream(self, fanout: Fanout, spec: ServerSpec | None = None) -> Upstream:
        upstream = Upstream(
            self.launchSpec if spec is None else spec,
            self._spawner,
            fanout,
            self.breaker,
            self.stats,
            self.events,
            onReady=self._childReady,
        )
        router = upstream.router
        router.onAmbiguous = lambda method, sessions: self._ambiguous(method, sessions, router)
        upstream.router.onList = lambda method: self._childListChanged(upstream, method)
        upstream.router.clientAlive = self._clientRuns
        upstream.router.tools = ToolGate(self, _listedTo(weakref.ref(upstream)))
        return upstream

    def _clientRuns(self, pid: int) -> bool:
        """L{clientAlive}, as it is when asked (C{True}: not known)."""
        probe = self.clientAlive
        return True if probe is None else probe(pid)

    # -- who hears of the children (the catalogs) -----------------------------------

    def watchChildren(self, listener: ChildListener | None) -> None:
        self.childListener = listener

    def _childReady(self, upstream: Upstream) -> None:
        listener = self.childListener
        if listener is not None:
            listener.childReady(cast(ServerPool, self), upstream, self._childPrincipal(upstream))

    def _childListChanged(self, upstream: Upstream, method: str) -> None:
        listener = self.childListener
        if listener is not None and upstream in self.upstreams():
            principal = self._childPrincipal(upstream)
            listener.childListChanged(cast(ServerPool, self), upstream, principal, method)

    def _childPrincipal(self, upstream: Upstream) -> str:
        """The key of the principal whose child C{upstream} is (C{""}: anyone's)."""
        owned = getattr(self, "owned", None)
        if owned:
            for sessionId, child in owned.perSession.items():
                if child is upstream:
                    return str(getattr(owned.owners.get(sessionId), "principal", ""))
        return self._principalOf(upstream)

    def ownsChildren(self) -> bool:
        return self.spec.sharing is Sharing.SESSION or self._ownEach

    # -- routes --------------------------------------------------------------------

    def variantFor(
        self,
        scope: str,
        credentialKey: str = "",
        credentials: tuple[tuple[str, str], ...] = (),
        principal: str = "",
    ) -> Variant | None:
        variant = self._variants.get(scope)
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
        self._variants = variantsOf(spec)
        self._retime(before)
        self._rebase()
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

    def _rebase(self) -> None:
        """Start children with the spec served now (L{spec}) when it runs
        the program L{launchSpec} was made from (command, args and cwd
        alike: its env, or a timeout, changed): the spec itself, or the
        real binary its C{npx}/C{uvx} wrapper resolved to with the new
        spec's env (the binary does not depend on it). A spec that runs
        another program leaves the launch spec alone."""
        base, spec, launch = self._launchBase, self.spec, self.launchSpec
        if base is spec or programOf(base) != programOf(spec):
            return
        self._launchBase = spec
        if launch is not base:
            spec = replace(
                spec, command=launch.command, args=launch.args, executable=launch.executable
            )
        self.useLaunchSpec(spec)

    def expire(self, now: float) -> list[int]:
        return []

    def _launchOf(self, variant: Variant | None) -> Deferred[ServerSpec]:
        """What a child of C{variant} starts with: its launch spec, resolved
        to the real binary behind C{npx}/C{uvx} once per child key."""
        if variant is None or variant.childKey == GLOBAL_CHILD:
            return succeed(self.launchSpec)
        known = self._launches.get(variant.childKey)
        if known is not None:
            return succeed(known)
        if self._resolveLaunch is None:
            return succeed(variant.launch)

        def resolved(spec: ServerSpec) -> ServerSpec:
            self._launches[variant.childKey] = spec
            return spec

        return self._resolveLaunch(variant.launch).addCallback(resolved)

    # -- promotion -----------------------------------------------------------------

    def _ambiguous(self, method: str, sessions: int, router: Router | None = None) -> None:
        """A shared child (C{router}'s) asked C{method} of a client while
        C{sessions} 2025 sessions used it: the request was refused. Unless
        the server is per session already, or pinned, narrow its share to
        the widest scope that proves whose such a request is
        (L{_provingScope}), and have that kept: C{workspace} (the reload
        that follows gives each workspace route a child of its own, which
        answers C{roots/list} with its workspace), else C{session} (each new
        session gets a child of its own from now on)."""
        spec = self.spec
        if spec.sharing is Sharing.SESSION or self._ownEach or sessions < 2:
            return  # fewer than two 2025 sessions: a child per session would not help
        scope = self._provingScope(method, router)
        if scope is Sharing.WORKSPACE and self._workspaceEach:
            return  # promoted to it already: the reload brings the children
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
            f"its child sent {method} while {sessions} sessions used it,"
            " so the session it was for could not be proven"
        )
        self.promoted = why
        undo = f'classification.json {{"{spec.name}": {{"share": "{spec.mode}"}}}}'
        if scope is Sharing.WORKSPACE:
            self._workspaceEach = True
            self.log.warn(
                "server {server} promoted to share 'workspace': {why}; every session"
                " attached came through a workspace route, so each workspace gets a child"
                " of its own (running in it, answering roots/list with it), and its"
                " sessions move there at their child's next idle moment. Undo: {undo}",
                server=spec.name,
                why=why,
                undo=undo,
            )
        else:
            self._ownEach = True
            self.log.warn(
                "server {server} promoted to share 'session': {why}; each 2025 session gets"
                " a child of its own (a new one at once, one open now at its next request"
                " with nothing in flight), MCP 2026-07-28 requests stay on the shared child."
                " Undo: {undo}",
                server=spec.name,
                why=why,
                undo=undo,
            )
        self.events.emit("promoted", why)
        if self._promotions is not None:
            try:
                self._promotions.promote(spec.name, why, scope.value)
            except Exception:
                self.log.failure("server {server}: keeping its promotion failed", server=spec.name)

    def _provingScope(self, method: str, router: Router | None) -> Sharing:
        """The widest scope in which C{router}'s child would not have had to
        refuse C{method}: C{workspace} for a C{roots/list} of a global
        server when every session counted came through a workspace route
        whose entry is its project's own (not the user's, whose child it
        shares at any scope): a workspace child runs in its workspace and
        the gateway answers its C{roots/list} with it. C{session} for
        everything else: a sampling or an elicitation is a person's, and
        only a child per session proves whose."""
        if method != "roots/list" or router is None or self.spec.sharing is not Sharing.GLOBAL:
            return Sharing.SESSION
        keyless = self._variants.get("")
        users = keyless.childKey if keyless is not None else None
        for session in router.clientSessions():
            variant = self._variants.get(getattr(session, "scope", ""))
            if variant is None or not variant.key or variant.childKey.split("/")[0] == users:
                return Sharing.SESSION
        return Sharing.WORKSPACE

    def _disabled(self) -> ServerUnavailable:
        return ServerUnavailable(f"server '{self.spec.name}' is disabled")

    def _sessionGone(self) -> str:
        return f"the child of server '{self.spec.name}' for this session is gone"

    # -- starting children ---------------------------------------------------

    def resetCircuit(self) -> None:
        self.breaker.reset()
        for upstream in self.upstreams():
            upstream.resetBackoff()

    def launchAfter(
        self, resolving: Deferred[ServerSpec], what: str, resolve: Resolver | None = None
    ) -> None:
        """Start no child until C{resolving} (the real binary behind an
        C{npx}/C{uvx} command, described by C{what}) fires; then start
        children with its result (the other routes' children with what
        C{resolve} makes of their launch, once per child key). Requests wait
        for it at most their timeout."""
        self._resolveLaunch = resolve
        self._resolving = resolving
        self._resolvingWhat = what
        base = self.spec

        def done(spec: ServerSpec) -> None:
            self._resolving = None
            self._launchBase = base
            self.useLaunchSpec(spec)
            self._rebase()  # its env changed meanwhile: the new one
            waiters, self._launchWaiters = self._launchWaiters, []
            for waiter in waiters:
                waiter.callback(None)

        resolving.addCallback(done)

    def _whenLaunchable(self, start: Callable[[], Deferred[T]]) -> Deferred[T]:
        """C{start()} now, or once a pending resolution has finished; fails
        with L{ServerUnavailable} if that takes longer than the server's
        request timeout (the resolution goes on for later requests)."""
        if self._resolving is None:
            return start()
        waiter: Deferred[None] = Deferred()
        self._launchWaiters.append(waiter)
        timeout = self.spec.requestTimeout
        timer = self._clock.callLater(timeout, self._launchTimedOut, waiter, timeout)

        def launch(_: None) -> Deferred[T]:
            if timer.active():
                timer.cancel()
            return start()

        return waiter.addCallback(launch)

    def _launchTimedOut(self, waiter: Deferred[None], timeout: float) -> None:
        if waiter in self._launchWaiters:
            self._launchWaiters.remove(waiter)
            self.log.warn(
                "server {server}: a request waited {timeout:g} s for {what}; answered"
                " with an error",
                server=self.spec.name,
                timeout=timeout,
                what=self._resolvingWhat,
            )
            waiter.errback(
                ServerUnavailable(
                    f"server '{self.spec.name}' is not ready: still waiting for"
                    f" {self._resolvingWhat} after {timeout:g} s; try again shortly"
                    " (`mcpgateway doctor` shows progress)"
                )
            )

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
            return upstream.router.request(session, message, related)
        return self.ready(session).addCallback(_request, session, message, related)

    def notify(self, session: Session, message: jsonrpc.Message) -> None:
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
        """Stop every child of this server (its suspended modern calls and
        listen streams end first); fires when all have exited."""
        self.endEra2026(f"server '{self.spec.name}' stopped")
        return DeferredList([u.stop() for u in self.upstreams()], consumeErrors=True)

    def stopChild(self, pid: int) -> Deferred[None] | None:
        for upstream in self.upstreams():
            if upstream.pid == pid:
                return upstream.stop()
        return None

    def _vanished(self, alive: PidProbe) -> list[Upstream]:
        """The upstreams whose child process is gone though no exit was
        seen; each is made to forget its child."""
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
        return vanished

    # -- what it is doing ----------------------------------------------------------

    def _byOwner(self) -> list[tuple[str | None, Upstream]]:
        """Every child, with the id of the session it belongs to (C{None}: shared)."""
        return [(None, upstream) for upstream in self.upstreams()]

    def state(self) -> ServerState:
        return self._state(self.breaker.state)

    def _state(self, circuit: Circuit) -> ServerState:
        """The server's state, its circuit being C{circuit} (see
        docs/operations.md for what moves a server between them)."""
        if self.disabled:
            return ServerState.DISABLED
        if not self.launchSpec.runnable or circuit is Circuit.OPEN:
            return ServerState.ERROR
        lifecycles = {u.state for u in self.upstreams()}
        if Lifecycle.RESTARTING in lifecycles:
            return ServerState.RESTARTING
        if Lifecycle.RUNNING in lifecycles:
            return ServerState.DEGRADED if self.breaker.recentFailures() else ServerState.RUNNING
        if Lifecycle.STARTING in lifecycles:
            return ServerState.STARTING
        return ServerState.STOPPED

    def status(self, sessions: int) -> ServerStatus:
        spec, launch, stats = self.spec, self.launchSpec, self.stats
        circuit = self.breaker.state
        error = None
        if circuit is Circuit.OPEN:
            error = circuitReason(launch.name, self.breaker)
        if not launch.runnable:
            # Not the served spec's: an npx/uvx wrapper missing from PATH may
            # have been resolved to the program it runs (which then works).
            error = f"command '{spec.command}' {notFound(spec.command)}"
        return ServerStatus(
            name=spec.name,
            sharing=spec.sharing,
            state=self._state(circuit),
            circuit=circuit,
            children=tuple(
                _childStatus(
                    owner,
                    u,
                    () if owner is not None else self._scopesOf(u),
                    "" if owner is not None else self._principalOf(u),
                )
                for owner, u in self._byOwner()
            ),
            sessions=sessions,
            requests=RequestSnapshot(
                requests=dict(stats.requests),
                count=stats.count,
                sum=stats.sum,
                bucketCounts=tuple(stats.bucketCounts),
                lateReplies=stats.lateReplies,
                ambiguousServerRequests=stats.ambiguousServerRequests,
                bytesIn=stats.bytesIn,
                bytesOut=stats.bytesOut,
            ),
            failures=self.breaker.totalFailures,
            created=self.created,
            now=self._clock.seconds(),
            disabled=self.disabled,
            resolution=self.resolution,
            error=error,
            launch=None if launch is spec else (launch.executable or launch.command, *launch.args),
            spec=spec,
            maxChildren=spec.maxChildren,
            waits=self.waits,
            waitTimeouts=self.waitTimeouts,
            evictions=self.evictions,
            promoted=self.promoted,
            modern=self.era2026Refusal(),
            era2026Stats=self.era2026Stats(),
            login=self._loginState(),
        )

    def _loginState(self) -> str | None:
        """A remote server's login for the gateway itself (L{ServerStatus.login})."""
        if self.spec.remote is None:
            return None
        state = getattr(self._spawner.remotes, "loginState", None)
        return None if state is None else cast("str | None", state(self.spec.name))

    def _scopesOf(self, upstream: Upstream) -> tuple[str, ...]:
        """The route and credential keys the shared child C{upstream} serves:
        the global route's, and those its sessions came with."""
        return keysOf(upstream.router.sessions, "")

    def _principalOf(self, upstream: Upstream) -> str:
        """The key of the principal whose child C{upstream} is (C{""}: shared by all)."""
        return ""

    # -- MCP 2026-07-28 clients -------------------------------------------------


def keysOf(sessions: Iterable[object], *extra: str) -> tuple[str, ...]:
    keys = set(extra)
    for session in sessions:
        keys.add(getattr(session, "scope", ""))
        credential = getattr(session, "credential", "")
        if credential:
            keys.add(credential)
    return tuple(sorted(keys))


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


def _request(
    upstream: Upstream, session: Session, message: jsonrpc.Message, related: Sink | None
) -> Deferred[jsonrpc.Message]:
    return upstream.router.request(session, message, related)


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
