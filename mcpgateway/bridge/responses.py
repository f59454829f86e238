# -*- test-case-name: tests.bridge.test_client -*-
"""Reading the gateway's HTTP answers for the bridge: whole bodies, SSE
streams as their events come, and the JSON-RPC messages in them.

A response is either one JSON body or an SSE stream (MCP Streamable HTTP);
the bridge writes each message to its stdio client as one line, so a
multi-line text is re-encoded and a batch answer split (L{oneLine}).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import IResponse

from mcpgateway.bridge.framing import Event, Outgoing, SSEParser
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Kind

CONTENT_TYPE = b"content-type"
SSE = b"text/event-stream"


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


def readBody(response: IResponse) -> Deferred[tuple[bytes, Failure]]:
    """The whole body, and the reason it ended."""
    reader = BodyReader()
    response.deliverBody(reader)
    return reader.finished


def messagesOf(response: IResponse, body: bytes) -> list[bytes]:
    """The messages of a whole response body (JSON or SSE)."""
    if isSSE(response):
        return [event.data for event in SSEParser().feed(body + b"\n\n")]
    return [body] if body.strip() else []


def oneLine(data: bytes) -> list[bytes]:
    """C{data} (one JSON text) as stdio lines: a message per line, so a
    multi-line text is re-encoded and an array (a batch answer) split."""
    text = data.strip()
    if text[:1] == b"[" or b"\n" in text or b"\r" in text:
        try:
            value = jsonrpc.loads(text)
        except jsonrpc.ParseError:
            return []
        items = value if isinstance(value, list) else [value]
        return [jsonrpc.dumps(item) for item in items]
    return [text] if text else []


def idOf(data: bytes) -> tuple[bool, Any, Any]:
    """Whether C{data} is a response, its id, and its result."""
    try:
        message = jsonrpc.loads(data)
    except jsonrpc.ParseError:
        return False, None, None
    if jsonrpc.classify(message) is not Kind.RESPONSE:
        return False, None, None
    return True, message.get("id"), message.get("result")


def describe(message: Outgoing) -> str:
    """A request as the log names it: C{tools/call (id 3)}."""
    return f"{message.method} (id {jsonrpc.dumps(message.id).decode('utf-8', 'replace')})"


def reasonOf(reason: Failure) -> str:
    """A short reason for a failure of the connection."""
    value = reason.value
    inner = getattr(value, "reasons", None)  # ResponseNeverReceived and friends
    if inner:
        return "; ".join(r.getErrorMessage() for r in inner if isinstance(r, Failure))
    return reason.getErrorMessage() or type(value).__name__
