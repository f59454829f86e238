# -*- test-case-name: tests.bridge.test_client -*-
"""The bridge's GET stream: what the gateway sends its client unasked.

The stream is opened once the client's session is initialized, and reopened
when it ends (with C{Last-Event-ID} when the gateway gave event ids, so
nothing is missed); it is retried after a 409 (the gateway still holds the
old one), and given up for good after a 405 (the server offers none). A 404
means the gateway no longer knows the session, which the stream's owner
renews; a gateway that went away is its owner's to find again.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import CancelledError
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.bridge.link import LOST, NOT_SENT, Link, LinkState
from mcpgateway.bridge.responses import oneLine
from mcpgateway.remote.sse import SSE, Event, SSEReader, isSSE, readBody, reasonOf
from mcpgateway.runtime import logs

GET_RETRY = 0.25
"""Seconds before a GET stream that ended is opened again."""
GET_CONFLICT_RETRY = 1.0
"""Seconds before a GET stream refused with 409 (the old one is still
known to the gateway) is tried again."""
RETRY_LATER = 2.0
"""Seconds before a GET stream refused or failed for another reason is
tried again (the longest step of the client's probe backoff)."""


class BridgeGetStream:
    """The session's GET stream, kept open while the link is up.

    @param clock: for the delays before it is opened again.
    @param agent: the HTTP client.
    @param link: the session the stream belongs to.
    @param toClient: writes one message (one line) to the client.
    @param onLost: told why, when the gateway went away under the stream.
    @param onSessionGone: called when the gateway answers 404: it no longer
        knows the session.
    @param bug: logs a failure no one expected, saying what was being done.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        clock: IReactorTime,
        agent: IAgent,
        link: Link,
        toClient: Callable[[bytes], None],
        onLost: Callable[[str], None],
        onSessionGone: Callable[[], None],
        bug: Callable[[Failure, str], None],
    ) -> None:
        self._clock = clock
        self._agent = agent
        self._link = link
        self._toClient = toClient
        self._onLost = onLost
        self._onSessionGone = onSessionGone
        self._bug = bug
        self._reader: SSEReader | None = None
        self._active = False
        self._allowed = True
        self._timer: IDelayedCall | None = None
        self._lastEventId: bytes | None = None

    def open(self) -> None:
        """Open the stream, when the session is initialized and has none."""
        link = self._link
        if (
            link.state is not LinkState.UP
            or link.sessionId is None
            or not link.clientInitialized
            or self._active
            or not self._allowed
        ):
            return
        self._cancelTimer()
        self._active = True
        headers = link.headers.copy()
        headers.setRawHeaders(b"accept", [SSE])
        headers.removeHeader(b"content-type")
        if self._lastEventId is not None:
            headers.setRawHeaders(b"last-event-id", [self._lastEventId])
        sessionId = link.sessionId
        d = self._agent.request(b"GET", link.urlBytes, headers, None)
        d.addCallbacks(self._answered, self._failed, callbackArgs=(sessionId,))
        d.addErrback(self._bug, "opening the GET stream")

    def stop(self) -> None:
        """Close the stream and forget any reopening."""
        self._cancelTimer()
        reader, self._reader = self._reader, None
        self._active = False
        if reader is not None:
            reader.abort()

    def forget(self) -> None:
        """The session is over: stop, and start the next one's stream afresh."""
        self._lastEventId = None
        self._allowed = True
        self.stop()

    def _cancelTimer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _reopen(self, delay: float) -> None:
        if self._link.state is LinkState.CLOSED:
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = self._clock.callLater(delay, self.open)

    def _answered(self, response: IResponse, sessionId: str) -> None:
        code = response.code
        link = self._link
        if link.state is LinkState.CLOSED or sessionId != link.sessionId:
            self._active = False
            stale = SSEReader(lambda event: None)
            response.deliverBody(stale)
            stale.abort()
            return
        if code == 200 and isSSE(response):
            reader = SSEReader(self._pushed)
            self._reader = reader
            response.deliverBody(reader)
            if reader.parser.lastEventId is None:
                reader.parser.lastEventId = self._lastEventId
            reader.finished.addCallback(self._ended, reader, sessionId)
            reader.finished.addErrback(self._bug, "the GET stream")
            return
        self._active = False
        readBody(response)
        if code == 405:
            self._allowed = False
            self.log.info("the server offers no GET stream (405)")
        elif code == 404:
            if link.state is LinkState.UP:
                self._onSessionGone()
        elif code == 409:
            self._reopen(GET_CONFLICT_RETRY)
        elif code == 400 and self._lastEventId is not None:
            self._lastEventId = None
            self._reopen(GET_RETRY)
        else:
            self.log.warn("the GET stream was refused (HTTP {code}); trying again", code=code)
            self._reopen(RETRY_LATER)

    def _pushed(self, event: Event) -> None:
        if event.id is not None:
            self._lastEventId = event.id
        for line in oneLine(event.data):
            self._toClient(line)

    def _ended(self, ended: tuple[Failure], reader: SSEReader, sessionId: str) -> None:
        if self._reader is reader:
            self._reader = None
            self._active = False
        if reader.parser.lastEventId is not None:
            self._lastEventId = reader.parser.lastEventId
        if self._link.state is not LinkState.UP or sessionId != self._link.sessionId:
            return
        self._reopen(GET_RETRY)

    def _failed(self, reason: Failure) -> None:
        self._active = False
        if self._link.state is LinkState.CLOSED or reason.check(CancelledError):
            return
        if reason.check(*NOT_SENT, *LOST):
            self._onLost(reasonOf(reason))
        else:
            self.log.warn("the GET stream failed ({why}); trying again", why=reasonOf(reason))
            self._reopen(RETRY_LATER)
