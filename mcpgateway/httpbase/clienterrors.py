# -*- test-case-name: tests.httpbase.test_clienterrors -*-
"""The log of what clients sent that the gateway refused: L{ClientErrors},
which a connection's bounds (L{mcpgateway.httpbase.bounds}) and the HTTP
endpoints write to alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger, LogLevel
from twisted.web.iweb import IRequest

from mcpgateway.runtime import logs


class ClientErrors:
    """Logs refused client input: one warning line per refusal, without a
    traceback (the client did something wrong; the gateway did not), and at
    most C{perSecond} lines a second, so a flood of bad requests cannot flood
    the log: the next line says how many were left out. A well-formed
    request answered with an error (L{noteAnswered}) is an C{info} line."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.web.endpoints.mcp.ClientErrors")
    _SHOWN = 300

    def __init__(
        self,
        clock: IReactorTime,
        perSecond: int = 10,
        principalOf: Callable[[IRequest], str] | None = None,
    ) -> None:
        """
        @param principalOf: the key of the principal a request came from
            (C{""}: none known), named in its line: on a team gateway behind a
            proxy every peer is the proxy, and the key says who was refused.
        """
        self._principalOf = principalOf
        self._clock = clock
        self._perSecond = perSecond
        self._windowStart = -math.inf
        self._inWindow = 0
        self.suppressed = 0
        """Refusals not logged since the last line."""
        self.count = 0
        """Refusals in total."""

    def note(self, request: IRequest, status: int, reason: str, ordinary: bool = False) -> None:
        """Record one refused request (HTTP C{status}, C{reason});
        C{ordinary}: one that well-behaved clients send in the course of
        things (the resumption of a stream the gateway no longer has, after
        a cancel or a restart), at C{info}."""
        self._noteRequest(request, status, reason, answered=False, quiet=ordinary)

    def noteAnswered(self, request: IRequest, status: int, reason: str) -> None:
        """Record a well-formed request answered with a JSON-RPC error whose
        HTTP status is C{status} (a 2026-07-28 answer: an unknown resource,
        a method that revision lacks): MCP traffic, not a refusal of what
        the client sent, so at C{info}, held to the same rate."""
        self._noteRequest(request, status, reason, answered=True, quiet=True)

    def _noteRequest(
        self, request: IRequest, status: int, reason: str, answered: bool, quiet: bool
    ) -> None:
        path: bytes = request.path or b""
        peer = request.getClientAddress()
        who = "" if self._principalOf is None else self._principalOf(request)
        self._emit(
            (request.method or b"?").decode("ascii", "replace")[:16],
            path[: self._SHOWN].decode("utf-8", "replace"),
            getattr(peer, "host", None) or str(peer),
            status,
            reason,
            principal=who,
            answered=answered,
            quiet=quiet,
        )

    def noteConnection(self, peer: str | None, status: int, reason: str) -> None:
        """Record one refused or closed connection."""
        self._emit("connection", "-", peer or "?", status, reason)

    def _emit(
        self,
        method: str,
        path: str,
        peer: str,
        status: int,
        reason: str,
        answered: bool = False,
        quiet: bool = False,
        principal: str = "",
    ) -> None:
        self.count += 1
        now = self._clock.seconds()
        if now - self._windowStart >= 1.0:
            self._windowStart, self._inWindow = now, 0
        if self._inWindow >= self._perSecond:
            self.suppressed += 1
            return
        self._inWindow += 1
        suppressed, self.suppressed = self.suppressed, 0
        self.log.emit(
            LogLevel.info if quiet else LogLevel.warn,
            "answered {method} {path} from {peer}{who} with an error: {status} {reason}{more}"
            if answered
            else "refused {method} {path} from {peer}{who}: {status} {reason}{more}",
            method=method,
            path=path,
            peer=peer,
            who=f" (principal {principal})" if principal else "",
            principal=principal,
            status=status,
            reason=reason[: self._SHOWN] + ("..." if len(reason) > self._SHOWN else ""),
            more=f" ({suppressed} more refusals not logged)" if suppressed else "",
        )
