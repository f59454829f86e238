# -*- test-case-name: tests.tuned.test_channel_reading,tests.httpbase.test_deadlines -*-
"""One HTTP connection to the gateway: L{GatewayChannel} reads requests with
llhttp (L{mcpgateway.tuned.httpreader}), bounds what a client may send and how
slowly (header deadline, body stall, per-peer connection cap), answers
pipelined requests in order, and hands each request to the site's resource
tree. The site's L{ConnectionGuard} (L{mcpgateway.httpbase.bounds}) keeps the
per-peer counts and the deadlines, one sweep a second for every connection.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.http_headers import Headers
from twisted.web.iweb import INonQueuedRequestFactory

from mcpgateway.httpbase.bounds import (
    BODY_GRACE,
    BODY_MIN_RATE,
    BODY_STALL_TIMEOUT,
    IDLE_CONNECTION_TIMEOUT,
    ChannelBounds,
    ConnectionGuard,
)
from mcpgateway.httpbase.headers import GatewayHeaders, isHost
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.bounds import MAX_BODY
from mcpgateway.runtime.turnwrites import Flusher, writerOf
from mcpgateway.tuned.httpreader import Message, RequestReader
from mcpgateway.tuned.request import responseHead

__all__ = [
    "BODY_GRACE",
    "BODY_MIN_RATE",
    "BODY_STALL_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "IDLE_CONNECTION_TIMEOUT",
    "READ_SLICE",
    "ConnectionGuard",
    "GatewayChannel",
    "nonQueued",
]

DEFAULT_MAX_BODY = MAX_BODY
READ_SLICE = 4096
"""Bytes the reader is given at a time: at most what one slice holds is
parsed ahead of a response in progress; the rest waits as bytes."""


class GatewayChannel(ChannelBounds):
    """An HTTP/1.1 connection held to the site's
    L{mcpgateway.protocol.bounds.MessageBounds}: a request's headers must
    be complete within C{headerTimeout} seconds of its first byte, and its
    body must keep coming (L{ChannelBounds.bodyLate}: no pause of
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
        "_host",
        "_opened",
        "_reader",
        "_serving",
        "_unread",
    )
    leanWrites = True
    """A L{GatewayRequest} may write its response's head and first piece
    of body in one piece here (see L{mcpgateway.tuned.request})."""
    _host: IAddress | None

    def __init__(self) -> None:
        self._host = None
        self._adopted: FileDescriptor | None = None
        """The connection's descriptor, when the site's flusher adopted it."""
        self._answering = False
        """Its request in progress is counted in the site's C{answering}."""
        self._serving = False
        """Its request in progress is counted in the site's C{serving}."""
        self._advancing = False
        self._opened: http.Request | None = None
        self._unread = b""
        """Bytes received and not yet read: those behind a response in
        progress (Twisted's buffer), and the rest of a read past a slice."""
        super().__init__()
        self._reader: RequestReader | None = None

    def letIn(self) -> None:
        flusher: Flusher | None = getattr(self.site, "flusher", None)
        if flusher is not None:
            writer = writerOf(self.transport)
            if writer is not None:
                flusher.adopt(writer)  # what a turn writes leaves at its end
                self._adopted = writer
        super().letIn()

    def dataReceived(self, data: bytes) -> None:
        if self._refused or self._lingering or getattr(self.transport, "disconnecting", False):
            if self._held:
                self.heldBack(data)
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
        of one of L{mcpgateway.tuned.httpreader.SINGLE_HEADERS}
        (C{Origin}, C{Mcp-Session-Id}, C{MCP-Protocol-Version}: which one
        would count is ambiguous)."""
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
        # Persistence as Twisted decides it (HTTP/1.1 only, not when the
        # client says close) and L{ChannelBounds.checkPersistence} (never
        # while the site hands over to a restart's successor), decided here
        # from what llhttp read: every form of "close" (a list, a second
        # header), where Twisted's check looks at the first word of the first.
        if getattr(self.site, "handingOver", False) or (
            message.version == b"HTTP/1.1" and not message.keepAlive
        ):
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            self.persistent = False
        else:
            self.persistent = message.version == b"HTTP/1.1"
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
        self.closeLingering()  # the rest of what it sends (a body) is dropped, not reset

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
        reader = self._reader
        if self._unread or (reader is not None and (reader.messages or reader.inHead)):
            self._advance()  # what was read, or held unread, behind it
        # else nothing waits behind it (one call at a time): no reading loop

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
        self.released()
        super().connectionLost(reason)


@lru_cache(maxsize=64)
def nonQueued(factory: object) -> bool:
    """Whether a site's request factory is called without the queue
    position (Twisted's rule), asked once per factory, not per request."""
    return bool(INonQueuedRequestFactory.providedBy(factory))
