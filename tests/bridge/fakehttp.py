"""A fake HTTP side for the bridge's unit tests: an C{IAgent} that records
each request and lets the test answer it (or fail it) by hand, and responses
whose bodies the test feeds, whole or event by event. No sockets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost, ConnectionRefusedError
from twisted.internet.protocol import Protocol
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone, ResponseFailed
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IBodyProducer
from zope.interface import implementer

URL = "http://127.0.0.1:9100/demo/mcp"


class _BodyTransport(StringTransport):
    """What a body protocol sees; C{stopProducing} aborts the body."""

    def __init__(self, response: FakeResponse) -> None:
        super().__init__()
        self._response = response

    def stopProducing(self) -> None:
        super().stopProducing()
        self._response.end(Failure(ResponseFailed([Failure(ConnectionLost())])))


class FakeResponse:
    def __init__(
        self,
        code: int = 200,
        body: bytes = b"",
        *,
        contentType: bytes = b"application/json",
        headers: dict[bytes, bytes] | None = None,
        stream: bool = False,
    ) -> None:
        self.code = code
        self.phrase = b"OK"
        self.version = (b"HTTP", 1, 1)
        raw = {b"content-type": [contentType], **{k: [v] for k, v in (headers or {}).items()}}
        self.headers = Headers(raw)
        self.length = len(body)
        self._body = body
        self._stream = stream
        self.protocol: Protocol | None = None
        self.ended = False

    def deliverBody(self, protocol: Protocol) -> None:
        self.protocol = protocol
        protocol.makeConnection(_BodyTransport(self))
        if self._body:
            protocol.dataReceived(self._body)
        if not self._stream:
            self.end()

    def push(self, data: bytes) -> None:
        assert self.protocol is not None
        self.protocol.dataReceived(data)

    def end(self, reason: Failure | None = None) -> None:
        if not self.ended and self.protocol is not None:
            self.ended = True
            self.protocol.connectionLost(reason or Failure(ResponseDone()))


def sse(*messages: dict[str, Any], eventId: str | None = None) -> bytes:
    """SSE events carrying C{messages}."""
    out = b""
    for message in messages:
        if eventId is not None:
            out += b"id: " + eventId.encode() + b"\n"
        out += b"event: message\ndata: " + json.dumps(message).encode() + b"\n\n"
    return out


def sseResponse(*messages: dict[str, Any], stream: bool = False, **kw: Any) -> FakeResponse:
    return FakeResponse(200, sse(*messages), contentType=b"text/event-stream", stream=stream, **kw)


@dataclass
class Sent:
    method: bytes
    uri: bytes
    headers: Headers
    body: bytes | None
    deferred: Deferred[Any] = field(repr=False)

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name.encode())
        return values[0].decode() if values else None

    @property
    def json(self) -> Any:
        assert self.body is not None
        return json.loads(self.body)

    def answer(self, response: FakeResponse) -> FakeResponse:
        self.deferred.callback(response)
        return response

    def refuse(self) -> None:
        self.deferred.errback(Failure(ConnectionRefusedError()))

    def fail(self, reason: BaseException) -> None:
        self.deferred.errback(Failure(reason))


@implementer(IAgent)
class FakeAgent:
    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers | None = None,
        bodyProducer: IBodyProducer | None = None,
    ) -> Deferred[Any]:
        body = getattr(bodyProducer, "body", None) if bodyProducer is not None else None
        d: Deferred[Any] = Deferred()
        self.sent.append(Sent(method, uri, headers or Headers(), body, d))
        return d

    def take(self) -> list[Sent]:
        sent, self.sent = self.sent, []
        return sent

    def one(self, method: bytes | None = None) -> Sent:
        sent = self.take()
        assert len(sent) == 1, sent
        if method is not None:
            assert sent[0].method == method, sent[0]
        return sent[0]
