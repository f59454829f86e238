# -*- test-case-name: tests.core.pools.test_pool -*-
"""One child for every session of a server: the L{SharedPool}.

The child is started lazily (or at start, with C{prewarm}) and initialized
by the gateway itself, once, however many sessions wait on it; every
client's C{initialize} is answered from the cached result, with the
client's own protocol version. When it dies it comes back on demand (or by
itself while sessions are attached), after the backoff of the server's
breaker. Its traffic is spread over the sessions by a
L{mcpgateway.core.fanout.SharedFanout}. Only a shared child is ever idle
(L{SharedPool.idle}), pinged, or asked something by the gateway itself.

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
C{<state-dir>/.env}, or the entry's C{env}: L{SharedPool.useSpec}) restarts
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

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from mcpgateway.core.child import Child
from mcpgateway.core.era2026.mrtr import BridgeLimits
from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.exchange import Sink
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pools.attach import adopt
from mcpgateway.core.pools.base import BasePool
from mcpgateway.core.pools.fromcatalog import CatalogStartup
from mcpgateway.core.pools.pool import (
    Idle,
    PromotionSink,
    SessionGone,
    UnknownRoute,
    childGone,
    disabledError,
    launchEnvOf,
)
from mcpgateway.core.pools.staleenv import StaleRestart
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec, Sharing
from mcpgateway.core.status import CatalogCounts, Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs


class SharedPool(BasePool):
    """The shared child of one server.

    @ivar shared: its upstream, made on first use.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        spec: ServerSpec,
        spawner: Spawner,
        healing: HealingPolicy | None = None,
        promotions: PromotionSink | None = None,
        limits: BridgeLimits | None = None,
    ) -> None:
        super().__init__(spec, spawner, healing, promotions, limits)
        self.shared: Upstream | None = None
        self._pinging: set[Child] = set()
        """Children with a health ping waiting for its answer."""
        self.stale = StaleRestart(self, self.launcher, self.events, self._clock)
        """Restarts the shared child when idle after its environment changed."""
        self.startup = CatalogStartup(self)
        """Answers start-ups from the saved catalog while the child does not run."""
        if self._promotedAtStart():
            self._ownEach = True

    def _promotedAtStart(self) -> bool:
        """Whether the server was promoted in an earlier process: its
        sessions each own a child, its shared child is for MCP 2026-07-28
        requests only."""
        return self.spec.promoted is not None and self.spec.sharing is Sharing.SESSION

    def upstreams(self) -> list[Upstream]:
        shared = [self.shared] if self.shared is not None else []
        return shared + list(self.owned.perSession.values()) if self.owned else shared

    def upstreamFor(self, session: Session) -> Upstream | None:
        if self.owned:
            owned = self.owned.perSession.get(session.id)
            if owned is not None:
                return owned
        return self.shared

    def byOwner(self) -> list[tuple[str | None, Upstream]]:
        shared: list[tuple[str | None, Upstream]] = (
            [(None, self.shared)] if self.shared is not None else []
        )
        return shared + list(self.owned.perSession.items())

    def _upstream(self) -> Upstream:
        if self.shared is None:
            shared = self.shared = self.maker.make(SharedFanout())
            listed = shared.onReady

            def ready(upstream: Upstream) -> None:
                if listed is not None:
                    listed(upstream)  # the catalogs list it first
                self.startup.childReady(upstream)

            shared.onReady = ready
            shared.onLost = self.owned.notices.lost  # each session it served is told
        return self.shared

    def prewarm(self) -> Deferred[None]:
        """Start the shared child (not for a server promoted before this
        process: its sessions own their children, and 2026 requests
        start the shared one, unless the server says C{prewarm})."""
        if self.disabled or self.spec.executable is None:
            return succeed(None)
        if self._promotedAtStart() and not self.spec.prewarm:
            return succeed(None)
        return self.launcher.whenLaunchable(self._upstream().ensure)

    # -- MCP 2026-07-28 clients ----------------------------------------------------

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        """The shared child (a promoted server's too: promotion moves 2025
        sessions only), started and initialized when needed."""
        if self.disabled:
            return fail(disabledError(self.spec.name))
        if request.scope:
            return fail(UnknownRoute(f"server '{self.spec.name}' has no route '{request.scope}'"))
        shared = self._upstream()
        if shared.state is Lifecycle.RUNNING:
            return succeed(shared)
        return self.launcher.whenLaunchable(shared.ensure).addCallback(lambda _: shared)

    def era2026Router(self, scope: str) -> Router | None:
        return self.shared.router if self.shared is not None and not scope else None

    def serveEra2026(self, request: Era2026Request, sink: Sink) -> Deferred[jsonrpc.Message]:
        """A 2026 C{server/discover} or list from the saved catalog while the
        child does not run (L{CatalogStartup}); anything else as always."""
        return self.startup.serveEra2026(request, lambda: self.era2026.serveEra2026(request, sink))

    # -- sessions ----------------------------------------------------------------

    def open(
        self,
        session: Session,
        initialize: jsonrpc.Message,
    ) -> Deferred[jsonrpc.Message]:
        """Answered from the shared child's C{initialize} result (the child is
        started and initialized first when needed)."""
        if self.disabled:
            return fail(disabledError(self.spec.name))
        if self._ownEach:
            return self.openOwned(session, initialize)
        shared = self._upstream()

        def answer(_: None) -> jsonrpc.Message:
            assert shared.initializeResult is not None
            shared.router.attach(session)
            result = {**shared.initializeResult, "protocolVersion": session.protocolVersion}
            return jsonrpc.resultResponse(initialize["id"], result)

        def start() -> Deferred[jsonrpc.Message]:
            return self.launcher.whenLaunchable(shared.ensure).addCallback(answer)

        return self.startup.open(session, initialize, shared, start)

    def restore(self, session: Session) -> None:
        """Attach C{session} as if it had just initialized, and count its
        subscriptions and log level: the child (started and initialized by the
        gateway as always) is told them when it is initialized (or now, if it
        runs). A server promoted before this process gives it a child of
        its own (its C{initialize} replayed on its next request)."""
        if self._promotedAtStart():
            self.owned.restore(session)
            return
        upstream = self._upstream()
        adopt(upstream, session)
        if upstream.state is not Lifecycle.RUNNING and session.called:
            # The child it gets is started anew, unless the restart keeps it.
            self.owned.notices.mark(session, "restored on a gateway that did not keep its child")

    def servedFromCatalog(self) -> bool:
        return self.startup.serving() or self.scopeStartup.serving()

    def startsOnCall(self) -> bool:
        shared = self.shared
        fanout = None if shared is None else shared.router.fanout
        if isinstance(fanout, SharedFanout) and fanout.subscriptions:
            return False  # updates of a subscribed resource come from a running child
        return self.startup.initializeFor(None) is not None

    def catalogCounts(self) -> CatalogCounts:
        shared, owned = self.startup.counts, self.scopeStartup.counts
        return CatalogCounts(shared.startups + owned.startups, shared.answers + owned.answers)

    def childTasks(self, session: Session) -> Deferred[bool]:
        """What the saved catalog says while the child does not run (its
        capabilities are the child's), else what the child says."""
        if session in self.owned:
            return super().childTasks(session)  # its own child's (or its scope's catalog's)
        known = self.startup.initializeFor(session)
        if known is None:
            return super().childTasks(session)
        reads = self.taskSupport
        return succeed(reads is not None and reads(known))

    def gone(self, session: Session) -> str | None:
        if session in self.owned:
            return self.owned.gone(session)
        if self.shared is None and not self.disabled:
            return childGone(self.spec.name)
        return None

    def ready(self, session: Session) -> Deferred[Upstream]:
        if session in self.owned:
            return self.owned.ready(session)
        upstream = self.shared
        if upstream is not None and upstream.state is Lifecycle.RUNNING:
            return succeed(upstream)
        if self.disabled:
            return fail(disabledError(self.spec.name))
        if upstream is None:
            raise SessionGone(childGone(self.spec.name))
        return self.launcher.whenLaunchable(upstream.ensure).addCallback(lambda _: upstream)

    def forward(
        self,
        session: Session,
        message: jsonrpc.Message,
        related: Sink | None,
    ) -> Deferred[jsonrpc.Message]:
        notices = self.owned.notices
        if notices and session in notices and session not in self.owned:
            answer = self._forward(session, message, related).addCallback(self._kept, session)
            return notices.told(answer, session, related)
        return self._forward(session, message, related)

    def _kept(self, answer: jsonrpc.Message, session: Session) -> jsonrpc.Message:
        """A restored C{session}'s answer came: nothing to tell it if the
        shared child is one a restart kept (with its memory)."""
        if self.shared is not None and self.shared.adopted:
            self.owned.notices.forget(session)
        return answer

    def _forward(
        self,
        session: Session,
        message: jsonrpc.Message,
        related: Sink | None,
    ) -> Deferred[jsonrpc.Message]:
        upstream = self.shared
        if (
            upstream is not None
            and upstream.state is Lifecycle.RUNNING
            and not self.disabled
            and not self._ownEach
        ):
            return upstream.router.request(session, message, related)  # the hot path
        if self.scopeStartup.pending(session):
            return self.forwardOwned(session, message, related)
        if not self._ownEach:
            known = self.startup.answer(session, message)
            if known is not None:
                return succeed(known)
        if self._ownEach and session not in self.owned and upstream is not None:
            self.owned.takeOver(session, upstream)
        if self.owned.replaying(session):
            return self.owned.forward(session, message, related)
        return super().forward(session, message, related)

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session}; the shared child stays for the others (an owned
        child stops)."""
        self.startup.forget(session)
        self.scopeStartup.forget(session)
        self.owned.notices.forget(session)
        if session in self.owned:
            return self.owned.close(session, reason)
        if self.shared is not None:
            self.shared.router.detach(session, reason)
        return succeed(None)

    # -- reconfiguration -----------------------------------------------------------

    def useSpec(self, spec: ServerSpec) -> list[Session]:
        """Serve C{spec}; if the shared child's environment changed, restart
        it at its next idle moment (L{StaleRestart})."""
        before = launchEnvOf(self.launchSpec)
        ended = super().useSpec(spec)
        self.stale.changed(before)
        return ended

    # -- the child ---------------------------------------------------------------

    def stopShared(self) -> Deferred[None]:
        if self.shared is None:
            return succeed(None)
        return self.shared.stop()

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

    def call(self, method: str, params: dict[str, Any]) -> Deferred[jsonrpc.Message] | None:
        upstream = self.shared
        if upstream is None or upstream.state is not Lifecycle.RUNNING:
            return None
        return upstream.router.call(method, params)

    def healthPing(self) -> None:
        upstream = self.shared
        child = upstream.child if upstream is not None else None
        if upstream is None or child is None or child in self._pinging:
            return
        self._pinging.add(child)

        def answered(response: jsonrpc.Message) -> None:
            self._pinging.discard(child)
            if (
                response.get("error", {}).get("code") == jsonrpc.REQUEST_TIMEOUT
                and upstream.child is child
            ):
                text = "did not answer a health ping; killing it"
                self.log.warn(
                    "server {server}: child pid {pid} {text}",
                    server=self.spec.name,
                    pid=child.pid,
                    text=text,
                )
                self.events.emit("ping-timeout", text, pid=child.pid)
                child.signal("KILL")

        upstream.router.call("ping").addCallback(answered)
