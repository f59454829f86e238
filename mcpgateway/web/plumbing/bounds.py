# -*- test-case-name: tests.web.plumbing.test_deadlines,tests.web.plumbing.test_stock -*-
"""What one HTTP connection to the gateway may hold, and for how long,
whichever channel reads it: L{ChannelBounds} is the part of a channel that
the site's L{ConnectionGuard} looks at once a second (the header deadline,
the body's pace, the idle timeout) and that closes a connection late or
crowded, with a JSON-RPC error saying why. The tuned channel
(L{mcpgateway.tuned.channel.GatewayChannel}) and the stock one
(L{mcpgateway.web.plumbing.stock.StockChannel}) are both made of it, so the bounds are
the same on C{--twisted=tuned} and C{--twisted=stock}.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.web import http

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.runtime import logs
from mcpgateway.web.plumbing.replies import ClientErrors

IDLE_CONNECTION_TIMEOUT = 60.0
"""Seconds a connection may stay silent between requests (no byte of a new
request, no response in progress) before it is closed."""
BODY_STALL_TIMEOUT = 30.0
"""Seconds a request's body may go without a byte before the request gets
408 and its connection closes."""
BODY_GRACE = 30.0
BODY_MIN_RATE = 500.0
"""A request's body must be complete within C{BODY_GRACE} seconds of its
head, plus a second per C{BODY_MIN_RATE} bytes received (Apache's
C{mod_reqtimeout} rule, C{body=20,MinRate=500}): a 4 MiB body may take
over two hours at 500 bytes a second; a byte a second is cut after 30 s."""


class ChannelBounds(http.HTTPChannel):
    """An C{HTTPChannel} the site's L{ConnectionGuard} can hold to time and
    count: what it notes (when a head began, when a body began and how much
    came, when the connection was last active, whether a request is being
    served), and how it is closed when late (L{tooSlow}, L{timeoutConnection})
    or crowded (L{admitted}). A subclass notes the times as it reads."""

    __slots__ = (
        "_guard",
        "_peer",
        "_peerAddress",
        "_refused",
        "bodyReceived",
        "bodySince",
        "busy",
        "headersSince",
        "idleTimeout",
        "lastActive",
    )
    headersSince: float | None
    """When the first byte of the request whose headers are incomplete came."""
    bodySince: float | None
    """When the head of the request whose body is incomplete was read."""
    bodyReceived: int
    """Bytes received since then, and in the read that brought the head."""
    idleTimeout: float | None
    """Seconds a connection may stay silent between requests (from the site)."""
    lastActive: float
    """When a byte last came, or a response last ended."""
    busy: bool
    """A request's body is in and its response is not finished yet."""
    site: Any = None
    _guard: ConnectionGuard | None
    _peer: str | None
    _refused: bool

    def __init__(self) -> None:
        self._peerAddress: IAddress | None = None
        self.headersSince = None
        self.bodySince = None
        self.bodyReceived = 0
        self.idleTimeout = None
        self.lastActive = 0.0
        self.busy = False
        self._guard = None
        self._peer = None
        self._refused = False
        super().__init__()

    def admitted(self) -> bool:
        """Whether the site's guard admits this new connection (not more
        than C{maxConnectionsPerPeer} from its peer address); if not, it is
        answered 503 and closed. Call it first in C{connectionMade}."""
        from twisted.internet.address import IPv4Address, IPv6Address

        guard: ConnectionGuard | None = getattr(self.site, "guard", None)
        self._guard = guard
        peer = self.transport.getPeer() if self.transport is not None else None
        self._peerAddress = peer
        host = peer.host if isinstance(peer, (IPv4Address, IPv6Address)) else None
        if guard is not None and not guard.opened(self, host):
            self._refused = True
            assert self.transport is not None
            body = jsonrpc.dumps(
                jsonrpc.errorResponse(
                    None,
                    jsonrpc.INVALID_REQUEST,
                    f"too many connections from {host}: {guard.maxPerPeer} are open, the most"
                    " one address may hold",
                )
            )
            self.transport.write(
                b"HTTP/1.1 503 Service Unavailable\r\n"
                b"content-type: application/json\r\nretry-after: 1\r\n"
                b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
            )
            self.transport.loseConnection()
            return False
        self._peer = host
        self.idleTimeout = getattr(self.site, "idleTimeout", None)
        if guard is not None:
            self.lastActive = guard.clock.seconds()
        return True

    def timeoutConnection(self) -> None:
        """Twisted's, once: the guard looks again every second while a
        peer that does not read keeps the connection from closing."""
        self.idleTimeout = None
        if getattr(self.transport, "disconnecting", False):
            # Closing already (a response that closes, a 408), and the peer
            # does not read what is left: abort it, as Twisted would.
            if self.abortTimeout is not None and self._abortingCall is None:
                self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)
            return
        super().timeoutConnection()

    def idle(self, now: float) -> bool:
        """Whether the connection has been silent, between requests, for
        its C{idleTimeout}."""
        limit = self.idleTimeout
        return limit is not None and not self.busy and now - self.lastActive >= limit

    def bodyLate(self, now: float) -> str | None:
        """Why the body of the request being read is late at C{now}: no byte
        for L{BODY_STALL_TIMEOUT} seconds, or slower than L{BODY_MIN_RATE}
        after L{BODY_GRACE}; C{None} when it is not (or no body is awaited)."""
        since = self.bodySince
        if since is None:
            return None
        if now - self.lastActive >= BODY_STALL_TIMEOUT:
            return f"request body stalled: no byte for {BODY_STALL_TIMEOUT:g} s"
        allowed = BODY_GRACE + self.bodyReceived / BODY_MIN_RATE
        if now - since >= allowed:
            return (
                f"request body not complete within {allowed:.0f} s of its headers"
                f" ({self.bodyReceived} bytes came; at least {BODY_MIN_RATE:g} a second"
                f" are needed after the first {BODY_GRACE:g} s)"
            )
        return None

    def headersTooSlow(self) -> None:
        """The request's headers missed their deadline: 408, and close."""
        self.tooSlow("request headers not complete in time")

    def tooSlow(self, text: str) -> None:
        """A request's headers or body missed their deadline: 408 with a
        JSON-RPC error saying which, and close; the connection is aborted
        if the peer does not read it (as Twisted's own idle timeout)."""
        self.headersSince = self.bodySince = self.idleTimeout = None
        self.setTimeout(None)
        body = jsonrpc.dumps(jsonrpc.errorResponse(None, jsonrpc.INVALID_REQUEST, text))
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        )
        if self.abortTimeout is not None:  # as Twisted's own idle timeout does
            self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)
        self.loseConnection()

    def checkPersistence(self, request: Any, version: bytes) -> bool:
        """As Twisted decides, except while the site hands over to a
        restart's successor: then every response closes its connection (the
        client's next request opens one to the successor)."""
        if getattr(self.site, "handingOver", False):
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            return False
        return bool(super().checkPersistence(request, version))

    def released(self) -> None:
        """The connection is gone: the guard no longer counts it. Call it in
        C{connectionLost}."""
        if self._guard is not None and not self._refused:
            self._guard.closed(self, self._peer)


