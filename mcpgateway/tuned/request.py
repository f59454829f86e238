# -*- test-case-name: tests.tuned.test_request -*-
"""The gateway's request object: Twisted's C{Request}, with less work per request.

L{GatewayRequest} is a C{twisted.web.server.Request} in every way its
readers can see (every resource, guard and test reads it as one). It caps
the body it stores (C{bodyLimit}), keeps what the gateway learns about a
request on one component (L{mcpgateway.web.plumbing.requestcontext}), and does
what Twisted's request does on every request with less work, because on
the hot path (C{POST /<server>/mcp}) twisted.web's request was about a fifth
of the gateway's CPU (docs/design/costs.md):

  - it is made without the two C{Headers} objects Twisted's C{__init__}
    makes and the gateway replaced at once (L{GatewayHeaders} instead), and
    without Twisted's form parsing, which the gateway never uses (bodies are
    JSON-RPC): C{requestReceived} parses a query string only when there is
    one;
  - C{process} sets C{Date} from a value made once per second of the site's
    clock, and splits the path without percent-decoding it when it has no
    C{%};
  - the first C{write} on a connection of the gateway (a channel with
    C{leanWrites}) sends the response's head and its first piece of body
    together, in one write, where Twisted writes them apart. When the
    response is anything Twisted's own code treats specially (C{HEAD}, a
    status without a body, C{ETag}, C{Last-Modified}, cookies, an encoder),
    Twisted's code writes it.

What each step does is Twisted's exactly; the tests compare them, byte for
byte (C{tests/tuned/test_request.py}).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.http import NO_BODY_CODES, datetimeToString, parse_qs
from twisted.web.server import Site, version

from mcpgateway.httpbase.bodybound import BodyBoundedRequest
from mcpgateway.httpbase.headers import GatewayHeaders, canonical
from mcpgateway.runtime.twistedprivate import IEncodingResource

_QUESTION = ord("?")
"""A byte looked for in a path as an C{int}: C{bytes} looks for an C{int}
directly, where a one-byte C{bytes} operand is first tried as an C{int}
(a C{TypeError} made and dropped, about 1,800 machine instructions)."""
_PERCENT = ord("%")

_SERVER = [version]
"""The C{Server} header Twisted sets on every response."""
_SITE_LOOKUP = Site.getResourceFor
"""Twisted's resource lookup, which L{GatewayRequest.process} does itself
for a site that keeps it."""

_SERVER_KEY = canonical(b"server")
_DATE_KEY = canonical(b"date")


def responseHead(version: bytes, code: bytes, reason: bytes, headers: Any) -> bytes:
    """The status line and headers of a response, as Twisted's channel
    writes them (C{HTTPChannel.writeHeaders}), in one piece."""
    lines = [version, b" ", code, b" ", reason, b"\r\n"]
    for name, values in headers.getAllRawHeaders():
        for value in values:
            lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


class _HttpDate:
    """The C{Date} header's value for now, made once per second of a clock."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def at(self, now: float) -> bytes:
        second = int(now)
        if second != self._second:
            self._value = datetimeToString(second)
            self._second = second
        return self._value


_HTTP_DATE = _HttpDate()


