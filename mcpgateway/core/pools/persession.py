# -*- test-case-name: tests.core.pools.test_pool -*-
"""One child per session of a server: the L{PerSessionPool}.

A session's start-up (C{initialize}, the lists) is answered from the
catalog of its scope (L{mcpgateway.core.pools.scopecatalog}: one probe
child lists it the first time a scope key is seen), and its own child
starts at its first request that catalog cannot answer, its C{initialize}
replayed first. With lazy start off (C{"lazy": false}, C{--no-lazy-start})
or when the probe fails, each session's child is spawned at that session's
C{initialize}, which is forwarded to it (the client initializes its own
child, and the session adopts the protocol version the child answers
with). Either way everything the child says is the session's
(L{mcpgateway.core.fanout.OwnerFanout}), and the child is stopped when the
session ends.

A session whose child is not running gets a fresh child on its next request:
the gateway replays the session's own C{initialize} and
C{notifications/initialized} (and its log level and subscriptions) before that
request, so the client's session id keeps working and no client initializes
again. That is the case of a session restored from a previous gateway process
(L{PerSessionPool.restore}), of a session whose child crashed or was killed
(its requests in flight got their error), and of a session of a promoted
shared server moving to a child of its own. What the old child kept in memory
is lost, and logged as such.

The children themselves are kept by
L{mcpgateway.core.pools.owned.OwnedChildren}, which a shared or
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

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed

from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.exchange import Sink
from mcpgateway.core.pools.base import BasePool
from mcpgateway.core.pools.pool import (
    Idle,
    NoSharedChild,
    disabledError,
    launchEnvOf,
)
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc


class PerSessionPool(BasePool):
    """The children of one server, one per session
    (L{mcpgateway.core.pools.owned.OwnedChildren})."""

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

    def byOwner(self) -> list[tuple[str | None, Upstream]]:
        return list(self.owned.perSession.items())

    def prewarm(self) -> Deferred[None]:
        """Nothing to start before a session asks."""
        return succeed(None)

    # -- MCP 2026-07-28 clients ----------------------------------------------------

    def era2026Refusal(self) -> str | None:
        """Always: a 2026-07-28 client has no session to own a child."""
        return (
            f"server '{self.spec.name}' runs a child per session (share: session), and an"
            " MCP 2026-07-28 client has no session to own one"
        )

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        return fail(NoSharedChild(self.era2026Refusal()))

    def era2026Router(self, scope: str) -> Router | None:
        return None

    # -- sessions ----------------------------------------------------------------

    def open(
        self,
        session: Session,
        initialize: jsonrpc.Message,
    ) -> Deferred[jsonrpc.Message]:
        """Answer C{initialize} from the catalog of the session's scope
        (its child starts at its first request the catalog cannot answer,
        L{mcpgateway.core.pools.scopecatalog}); else spawn the session's own
        child (with its route's launch spec) and forward it."""
        if self.disabled:
            return fail(disabledError(self.spec.name))
        return self.openOwned(session, initialize)

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
        if self.scopeStartup.pending(session):
            return self.forwardOwned(session, message, related)
        if self.owned.replaying(session):
            return self.owned.forward(session, message, related)
        return super().forward(session, message, related)

    def ready(self, session: Session) -> Deferred[Upstream]:
        return self.owned.ready(session)

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session} and stop its child."""
        self.scopeStartup.forget(session)
        return self.owned.close(session, reason)

    # -- reconfiguration -----------------------------------------------------------

    def useSpec(self, spec: ServerSpec) -> list[Session]:
        """Serve C{spec}: new sessions start from its launch specs; the
        children running now keep theirs until their sessions end."""
        before = launchEnvOf(self.launchSpec)
        ended = super().useSpec(spec)
        self.launcher.keep({variant.childKey for variant in self.routes.values()})
        running = len(self.owned.perSession)
        keyless = not spec.variants or "" in self.routes
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
