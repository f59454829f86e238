# -*- test-case-name: tests.core.era2026.test_callers -*-
"""Who has used a server lately over MCP 2026-07-28: its L{RecentCallers}.

A 2026 client opens no session, so the session counts of C{/health},
C{mcpgateway status} and the savings figure never see it; yet without the
gateway each such client would launch the server itself. A pool's
L{mcpgateway.core.pools.era2026side.Era2026Side} notes each 2026 request's
caller here, and the number seen within L{RECENT_WINDOW} stands beside the
sessions: L{mcpgateway.core.status.Era2026Stats.clients}.

A caller is what its request says of it (L{callerOf}): the principal, the
name in its C{clientInfo} and the pid it says it runs as, when it says one.
Two processes that send the same name and no pid are one caller, so the
count is a lower bound.
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime

from mcpgateway.core.era2026.types import Era2026Request

__all__ = ["MOST_CALLERS", "NAME_KEPT", "RECENT_WINDOW", "Caller", "RecentCallers", "callerOf"]

RECENT_WINDOW = 600.0
"""Seconds a caller counts after its last request. A 2026 client sends
requests in bursts (a person's turns, an agent's steps) and nothing
between them, while the server it would launch on its own keeps running
the whole time; ten minutes spans the pauses of a working session without
counting a client that has quit for long."""
MOST_CALLERS = 256
"""Callers a server remembers at most; past that the one seen longest ago
is forgotten. Client-supplied names are not to grow the gateway's memory."""
NAME_KEPT = 128
"""Characters of a client's name a caller keeps (the rest names no
other client worth telling apart)."""

Caller = tuple[str, str, int | None]
"""(principal, client name, client pid or C{None})."""


def callerOf(principal: str, clientInfo: object, pid: int | None) -> Caller:
    """The caller a request names: C{clientInfo} is the client's own, any
    JSON value; a name that is not a string is no name."""
    name = clientInfo.get("name") if isinstance(clientInfo, dict) else None
    return (principal, name[:NAME_KEPT] if isinstance(name, str) else "", pid)


class RecentCallers:
    """The last time each 2026 caller of one server was seen, on the
    pool's clock: one dict write per request, the count made when read."""

    def __init__(
        self, clock: IReactorTime, window: float = RECENT_WINDOW, most: int = MOST_CALLERS
    ) -> None:
        self._clock = clock
        self._window = window
        self._most = most
        self._seen: dict[Caller, float] = {}

    def saw(self, request: Era2026Request) -> None:
        """C{request}'s caller has just asked something."""
        seen = self._seen
        seen[callerOf(request.principal, request.clientInfo, request.clientPid)] = (
            self._clock.seconds()
        )
        if len(seen) > self._most:
            del seen[min(seen, key=seen.__getitem__)]

    def recent(self) -> int:
        """How many callers were seen within the window."""
        since = self._clock.seconds() - self._window
        return sum(1 for at in self._seen.values() if at > since)
