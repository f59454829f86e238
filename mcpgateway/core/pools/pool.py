# -*- test-case-name: tests.core.pools.test_pool -*-
"""Which child serves a session: the L{PoolLike} interface, and what a
server's routes are.

A server pool holds the children of one configured server: one
L{mcpgateway.core.pools.serverpool.ServerPool} whatever the server, with a
placement chosen once by L{mcpgateway.core.pools.factory.makePool} from
the server's L{Sharing}: L{mcpgateway.core.pools.shared.SharedPlacement}
keeps one child for every session,
L{mcpgateway.core.pools.placement.SessionPlacement} leaves every session
its own child, and L{mcpgateway.core.pools.keyedplacement.KeyedPlacement} keeps one
child per distinct launch spec (workspace or credential scope, or a child
per principal: each route of the server is a
L{mcpgateway.core.spec.Variant}, and variants with equal child keys share a
child). Routes that all share the child of the key-less route (a project's
entry that is the user's) need no more than one child: a shared or
per-session pool serves each of them as that route (L{childPerLaunch}).

A shared child that asks a client something while several sessions have
requests in flight cannot say which session asked: the request is refused,
and the pool is I{promoted} (once): from then on each new session gets a
child of its own (the sessions already open stay on the shared child), and
the L{PromotionSink} is told so the next start makes the server
session-scoped. A promotion is about 2025 sessions only: MCP 2026-07-28
requests carry their own state, and stay on the shared child, in the
process that promoted the server and after a restart alike.

Nothing outside C{core/} sees the children themselves: the web layer opens,
forwards, notifies, answers and closes through L{PoolLike}, and the
gateway and the operations jobs (reaper, monitor, management, manhole) use
its second half.

What a pool does besides holding its children is each a collaborator,
given values and callables rather than the pool:
L{mcpgateway.core.pools.poollauncher} (what children start with),
L{mcpgateway.core.pools.childmaker} (upstreams made and wired),
L{mcpgateway.core.pools.promotion}, L{mcpgateway.core.pools.snapshot} (its
state and status), L{mcpgateway.core.pools.era2026side} (MCP 2026-07-28
clients), L{mcpgateway.core.pools.owned} (the children of one session each);
a keyed placement's L{mcpgateway.core.pools.routechildren} (its children by child
key), L{mcpgateway.core.pools.capacity} (C{maxChildren} and idle expiry)
and L{mcpgateway.core.pools.rebinder} (sessions following their routes
after a reload); a shared placement's L{mcpgateway.core.pools.staleenv}
(its child restarted when its environment changed) and
L{mcpgateway.core.pools.fromcatalog}.

The modules of this package import one way: this interface first; then the
collaborators (and L{mcpgateway.core.pools.attach}: sessions on a shared
child); then L{mcpgateway.core.pools.placement}; then the shared and keyed
placements and L{mcpgateway.core.pools.serverpool}; and
L{mcpgateway.core.pools.factory}, which nothing in it imports, last. None
imports a feature above the kernel: what a pool needs of the tasks feature
is a L{TaskSupport} the gateway hands it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred

from mcpgateway.core.catalogdata import Catalog
from mcpgateway.core.eventlog import EventLog
from mcpgateway.core.exchange import Sink
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec, Sharing, Variant
from mcpgateway.core.status import Era2026Stats, Resolution, ServerStatus
from mcpgateway.core.toolgate import PinnedTools
from mcpgateway.core.upstream import ServerUnavailable, Upstream
from mcpgateway.protocol import jsonrpc

if TYPE_CHECKING:
    from mcpgateway.core.era2026.types import Era2026Request, ListenFilter, ListenHandle

__all__ = [
    "GLOBAL_CHILD",
    "NO_SCOPES",
    "CatalogSource",
    "ChildListener",
    "Era2026Calls",
    "Idle",
    "NoSharedChild",
    "PidProbe",
    "PoolLike",
    "PromotionSink",
    "Resolver",
    "RouteListed",
    "ScopesRefreshed",
    "ServerUnavailable",
    "SessionGone",
    "Sweep",
    "TaskSupport",
    "UnknownRoute",
    "childGone",
    "childPerLaunch",
    "clientVariant",
    "configuredRefusal",
    "disabledError",
    "launchEnvOf",
    "programOf",
    "promotedAtStart",
    "sameServer",
    "variantsOf",
]

PidProbe = Callable[[int], bool]
"""Whether the process with this pid still exists."""

TaskSupport = Callable[[Any], bool]
"""Whether a child's C{InitializeResult} says it serves 2025-11-25
task-augmented C{tools/call} itself (the gateway hands in the tasks
feature's reading of it:
L{mcpgateway.core.tasks.handshake.speaksTasks})."""


class SessionGone(Exception):
    """The session's own child has exited; the client must initialize again."""


