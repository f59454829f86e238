# -*- test-case-name: tests.core.gateway.test_ownerlookup,tests.web.admin.test_sessions_api -*-
"""Which client process a session belongs to: L{OwnerLookup}, and the pid a
client says it runs as (L{clientPid}).

A session's client pid lets the reaper end it when its client exits. It
comes from the C{X-Client-Pid} header, else C{clientInfo.pid}, else the
owner of the client's loopback socket, looked up off the reactor thread.
The look races the client: one made after the client closed that
connection finds nothing, and on a loaded machine the look runs a good
while after the request that asked for it (an SDK client closes its
C{initialize} connection a tenth of a second after the answer and goes
on on others). So while the pid is unknown, each connection the session's
requests come on is looked at, the first request on it at once
(L{OwnerLookup.lookFor}).

A look is for the client's socket the door named at accept: the
connection carries that socket's inode
(L{Connection<mcpgateway.core.gateway.settings.Connection>}), and the finder
names only the process holding that inode. A look that runs after the
client closed the connection, when another process's connection has
taken the same port meanwhile, so finds nothing rather than that other
process. Where the inode is not known (0: no door named the connection,
the kernel could not be asked), the finder looks for the socket the
connection's addresses name when it looks, which a port reused in between
can make another process's.
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
"""Seconds before a connection already looked at for a session is looked at
again (L{OwnerLookup.lookFor})."""
LOOKS_PER_RETRY = 4
"""The most looks for one session's client within L{OWNER_RETRY} seconds,
its C{initialize}'s included: a client that opens a connection for each
request, and whose pid is never found, costs a few scans a minute, not
one per request."""
KEPT_MOST = 1024
"""How many sessions' looks L{OwnerLookup} keeps before it lets go of those
it no longer needs (sessions ended, looks older than L{OWNER_RETRY})."""


class OwnerLookup:
    """Looks for the process on the other end of a session's loopback
    connections, and gives the session its pid."""

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
        self._looks: dict[str, list[tuple[float, Connection]]] = {}
        """When each connection was looked at, for each session whose pid
        is not known yet (none once it is, or the session is gone)."""
        self._keptMost = KEPT_MOST

    @property
    def looking(self) -> int:
        """How many sessions' looks are kept (their pid is not known yet)."""
        return len(self._looks)

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
        C{connection}: look for the socket's owner, unless that connection
        was looked at in the last L{OWNER_RETRY} seconds or the session's
        client was looked for L{LOOKS_PER_RETRY} times in them. A look
        still running does not hold back one of another connection: the
        one running may be of a connection closed by now. Connections are
        told apart by their addresses and socket inode: a client port
        reused by another socket is another connection."""
        now = self._clock.seconds()
        looks = self._looks.get(session.id)
        if looks is not None:
            while looks and now - looks[0][0] >= OWNER_RETRY:  # oldest first
                del looks[0]
            if len(looks) >= LOOKS_PER_RETRY or any(seen == connection for _, seen in looks):
                return
        self.find(session, connection)

    def find(self, session: Session, connection: Connection) -> None:
        """Look for the owner of C{session}'s socket C{connection} now."""
        now = session.ownerLookedUp = self._clock.seconds()
        looks = self._looks.get(session.id)
        if looks is None:
            self._letGo(now)
            looks = self._looks[session.id] = []
        looks.append((now, connection))
        registry = self._registry
        hints = self._knownPids()

        def found(pid: int | None) -> None:
            current = registry.get(session.id) is session
            if pid is None and current and session.clientPid is None:
                return
            self._looks.pop(session.id, None)
            if pid is None or session.clientPid is not None or not current:
                return
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

        self._finder(connection, hints).addCallbacks(found, failed)

    def _letGo(self, now: float) -> None:
        """Once L{KEPT_MOST} sessions' looks are kept, let go of those no
        longer needed: of sessions that ended while their pid was unknown
        (their looks had answered), or whose pid is known, or whose last
        look is older than L{OWNER_RETRY}. The next time is when twice as
        many are kept as remain: the sweep costs each session once."""
        if len(self._looks) < self._keptMost:
            return
        registry = self._registry
        for sid, looks in list(self._looks.items()):
            session = registry.get(sid)
            if (
                session is None
                or session.clientPid is not None
                or not looks
                or now - looks[-1][0] >= OWNER_RETRY
            ):
                del self._looks[sid]
        self._keptMost = max(KEPT_MOST, 2 * len(self._looks))


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
