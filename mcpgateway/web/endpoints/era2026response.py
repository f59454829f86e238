# -*- test-case-name: tests.web.endpoints.test_era2026response -*-
"""One HTTP response to one MCP 2026-07-28 request: JSON, or SSE once
something is streamed first.

A 2026 request is answered with C{application/json} when its answer comes
before anything else; a notification that relates to it (progress, a log
line) or a second of silence commits the response to C{text/event-stream}
(C{Cache-Control: no-cache}, C{X-Accel-Buffering: no}), which then carries
the notifications, keep-alive comments after silences, and the answer last.
Until it is committed, the answer's HTTP status is read off its error code
(L{mcpgateway.protocol.era2026form.httpStatus}); once committed, every answer is
in-band (HTTP 200).

The 2026-07-28 revision has no sessions and no resumable streams: no event
carries an C{id:} or a C{retry:} field (a client that saw an id would try to
resume with a C{GET}, which this revision does not have), and no response
carries C{Mcp-Session-Id}. The client closing the connection is the
request's cancellation: L{Era2026Response.onDisconnect} callbacks run then
(the endpoint cancels the core's Deferred), and nothing is written any more.

Each open response holds one timer at most (the commit deadline, then the
next keep-alive), cancelled when it ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request

from mcpgateway.protocol import era2026form, jsonrpc
from mcpgateway.protocol.bounds import KEEPALIVE_INTERVAL
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs

COMMIT_AFTER = 1.0
"""Seconds of silence after which a response is committed to SSE (its
headers go out, so the client and any proxy know the request is alive)."""

_JSON = b"application/json"
_SSE = b"text/event-stream"


class Era2026Response:
    """The response to one 2026 request.

    @ivar committed: whether its headers went out as an SSE stream.
    @ivar open: whether it may still be written to (C{False} once it ended,
        or the client went away).
    @ivar disconnected: whether the client went away before it ended.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        request: Request,
        clock: IReactorTime,
        keepAliveInterval: float = KEEPALIVE_INTERVAL,
        commitAfter: float = COMMIT_AFTER,
    ) -> None:
        self._request = request
        self._clock = clock
        self._keepAliveInterval = keepAliveInterval
        self.committed = False
        self.open = True
        self.disconnected = False
        self._lastWrite = clock.seconds()
        self._onDisconnect: list[Callable[[], object]] = []
        self._timer: IDelayedCall | None = clock.callLater(commitAfter, self.commit)
        request.notifyFinish().addErrback(self._lost)

    def onDisconnect(self, callback: Callable[[], object]) -> None:
        """Call C{callback} once if the client goes away before the end."""
        if self.disconnected:
            callback()
        elif self.open:
            self._onDisconnect.append(callback)

    def commit(self) -> None:
        """Send the headers now, as an SSE stream."""
        if not self.open or self.committed:
            return
        self.committed = True
        request = self._request
        request.setResponseCode(200)
        request.setHeader(b"content-type", _SSE)
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"x-accel-buffering", b"no")
        self._write(b"")
        self._arm(self._keepAliveInterval)

    def send(self, message: Message) -> bool:
        """Write one message (a notification) as an SSE event, committing the
        response first; C{False} once the response is gone."""
        if not self.open:
            return False
        if not self.committed:
            self.commit()
        self._write(_frame(message))
        return self.open

    def finish(self, message: Message) -> int | None:
        """Write the answer and end the response. Returns the HTTP status it
        was written with (C{None}: in-band, on a committed stream, or not
        written at all: the client is gone)."""
        if not self.open:
            return None
        request = self._request
        status: int | None = None
        if self.committed:
            self._write(_frame(message))
        else:
            status = statusOf(message)
            body = jsonrpc.dumps(message)
            request.setResponseCode(status)
            request.setHeader(b"content-type", _JSON)
            request.setHeader(b"content-length", b"%d" % len(body))
            self._write(body)
        self._end()
        if not request.finished:
            request.finish()
        return status

    def _write(self, data: bytes) -> None:
        request = self._request
        if request.finished or getattr(request, "_disconnected", False):
            self._lost(None)
            return
        self._lastWrite = self._clock.seconds()
        request.write(data)

    def _arm(self, delay: float) -> None:
        timer = self._timer
        if timer is not None and timer.active():
            timer.cancel()
        self._timer = self._clock.callLater(delay, self._keepAlive)

    def _keepAlive(self) -> None:
        self._timer = None
        if not self.open:
            return
        silent = self._clock.seconds() - self._lastWrite
        if silent >= self._keepAliveInterval:
            self._write(b": keep-alive\n\n")
            silent = 0.0
        if self.open:
            self._arm(self._keepAliveInterval - silent)

    def _end(self) -> None:
        self.open = False
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        self._onDisconnect = []

    def _lost(self, reason: Failure | None) -> None:
        if not self.open:
            return
        callbacks = self._onDisconnect
        self._end()
        self.disconnected = True
        for callback in callbacks:
            try:
                callback()
            except Exception:
                self.log.failure("a 2026 response's disconnect callback failed")


def statusOf(message: Message) -> int:
    """The HTTP status of C{message} answered before anything was streamed."""
    error = message.get("error")
    if isinstance(error, dict):
        code: Any = error.get("code")
        if type(code) is int:
            return era2026form.httpStatus(code)
    return 200


def _frame(message: Message) -> bytes:
    """One SSE event carrying C{message} (no id: nothing resumes)."""
    return b"event: message\ndata: " + jsonrpc.dumps(message) + b"\n\n"
