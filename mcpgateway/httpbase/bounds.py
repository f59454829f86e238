# -*- test-case-name: tests.httpbase.test_deadlines,tests.web.plumbing.test_stock,tests.httpbase.test_door -*-
"""What one HTTP connection to the gateway may hold, and for how long,
whichever channel reads it: L{ChannelBounds} is the part of a channel that
the site's L{ConnectionGuard} looks at once a second (the header deadline,
the body's pace, the idle timeout) and that closes a connection late,
crowded or not its owner's, with a JSON-RPC error saying why. The tuned channel
(L{mcpgateway.tuned.channel.GatewayChannel}) and the stock one
(L{mcpgateway.web.plumbing.stock.StockChannel}) are both made of it, so the bounds are
the same on C{--twisted=tuned} and C{--twisted=stock}.

A site with a L{Door} (a gateway that authenticates no one) admits a
connection only from its owner's account, and counts connections per
client process (L{ClientCounts}) rather than per address; a connection
whose account or process takes a worker thread to find is held, unread,
until it is known (L{ChannelBounds.admitted}). A connection whose account
the kernel cannot name is admitted for each of its requests to show the
owner token (L{Door.defers}), and counted per address, the only thing
known of it; its channel is not marked C{ownerNamed}, which the root
checks at every request.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeAlias

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper
from twisted.python.failure import Failure
from twisted.web import http

from mcpgateway.httpbase.clientcounts import ClientCounts
from mcpgateway.httpbase.clienterrors import ClientErrors
from mcpgateway.httpbase.door import Door
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.runtime import logs
from mcpgateway.runtime.peeruid import Named, PeerSocket

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
HELD_MOST = 65536
"""Bytes kept of what a held connection sends before it is let in."""
REFUSED_LINGER = 2.0
"""Seconds a refused connection is still read (what comes is dropped) after
its answer went out, before it is aborted: a client still sending its
request reads the answer, where closing a socket with bytes unread would
send it a reset instead."""


class RefusedConnection(NamedTuple):
    """A new connection's answer when it is not let in."""

    status: bytes
    """The status line's code and phrase (C{b"403 Forbidden"})."""
    text: str
    """The JSON-RPC error's message: why."""
    retry: bool = False
    """Whether to say C{Retry-After: 1} (a crowd, not a refusal for good)."""


Admission: TypeAlias = "RefusedConnection | Deferred[RefusedConnection | None] | None"
"""The guard's answer to a new connection: C{None} (let in), a refusal, or
a Deferred firing with either once the connection's client is known."""


