# -*- test-case-name: tests.core.pools.test_keyedplacement -*-
"""One child per launch spec of a server: the L{KeyedPlacement} (workspace and
credential scopes, and a child per principal).

Each route of the server (C{/<server>/mcp}, C{/<server>~<key>/mcp}) is a
L{Variant}: the launch spec config resolved for it (the workspace as cwd, the
layers of C{.env} in its env) and a I{child key}, a keyed hash of what the
child is. A session is bound to the child of its variant's child key; variants
with equal child keys share one child, so workspace, credential and
"identical spec" sharing all come from that one rule. With C{credentialEnv},
a client's credential values make a variant of their own
(L{Variant.withCredentials}); on a per-user or credential-scoped server, so
does the authenticated principal (L{Variant.withPrincipal}: the principal's
key is part of the child key, so two principals never share a child, and
C{maxChildren} and its least-recently-used eviction count them all). The
pool never looks at the scope itself.

Each child is a shared child (initialized by the gateway, its traffic spread
by a L{mcpgateway.core.fanout.SharedFanout}), kept in least-recently-used
order (L{mcpgateway.core.pools.routechildren.RouteChildren}). The pool is bounded:
at most C{spec.maxChildren} children run at once, and those quiet for their
C{idleTimeout} are stopped (L{mcpgateway.core.pools.capacity.ChildCapacity}).

While a route's child does not run, a session's start-up is answered from
the catalog of that child's key (L{mcpgateway.core.pools.scopecatalog}: a
probe starts, lists and stops the child the first time a key is seen): the
child starts at the first request of one of its sessions that the catalog
cannot answer.

A stopped child keeps its upstream, its sessions and its fanout state: the
next request of one of its sessions starts it again, and the subscriptions
and log level come back with it.

A reconfiguration (L{KeyedPlacement.reconfigured}) brings new variants: the sessions
follow their route's new child at their child's next idle moment, and a
session whose route is gone is handed back to the gateway to end (which
ends it before the new variants come, whatever the pool:
L{mcpgateway.core.gateway.reconfiguring.Reconfigurer.reconfigure};
L{mcpgateway.core.pools.rebinder.Rebinder}).

Once promoted (a child asked a client something no session could be proven
to have caused), each new session gets a child of its own
(L{mcpgateway.core.pools.owned.OwnedChildren}); the sessions open then stay
where they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.logger import Logger

from mcpgateway.core.exchange import Sink
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.pools.attach import release
from mcpgateway.core.pools.capacity import ChildCapacity
from mcpgateway.core.pools.placement import Attached, KeyedRoutes, Kit
from mcpgateway.core.pools.pool import (
    GLOBAL_CHILD,
    SessionGone,
    UnknownRoute,
    childGone,
    disabledError,
)
from mcpgateway.core.pools.rebinder import Rebinder
from mcpgateway.core.pools.routechildren import RouteChildren
from mcpgateway.core.pools.scopecatalog import ScopeCatalog, listChild, scopeKey
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.core.era2026.types import Era2026Request

__all__ = ["KeyedPlacement"]


class KeyedPlacement:
    """The children of one workspace- or credential-scoped server, by child key.

    @ivar table: its children by child key, and its sessions bound to them.
    @ivar limit: what starts them within C{maxChildren}, and stops the idle.
    @ivar rebinder: what moves its sessions after a reload.
    """

    log = Logger(observer=logs.observer)
    single = None

    def __init__(self, kit: Kit) -> None:
        self._kit = kit
        self.table = RouteChildren(kit)
        self.limit = ChildCapacity(kit, self.table)
        self.rebinder = Rebinder(kit, self.table, self.limit)

    @property
    def attached(self) -> Attached:
        """Itself: its sessions attach to their route's child."""
        return self

    @property
    def keyed(self) -> KeyedRoutes:
        """Itself: its children are by route key."""
        return self

    # -- what it holds -------------------------------------------------------------

    def children(self) -> list[Upstream]:
        return self.table.upstreams()

    def childOf(self, session: Session) -> Upstream | None:
        return self.table.upstreamOf(session)

    def scopesOf(self, upstream: Upstream) -> tuple[str, ...]:
        return self.table.scopesOf(upstream)

    def principalOf(self, upstream: Upstream) -> str:
        return self.table.principalOf(upstream)

    def childFor(self, childKey: str) -> tuple[Upstream, Variant] | None:
        """The child of C{childKey} (made, not started, when it has none) and
        the variant of a route of the server that makes it now (C{None}: no
        route does): where a restart's kept child of that key is served."""
        for variant in self._kit.routes().values():
            if variant.childKey == childKey:
                return self.table.childOf(variant), variant
        return None

    def useLaunchSpec(self, spec: ServerSpec, owned: list[Upstream]) -> None:
        """Start the global route's child with C{spec} from its next spawn on
        (the other routes' children start from their own launch specs)."""
        child = self.table.child(GLOBAL_CHILD)
        if child is not None:
            child.spec = spec

    # -- MCP 2026-07-28 clients --------------------------------------------------------

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        """The child of the request's route and credentials, as a session of
        them would get (started when needed, once there is room). A call
        waiting for its client's input keeps its child busy: never evicted."""
        kit = self._kit
        if kit.disabled():
            return fail(disabledError(kit.spec().name))
        variant = kit.variantFor(
            request.scope, request.credentialKey, request.credentials, request.principal
        )
        if variant is None:
            return fail(UnknownRoute(f"server '{kit.spec().name}' has no route '{request.scope}'"))
        return self.limit.acquire(variant)

    def era2026Router(self, scope: str) -> Router | None:
        """The router of the route's child; of one of its credential (or
        principal) children when the route has no child without them."""
        return self.table.routerOf(scope)

    # -- sessions ----------------------------------------------------------------

    def prewarm(self) -> Deferred[None]:
        """Start the children the sessions are bound to (restored sessions)
        and, with C{prewarm}, the global route's."""
        kit = self._kit
        spec = kit.spec()
        if kit.disabled() or not spec.runnable:
            return succeed(None)
        table = self.table
        variants = {key: table.madeFrom(key) for key in table.boundKeys()}
        if spec.prewarm:
            keyless = kit.routes()[""]
            variants.setdefault(keyless.childKey, keyless)
        return self.limit.acquireAll([variant for _, variant in sorted(variants.items())])

    def open(self, session: Session, initialize: jsonrpc.Message) -> Deferred[jsonrpc.Message]:
        """Answered from the C{initialize} result of the child of the
        session's route (started, and initialized, first when needed)."""
        kit = self._kit
        variant = self.table.variantOf(session)

        def answer(upstream: Upstream) -> jsonrpc.Message:
            assert upstream.initializeResult is not None
            self.table.bind(session, variant, restoring=False)
            result = {**upstream.initializeResult, "protocolVersion": session.protocolVersion}
            return jsonrpc.resultResponse(initialize["id"], result)

        def start() -> Deferred[jsonrpc.Message]:
            return self.limit.acquire(variant).addCallback(answer)

        child = self.table.child(variant.childKey)
        running = child is not None and child.state is Lifecycle.RUNNING
        if running or not kit.scopeStartup.allowed(session):
            return start()
        key = scopeKey(kit.catalogHost, session, ownChild=False)

        def attach(opened: Session) -> None:
            self.table.bind(opened, variant, restoring=False)  # its child is not started

        return kit.scopeStartup.open(
            session, initialize, key, lambda: self.probeRoute(variant, key), start, attach
        )

    def probeRoute(self, variant: Variant, key: str) -> Deferred[ScopeCatalog]:
        """Start the child of C{variant} (the gateway initializes it), list
        it, and stop it unless a session uses it meanwhile."""
        kit = self._kit

        def listed(upstream: Upstream) -> Deferred[ScopeCatalog]:
            result = upstream.initializeResult or {}
            router = upstream.router
            listing = listChild(
                kit.spec(), key, result, router.call, kit.clock, self.log, ownChild=False
            )

            def stop(outcome: object) -> object:
                if not router.sessions and not router.clientRequestsInFlight():
                    upstream.stop()
                return outcome

            return listing.addBoth(stop)

        return self.limit.acquire(variant).addCallback(listed)

    def forwardPending(
        self, session: Session, message: jsonrpc.Message, related: Sink | None
    ) -> Deferred[jsonrpc.Message]:
        """A request of a session answered from its route's catalog: from
        the catalog when it can, else once its route's child runs (the
        sessions answered from the catalog on it are told what it lists
        differently)."""
        startup = self._kit.scopeStartup
        known = startup.answer(session, message, self._keepLevel)
        if known is not None:
            return succeed(known)

        def started(upstream: Upstream) -> Deferred[jsonrpc.Message]:
            key = self.table.keyOf(upstream)
            sessions = [] if key is None else self.table.boundTo(key)
            startup.started(sessions, upstream.router.call)
            return upstream.router.request(session, message, related)

        return self.ready(session).addCallback(started)

    def _keepLevel(self, session: Session, level: str) -> None:
        """Tell C{session}'s route's child, when it starts, the lowest log
        level of its sessions (as after a restart)."""
        upstream = self.table.upstreamOf(session)
        fanout = None if upstream is None else upstream.router.fanout
        if upstream is None or not isinstance(fanout, SharedFanout):
            return
        levels = [s.logLevel for s in upstream.router.sessions if s.logLevel in LOG_LEVELS]
        fanout.childLogLevel = min(levels, key=LOG_LEVELS.index) if levels else level

    def restore(self, session: Session) -> None:
        """Bind C{session} to the child of its route (started on its next
        request, or by the gateway's prewarm of restored sessions)."""
        self.table.bind(session, self.table.variantOf(session), restoring=True)

    def gone(self, session: Session) -> str | None:
        kit = self._kit
        if self.table.boundKey(session) is None and not kit.disabled():
            return childGone(kit.spec().name)
        return None

    def ready(self, session: Session) -> Deferred[Upstream]:
        kit = self._kit
        key = self.table.boundKey(session)
        upstream = None if key is None else self.table.child(key)
        if upstream is not None and upstream.state is Lifecycle.RUNNING:
            return succeed(upstream)
        if kit.disabled():
            return fail(disabledError(kit.spec().name))
        if key is None:
            raise SessionGone(childGone(kit.spec().name))
        variant = session.variant
        if variant is not None and variant.childKey != key:
            # Its route's launch changed, and its child is not running: move now.
            self.table.move(session, variant)
            self.rebinder.settle(key)
        else:
            variant = self.table.madeFrom(key)
        return self.limit.acquire(variant)

    def unbind(self, session: Session) -> None:
        self.table.unbind(session)

    def close(self, session: Session, reason: str) -> Deferred[None]:
        """Detach C{session}; its child stays (until idle) for the others."""
        upstream = self.table.unbind(session)
        if upstream is not None:
            release(upstream, session, reason)
        return succeed(None)

    # -- reconfiguration ---------------------------------------------------------------

    def reconfigured(self, before: tuple[object, ...]) -> list[Session]:
        """New variants: the sessions of a route that is gone are returned
        (to be ended); the others follow their route's new child key, at
        their child's next idle moment (L{Rebinder.reload
        <mcpgateway.core.pools.rebinder.Rebinder.reload>})."""
        self._kit.launcher.keep({key for key, _ in self.table.items()})
        return self.rebinder.reload()

    # -- the children ------------------------------------------------------------------

    def requestTimeoutOf(self, upstream: Upstream) -> float | None:
        key = self.table.keyOf(upstream)
        return None if key is None else self.table.routeTimeout(key)

    def expire(self, now: float) -> list[int]:
        """Stop the children quiet for their C{idleTimeout}
        (L{ChildCapacity.expire<mcpgateway.core.pools.capacity.ChildCapacity.expire>})."""
        return self.limit.expire(now)

    def restarted(self) -> None:
        self.limit.retry()

    def stopShared(self, why: str = "") -> Deferred[None]:
        """Stop every child of a route (each starts again on demand)."""
        stopping = DeferredList(
            [u.stop(why=why) for u in self.table.upstreams()], consumeErrors=True
        )
        self.limit.retry()
        return stopping.addCallback(lambda _: None)
