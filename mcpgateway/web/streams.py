# -*- test-case-name: tests.web.test_mcp -*-
"""The MCP endpoint's GET and DELETE.

A GET opens the session's standalone SSE stream, or resumes a stream from
its C{Last-Event-ID} (replaying what the client missed, from this
process's replay store); a stream handed over by a restart's predecessor
is taken over. A DELETE ends the session. L{StreamRequests} is a part of
L{mcpgateway.web.mcp.McpEndpoint}: the attributes and methods it declares
without defining are the endpoint's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.core.gateway import Gateway
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import envelope, jsonrpc
from mcpgateway.web.era2026 import Era2026Endpoint
from mcpgateway.web.guard import (
    checkGetHeaders,
    header,
)
from mcpgateway.web.replay import ReplayStore, StreamLog, kindOf, resumable
from mcpgateway.web.sse import SSEStream

if TYPE_CHECKING:
    pass  # cryptography: clustered gateways only
from mcpgateway.web.auditnote import auditNote
from mcpgateway.web.backends import (
    Backend,
)
from mcpgateway.web.credentials import (
    BadCredential,
    Credentials,
)
from mcpgateway.web.replies import jsonReply
from mcpgateway.web.requestfacts import (
    era2026Header,
    shortName,
)


class StreamRequests:
    """A session's GET stream, its resumption, and its DELETE."""

    _clock: IReactorTime
    _credentialProblem: Callable[..., tuple[int, str] | None]
    _credentialsOf: Callable[..., tuple[str, Credentials]]
    _gateway: Gateway
    _keepAlive: float
    _logFor: Callable[..., StreamLog | None]
    _refuse: Callable[..., bytes]
    _server: str
    _session: Callable[..., Session | bytes]
    backend: Backend
    log: Logger
    modern: Era2026Endpoint
    replay: ReplayStore

    def _get(self, request: Request) -> bytes | int:
        if era2026Header(request) and header(request, "mcp-session-id") is None:
            return self.modern.notAllowed(request)
        refusal = checkGetHeaders(request)
        if refusal is not None:
            return self._refuse(request, refusal[0], jsonrpc.INVALID_REQUEST, refusal[1])
        session = self._session(request, header(request, "mcp-protocol-version"))
        if isinstance(session, bytes):
            return session
        differ = self._credentialProblem(request, session)
        if differ is not None:
            return self._refuse(request, 400, *differ)
        lastEventId = header(request, "last-event-id")
        if lastEventId is not None and resumable(session.protocolVersion):
            resumed = self._resume(request, session, lastEventId)
            if resumed is not None:
                return resumed
        current = session.getStream
        if isinstance(current, SSEStream) and current.open:
            if current.connected:
                return self._refuse(
                    request,
                    409,
                    jsonrpc.INVALID_REQUEST,
                    "Conflict: this session already has an open GET stream",
                )
            current.close()  # its connection is gone and the client did not resume it
        if getattr(getattr(request, "site", None), "handingOver", False):
            return self._handedOver(request, session)
        stream = SSEStream(request, self._clock, True, self._keepAlive, self._logFor(session, "g"))
        session.getStream = stream
        stream.onClose(session.streamEnded)
        session.streamOpened()  # a child's request that waited for it goes out now
        return NOT_DONE_YET

    def _handedOver(self, request: Request, session: Session) -> bytes:
        """A new GET stream while a restart's successor takes over
        (L{mcpgateway.web.app.GatewaySite.handOver}): it must not hold this
        process open. An SSE response that ends at once, on a connection that
        closes (C{Connection: close}, see C{GatewayChannel.checkPersistence}),
        so the client opens the stream again, at the successor; a resumable
        session is told when (C{retry:}), an older one gets no event."""
        request.setResponseCode(200)
        request.setHeader(b"content-type", b"text/event-stream")
        request.setHeader(b"cache-control", b"no-cache")
        if resumable(session.protocolVersion):
            return b"retry: %d\n\n" % self.replay.retryMs
        return b""

    def _resume(self, request: Request, session: Session, lastEventId: str) -> bytes | int | None:
        """Resume the stream C{lastEventId} belongs to over this GET; C{None}
        to open a fresh GET stream instead."""
        found = self.replay.find(session.id, lastEventId)
        if found is not None:
            log, seq = found
            stream = log.stream
            if stream is not None and (log.kind == "p" or stream is session.getStream):
                if log.evicted > seq:
                    self.log.warn(
                        "server {server}: session {session}: resuming stream {stream} after"
                        " event {seq}, but events up to {evicted} were dropped (over the"
                        " replay bounds); the client misses them",
                        server=self._server,
                        session=shortName(session),
                        stream=log.key,
                        seq=seq,
                        evicted=log.evicted,
                    )
                stream.attach(request, seq)
                return NOT_DONE_YET
        # An id this gateway no longer has: evicted after its TTL, answered
        # and delivered, or from an earlier gateway process. MCP 2025-11-25
        # (basic/transports §Resumability and Redelivery, item 2) makes the
        # replay a MAY and says nothing more; 404 would tell the client its
        # session ended (§Session Management, item 3), which it did not. For
        # the GET stream we open a fresh one (§Listening for Messages from the
        # Server: a GET is answered with an SSE stream); for a request's
        # stream a fresh stream would never carry the response the client
        # waits for, so it gets 400 (as the TypeScript SDK's reference server
        # answers an unknown event id) and gives up on that request.
        shown = envelope.shown(lastEventId)
        if kindOf(lastEventId) == "g":
            self.log.info(
                "server {server}: session {session}: Last-Event-ID {id} is no longer known;"
                " opened a fresh GET stream",
                server=self._server,
                session=shortName(session),
                id=shown,
            )
            return None
        return self._refuse(
            request,
            400,
            jsonrpc.INVALID_REQUEST,
            f"Bad Request: Last-Event-ID {shown} is not known (its stream ended, expired"
            " or belongs to an earlier gateway process); nothing to resume",
        )

    def _delete(self, request: Request) -> bytes:
        if era2026Header(request) and header(request, "mcp-session-id") is None:
            return self.modern.notAllowed(request)
        session = self._session(request, header(request, "mcp-protocol-version"))
        if isinstance(session, bytes):
            return session
        note = auditNote(request)
        if note is not None:
            note.method = "session/delete"
        if self.backend.credentialEnv:
            # An unusable credential header is refused here as on every
            # request of the session; the values themselves are not compared
            # (ending a session needs no child, and a restored session's
            # client may end it without them).
            try:
                self._credentialsOf(request)
            except BadCredential as e:
                return self._refuse(request, 400, jsonrpc.INVALID_REQUEST, str(e))
        if note is not None:
            note.settle("ok")
        ended, pids = self._gateway.endSessions([session], "session deleted by the client")
        return jsonReply(request, 200, {"ended": {"sessions": ended, "childPids": pids}})
