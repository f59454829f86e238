# -*- test-case-name: tests.web.test_mcp -*-
"""How the MCP endpoint opens a session.

An C{initialize} is admitted (the session limits, a principal's quota),
its credential headers read and checked against the entry's
C{credentialEnv}, and the session opened on the backend; a 2026-07-28
request's credentials are read the same way. L{EndpointOpening} is a part
of L{mcpgateway.web.mcp.McpEndpoint}: the attributes and methods it
declares without defining are the endpoint's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core import tracing
from mcpgateway.core.gateway import Gateway
from mcpgateway.core.pools.pool import UnknownRoute
from mcpgateway.core.sessions import Session, shortId
from mcpgateway.protocol import envelope, jsonrpc, versions
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.protocol.limits import Limits
from mcpgateway.web.era2026 import principalKey
from mcpgateway.web.guard import (
    header,
)

if TYPE_CHECKING:
    pass  # cryptography: clustered gateways only
from mcpgateway.web.auditnote import auditNote, requestCount
from mcpgateway.web.backends import (
    Backend,
    Quota,
)
from mcpgateway.web.credentials import (
    BadCredential,
    Credentials,
    ignoredCredentialHeaders,
    readCredentials,
)
from mcpgateway.web.replies import ClientErrors, errorReply, jsonReply, validIdOrNull
from mcpgateway.web.requestfacts import (
    headerPid,
    loopbackConnection,
    shortName,
    watchDisconnect,
)

SESSION_RETRY_AFTER = 30
"""The C{Retry-After}, in seconds, of an C{initialize} refused for want of
room (the caller's sessions are all in use)."""


class EndpointOpening:
    """Admitting an C{initialize}, and reading credential headers."""

    _clock: IReactorTime
    _errorFor: Callable[..., Message]
    _forCaller: Callable[..., Message]
    _gateway: Gateway
    _ignoredNames: set[str]
    _keys: WorkspaceKeys | None
    _limits: Limits
    _measured: Callable[..., Any]
    _quota: Quota | None
    _refuse: Callable[..., bytes]
    _scope: str
    _server: str
    _throttled: Callable[[], object] | None
    backend: Backend
    clientErrors: ClientErrors
    ignoredCredentialHeaders: int
    log: Logger

    def _admit(self, request: Request, payload: Any) -> bytes | None:
        """Count the requests of C{payload} against the principal's limits:
        C{None} when admitted (released when the HTTP request ends), else
        the 429 to answer (C{Retry-After}, a JSON-RPC -32004 body)."""
        assert self._quota is not None
        count = requestCount(payload)
        if not count or getattr(request, "quotaHeld", False):
            return None  # nothing to count, or counted before (rendered again)
        if getattr(request, "fromPeer", False):
            return None  # counted by the replica the client sent it to
        key = principalKey(request)
        retryAfter = self._quota.admit(key, count)
        if retryAfter is None:
            quota = self._quota
            request.quotaHeld = True  # type: ignore[attr-defined]
            request.notifyFinish().addBoth(lambda _: quota.release(key, count))
            return None
        if self._throttled is not None:
            self._throttled()
        seconds = max(1, math.ceil(retryAfter))
        request.setHeader(b"retry-after", str(seconds).encode("ascii"))
        requestId = validIdOrNull(payload.get("id")) if isinstance(payload, dict) else None
        note = auditNote(request)
        if note is not None:
            note.settle("refused", jsonrpc.TOO_MANY_REQUESTS)
            claimed = header(request, "mcp-session-id")
            if claimed:  # refused before the session is looked up: named as claimed
                note.session = shortId(claimed)
        self.clientErrors.note(request, 429, "over the principal's request limits")
        return errorReply(
            request,
            429,
            jsonrpc.TOO_MANY_REQUESTS,
            f"too many requests: over this caller's limits; retry in {seconds} s",
            requestId,
        )

    def _noRoom(self, caller: str, limit: int, own: int) -> str:
        """Whose sessions fill which limit, for an C{initialize} refused."""
        opened = self._gateway.liveSessionsOf(caller)
        if not caller:
            return f"the gateway has {opened} sessions open, its limit"
        if opened >= own:
            return f"this caller has {opened} sessions open, its limit of {own} per caller"
        return f"the gateway has {limit} sessions open, its limit, {opened} of them this caller's"

    def _initialize(self, request: Request, message: Message) -> int | bytes:
        problem = envelope.checkRequest(message)
        if problem is None:
            problem = envelope.sessionInfoProblem(message["params"], self._limits.maxSessionInfo)
        if problem is not None:
            return self._refuse(request, 400, *problem, message["id"])
        limit, own = self._limits.maxSessions, self._limits.maxSessionsPerPrincipal
        caller = principalKey(request)
        if not self._gateway.makeRoom(limit, caller, own):  # else the caller's idlest ends
            request.setHeader(b"Retry-After", str(SESSION_RETRY_AFTER).encode("ascii"))
            return self._refuse(
                request,
                503,
                jsonrpc.SERVER_UNAVAILABLE,
                f"{self._noRoom(caller, limit, own)}, each with a GET stream or a request in"
                " flight: end one (DELETE), or initialize again later",
                message["id"],
            )
        params = message["params"]
        version = versions.negotiate(params["protocolVersion"])
        try:
            credentialKey, credentials = self._credentialsOf(request)
        except BadCredential as e:
            return self._refuse(request, 400, jsonrpc.INVALID_REQUEST, str(e), message["id"])
        started = self._clock.seconds()
        active = tracing.tracer
        span: tracing.Span | None = None
        if active is not None:
            span, message = tracing.startServer(
                active, message, None, version, header(request, "traceparent")
            )
            span.setAttribute("mcpgateway.server", self._server)
        try:
            session, opened = self.backend.open(
                request,
                message,
                version,
                clientPid=headerPid(request) if not principalKey(request) else None,
                connection=loopbackConnection(request),
                scope=self._scope,
                credentialKey=credentialKey,
                credentials=credentials,
                principal=principalKey(request),
            )
        except UnknownRoute as e:
            # The route went away between routing and here (a reload).
            if span is not None:
                tracing.finish(span, "error")
            return self._refuse(
                request, 404, jsonrpc.INVALID_REQUEST, f"no route: {e}", message["id"]
            )
        gone = watchDisconnect(request)
        note = auditNote(request)
        if note is not None:
            opened.addCallback(note.opened, shortName(session))
            opened.addCallbacks(note.answered, note.failed)
        if span is not None:
            span.setAttribute("mcp.session.id", shortName(session))
        opened.addBoth(self._measured, "initialize", started, span)

        def answer(response: Message) -> None:
            if gone:
                return
            if "result" in response:
                request.setHeader(b"mcp-session-id", session.id.encode("ascii"))
            request.write(jsonReply(request, 200, self._forCaller(response, request)))
            request.finish()

        def failed(reason: Failure) -> None:
            if gone:
                return
            request.write(jsonReply(request, 200, self._errorFor(message["id"], reason, request)))
            request.finish()

        opened.addCallbacks(answer, failed)
        return NOT_DONE_YET

    def _era2026Credentials(self, request: Request) -> tuple[str, Credentials] | str:
        """L{_credentialsOf} for a modern request: why they cannot be used,
        as text, instead of raising."""
        try:
            return self._credentialsOf(request)
        except BadCredential as e:
            return str(e)

    def _credentialsOf(self, request: Request) -> tuple[str, Credentials]:
        """The credential key and values the request's C{X-Mcp-Env-*}
        headers give (C{("", ())} for none, or for a server without
        C{credentialEnv}); other such headers are counted and their names
        logged once.

        @raise BadCredential: see L{readCredentials}.
        """
        names = self.backend.credentialEnv
        if not names:
            self._ignored(ignoredCredentialHeaders(request, ()))
            return "", ()
        self._ignored(ignoredCredentialHeaders(request, names))
        values = readCredentials(request, names)
        if not values:
            return "", ()
        if self._keys is None:
            raise BadCredential("this endpoint takes no credential headers")
        return self._keys.credential(dict(values)), values

    def _ignored(self, names: list[str]) -> None:
        if not names:
            return
        self.ignoredCredentialHeaders += len(names)
        new = sorted(set(names) - self._ignoredNames)
        if new and len(self._ignoredNames) < 64:
            self._ignoredNames.update(new)
            self.log.warn(
                "server {server}: ignored the header(s) {names}: its entry does not list"
                ' them in "credentialEnv", so they never reach its children',
                server=self._server,
                names=", ".join(f"X-Mcp-Env-{name}" for name in new),
            )

    def _credentialProblem(self, request: Request, session: Session) -> tuple[int, str] | None:
        """Why the request's credential headers do not fit C{session} (the
        JSON-RPC code and text), or C{None}. A header that cannot be used
        (L{BadCredential}: repeated, too long, not UTF-8) is C{-32600}, as on
        C{initialize}, and always HTTP 400; values that are not the
        session's are C{-32602}, in-band for a request. A session restored
        from a previous process (its values are never saved) is bound again
        to the values it gives."""
        if not self.backend.credentialEnv:
            return None
        try:
            credentialKey, credentials = self._credentialsOf(request)
        except BadCredential as e:
            return jsonrpc.INVALID_REQUEST, str(e)
        if session.variant is None and session.credential:
            if not credentials:
                return jsonrpc.INVALID_PARAMS, (
                    "this session's credentials are not known to this gateway process (it"
                    " restarted): send its X-Mcp-Env-* headers again, or initialize again"
                )
            if self._gateway.rebind(session, credentialKey, credentials):
                return None
        elif not credentials or credentialKey == session.credential:
            return None
        return (
            jsonrpc.INVALID_PARAMS,
            "credentials differ from this session's; initialize again to use them",
        )
