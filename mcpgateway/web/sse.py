"""A Server-Sent Events stream over one HTTP response.

Writes each message as one C{event: message} frame and flushes it at once,
sends a comment as keep-alive so idle proxies and clients do not drop it, and
stops everything when the client goes away. Carries no C{id:} fields: the
gateway does not replay streams, and a client that saw an id would wait for a
replay that never comes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.web.server import Request

from mcpgateway import jsonrpc

KEEPALIVE_SECONDS = 15.0


class SSEStream:
    """One open SSE response; C{open} is false once it ended either way."""

    def __init__(self, request: Request, clock: IReactorTime,
                 keepalive: float = KEEPALIVE_SECONDS) -> None:
        self._request = request
        self.open = True
        self._onClose: list[Callable[[], Any]] = []
        request.setHeader(b"content-type", b"text/event-stream")
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"x-accel-buffering", b"no")
        request.notifyFinish().addErrback(self._lost)
        request.write(b"")  # send the status line and headers now
        self._ping = LoopingCall(request.write, b": keep-alive\n\n")
        self._ping.clock = clock
        self._ping.start(keepalive, now=False)

    def onClose(self, callback: Callable[[], Any]) -> None:
        """Call C{callback} once when the stream ends, whatever ends it."""
        self._onClose.append(callback)

    def send(self, message: jsonrpc.Message) -> bool:
        """Write one message as an SSE event; C{False} when the stream is closed."""
        if not self.open:
            return False
        self._request.write(b"event: message\ndata: " + jsonrpc.dumps(message) + b"\n\n")
        return True

    def close(self) -> None:
        """End the stream and finish the response."""
        if self._end():
            self._request.finish()

    def _lost(self, _: Any) -> None:
        self._end()  # the client went away; nothing to finish

    def _end(self) -> bool:
        if not self.open:
            return False
        self.open = False
        if self._ping.running:
            self._ping.stop()
        callbacks, self._onClose = self._onClose, []
        for callback in callbacks:
            callback()
        return True
