# -*- test-case-name: tests.web.endpoints.test_mcp,tests.web.endpoints.test_web_answers -*-
"""How the gateway's HTTP endpoints answer: a JSON body with its status (the
reason phrases Twisted does not know included), a JSON-RPC error as an HTTP
error, a bare 202, and L{ClientErrors}, the rate-limited log of what
clients sent that was refused.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.iweb import IRequest

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    pass  # cryptography: clustered gateways only


_JSON = b"application/json"

PHRASES = {421: b"Misdirected Request", 429: b"Too Many Requests"}
"""Reason phrases Twisted does not know (it would write C{Unknown Status})."""


def jsonReply(request: IRequest, status: int, message: Any) -> bytes:
    """Set C{status} and a JSON content type; return the encoded body."""
    request.setResponseCode(status, PHRASES.get(status))
    request.setHeader(b"content-type", _JSON)
    return jsonrpc.dumps(message)


def errorReply(
    request: IRequest, status: int, code: int, text: str, requestId: Any = None
) -> bytes:
    """An HTTP error whose body is a JSON-RPC error."""
    return jsonReply(request, status, jsonrpc.errorResponse(requestId, code, text))


def accepted(request: IRequest) -> bytes:
    """202 with an empty body: for notifications and responses."""
    request.setResponseCode(202)
    return b""


def validIdOrNull(value: Any) -> Any:
    """C{value} when it may stand as the id of an error response, else
    C{None} (JSON-RPC: the id is null when it could not be read)."""
    kind = type(value)
    if kind is str or kind is int or (kind is float and math.isfinite(value)):
        return value
    return None


class ClientErrors:
    """Logs refused client input: one warning line per refusal, without a
    traceback (the client did something wrong; the gateway did not), and at
    most C{perSecond} lines a second, so a flood of bad requests cannot flood
    the log: the next line says how many were left out."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.web.endpoints.mcp.ClientErrors")
    _SHOWN = 300

    def __init__(self, clock: IReactorTime, perSecond: int = 10) -> None:
        self._clock = clock
        self._perSecond = perSecond
        self._windowStart = -math.inf
        self._inWindow = 0
        self.suppressed = 0
        """Refusals not logged since the last line."""
        self.count = 0
        """Refusals in total."""

    def note(self, request: IRequest, status: int, reason: str) -> None:
        """Record one refused request (HTTP C{status}, C{reason})."""
        path: bytes = request.path or b""
        peer = request.getClientAddress()
        self._emit(
            (request.method or b"?").decode("ascii", "replace")[:16],
            path[: self._SHOWN].decode("utf-8", "replace"),
            getattr(peer, "host", None) or str(peer),
            status,
            reason,
        )

    def noteConnection(self, peer: str | None, status: int, reason: str) -> None:
        """Record one refused or closed connection."""
        self._emit("connection", "-", peer or "?", status, reason)

    def _emit(self, method: str, path: str, peer: str, status: int, reason: str) -> None:
        self.count += 1
        now = self._clock.seconds()
        if now - self._windowStart >= 1.0:
            self._windowStart, self._inWindow = now, 0
        if self._inWindow >= self._perSecond:
            self.suppressed += 1
            return
        self._inWindow += 1
        suppressed, self.suppressed = self.suppressed, 0
        self.log.warn(
            "refused {method} {path} from {peer}: {status} {reason}{more}",
            method=method,
            path=path,
            peer=peer,
            status=status,
            reason=reason[: self._SHOWN] + ("..." if len(reason) > self._SHOWN else ""),
            more=f" ({suppressed} more refusals not logged)" if suppressed else "",
        )


def internalErrorReply(request: IRequest) -> bytes:
    return errorReply(
        request, 500, jsonrpc.INTERNAL_ERROR, "internal error in the gateway; see its log"
    )


def internalError(requestId: Any) -> Message:
    return jsonrpc.errorResponse(
        requestId, jsonrpc.INTERNAL_ERROR, "internal error in the gateway; see its log"
    )
