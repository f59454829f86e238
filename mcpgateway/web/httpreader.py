"""Reading HTTP/1.1 requests off one connection: httptools splits the bytes.

httptools wraps llhttp, the parser Node.js serves HTTP with: maintained,
strict by default (no request smuggling through duplicate lengths, both
length headers, bare LF or folded headers) and about six times cheaper per
request than twisted.web's line parser (issue 19's profile: a third of
what the gateway spent on a call went to parsing its head). The
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

from collections.abc import Callable
from types import ModuleType
from typing import Any

_httptools: ModuleType | None = None
"""httptools, imported by the first reader: an idle gateway, before its
first client, does not hold it (264 KiB resident: issue 19's idle RSS)."""


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


class _Unreadable(Exception):
    """Raised inside a parser callback: the head is past a limit, or asks
    for an HTTP version other than 1.0 and 1.1 (as Twisted's own parser)."""


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
        "length",
        "method",
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
        self.bad: str | None = None
        """Why the request could not be read (then nothing else is set)."""
        self.body: list[bytes] = []
        """Body bytes read before the channel took the message."""
        self.bodyBytes = 0
        self.sink: Callable[[bytes], object] | None = None

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
        may hold together (Twisted's C{totalHeadersSize}).
    @param maxHeaders: the most headers one request may carry.
    """

    __slots__ = (
        "_current",
        "_headBytes",
        "_headers",
        "_keepAlive",
        "_maxHeadBytes",
        "_maxHeaders",
        "_parser",
        "_rawBody",
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
        self._headers: list[tuple[bytes, bytes]] = []
        self._rawBody = 0
        self._keepAlive = True
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

    @property
    def pendingBytes(self) -> int:
        """Body bytes held for messages the channel has not taken."""
        return sum(m.bodyBytes for m in self.messages)

    def feed(self, data: bytes) -> None:
        """Read C{data}, the next bytes from the connection."""
        while data and not self.closed:
            if self._rawBody:
                data = self._upgradeBody(data)
                continue
            began = self.inHead
            try:
                self._parser.feed_data(data)
            except _errors().HttpParserUpgrade as e:
                data = data[e.args[0] :]
                self._upgraded()
                continue
            except _errors().HttpParserCallbackError as e:
                reason = e.__context__
                self._fail(str(reason) if isinstance(reason, _Unreadable) else str(e))
                return
            except _errors().HttpParserError as e:
                if not self.closed:
                    self._fail(str(e) or type(e).__name__)
                return
            if began and self.inHead:
                # The whole of data went to a head begun before it: a single
                # header growing without end is held inside httptools, where
                # the callbacks' count does not see it yet.
                self._headBytes += len(data)
                if self._headBytes > self._maxHeadBytes:
                    self._fail("request head too large")
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
        if not self._keepAlive:
            self.closed = True

    def _count(self, size: int) -> None:
        self._headBytes += size
        if self._headBytes > self._maxHeadBytes:
            raise _Unreadable("request head too large")

    # httptools' callbacks (it calls them by these names)

    def on_message_begin(self) -> None:
        self._current = Message()
        self._headers = []
        self._headBytes = 0
        self.inHead = True

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        message = self._current
        assert message is not None
        message.uri += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))  # checked when the head is complete

    def on_headers_complete(self) -> None:
        message = self._current
        assert message is not None
        parser = self._parser
        headers, self._headers = self._headers, []
        if len(headers) > self._maxHeaders:
            raise _Unreadable(f"more than {self._maxHeaders} headers")
        size = self._headBytes
        length: int | None = 0
        for i, (name, value) in enumerate(headers):
            size += len(name) + len(value) + 4
            if value[-1:] in b" \t":  # llhttp keeps trailing whitespace (and an empty value)
                headers[i] = (name, value.rstrip(b" \t"))
            named = len(name)
            if named == 14 and name.lower() == b"content-length":
                length = int(value)
            elif named == 17 and name.lower() == b"transfer-encoding":
                length = None  # llhttp accepts it only chunked (last)
            elif named == 6:
                folded = name.lower()
                if folded == b"cookie":
                    message.cookies = True
                elif folded == b"expect" and not message.expectContinue:
                    message.expectContinue = value.lower() == b"100-continue"
        if size > self._maxHeadBytes:
            raise _Unreadable("request head too large")
        version = _VERSIONS.get(parser.get_http_version())
        if version is None:
            raise _Unreadable(f"HTTP/{parser.get_http_version()} is not served")
        message.method = parser.get_method()
        message.version = version
        message.headers = headers
        message.length = length
        self._keepAlive = parser.should_keep_alive()
        self.inHead = False
        self.messages.append(message)

    def on_body(self, body: bytes) -> None:
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
