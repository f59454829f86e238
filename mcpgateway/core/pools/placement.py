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
asks it which child serves a session (L{Placement.childOf}), and to open,
restore, ready and release its sessions. What does not change while the
pool lives are values the pool reads: whether it keeps a child per launch
(C{perLaunch}), whether every session owns its child (C{ownsAll}: such a
pool never serves an MCP 2026-07-28 client, L{perSessionRefusal}), and
what answers its sessions from the server's saved catalog (C{startup}).
It is given what it needs as values and callables (a L{Kit}), never the
pool itself: the sessions that own a child are the pool's, not the
placement's, and the pool asks them before it asks the placement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime

from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.eventlog import EventLog
from mcpgateway.core.exchange import Sink
from mcpgateway.core.pools.childmaker import ChildMaker
from mcpgateway.core.pools.fromcatalog import CatalogStartup, StartupHost
from mcpgateway.core.pools.lostchild import LostChildNotices
from mcpgateway.core.pools.pool import Idle, NoSharedChild, clientVariant
from mcpgateway.core.pools.poollauncher import PoolLauncher
from mcpgateway.core.pools.scopecatalog import ScopeCatalog, ScopeStartup
from mcpgateway.core.pools.snapshot import CapacityCounts, keysOf
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc

__all__ = ["Kit", "Placement", "SessionPlacement", "perSessionRefusal"]

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
    child of their own aside: the pool asks those first)."""

    perLaunch: bool
    """Whether it keeps a child per launch spec (each route its own key)."""
    ownsAll: bool
    """Whether every session has a child of its own (the pool's, not the placement's)."""

    @property
    def startup(self) -> CatalogStartup | None:
        """What answers its sessions' start-ups from the saved catalog while
        its one child does not run (a shared placement's; C{None}: none does)."""

    def children(self) -> list[Upstream]:
        """Its children (the shared one, or those of each key)."""

    def childOf(self, session: Session) -> Upstream | None:
        """The child serving C{session} (C{None}: none)."""

    def open(self, session: Session, initialize: jsonrpc.Message) -> Deferred[jsonrpc.Message]:
        """Attach C{session} to its child and answer its C{initialize}."""

    def restore(self, session: Session) -> None:
        """Attach C{session}, restored from a previous gateway process."""

    def gone(self, session: Session) -> str | None:
        """Why C{session} can no longer be served, or C{None}."""

    def ready(self, session: Session) -> Deferred[Upstream]:
        """C{session}'s running child, started when needed."""

    def forwardPending(
        self, session: Session, message: jsonrpc.Message, related: Sink | None
    ) -> Deferred[jsonrpc.Message] | None:
        """C{message} of a session answered from its scope's catalog whose
        child is this placement's (C{None}: its child is its own)."""

    def unbind(self, session: Session) -> None:
        """C{session} moved to a child of its own: forget its binding."""

    def close(self, session: Session, reason: str) -> Deferred[None]:
        """Detach C{session} from its child."""

    def reconfigured(self, before: tuple[object, ...]) -> list[Session]:
        """The pool serves a new spec (its launch environment was
        C{before}); the sessions whose route is gone."""

    def useLaunchSpec(self, spec: ServerSpec, owned: list[Upstream]) -> None:
        """Its children (and the sessions' own, C{owned}) start with C{spec}."""

    def requestTimeoutOf(self, upstream: Upstream) -> float | None:
        """The request timeout of its child C{upstream} (C{None}: the server's)."""

    def restarted(self) -> None:
        """Every child was stopped."""

    def expire(self, now: float) -> list[int]:
        """Stop the children idle past their timeout; their pids."""

    def prewarm(self) -> Deferred[None]:
        """Start what should run before a session asks."""

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        """The running child serving C{request}'s route."""

    def era2026Router(self, scope: str) -> Router | None:
        """The router of route C{scope}'s child, when it has one."""

    def stopShared(self, why: str = "") -> Deferred[None]:
        """Stop the children of the routes (they start again on demand);
        C{why} goes into their exit reason."""

    def idle(self, now: float) -> Idle | None:
        """How idle the shared child is."""

    def healthPing(self) -> None:
        """Ping the running shared child."""

    def scopesOf(self, upstream: Upstream) -> tuple[str, ...]:
        """The route and credential keys its child C{upstream} serves."""

    def principalOf(self, upstream: Upstream) -> str:
        """The key of the principal whose child C{upstream} is (C{""}: all's)."""

    def probeRoute(self, variant: Variant, key: str) -> Deferred[ScopeCatalog] | None:
        """Start route C{variant}'s child as its first session would, list
        it as the catalog of C{key} and stop it unless a session uses it
        meanwhile (C{None}: its sessions are not answered from a route's
        catalog: their child is the server's one, or their own)."""


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
    per-session server)."""

    perLaunch = False
    ownsAll = True
    startup = None

    def __init__(self, kit: Kit) -> None:
        self._kit = kit

    def children(self) -> list[Upstream]:
        return []

    def childOf(self, session: Session) -> Upstream | None:
        return None

    def open(self, session: Session, initialize: jsonrpc.Message) -> Deferred[jsonrpc.Message]:
        raise AssertionError("a per-session server's sessions each own their child")

    def restore(self, session: Session) -> None:
        raise AssertionError("a per-session server's sessions each own their child")

    def gone(self, session: Session) -> str | None:
        return None

    def ready(self, session: Session) -> Deferred[Upstream]:
        raise AssertionError("a per-session server's sessions each own their child")

    def forwardPending(
        self, session: Session, message: jsonrpc.Message, related: Sink | None
    ) -> Deferred[jsonrpc.Message] | None:
        return None

    def unbind(self, session: Session) -> None:
        """Nothing is bound."""

    def close(self, session: Session, reason: str) -> Deferred[None]:
        return succeed(None)

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

    def requestTimeoutOf(self, upstream: Upstream) -> float | None:
        return None

    def restarted(self) -> None:
        """Nothing waits for room."""

    def expire(self, now: float) -> list[int]:
        return []

    def prewarm(self) -> Deferred[None]:
        """Nothing to start before a session asks."""
        return succeed(None)

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        return fail(NoSharedChild(perSessionRefusal(self._kit.spec().name)))

    def era2026Router(self, scope: str) -> Router | None:
        return None

    def stopShared(self, why: str = "") -> Deferred[None]:
        raise NoSharedChild(f"server '{self._kit.spec().name}' has a child per session")

    def idle(self, now: float) -> Idle | None:
        """Never: a session's own child lives as long as the session."""
        return None

    def healthPing(self) -> None:
        """Nothing: a session's own child is never pinged."""

    def scopesOf(self, upstream: Upstream) -> tuple[str, ...]:
        return keysOf(upstream.router.sessions, "")

    def principalOf(self, upstream: Upstream) -> str:
        return ""

    def probeRoute(self, variant: Variant, key: str) -> Deferred[ScopeCatalog] | None:
        """None: a session's child is its own (the pool probes those)."""
        return None
