# -*- test-case-name: tests.tuned.test_httpreader,tests.tuned.test_hotpath_operands -*-
"""Reading HTTP/1.1 requests off one connection: httptools splits the bytes.

httptools wraps llhttp, the parser Node.js serves HTTP with: maintained,
strict by default (no request smuggling through duplicate lengths, both
length headers, bare LF or folded headers), and cheaper than twisted.web's
line parser (4-6 of the gateway's 135 us of CPU per call, in
process, with the limits and pipelining rules below). The
L{GatewayChannel} keeps everything else of twisted.web: the request
objects, responses, persistence, producers.

A L{RequestReader} turns the bytes a connection receives, in whatever
pieces they come, into L{Message}s, oldest first: each one's request line,
headers and expected length as soon as its head is in, then its body as it
arrives. The channel takes the oldest message when no response is in
progress; until then a pipelined message keeps its body itself. A
malformed head, or one past the size limits, ends the reading: the last
message is then a bad one, saying why, and nothing after it is read.
Nothing after a request that closes the connection is read either.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from types import ModuleType
from typing import Any

_httptools: ModuleType | None = None
"""httptools, imported by the first reader: an idle gateway, before its
first client, does not hold it (264 KiB resident: the idle RSS)."""


def checkInstalled() -> None:
    """Raise C{ImportError}, saying what to install, if httptools is missing:
    asked when the site is made, not left to the first request (it is
    imported then)."""
    if importlib.util.find_spec("httptools") is None:
        raise ImportError(
            "httptools is not installed: mcpgateway reads HTTP requests with it"
            " (pip install 'httptools>=0.6.4')"
        )


def _parser(reader: RequestReader) -> Any:
    """A new httptools request parser calling C{reader}'s callbacks."""
    global _httptools
    if _httptools is None:
        import httptools

        _httptools = httptools
    return _httptools.HttpRequestParser(reader)


def _errors() -> ModuleType:
    """httptools, after a reader imported it (to name its exceptions)."""
    assert _httptools is not None
    return _httptools


_VERSIONS = {"1.1": b"HTTP/1.1", "1.0": b"HTTP/1.0"}
_SLACK = 4096
"""What the raw-byte backstops allow past the limit: a head's request line,
line breaks and spaces, which the exact count leaves out."""


class _Unreadable(Exception):
    """Raised inside a parser callback: the head is past a limit, or asks
    for an HTTP version other than 1.0 and 1.1 (as Twisted's own parser)."""


SINGLE_HEADERS = (b"origin", b"mcp-session-id", b"mcp-protocol-version")
"""Headers (lower case) whose repetition L{Message.repeated} notes: a
request may not carry two different values of one."""
_ORIGIN, _SESSION, _VERSION = 1, 2, 4

_BLANK = (32, 9)
"""Space and tab: what llhttp leaves at the end of a header's value."""


class Message:
    """One request read off the connection."""

    __slots__ = (
        "bad",
        "body",
        "bodyBytes",
        "complete",
        "cookies",
        "expectContinue",
        "headers",
        "host",
        "hosts",
        "keepAlive",
        "length",
        "method",
        "repeated",
        "sink",
        "uri",
        "version",
    )

    def __init__(self) -> None:
        self.method = b""
        self.uri = b""
        self.version = b"HTTP/1.1"
        self.headers: list[tuple[bytes, bytes]] = []
        """Name and value of each header, in order; values without the
        whitespace around them."""
        self.length: int | None = 0
        """The body's length from C{Content-Length}; C{None} for a chunked
        body (its length is known at its end)."""
        self.complete = False
        """The whole body is in."""
        self.expectContinue = False
        """The client waits for C{100 Continue} before it sends the body."""
        self.cookies = False
        """A C{Cookie} header came."""
        self.hosts = 0
        """How many C{Host} headers came (HTTP/1.1 needs exactly one)."""
        self.host = b""
        """The last C{Host} header's value."""
        self.repeated = False
        """One of L{SINGLE_HEADERS} came more than once (with the same value
        or not: the channel compares them)."""
        self.keepAlive = True
        """llhttp's reading of C{Connection} and the version: the connection
        stays open after this request."""
        self.bad: str | None = None
        """Why the request could not be read (then nothing else is set)."""
        self.body: list[bytes] = []
        """Body bytes read before the channel took the message."""
        self.bodyBytes = 0
        self.sink: Callable[[bytes], object] | None = None

    def conflicting(self) -> str | None:
        """The first of L{SINGLE_HEADERS} this request carries with two
        different values, as its client spelled its name; C{None} if none."""
        first: dict[bytes, bytes] = {}
        for name, value in self.headers:
            folded = name.lower()
            if folded in SINGLE_HEADERS and first.setdefault(folded, value) != value:
                return name.decode("latin-1")
        return None

    def take(self, sink: Callable[[bytes], object]) -> None:
        """Hand the body read so far to C{sink}, and what comes later as it
        comes."""
        self.sink = sink
        if self.bodyBytes:
            body, self.body, self.bodyBytes = self.body, [], 0
            for chunk in body:
                sink(chunk)

    def received(self, chunk: bytes) -> None:
        sink = self.sink
        if sink is not None:
            sink(chunk)
        else:
            self.body.append(chunk)
            self.bodyBytes += len(chunk)


