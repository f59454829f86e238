# -*- test-case-name: tests.core.aggregate.test_visit, tests.core.gateway.test_gateway -*-
"""Sessions this process did not open, served here: L{ForeignSessions}.

In a cluster, a session another replica opened is served here, rebuilt
from its sealed id, when its owner does not answer (L{ForeignSessions.rebuild}):
it is I{visiting}, never saved, and not counted by the session limits. A
session restored from a previous process or rebuilt so on a
credential-scoped server waits for its client's credentials before it is
bound to its child (L{ForeignSessions.rebind}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core.aggregate.types import SERVER_PREFIX
from mcpgateway.core.gateway.aggregateside import AggregateSide
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.sessions import Session, SessionFacts, SessionRegistry
from mcpgateway.core.spec import Sharing

if TYPE_CHECKING:
    from mcpgateway.core.aggregate.session import AggregateSession


class ForeignSessions:
    """Rebuilds the sessions other processes opened, and binds restored
    sessions to their credentials."""

    def __init__(
        self,
        sessions: SessionRegistry,
        pools: Mapping[str, PoolLike],
        aggregate: AggregateSide,
        visiting: Callable[[str], object],
        clock: IReactorTime,
        log: Logger,
    ) -> None:
        """
        @param sessions: the gateway's sessions, where rebuilt ones are added.
        @param pools: the gateway's pools (the live mapping).
        @param aggregate: the aggregate side, which serves rebuilt aggregate
            sessions.
        @param visiting: told the id of each visiting session added (the
            session limits do not count it:
            L{mcpgateway.core.gateway.sessioncapacity.SessionCapacity.visiting}).
        @param log: the gateway's logger (these lines are the gateway's).
        """
        self._sessions = sessions
        self._pools = pools
        self._aggregate = aggregate
        self._visiting = visiting
        self._clock = clock
        self.log = log

    def rebuild(self, sessionId: str, facts: SessionFacts, owner: bool = False) -> Session | None:
        """Serve here a session another gateway process of a cluster opened
        (its id's owner does not answer): a session C{sessionId} rebuilt
        from C{facts} (what its sealed id carries) and attached to its
        server's shared child like a session restored from a previous
        process, marked I{visiting} (never saved: it is the owner's, and
        the id carries it). C{owner}: this process is the id's owner (it
        lost the session in a restart): the session is its own again, not
        visiting.

        A credential-scoped session waits for its client's credentials
        (L{rebind}) as a restored one does. C{None}: the session had a child
        of its own (gone with its owner; its client initializes again), or
        this process serves the server with a child per session, or has no
        such server or route. The session C{sessionId} if this process has
        it already (on that server, route and principal; else C{None}).
        """
        known = self._sessions.get(sessionId)
        if known is not None:
            same = (known.server, known.scope, known.principal)
            return known if same == (facts.server, facts.scope, facts.principal) else None
        if facts.server.startswith(SERVER_PREFIX):
            return self._rebuildAggregate(sessionId, facts, owner)
        pool = self._pools.get(facts.server)
        if pool is None or facts.owned or pool.spec.sharing is Sharing.SESSION:
            return None
        variant = pool.variantFor(facts.scope, principal=facts.principal)
        if variant is None:
            return None
        session = Session(
            sessionId,
            facts.server,
            facts.protocolVersion,
            facts.capabilitiesDict(),
            {},
            facts.created,
        )
        session.lastActivity = self._clock.seconds()
        session.scope = facts.scope
        session.principal = facts.principal
        session.restored = True
        session.visiting = not owner
        if session.visiting:
            self._visiting(sessionId)
        if facts.credential and pool.spec.credentialEnv:
            session.credential = facts.credential  # bound by rebind(), with its credentials
        else:
            session.variant = variant
        self._sessions.add(session)
        if session.variant is not None:
            pool.restore(session)
        self.log.info(
            "session {sid} on {server} {how} (rebuilt from its sealed id)",
            sid=session.shortId,
            server=facts.server,
            how="visiting: its owner does not answer" if session.visiting else "taken back",
        )
        return session

    def _rebuildAggregate(
        self, sessionId: str, facts: SessionFacts, owner: bool
    ) -> AggregateSession | None:
        """L{rebuild} for a session of an aggregate endpoint: rebuilt with no
        members (they open here at their next use); C{None} for a session
        whose mode is not its endpoint's
        (L{mcpgateway.core.gateway.sessionopener.SessionOpener.openAggregate})."""
        from mcpgateway.core.aggregate.session import AggregateSession

        endpoint = facts.server[len(SERVER_PREFIX) :].lstrip("/") or "default"
        settings = self._aggregate.aggregator.endpoint(endpoint)
        if facts.owned or settings is None:
            return None
        session = AggregateSession(
            sessionId,
            facts.server,
            facts.protocolVersion,
            facts.capabilitiesDict(),
            {},
            facts.created,
        )
        session.endpoint = endpoint
        session.mode = settings.mode
        session.lastActivity = self._clock.seconds()
        session.scope = facts.scope
        session.principal = facts.principal
        session.restored = True
        session.visiting = not owner
        if session.visiting:
            self._visiting(sessionId)
        self._sessions.add(session)
        self._aggregate.aggregator.restore(session)
        self.log.info(
            "session {sid} on {server} {how} (rebuilt from its sealed id)",
            sid=session.shortId,
            server=facts.server,
            how="visiting: its owner does not answer" if session.visiting else "taken back",
        )
        return session

    def rebind(
        self, session: Session, credentialKey: str, credentials: tuple[tuple[str, str], ...]
    ) -> bool:
        """Give a session restored from a previous process the credentials
        its client sent again (their keyed hash C{credentialKey} must be the
        one it opened with): it is bound to its child. Whether it is served
        now (C{False}: other credentials, or its route is gone)."""
        if session.variant is not None:
            return credentialKey == session.credential
        pool = self._pools.get(session.server)
        if pool is None or credentialKey != session.credential:
            return False
        variant = pool.variantFor(session.scope, credentialKey, credentials, session.principal)
        if variant is None:
            return False
        session.variant = variant
        pool.restore(session)
        return True
