# -*- test-case-name: tests.core.pools.test_scoped -*-
"""One child per launch spec of a server: the L{ScopedPool} (workspace and
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
order (L{mcpgateway.core.pools.keyed.RouteChildren}). The pool is bounded:
at most C{spec.maxChildren} children run at once, and those quiet for their
C{idleTimeout} are stopped (L{mcpgateway.core.pools.capacity.ChildLimit}).

While a route's child does not run, a session's start-up is answered from
the catalog of that child's key (L{mcpgateway.core.pools.scopecatalog}: a
probe starts, lists and stops the child the first time a key is seen): the
child starts at the first request of one of its sessions that the catalog
cannot answer.

A stopped child keeps its upstream, its sessions and its fanout state: the
next request of one of its sessions starts it again, and the subscriptions
and log level come back with it.

A reconfiguration (L{ScopedPool.useSpec}) brings new variants: the sessions
follow their route's new child at their child's next idle moment, and a
session whose route is gone is handed back to the gateway to end (which
ends it before the new variants come, whatever the pool:
L{mcpgateway.core.gateway.reconfiguring.Reconfigurer.reconfigure};
L{mcpgateway.core.pools.rebinding.Rebinder}).

Once promoted (a child asked a client something no session could be proven
to have caused), each new session gets a child of its own
(L{mcpgateway.core.pools.owned.OwnedChildren}); the sessions open then stay
where they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.logger import Logger

from mcpgateway.core.era2026.mrtr import BridgeLimits
from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.exchange import Sink
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pools.attach import release
from mcpgateway.core.pools.base import BasePool
from mcpgateway.core.pools.capacity import ChildLimit
from mcpgateway.core.pools.keyed import RouteChildren
from mcpgateway.core.pools.pool import (
    GLOBAL_CHILD,
    Idle,
    PromotionSink,
    SessionGone,
    UnknownRoute,
    childGone,
    disabledError,
)
from mcpgateway.core.pools.rebinding import Rebinder
from mcpgateway.core.pools.scopecatalog import ScopeCatalog, listChild, scopeKey
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.runtime import logs

__all__ = ["ScopedPool"]


class ScopedPool(BasePool):
    """The children of one workspace- or credential-scoped server, by child key.

    @ivar table: its children by child key, and its sessions bound to them.
    @ivar limit: what starts them within C{maxChildren}, and stops the idle.
    @ivar rebinder: what moves its sessions after a reload.
    """

    log = Logger(observer=logs.observer)
    perLaunch = True

    def __init__(
        self,
        spec: ServerSpec,
        spawner: Spawner,
        healing: HealingPolicy | None = None,
        promotions: PromotionSink | None = None,
        limits: BridgeLimits | None = None,
    ) -> None:
        super().__init__(spec, spawner, healing, promotions, limits)
        self.table = RouteChildren(self, self.maker, self.launcher)
        self.limit = ChildLimit(
            self, self.table, self.launcher, self.limitCounts, self.events, self._clock
        )
        self.rebinder = Rebinder(self, self.table, self.limit, self.events)

    # -- what it holds -------------------------------------------------------------

    def upstreams(self) -> list[Upstream]:
        return list(self.table.children.values()) + list(self.owned.perSession.values())

    def upstreamFor(self, session: Session) -> Upstream | None:
        if self.owned:
            owned = self.owned.perSession.get(session.id)
            if owned is not None:
                return owned
        return self.table.upstreamOf(session)

    def childKeyOf(self, session: Session) -> str | None:
        """The child key C{session} is bound to (C{None}: none, or an owned child)."""
        return self.table.bound.get(session.id)

    def byOwner(self) -> list[tuple[str | None, Upstream]]:
        shared: list[tuple[str | None, Upstream]] = [
            (None, u) for u in self.table.children.values()
        ]
        return shared + list(self.owned.perSession.items())

    def scopesOf(self, upstream: Upstream) -> tuple[str, ...]:
        return self.table.scopesOf(upstream)

    def principalOf(self, upstream: Upstream) -> str:
        return self.table.principalOf(upstream)

    def useLaunchSpec(self, spec: ServerSpec) -> None:
        """Start the global route's child with C{spec} from its next spawn on
        (the other routes' children start from their own launch specs)."""
        self.launchSpec = spec
        child = self.table.children.get(GLOBAL_CHILD)
        if child is not None:
            child.spec = spec

    # -- MCP 2026-07-28 clients --------------------------------------------------------

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        """The child of the request's route and credentials, as a session of
        them would get (started when needed, once there is room). A call
        waiting for its client's input keeps its child busy: never evicted."""
        if self.disabled:
            return fail(disabledError(self.spec.name))
        variant = self.variantFor(
            request.scope, request.credentialKey, request.credentials, request.principal
        )
        if variant is None:
            return fail(UnknownRoute(f"server '{self.spec.name}' has no route '{request.scope}'"))
        return self.limit.acquire(variant)

    def era2026Router(self, scope: str) -> Router | None:
        """The router of the route's child; of one of its credential (or
        principal) children when the route has no child without them."""
        return self.table.routerOf(scope)

    # -- sessions ----------------------------------------------------------------

    def prewarm(self) -> Deferred[None]:
        """Start the children the sessions are bound to (restored sessions)
        and, with C{prewarm}, the global route's."""
        if self.disabled or not self.spec.runnable:
            return succeed(None)
        table = self.table
        variants = {key: table.made[key] for key in set(table.bound.values())}
        if self.spec.prewarm:
            variants.setdefault(self.routes[""].childKey, self.routes[""])
        return self.limit.acquireAll([variant for _, variant in sorted(variants.items())])

    def open(
        self,
        session: Session,
        initialize: jsonrpc.Message,
    ) -> Deferred[jsonrpc.Message]:
        """Answered from the C{initialize} result of the child of the
        session's route (started, and initialized, first when needed)."""
        if self.disabled:
            return fail(disabledError(self.spec.name))
        if self._ownEach:
            return self.openOwned(session, initialize)
        variant = self.table.variantOf(session)

        def answer(upstream: Upstream) -> jsonrpc.Message:
            assert upstream.initializeResult is not None
            self.table.bind(session, variant, restoring=False)
            result = {**upstream.initializeResult, "protocolVersion": session.protocolVersion}
            return jsonrpc.resultResponse(initialize["id"], result)

        def start() -> Deferred[jsonrpc.Message]:
            return self.limit.acquire(variant).addCallback(answer)

        child = self.table.children.get(variant.childKey)
        running = child is not None and child.state is Lifecycle.RUNNING
        if running or not self.scopeStartup.allowed(session):
            return start()
        key = scopeKey(self, session, ownChild=False)

        def attach(opened: Session) -> None:
            self.table.bind(opened, variant, restoring=False)  # its child is not started

        return self.scopeStartup.open(
            session, initialize, key, lambda: self._probeRoute(variant, key), start, attach
        )

    def _probeRoute(self, variant: Variant, key: str) -> Deferred[ScopeCatalog]:
        """Start the child of C{variant} (the gateway initializes it), list
        it, and stop it unless a session uses it meanwhile."""

        def listed(upstream: Upstream) -> Deferred[ScopeCatalog]:
            result = upstream.initializeResult or {}
            router = upstream.router
            listing = listChild(
                self.spec, key, result, router.call, self._clock, self.log, ownChild=False
            )

            def stop(outcome: object) -> object:
                if not router.sessions and not router.clientRequestsInFlight():
                    upstream.stop()
                return outcome

            return listing.addBoth(stop)

        return self.limit.acquire(variant).addCallback(listed)

    def _forwardPending(
        self, session: Session, message: jsonrpc.Message, related: Sink | None
    ) -> Deferred[jsonrpc.Message]:
        """A request of a session answered from its route's catalog: from
        the catalog when it can, else once its route's child runs (the
        sessions answered from the catalog on it are told what it lists
        differently)."""
        known = self.scopeStartup.answer(session, message, self._keepLevel)
        if known is not None:
            return succeed(known)

        def started(upstream: Upstream) -> Deferred[jsonrpc.Message]:
            key = self.table.keyOf(upstream)
            sessions = [s for s in self.table.sessions.values() if self.table.bound[s.id] == key]
            self.scopeStartup.started(sessions, upstream.router.call)
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
        if session in self.owned:
            return self.owned.gone(session)
        if session.id not in self.table.bound and not self.disabled:
            return childGone(self.spec.name)
        return None

    def ready(self, session: Session) -> Deferred[Upstream]:
        if session in self.owned:
            return self.owned.ready(session)
        key = self.table.bound.get(session.id)
        upstream = None if key is None else self.table.children.get(key)
        if upstream is not None and upstream.state is Lifecycle.RUNNING:
            return succeed(upstream)
        if self.disabled:
            return fail(disabledError(self.spec.name))
        if key is None:
            raise SessionGone(childGone(self.spec.name))
        variant = session.variant
        if variant is not None and variant.childKey != key:
            # Its route's launch changed, and its child is not running: move now.
            self.table.move(session, variant)
            self.rebinder.settle(key)
        else:
            variant = self.table.made[key]
        return self.limit.acquire(variant)

    def forward(
        self,
        session: Session,
        message: jsonrpc.Message,
        related: Sink | None,
    ) -> Deferred[jsonrpc.Message]:
        """To the child of the session's route; a session opened before the
        server was promoted moves to a child of its own first (as on a
        shared server: L{mcpgateway.core.pools.shared.SharedPool.forward}), and a
        session whose own child is being started (its C{initialize}
        replayed) waits for it."""
        if self.scopeStartup.pending(session):
            if session in self.owned:
                return self.forwardOwned(session, message, related)
            return self._forwardPending(session, message, related)
        if self._ownEach and session not in self.owned:
            upstream = self.table.upstreamOf(session)
            if upstream is not None and self.owned.takeOver(session, upstream):
                self.table.unbind(session)
        if self.owned.replaying(session):
            return self.owned.forward(session, message, related)
        return super().forward(session, message, related)

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session}; its child stays (until idle) for the others."""
        self.scopeStartup.forget(session)
        if session in self.owned:
            return self.owned.close(session, reason)
        upstream = self.table.unbind(session)
        if upstream is not None:
            release(upstream, session, reason)
        return succeed(None)

    # -- reconfiguration ---------------------------------------------------------------

    def useSpec(self, spec: ServerSpec) -> list[Session]:
        """New variants: the sessions of a route that is gone are returned
        (to be ended); the others follow their route's new child key, at
        their child's next idle moment (L{Rebinder.reload
        <mcpgateway.core.pools.rebinding.Rebinder.reload>})."""
        super().useSpec(spec)
        self.launcher.keep(self.table.children)
        return self.rebinder.reload()

    # -- the children ------------------------------------------------------------------

    def _requestTimeoutOf(self, upstream: Upstream, before: float) -> float:
        key = self.table.keyOf(upstream)
        if key is not None:
            return self.table.routeTimeout(key)
        return super()._requestTimeoutOf(upstream, before)  # a session's own child

    def expire(self, now: float) -> list[int]:
        """Stop the children quiet for their C{idleTimeout}
        (L{ChildLimit.expire<mcpgateway.core.pools.capacity.ChildLimit.expire>})."""
        return self.limit.expire(now)

    def restart(
        self,
        endSession: Callable[[Session], object],
        why: str,
    ) -> Deferred[list[int]]:
        stopping = super().restart(endSession, why)
        self.limit.retry()
        return stopping

    def stopShared(self) -> Deferred[None]:
        """Stop every child of a route (each starts again on demand)."""
        stopping = DeferredList(
            [u.stop() for u in self.table.children.values()], consumeErrors=True
        )
        self.limit.retry()
        return stopping.addCallback(lambda _: None)

    def idle(self, now: float) -> Idle | None:
        """Never as a whole: L{expire} stops each child when it is idle."""
        return None

    def call(self, method: str, params: dict[str, Any]) -> Deferred[jsonrpc.Message] | None:
        """Ask the global route's child, when it runs."""
        upstream = self.table.globalChild()
        if upstream is None or upstream.state is not Lifecycle.RUNNING:
            return None
        return upstream.router.call(method, params)

    def healthPing(self) -> None:
        """Nothing: a scoped child that is idle is stopped (L{expire}), not pinged."""