class ChannelBounds(http.HTTPChannel):
    """An C{HTTPChannel} the site's L{ConnectionGuard} can hold to time and
    count: what it notes (when a head began, when a body began and how much
    came, when the connection was last active, whether a request is being
    served), and how it is closed when late (L{tooSlow}, L{timeoutConnection}),
    crowded or not its owner's (L{admitted}). A subclass notes the times as
    it reads, and sets itself up in L{letIn}."""

    __slots__ = (
        "_guard",
        "_held",
        "_heldData",
        "_lingering",
        "_peer",
        "_peerAddress",
        "_refused",
        "bodyReceived",
        "bodySince",
        "busy",
        "headersSince",
        "idleTimeout",
        "lastActive",
        "ownerNamed",
        "peerInode",
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
    ownerNamed: bool
    """The door named this connection's account the owner's at accept: its
    requests need no owner token."""
    peerInode: int
    """The inode of the client's socket as the door named it at accept (0:
    not known). The look for a session's client process walks C{/proc} for
    that socket's holder, later, in a thread
    (L{mcpgateway.core.gateway.ownerlookup}): by then the client may have
    closed the connection and another process's may have the same port;
    the inode names the socket itself, where the addresses name whichever
    socket has them then."""
    site: Any = None
    _guard: ConnectionGuard | None
    _peer: str | None
    _refused: bool
    """Nothing is read: the connection was refused, or is held."""
    _held: bool
    """The guard has not decided yet: what comes is kept (L{heldBack})."""
    _lingering: bool
    """Its last answer is out and its sending side closed: what comes is
    dropped until the client closes (L{closeLingering})."""

    def __init__(self) -> None:
        self._peerAddress: IAddress | None = None
        self.headersSince = None
        self.bodySince = None
        self.bodyReceived = 0
        self.idleTimeout = None
        self.lastActive = 0.0
        self.busy = False
        self.ownerNamed = False
        self.peerInode = 0
        self._guard = None
        self._peer = None
        self._refused = False
        self._held = False
        self._lingering = False
        self._heldData = b""
        super().__init__()

    def connectionMade(self) -> None:
        if self.admitted():
            self.letIn()

    def letIn(self) -> None:
        """The connection is admitted (at once, or once the guard decided):
        set it up to read requests."""
        super().connectionMade()
        if self._heldData:
            data, self._heldData = self._heldData, b""
            self.dataReceived(data)

    def admitted(self) -> bool:
        """Whether the site's guard admits this new connection now. If not,
        it is refused (503 when its peer holds too many connections, 403
        when its account is not the owner's; then closed), or held: not
        read until the guard decides (L{letIn}, or the refusal)."""
        from twisted.internet.address import IPv4Address, IPv6Address

        guard: ConnectionGuard | None = getattr(self.site, "guard", None)
        self._guard = guard
        peer = self.transport.getPeer() if self.transport is not None else None
        self._peerAddress = peer
        self._peer = peer.host if isinstance(peer, (IPv4Address, IPv6Address)) else None
        if guard is None:
            self.idleTimeout = getattr(self.site, "idleTimeout", None)
            return True
        answer = guard.opened(self, self._peer)
        if answer is None:
            self._enter(guard)
            return True
        if isinstance(answer, Deferred):
            self._held = self._refused = True  # the read path checks one flag
            producer: Any = self.transport  # a TCP, UNIX or TLS transport: a producer
            producer.pauseProducing()
            answer.addCallback(self._decided).addErrback(self._undecided)
            return False
        self.refuse(answer)
        return False

    def _enter(self, guard: ConnectionGuard) -> None:
        self.idleTimeout = getattr(self.site, "idleTimeout", None)
        self.lastActive = guard.clock.seconds()

    def _decided(self, answer: RefusedConnection | None) -> None:
        """The guard's answer to the held connection (nothing if it is gone)."""
        if not self._held:
            return
        self._held = False
        producer: Any = self.transport
        producer.resumeProducing()  # read again: served, or read and dropped after a refusal
        if answer is not None:
            self.refuse(answer)
            return
        assert self._guard is not None
        self._refused = False
        self._enter(self._guard)
        self.letIn()

    def _undecided(self, reason: Failure) -> None:
        ConnectionGuard.log.failure("admitting a connection failed", reason)
        self._decided(
            RefusedConnection(
                b"503 Service Unavailable", "internal error in the gateway; see its log", True
            )
        )

    def heldBack(self, data: bytes) -> None:
        """C{data} came while the connection is held (a subclass's read
        path calls this when C{_refused} and C{_held} are set): kept, at
        most L{HELD_MOST} bytes, for when it is let in."""
        if len(self._heldData) + len(data) > HELD_MOST:
            self._decided(
                RefusedConnection(b"413 Request Entity Too Large", "too much sent too soon")
            )
        else:
            self._heldData += data

    def refuse(self, answer: RefusedConnection) -> None:
        """Answer the new connection with C{answer} and close it: a TCP
        connection's sending side at once, the whole of it once the client
        closes its own, or after L{REFUSED_LINGER} seconds (what it sends
        meanwhile is read and dropped)."""
        self._refused = True
        transport: Any = self.transport
        body = jsonrpc.dumps(jsonrpc.errorResponse(None, jsonrpc.INVALID_REQUEST, answer.text))
        retry = b"retry-after: 1\r\n" if answer.retry else b""
        transport.write(
            b"HTTP/1.1 %s\r\ncontent-type: application/json\r\n%sconnection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (answer.status, retry, len(body), body)
        )
        self.closeLingering()

    def closeLingering(self) -> None:
        """Close the sending side now (what was written goes first) and the
        whole connection once the client closes its own, or after
        L{REFUSED_LINGER} seconds; what the client still sends meanwhile is
        read and dropped. A client that sends the whole of a refused
        request's body before it reads (httpx, so the MCP Python SDK) then
        reads the answer, where a socket closed with bytes unread would
        send it a reset instead."""
        self._lingering = True
        transport: Any = self.transport
        # TLS (a protocol wrapper) would hand this to the socket under it,
        # past its own close: a wrapped connection closes at once.
        wrapped = isinstance(transport, ProtocolWrapper)
        loseWrite = None if wrapped else getattr(transport, "loseWriteConnection", None)
        if loseWrite is None:
            transport.loseConnection()
            return
        loseWrite()
        self._abortingCall = self.callLater(REFUSED_LINGER, self._lingered)

    def _lingered(self) -> None:
        """A refused client has not closed its end: abort the connection."""
        self._abortingCall = None
        transport: Any = self.transport
        transport.abortConnection()

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
        return limit is not None and self.silentFor(now, limit)

    def silentFor(self, now: float, seconds: float) -> bool:
        """Whether the connection has been silent for C{seconds} between
        requests: no response in progress, no request begun, nothing come
        or gone since."""
        return (
            not self.busy
            and self.headersSince is None
            and self.bodySince is None
            and now - self.lastActive >= seconds
        )

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
        self._held = False  # the guard's answer, when it comes, finds it gone
        if self._guard is not None:
            self._guard.closed(self, self._peer, not self._refused)


class ConnectionGuard:
    """A site's open connections: how many each peer holds (an address, or
    with a L{Door} a client process: L{ClientCounts}), whether a new one's
    account may connect (the door), and which are late: a request's headers
    (C{MessageBounds.headerTimeout}), its body (L{ChannelBounds.bodyLate}),
    or silent between requests (L{ChannelBounds.idle}). A connection whose
    response is in progress (an SSE stream, a long call) is none of these."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        clock: IReactorTime,
        limits: MessageBounds,
        clientErrors: ClientErrors,
        door: Door | None = None,
    ) -> None:
        self.clock = clock
        self.maxPerPeer = limits.maxConnectionsPerPeer
        self._headerTimeout = limits.headerTimeout
        self.clientErrors = clientErrors
        self.door = door
        """Who may connect (C{None}: everyone, the site authenticates requests)."""
        self.clients = None if door is None else ClientCounts(self.maxPerPeer, door.namer.holders)
        """The door's connections per client process."""
        self.addressed: set[ChannelBounds] = set()
        """The door's connections counted per address (their account not named)."""
        self.perPeer: dict[str, int] = {}
        self.channels: set[ChannelBounds] = set()
        self._sweep: IDelayedCall | None = None

    def opened(self, channel: ChannelBounds, host: str | None) -> Admission:
        """Admit, refuse or hold a new connection from C{host} (C{None}: not
        an IP peer)."""
        if self.door is not None:
            self.channels.add(channel)  # before the door: an answer may come at once
            answer = self._throughDoor(channel, host)
            if isinstance(answer, RefusedConnection):
                self.channels.discard(channel)
        else:
            answer = self._perAddress(host)
            if answer is not None:
                return answer
        if not isinstance(answer, RefusedConnection):
            self.channels.add(channel)
            if self._sweep is None:
                self._sweep = self.clock.callLater(1.0, self._check)
        return answer

    def _perAddress(self, host: str | None) -> RefusedConnection | None:
        """Count a connection from C{host}, unless that address holds the
        most already (a 503 then); one not from an IP peer is not counted."""
        if host is None:
            return None
        if self.perPeer.get(host, 0) >= self.maxPerPeer:
            self.clientErrors.noteConnection(
                host, 503, f"over {self.maxPerPeer} connections from one address"
            )
            return RefusedConnection(
                b"503 Service Unavailable",
                f"too many connections from {host}: {self.maxPerPeer} are open, the most one"
                " address may hold",
                True,
            )
        self.perPeer[host] = self.perPeer.get(host, 0) + 1
        return None

    def _throughDoor(self, channel: ChannelBounds, host: str | None) -> Admission:
        """The door's answer: the peer's account, then its process's count."""
        assert self.door is not None
        named = self.door.name(channel)
        if isinstance(named, Deferred):
            later: Deferred[RefusedConnection | None] = named.addCallback(
                self._named, channel, host, True
            )
            return later
        return self._named(named, channel, host)

    def _named(
        self, named: Named, channel: ChannelBounds, host: str | None, late: bool = False
    ) -> Admission:
        if late and channel not in self.channels:
            return None  # gone while its account was looked for
        assert self.door is not None and self.clients is not None
        if host is not None:
            shown = f"{host}:{getattr(channel.getPeer(), 'port', '')}"
        elif isinstance(named, PeerSocket) and named.pid is not None:
            shown = f"pid {named.pid} on the UNIX socket"
        else:
            shown = "a client of the UNIX socket"
        if self.door.defers(named):
            # No account to count by: by address, as a gateway without a door counts.
            refused = self._perAddress(host)
            if refused is None and host is not None:
                self.addressed.add(channel)
            return refused
        why = self.door.refusal(named, shown)
        if why is not None:
            return RefusedConnection(b"403 Forbidden", why)
        assert isinstance(named, PeerSocket)
        channel.ownerNamed = True
        channel.peerInode = named.inode
        counted = self.clients.opened(channel, named)
        if isinstance(counted, Deferred):
            crowded: Deferred[RefusedConnection | None] = counted.addCallback(self._crowded, host)
            return crowded
        return self._crowded(counted, host)

    def _crowded(self, why: str | None, host: str | None) -> RefusedConnection | None:
        if why is None:
            return None
        self.clientErrors.noteConnection(host, 503, why)
        return RefusedConnection(b"503 Service Unavailable", why, True)

    def closed(self, channel: ChannelBounds, host: str | None, counted: bool = True) -> None:
        """C{channel}'s connection is gone; C{counted}: it was admitted (or
        held), not refused at once."""
        self.channels.discard(channel)
        if self.clients is not None:
            self.clients.closed(channel)
            if channel not in self.addressed:
                return
            self.addressed.discard(channel)
        if counted and host is not None:
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