class RequestReader:
    """The requests on one connection, as L{Message}s in C{messages}.

    @param maxHeadBytes: the most bytes a head's request target and headers
        may hold together (Twisted's C{totalHeadersSize}), and a chunked
        body's trailers too.
    @param maxHeaders: the most headers one request may carry.
    """

    __slots__ = (
        "_bodyIn",
        "_current",
        "_headBytes",
        "_headers",
        "_maxHeadBytes",
        "_maxHeaders",
        "_parser",
        "_rawBody",
        "_rawHead",
        "_stalled",
        "_trailerBytes",
        "closed",
        "inHead",
        "messages",
    )

    def __init__(self, maxHeadBytes: int, maxHeaders: int) -> None:
        self._maxHeadBytes = maxHeadBytes
        self._maxHeaders = maxHeaders
        self._parser = _parser(self)
        self._current: Message | None = None
        self._headBytes = 0
        self._rawHead = 0
        self._trailerBytes = 0
        self._bodyIn = 0
        self._stalled = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._rawBody = 0
        self.messages: list[Message] = []
        """Messages whose head is in, oldest first, until the channel
        removes them (rarely more than one: a list costs an idle
        connection less than a deque)."""
        self.inHead = False
        """A head has begun and is not complete yet."""
        self.closed = False
        """Nothing more is read: a request closed the connection, or a head
        was bad."""

    @property
    def idle(self) -> bool:
        """Between requests, with nothing read ahead: a fresh reader would
        read on the same."""
        return (
            self._current is None
            and not self.messages
            and not self.inHead
            and not self._rawBody
            and not self.closed
        )

    def feed(self, data: bytes) -> None:
        """Read C{data}, the next bytes from the connection.

        A failure inside the channel's own code (a body sink that raises)
        is raised here, not taken for a bad request."""
        while data and not self.closed:
            if self._rawBody:
                data = self._upgradeBody(data)
                continue
            current = self._current
            inHead = self.inHead
            bodyIn = self._bodyIn
            try:
                self._parser.feed_data(data)
            except _errors().HttpParserUpgrade as e:
                data = data[e.args[0] :]
                self._upgraded()
                continue
            except _errors().HttpParserCallbackError as e:
                reason = e.__context__
                if not isinstance(reason, _Unreadable):
                    self.closed = True
                    raise (reason or e) from None
                self._fail(str(reason))
                return
            except _errors().HttpParserError as e:
                if not self.closed:
                    self._fail(str(e) or type(e).__name__)
                return
            if current is not None and self._current is current:
                # The whole of data went to one message begun before it. A
                # header (or trailer) growing without end is held inside
                # httptools, where the callbacks do not see it yet.
                # Raw bytes hold more than the exact count (the request line,
                # line breaks, spaces): a backstop, with a slice of slack.
                if inHead and self.inHead:
                    self._rawHead += len(data)
                    if self._rawHead > self._maxHeadBytes + _SLACK:
                        self._fail("request head too large")
                elif not inHead and self._bodyIn == bodyIn:
                    self._stalled += len(data)  # no body: chunk framing, trailers
                    if self._stalled > self._maxHeadBytes + _SLACK:
                        self._fail("chunked framing or trailers too large")
                else:
                    self._stalled = 0
            return

    def _fail(self, reason: str) -> None:
        message = self._current
        if message is None or not self.messages or self.messages[-1] is not message:
            message = Message()  # the head was bad: a message of its own
            self.messages.append(message)
        message.bad = reason  # else its body was
        message.complete = True
        self._current = None
        self.closed = True
        self.inHead = False

    def _upgraded(self) -> None:
        """llhttp stops at the end of a head asking to upgrade (C{Upgrade:
        h2c} from curl, or C{CONNECT}); HTTP/1.1 is all this side speaks,
        so the request is served as it is and reading goes on, with a fresh
        parser: the request's body (llhttp leaves it unread) first."""
        self._parser = _parser(self)
        message = self._current
        if message is None:
            return
        if message.length is None:
            self._fail("a chunked body on a request asking to upgrade")
            return
        if message.length:
            self._rawBody = message.length
        else:
            self._end(message)

    def _upgradeBody(self, data: bytes) -> bytes:
        chunk = data[: self._rawBody]
        self._rawBody -= len(chunk)
        message = self._current
        assert message is not None
        message.received(chunk)
        if not self._rawBody:
            self._end(message)
        return data[len(chunk) :]

    def _end(self, message: Message) -> None:
        message.complete = True
        self._current = None
        if not message.keepAlive:
            self.closed = True

    # httptools' callbacks (it calls them by these names)

    def on_message_begin(self) -> None:
        self._current = Message()
        self._headers = []
        self._headBytes = self._rawHead = self._trailerBytes = self._stalled = 0
        self.inHead = True

    def on_url(self, url: bytes) -> None:
        size = self._headBytes = self._headBytes + len(url)
        if size > self._maxHeadBytes:
            raise _Unreadable("request head too large")
        message = self._current
        assert message is not None
        message.uri += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.inHead:  # a trailer of a chunked body: counted, not kept
            size = self._trailerBytes = self._trailerBytes + len(name) + len(value) + 4
            if size > self._maxHeadBytes:
                raise _Unreadable("chunked trailers too large")
            return
        size = self._headBytes = self._headBytes + len(name) + len(value) + 4
        headers = self._headers
        if size > self._maxHeadBytes or len(headers) >= self._maxHeaders:
            raise _Unreadable(
                "request head too large"
                if size > self._maxHeadBytes
                else f"more than {self._maxHeaders} headers"
            )
        headers.append((name, value))

    def on_headers_complete(self) -> None:
        message = self._current
        assert message is not None
        parser = self._parser
        headers, self._headers = self._headers, []
        length: int | None = 0
        seen = 0
        for i, (name, value) in enumerate(headers):
            # llhttp keeps trailing whitespace (and an empty value). The last
            # byte is looked for as an int: a bytes operand of C{in} is first
            # tried as an int, and that failed try (a TypeError made and
            # dropped) cost more than the rest of the loop.
            if not value or value[-1] in _BLANK:
                value = value.rstrip(b" \t")
                headers[i] = (name, value)
            named = len(name)
            if named == 14:
                folded = name.lower()
                if folded == b"content-length":
                    length = int(value)
                elif folded == b"mcp-session-id":
                    if seen & _SESSION:
                        message.repeated = True
                    seen |= _SESSION
            elif named == 17 and name.lower() == b"transfer-encoding":
                if value.lower() != b"chunked":  # as Twisted: no gzip, chunked
                    raise _Unreadable("a transfer coding other than chunked")
                length = None
            elif named == 6:
                folded = name.lower()
                if folded == b"cookie":
                    message.cookies = True
                elif folded == b"expect" and not message.expectContinue:
                    message.expectContinue = value.lower() == b"100-continue"
                elif folded == b"origin":
                    if seen & _ORIGIN:
                        message.repeated = True
                    seen |= _ORIGIN
            elif named == 4 and name.lower() == b"host":
                message.hosts += 1
                message.host = value
            elif named == 20 and name.lower() == b"mcp-protocol-version":
                if seen & _VERSION:
                    message.repeated = True
                seen |= _VERSION
        version = _VERSIONS.get(parser.get_http_version())
        if version is None:
            raise _Unreadable(f"HTTP/{parser.get_http_version()} is not served")
        message.method = parser.get_method()
        message.version = version
        message.headers = headers
        message.length = length
        message.keepAlive = parser.should_keep_alive()
        self.inHead = False
        self.messages.append(message)

    def on_body(self, body: bytes) -> None:
        self._bodyIn += 1
        message = self._current
        assert message is not None
        message.received(body)

    def on_message_complete(self) -> None:
        message = self._current
        if message is None:
            return
        if self._parser.should_upgrade() and message.length != 0:
            return  # llhttp skipped the body: _upgraded reads it
        self._end(message)
