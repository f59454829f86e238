# -*- test-case-name: tests.web.endpoints.test_mcp,tests.web.plumbing.test_resumable -*-
"""The MCP endpoint's GET and DELETE: a session's standalone stream and its end.

One job: a GET opens the session's standalone SSE stream, or resumes a
stream from its C{Last-Event-ID} (replaying what the client missed, from
this process's replay store); while a restart's successor takes over, a
new GET stream ends at once so that its client opens it there. A DELETE
ends the session.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.core.sessions import Session
from mcpgateway.protocol import envelope, jsonrpc
from mcpgateway.web.endpoints.auditnote import shortName
from mcpgateway.web.endpoints.backends import SessionFinder
from mcpgateway.web.endpoints.credentialcheck import CredentialCheck
from mcpgateway.web.endpoints.guard import checkGetHeaders, header
from mcpgateway.web.endpoints.refusals import EndpointRefusals
from mcpgateway.web.endpoints.requestreading import era2026Header
from mcpgateway.web.plumbing.replay import ReplayStore, StreamLog, kindOf, resumable
from mcpgateway.web.plumbing.replies import jsonReply
from mcpgateway.web.plumbing.requestcontext import contextOf
from mcpgateway.web.plumbing.sse import SSEStream

EndSessions = Callable[[list[Session], str], tuple[list[str], list[int]]]
"""End sessions for the reason given: the ids ended and the child pids
stopped (L{mcpgateway.core.gateway.gateway.Gateway.endSessions})."""


def logFor(replay: ReplayStore, session: Session, kind: str) -> StreamLog | None:
    """A log in C{replay} for a new stream of C{session} (C{kind}: C{"p"}
    for a POST's, C{"g"} for the GET stream), if its version resumes streams."""
    if resumable(session.protocolVersion):
        return replay.open(session.id, kind)
    return None


class SessionStreams:
    """The GET streams and DELETEs of one MCP endpoint's sessions."""

    def __init__(
        self,
        lookup: SessionFinder,
        credentials: CredentialCheck,
        refusals: EndpointRefusals,
        era2026NotAllowed: Callable[[Request], bytes],
        replay: ReplayStore,
        endSessions: EndSessions,
        clock: IReactorTime,
        keepAlive: float,
        server: str,
        log: Logger,
    ) -> None:
        """
        @param lookup: finds the session a request names.
        @param era2026NotAllowed: the endpoint's 2026-07-28 answer to a GET
            or DELETE that names its revision without a session.
        @param replay: where a resumable session's streams are kept.
        @param keepAlive: the interval of an open stream's keep-alive, in seconds.
        @param log: where a resumption that misses events is logged.
        """
        self._lookup = lookup
        self._credentials = credentials
        self._refusals = refusals
        self._era2026NotAllowed = era2026NotAllowed
        self._replay = replay
        self._endSessions = endSessions
        self._clock = clock
        self._keepAlive = keepAlive
        self._server = server
        self._log = log

    def get(self, request: Request) -> bytes | int:
        """Open, take over or resume the GET stream of the session C{request} names."""
        note = contextOf(request).auditNote
        if note is not None:
            note.method = "session/stream"
        if era2026Header(request) and header(request, "mcp-session-id") is None:
            return self._era2026NotAllowed(request)
        refusal = checkGetHeaders(request)
        if refusal is not None:
            return self._refusals.refuse(request, refusal[0], jsonrpc.INVALID_REQUEST, refusal[1])
        session = self._lookup.session(
            request, header(request, "mcp-protocol-version"), None, contextOf(request)
        )
        if isinstance(session, bytes):
            return session
        differ = self._credentials.problem(request, session)
        if differ is not None:
            return self._refusals.refuse(request, 400, *differ)
        lastEventId = header(request, "last-event-id")
        if lastEventId is not None and resumable(session.protocolVersion):
            resumed = self._resume(request, session, lastEventId)
            if resumed is not None:
                return resumed
        current = session.getStream
        if isinstance(current, SSEStream) and current.open:
            if current.connected:
                return self._refusals.refuse(
                    request,
                    409,
                    jsonrpc.INVALID_REQUEST,
                    "Conflict: this session already has an open GET stream",
                )
            current.close()  # its connection is gone and the client did not resume it
        if getattr(getattr(request, "site", None), "handingOver", False):
            return self._handedOver(request, session)
        stream = SSEStream(
            request, self._clock, True, self._keepAlive, logFor(self._replay, session, "g")
        )
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
            return b"retry: %d\n\n" % self._replay.retryMs
        return b""

    def _resume(self, request: Request, session: Session, lastEventId: str) -> bytes | int | None:
        """Resume the stream C{lastEventId} belongs to over this GET; C{None}
        to open a fresh GET stream instead."""
        found = self._replay.find(session.id, lastEventId)
        if found is not None:
            log, seq = found
            stream = log.stream
            if stream is not None and (log.kind == "p" or stream is session.getStream):
                if log.evicted > seq:
                    self._log.warn(
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
        # answers an unknown event id) and gives up on that request. The
        # Python SDK asks so after a cancel, clients after a restart: an info
        # line, not a warning.
        shown = envelope.shown(lastEventId)
        if kindOf(lastEventId) == "g":
            self._log.info(
                "server {server}: session {session}: Last-Event-ID {id} is no longer known;"
                " opened a fresh GET stream",
                server=self._server,
                session=shortName(session),
                id=shown,
            )
            return None
        return self._refusals.refuse(
            request,
            400,
            jsonrpc.INVALID_REQUEST,
            f"Bad Request: Last-Event-ID {shown} is not known (its stream ended, expired"
            " or belongs to an earlier gateway process); nothing to resume",
            ordinary=kindOf(lastEventId) == "p",  # one of a request's stream, not garbage
        )

    def delete(self, request: Request) -> bytes:
        """End the session C{request} names."""
        if era2026Header(request) and header(request, "mcp-session-id") is None:
            return self._era2026NotAllowed(request)
        session = self._lookup.session(
            request, header(request, "mcp-protocol-version"), None, contextOf(request)
        )
        if isinstance(session, bytes):
            return session
        note = contextOf(request).auditNote
        if note is not None:
            note.method = "session/delete"
        # An unusable credential header is refused here as on every request
        # of the session; the values themselves are not compared (ending a
        # session needs no child, and a restored session's client may end
        # it without them).
        unusable = self._credentials.unusable(request)
        if unusable is not None:
            return self._refusals.refuse(request, 400, jsonrpc.INVALID_REQUEST, unusable)
        if note is not None:
            note.settle("ok")
        ended, pids = self._endSessions([session], "session deleted by the client")
        return jsonReply(request, 200, {"ended": {"sessions": ended, "childPids": pids}})
