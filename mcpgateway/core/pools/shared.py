# -*- test-case-name: tests.core.pools.test_pool -*-
"""One child for every session of a server: the L{SharedPlacement}.

The child is started lazily (or at start, with C{prewarm}) and initialized
by the gateway itself, once, however many sessions wait on it; every
client's C{initialize} is answered from the cached result, with the
client's own protocol version. When it dies it comes back on demand (or by
itself while sessions are attached), after the backoff of the server's
breaker. Its traffic is spread over the sessions by a
L{mcpgateway.core.fanout.SharedFanout}. Only a shared child is ever idle
(L{SharedPlacement.idle}), pinged, or asked something by the gateway itself.

Once promoted (its child asked a client something no session could be proven
to have caused), each new session gets a child of its own
(L{mcpgateway.core.pools.owned.OwnedChildren}), and each session open then
moves to one at its next request with nothing of it in flight on the shared
child: the gateway starts that child and replays the session's
C{initialize} (and log level and subscriptions) before forwarding, so the
client's session id keeps working. A server promoted in an earlier process (C{promotions.json},
its spec's C{share} is C{session}) is promoted from the start: every
session, restored ones included, gets a child of its own. Either way MCP
2026-07-28 requests are served by the shared child, started on demand.

While its child does not run, a session's start-up (its C{initialize},
the lists, a 2026 C{server/discover}) is answered from the server's saved
catalog when one is current (L{mcpgateway.core.pools.fromcatalog}): the
child starts at the first request the catalog cannot answer.

A reconfiguration that changes only the child's environment (the gateway's
C{<state-dir>/.env}, or the entry's C{env}: L{SharedPlacement.reconfigured}) restarts
the shared child at its next idle moment (nothing of a client in flight):
the gateway stops it, starts and initializes the new one itself, and gives
it back the sessions' subscriptions and log level, as after a crash; the
sessions carry on. The sessions' own children (a promoted server's) keep
theirs until their sessions end.

A session restored while the shared child does not run (after a gateway
restart) is told with its next answer that the shared child is new
(L{mcpgateway.core.pools.lostchild}), unless the restart kept it; so is
each session a shared child served when that child exits, or is stopped,
while the gateway runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from mcpgateway.core.child import Child
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.pools.attach import adopt
from mcpgateway.core.pools.fromcatalog import CatalogStartup
from mcpgateway.core.pools.placement import Attached, Kit, SingleChild
from mcpgateway.core.pools.pool import (
    Idle,
    SessionGone,
    UnknownRoute,
    childGone,
    disabledError,
    promotedAtStart,
)
from mcpgateway.core.pools.snapshot import keysOf
from mcpgateway.core.pools.staleenv import StaleEnvRestart
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.core.era2026.types import Era2026Request

__all__ = ["SharedPlacement"]


class SharedPlacement:
    """The shared child of one server.

    @ivar shared: its upstream, made on first use.
    @ivar startup: answers start-ups from the saved catalog while the child does not run.
    """

    log = Logger(observer=logs.observer)
    keyed = None

    def __init__(self, kit: Kit) -> None:
        self._kit = kit
        self.shared: Upstream | None = None
        self._pinging: set[Child] = set()
        """Children with a health ping waiting for its answer."""
        self._stale = StaleEnvRestart(kit, lambda: self.shared)
        """Restarts the shared child when idle after its environment changed."""
        self.startup = CatalogStartup(kit.catalogHost, lambda: self.shared, kit.ownsEach)

    @property
    def attached(self) -> Attached:
        """Itself: its sessions attach to its child."""
        return self

    @property
    def single(self) -> SingleChild:
        """Itself: its child is the one of every session."""
        return self

    def children(self) -> list[Upstream]:
        return [] if self.shared is None else [self.shared]

    def childOf(self, session: Session) -> Upstream | None:
        return self.shared

    def upstream(self) -> Upstream:
        """The shared child's upstream, made (not started) on first use."""
        if self.shared is None:
            shared = self.shared = self._kit.maker.make(SharedFanout())
            listed = shared.onReady

            def ready(upstream: Upstream) -> None:
                if listed is not None:
                    listed(upstream)  # the catalogs list it first
                self.startup.childReady(upstream)

            shared.onReady = ready
            shared.onLost = self._kit.notices.lost  # each session it served is told
        return self.shared

    def prewarm(self) -> Deferred[None]:
        """Start the shared child (not for a server promoted before this
        process: its sessions own their children, and 2026 requests
        start the shared one, unless the server says C{prewarm})."""
        kit = self._kit
        spec = kit.spec()
        if kit.disabled() or spec.executable is None:
            return succeed(None)
        if promotedAtStart(spec) and not spec.prewarm:
            return succeed(None)
        return kit.launcher.whenLaunchable(self.upstream().ensure)

    # -- MCP 2026-07-28 clients ----------------------------------------------------

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        """The shared child (a promoted server's too: promotion moves 2025
        sessions only), started and initialized when needed."""
        kit = self._kit
        if kit.disabled():
            return fail(disabledError(kit.spec().name))
        if request.scope:
            return fail(UnknownRoute(f"server '{kit.spec().name}' has no route '{request.scope}'"))
        shared = self.upstream()
        if shared.state is Lifecycle.RUNNING:
            return succeed(shared)
        return kit.launcher.whenLaunchable(shared.ensure).addCallback(lambda _: shared)

    def era2026Router(self, scope: str) -> Router | None:
        return self.shared.router if self.shared is not None and not scope else None

    # -- sessions ----------------------------------------------------------------

    def open(self, session: Session, initialize: jsonrpc.Message) -> Deferred[jsonrpc.Message]:
        """Answered from the shared child's C{initialize} result (the child is
        started and initialized first when needed)."""
        shared = self.upstream()

        def answer(_: None) -> jsonrpc.Message:
            assert shared.initializeResult is not None
            shared.router.attach(session)
            result = {**shared.initializeResult, "protocolVersion": session.protocolVersion}
            return jsonrpc.resultResponse(initialize["id"], result)

        def start() -> Deferred[jsonrpc.Message]:
            return self._kit.launcher.whenLaunchable(shared.ensure).addCallback(answer)

        return self.startup.open(session, initialize, shared, start)

    def restore(self, session: Session) -> None:
        """Attach C{session} as if it had just initialized, and count its
        subscriptions and log level: the child (started and initialized by the
        gateway as always) is told them when it is initialized (or now, if it
        runs)."""
        upstream = self.upstream()
        adopt(upstream, session)
        if upstream.state is not Lifecycle.RUNNING and session.called:
            # The child it gets is started anew, unless the restart keeps it.
            self._kit.notices.mark(session, "restored on a gateway that did not keep its child")

    def gone(self, session: Session) -> str | None:
        kit = self._kit
        if self.shared is None and not kit.disabled():
            return childGone(kit.spec().name)
        return None

    def ready(self, session: Session) -> Deferred[Upstream]:
        kit = self._kit
        upstream = self.shared
        if upstream is not None and upstream.state is Lifecycle.RUNNING:
            return succeed(upstream)
        if kit.disabled():
            return fail(disabledError(kit.spec().name))
        if upstream is None:
            raise SessionGone(childGone(kit.spec().name))
        return kit.launcher.whenLaunchable(upstream.ensure).addCallback(lambda _: upstream)

    def close(self, session: Session, reason: str) -> Deferred[None]:
        """Detach C{session}; the shared child stays for the others."""
        if self.shared is not None:
            self.shared.router.detach(session, reason)
        return succeed(None)

    # -- reconfiguration -----------------------------------------------------------

    def reconfigured(self, before: tuple[object, ...]) -> list[Session]:
        """If the shared child's environment changed, restart it at its
        next idle moment (L{StaleEnvRestart})."""
        self._stale.changed(before)
        return []

    def useLaunchSpec(self, spec: ServerSpec, owned: list[Upstream]) -> None:
        for upstream in self.children() + owned:
            # A child that serves one principal keeps serving that principal.
            upstream.spec = spec.forPrincipal(upstream.spec.principal)

    # -- the child ---------------------------------------------------------------

    def scopesOf(self, upstream: Upstream) -> tuple[str, ...]:
        """The global route's key, and those its sessions came with."""
        return keysOf(upstream.router.sessions, "")

    def principalOf(self, upstream: Upstream) -> str:
        return ""

    def stopShared(self, why: str = "") -> Deferred[None]:
        if self.shared is None:
            return succeed(None)
        return self.shared.stop(why=why)

    def idle(self, now: float) -> Idle | None:
        upstream = self.shared
        if upstream is None or upstream.state is not Lifecycle.RUNNING or upstream.router.inFlight:
            return None
        router = upstream.router
        # 2026 clients use it without sessions: their last request counts too.
        return Idle(
            quiet=now - router.lastActivity,
            unused=None if router.sessions else now - max(router.unusedSince, router.lastActivity),
        )

    def healthPing(self) -> None:
        upstream = self.shared
        child = upstream.child if upstream is not None else None
        if upstream is None or child is None or child in self._pinging:
            return
        self._pinging.add(child)
        kit = self._kit

        def answered(response: jsonrpc.Message) -> None:
            self._pinging.discard(child)
            if (
                response.get("error", {}).get("code") == jsonrpc.REQUEST_TIMEOUT
                and upstream.child is child
            ):
                text = "did not answer a health ping; killing it"
                self.log.warn(
                    "server {server}: child pid {pid} {text}",
                    server=kit.spec().name,
                    pid=child.pid,
                    text=text,
                )
                kit.events.emit("ping-timeout", text, pid=child.pid)
                child.kill("did not answer a health ping")

        upstream.router.call("ping").addCallback(answered)
