# -*- test-case-name: tests.core.test_pool -*-
"""Which child serves a session: the L{ServerPool} interface and its common part.

A server pool holds the children of one configured server. How they are
shared is its type, chosen once by L{makePool} from the server's
L{Sharing}: a L{mcpgateway.core.pools.shared.SharedPool} keeps one child for every
session, a L{mcpgateway.core.pools.persession.PerSessionPool} one child per session,
and a L{mcpgateway.core.pools.scoped.ScopedPool} one child per distinct launch spec
(workspace or credential scope, or a child per principal: each route of the
server is a L{mcpgateway.core.spec.Variant}, and variants with equal child
keys share a child). Routes that all share the child of the key-less route
(a project's entry that is the user's) need no more than one child: a shared
or per-session pool serves each of them as that route (L{childPerLaunch}).

A shared child that asks a client something while several sessions have
requests in flight cannot say which session asked: the request is refused,
and the pool is I{promoted} (once): from then on each new session gets a
child of its own (the sessions already open stay on the shared child), and
the L{PromotionSink} is told so the next start makes the server
session-scoped. A promotion is about 2025 sessions only: MCP 2026-07-28
requests carry their own state, and stay on the shared child, in the
process that promoted the server and after a restart alike.
Nothing outside C{core/} sees the children themselves: the web layer opens,
forwards, notifies, answers and closes through L{ServerPool}, and the
gateway and the operations jobs (reaper, monitor, management, manhole) use
its second half. L{BasePool} is what both kinds share: the launch spec and a
pending C{npx}/C{uvx} resolution, the breaker, the request statistics, the
event log, and the server's state and its snapshot
(L{mcpgateway.core.status.ServerStatus}), which every renderer reads.

MCP 2026-07-28 clients have no session: a pool serves their requests on its
shared child (or the child of the request's route) through its
L{mcpgateway.core.era2026.mrtr.InputBridge}, and their listen streams as
L{mcpgateway.core.era2026.listen.Listener}s of that child's router. A pool that
cannot serve them says why (L{ServerPool.modernRefusal}): its answers to
them are then 404/-32601, so that clients fall back to C{initialize}.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from twisted.internet.defer import CancelledError, Deferred, DeferredList, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.era2026.listen import Listener, honour
from mcpgateway.core.era2026.mrtr import BridgeLimits, InputBridge, finish
from mcpgateway.core.era2026.types import ListenFilter, ListenHandle, ModernRequest, ModernStats
from mcpgateway.core.events import EventLog
from mcpgateway.core.healing import Breaker, HealingPolicy, circuitReason
from mcpgateway.core.router import Fanout, Router, Sink
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
from mcpgateway.core.upstream import ServerUnavailable, Upstream
from mcpgateway.protocol import jsonrpc, wire2026
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.core.pools.persession import OwnedChildren

__all__ = [
    "BasePool",
    "ChildListener",
    "Idle",
    "NoSharedChild",
    "PidProbe",
    "PromotionSink",
    "ServerPool",
    "ServerUnavailable",
    "SessionGone",
    "Sweep",
    "UnknownRoute",
    "launchEnvOf",
    "makePool",
    "programOf",
]

T = TypeVar("T")
PidProbe = Callable[[int], bool]
"""Whether the process with this pid still exists."""


class SessionGone(Exception):
    """The session's own child has exited; the client must initialize again."""


class NoSharedChild(Exception):
    """The server has no shared child: each session has a child of its own."""


class UnknownRoute(Exception):
    """The server has no route with this key (no such workspace)."""


class PromotionSink(Protocol):
    """Where a promotion is kept (C{promotions.json}, through config)."""

    def promote(self, server: str, why: str) -> None:
        """Remember that C{server} must run a child per session, and why."""


class ChildListener(Protocol):
    """Who hears of a pool's children becoming ready and of their lists
    changing (the catalogs: L{mcpgateway.core.catalog.CatalogService})."""

    def childReady(self, pool: ServerPool, upstream: Upstream, principal: str) -> None:
        """C{upstream}'s child was initialized (a child of one session: its
        session's C{notifications/initialized} went to it) and can be
        listed through C{upstream.router}; C{principal}: the key of the
        principal whose child it is (C{""}: anyone's)."""

    def childListChanged(
        self, pool: ServerPool, upstream: Upstream, principal: str, method: str
    ) -> None:
        """C{upstream}'s child sent C{method}, one of
        C{notifications/{tools,prompts,resources}/list_changed}."""


