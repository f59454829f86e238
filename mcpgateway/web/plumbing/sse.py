# -*- test-case-name: tests.web.plumbing.test_fuzz_http,tests.web.endpoints.test_mcp -*-
"""A Server-Sent Events stream over one HTTP response.

Writes each message as one C{event: message} frame and flushes it at once,
sends a comment as keep-alive so idle proxies and clients do not drop it, and
stops everything when the client goes away. One L{KeepAlive} ticker per clock
(and interval) serves every open stream: no timer is started or stopped per
request. The ticker survives anything one stream does: a stream whose
response was finished behind its back (or whose write fails) is dropped from
it, and the others keep their keep-alives. A
request's stream sends its headers with its first event, or after
C{HEADERS_AFTER} seconds of silence, whichever is first (an answer that
comes before either is one C{application/json} body: L{SSEStream.end});
the GET stream sends them at once.

A stream given a L{StreamLog} (sessions of MCP 2025-11-25 and later) is
resumable: it opens with a priming event (an id, a C{retry:} delay and empty
data), every event carries an id and is kept in the log, and when its
connection goes away the stream lives on without one, still logging, until
a C{GET} with C{Last-Event-ID} attaches a new connection (L{SSEStream.attach}:
the missed events, then the rest live) or the log's time runs out. Streams
without a log carry no C{id:} fields: a client that saw an id would wait for
a replay that never comes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.http_headers import Headers
from twisted.web.server import Request

from mcpgateway.httpbase.headers import GatewayHeaders, canonical
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.bounds import KEEPALIVE_INTERVAL
from mcpgateway.runtime import logs
from mcpgateway.runtime.timers import Every
from mcpgateway.web.plumbing.replay import StreamLog

KEEPALIVE_SECONDS = KEEPALIVE_INTERVAL

# A stream's headers (lists: the headers copy them, as Twisted's do).
_EVENT_STREAM = [b"text/event-stream"]
_CONTENT_TYPE = canonical(b"content-type")
_CACHE_CONTROL = canonical(b"cache-control")
_ACCEL_BUFFERING = canonical(b"x-accel-buffering")
_CONTENT_LENGTH = canonical(b"content-length")
_JSON = [b"application/json"]
_NO_CACHE = [b"no-cache"]
_NO = [b"no"]

HEADERS_AFTER = 1.0
TICK = 1.0


class WaitingAnswer(Protocol):
    """An answer that has written nothing yet and may become a stream
    (L{mcpgateway.web.endpoints.mcppost.PendingAnswer}): C{open} while it
    waits, since C{since} (the clock's seconds)."""

    open: bool
    since: float

    def finishedElsewhere(self) -> bool:
        """Whether its response was finished (or lost) behind its back."""

    def abandon(self) -> None:
        """Write nothing more for it."""

    def toStream(self, headersNow: bool) -> SSEStream | None:
        """Become a stream, its head sent at once when C{headersNow}."""


class KeepAlive:
    """Writes a comment to every open stream every C{interval} seconds; the
    ticker runs while streams (or waiting answers) exist and stops on a tick
    that finds none.

    An answer that has not written anything yet waits in C{waiting}, in
    the order the requests came: appended once, never searched nor
    removed by its request (what it costs a call answered at once is an
    append, and dropping the done ones at the front when the next comes).
    Each tick drops those at the front that are done, and makes a stream of
    each that waited C{HEADERS_AFTER} seconds; it stops at the first that
    is younger, as all behind it are."""

    log = Logger(observer=logs.observer)

    def __init__(self, clock: IReactorTime, interval: float = KEEPALIVE_SECONDS) -> None:
        self._streams: set[SSEStream] = set()
        self.waiting: deque[WaitingAnswer] = deque()
        self._clock = clock
        self.loop = Every(clock, TICK, self._tick)
        """Its ticks (C{loop.running}: whether it ticks now)."""
        self._interval = interval

    @property
    def streams(self) -> set[Any]:
        """The open streams, and the answers that still wait (a copy, for
        whoever looks: an L{SSEStream} or a L{WaitingAnswer} each, both with
        C{open}, C{headersSent} and the request they write to)."""
        return self._streams | {answer for answer in self.waiting if answer.open}

    def add(self, stream: SSEStream) -> None:
        self._streams.add(stream)
        self.start()

    def discard(self, stream: SSEStream) -> None:
        self._streams.discard(stream)

    def start(self) -> None:
        """Tick from now on (an answer waits in C{waiting}, or a stream came),
        unless it ticks already."""
        if not self.loop.running:
            self.loop.start()

    def _tick(self) -> None:
        now = self._clock.seconds()
        if self.waiting:
            self._waited(now)
        if not self._streams and not self.waiting:
            self.loop.stop()  # the answers it waited on were done: no tick more
            return
        for stream in list(self._streams):
            try:
                if stream.finishedElsewhere():
                    stream.abandon()
                elif not stream.headersSent and now - stream.lastWrite >= HEADERS_AFTER:
                    stream.flushHeaders()
                elif now - stream.lastWrite >= self._interval:
                    stream.ping()
            except Exception:
                # One broken stream must not cost the others their keep-alives.
                self.log.failure("keep-alive: a stream failed; dropped it")
                self._streams.discard(stream)
                stream.abandon()

    def _waited(self, now: float) -> None:
        """Drop the waiting answers that are done; make streams of those
        that waited long enough (their heads go out now)."""
        waiting = self.waiting
        while waiting:
            answer = waiting[0]
            if answer.open:
                if now - answer.since < HEADERS_AFTER and not answer.finishedElsewhere():
                    return  # and so are all behind it, but for one finished elsewhere
                try:
                    if answer.finishedElsewhere():
                        answer.abandon()
                    else:
                        answer.toStream(True)
                except Exception:
                    self.log.failure("keep-alive: a waiting answer failed; dropped it")
                    answer.abandon()
            waiting.popleft()


_KEEPALIVES: WeakKeyDictionary[Any, dict[float, KeepAlive]] = WeakKeyDictionary()


def keepAliveFor(clock: IReactorTime, interval: float = KEEPALIVE_SECONDS) -> KeepAlive:
    """The shared keep-alive ticker of C{clock} for streams kept alive every
    C{interval} seconds."""
    byInterval = _KEEPALIVES.get(clock)
    if byInterval is None:
        byInterval = _KEEPALIVES[clock] = {}
    keepAlive = byInterval.get(interval)
    if keepAlive is None:
        keepAlive = byInterval[interval] = KeepAlive(clock, interval)
    return keepAlive


class SSEStream:
    """One SSE stream; C{open} is false once it ended either way. Without a
    log it is one HTTP response; with one it may outlive its connection.

    An idle GET stream lives as long as its session, so what it and its
    request hold is paid once per idle session: no closure per
    stream, and its request lets go of what the response no longer needs
    once the head is on the wire (C{_headWritten})."""

    def __init__(
        self,
        request: Request,
        clock: IReactorTime,
        headersNow: bool = True,
        keepAliveInterval: float = KEEPALIVE_SECONDS,
        log: StreamLog | None = None,
    ) -> None:
        """
        @param headersNow: send the headers at once (a GET stream, which may
            stay silent); otherwise with the first event or after a second.
        @param keepAliveInterval: seconds of silence before a keep-alive comment.
        @param log: makes the stream resumable (ids, priming, replay).
        """
        self._request: Request | None = request
        self._clock = clock
        self.open = True
        self.headersSent = False
        self.lastWrite = clock.seconds()
        self._onClose: tuple[Callable[[], Any], ...] = ()
        self._log = log
        self._primed = log is None
        """Whether the priming event went out (or none is due)."""
        if log is not None:
            log.stream = self
        self._keepAlive = keepAliveFor(clock, keepAliveInterval)
        self._connect(request)
        if headersNow:
            self.flushHeaders()

    @property
    def log(self) -> StreamLog | None:
        return self._log

    @property
    def connected(self) -> bool:
        """Whether a connection carries the stream now."""
        return self._request is not None

    def _connect(self, request: Request) -> None:
        self._request = request
        headers = request.responseHeaders
        if type(headers) is GatewayHeaders:  # the gateway's request: its short path
            headers.setCanonical(_CONTENT_TYPE, b"text/event-stream")
            headers.setCanonical(_CACHE_CONTROL, b"no-cache")
            headers.setCanonical(_ACCEL_BUFFERING, b"no")
        else:
            headers.setRawHeaders(b"content-type", _EVENT_STREAM)
            headers.setRawHeaders(b"cache-control", _NO_CACHE)
            headers.setRawHeaders(b"x-accel-buffering", _NO)
        if hasattr(request, "onLost"):  # the gateway's own request: no Deferred needed
            request.onLost = self._lost
        else:
            request.notifyFinish().addErrback(lambda _: self._connectionLost(request))
        self._keepAlive.add(self)

    def flushHeaders(self) -> None:
        """Send the status line and headers now."""
        if self.open and not self.headersSent:
            self._write(b"")

    def ping(self) -> None:
        """Write a keep-alive comment."""
        if self.open:
            self._write(b": keep-alive\n\n")

    def _write(self, data: bytes, last: bool = False) -> None:
        """Write C{data} (after the head, the first time); C{last}: the
        response is finished right after it."""
        request = self._request
        if request is None:
            return  # no connection now: the log keeps the event
        if request.finished:
            self.abandon()  # finished behind the stream's back: nothing may be written
            return
        if self.headersSent:
            self.lastWrite = self._clock.seconds()
            request.write(data)
            return
        self.headersSent = True
        if not self._primed:
            self._primed = True
            assert self._log is not None
            data = self._log.priming() + data
            self._log.keep()
        self.lastWrite = self._clock.seconds()
        request.write(data)
        if not last:
            _headWritten(request)
        else:
            answered = getattr(request.channel, "answerWritten", None)
            if answered is not None:
                answered()

    def finishedElsewhere(self) -> bool:
        """Whether the response was finished (or lost) without this stream
        hearing of it: an error answer written over it, say."""
        request = self._request
        return request is not None and bool(
            request.finished or getattr(request, "_disconnected", False)
        )

    def abandon(self) -> None:
        """Leave the connection without touching the response any more. A
        resumable stream lives on without one if the client went away, not
        if the response was finished elsewhere (the client had its answer)."""
        request = self._request
        if request is not None and not request.finished:
            self._connectionLost(request)
            return
        if self._end() and self._log is not None:
            self._log.drop()

    def onClose(self, callback: Callable[[], Any]) -> None:
        """Call C{callback} once when the stream ends, whatever ends it."""
        self._onClose += (callback,)

    def send(self, message: jsonrpc.Message) -> bool:
        """Write one message as an SSE event; C{False} when the stream is closed.
        A resumable stream without a connection keeps it for a replay."""
        if not self.open:
            return False
        log = self._log
        if log is None:
            self._write(_frame(message))
            return self.open
        self._write(log.record(jsonrpc.dumps(message)))
        return self.open

    def end(self, message: jsonrpc.Message) -> None:
        """Send the last message and end the stream. A stream that sent
        nothing yet answers in one piece: the message as C{application/json}
        with a Content-Length (no SSE, no chunking).

        A POST's client accepts both (the gateway refuses one that does not),
        and the spec lets the server choose. JSON is what an HTTP-library
        client reads to its end: the Python SDK stops reading an SSE body at
        the answer's event, before its end, and its HTTP library then closes
        the connection instead of keeping it, so every call would open a new
        one."""
        if not self.open:
            return
        request = self._request
        if request is not None and not self.headersSent:
            # Written and finished at once: nothing to keep or resume, so no
            # priming event either (it primes a client to reconnect to a
            # stream that goes on).
            self._primed = True
            body = jsonrpc.dumps(message)
            headers = request.responseHeaders
            if type(headers) is GatewayHeaders:
                headers.setCanonical(_CONTENT_TYPE, b"application/json")
                headers.setCanonical(_CONTENT_LENGTH, b"%d" % len(body))
            else:
                headers.setRawHeaders(b"content-type", _JSON)
                headers.setRawHeaders(b"content-length", [b"%d" % len(body)])
            headers.removeHeader(b"x-accel-buffering")
            self._write(body, last=True)
        else:
            self.send(message)
        self.close()

    def close(self) -> None:
        """End the stream and finish the response. A resumable stream whose
        connection is gone keeps its log for a replay until its time runs out;
        one that ended over its connection is dropped."""
        request = self._request
        if not self._end():
            return
        log = self._log
        if request is not None:
            self._leave(request)
            if not request.finished:
                request.finish()
            if log is not None:
                log.drop()
        elif log is not None:
            log.completed = True
            if log.kind == "g":
                log.drop()  # the session ended: nobody may ask for it again

    def suspend(self) -> None:
        """Close the connection, not the stream: the client resumes it after
        the C{retry:} delay (for a resumable stream only)."""
        request = self._request
        if request is None or self._log is None:
            return
        if not request.finished:
            if not self.headersSent:
                self._write(b"")
            request.write(b"retry: %d\n\n" % self._log.retryMs)
            request.finish()
        self._connectionLost(request)

    def attach(self, request: Request, after: int) -> None:
        """Carry on over C{request} (a C{GET} with C{Last-Event-ID}): replay
        the kept events that followed event C{after}, then go on live; a
        stream that already ended is finished after its replay. A connection
        that still carried the stream is closed first (with a C{retry:})."""
        log = self._log
        assert log is not None
        self.suspend()
        log.attached()
        frames = log.after(after)
        if not self.open:
            request.setHeader(b"content-type", b"text/event-stream")
            request.setHeader(b"cache-control", b"no-cache")
            request.setHeader(b"x-accel-buffering", b"no")
            request.write(b"".join(frames))
            request.finish()
            log.drop()
            return
        self.headersSent = False
        self._connect(request)
        self._write(b"".join(frames))

    def expire(self) -> None:
        """Its log's time ran out: end the stream, nothing more is kept."""
        self._log = None
        self._end()

    def _lost(self) -> None:
        """The gateway request's disconnect hook (C{onLost}): a bound method,
        not a closure per stream. A request the stream left has no hook any
        more (C{_leave}), so the request that lost its connection is the one
        the stream is on."""
        request = self._request
        if request is not None:
            self._connectionLost(request)

    def _connectionLost(self, request: Request) -> None:
        if request is not self._request:
            return  # a connection the stream already left
        if self._log is None or not self.open:
            self._end()
            return
        self._leave(request)
        self._keepAlive.discard(self)
        self._log.detached()

    def _leave(self, request: Request) -> None:
        """Forget C{request}, and its disconnect hook: the hook's closure holds
        the request and this stream, a reference cycle that only the garbage
        collector would free (the C=64 stall)."""
        self._request = None
        if hasattr(request, "onLost"):
            request.onLost = None

    def _end(self) -> bool:
        if not self.open:
            return False
        self.open = False
        self._keepAlive.discard(self)
        callbacks, self._onClose = self._onClose, ()
        for callback in callbacks:
            try:
                callback()
            except Exception:
                KeepAlive.log.failure("an SSE stream's close callback failed")
        return True


class _Sent(Headers):
    """Headers nobody sends or reads any more: those of a response whose
    head is on the wire, and a GET stream's request headers past its render.
    Empty, and what is set on them goes nowhere (it could never be sent);
    one instance serves every such request."""

    __slots__ = ()

    def setRawHeaders(self, name: str | bytes, values: Sequence[str | bytes]) -> None:
        pass

    def addRawHeader(self, name: str | bytes, value: str | bytes) -> None:
        pass


_SENT = _Sent()


def _headWritten(request: Request) -> None:
    """The head of C{request}'s response is on the wire and the response
    stays open: let go of what it no longer needs (memory per idle
    session, whose GET stream stays open as long as the session). Its
    response headers become the shared empty C{_SENT}, and so do a GET's
    request headers; a GET's (empty) body goes, and so does its
    connection's request reader (C{GatewayChannel.streaming}).

    Twisted reads C{responseHeaders} only up to the first write
    (C{Request.write} decides on chunking and writes them; C{finish} writes
    the head only if nothing was written; C{checkPersistence} ran when the
    request's head came in). A GET stream's head goes out when the stream is
    made (C{SessionStreams.get} and C{_resume}, the management API's log
    stream): every reader of its request headers in the gateway runs before
    that (the origin, auth and session checks, the audit note), Twisted read
    the ones it needs when the head came in, and the site writes no access
    log; nobody reads its body. Code that reads a GET stream's request
    headers after the stream is made must take them first. Nothing is
    dropped if the head did not go out (a lost connection)."""
    if not getattr(request, "startedWriting", False):
        return
    request.responseHeaders = _SENT
    if request.method == b"GET":
        streaming = getattr(getattr(request, "channel", None), "streaming", None)
        if streaming is not None:
            streaming()  # its connection's reader
        request.requestHeaders = _SENT
        content = request.content
        if content is not None:
            content.close()
            request.content = None


def _frame(message: jsonrpc.Message) -> bytes:
    """One SSE event carrying C{message}."""
    return b"event: message\ndata: " + jsonrpc.dumps(message) + b"\n\n"
