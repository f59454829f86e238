# -*- test-case-name: tests.web.plumbing.test_stock -*-
"""The gateway's HTTP side on twisted.web as Twisted ships it (C{--twisted=stock}).

L{StockSite} is the gateway's site (L{mcpgateway.web.app.GatewaySite}: its
resource tree, the hand-over of a restart, no access log) serving
connections through Twisted's own C{HTTPChannel}, line parser, C{Request}
and C{Headers}, wrapped as Twisted wraps them, with writes sent as Twisted
sends them. What the subclasses below add is the gateway's rules, through
the methods Twisted documents for subclasses, never by replacing how
Twisted reads or writes:

  - L{StockChannel}: the connection bounds of L{mcpgateway.httpbase.bounds} (the
    header deadline, the body's pace, the idle timeout, the connections per
    peer address), and the head rules the tuned channel applies before a
    request is served: one C{Host} that is C{host[:port]} on HTTP/1.1,
    one value of each of L{SINGLE_HEADERS}, HTTP/1.0 or 1.1 only, and a
    C{Content-Length} within the body limit (413 before the body comes; a
    chunked body as soon as it passes the limit), and C{Connection: close}
    read in every form (a list, a second header);
  - L{StockRequest}: the body limit, a hook for a lost connection
    (C{onLost}), and no default C{Content-Type} (as on the tuned request).

The tuned classes (L{mcpgateway.tuned.channel}, L{mcpgateway.tuned.request},
L{mcpgateway.httpbase.headers}) do the same with less work per request; the
tests compare the two (C{tests/web/plumbing/test_stock.py}).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web.http import HTTPFactory

from mcpgateway.httpbase.bodybound import BodyBoundedRequest
from mcpgateway.httpbase.bounds import ChannelBounds
from mcpgateway.httpbase.headers import isHost
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime.twistedprivate import GenericHTTPChannelProtocol

SINGLE_HEADERS = (b"origin", b"mcp-session-id", b"mcp-protocol-version")
"""Headers (lower case) a request may carry one value of only (as
L{mcpgateway.tuned.httpreader.SINGLE_HEADERS})."""
MAX_LENGTH_DIGITS = 64
"""A C{Content-Length} value longer than this (spaces included) is refused
unread: no body the gateway takes has a length of more digits."""
VERSIONS = (b"HTTP/1.1", b"HTTP/1.0")
"""The HTTP versions served."""


class StockChannel(ChannelBounds):
    """Twisted's C{HTTPChannel}, held to the site's bounds and the head
    rules (see the module). It notes the times the guard looks at as it
    reads; a request refused from its head is answered and closed, and
    nothing after it is read."""

    __slots__ = ("_headVersion", "_inHead", "_refusedHead")

    def __init__(self) -> None:
        super().__init__()
        self._inHead = False
        """A request's head is being read (its first line came)."""
        self._headVersion = b""
        """The HTTP version of the request line being read."""
        self._refusedHead = False
        """A request was refused from its head: nothing more is served."""

    def dataReceived(self, data: bytes) -> None:
        if (
            self._refused
            or self._refusedHead
            or self._lingering
            or getattr(self.transport, "disconnecting", False)
        ):
            if self._held:
                self.heldBack(data)
            return
        guard = self._guard
        if guard is None:
            super().dataReceived(data)
            return
        self.lastActive = now = guard.clock.seconds()
        awaited = self.bodySince is not None
        if awaited:
            self.bodyReceived += len(data)  # a body's bytes: held to its pace
        elif self.headersSince is None and not self.busy:
            self.headersSince = now  # the first byte of a request
        super().dataReceived(data)
        if not awaited and self.bodySince is not None:
            self.bodyReceived = len(data)  # the read that brought the head counts
        if self._inHead and self.headersSince is None:
            self.headersSince = now  # a head begun behind a response done in this read

    def lineReceived(self, line: bytes) -> None:
        if self._refusedHead:
            return
        if not self._inHead and line:
            self._inHead = True  # its request line
            self._headVersion = line.rpartition(b" ")[2]
        super().lineReceived(line)

    def headerReceived(self, line: bytes) -> bool:
        """Twisted's, but for a C{Content-Length} too long to be a length
        (Twisted's C{int()} of thousands of digits raises): 400."""
        name, colon, value = line.partition(b":")
        if colon and len(value) > MAX_LENGTH_DIGITS and name.strip().lower() == b"content-length":
            self.refuseHead(
                b"400 Bad Request",
                f"the request cannot be read: a Content-Length of {len(value.strip())} digits",
            )
            return False
        return bool(super().headerReceived(line))

    def allHeadersReceived(self) -> None:
        """Twisted's, once the head passes the rules (see the module); a
        head that does not is answered with its error and closed."""
        self._inHead = False
        self.headersSince = None
        request = self.requests[-1]
        refusal = self._refusal(request)
        if refusal is not None:
            self.refuseHead(*refusal)
            return
        super().allHeadersReceived()
        guard = self._guard
        if self.length != 0 and guard is not None:  # a body is awaited: held to its pace
            self.bodySince = guard.clock.seconds()
            self.bodyReceived = 0

    def _refusal(self, request: Any) -> tuple[bytes, str] | None:
        """The status and reason a head is refused with, or C{None}."""
        version = self._headVersion
        if version not in VERSIONS:
            shown = version[:20].decode("latin-1")
            return b"400 Bad Request", f"the request cannot be read: {shown} is not served"
        headers = request.requestHeaders
        hosts = headers.getRawHeaders(b"host") or []
        if len(hosts) != 1 and (hosts or version == b"HTTP/1.1"):
            return b"400 Bad Request", (
                "an HTTP/1.1 request needs one Host header (RFC 9112, section 3.2)"
                if not hosts
                else "a request may carry one Host header only (RFC 9112, section 3.2)"
            )
        if hosts and not isHost(hosts[0]):
            return b"400 Bad Request", (
                f"the Host header {hosts[0][:100].decode('latin-1')!r} is not host[:port]"
                " (RFC 9112, section 3.2)"
            )
        for name, values in headers.getAllRawHeaders():
            if name.lower() in SINGLE_HEADERS and len(set(values)) > 1:
                return b"400 Bad Request", (
                    f"a request may carry one value of {name.decode('latin-1')} only: it has"
                    " two different ones"
                )
        limit = getattr(self.requestFactory, "bodyLimit", None)
        if self.length and limit is not None and self.length > limit:
            return b"413 Request Entity Too Large", (
                f"request body is over the {limit}-byte limit (its Content-Length is {self.length})"
            )
        return None

    def refuseHead(self, status: bytes, text: str) -> None:
        """Answer C{status} (code and phrase) with a JSON-RPC error saying
        C{text} (C{id} null, C{-32600}), and close; nothing more is read."""
        self._refusedHead = True
        self.headersSince = self.bodySince = None
        if self._guard is not None:
            self._guard.clientErrors.noteConnection(self._peer, int(status[:3]), text)
        body = jsonrpc.dumps(jsonrpc.errorResponse(None, jsonrpc.INVALID_REQUEST, text))
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 %s\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (status, len(body), body)
        )
        self.closeLingering()  # the rest of what it sends (a body) is dropped, not reset

    def bodyOverBound(self, request: StockRequest) -> None:
        """A chunked body went past the limit: 413 at once, as for a
        C{Content-Length} over it, and close (the rest is not read)."""
        if not self._refusedHead:
            self.refuseHead(
                b"413 Request Entity Too Large",
                f"request body is over the {request.bodyLimit}-byte limit (a chunked body,"
                " refused once it passed the limit)",
            )

    def checkPersistence(self, request: Any, version: bytes) -> bool:
        """As the gateway's site decides (L{ChannelBounds.checkPersistence}),
        and closed after the response when any C{Connection} header lists
        C{close} (Twisted looks at the first word of the first one only)."""
        persistent = super().checkPersistence(request, version)
        if persistent and _asksToClose(request.requestHeaders.getRawHeaders(b"connection")):
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            return False
        return persistent

    def rawDataReceived(self, data: bytes) -> None:
        if not self._refusedHead:
            super().rawDataReceived(data)

    def allContentReceived(self) -> None:
        if self._refusedHead:
            return  # refused from its head: never served
        self.bodySince = None
        self.busy = True
        super().allContentReceived()

    def requestDone(self, request: Any) -> None:
        self.busy = False
        guard = self._guard
        if guard is not None:
            self.lastActive = guard.clock.seconds()
        super().requestDone(request)
        if self._inHead and self.headersSince is None and guard is not None:
            self.headersSince = guard.clock.seconds()  # a head read behind the response

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.released()
        super().connectionLost(reason)


class StockRequest(BodyBoundedRequest):
    """Twisted's C{Request}, with the gateway's body limit (see the module);
    what the gateway learns about it is its context's
    (L{mcpgateway.web.plumbing.requestcontext})."""

    defaultContentType = None
    bodyTooLarge = False
    onLost: Callable[[], object] | None = None
    """Called if the client goes away before the response is finished."""
    _bodyBytes = 0

    def handleContentChunk(self, data: bytes) -> None:
        if self.keeps(data):
            super().handleContentChunk(data)

    def overBound(self) -> None:
        over = getattr(self.channel, "bodyOverBound", None)
        if over is not None:
            over(self)


def _asksToClose(values: list[bytes] | None) -> bool:
    """Whether C{Connection} header C{values} list the C{close} option."""
    return any(
        word.strip().lower() == b"close" for value in values or () for word in value.split(b",")
    )


def stockChannel(site: HTTPFactory) -> GenericHTTPChannelProtocol:
    """A connection's protocol, as Twisted's C{Site} makes it: the channel
    in Twisted's wrapper (which hands it to HTTP/2 when TLS negotiates it)."""
    return GenericHTTPChannelProtocol(StockChannel())
