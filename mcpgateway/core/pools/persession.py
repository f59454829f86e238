# -*- test-case-name: tests.core.test_pool -*-
"""One child per session of a server: the L{PerSessionPool}.

Each session's child is spawned at that session's C{initialize}, which is
forwarded to it (the client initializes its own child, and the session
adopts the protocol version the child answers with); everything the child
says is the session's (L{mcpgateway.core.fanout.OwnerFanout}). The child is
stopped when the session ends.

A session whose child is not running gets a fresh child on its next request:
the gateway replays the session's own C{initialize} and
C{notifications/initialized} (and its log level and subscriptions) before that
request, so the client's session id keeps working and no client initializes
again. That is the case of a session restored from a previous gateway process
(L{PerSessionPool.restore}), of a session whose child crashed or was killed
(its requests in flight got their error), and of a session of a promoted
shared server moving to a child of its own. What the old child kept in memory
is lost, and logged as such.

The children themselves are kept by L{OwnedChildren}, which a shared or
scoped pool uses too once it was promoted (each new session then gets a child
of its own). A session that came through a workspace route
(C{session.variant}) gets that workspace's launch spec (cwd and env).

A reconfiguration that changes only the environment (the gateway's
C{<state-dir>/.env}, a workspace's C{.env}, the entry's C{env}:
L{PerSessionPool.useSpec}) ends no session and restarts no child: a
session's child keeps what it was started with (restarting it would lose
what it holds for its session, the reason it is its own) until its session
ends; sessions opened from then on get the new environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from mcpgateway.core.era2026.mrtr import BridgeLimits
from mcpgateway.core.era2026.types import ModernRequest
from mcpgateway.core.fanout import OwnerFanout
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pools.pool import (
    BasePool,
    Idle,
    NoSharedChild,
    PidProbe,
    PromotionSink,
    SessionGone,
    Sweep,
    launchEnvOf,
)
from mcpgateway.core.router import Router, Sink
from mcpgateway.core.sessions import Session
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc


class OwnedChildren:
    """The children of a pool's sessions that have one of their own, by
    session id: spawned at the session's C{initialize} (forwarded to it),
    stopped when it ends; a session whose child is not running (restored,
    crashed, moved here) gets one on its next request, the session's
    C{initialize} replayed to it.

    @ivar perSession: each session's upstream, by session id.
    @ivar closed: how many sessions were closed (their children stopped).
    """

    def __init__(self, pool: BasePool) -> None:
        self._pool = pool
        self.perSession: dict[str, Upstream] = {}
        self.owners: dict[str, Session] = {}
        self.closed = 0
        self._replays: dict[str, list[Deferred[Upstream]]] = {}
        """Sessions whose child has not been initialized yet, with the
        requests waiting for that (an empty list: none started yet)."""
        self._why: dict[str, str] = {}
        """Why each of those sessions gets a new child (for the log)."""

    def __contains__(self, session: Session) -> bool:
        return session.id in self.perSession

    def __bool__(self) -> bool:
        return bool(self.perSession)

    def _add(self, session: Session) -> Upstream:
        pool = self._pool
        variant = getattr(session, "variant", None)  # a test's double may have none
        upstream = pool._newUpstream(
            OwnerFanout(session), None if variant is None else variant.launch
        )
        self.perSession[session.id] = upstream
        self.owners[session.id] = session
        upstream.router.attach(session)
        return upstream

    def _start(self, session: Session, upstream: Upstream) -> Deferred[None]:
        """Start C{upstream} with the launch spec of C{session}'s route."""
        pool = self._pool
        variant = getattr(session, "variant", None)

        def launch() -> Deferred[None]:
            def spawn(spec: ServerSpec) -> Deferred[None]:
                upstream.spec = spec
                return upstream.ensure()

            return pool._launchOf(variant).addCallback(spawn)

        return pool._whenLaunchable(launch)

    def open(self, session: Session, initialize: jsonrpc.Message) -> Deferred[jsonrpc.Message]:
        """Spawn the session's own child and forward its C{initialize} to it."""
        upstream = self._add(session)

        def forward(_: None) -> Deferred[jsonrpc.Message]:
            return upstream.router.request(session, initialize, None)

        def adopt(response: jsonrpc.Message) -> jsonrpc.Message:
            result = response.get("result")
            if isinstance(result, dict):
                upstream.sessionInitializeResult = result
                upstream.sessionCapabilities = session.capabilities
                if isinstance(result.get("protocolVersion"), str):
                    session.protocolVersion = result["protocolVersion"]
            return response

        return self._start(session, upstream).addCallback(forward).addCallback(adopt)

    def restore(self, session: Session, why: str = "restored after a gateway restart") -> None:
        """Give C{session} a child to be started, and its C{initialize}
        replayed, on its next request (C{why}: for the log line then)."""
        self._add(session)
        self._replays[session.id] = []
        self._why[session.id] = why

    def gone(self, session: Session) -> str | None:
        """Why C{session} cannot be served any more, or C{None}. A session
        whose child exited is not gone: its next request starts a new one."""
        if session.id in self._replays:
            return None
        upstream = self.perSession.get(session.id)
        if upstream is None:
            return None if self._pool.disabled else self._pool._sessionGone()
        if upstream.state is Lifecycle.STOPPED and not self._pool.disabled:
            self._relaunch(session, upstream)
        return None

    def _relaunch(self, session: Session, upstream: Upstream) -> None:
        """C{session}'s child exited: its next request starts a new one."""
        why = upstream.lastExit or "exited"
        self._replays[session.id] = []
        self._why[session.id] = f"whose child {why}"
        self._pool.log.info(
            "server {server}: the child of session {sid} {why}; its next request starts a"
            " new one and replays the session's initialize",
            server=self._pool.spec.name,
            sid=session.shortId,
            why=why,
        )

    def replaying(self, session: Session) -> bool:
        return session.id in self._replays

    def ready(self, session: Session) -> Deferred[Upstream]:
        pool = self._pool
        upstream = self.perSession.get(session.id)
        replaying = session.id in self._replays
        if not replaying and upstream is not None and upstream.state is Lifecycle.RUNNING:
            return succeed(upstream)
        if pool.disabled:
            return fail(pool._disabled())
        waiters = self._replays.get(session.id)
        if waiters is not None and upstream is not None:
            waiter: Deferred[Upstream] = Deferred()
            waiters.append(waiter)
            if len(waiters) == 1:
                self._replay(session, upstream)
            return waiter
        raise SessionGone(pool._sessionGone())

    def forward(
        self, session: Session, message: jsonrpc.Message, related: Sink | None
    ) -> Deferred[jsonrpc.Message]:
        """Forward C{message} once C{session}'s child runs and has had the
        session's C{initialize} replayed."""
        return self.ready(session).addCallback(
            lambda upstream: upstream.router.request(session, message, related)
        )

    def _replay(self, session: Session, upstream: Upstream) -> None:
        """Start the restored C{session}'s child and bring it to where the
        session's client believes it is; then release the waiting requests."""
        pool = self._pool
        initialize = jsonrpc.request(
            "mcpgateway-restore",
            "initialize",
            {
                "protocolVersion": session.protocolVersion,
                "capabilities": session.capabilities,
                "clientInfo": session.clientInfo,
            },
        )

        def initialized(response: jsonrpc.Message) -> Upstream:
            if not isinstance(response.get("result"), dict):
                error = response.get("error") or {}
                raise SessionGone(
                    f"the child of server '{pool.spec.name}' refused the replayed"
                    f" initialize: {error.get('message', 'no result')}"
                )
            upstream.sessionInitializeResult = response["result"]
            upstream.sessionCapabilities = session.capabilities
            router = upstream.router
            router.clientNotification(session, jsonrpc.notification("notifications/initialized"))
            if session.logLevel is not None:
                router.call("logging/setLevel", {"level": session.logLevel})
            for uri in sorted(session.subscriptions):
                router.call("resources/subscribe", {"uri": uri})
            pool.log.warn(
                "server {server}: session {sid} ({why}) goes on on a fresh child (pid {pid});"
                " its initialize was replayed, and what the previous child kept in memory"
                " is lost",
                server=pool.spec.name,
                sid=session.shortId,
                why=self._why.get(session.id, "restored"),
                pid=upstream.pid,
            )
            return upstream

        def release(result: Upstream | Failure) -> None:
            waiters = self._replays.pop(session.id, [])
            if not isinstance(result, Failure):
                self._why.pop(session.id, None)
            if isinstance(result, Failure):
                self._replays[session.id] = []  # the next request tries again
                pool.log.warn(
                    "server {server}: restoring session {sid} failed: {why}",
                    server=pool.spec.name,
                    sid=session.shortId,
                    why=result.getErrorMessage(),
                )
            for waiter in waiters:
                if isinstance(result, Failure):
                    waiter.errback(result)
                else:
                    waiter.callback(result)

        def replay(_: None) -> Deferred[jsonrpc.Message]:
            return upstream.router.request(session, initialize, None)

        started = self._start(session, upstream).addCallback(replay)
        started.addCallback(initialized).addBoth(release)

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session} and stop its child."""
        upstream = self.perSession.pop(session.id, None)
        self.owners.pop(session.id, None)
        self._replays.pop(session.id, None)
        self._why.pop(session.id, None)
        if upstream is None:
            return succeed(None)
        upstream.router.detach(session, reason)
        self.closed += 1
        return upstream.stop()

    def ownChildPids(self, session: Session) -> list[int]:
        upstream = self.perSession.get(session.id)
        return [upstream.pid] if upstream is not None and upstream.pid is not None else []

    def endAll(self, endSession: Callable[[Session], object]) -> None:
        """End every session that has a child of its own (through C{endSession})."""
        for session in list(self.owners.values()):
            endSession(session)

    def orphans(self, vanished: list[Upstream]) -> tuple[int, list[Session]]:
        """Children found stopped that are not in C{vanished} (exited before),
        and the sessions whose own child is gone: none, since a session whose
        child exited gets a new one on its next request (L{gone}); the
        reaper's idle timeout ends it if no request comes."""
        dead = 0
        for sessionId, upstream in list(self.perSession.items()):
            if sessionId in self._replays:
                continue  # its child starts on its next request
            if upstream.state is Lifecycle.STOPPED:
                if upstream not in vanished:
                    dead += 1
                self._relaunch(self.owners[sessionId], upstream)
        return dead, []


