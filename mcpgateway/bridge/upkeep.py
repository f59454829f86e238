# -*- test-case-name: tests.bridge.test_client -*-
"""Keeping the bridge's gateway session alive: its GET stream, and a new
session when the gateway has lost the old one.

The GET stream carries what the server sends unasked; it is reopened when
it ends (with C{Last-Event-ID} when the gateway gave event ids, so nothing
is missed), retried after a 409 (the gateway still holds the old one), and
given up for good after a 405 (the server offers none). A 404 on the
session means the gateway no longer knows it (a restart that lost it, an
idle timeout): the bridge initializes a new session with the client's own
C{initialize} params and C{notifications/initialized}, says so on stderr,
and goes on; the client never sees it.

L{SessionUpkeep} is a part of L{mcpgateway.bridge.client.BridgeClient}:
the attributes and methods it declares without defining are the client's.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectError, ConnectionClosed, DNSLookupError
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import RequestTransmissionFailed, ResponseNeverReceived
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.bridge.responses import idOf, messagesOf, oneLine
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.sse import (
    SSE,
    Event,
    SSEReader,
    endedCleanly,
    headerOf,
    isSSE,
    readBody,
    reasonOf,
)
from mcpgateway.runtime.bodies import BytesProducer

GET_RETRY = 0.25
"""Seconds before a GET stream that ended is opened again."""
GET_CONFLICT_RETRY = 1.0
"""Seconds before a GET stream refused with 409 (the old one is still
known to the gateway) is tried again."""
REINITIALIZE_ID = "mcpgateway-bridge-reinitialize-{n}"
"""The id of the bridge's own C{initialize} (its answer never reaches the client)."""
RETRY_LATER = 2.0
"""Seconds before a GET stream refused or failed for another reason is
tried again (the longest step of the client's probe backoff)."""
NOT_SENT = (ConnectError, DNSLookupError, RequestTransmissionFailed)
"""What a request fails with when it never reached the gateway."""
LOST = (ResponseNeverReceived, ConnectionClosed)
"""What a request fails with when the gateway went away before answering."""


class LinkState(Enum):
    """Where the bridge stands with the gateway it forwards to."""

    DOWN = "down"
    """The gateway is not reachable (or not found yet): probing it."""
    UP = "up"
    REINITIALIZING = "reinitializing"
    CLOSED = "closed"