Resolver = Callable[[ServerSpec], Deferred[ServerSpec]]
"""Resolves an C{npx}/C{uvx} launch spec to its real binary (never fails)."""


@dataclass(frozen=True)
class Idle:
    """How long a running shared child with nothing in flight has been idle."""

    quiet: float
    """Seconds since a client last sent it a request."""
    unused: float | None
    """Seconds since its last session left; C{None} while sessions are attached."""


@dataclass(frozen=True)
class Sweep:
    """What a reaper pass found in one pool."""

    dead: int
    """Children found gone (vanished processes, and own children that exited)."""
    orphaned: list[Session]
    """Sessions whose own child is gone: they must end."""


class ServerPool(Protocol):
    """The children of one configured server, as everything outside C{core/} sees them."""

    # -- what the web layer uses ---------------------------------------------

    spec: ServerSpec
    """The server as configured."""
    events: EventLog
    disabled: bool
    """Set through the management API: requests are refused, children stopped."""
    promoted: str | None
    """Why new sessions get a child of their own (the server was promoted), or C{None}."""
    perLaunch: bool
    """Whether it keeps a child per launch spec (a scoped pool, L{childPerLaunch})."""
    clientAlive: PidProbe | None
    """Whether a session's client process still runs, asked when a shared
    child asks something of a client: a session whose client exited does
    not count as attached to it (L{mcpgateway.core.router.Router.clientSessions});
    C{None}: every attached session counts."""

    def variantFor(
        self,
        scope: str,
        credentialKey: str = "",
        credentials: tuple[tuple[str, str], ...] = (),
        principal: str = "",
    ) -> Variant | None:
        """The launch of route C{scope} (C{""}: the global route) for a
        client that gave C{credentials} (keyed hash C{credentialKey}; only
        the names of the server's C{credentialEnv} are used), authenticated
        as the principal whose key is C{principal} (C{""}: none; a per-user
        or credential-scoped server gives each principal its own child);
        C{None}: the server has no such route."""

    def open(
        self,
        session: Session,
        initialize: jsonrpc.Message,
    ) -> Deferred[jsonrpc.Message]:
        """Attach a new session and produce the answer to its C{initialize};
        fails with L{ServerUnavailable} when no child can serve it."""

    def restore(self, session: Session) -> None:
        """Attach C{session}, restored from a previous gateway process: its
        child is (re)started and brought to where the session left it on its
        next request."""

    def ownsChildren(self) -> bool:
        """Whether a session opened now gets a child of its own (a
        session-scoped server, or one promoted in this process)."""

    def gone(self, session: Session) -> str | None:
        """Why C{session} can no longer be served (its own child is gone: the
        client must initialize again), or C{None}."""

    def forward(
        self,
        session: Session,
        message: jsonrpc.Message,
        related: Sink | None,
    ) -> Deferred[jsonrpc.Message]:
        """Send a client request to the session's child (started again first if
        a shared child died); fires with its response. Calls nothing of
        C{related} before it returns.

        @raise SessionGone: see L{gone}.
        """

    def notify(self, session: Session, message: jsonrpc.Message) -> None:
        """Pass a client notification to the session's child."""

    def answer(self, session: Session, message: jsonrpc.Message) -> bool:
        """Pass a client's answer to a request of the child; C{False} if the
        child asked no such thing of this session."""

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session}; stop its child if it had one of its own (fires
        once that has exited)."""

    def state(self) -> ServerState:
        """What the server is doing now."""

    def status(self, sessions: int) -> ServerStatus:
        """A snapshot of the server and its children; C{sessions}: how many
        sessions the gateway has open on it."""

    # -- what the gateway and the operations jobs use ------------------------

    launchSpec: ServerSpec
    """What children are started with (the real binary behind C{npx}/C{uvx})."""
    resolution: Resolution | None
    breaker: Breaker
    stats: RequestStats
    created: float

    def childPid(self, session: Session) -> int | None:
        """The pid of the child serving C{session}."""

    def ownChildPids(self, session: Session) -> list[int]:
        """The pids of the children that closing C{session} stops."""

    def inFlightBySession(self) -> Counter[str]:
        """Requests waiting for the children, by session id."""

    def pids(self) -> list[int]:
        """The pids of the running children."""

    def clientRequestsInFlight(self) -> int:
        """Client requests waiting for the children."""

    def whenDrained(self) -> Deferred[Any]:
        """Fires once no client request is waiting for a child. Cancelled,
        it fires at once and leaves no unhandled error behind."""

    def failAll(self, code: int, text: str) -> None:
        """Answer every request waiting for a child with a JSON-RPC error now,
        and cancel each on its child."""

    def prewarm(self) -> Deferred[None]:
        """Start the shared child now instead of on first use."""

    def resetCircuit(self) -> None:
        """Forget the failures: the next request starts a child at once."""

    def launchAfter(
        self, resolving: Deferred[ServerSpec], what: str, resolve: Resolver | None = None
    ) -> None:
        """Start no child until C{resolving} fires; then start children with
        its result (and the launch of each other route with what C{resolve}
        makes of it)."""

    def useLaunchSpec(self, spec: ServerSpec) -> None:
        """Start children with C{spec} from the next spawn on."""

    def useSpec(self, spec: ServerSpec) -> list[Session]:
        """Serve C{spec} (the same server, reconfigured) with the same
        children; the sessions whose route it no longer has (the caller ends
        them). A scoped child whose launch changed is restarted at its next
        idle moment; so is a shared child whose environment changed (its
        sessions carry on, on the new child). A session's own child keeps
        its environment until its session ends; new sessions get the new
        one."""

    def expire(self, now: float) -> list[int]:
        """Stop the scoped children quiet for their idle timeout; their pids."""

    def stopAll(self) -> Deferred[Any]:
        """Stop every child; fires when all have exited."""

    def stopChild(self, pid: int) -> Deferred[None] | None:
        """Stop the child with C{pid} (the next request or session starts a
        fresh one); C{None} if no child has it."""

    def restart(
        self,
        endSession: Callable[[Session], object],
        why: str,
    ) -> Deferred[list[int]]:
        """Stop every child, ending (through C{endSession}) the sessions whose
        own child it is; fires with the pids stopped. C{why} is recorded."""

    def stopShared(self) -> Deferred[None]:
        """Stop the shared child (it starts again on demand).

        @raise NoSharedChild: the server's children are per session.
        """

    def idle(self, now: float) -> Idle | None:
        """How idle the shared child is, when it runs with nothing in flight."""

    def healthPing(self) -> None:
        """Ping the running shared child with the gateway's own request (one
        ping at a time); kill it if it does not answer within the request
        timeout (the restart policy brings it back)."""

    def call(self, method: str, params: dict[str, Any]) -> Deferred[jsonrpc.Message] | None:
        """Send a request of the gateway's own to the running shared child;
        C{None} when there is none."""

    def sweep(self, alive: PidProbe) -> Sweep:
        """Forget children whose process is gone (C{alive} says so) without an
        exit event; report them and the sessions left without their child."""

    def watchChildren(self, listener: ChildListener | None) -> None:
        """Tell C{listener} (from now on, for every child, those running
        now included for their next list change) when a child is ready and
        when its lists change; C{None}: tell nobody."""

    # -- MCP 2026-07-28 clients -------------------------------------------------

    def modernRefusal(self) -> str | None:
        """Why this server does not serve 2026-07-28 clients, or C{None}."""

    def modern(self, request: ModernRequest, sink: Sink) -> Deferred[jsonrpc.Message]:
        """Serve one modern request (not a listen): fires with the finished
        answer (never fails but with C{CancelledError}, when cancelled: the
        client went away)."""

    def describe(self, request: ModernRequest) -> Deferred[dict[str, Any]]:
        """The C{InitializeResult} of the child of C{request}'s route
        (started when needed)."""

    def listen(
        self, request: ModernRequest, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        """Open a listen stream on the child of C{request}'s route; fails
        with L{ServerUnavailable} when it cannot run."""

    def paramHeaders(self, scope: str, tool: str) -> dict[str, str] | None:
        """The C{Mcp-Param-*} map of C{tool} on route C{scope}'s child, from
        its last C{tools/list} (C{None}: not known)."""

    def modernStats(self) -> ModernStats:
        """The counters of its modern traffic."""

    def endModern(self, reason: str) -> None:
        """End the suspended modern calls and the listen streams."""


def makePool(
    spec: ServerSpec,
    spawner: Spawner,
    healing: HealingPolicy | None = None,
    promotions: PromotionSink | None = None,
    limits: BridgeLimits | None = None,
    clientAlive: PidProbe | None = None,
) -> ServerPool:
    """The pool for C{spec}: the one place that looks at how it is shared.
    A session-scoped server gets a child per session; one with routes
    (variants), credentials or a child per principal (C{perUser}, the
    C{credential} scope) a child per launch spec; any other one shared
    child (@raise ValueError: an unknown scope). C{limits}: how
    long and how many modern calls may wait for their clients;
    C{clientAlive}: whether a session's client process still runs
    (L{ServerPool.clientAlive}).

    A server promoted to C{session} (C{promotions.json}) gets the shared
    pool, promoted from the start: every 2025 session gets a child of its
    own, and MCP 2026-07-28 requests keep the shared child they had before
    the promotion (as in the process that promoted it)."""
    # Each kind imported when first needed: a gateway with no scoped server
    # never loads the scoped pool (issue 19's idle footprint).
    pool: ServerPool
    if spec.sharing is Sharing.SESSION and (spec.promoted is None or childPerLaunch(spec)):
        from mcpgateway.core.pools.persession import PerSessionPool

        pool = PerSessionPool(spec, spawner, healing, promotions, limits)
    elif childPerLaunch(spec):
        from mcpgateway.core.pools.scoped import ScopedPool

        pool = ScopedPool(spec, spawner, healing, promotions, limits)
    else:
        from mcpgateway.core.pools.shared import SharedPool

        pool = SharedPool(spec, spawner, healing, promotions, limits)
    pool.clientAlive = clientAlive
    return pool


GLOBAL_CHILD = ""
"""The child key of the route a server has without variants: the spec itself."""


def childPerLaunch(spec: ServerSpec) -> bool:
    """Whether C{spec} needs a child per launch spec (a scoped pool): a
    route with a child of its own, credentials, or a child per principal.
    A server whose every route shares the child of its key-less route (the
    user's entry, and projects' entries that are the user's) does not: its
    one child serves them all."""
    if spec.credentialEnv or spec.perPrincipal:
        return True
    keyless = next((v.childKey for v in spec.variants if v.key == ""), None)
    return any(variant.childKey != keyless for variant in spec.variants)


def programOf(spec: ServerSpec) -> tuple[object, ...]:
    """What a child of C{spec} runs, its environment aside."""
    return (spec.command, spec.args, spec.cwd)


def launchEnvOf(spec: ServerSpec) -> tuple[object, ...]:
    """What a child of C{spec} gets from its environment: the env, and the
    binary its C{PATH} found."""
    return (spec.env, spec.executable)


def variantsOf(spec: ServerSpec) -> dict[str, Variant]:
    """The routes of C{spec} by key. A server without variants has the
    global route (C{""}) only: the spec itself. One with variants has the
    routes they name, and the global route only if one of them is it (a
    server defined only in projects has none: no project's server is
    reachable at a route that is not its own). A workspace route whose
    entry is the user's shares the global route's launch and child key."""
    if not spec.variants:
        return {"": Variant("", spec, GLOBAL_CHILD)}
    return {variant.key: variant for variant in spec.variants}


class BasePool:
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

    def _newUpstream(self, fanout: Fanout, spec: ServerSpec | None = None) -> Upstream:
        upstream = Upstream(
            self.launchSpec if spec is None else spec,
            self._spawner,
            fanout,
            self.breaker,
            self.stats,
            self.events,
            self._ambiguous,
            onReady=self._childReady,
        )
        upstream.router.onList = lambda method: self._childListChanged(upstream, method)
        upstream.router.clientAlive = self._clientRuns
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
        one; a child of a route with its own keeps it (review: a reload that
        changed nothing must change no child). A scoped pool's shared
        children: their routes' (L{mcpgateway.core.pools.scoped.ScopedPool})."""
        timeout = upstream.router.timeout
        return self.spec.requestTimeout if timeout == before else timeout

    def _retime(self, before: float) -> None:
        """Give each running child the request timeout of the spec served
        now, its requests in flight included (a reload: smoke R-D1);
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

    def _ambiguous(self, method: str, sessions: int) -> None:
        """A shared child asked C{method} of a client while C{sessions}
        2025 sessions used it: the request was refused. Unless the
        server is per session already, or pinned, give each new session a
        child of its own from now on, and have that kept."""
        spec = self.spec
        if spec.sharing is Sharing.SESSION or self._ownEach or sessions < 2:
            return  # fewer than two 2025 sessions: a child per session would not help
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
        self._ownEach = True
        self.promoted = why
        undo = f'classification.json {{"{spec.name}": {{"share": "{spec.mode}"}}}}'
        self.log.warn(
            "server {server} promoted to share 'session': {why}; each 2025 session gets a"
            " child of its own (a new one at once, one open now at its next request with"
            " nothing in flight), MCP 2026-07-28 requests stay on the shared child."
            " Undo: {undo}",
            server=spec.name,
            why=why,
            undo=undo,
        )
        self.events.emit("promoted", why)
        if self._promotions is not None:
            try:
                self._promotions.promote(spec.name, why)
            except Exception:
                self.log.failure("server {server}: keeping its promotion failed", server=spec.name)

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
            upstream.spec = spec

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
        self.endModern(f"server '{self.spec.name}' stopped")
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
        if self.launchSpec.executable is None or circuit is Circuit.OPEN:
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
        if launch.executable is None:
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
            modern=self.modernRefusal(),
            modernStats=self.modernStats(),
        )

    def _scopesOf(self, upstream: Upstream) -> tuple[str, ...]:
        """The route and credential keys the shared child C{upstream} serves:
        the global route's, and those its sessions came with."""
        return _keysOf(upstream.router.sessions, "")

    def _principalOf(self, upstream: Upstream) -> str:
        """The key of the principal whose child C{upstream} is (C{""}: shared by all)."""
        return ""

    # -- MCP 2026-07-28 clients -------------------------------------------------

    def modernRefusal(self) -> str | None:
        """A disabled server, or one configured C{"modern": false}, does not
        serve them (a per-session pool neither: see its own)."""
        name = self.spec.name
        if self.disabled:
            return f"server '{name}' is disabled"
        if not self.spec.modern:
            return f"server '{name}' is not served to MCP 2026-07-28 clients (\"modern\": false)"
        return None

    def cacheScope(self) -> str:
        """The C{cacheScope} of its cacheable results: C{private} when its
        children depend on the caller's credentials or identity, else
        C{public} (one route, one child, one list for everyone)."""
        return "private" if self.spec.credentialEnv or self.spec.perPrincipal else "public"

    def modernUpstream(self, request: ModernRequest) -> Deferred[Upstream]:
        """The running child that serves C{request}'s route (and
        credentials); fails with L{ServerUnavailable} or L{UnknownRoute}."""
        raise NotImplementedError

    def modernRouter(self, scope: str) -> Router | None:
        """The router of route C{scope}'s child, when it has one (no start)."""
        raise NotImplementedError

    def modern(self, request: ModernRequest, sink: Sink) -> Deferred[jsonrpc.Message]:
        self.modernRequests += 1
        refusal = self.modernRefusal()
        if refusal is not None:
            return succeed(
                jsonrpc.errorResponse(request.clientId, jsonrpc.METHOD_NOT_FOUND, refusal)
            )
        try:
            ready = self.modernUpstream(self._routed(request))
        except Exception:
            ready = fail()
        served: Deferred[jsonrpc.Message] = ready.addCallback(self._serveModern, request, sink)
        return served.addErrback(self._modernFailed, request)

    def _serveModern(
        self, upstream: Upstream, request: ModernRequest, sink: Sink
    ) -> Deferred[jsonrpc.Message]:
        initialize = upstream.initializeResult or {}
        scope = self.cacheScope()
        method = request.method
        if method == "server/discover":
            return succeed(
                jsonrpc.resultResponse(request.clientId, wire2026.discoverResult(initialize, scope))
            )
        if method not in wire2026.MODERN_METHODS or method == "subscriptions/listen":
            # Only the web's ladder brings requests here; nothing else reaches a child.
            return succeed(
                jsonrpc.errorResponse(
                    request.clientId, jsonrpc.METHOD_NOT_FOUND, f"Method not found: {method}"
                )
            )
        lacking = _lacking(method, initialize.get("capabilities"))
        if lacking is not None:
            return succeed(
                jsonrpc.errorResponse(
                    request.clientId,
                    jsonrpc.METHOD_NOT_FOUND,
                    f"Method not found: {method} (server '{self.spec.name}' does not declare"
                    f" the {lacking} capability)",
                )
            )
        info = initialize.get("serverInfo")
        serverInfo = info if isinstance(info, dict) else None
        if upstream.adapter is not None:  # the child speaks 2026-07-28 itself: passed through
            return upstream.adapter.modern(request, sink, serverInfo, scope)
        answered = self.bridge.call(upstream.router, request, sink)
        return answered.addCallback(lambda response: finish(method, response, serverInfo, scope))

    def _modernFailed(self, reason: Failure, request: ModernRequest) -> jsonrpc.Message:
        if reason.check(CancelledError):
            reason.raiseException()  # the client went away: nobody to answer
        if reason.check(ServerUnavailable, UnknownRoute, NoSharedChild):
            return jsonrpc.errorResponse(
                request.clientId, jsonrpc.SERVER_UNAVAILABLE, str(reason.value)
            )
        self.log.failure(
            "server {server}: serving a modern {method} failed",
            failure=reason,
            server=self.spec.name,
            method=logs.clientText(request.method),
        )
        return jsonrpc.errorResponse(
            request.clientId, jsonrpc.INTERNAL_ERROR, "the gateway failed to serve this request"
        )

    def describe(self, request: ModernRequest) -> Deferred[dict[str, Any]]:
        def result(upstream: Upstream) -> dict[str, Any]:
            return upstream.initializeResult or {}

        return self.modernUpstream(self._routed(request)).addCallback(result)

    def listen(
        self, request: ModernRequest, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        refusal = self.modernRefusal()
        if refusal is not None:
            return fail(ServerUnavailable(refusal))

        def opened(upstream: Upstream) -> ListenHandle:
            initialize = upstream.initializeResult or {}
            capabilities = initialize.get("capabilities")
            listener = Listener(
                upstream.router,
                honour(wanted, capabilities if isinstance(capabilities, dict) else {}),
                sink,
                request.scope,
                self.listeners.discard,
            )
            self.listeners.add(listener)
            listener.start()
            return listener

        try:
            ready = self.modernUpstream(self._routed(request))
        except Exception:
            ready = fail()
        return ready.addCallback(opened)

    def _routed(self, request: ModernRequest) -> ModernRequest:
        """C{request} as its route's child serves it: on a pool with one
        child for all its routes (L{perLaunch} false), a workspace route
        that is the user's entry is the key-less route."""
        if request.scope and not self.perLaunch and request.scope in self._variants:
            return replace(request, scope="")
        return request

    def paramHeaders(self, scope: str, tool: str) -> dict[str, str] | None:
        if scope and not self.perLaunch and scope in self._variants:
            scope = ""
        router = self.modernRouter(scope)
        if router is None:
            return None
        known = router.toolHeaders.get(tool)
        return None if known is None else dict(known)

    def modernStats(self) -> ModernStats:
        bridge = self.bridge
        return ModernStats(
            requests=self.modernRequests,
            inputRounds=bridge.inputRounds,
            inputExpired=bridge.inputExpired,
            badRequestStates=bridge.badRequestStates,
            listenStreams=len(self.listeners),
            suspendedCalls=bridge.suspended(),
        )

    def endModern(self, reason: str) -> None:
        self.bridge.stopAll(reason)
        for listener in list(self.listeners):
            listener.end(reason)


def _keysOf(sessions: Iterable[object], *extra: str) -> tuple[str, ...]:
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


_CAPABILITY_OF = {
    "tools/list": "tools",
    "tools/call": "tools",
    "prompts/list": "prompts",
    "prompts/get": "prompts",
    "resources/list": "resources",
    "resources/templates/list": "resources",
    "resources/read": "resources",
    "completion/complete": "completions",
}


def _lacking(method: str, capabilities: Any) -> str | None:
    """The server capability C{method} needs that the child did not declare."""
    needed = _CAPABILITY_OF.get(method)
    if needed is None:
        return None
    if isinstance(capabilities, dict) and isinstance(capabilities.get(needed), dict):
        return None
    return needed


def _request(
    upstream: Upstream, session: Session, message: jsonrpc.Message, related: Sink | None
) -> Deferred[jsonrpc.Message]:
    return upstream.router.request(session, message, related)
