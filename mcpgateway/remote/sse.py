# -*- test-case-name: tests.remote.test_sse,tests.bridge.test_client -*-
"""Reading an MCP server's HTTP answers: SSE streams parsed as their events
come (L{SSEParser}, L{SSEReader}), whole bodies (L{readBody}), and the few
header and failure helpers both HTTP clients of the gateway use (the bridge,
and the remote backends of L{mcpgateway.remote})."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import IResponse

CONTENT_TYPE = b"content-type"
SSE = b"text/event-stream"


@dataclass(frozen=True)
class Event:
    """One SSE event: its data (lines joined with C{\\n}) and the last event
    id at its dispatch, if any."""

    data: bytes
    id: bytes | None = None
    type: bytes | None = None
    """The C{event:} field (C{None}: a C{message} event)."""


class SSEParser:
    """Incremental C{text/event-stream} parser (the WHATWG rules the MCP
    transport uses: C{data:}, C{id:}, C{event:}, C{retry:}, comments)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._type: bytes | None = None
        self._afterCR = False
        """The last chunk ended in CR: a LF opening the next one ends no line."""
        self.lastEventId: bytes | None = None
        """The last C{id:} seen (what a C{Last-Event-ID} resumes from)."""
        self.retry: int | None = None
        """The last C{retry:} the server sent, in milliseconds."""

    def feed(self, chunk: bytes) -> list[Event]:
        """The events C{chunk} completes (an event ends at a blank line)."""
        if not chunk:
            return []
        if self._afterCR and chunk[:1] == b"\n":  # the second half of a \r\n
            chunk = chunk[1:]
        self._afterCR = chunk.endswith(b"\r")
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[Event] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if not line:
                kind, self._type = self._type, None
                if self._data:
                    data = b"\n".join(self._data)
                    self._data = []
                    if data:  # an empty event (a priming event) is not dispatched
                        events.append(Event(data, self.lastEventId, kind))
                continue
            if line[:1] == b":":
                continue
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data.append(value)
            elif name == b"id":
                if b"\x00" not in value:
                    self.lastEventId = value
            elif name == b"event":
                self._type = value or None
            elif name == b"retry" and value.isdigit():
                self.retry = int(value)
        self._buffer = buffer[start:]
        return events


class SSEReader(Protocol):
    """Hands each event of an SSE body to C{onEvent}; C{finished} fires
    with the reason the body ended (in a tuple: a Failure given to
    C{callback} would be taken for an error)."""

    def __init__(self, onEvent: Callable[[Event], None]) -> None:
        self.parser = SSEParser()
        self.onEvent = onEvent
        self.finished: Deferred[tuple[Failure]] = Deferred()
        self.lastData: bytes | None = None

    def dataReceived(self, data: bytes) -> None:
        for event in self.parser.feed(data):
            self.lastData = event.data
            self.onEvent(event)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.finished.callback((reason,))

    def abort(self) -> None:
        if self.transport is not None:
            cast(Any, self.transport).stopProducing()


class BodyReader(Protocol):
    """Collects a whole body; C{finished} fires with it and the reason it ended."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.finished: Deferred[tuple[bytes, Failure]] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.finished.callback((b"".join(self.chunks), reason))


def headerOf(response: IResponse, name: bytes) -> str | None:
    """The first value of the response header C{name}, or C{None}."""
    values = response.headers.getRawHeaders(name)
    return values[0].decode("latin-1") if values else None


def isSSE(response: IResponse) -> bool:
    """Whether the response is an SSE stream."""
    values = response.headers.getRawHeaders(CONTENT_TYPE)
    return bool(values) and values[0].lower().startswith(SSE)


def endedCleanly(reason: Failure) -> bool:
    """Whether a body ended as a body should (its length reached, or the
    connection closed where no length was given)."""
    return reason.check(ResponseDone, PotentialDataLoss) is not None


class _StopBody(Protocol):
    """Stops a body it is given at once (a stream nobody wants may never end)."""

    def connectionMade(self) -> None:
        if self.transport is not None:
            cast(Any, self.transport).stopProducing()


def discard(response: IResponse) -> None:
    """Close C{response}'s body unread: its connection is not kept."""
    response.deliverBody(_StopBody())


def readBody(response: IResponse) -> Deferred[tuple[bytes, Failure]]:
    """The whole body, and the reason it ended."""
    reader = BodyReader()
    response.deliverBody(reader)
    return reader.finished


def reasonOf(reason: Failure) -> str:
    """A short reason for a failure of the connection."""
    value = reason.value
    inner = getattr(value, "reasons", None)  # ResponseNeverReceived and friends
    if inner:
        return "; ".join(r.getErrorMessage() for r in inner if isinstance(r, Failure))
    return reason.getErrorMessage() or type(value).__name__