class SessionUpkeep:
    """The GET stream and the re-initialization of a lost session."""

    log: Logger
    state: LinkState
    sessionId: str | None
    protocolVersion: str | None
    initParams: Any
    clientInitialized: bool
    reinitializations: int
    _agent: IAgent
    _clock: IReactorTime
    _headers: Headers
    _urlBytes: bytes
    _needReinit: bool
    _get: SSEReader | None
    _getActive: bool
    _getAllowed: bool
    _getTimer: IDelayedCall | None
    _lastEventId: bytes | None
    _toClient: Callable[[bytes], None]
    _bug: Callable[[Failure, str], None]
    _goDown: Callable[[str], None]
    _pump: Callable[[], None]
    _rebuildHeaders: Callable[[], None]

    # -- a session that is gone ----------------------------------------------

    def _forgetSession(self) -> None:
        self.sessionId = None
        self.protocolVersion = None
        self.clientInitialized = False
        self._lastEventId = None
        self._getAllowed = True
        self._stopGet()
        self._rebuildHeaders()

    def _reinitialize(self) -> None:
        old = self.sessionId
        self._needReinit = True
        if self.initParams is None:
            self.log.error(
                "session {session} is gone at the gateway, and the client never sent"
                " initialize: cannot make a new one",
                session=old,
            )
            self._needReinit = False
            self._forgetSession()
            self._pump()
            return
        self.state = LinkState.REINITIALIZING
        clientInitialized = self.clientInitialized
        self._forgetSession()
        self.clientInitialized = clientInitialized
        self.reinitializations += 1
        body = jsonrpc.dumps(
            jsonrpc.request(
                REINITIALIZE_ID.format(n=self.reinitializations), "initialize", self.initParams
            )
        )
        d = self._agent.request(b"POST", self._urlBytes, self._headers, BytesProducer(body))
        d.addCallback(self._reinitAnswered, old)
        d.addErrback(self._reinitFailed)
        d.addErrback(self._bug, "re-initializing")

    def _reinitAnswered(self, response: IResponse, old: str | None) -> Deferred[None]:
        sid = headerOf(response, b"mcp-session-id")

        def read(result: tuple[bytes, Failure]) -> Deferred[None] | None:
            body, reason = result
            if self.state is not LinkState.REINITIALIZING:
                return None
            if not endedCleanly(reason):
                self._goDown(reasonOf(reason))
                return None
            version = None
            for data in messagesOf(response, body):
                isResponse, _, res = idOf(data)
                if isResponse and isinstance(res, dict):
                    version = res.get("protocolVersion")
            if response.code != 200 or sid is None or not isinstance(version, str):
                self.log.error(
                    "session {old} is gone at the gateway, and a new initialize failed"
                    " (HTTP {code}): {body}",
                    old=old,
                    code=response.code,
                    body=body[:200].decode("utf-8", "replace"),
                )
                self._reinitDone()
                return None
            self.sessionId = sid
            self.protocolVersion = version
            self._rebuildHeaders()
            self.log.warn(
                "session {old} is gone at the gateway (404): initialized a new session"
                " {new} with the client's original initialize params; what the server"
                " kept for the old session is lost",
                old=old,
                new=sid,
            )
            if not self.clientInitialized:
                self._reinitDone()
                return None
            initialized = jsonrpc.dumps(jsonrpc.notification("notifications/initialized"))
            d = self._agent.request(
                b"POST", self._urlBytes, self._headers, BytesProducer(initialized)
            )

            def sent(answer: IResponse) -> None:
                readBody(answer)
                self._reinitDone()

            return d.addCallbacks(sent, self._reinitFailed)

        return readBody(response).addCallback(read)

    def _reinitFailed(self, reason: Failure) -> None:
        if self.state is not LinkState.REINITIALIZING:
            return
        if reason.check(*NOT_SENT, *LOST):
            self._goDown(reasonOf(reason))
            return
        self.log.failure("re-initializing the session failed", failure=reason)
        self._reinitDone()

    def _reinitDone(self) -> None:
        if self.state is not LinkState.REINITIALIZING:
            return
        self._needReinit = False
        self.state = LinkState.UP
        self._openGet()
        self._pump()

    # -- the GET stream ------------------------------------------------------

    def _openGet(self) -> None:
        if (
            self.state is not LinkState.UP
            or self.sessionId is None
            or not self.clientInitialized
            or self._getActive
            or not self._getAllowed
        ):
            return
        if self._getTimer is not None and self._getTimer.active():
            self._getTimer.cancel()
        self._getTimer = None
        self._getActive = True
        headers = self._headers.copy()
        headers.setRawHeaders(b"accept", [SSE])
        headers.removeHeader(b"content-type")
        if self._lastEventId is not None:
            headers.setRawHeaders(b"last-event-id", [self._lastEventId])
        sessionId = self.sessionId
        d = self._agent.request(b"GET", self._urlBytes, headers, None)
        d.addCallbacks(self._getAnswered, self._getFailed, callbackArgs=(sessionId,))
        d.addErrback(self._bug, "opening the GET stream")

    def _reopenGet(self, delay: float) -> None:
        if self.state is LinkState.CLOSED:
            return
        if self._getTimer is not None and self._getTimer.active():
            self._getTimer.cancel()
        self._getTimer = self._clock.callLater(delay, self._openGet)

    def _getAnswered(self, response: IResponse, sessionId: str) -> None:
        code = response.code
        if self.state is LinkState.CLOSED or sessionId != self.sessionId:
            self._getActive = False
            stale = SSEReader(lambda event: None)
            response.deliverBody(stale)
            stale.abort()
            return
        if code == 200 and isSSE(response):
            reader = SSEReader(self._pushed)
            self._get = reader
            response.deliverBody(reader)
            if reader.parser.lastEventId is None:
                reader.parser.lastEventId = self._lastEventId
            reader.finished.addCallback(self._getEnded, reader, sessionId)
            reader.finished.addErrback(self._bug, "the GET stream")
            return
        self._getActive = False
        readBody(response)
        if code == 405:
            self._getAllowed = False
            self.log.info("the server offers no GET stream (405)")
        elif code == 404:
            if self.state is LinkState.UP:
                self._reinitialize()
        elif code == 409:
            self._reopenGet(GET_CONFLICT_RETRY)
        elif code == 400 and self._lastEventId is not None:
            self._lastEventId = None
            self._reopenGet(GET_RETRY)
        else:
            self.log.warn("the GET stream was refused (HTTP {code}); trying again", code=code)
            self._reopenGet(RETRY_LATER)

    def _pushed(self, event: Event) -> None:
        if event.id is not None:
            self._lastEventId = event.id
        for line in oneLine(event.data):
            self._toClient(line)

    def _getEnded(self, ended: tuple[Failure], reader: SSEReader, sessionId: str) -> None:
        if self._get is reader:
            self._get = None
            self._getActive = False
        if reader.parser.lastEventId is not None:
            self._lastEventId = reader.parser.lastEventId
        if self.state is not LinkState.UP or sessionId != self.sessionId:
            return
        self._reopenGet(GET_RETRY)

    def _getFailed(self, reason: Failure) -> None:
        self._getActive = False
        if self.state is LinkState.CLOSED or reason.check(CancelledError):
            return
        if reason.check(*NOT_SENT, *LOST):
            self._goDown(reasonOf(reason))
        else:
            self.log.warn("the GET stream failed ({why}); trying again", why=reasonOf(reason))
            self._reopenGet(RETRY_LATER)

    def _stopGet(self) -> None:
        if self._getTimer is not None and self._getTimer.active():
            self._getTimer.cancel()
        self._getTimer = None
        reader, self._get = self._get, None
        self._getActive = False
        if reader is not None:
            reader.abort()