class GatewayRequest(BodyBoundedRequest):
    """A request that stops storing its body past C{bodyLimit} bytes, made
    and answered with less work than Twisted's (see the module)."""

    __slots__ = ("_bodyBytes", "bodyTooLarge", "onLost")
    defaultContentType = None

    def __init__(
        self,
        channel: Any,
        *args: object,
        parsePOSTFormSubmission: bool | None = False,
        **kw: object,
    ) -> None:
        # What Twisted's two __init__ set (http.Request's, server.Request's,
        # and Componentized's), but with the gateway's header class at once.
        # Bodies are JSON-RPC, never HTML forms: no form parsing, which runs
        # every POST's Content-Type through the email package (None: the
        # site's setting, as in Twisted).
        queued = args[0] if args else kw.pop("queued", False)  # Twisted's signature
        if len(args) > 1 or kw:
            raise TypeError(f"unexpected arguments: {args[1:]!r} {sorted(kw)!r}")
        if parsePOSTFormSubmission is None:
            parsePOSTFormSubmission = channel.site._parsePOSTFormSubmission
        self.notifications = []
        self.channel = channel
        self.client = channel.getPeer()
        self.host = channel.getHost()
        self.requestHeaders = GatewayHeaders()
        self.received_cookies = {}
        self.responseHeaders = GatewayHeaders()
        self.cookies = []
        self.transport = channel.transport
        self.queued = queued  # Twisted's deprecated flag (an HTTP/2 stream passes False)
        self._parsePOSTFormSubmission = bool(parsePOSTFormSubmission)
        self._adapterCache = {}
        self.bodyTooLarge = False
        self._bodyBytes = 0
        self.onLost: Callable[[], object] | None = None
        """Called if the client goes away before the response is finished."""

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._parsePOSTFormSubmission:
            super().requestReceived(command, path, version)
            return
        content: IO[bytes] | None = self.content
        if content is not None:
            content.seek(0, 0)
        self.method = command
        self.uri = path
        self.clientproto = version
        if _QUESTION in path:  # an int: see L{_QUESTION}
            self.path, query = path.split(b"?", 1)
            self.args = parse_qs(query, 1)
        else:
            self.path = path
            self.args = {}
        self.process()

    def process(self) -> None:
        channel: Any = self.channel
        self.site = site = channel.site
        headers = self.responseHeaders
        clock: IReactorTime | None = getattr(site, "reactor", None)
        seconds = getattr(clock, "seconds", None)  # a test's MemoryReactor has none
        date = datetimeToString() if seconds is None else _HTTP_DATE.at(seconds())
        if type(headers) is GatewayHeaders:
            headers.setCanonical(_SERVER_KEY, version)
            headers.setCanonical(_DATE_KEY, date)
        else:
            headers.setRawHeaders(b"server", _SERVER)
            headers.setRawHeaders(b"date", [date])
        self.prepath = []
        path = self.path
        if _PERCENT in path:
            self.postpath = list(map(unquote_to_bytes, path[1:].split(b"/")))
        else:
            self.postpath = path[1:].split(b"/")
        if path == b"*":
            self._handleStar()
            return
        try:
            if type(site).getResourceFor is _SITE_LOOKUP:
                found = self._resourceOf(site)
            else:
                found = site.getResourceFor(self)
            if IEncodingResource.providedBy(found):
                encoder = found.getEncoder(self)
                if encoder is not None:
                    self._encoder = encoder
            self.render(found)
        except BaseException:
            self.processingFailed(Failure())

    def _resourceOf(self, site: Site) -> Any:
        """The resource for this request, found as Twisted's
        C{Site.getResourceFor} finds it (C{getChildWithDefault} along the
        path until a leaf, each step moving one element from C{postpath} to
        C{prepath}), with its C{sitepath} copied by a slice and the walk
        done here: Twisted's goes through C{copy.copy} and
        C{resource.getChildForRequest}, two calls more on every request."""
        prepath = self.prepath
        assert prepath is not None  # set by process()
        self.sitepath = prepath[:]
        found = site.resource
        while self.postpath and not found.isLeaf:
            element = self.postpath.pop(0)
            self.prepath.append(element)  # type: ignore[union-attr]  # as above
            found = found.getChildWithDefault(element, self)
        return found

    def write(self, data: bytes) -> None:
        if self.startedWriting:
            if (
                self.chunked
                and data
                and not (self._disconnected or self.finished or self._inFakeHead)
                and self._encoder is None
            ):
                self.sentLength += len(data)
                self.channel.write(b"%x\r\n%s\r\n" % (len(data), data))
                return
            super().write(data)
            return
        # The head goes out: the response is no longer waiting for an
        # answer (a stream may stay open for long).
        headOut = getattr(self.channel, "headOut", None)
        if headOut is not None:
            headOut()
        if not self._writesHeadWithBody():
            super().write(data)
            return
        self.startedWriting = 1
        headers = self.responseHeaders
        code = self.code
        if self.clientproto == b"HTTP/1.1" and not headers.hasHeader(b"content-length"):
            headers.setRawHeaders(b"transfer-encoding", [b"chunked"])
            self.chunked = 1
        head = responseHead(self.clientproto, b"%d" % code, self.code_message, headers)
        self.sentLength = len(data)
        if not data:
            self.channel.write(head)
        elif self.chunked:
            self.channel.write(b"%s%x\r\n%s\r\n" % (head, len(data), data))
        else:
            self.channel.write(head + data)

    def _writesHeadWithBody(self) -> bool:
        """Whether the first write may go as the head and its data in one
        piece: what Twisted's C{write} would do is exactly that (no special
        case of its applies), and the channel is the gateway's."""
        return (
            getattr(self.channel, "leanWrites", False)
            and not self.finished
            and not self._disconnected
            and not self._inFakeHead
            and self._encoder is None
            and self.defaultContentType is None
            and self.method != b"HEAD"
            and self.code not in NO_BODY_CODES
            and self.lastModified is None
            and self.etag is None
            and not self.cookies
            and isinstance(self.responseHeaders, GatewayHeaders)
        )

    def handleContentChunk(self, data: bytes) -> None:
        if not self.keeps(data):
            return
        content = self.content
        assert content is not None
        content.write(data)
