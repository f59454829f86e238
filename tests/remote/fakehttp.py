"""A fake HTTP side for the remote backends' unit tests: an C{IAgent} that
records each request and lets the test answer it (or fail it) by hand, and
responses whose bodies the test feeds, whole or event by event. No sockets,
no reactor: time is a L{twisted.internet.task.Clock} the test advances."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost, ConnectionRefusedError
from twisted.internet.protocol import Protocol
from twisted.internet.testing import StringTransport
from twisted.logger import LogEvent, capturedLogs
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone, ResponseFailed
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IBodyProducer, IResponse
from zope.interface import implementer


class _BodyTransport(StringTransport):
    """What a body protocol sees; C{stopProducing} aborts the body."""

    def __init__(self, response: FakeResponse) -> None:
        super().__init__()
        self._response = response
        self.aborted = False

    def stopProducing(self) -> None:
        super().stopProducing()
        self.aborted = True
        self._response.end(Failure(ResponseFailed([Failure(ConnectionLost())])))


@implementer(IResponse)
class FakeResponse:
    """An C{IResponse} whose body is C{body}, then (unless C{stream}) its end."""

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
        self.request = None
        self.previousResponse = None
        self._body = body
        self._stream = stream
        self.protocol: Protocol | None = None
        self.transport: _BodyTransport | None = None
        self.ended = False

    def deliverBody(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.transport = _BodyTransport(self)
        protocol.makeConnection(self.transport)
        if self._body:
            protocol.dataReceived(self._body)
        if not self._stream:
            self.end()

    def setPreviousResponse(self, response: object) -> None:
        """Not followed: the fake has no redirects."""

    @property
    def delivered(self) -> bool:
        """Whether someone asked for the body (an answer must always be read)."""
        return self.protocol is not None

    @property
    def aborted(self) -> bool:
        """Whether the reader gave the body up (C{stopProducing})."""
        return self.transport is not None and self.transport.aborted

    def push(self, data: bytes) -> None:
        assert self.protocol is not None, "nobody reads this body"
        assert not self.ended, "the body has ended"
        self.protocol.dataReceived(data)

    def end(self, reason: Failure | None = None) -> None:
        if not self.ended and self.protocol is not None:
            self.ended = True
            self.protocol.connectionLost(reason or Failure(ResponseDone()))

    def drop(self) -> None:
        """End the body the way a connection that breaks does."""
        self.end(Failure(ResponseFailed([Failure(ConnectionLost())])))


def event(
    data: bytes | dict[str, Any], *, type: bytes | None = None, id: bytes | None = None
) -> bytes:
    """One SSE event carrying C{data} (a message is written as JSON)."""
    out = b""
    if id is not None:
        out += b"id: " + id + b"\n"
    if type is not None:
        out += b"event: " + type + b"\n"
    payload = data if isinstance(data, bytes) else json.dumps(data).encode()
    for line in payload.split(b"\n"):
        out += b"data: " + line + b"\n"
    return out + b"\n"


def sse(*messages: dict[str, Any], ids: list[str] | None = None) -> bytes:
    """C{message} events carrying C{messages} (with the given ids, if any)."""
    out = b""
    for i, message in enumerate(messages):
        eventId = None if ids is None else ids[i].encode()
        out += event(message, type=b"message", id=eventId)
    return out


def sseResponse(
    *messages: dict[str, Any],
    ids: list[str] | None = None,
    stream: bool = False,
    headers: dict[bytes, bytes] | None = None,
) -> FakeResponse:
    """A C{200 text/event-stream} answer carrying C{messages}."""
    return FakeResponse(
        200,
        sse(*messages, ids=ids),
        contentType=b"text/event-stream",
        stream=stream,
        headers=headers,
    )


def jsonResponse(
    message: Any, *, code: int = 200, headers: dict[bytes, bytes] | None = None
) -> FakeResponse:
    """An C{application/json} answer carrying C{message}."""
    return FakeResponse(code, json.dumps(message).encode(), headers=headers)


@dataclass
class Sent:
    """One request the code under test made, waiting for the test's answer."""

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
    """Records each request; the test answers it (L{Sent.answer})."""

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
        """The only request made since the last look (of C{method}, if given)."""
        sent = self.take()
        assert len(sent) == 1, sent
        if method is not None:
            assert sent[0].method == method, sent[0]
        return sent[0]


@contextmanager
def noFailuresLogged() -> Iterator[Sequence[LogEvent]]:
    """Capture the log; at the end, fail if anything logged a traceback (a
    callback that raised, in the code under test)."""
    with capturedLogs() as events:
        yield events
    failures = [e for e in events if "log_failure" in e]
    assert failures == [], [e["log_failure"].getTraceback() for e in failures]