class NoSharedChild(Exception):
    """The server has no shared child: each session has a child of its own."""


class UnknownRoute(Exception):
    """The server has no route with this key (no such workspace)."""


class PromotionSink(Protocol):
    """Where a promotion is kept (C{promotions.json}, through config)."""

    def promote(self, server: str, why: str, share: str = "session") -> None:
        """Remember that C{server} must run a child per C{share} (C{session},
        or C{workspace}), and why."""


class ChildListener(Protocol):
    """Who hears of a pool's children becoming ready and of their lists
    changing (the catalogs: L{mcpgateway.core.gateway.catalog.Catalogs})."""

    def childReady(self, pool: PoolLike, upstream: Upstream, principal: str) -> None:
        """C{upstream}'s child was initialized (a child of one session: its
        session's C{notifications/initialized} went to it) and can be
        listed through C{upstream.router}; C{principal}: the key of the
        principal whose child it is (C{""}: anyone's)."""

    def childListChanged(
        self, pool: PoolLike, upstream: Upstream, principal: str, method: str
    ) -> None:
        """C{upstream}'s child sent C{method}, one of
        C{notifications/{tools,prompts,resources}/list_changed}."""


class CatalogSource(Protocol):
    """Where a shared pool finds the saved catalog that answers a client's
    start-up without its child (L{mcpgateway.core.gateway.catalogserve.CatalogServe}:
    the catalogs, which no pool imports)."""

    def current(self, pool: PoolLike, principal: str) -> Catalog | None:
        """The catalog of C{pool}'s server that answers for its entry as it
        is now, for the principal whose key is C{principal} (C{None}: none
        does, or the server or the gateway turned it off: start the child)."""

    def allows(self, pool: PoolLike) -> bool:
        """Whether the switches let C{pool}'s start-ups be answered from a
        catalog (the gateway's C{--no-lazy-start}, the entry's C{"lazy"})."""

    def loaded(self) -> Deferred[None]:
        """Fires once the catalogs saved by an earlier process are read."""

    def relisted(self, pool: PoolLike) -> Deferred[Catalog | None] | None:
        """The listing of C{pool}'s shared child in flight since it became
        ready (what it lists now; C{None} in it: the listing failed);
        C{None}: no listing is in flight."""


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


@dataclass(frozen=True)
class RouteListed:
    """What a refresh kept as the catalog of one route (C{catalog}), or why
    it kept none (C{error})."""

    catalog: Catalog | None
    error: str | None = None


@dataclass(frozen=True)
class ScopesRefreshed:
    """What a refresh kept of one server's scopes: each route's catalog by
    route key (none for a server whose start-ups are answered from its
    own catalog), and why some scopes have none
    (L{mcpgateway.core.pools.scoperefresh.unsavedScopes})."""

    routes: Mapping[str, RouteListed]
    unsaved: tuple[str, ...] = ()


NO_SCOPES = ScopesRefreshed({})
"""What a refresh keeps of a server whose start-ups are answered from its
own catalog: nothing more."""


