# -*- test-case-name: tests.web.test_channel_reading,tests.web.test_deadlines -*-
"""One HTTP connection to the gateway: L{GatewayChannel} reads requests with
llhttp (L{mcpgateway.web.httpreader}), bounds what a client may send and how
slowly (header deadline, body stall, per-peer connection cap), answers
pipelined requests in order, and hands each request to the site's resource
tree. L{ConnectionGuard} keeps the per-peer counts and the idle timeouts,
one sweep a second for every connection.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.http_headers import Headers
from twisted.web.iweb import INonQueuedRequestFactory

from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.limits import MAX_BODY, Limits
from mcpgateway.runtime import logs
from mcpgateway.runtime.turnflush import TurnFlusher, writerOf
from mcpgateway.web.guard import isHost
from mcpgateway.web.headers import GatewayHeaders
from mcpgateway.web.httpreader import Message, RequestReader
from mcpgateway.web.replies import ClientErrors
from mcpgateway.web.request import responseHead

if TYPE_CHECKING:
    pass  # loaded at the page's first request


DEFAULT_MAX_BODY = MAX_BODY
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
READ_SLICE = 4096
"""Bytes the reader is given at a time: at most what one slice holds is
parsed ahead of a response in progress; the rest waits as bytes."""


class GatewayChannel(http.HTTPChannel):
    """An HTTP/1.1 connection held to the site's L{Limits}: a request's
    headers must be complete within C{headerTimeout} seconds of its first
    byte, and its body must keep coming (L{bodyLate}: no pause of
    L{BODY_STALL_TIMEOUT} seconds, L{BODY_MIN_RATE} bytes a second after
    L{BODY_GRACE}), else 408 and the connection closes; a peer address may
    hold at most C{maxConnectionsPerPeer} connections (more are answered 503
    and closed). None of this touches a response in progress: once a
    request is read, an SSE stream may stay open as long as it likes.

    The deadlines cost no timer per request: the first byte notes the time
    (or the end of the response a pipelined head waited behind), the end of
    the headers clears it (C{_open}) and, if a body is still to come, notes
    when its wait began (cleared when it is in), and the site's
    L{ConnectionGuard} looks at every connection once a second. No deadline
    runs while a response is in progress. So does the idle timeout
    (C{idleTimeout} seconds without a byte and without a request in
    progress, L{IDLE_CONNECTION_TIMEOUT}; the site's own C{timeOut} is
    C{None}), which Twisted would otherwise reset on every line of every
    request and re-arm with a new C{DelayedCall} after every response.

    Request heads and bodies are read by a L{RequestReader} (httptools)
    instead of Twisted's line parser: the channel builds Twisted's request
    objects from its L{Message}s, one at a time, as Twisted's own parser
    would: what comes during a response waits unread, and past 16 KiB the
    connection is not read until the response is done."""

    __slots__ = (
        "_adopted",
        "_advancing",
        "_answering",
        "_guard",
        "_host",
        "_opened",
        "_peer",
        "_peerAddress",
        "_reader",
        "_refused",
        "_serving",
        "_unread",
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
    leanWrites = True
    """A L{GatewayRequest} may write its response's head and first piece
    of body in one piece here (see L{mcpgateway.web.request})."""
    _guard: ConnectionGuard | None
    _peer: str | None
    _refused: bool
    _host: IAddress | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._host = None
        self._peerAddress: IAddress | None = None
        self._adopted: FileDescriptor | None = None
        """The connection's descriptor, when the site's flusher adopted it."""
        self._answering = False
        """Its request in progress is counted in the site's C{answering}."""
        self._serving = False
        """Its request in progress is counted in the site's C{serving}."""
        self.headersSince = None
        self.bodySince = None
        self.bodyReceived = 0
        self.idleTimeout = None
        self.lastActive = 0.0
        self.busy = False
        self._guard = None
        self._peer = None
        self._refused = False
        self._advancing = False
        self._opened: http.Request | None = None
        self._unread = b""
        """Bytes received and not yet read: those behind a response in
        progress (Twisted's buffer), and the rest of a read past a slice."""
        super().__init__(*args, **kwargs)
        self._reader: RequestReader | None = None

    def connectionMade(self) -> None:
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
            return
        self._peer = host
        flusher: TurnFlusher | None = getattr(self.site, "flusher", None)
        if flusher is not None:
            writer = writerOf(self.transport)
            if writer is not None:
                flusher.adopt(writer)  # what a turn writes leaves at its end
                self._adopted = writer
        self.idleTimeout = getattr(self.site, "idleTimeout", None)
        if guard is not None:
            self.lastActive = guard.clock.seconds()
        super().connectionMade()

    def dataReceived(self, data: bytes) -> None:
        if self._refused or getattr(self.transport, "disconnecting", False):
            return  # closing: nothing more is read (TLS may still pass data up)
        self.resetTimeout()
        guard = self._guard
        if guard is not None:
            self.lastActive = now = guard.clock.seconds()
            if self._opened is not None:
                self.bodyReceived += len(data)  # a body's bytes: held to BODY_MIN_RATE
            elif self.headersSince is None and not self._handlingRequest:
                self.headersSince = now  # the first byte of a request (not of a body)
        unread = self._unread
        self._unread = unread + data if unread else data
        self._advance(len(data))

    def _advance(self, received: int = 0) -> None:
        """Read and serve requests, one at a time, while no response is in
        progress; bytes that come during a response wait unread (as Twisted
        keeps them), and past 16 KiB the connection is not read until the
        response is done. C{received}: the bytes just received, counted for
        a body that is now awaited (L{bodyReceived})."""
        if self._advancing:
            return  # a response finished inside _advance: its loop goes on
        self._advancing = True
        try:
            self._serve()
        finally:
            self._advancing = False
        if self._handlingRequest or self._opened is not None:
            self.headersSince = None  # no header deadline during a response, or a body
            if self._opened is not None and self.bodySince is None:
                guard = self._guard
                if guard is not None:  # a body is awaited: the guard holds it to time
                    self.bodySince = guard.clock.seconds()
                    self.bodyReceived = received
            if len(self._unread) > self._optimisticEagerReadSize:
                self._networkProducer.pauseProducing()
        elif self.headersSince is None and self._reader is not None and self._reader.inHead:
            guard = self._guard
            if guard is not None:  # a head read ahead of a response now done
                self.headersSince = guard.clock.seconds()

    def _serve(self) -> None:
        transport = self.transport
        while not self._handlingRequest and not getattr(transport, "disconnecting", False):
            reader = self._reader
            if reader is None:
                if not self._unread:
                    return  # dropped by streaming(): made again when there is something to read
                reader = self._reader = RequestReader(self.totalHeadersSize, self.maxHeaders)
            messages = reader.messages
            if messages:
                message = messages[0]
                if message.bad is not None:
                    messages.clear()
                    self._unread = b""
                    self._unreadable(message.bad)
                    return
                request = self._opened
                if request is None:
                    request = self._opened = self._open(message)
                    if request is None:
                        return  # refused from its head: the connection closes
                if getattr(request, "bodyTooLarge", False):
                    self._refuseBody(request)
                    return
                if message.complete:
                    del messages[0]
                    self._opened = None
                    self.bodySince = None
                    if self.timeOut:
                        self._savedTimeOut = self.setTimeout(None)
                    self._handlingRequest = True
                    self.busy = True
                    self._serving = True
                    self.site.serving += 1
                    if self._adopted is not None:
                        self._answering = True
                        self.site.answering += 1
                    request.requestReceived(message.method, message.uri, message.version)
                    continue
            unread = self._unread
            if not unread:
                return
            # A slice at a time: what one read brings is not all parsed
            # ahead of the response it may wait behind.
            if len(unread) > READ_SLICE:
                self._unread = unread[READ_SLICE:]
                unread = unread[:READ_SLICE]
            else:
                self._unread = b""
            reader.feed(unread)

    def _open(self, message: Message) -> http.Request | None:
        """The request object for C{message}, whose head is in, made as
        Twisted's parser makes it; its body goes there as it comes.

        C{None} when the head alone is refused, and the connection closes:
        an HTTP/1.1 request without one C{Host} header (RFC 9112 §3.2; an
        HTTP/1.0 one may have none), or with more than one, is 400; a
        C{Content-Length} over the body limit is 413 at once, before
        C{100 Continue} and without waiting for a body that may never come
        (a chunked body is refused as soon as it passes the limit:
        L{_refuseBody}). So is a C{Host}
        that is not C{host[:port]} (RFC 9112 §3.2), and two different values
        of one of L{mcpgateway.web.httpreader.SINGLE_HEADERS} (C{Origin}, C{Mcp-Session-Id},
        C{MCP-Protocol-Version}: which one would count is ambiguous)."""
        self.headersSince = None  # its head is complete: the deadline is met
        hosts = message.hosts
        if hosts != 1 and (hosts or message.version == b"HTTP/1.1"):
            self._refuseHead(
                b"400 Bad Request",
                "an HTTP/1.1 request needs one Host header (RFC 9112, section 3.2)"
                if not hosts
                else "a request may carry one Host header only (RFC 9112, section 3.2)",
            )
            return None
        if hosts and not isHost(message.host):
            self._refuseHead(
                b"400 Bad Request",
                f"the Host header {message.host[:100].decode('latin-1')!r} is not host[:port]"
                " (RFC 9112, section 3.2)",
            )
            return None
        if message.repeated:
            conflict = message.conflicting()
            if conflict is not None:
                self._refuseHead(
                    b"400 Bad Request",
                    f"a request may carry one value of {conflict} only: it has two different ones",
                )
                return None
        length = message.length
        if length:
            limit = getattr(self.requestFactory, "bodyLimit", None)
            if limit is not None and length > limit:
                self._refuseHead(
                    b"413 Request Entity Too Large",
                    f"request body is over the {limit}-byte limit (its Content-Length is {length})",
                )
                return None
        factory = self.requestFactory
        request: http.Request = (
            factory(self) if nonQueued(factory) else factory(self, len(self.requests))
        )
        self.requests.append(request)
        headers = request.requestHeaders
        if type(headers) is GatewayHeaders:
            headers.addLines(message.headers)
        else:
            for name, value in message.headers:
                headers.addRawHeader(name, value)
        if message.cookies:
            request.parseCookies()
        persistent = self.checkPersistence(request, message.version)
        if persistent and not message.keepAlive:
            # llhttp reads every form of "close" (a list, a second header);
            # Twisted's check looks at the first word of the first one.
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            persistent = False
        self.persistent = persistent
        request.gotLength(message.length)
        if message.expectContinue and message.version == b"HTTP/1.1" and not message.complete:
            self._send100Continue()
        message.take(request.handleContentChunk)
        return request

    def _unreadable(self, reason: str) -> None:
        """A request that cannot be read: 400 with a JSON-RPC error saying
        why (as the gateway's other 400s), and close."""
        if self._guard is not None:
            self._guard.clientErrors.noteConnection(
                self._peer, 400, f"a request that cannot be read ({reason[:80]})"
            )
        self._closeWith(b"400 Bad Request", f"the request cannot be read: {reason[:200]}")

    def _refuseHead(self, status: bytes, text: str) -> None:
        """A request refused from its head alone: C{status} with a JSON-RPC
        error saying why, and close (what follows the head is not read)."""
        reader = self._reader
        if reader is not None:
            reader.messages.clear()
            reader.closed = True
        self._unread = b""
        if self._guard is not None:
            self._guard.clientErrors.noteConnection(self._peer, int(status[:3]), text)
        self._closeWith(status, text)

    def _refuseBody(self, request: http.Request) -> None:
        """A chunked body that went past the body limit: 413 as soon as it
        does, as for a C{Content-Length} over it, and close; the rest of the
        body is not read (an endless one would keep the reactor reading).
        The request is never served: the connection's end tells it so."""
        limit = getattr(request, "bodyLimit", None)
        self._refuseHead(
            b"413 Request Entity Too Large",
            f"request body is over the {limit}-byte limit (a chunked body, refused once"
            " it passed the limit)",
        )

    def _closeWith(self, status: bytes, text: str) -> None:
        """Answer C{status} (code and phrase) with a JSON-RPC error body
        (C{id} null, C{-32600}), and close. No deadline runs after it: the
        request it answers is no longer read (nor its body awaited), so the
        guard never writes a 408 behind this answer."""
        self.headersSince = self.bodySince = None
        self._opened = None
        body = jsonrpc.dumps(jsonrpc.errorResponse(None, jsonrpc.INVALID_REQUEST, text))
        self.write(
            b"HTTP/1.1 %s\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (status, len(body), body)
        )
        self.loseConnection()

    def streaming(self) -> None:
        """The response in progress stays open (a GET stream, for as long as
        its session): its L{RequestReader} goes until the client sends more,
        unless it holds something read ahead (about 1 KiB per idle
        session)."""
        reader = self._reader
        if reader is not None and reader.idle:
            self._reader = None

    def requestDone(self, request: Any) -> None:
        """As Twisted's, reading on from the L{RequestReader}. When no other
        request waits for its answer, a finished response is sent at once:
        its client need not wait for the rest of the turn. Under load,
        answers go at the end of the turn, together, as the clients' next
        requests then come together (sending each at once measured 10 µs
        more CPU per call at C=16, and 18 µs less latency at C=1)."""
        self.headOut()
        adopted = self._adopted
        if adopted is not None and self.site.answering == 0:
            self.site.flusher.sendNow(adopted)
        self._served()
        self.busy = False
        guard = self._guard
        if guard is not None:
            self.lastActive = guard.clock.seconds()
        if request is not self.requests[0]:
            raise TypeError(request)
        del self.requests[0]
        if not self._waitingForTransport and not getattr(self.transport, "disconnecting", False):
            self._networkProducer.resumeProducing()  # _advance pauses again if much waits
        if not self.persistent:
            self.loseConnection()
            return
        self._handlingRequest = False
        if self._savedTimeOut:
            self.setTimeout(self._savedTimeOut)
        self._advance()  # what was read, or held unread, behind it

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

    def writeHeaders(self, version: bytes, code: bytes, reason: bytes, headers: Any) -> None:
        """As Twisted writes them, in one piece: its C{writeSequence} of
        four pieces per header costs a type check and a list append each,
        on every response (the profile). A L{GatewayRequest} usually
        sends its head with its first piece of body instead
        (C{leanWrites})."""
        if not isinstance(headers, Headers):
            super().writeHeaders(version, code, reason, headers)
            return
        assert self.transport is not None
        self.transport.write(responseHead(version, code, reason, headers))

    def getHost(self) -> IAddress:
        """The local address, asked of the socket once per connection
        (Twisted asks for every request: a C{getsockname} system call)."""
        host = self._host
        if host is None:
            assert self.transport is not None
            host = self._host = self.transport.getHost()
        return host

    def getPeer(self) -> IAddress:
        """The client's address, made once per connection (Twisted makes an
        address object for every request)."""
        peer = self._peerAddress
        if peer is None:
            assert self.transport is not None
            peer = self._peerAddress = self.transport.getPeer()
        return peer

    def checkPersistence(self, request: Any, version: bytes) -> bool:
        """As Twisted decides, except while the site hands over to a
        restart's successor: then every response closes its connection (the
        client's next request opens one to the successor)."""
        if getattr(self.site, "handingOver", False):
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            return False
        return bool(super().checkPersistence(request, version))

    def answerWritten(self) -> None:
        """The whole answer to the request in progress was written: when no
        other request waits for its answer, it is sent at once, before the
        request is finished (its client need not wait for the gateway's
        bookkeeping)."""
        adopted = self._adopted
        if adopted is not None and self.site.answering == 0:
            self.site.flusher.sendNow(adopted)

    def headOut(self) -> None:
        """The head of the response in progress went out (or the connection
        is gone): no longer counted in the site's L{GatewaySite.answering}."""
        if self._answering:
            self._answering = False
            self.site.answering -= 1

    def _served(self) -> None:
        """The request in progress is finished (or the connection is gone):
        no longer counted in the site's L{GatewaySite.serving}."""
        if self._serving:
            self._serving = False
            self.site.serving -= 1

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.headOut()
        self._served()
        if self._guard is not None and not self._refused:
            self._guard.closed(self, self._peer)
        super().connectionLost(reason)


class ConnectionGuard:
    """A site's open connections: how many each peer address holds, and
    which are late: a request's headers (C{Limits.headerTimeout}), its body
    (L{GatewayChannel.bodyLate}), or silent between requests
    (L{GatewayChannel.idle}). A connection whose response is in progress
    (an SSE stream, a long call) is none of these."""

    log = Logger(observer=logs.observer)

    def __init__(self, clock: IReactorTime, limits: Limits, clientErrors: ClientErrors) -> None:
        self.clock = clock
        self.maxPerPeer = limits.maxConnectionsPerPeer
        self._headerTimeout = limits.headerTimeout
        self.clientErrors = clientErrors
        self.perPeer: dict[str, int] = {}
        self.channels: set[GatewayChannel] = set()
        self._sweep: IDelayedCall | None = None

    def opened(self, channel: GatewayChannel, host: str | None) -> bool:
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

    def closed(self, channel: GatewayChannel, host: str | None) -> None:
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


@lru_cache(maxsize=64)
def nonQueued(factory: object) -> bool:
    """Whether a site's request factory is called without the queue
    position (Twisted's rule), asked once per factory, not per request."""
    return bool(INonQueuedRequestFactory.providedBy(factory))
