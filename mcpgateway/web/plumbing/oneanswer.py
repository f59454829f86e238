# -*- test-case-name: tests.web.plumbing.test_one_answer,tests.web.plumbing.test_resumable,tests.web.endpoints.test_mcp -*-
"""The answer to one forwarded request: one JSON body, until it has to be a stream.

Most requests a client posts are answered by the child with nothing else
related to them first: the answer goes out as one C{application/json} body
with a Content-Length, written from the request straight to its connection.
Such an answer needs no SSE stream, no replay log and no keep-alive: a
L{PendingAnswer} is a few fields and one entry in its clock's keep-alive
ticker's queue (L{mcpgateway.web.plumbing.sse.KeepAlive.waiting}), appended and
never searched.

It becomes an L{SSEStream} (made by its L{StreamOpener}, with the replay log
of a resumable session starting then) at the moment one of these comes
first:

  - a message related to the request that is not its answer (a progress
    notification, a log message, a request of the child's): the stream
    carries it, its headers and priming event go out with it;
  - C{HEADERS_AFTER} seconds of silence: the ticker makes the stream, whose
    headers (and priming event) go out at once, and keep-alives follow, so
    a long call holds its connection through proxies;
  - the request is cancelled without an answer: an empty stream, finished.

The bytes on the wire are the ones an L{SSEStream} that waited for its first
event would have written in each case. A response finished behind its back
(an error answer written over it) or a connection gone before any byte is
dropped: no client can resume what was never given an event id.
"""

from __future__ import annotations

from typing import Any, Protocol

from twisted.web.server import Request

from mcpgateway.protocol import jsonrpc
from mcpgateway.tuned.headers import GatewayHeaders, canonical
from mcpgateway.web.plumbing.sse import KeepAlive, SSEStream

_CONTENT_TYPE = canonical(b"content-type")
_CACHE_CONTROL = canonical(b"cache-control")
_CONTENT_LENGTH = canonical(b"content-length")
_JSON = [b"application/json"]
_NO_CACHE = [b"no-cache"]


class StreamOpener(Protocol):
    """Makes the SSE stream a L{PendingAnswer} becomes (the endpoint's
    forwarder, which knows the session's replay store)."""

    def openStream(self, request: Request, owner: Any, headersNow: bool) -> SSEStream:
        """A new stream of C{owner}'s (a session) over C{request}; its head
        goes out at once when C{headersNow}."""


class PendingAnswer:
    """One request's answer, waiting. C{open} while it may still go out as
    one JSON body; C{stream} once it became a stream."""

    __slots__ = ("_opener", "_owner", "_request", "open", "since", "stream")

    headersSent = False
    """Nothing of it is on the wire (a stream's flag, for whoever looks at
    the keep-alive ticker's streams)."""

    def __init__(
        self,
        request: Request,
        since: float,
        opener: StreamOpener,
        owner: Any,
        ticker: KeepAlive,
    ) -> None:
        """
        @param since: when the request came (the clock's seconds).
        @param opener: makes the stream, if it becomes one.
        @param owner: the session whose stream it would be.
        @param ticker: the keep-alive ticker that makes it a stream after
            C{HEADERS_AFTER} seconds of silence.
        """
        self._request: Request | None = request
        self.since = since
        self._opener = opener
        self._owner = owner
        self.open = True
        self.stream: SSEStream | None = None
        # The ticker looks at it on each tick until it is done or becomes a
        # stream. Queued here, not through a call (an answer that comes at
        # once costs an append), after the done ones at the front: one call
        # at a time keeps one or two there, not a second's worth.
        waiting = ticker.waiting
        while waiting and not waiting[0].open:
            waiting.popleft()
        waiting.append(self)
        if not ticker.loop.running:
            ticker.start()

    def send(self, message: jsonrpc.Message) -> bool:
        """Send a message related to the request that is not its answer (the
        backend's sink): the answer becomes a stream, which carries it.
        C{False} when nothing can carry it any more."""
        stream = self.stream
        if stream is None:
            stream = self.toStream(False)
            if stream is None:
                return False
        return stream.send(message)

    def end(self, message: jsonrpc.Message) -> None:
        """Send the answer: one JSON body, or the stream's last event."""
        stream = self.stream
        if stream is not None:
            stream.end(message)
            return
        request = self._taken()
        if request is None:
            return
        body = jsonrpc.dumps(message)
        headers = request.responseHeaders
        if type(headers) is GatewayHeaders:  # the gateway's request: its short path
            headers.setCanonical(_CONTENT_TYPE, b"application/json")
            headers.setCanonical(_CACHE_CONTROL, b"no-cache")
            headers.setCanonical(_CONTENT_LENGTH, b"%d" % len(body))
        else:
            headers.setRawHeaders(b"content-type", _JSON)
            headers.setRawHeaders(b"cache-control", _NO_CACHE)
            headers.setRawHeaders(b"content-length", [b"%d" % len(body)])
        request.write(body)
        answered = getattr(request.channel, "answerWritten", None)
        if answered is not None:
            answered()  # sent now: the client need not wait for the bookkeeping
        request.finish()

    def close(self) -> None:
        """End without an answer (the request was cancelled): an empty stream."""
        stream = self.stream
        if stream is None:
            stream = self.toStream(False)
            if stream is None:
                return
        stream.close()

    def toStream(self, headersNow: bool) -> SSEStream | None:
        """Become a stream (its head at once when C{headersNow}); C{None}
        when its response is finished or its connection gone."""
        request = self._taken()
        if request is None:
            return None
        stream = self.stream = self._opener.openStream(request, self._owner, headersNow)
        return stream

    def finishedElsewhere(self) -> bool:
        """Whether its response was finished (or its connection lost)
        behind its back."""
        request = self._request
        return request is not None and bool(
            request.finished or getattr(request, "_disconnected", False)
        )

    def abandon(self) -> None:
        """Leave the request alone: nothing more is written for it."""
        self.open = False
        self._request = None

    def _taken(self) -> Request | None:
        """The request, for the one thing written over it now; C{None} when
        that is too late (it waits no more, its response was finished or its
        connection is gone)."""
        request = self._request
        if not self.open or request is None:
            return None
        self.open = False
        self._request = None
        if request.finished or getattr(request, "_disconnected", False):
            return None
        return request
