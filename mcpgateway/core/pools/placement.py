# -*- test-case-name: tests.core.pools.test_pool, tests.core.pools.test_keyedplacement -*-
"""Which child serves a session, and under which key: a pool's
L{Placement}.

A L{mcpgateway.core.pools.serverpool.ServerPool} holds the children of one
server; how they are shared is its placement, chosen once by
L{mcpgateway.core.pools.factory.makePool}:

 - L{mcpgateway.core.pools.shared.SharedPlacement}: one child for every
   session (its key: the global route's);
 - L{SessionPlacement}: no child of its own: every session's child is the
   session's (the pool's L{mcpgateway.core.pools.owned.OwnedChildren});
 - L{mcpgateway.core.pools.keyedplacement.KeyedPlacement}: a child per child key
   (a workspace route, a credential set, a principal).

A placement holds its own map (the shared child, or the children by child
key and the sessions bound to them) and nobody else reads it: the pool
asks it which child serves a session (L{Placement.childOf}). What one kind
of placement does alone is one of its parts, C{None} on the others, which
the pool reads once: the sessions attached to its children (L{Attached}:
to open, restore, ready and release them; a per-session placement has
none, every session owns its child: such a pool never serves an MCP
2026-07-28 client, L{perSessionRefusal}), its children by route key
(L{KeyedRoutes}), and its one child for all (L{SingleChild}: what answers
its sessions from the server's saved catalog, its idleness, its health
pings). So no placement answers for what it does not do.
It is given what it needs as values and callables (a L{Kit}), never the
pool itself: the sessions that own a child are the pool's, not the
placement's, and the pool asks them before it asks the placement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorTime

from mcpgateway.core.eventlog import EventLog
from mcpgateway.core.exchange import Sink
from mcpgateway.core.pools.childmaker import ChildMaker
from mcpgateway.core.pools.fromcatalog import CatalogStartup, StartupHost
from mcpgateway.core.pools.lostchild import LostChildNotices
from mcpgateway.core.pools.pool import Idle, NoSharedChild, clientVariant
from mcpgateway.core.pools.poollauncher import PoolLauncher
from mcpgateway.core.pools.scopecatalog import ScopeCatalog, ScopeStartup
from mcpgateway.core.pools.snapshot import CapacityCounts
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc

if TYPE_CHECKING:
    from mcpgateway.core.era2026.types import Era2026Request

__all__ = [
    "Attached",
    "KeyedRoutes",
    "Kit",
    "Placement",
    "SessionPlacement",
    "SingleChild",
    "perSessionRefusal",
]

Serve = Callable[[], Deferred[jsonrpc.Message]]


@dataclass(frozen=True)
class Kit:
    """What a pool gives its placement: the collaborators its children are
    made and started with, and readers of what the pool serves now (a
    reload or the management API changes those)."""

    spec: Callable[[], ServerSpec]
    """The server as configured now."""
    launchSpec: Callable[[], ServerSpec]
    """What its children start with now."""
    routes: Callable[[], Mapping[str, Variant]]
    """The server's routes by key."""
    disabled: Callable[[], bool]
    """Whether requests are refused (the management API)."""
    ownsEach: Callable[[], bool]
    """Whether a session opened now gets a child of its own (a promoted server)."""
    maker: ChildMaker
    launcher: PoolLauncher
    scopeStartup: ScopeStartup
    """The catalogs of the pool's scope keys (start-ups answered before a child runs)."""
    notices: LostChildNotices
    """The sessions to be told their child was started anew."""
    limitCounts: CapacityCounts
    events: EventLog
    clock: IReactorTime
    catalogHost: StartupHost
    """The pool as the saved catalogs know it (they are kept by pool)."""

    def variantFor(
        self,
        scope: str,
        credentialKey: str = "",
        credentials: tuple[tuple[str, str], ...] = (),
        principal: str = "",
    ) -> Variant | None:
        """The launch of route C{scope} for a client's credentials and
        principal, from the spec and routes served now (L{clientVariant})."""
        return clientVariant(
            self.spec(), self.routes(), scope, credentialKey, credentials, principal
        )


class Placement(Protocol):
    """Which of a pool's own children serves a session (the sessions with a
    child of their own aside: the pool asks those first): what every
    placement does. What one kind does alone is one of its parts
    (L{attached}, L{keyed}, L{single}), C{None} on the others; the pool
    reads them once, when it is made."""

    @property
    def attached(self) -> Attached | None:
        """Its sessions' side: they attach to its children (C{None}: every
        session has a child of its own, the pool's)."""

    @property
    def keyed(self) -> KeyedRoutes | None:
        """Its children by route key (C{None}: one child serves every route)."""

    @property
    def single(self) -> SingleChild | None:
        """Its one child, shared by every session (C{None}: it has no one child)."""

    def children(self) -> list[Upstream]:
        """Its children (the shared one, or those of each key)."""

    def childOf(self, session: Session) -> Upstream | None:
        """The child serving C{session} (C{None}: none)."""

    def reconfigured(self, before: tuple[object, ...]) -> list[Session]:
        """The pool serves a new spec (its launch environment was
        C{before}); the sessions whose route is gone."""

    def useLaunchSpec(self, spec: ServerSpec, owned: list[Upstream]) -> None:
        """Its children (and the sessions' own, C{owned}) start with C{spec}."""

    def stopShared(self, why: str = "") -> Deferred[None]:
        """Stop the children of the routes (they start again on demand);
        C{why} goes into their exit reason."""

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        """The running child serving C{request}'s route."""

    def era2026Router(self, scope: str) -> Router | None:
        """The router of route C{scope}'s child, when it has one."""


