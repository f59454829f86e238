# -*- test-case-name: tests.web.endpoints.test_mcp,tests.web.endpoints.test_cluster_web,tests.web.endpoints.test_stopping -*-
"""Which session a request to the MCP endpoint names, if it may use it.

One job: the C{Mcp-Session-Id} of a POST, GET or DELETE, looked up. A
session of another route (another workspace) or another principal is not
found, the same answer as an unknown id (no oracle). An id this process
does not know may be a session opened by a restart's predecessor in its
last moments (L{AfterPredecessor}: the request is rendered again once the
predecessor exited), or, in a cluster, another replica's (L{ForwardTo}) or
one served here from its sealed facts. Once the gateway's stop has begun,
a request naming a session is answered 503 before it is looked up.
"""

from __future__ import annotations

from typing import Any

from twisted.web.server import Request

from mcpgateway.cluster.routing import Forward, Local
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc, versions
from mcpgateway.web.endpoints.backends import (
    AfterPredecessor,
    Backend,
    Cluster,
    ForwardTo,
    PoolBackend,
    principalOf,
)
from mcpgateway.web.endpoints.guard import header
from mcpgateway.web.endpoints.refusals import Refusals
from mcpgateway.web.endpoints.requestfacts import (
    loopbackConnection,
    refusalId,
    shortName,
    unsupportedVersion,
)
from mcpgateway.web.plumbing.requestcontext import ANONYMOUS_KEY, RequestContext, contextOf

STOPPING = (
    "Service Unavailable: the gateway is stopping; retry the request (the session"
    " is kept and goes on once the gateway runs again)"
)
"""The error of a session request that comes once the gateway's stop has begun."""
STOPPING_RETRY_AFTER = b"2"
"""Its C{Retry-After}, in seconds."""


class SessionLookup:
    """The sessions of one MCP endpoint (one server, one route)."""

    def __init__(
        self,
        gateway: Gateway,
        server: str,
        scope: str,
        backend: Backend,
        refusals: Refusals,
        cluster: Cluster | None = None,
    ) -> None:
        """
        @param backend: what serves the endpoint's sessions (each request
            found is bound to it).
        @param cluster: where unknown session ids go (C{None}: not
            clustered, they are not found).
        """
        self._gateway = gateway
        self._server = server
        self._scope = scope
        self._backend = backend
        self._refusals = refusals
        self._cluster = cluster
        self._binds = not isinstance(backend, PoolBackend)
        """Whether a session found is bound to the request (a pool's
        session serves the server the door let through: nothing to bind)."""

    def session(
        self,
        request: Request,
        version: str | None,
        payload: Any = None,
        context: RequestContext | None = None,
    ) -> Session | bytes:
        """The request's session, or the error body to answer with.
        C{payload}: the POSTed body, when it was read (a refusal carries its
        id; C{null} for a batch, a GET or a DELETE). C{context}: the
        request's context when the caller holds it (C{None}: no door ran,
        an anonymous request with nothing to note, as on a laptop).

        @raise AfterPredecessor: the id may be a restart's predecessor's session.
        @raise ForwardTo: the id is another replica's session.
        """
        sessionId = header(request, "mcp-session-id")
        gateway = self._gateway
        if gateway.shutdown.begun and sessionId is not None:
            return self._stopping(request, payload)
        if version is not None and version not in versions.HANDSHAKE_VERSIONS:
            return self._refusals.refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                unsupportedVersion(version),
                refusalId(payload),
            )
        if sessionId is None:
            return self._refusals.refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                "Bad Request: Mcp-Session-Id header is required",
                refusalId(payload),
            )
        session = gateway.sessions.get(sessionId)
        if session is None:
            # Another replica's session is forwarded at once, even during a
            # restart: only this replica's own could be the predecessor's.
            elsewhere = self._cluster is not None and self._cluster.ownedElsewhere(
                sessionId, self._server, self._scope, principalOf(request)
            )
            waiting = None if elsewhere else gateway.continuity.waitFor(sessionId)
            if waiting is not None:
                # Opened on the process this one took over from, in its last
                # moments: known once it has exited (see Gateway).
                raise AfterPredecessor(waiting, refusalId(payload))
            if self._cluster is not None:
                session = self._clustered(self._cluster, request, sessionId)
        if (
            session is None
            or session.server != self._server
            or session.scope != self._scope
            or session.principal != (ANONYMOUS_KEY if context is None else context.principalKey)
        ):
            # A session of another route (another workspace), or another
            # principal's: not found here (the same answer: no oracle).
            return self._refusals.refuse(
                request, 404, jsonrpc.INVALID_REQUEST, "Session not found", refusalId(payload)
            )
        gateway.sessions.touch(session)
        if session.clientPid is None and gateway.opener.looksForOwners:
            gateway.lookForOwner(session, loopbackConnection(request))
        if self._binds:
            self._backend.bind(session, request)
        note = None if context is None else context.auditNote
        if note is not None:
            note.session = shortName(session)
        return session

    def _stopping(self, request: Request, payload: Any) -> bytes:
        """A session request once the gateway's stop has begun: not looked
        up (the session is being saved, and goes on in the next gateway
        process: a 404 would tell its client it is gone for good), but 503
        with C{Retry-After}, on a connection that then closes, so the retry
        does not come back to this process. Requests already in flight are
        not concerned: they drain (L{Gateway.stop})."""
        request.setHeader(b"retry-after", STOPPING_RETRY_AFTER)
        if request.clientproto.startswith(b"HTTP/1"):
            # HTTP/1 only: HTTP/2 forbids the header (and has no keep-alive).
            request.setHeader(b"connection", b"close")
            channel = getattr(request, "channel", None)
            if channel is not None:
                channel.persistent = False  # what Twisted's channel reads when the response is done
        return self._refusals.refuse(
            request, 503, jsonrpc.SERVER_UNAVAILABLE, STOPPING, refusalId(payload)
        )

    def _clustered(self, cluster: Cluster, request: Request, sessionId: str) -> Session | None:
        """The session a sealed id names, when it is served here; raises
        L{ForwardTo} when its owner is another replica that answers."""
        context = contextOf(request)
        fromPeer, failed = context.fromPeer, context.forwardFailed
        where = cluster.resolve(
            sessionId, self._server, self._scope, principalOf(request), fromPeer or failed
        )
        if isinstance(where, Forward):
            raise ForwardTo(where.owner)
        if isinstance(where, Local):
            return where.session
        return None