class PoolLike(Protocol):
    """The children of one configured server, as everything outside C{core/} sees them."""

    # -- what the web layer uses ---------------------------------------------

    spec: ServerSpec
    """The server as configured."""
    events: EventLog
    disabled: bool
    """Set through the management API: requests are refused, children stopped."""

    @property
    def promoted(self) -> str | None:
        """Why new sessions get a child of their own (the server was promoted), or C{None}."""

    @property
    def perLaunch(self) -> bool:
        """Whether it keeps a child per launch spec (a keyed placement, L{childPerLaunch})."""

    toolPins: PinnedTools | None
    """The gateway's pinned tools, which its children's routers apply
    (L{mcpgateway.core.toolgate}); C{None}: nothing is pinned."""
    namesDecided: bool
    """Whether a call's name is decided before the call reaches the router
    (a policy, the gateway's rate limits): a child is then listed before a
    call of a kind it has not listed whole (L{mcpgateway.core.toolgate}).
    Set when the servers are made and at each reload
    (L{mcpgateway.core.gateway.serverset.ServerSet.decideNames})."""

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

    def untime(self, session: Session, clientId: Any) -> bool:
        """Lift the request timeout of C{session}'s request C{clientId} in
        flight (a call the gateway made a task of); whether it was found."""

    def childTasks(self, session: Session) -> Deferred[bool]:
        """Whether the session's child serves 2025-11-25 task-augmented
        C{tools/call} itself, as the tasks feature reads its C{initialize}
        result (else the gateway makes those tasks:
        L{mcpgateway.core.tasks.handshake})."""

    def notify(self, session: Session, message: jsonrpc.Message) -> None:
        """Pass a client notification to the session's child."""

    def answer(self, session: Session, message: jsonrpc.Message) -> bool:
        """Pass a client's answer to a request of the child; C{False} if the
        child asked no such thing of this session."""

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session}; stop its child if it had one of its own (fires
        once that has exited)."""

    def status(self, sessions: int) -> ServerStatus:
        """A snapshot of the server and its children; C{sessions}: how many
        sessions the gateway has open on it."""

    # -- what the gateway and the operations jobs use ------------------------

    resolution: Resolution | None

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

    def startsOnCall(self) -> bool:
        """Whether its sessions, restored ones too, may be served from its
        saved catalog until a request it cannot answer starts the child (a
        shared pool with a current catalog, no session subscribed to
        anything): then nothing starts its child before."""

    def resetCircuit(self) -> None:
        """Forget the failures: the next request starts a child at once."""

    def launchAfter(
        self, resolving: Deferred[ServerSpec], what: str, resolve: Resolver | None = None
    ) -> None:
        """Start no child until C{resolving} fires; then start children with
        its result (and the launch of each other route with what C{resolve}
        makes of it)."""

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

    def stopChild(self, pid: int, why: str = "") -> Deferred[None] | None:
        """Stop the child with C{pid} (the next request or session starts a
        fresh one); C{None} if no child has it. C{why} goes into its exit
        reason (L{Upstream.stop})."""

    def restart(
        self,
        endSession: Callable[[Session], object],
        why: str,
    ) -> Deferred[list[int]]:
        """Stop every child, ending (through C{endSession}) the sessions whose
        own child it is; fires with the pids stopped. C{why} is recorded."""

    def stopShared(self, why: str = "") -> Deferred[None]:
        """Stop the shared child (it starts again on demand); C{why} goes
        into its exit reason (L{Upstream.stop}).

        @raise NoSharedChild: the server's children are per session.
        """

    def idle(self, now: float) -> Idle | None:
        """How idle the shared child is, when it runs with nothing in flight."""

    def healthPing(self) -> None:
        """Ping the running shared child with the gateway's own request (one
        ping at a time); kill it if it does not answer within the request
        timeout (the restart policy brings it back)."""

    def sweep(self, alive: PidProbe) -> Sweep:
        """Forget children whose process is gone (C{alive} says so) without an
        exit event; report them and the sessions left without their child."""

    def watchChildren(self, listener: ChildListener | None) -> None:
        """Tell C{listener} (from now on, for every child, those running
        now included for their next list change) when a child is ready and
        when its lists change; C{None}: tell nobody."""

    def refreshScopes(
        self, listed: Catalog | None, principals: bool, timeout: float
    ) -> Deferred[ScopesRefreshed]:
        """Keep, for C{mcpgateway catalog refresh}, the catalog of each of
        its routes its sessions' start-ups are answered from
        (L{mcpgateway.core.pools.scoperefresh}): C{listed} (what the
        refresh listed through its global route, for any client; C{None}:
        that failed) as the global route's, the others listed within
        C{timeout} seconds; C{principals}: the gateway authenticates its
        callers. L{NO_SCOPES} for a server its own catalog answers for."""

    # -- MCP 2026-07-28 clients -------------------------------------------------

    @property
    def era2026(self) -> Era2026Calls:
        """Its 2026 side, which serves them (made, and its modules loaded,
        when first read: only a 2026 request reads it)."""

    def era2026Refusal(self) -> str | None:
        """Why this server does not serve 2026-07-28 clients, or C{None}."""

    def era2026Stats(self) -> Era2026Stats:
        """The counters of its 2026 traffic (all zero while no 2026
        request came: its 2026 side is not made to say so)."""

    def endEra2026(self, reason: str) -> None:
        """End the suspended 2026 calls and the listen streams (none while
        its 2026 side was never made)."""


class Era2026Calls(Protocol):
    """A pool's MCP 2026-07-28 side as its callers use it (L{PoolLike.era2026}):
    those clients have no session; each request is served on the child of
    its route."""

    def serve(self, request: Era2026Request, sink: Sink) -> Deferred[jsonrpc.Message]:
        """Serve one 2026 request (not a listen): fires with the finished
        answer (never fails but with C{CancelledError}, when cancelled: the
        client went away)."""

    def toolTaskSupport(self, request: Era2026Request, tool: str) -> Deferred[str | None]:
        """What the child of C{request}'s route says of C{tool}'s task
        support (its C{execution.taskSupport}; C{None}: nothing)."""

    def listen(
        self, request: Era2026Request, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        """Open a listen stream on the child of C{request}'s route; fails
        with L{ServerUnavailable} when it cannot run."""

    def paramHeaders(self, scope: str, tool: str) -> dict[str, str] | None:
        """The C{Mcp-Param-*} map of C{tool} on route C{scope}'s child, from
        its last C{tools/list} (C{None}: not known)."""


def disabledError(server: str) -> ServerUnavailable:
    """What a request for the disabled server C{server} fails with."""
    return ServerUnavailable(f"server '{server}' is disabled")


def childGone(server: str) -> str:
    """Why a session of C{server} whose own child is gone cannot be served."""
    return f"the child of server '{server}' for this session is gone"


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


def promotedAtStart(spec: ServerSpec) -> bool:
    """Whether C{spec}'s server was promoted in an earlier process: its
    sessions each own a child, and its shared child, if any, is for MCP
    2026-07-28 requests only."""
    return spec.promoted is not None and spec.sharing is Sharing.SESSION


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


def clientVariant(
    spec: ServerSpec,
    routes: Mapping[str, Variant],
    scope: str,
    credentialKey: str = "",
    credentials: tuple[tuple[str, str], ...] = (),
    principal: str = "",
) -> Variant | None:
    """The launch of route C{scope} of C{spec} (C{routes}: its routes by
    key) for a client: L{PoolLike.variantFor}, from what the pool serves
    now."""
    variant = routes.get(scope)
    if variant is None:
        return None
    if credentialKey and spec.credentialEnv:
        listed = set(spec.credentialEnv)
        variant = variant.withCredentials(
            credentialKey, tuple((name, value) for name, value in credentials if name in listed)
        )
    if principal and spec.perPrincipal:
        variant = variant.withPrincipal(principal)
    return variant


def sameServer(
    a: ServerSpec,
    b: ServerSpec,
    promoted: str | None = None,
    perLaunch: bool | None = None,
) -> bool:
    """Whether the pool of C{a} may keep serving C{b}: how its children are
    shared is the same, and so is the child of its key-less route (the
    user's entry: command, args, env, cwd, and its sandbox: a child runs
    confined as it started, so a new profile needs new children; timeouts
    may differ). Its env
    alone may differ too (the gateway's C{<state-dir>/.env}, the entry's
    C{env}) on a pool with one child for all its routes: a shared child is
    restarted with the new env at its next idle moment and its sessions
    carry on, a session's own child keeps its env until its session ends
    (L{PoolLike.useSpec}); a scoped pool's key-less child is replaced
    as before. A pool promoted in this process (C{promoted}) already gives new sessions a
    child of their own: C{b} saying C{session} for it (the promotion, read
    back) is the same server, and no session ends.

    The routes (variants) of a server may change: each carries its own
    launch, and the gateway and the pool end or move the sessions of each
    route (L{mcpgateway.core.gateway.reconfiguring.Reconfigurer.reconfigure},
    L{PoolLike.useSpec}). A server with routes but no key-less one on
    either side (defined only in projects, or its user's entry added or
    removed) has nothing else to compare: its
    C{command}, C{env} and C{cwd} are only those of one of its routes
    (L{mcpgateway.config.scopes.buildScopes}), which changes with that
    route's C{.env} or with which route sorts first.

    C{perLaunch}: whether the pool keeps a child per launch spec (C{None}:
    as L{mcpgateway.core.pools.factory.makePool} would make one for C{a}).
    Such a pool serves as well routes that all share the user's child (a
    user's entry appearing equal to a project's, whose workspace route
    stays: L{mcpgateway.config.scopes}), and never looks at the scope
    itself: C{global} or C{workspace} alike, its sessions carry on and move
    to their route's new child."""
    sharing = b.sharing
    if promoted is not None and sharing is Sharing.SESSION and a.sharing is not Sharing.SESSION:
        sharing = a.sharing
    scoped = _scoped(a) if perLaunch is None else perLaunch
    wanted = _scoped(b) if sharing is b.sharing else scoped
    before = a.sharing
    if scoped and sharing is not Sharing.SESSION and b.variants:
        wanted = True
    if scoped and wanted and {before, sharing} <= {Sharing.GLOBAL, Sharing.WORKSPACE}:
        before = sharing
    old = (before, a.credentialEnv, scoped, a.perPrincipal)
    if old != (
        sharing,
        b.credentialEnv,
        wanted,
        b.perPrincipal if sharing is b.sharing else a.perPrincipal,
    ):
        return False
    if a.variants and b.variants and not (_keyless(a) and _keyless(b)):
        return True
    if (a.command, a.args, a.cwd, a.sandbox) != (b.command, b.args, b.cwd, b.sandbox):
        return False
    return a.env == b.env or not scoped


def _keyless(spec: ServerSpec) -> bool:
    """Whether C{spec}'s routes include C{/<server>/mcp} (the user's entry)."""
    return any(variant.key == "" for variant in spec.variants)


def _scoped(spec: ServerSpec) -> bool:
    """Whether C{spec} is served by a scoped pool (a child per launch spec)."""
    return spec.sharing is not Sharing.SESSION and childPerLaunch(spec)


def configuredRefusal(spec: ServerSpec, disabled: bool) -> str | None:
    """Why a pool's configuration refuses MCP 2026-07-28 clients: a
    disabled server, or one configured C{"era2026": false}; C{None}: it
    serves them (unless it runs a child per session, L{perSessionRefusal})."""
    name = spec.name
    if disabled:
        return f"server '{name}' is disabled"
    if not spec.era2026:
        return f"server '{name}' is not served to MCP 2026-07-28 clients (\"era2026\": false)"
    return None
