# -*- test-case-name: tests.core.test_session_capacity, tests.core.gateway.test_gateway_parts -*-
"""The session limits applied to a gateway's sessions: L{SessionCapacity}.

It counts the live sessions (the visiting ones, another replica's, are not
counted), and makes room for a new session under the limits by ending the
requester's own idlest unused session, or says there is none (the rules:
L{mcpgateway.core.sessionshortage}).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core import sessionshortage
from mcpgateway.core.gateway.aggregateside import AggregateSide
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.sessions import Session, SessionRegistry


class SessionCapacity:
    """The gateway's live sessions counted, and room made among them."""

    def __init__(
        self,
        sessions: SessionRegistry,
        pools: Mapping[str, PoolLike],
        aggregate: AggregateSide,
        endSession: Callable[[Session, str], Deferred[None]],
        clock: IReactorTime,
        log: Logger,
    ) -> None:
        """
        @param sessions: the gateway's sessions.
        @param pools: the gateway's pools (their requests in flight).
        @param aggregate: tells the aggregate sessions (and their requests
            in flight) apart.
        @param endSession: ends a session evicted to make room.
        @param log: the gateway's logger (these lines are the gateway's).
        """
        self._sessions = sessions
        self._pools = pools
        self._aggregate = aggregate
        self._endSession = endSession
        self._clock = clock
        self.log = log
        self.counts = sessionshortage.SessionCapacityCounts()
        """What the session limits did to C{initialize}s (L{admitSession})."""
        self._visitors: set[str] = set()
        """The ids of the visiting sessions in the registry (another
        replica's), which the session limit does not count."""

    def visiting(self, sessionId: str) -> None:
        """The session C{sessionId}, just added, is another replica's: not counted."""
        self._visitors.add(sessionId)

    def left(self, sessionId: str) -> None:
        """The session C{sessionId} ended."""
        self._visitors.discard(sessionId)

    @property
    def live(self) -> int:
        """How many sessions this process has open, not counting the
        visiting ones: what the session limit counts (L{admitSession})."""
        return len(self._sessions) - len(self._visitors)

    def liveOf(self, principal: str) -> int:
        """How many live sessions C{principal} has (C{""}: no authentication,
        so every caller is one: L{live})."""
        if not principal:
            return self.live
        return sum(1 for s in self._sessions if s.principal == principal and not s.visiting)

    def admitSession(
        self, limit: int, principal: str = "", perPrincipal: int | None = None
    ) -> bool:
        """Whether one more session of C{principal} may open under C{limit}
        live sessions (L{live}) and, for an authenticated principal,
        C{perPrincipal} live sessions of its own. At either limit, the
        session of C{principal} idle longest that no one is using (no GET
        stream open, no request in flight; not a visiting one) is ended to
        make room, and logged; C{False} when it has no such session (the
        newcomer is refused). Room is only ever made among the requester's
        own sessions: one caller opening sessions never ends another's
        (L{mcpgateway.core.sessionshortage}). Counted in L{counts}.

        Below the limits this costs nothing but a count of the principal's
        sessions when it is authenticated; at one, one pass over the
        sessions."""
        registry = self._sessions
        own = self.liveOf(principal) if principal and perPrincipal is not None else 0
        short = sessionshortage.shortage(self.live, limit, principal, own, perPrincipal)
        if short is None:
            return True
        inFlight: Counter[str] = Counter()
        for pool in self._pools.values():
            inFlight.update(pool.inFlightBySession())
        isAggregate = self._aggregate.isAggregate

        def busy(session: Session) -> bool:
            return bool(
                session.visiting
                or session.inFlight
                or inFlight[session.id]
                or sessionshortage.streamOpen(session)
                or (isAggregate(session) and session.inflight)
            )

        found = sessionshortage.idlestOwn(registry, principal, busy, registry.activity)
        if found is None:
            self.counts.note(short.kind, sessionshortage.REFUSED)
            return False
        self.counts.note(short.kind, sessionshortage.EVICTED)
        evicted, since = found
        perCaller = short.kind == sessionshortage.PRINCIPAL
        self.log.info(
            "session limit of {limit} reached: ending session {sid} on {server}, idle for"
            " {seconds:g} s with no GET stream and no request in flight, for a new one of"
            " the same caller{caller} ({which})",
            limit=short.limit,
            which="the limit per caller" if perCaller else "the gateway's limit",
            caller=f" {principal}" if principal else "",
            principal=principal,
            sid=evicted.shortId,
            server=evicted.server,
            seconds=round(self._clock.seconds() - since, 1),
        )
        per = " per caller" if perCaller else ""
        self._endSession(
            evicted, f"evicted: the session limit of {short.limit}{per} was reached"
        ).addErrback(
            lambda f: self.log.failure(
                "stopping the child of session {sid} failed", failure=f, sid=evicted.shortId
            )
        )
        return True