class Attached(Protocol):
    """The sessions of a placement whose sessions attach to its children
    (a shared or keyed placement's)."""

    def open(self, session: Session, initialize: jsonrpc.Message) -> Deferred[jsonrpc.Message]:
        """Attach C{session} to its child and answer its C{initialize}."""

    def restore(self, session: Session) -> None:
        """Attach C{session}, restored from a previous gateway process."""

    def gone(self, session: Session) -> str | None:
        """Why C{session} can no longer be served, or C{None}."""

    def ready(self, session: Session) -> Deferred[Upstream]:
        """C{session}'s running child, started when needed."""

    def close(self, session: Session, reason: str) -> Deferred[None]:
        """Detach C{session} from its child."""

    def prewarm(self) -> Deferred[None]:
        """Start what should run before a session asks."""

    def scopesOf(self, upstream: Upstream) -> tuple[str, ...]:
        """The route and credential keys its child C{upstream} serves."""

    def principalOf(self, upstream: Upstream) -> str:
        """The key of the principal whose child C{upstream} is (C{""}: all's)."""


class KeyedRoutes(Protocol):
    """What a placement with a child per route key does alone: its
    sessions are answered from their route's catalog while their child
    does not run, each child has its route's timeout, and its children
    wait for room (C{maxChildren}) and stop when idle."""

    def forwardPending(
        self, session: Session, message: jsonrpc.Message, related: Sink | None
    ) -> Deferred[jsonrpc.Message]:
        """C{message} of a session answered from its route's catalog whose
        child is this placement's (not its own)."""

    def unbind(self, session: Session) -> None:
        """C{session} moved to a child of its own: forget its binding."""

    def requestTimeoutOf(self, upstream: Upstream) -> float | None:
        """The request timeout of its child C{upstream} (C{None}: the server's)."""

    def restarted(self) -> None:
        """Every child was stopped: what waits for room tries again."""

    def expire(self, now: float) -> list[int]:
        """Stop the children idle past their timeout; their pids."""

    def probeRoute(self, variant: Variant, key: str) -> Deferred[ScopeCatalog]:
        """Start route C{variant}'s child as its first session would, list
        it as the catalog of C{key} and stop it unless a session uses it
        meanwhile."""


class SingleChild(Protocol):
    """What a placement with one child for every session does alone: its
    sessions' start-ups are answered from the server's saved catalog while
    the child does not run, and the gateway watches the child's idleness
    and health."""

    @property
    def startup(self) -> CatalogStartup:
        """What answers its sessions' start-ups from the saved catalog while
        its child does not run."""

    def idle(self, now: float) -> Idle | None:
        """How idle the child is (C{None}: not idle, or not running)."""

    def healthPing(self) -> None:
        """Ping the running child."""


def perSessionRefusal(server: str) -> str:
    """Why a server that runs a child per session (C{server}) cannot serve
    an MCP 2026-07-28 client, whatever its configuration: such a client
    has no session to own a child."""
    return (
        f"server '{server}' runs a child per session (share: session), and an"
        " MCP 2026-07-28 client has no session to own one"
    )


class SessionPlacement:
    """No child of its own: every session's child is the session's (a
    per-session server). Its pool serves every session from its own
    children, and no MCP 2026-07-28 client (L{perSessionRefusal})."""

    attached = None
    keyed = None
    single = None

    def __init__(self, kit: Kit) -> None:
        self._kit = kit

    def children(self) -> list[Upstream]:
        """None: each child is a session's."""
        return []

    def childOf(self, session: Session) -> Upstream | None:
        """None: a session's child is its own."""
        return None

    def reconfigured(self, before: tuple[object, ...]) -> list[Session]:
        """New sessions start from the new launch specs; the children
        running now keep theirs until their sessions end."""
        kit = self._kit
        routes = kit.routes()
        kit.launcher.keep({variant.childKey for variant in routes.values()})
        return []

    def useLaunchSpec(self, spec: ServerSpec, owned: list[Upstream]) -> None:
        for upstream in owned:
            # A child that serves one principal keeps serving that principal.
            upstream.spec = spec.forPrincipal(upstream.spec.principal)

    def stopShared(self, why: str = "") -> Deferred[None]:
        raise NoSharedChild(f"server '{self._kit.spec().name}' has a child per session")

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        return fail(NoSharedChild(perSessionRefusal(self._kit.spec().name)))

    def era2026Router(self, scope: str) -> Router | None:
        """None: no child serves MCP 2026-07-28 clients."""
        return None