class PerSessionPool(BasePool):
    """The children of one server, one per session (L{OwnedChildren})."""

    def __init__(
        self,
        spec: ServerSpec,
        spawner: Spawner,
        healing: HealingPolicy | None = None,
        promotions: PromotionSink | None = None,
        limits: BridgeLimits | None = None,
    ) -> None:
        super().__init__(spec, spawner, healing, promotions, limits)
        self.owned = OwnedChildren(self)

    @property
    def perSession(self) -> dict[str, Upstream]:
        """Each session's upstream, by session id."""
        return self.owned.perSession

    @property
    def closedRouters(self) -> int:
        """How many sessions were closed (their children stopped)."""
        return self.owned.closed

    def upstreams(self) -> list[Upstream]:
        return list(self.owned.perSession.values())

    def upstreamFor(self, session: Session) -> Upstream | None:
        return self.owned.perSession.get(session.id)

    def _byOwner(self) -> list[tuple[str | None, Upstream]]:
        return list(self.owned.perSession.items())

    def prewarm(self) -> Deferred[None]:
        """Nothing to start before a session asks."""
        return succeed(None)

    # -- MCP 2026-07-28 clients ----------------------------------------------------

    def modernRefusal(self) -> str | None:
        """Always: a 2026-07-28 client has no session to own a child."""
        return (
            f"server '{self.spec.name}' runs a child per session (share: session), and an"
            " MCP 2026-07-28 client has no session to own one"
        )

    def modernUpstream(self, request: ModernRequest) -> Deferred[Upstream]:
        return fail(NoSharedChild(self.modernRefusal()))

    def modernRouter(self, scope: str) -> Router | None:
        return None

    # -- sessions ----------------------------------------------------------------

    def open(
        self,
        session: Session,
        initialize: jsonrpc.Message,
    ) -> Deferred[jsonrpc.Message]:
        """Spawn the session's own child (with its route's launch spec) and
        forward its C{initialize} to it."""
        if self.disabled:
            return fail(self._disabled())
        return self.owned.open(session, initialize)

    def restore(self, session: Session) -> None:
        self.owned.restore(session)

    def gone(self, session: Session) -> str | None:
        return self.owned.gone(session)

    def forward(
        self,
        session: Session,
        message: jsonrpc.Message,
        related: Sink | None,
    ) -> Deferred[jsonrpc.Message]:
        if self.owned.replaying(session):
            return self.owned.forward(session, message, related)
        return super().forward(session, message, related)

    def ready(self, session: Session) -> Deferred[Upstream]:
        return self.owned.ready(session)

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session} and stop its child."""
        return self.owned.close(session, reason)

    # -- reconfiguration -----------------------------------------------------------

    def useSpec(self, spec: ServerSpec) -> list[Session]:
        """Serve C{spec}: new sessions start from its launch specs; the
        children running now keep theirs until their sessions end."""
        before = launchEnvOf(self.launchSpec)
        ended = super().useSpec(spec)
        keys = {variant.childKey for variant in self._variants.values()}
        self._launches = {k: v for k, v in self._launches.items() if k in keys}
        running = len(self.owned.perSession)
        keyless = not spec.variants or "" in self._variants
        if running and keyless and launchEnvOf(self.launchSpec) != before:
            self.log.info(
                "server {server}: its environment changed; the {count} session(s) open keep"
                " their own child as it is until they end, new sessions get the new one",
                server=spec.name,
                count=running,
            )
        return ended

    # -- the children --------------------------------------------------------------

    def stopShared(self) -> Deferred[None]:
        raise NoSharedChild(f"server '{self.spec.name}' has a child per session")

    def idle(self, now: float) -> Idle | None:
        """Never: a session's own child lives as long as the session."""
        return None

    def call(self, method: str, params: dict[str, Any]) -> Deferred[jsonrpc.Message] | None:
        """Nothing: the gateway asks nothing of a session's own child."""
        return None

    def healthPing(self) -> None:
        """Nothing: a session's own child is never pinged."""

    def sweep(self, alive: PidProbe) -> Sweep:
        """Children found gone, and the sessions whose own child is gone
        (found now, or exited before)."""
        vanished = self._vanished(alive)
        dead, orphaned = self.owned.orphans(vanished)
        return Sweep(dead=len(vanished) + dead, orphaned=orphaned)
