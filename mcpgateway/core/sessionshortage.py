# -*- test-case-name: tests.core.test_session_capacity -*-
"""Room for a new session under the session limits, and which session gives it.

Two limits bound the live sessions of a gateway process: the gateway's own
(every caller together) and, when callers authenticate, one per principal.
An C{initialize} that would pass either may only take the place of a session
of the same principal: the one idle longest that no one is using. Making
room among everyone's sessions would let one token that opens sessions at
its allowed rate end every other user's; so a caller with no session of its
own to give is refused instead (HTTP 503 at the web layer), and nobody
else's session ends.

Without authentication every caller is the same anonymous principal
(C{""}): the per-principal limit does not apply, and any idle session may
make room under the gateway's limit, as all of them are that caller's.

L{SessionCapacityCounts} keeps what the limits did, for C{/metrics}.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mcpgateway.core.sessions import Session

GATEWAY = "gateway"
"""The limit of the whole gateway process (L{mcpgateway.protocol.bounds.MAX_SESSIONS})."""
PRINCIPAL = "principal"
"""The limit of one authenticated principal
(L{mcpgateway.protocol.bounds.MAX_SESSIONS_PER_PRINCIPAL})."""
EVICTED = "evicted"
"""The caller's own idlest unused session ended for the new one."""
REFUSED = "refused"
"""The caller had no unused session to give: the new one is refused."""


@dataclass(frozen=True)
class Shortage:
    """The limit a new session would pass.

    @ivar limit: its number of sessions.
    @ivar kind: L{GATEWAY} or L{PRINCIPAL}.
    """

    limit: int
    kind: str


def shortage(
    live: int, limit: int, principal: str, own: int, perPrincipal: int | None
) -> Shortage | None:
    """Which limit one more session of C{principal} would pass, C{None} for
    neither. The principal's own limit is named first: ending one of its
    sessions keeps both. C{principal} C{""} (no authentication) has no limit
    of its own.

    @param live: the gateway's live sessions.
    @param limit: the gateway's limit.
    @param own: the live sessions of C{principal}.
    @param perPrincipal: the limit of one principal (C{None}: none).
    """
    if principal and perPrincipal is not None and own >= perPrincipal:
        return Shortage(perPrincipal, PRINCIPAL)
    if live >= limit:
        return Shortage(limit, GATEWAY)
    return None


def idlestOwn(
    sessions: Iterable[Session],
    principal: str,
    busy: Callable[[Session], bool],
    activity: Callable[[Session], float],
) -> tuple[Session, float] | None:
    """The session of C{principal} idle longest that is not C{busy}, and
    the time of its last activity; C{None} when it has none. Only sessions
    of C{principal} are ever looked at."""
    idlest: Session | None = None
    since = 0.0
    for session in sessions:
        if session.principal != principal or busy(session):
            continue
        last = activity(session)
        if idlest is None or last < since:
            idlest, since = session, last
    return None if idlest is None else (idlest, since)


class SessionCapacityCounts:
    """How often an C{initialize} met a session limit, by the limit
    (L{GATEWAY}, L{PRINCIPAL}) and what came of it (L{EVICTED},
    L{REFUSED}). Never by principal: a label per caller would grow without
    bound, and the audit log already names who was refused."""

    KINDS = (GATEWAY, PRINCIPAL)
    OUTCOMES = (EVICTED, REFUSED)

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def note(self, kind: str, outcome: str) -> None:
        self._counts[(kind, outcome)] += 1

    def counts(self) -> dict[tuple[str, str], int]:
        """Every (limit, outcome) pair, zeros included."""
        return {(k, o): self._counts[(k, o)] for k in self.KINDS for o in self.OUTCOMES}


def streamOpen(session: Session) -> bool:
    """Whether a connection carries C{session}'s GET stream now (a stream
    kept for its client to resume, with no connection, is not in use: as
    the reaper sees it, L{mcpgateway.ops.reaper})."""
    stream = session.getStream
    return (
        stream is not None
        and bool(getattr(stream, "open", False))
        and bool(getattr(stream, "connected", True))
    )
