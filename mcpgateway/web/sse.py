# -*- test-case-name: tests.web.test_fuzz_http,tests.web.test_mcp -*-
"""A Server-Sent Events stream over one HTTP response.

Writes each message as one C{event: message} frame and flushes it at once,
sends a comment as keep-alive so idle proxies and clients do not drop it, and
stops everything when the client goes away. One L{KeepAlive} ticker per clock
(and interval) serves every open stream: no timer is started or stopped per
request. The ticker survives anything one stream does: a stream whose
response was finished behind its back (or whose write fails) is dropped from
it, and the others keep their keep-alives. A
request's stream sends its headers with its first event (one write for a
quick answer), or after C{HEADERS_AFTER} seconds of silence, whichever is
first; the GET stream sends them at once. Carries no C{id:} fields: the
gateway does not replay streams, and a client that saw an id would wait for a
replay that never comes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.server import Request

from mcpgateway import jsonrpc, logs
from mcpgateway.limits import KEEPALIVE_INTERVAL
from mcpgateway.timers import Every

KEEPALIVE_SECONDS = KEEPALIVE_INTERVAL
HEADERS_AFTER = 1.0
TICK = 1.0


class KeepAlive:
    """Writes a comment to every open stream every C{interval} seconds; the
    ticker runs while streams exist and stops on a tick that finds none."""

    log = Logger(observer=logs.observer)

    def __init__(self, clock: IReactorTime, interval: float = KEEPALIVE_SECONDS) -> None:
        self.streams: set[SSEStream] = set()
        self._clock = clock
        self._loop = Every(clock, TICK, self._tick)
        self._interval = interval

    def add(self, stream: SSEStream) -> None:
        self.streams.add(stream)
        if not self._loop.running:
            self._loop.start()

    def _tick(self) -> None:
        if not self.streams:
            self._loop.stop()
            return
        now = self._clock.seconds()
        for stream in list(self.streams):
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
                self.streams.discard(stream)
                stream.abandon()


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
    """One open SSE response; C{open} is false once it ended either way."""

    def __init__(
        self,
        request: Request,
        clock: IReactorTime,
        headersNow: bool = True,
        keepAliveInterval: float = KEEPALIVE_SECONDS,
    ) -> None:
        """
        @param headersNow: send the headers at once (a GET stream, which may
            stay silent); otherwise with the first event or after a second.
        @param keepAliveInterval: seconds of silence before a keep-alive comment.
        """
        self._request = request
        self._clock = clock
        self.open = True
        self.headersSent = False
        self.lastWrite = clock.seconds()
        self._onClose: list[Callable[[], Any]] = []
        request.setHeader(b"content-type", b"text/event-stream")
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"x-accel-buffering", b"no")
        if hasattr(request, "onLost"):  # the gateway's own request: no Deferred needed
            request.onLost = self._end
        else:
            request.notifyFinish().addErrback(self._lost)
        if headersNow:
            self.flushHeaders()
        self._keepAlive = keepAliveFor(clock, keepAliveInterval)
        self._keepAlive.add(self)

    def flushHeaders(self) -> None:
        """Send the status line and headers now."""
        if self.open and not self.headersSent:
            self._write(b"")

    def ping(self) -> None:
        """Write a keep-alive comment."""
        if self.open:
            self._write(b": keep-alive\n\n")

    def _write(self, data: bytes) -> None:
        if self._request.finished:
            self.abandon()  # finished behind the stream's back: nothing may be written
            return
        self.headersSent = True
        self.lastWrite = self._clock.seconds()
        self._request.write(data)

    def finishedElsewhere(self) -> bool:
        """Whether the response was finished (or lost) without this stream
        hearing of it: an error answer written over it, say."""
        return bool(self._request.finished or getattr(self._request, "_disconnected", False))

    def abandon(self) -> None:
        """End the stream without touching the response any more."""
        self._end()

    def onClose(self, callback: Callable[[], Any]) -> None:
        """Call C{callback} once when the stream ends, whatever ends it."""
        self._onClose.append(callback)

    def send(self, message: jsonrpc.Message) -> bool:
        """Write one message as an SSE event; C{False} when the stream is closed."""
        if not self.open:
            return False
        self._write(_frame(message))
        return self.open

    def end(self, message: jsonrpc.Message) -> None:
        """Send the last message and end the stream. A stream that sent
        nothing yet answers in one piece, with a Content-Length (no chunking)."""
        if not self.open:
            return
        if not self.headersSent:
            body = _frame(message)
            self._request.setHeader(b"content-length", b"%d" % len(body))
            self._write(body)
        else:
            self.send(message)
        self.close()

    def close(self) -> None:
        """End the stream and finish the response."""
        if self._end() and not self._request.finished:
            self._request.finish()

    def _lost(self, _: Any) -> None:
        self._end()  # the client went away; nothing to finish

    def _end(self) -> bool:
        if not self.open:
            return False
        self.open = False
        self._keepAlive.streams.discard(self)
        callbacks, self._onClose = self._onClose, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                KeepAlive.log.failure("an SSE stream's close callback failed")
        return True


def _frame(message: jsonrpc.Message) -> bytes:
    """One SSE event carrying C{message}."""
    return b"event: message\ndata: " + jsonrpc.dumps(message) + b"\n\n"
