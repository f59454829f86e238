# -*- test-case-name: tests.core.test_pool -*-
"""One child per session of a server: the L{PerSessionPool}.

Each session's child is spawned at that session's C{initialize}, which is
forwarded to it (the client initializes its own child, and the session
adopts the protocol version the child answers with); everything the child
says is the session's (L{mcpgateway.core.fanout.OwnerFanout}). The child is
stopped when the session ends. A child that dies is not started again: its
session is gone, and the client initializes anew.

A session restored from a previous gateway process (L{PerSessionPool.restore})
gets a fresh child on its next request: the gateway replays the session's own
C{initialize} and C{notifications/initialized} (and its log level and
subscriptions) before that request. What the old child kept in memory is lost,
and logged as such.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from mcpgateway import jsonrpc
from mcpgateway.core.fanout import OwnerFanout
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pool import BasePool, Idle, NoSharedChild, PidProbe, SessionGone, Sweep
from mcpgateway.core.router import Sink
from mcpgateway.core.sessions import Session
from mcpgateway.core.spawn import Spawner
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream


class PerSessionPool(BasePool):
    """The children of one server, one per session.

    @ivar perSession: each session's upstream, by session id.
    @ivar closedRouters: how many sessions were closed (their children stopped).
    """

    def __init__(
        self, spec: ServerSpec, spawner: Spawner, healing: HealingPolicy | None = None
    ) -> None:
        super().__init__(spec, spawner, healing)
        self.perSession: dict[str, Upstream] = {}
        self._owners: dict[str, Session] = {}
        self.closedRouters = 0
        self._replays: dict[str, list[Deferred[Upstream]]] = {}
        """Restored sessions whose child has not been initialized yet, with
        the requests waiting for that (an empty list: none started yet)."""

    def upstreams(self) -> list[Upstream]:
        return list(self.perSession.values())

    def upstreamFor(self, session: Session) -> Upstream | None:
        return self.perSession.get(session.id)

    def _byOwner(self) -> list[tuple[str | None, Upstream]]:
        return list(self.perSession.items())

    def prewarm(self) -> Deferred[None]:
        """Nothing to start before a session asks."""
        return succeed(None)

    # -- sessions ----------------------------------------------------------------

    def open(
        self,
        session: Session,
        initialize: jsonrpc.Message,
    ) -> Deferred[jsonrpc.Message]:
        """Spawn the session's own child and forward its C{initialize} to it."""
        if self.disabled:
            return fail(self._disabled())
        upstream = self._newUpstream(OwnerFanout(session))
        self.perSession[session.id] = upstream
        self._owners[session.id] = session
        upstream.router.attach(session)

        def forward(_: None) -> Deferred[jsonrpc.Message]:
            return upstream.router.request(session, initialize, None)

        def adopt(response: jsonrpc.Message) -> jsonrpc.Message:
            result = response.get("result")
            if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str):
                session.protocolVersion = result["protocolVersion"]
            return response

        return self._whenLaunchable(upstream.ensure).addCallback(forward).addCallback(adopt)

    def restore(self, session: Session) -> None:
        """Give C{session} a child to be started, and its C{initialize}
        replayed, on its next request."""
        upstream = self._newUpstream(OwnerFanout(session))
        self.perSession[session.id] = upstream
        self._owners[session.id] = session
        upstream.router.attach(session)
        self._replays[session.id] = []

    def gone(self, session: Session) -> str | None:
        if session.id in self._replays:
            return None
        upstream = self.perSession.get(session.id)
        if (upstream is None or upstream.state is not Lifecycle.RUNNING) and not self.disabled:
            return self._sessionGone()
        return None

    def forward(
        self,
        session: Session,
        message: jsonrpc.Message,
        related: Sink | None,
    ) -> Deferred[jsonrpc.Message]:
        if session.id in self._replays:
            return self.ready(session).addCallback(
                lambda upstream: upstream.router.request(session, message, related)
            )
        return super().forward(session, message, related)

    def ready(self, session: Session) -> Deferred[Upstream]:
        upstream = self.perSession.get(session.id)
        replaying = session.id in self._replays
        if not replaying and upstream is not None and upstream.state is Lifecycle.RUNNING:
            return succeed(upstream)
        if self.disabled:
            return fail(self._disabled())
        waiters = self._replays.get(session.id)
        if waiters is not None and upstream is not None:
            waiter: Deferred[Upstream] = Deferred()
            waiters.append(waiter)
            if len(waiters) == 1:
                self._replay(session, upstream)
            return waiter
        raise SessionGone(self._sessionGone())

    def _replay(self, session: Session, upstream: Upstream) -> None:
        """Start the restored C{session}'s child and bring it to where the
        session's client believes it is; then release the waiting requests."""
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
                    f"the child of server '{self.spec.name}' refused the replayed"
                    f" initialize: {error.get('message', 'no result')}"
                )
            router = upstream.router
            router.clientNotification(session, jsonrpc.notification("notifications/initialized"))
            if session.logLevel is not None:
                router.call("logging/setLevel", {"level": session.logLevel})
            for uri in sorted(session.subscriptions):
                router.call("resources/subscribe", {"uri": uri})
            self.log.warn(
                "server {server}: session {sid} restored after a gateway restart on a fresh"
                " child (pid {pid}); its initialize was replayed, and what the previous"
                " child kept in memory is lost",
                server=self.spec.name,
                sid=session.id[:8],
                pid=upstream.pid,
            )
            return upstream

        def release(result: Upstream | Failure) -> None:
            waiters = self._replays.pop(session.id, [])
            if isinstance(result, Failure):
                self._replays[session.id] = []  # the next request tries again
                self.log.warn(
                    "server {server}: restoring session {sid} failed: {why}",
                    server=self.spec.name,
                    sid=session.id[:8],
                    why=result.getErrorMessage(),
                )
            for waiter in waiters:
                if isinstance(result, Failure):
                    waiter.errback(result)
                else:
                    waiter.callback(result)

        def replay(_: None) -> Deferred[jsonrpc.Message]:
            return upstream.router.request(session, initialize, None)

        started = self._whenLaunchable(upstream.ensure).addCallback(replay)
        started.addCallback(initialized).addBoth(release)

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session} and stop its child."""
        upstream = self.perSession.pop(session.id, None)
        self._owners.pop(session.id, None)
        self._replays.pop(session.id, None)
        if upstream is None:
            return succeed(None)
        upstream.router.detach(session, reason)
        self.closedRouters += 1
        return upstream.stop()

    def ownChildPids(self, session: Session) -> list[int]:
        upstream = self.perSession.get(session.id)
        return [upstream.pid] if upstream is not None and upstream.pid is not None else []

    # -- the children --------------------------------------------------------------

    def restart(
        self,
        endSession: Callable[[Session], object],
        why: str,
    ) -> Deferred[list[int]]:
        """End every session (their children stop with them)."""
        pids = self.pids()
        for session in list(self._owners.values()):
            endSession(session)
        self.events.emit("restart", why)
        return self.stopAll().addCallback(lambda _: pids)

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
        dead = len(vanished)
        orphaned = []
        for sessionId, upstream in list(self.perSession.items()):
            if upstream.state is Lifecycle.STOPPED:
                if upstream not in vanished:
                    dead += 1
                orphaned.append(self._owners[sessionId])
        return Sweep(dead=dead, orphaned=orphaned)