class ConnectionGuard:
    """A site's open connections: how many each peer address holds, and
    which are late: a request's headers (C{MessageBounds.headerTimeout}), its body
    (L{ChannelBounds.bodyLate}), or silent between requests
    (L{ChannelBounds.idle}). A connection whose response is in progress
    (an SSE stream, a long call) is none of these."""

    log = Logger(observer=logs.observer)

    def __init__(
        self, clock: IReactorTime, limits: MessageBounds, clientErrors: ClientErrors
    ) -> None:
        self.clock = clock
        self.maxPerPeer = limits.maxConnectionsPerPeer
        self._headerTimeout = limits.headerTimeout
        self.clientErrors = clientErrors
        self.perPeer: dict[str, int] = {}
        self.channels: set[ChannelBounds] = set()
        self._sweep: IDelayedCall | None = None

    def opened(self, channel: ChannelBounds, host: str | None) -> bool:
        """Admit a new connection from C{host} (C{None}: not an IP peer)."""
        if host is not None:
            count = self.perPeer.get(host, 0)
            if count >= self.maxPerPeer:
                self.clientErrors.noteConnection(
                    host, 503, f"over {self.maxPerPeer} connections from one address"
                )
                return False
            self.perPeer[host] = count + 1
        self.channels.add(channel)
        if self._sweep is None:
            self._sweep = self.clock.callLater(1.0, self._check)
        return True

    def closed(self, channel: ChannelBounds, host: str | None) -> None:
        self.channels.discard(channel)
        if host is not None:
            count = self.perPeer.get(host, 0) - 1
            if count > 0:
                self.perPeer[host] = count
            else:
                self.perPeer.pop(host, None)

    def _check(self) -> None:
        self._sweep = None
        now = self.clock.seconds()
        deadline = self._headerTimeout
        for channel in list(self.channels):
            since = channel.headersSince
            if getattr(channel.transport, "disconnecting", False):
                # Closing already (a 400, a response that closes): it has
                # its answer, and a 408 after it would be a second one. Only
                # the idle path (an abort if the peer does not read) is left.
                late = None
            elif since is not None and now - since >= deadline:
                late = f"request headers not complete within {deadline:g} s"
            else:
                late = channel.bodyLate(now)
            if late is not None:
                self.clientErrors.noteConnection(channel._peer, 408, late)
                try:
                    channel.tooSlow(late)
                except Exception:
                    self.log.failure("closing a slow connection failed")
            elif channel.idle(now):
                try:
                    channel.timeoutConnection()  # Twisted's own: logs, closes, aborts later
                except Exception:
                    self.log.failure("closing an idle connection failed")
        if self.channels:
            self._sweep = self.clock.callLater(1.0, self._check)
