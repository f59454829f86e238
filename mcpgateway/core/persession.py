# -*- test-case-name: tests.core.test_pool -*-
"""One child per session of a server: the L{PerSessionPool}.

Each session's child is spawned at that session's C{initialize}, which is
forwarded to it (the client initializes its own child, and the session
adopts the protocol version the child answers with); everything the child
says is the session's (L{mcpgateway.core.fanout.OwnerFanout}). The child is
stopped when the session ends. A child that dies is not started again: its
session is gone, and the client initializes anew.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed

from mcpgateway import jsonrpc
from mcpgateway.core.fanout import OwnerFanout
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pool import BasePool, Idle, NoSharedChild, PidProbe, SessionGone, Sweep
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

    def gone(self, session: Session) -> str | None:
        upstream = self.perSession.get(session.id)
        if (upstream is None or upstream.state is not Lifecycle.RUNNING) and not self.disabled:
            return self._sessionGone()
        return None

    def ready(self, session: Session) -> Deferred[Upstream]:
        upstream = self.perSession.get(session.id)
        if upstream is not None and upstream.state is Lifecycle.RUNNING:
            return succeed(upstream)
        if self.disabled:
            return fail(self._disabled())
        raise SessionGone(self._sessionGone())

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session} and stop its child."""
        upstream = self.perSession.pop(session.id, None)
        self._owners.pop(session.id, None)
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
