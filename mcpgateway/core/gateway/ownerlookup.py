# -*- test-case-name: tests.web.admin.test_sessions_api -*-
"""Which client process a session belongs to: L{OwnerLookup}, and the pid a
client says it runs as (L{clientPid}).

A session's client pid lets the reaper end it when its client exits. It
comes from the C{X-Client-Pid} header, else C{clientInfo.pid}, else the
owner of the client's loopback socket, looked up off the reactor thread.
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.gateway.settings import Connection, PidFinder
from mcpgateway.core.sessions import Session, SessionRegistry

HINTS_AGE = 1.0
"""Seconds the known client pids are reused for (L{OwnerLookup._knownPids})."""
OWNER_RETRY = 60.0
"""Seconds between two looks for the client pid of a session that has none
(L{OwnerLookup.lookFor})."""


class OwnerLookup:
    """Looks for the process on the other end of a session's loopback
    connection, and gives the session its pid."""

    def __init__(
        self, finder: PidFinder, registry: SessionRegistry, clock: IReactorTime, log: Logger
    ) -> None:
        """
        @param finder: finds the pid of a loopback connection's peer.
        @param registry: the gateway's sessions (a session ended meanwhile
            gets no pid; the pids known are tried first).
        @param log: the gateway's logger (these lines are the gateway's).
        """
        self._finder = finder
        self._registry = registry
        self._clock = clock
        self.log = log
        self._hints: list[int] = []
        self._hintsAt: float | None = None

    def _knownPids(self) -> list[int]:
        """The client pids of the sessions, gathered at most once per
        L{HINTS_AGE} seconds: they are only where a look-up looks first,
        and gathering them walks every session (a burst of sessions opened
        on a gateway of thousands would walk them all for each one)."""
        now = self._clock.seconds()
        if self._hintsAt is None or now - self._hintsAt >= HINTS_AGE:
            self._hints = sorted({s.clientPid for s in self._registry if s.clientPid is not None})
            self._hintsAt = now
        return self._hints

    def lookFor(self, session: Session, connection: Connection) -> None:
        """A later request of C{session}, whose client pid is not known, on
        C{connection}: look for the socket's owner again, at most once per
        L{OWNER_RETRY} seconds."""
        now = self._clock.seconds()
        if session.ownerLookedUp is not None and now - session.ownerLookedUp < OWNER_RETRY:
            return
        self.find(session, connection)

    def find(self, session: Session, connection: Connection) -> None:
        """Look for the owner of C{session}'s socket C{connection} now."""
        session.ownerLookedUp = self._clock.seconds()
        registry = self._registry
        hints = self._knownPids()

        def found(pid: int | None) -> None:
            if pid is None or session.clientPid is not None:
                return
            if registry.get(session.id) is session:
                session.clientPid = pid
                registry.touch(session)
                # Debug: a gateway of many sessions logs one line per session
                # opened, not two (each costs the reactor a formatted write).
                self.log.debug(
                    "session {sid} belongs to client pid {pid} (socket owner)",
                    sid=session.shortId,
                    pid=pid,
                )

        def failed(reason: Failure) -> None:
            self.log.failure(
                "looking up the client pid of session {sid} failed",
                failure=reason,
                sid=session.shortId,
            )

        self._finder(*connection, hints).addCallbacks(found, failed)


def clientPid(given: int | None, clientInfo: object, principal: object) -> int | None:
    """The pid a client says it runs as (C{X-Client-Pid}, else
    C{clientInfo.pid}); none for an authenticated client (C{principal}), which
    may run on another machine, where its pid names nothing here."""
    if principal:
        return None
    infoPid = clientInfo.get("pid") if isinstance(clientInfo, dict) else None
    return given if given is not None else _validPid(infoPid)


def _validPid(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    return None
