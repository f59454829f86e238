# -*- test-case-name: tests.remote.test_streamable_streams,tests.remote.test_streamable -*-
"""The GET stream of a Streamable HTTP session with a remote MCP server:
what the server sends unasked.

It is opened after C{notifications/initialized} and reopened when it ends
(with C{Last-Event-ID} when the server gave event ids, after the server's
C{retry}), or after a backoff when it failed or was refused; a server that
offers none (405) is not asked again, and one that no longer knows the
session hands that to the session's owner.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.remote.answers import Answers, Lived
from mcpgateway.remote.headers import UpstreamHeaders, sessionLost
from mcpgateway.remote.sse import Event, SSEReader, discard, isSSE, readBody, reasonOf

GET_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before the GET stream is reopened after it failed (then every 30 s)."""


class RemoteGetStream:
    """The GET stream of one session.

    @param clock: for the delays before it is reopened.
    @param agent: the HTTP client.
    @param headers: the session's headers (and its id: a stream of a
        session that is over is let go).
    @param answers: delivers what comes on it.
    @param child: whether the child has ended.
    @param onSessionLost: called when the server no longer knows the session.
    @param said: says a line about what went wrong.
    @param bug: logs a failure no one expected, saying what was being done.
    @param name: the server's name, and C{url} its URL, for what is said.
    """

    def __init__(
        self,
        clock: IReactorTime,
        agent: IAgent,
        headers: UpstreamHeaders,
        answers: Answers,
        child: Lived,
        onSessionLost: Callable[[], None],
        said: Callable[[str], None],
        bug: Callable[[Failure, str], None],
        name: str,
        url: str,
    ) -> None:
        self._clock = clock
        self._agent = agent
        self._headers = headers
        self._answers = answers
        self._child = child
        self._onSessionLost = onSessionLost
        self._said = said
        self._bug = bug
        self._name = name
        self._url = url
        self._urlBytes = url.encode("ascii")
        self._reader: SSEReader | None = None
        self._wanted = False
        self._timer: IDelayedCall | None = None
        self._failures = 0
        self._lastEventId: bytes | None = None

    def open(self) -> None:
        """Open the stream of what the server sends unasked (once the client's
        session is initialized)."""
        self._wanted = True
        if self._reader is not None or self._timer is not None or self._child.exited:
            return
        headers = self._headers.build(b"text/event-stream")
        if self._lastEventId is not None:
            headers.setRawHeaders(b"last-event-id", [self._lastEventId])
        sessionId = self._headers.sessionId
        d = self._agent.request(b"GET", self._urlBytes, headers)
        d.addCallbacks(self._answered, self._failed, callbackArgs=(sessionId,))
        d.addErrback(self._bug, "opening the GET stream")

    def close(self) -> None:
        """Close the stream, and forget any reopening."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.abort()

    def _answered(self, response: IResponse, sessionId: str | None) -> None:
        if self._child.exited or sessionId != self._headers.sessionId:
            discard(response)
            return
        if response.code == 405:  # the server offers no such stream
            readBody(response)
            self._wanted = False
            return
        if not (200 <= response.code < 300 and isSSE(response)):
            readBody(response).addCallback(self._refused, response.code, sessionId).addErrback(
                self._bug, "reading the GET stream's refusal"
            )
            return
        self._failures = 0
        reader = SSEReader(self._event)
        self._reader = reader
        response.deliverBody(reader)
        reader.finished.addCallback(self._ended, reader)
        reader.finished.addErrback(self._bug, "reading the GET stream")

    def _event(self, event: Event) -> None:
        """An event of the stream: its id is where the stream resumes."""
        if event.id is not None:
            self._lastEventId = event.id
        self._answers.deliverData(event.data)

    def _refused(self, result: tuple[bytes, Failure], code: int, sessionId: str | None) -> None:
        if self._child.exited or sessionId != self._headers.sessionId:
            return
        if sessionLost(code, result[0], sessionId):
            self._onSessionLost()
            return
        self._retry(f"HTTP {code}")

    def _ended(self, result: tuple[Failure], reader: SSEReader) -> None:
        if reader is not self._reader:
            return
        self._reader = None
        retry = reader.parser.retry
        self._retry(None, None if retry is None else retry / 1000.0)

    def _failed(self, reason: Failure) -> None:
        self._retry(reasonOf(reason))

    def _retry(self, why: str | None, delay: float | None = None) -> None:
        if self._child.exited or not self._wanted:
            return
        if why is not None:
            self._failures += 1
            self._said(f"server '{self._name}': the GET stream of {self._url} failed ({why})")
        if delay is None:
            delay = GET_BACKOFF[min(self._failures, len(GET_BACKOFF) - 1)]
        self._timer = self._clock.callLater(delay, self._reopen)

    def _reopen(self) -> None:
        self._timer = None
        self.open()
