"""C{/<server>/mcp}: the MCP Streamable HTTP endpoint of one server.

POST carries client messages: C{initialize} opens a session, notifications
and responses are answered 202, requests the gateway can answer itself
(C{ping}) get JSON, and requests for the child get an SSE stream that carries
everything related to that request and closes after its response. GET opens
the session's standalone SSE stream; DELETE ends the session. A plain
C{twisted.web} resource: this is the hot path, kept free of routing overhead.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway import jsonrpc, logs, versions
from mcpgateway.jsonrpc import Kind, Message
from mcpgateway.pool import ServerPool, SessionGone
from mcpgateway.service import Gateway
from mcpgateway.sessions import Session
from mcpgateway.upstream import ServerUnavailable, Upstream
from mcpgateway.web.guard import checkGetHeaders, checkPostHeaders, header, isLoopbackHost
from mcpgateway.web.sse import SSEStream

_JSON = b"application/json"


def jsonReply(request: IRequest, status: int, message: Any) -> bytes:
    """Set C{status} and a JSON content type; return the encoded body."""
    request.setResponseCode(status)
    request.setHeader(b"content-type", _JSON)
    return jsonrpc.dumps(message)


def errorReply(request: IRequest, status: int, code: int, text: str,
               requestId: Any = None) -> bytes:
    """An HTTP error whose body is a JSON-RPC error."""
    return jsonReply(request, status, jsonrpc.errorResponse(requestId, code, text))


def accepted(request: IRequest) -> bytes:
    """202 with an empty body: for notifications and responses."""
    request.setResponseCode(202)
    return b""


class McpEndpoint(Resource):
    """The MCP endpoint of one configured server."""

    isLeaf = True
    log = Logger(observer=logs.observer)

    def __init__(self, gateway: Gateway, server: str, clock: IReactorTime) -> None:
        super().__init__()
        self._gateway = gateway
        self._server = server
        self.pool: ServerPool = gateway.pools[server]
        self._clock = clock

    def render(self, request: Request) -> bytes | int:
        if request.postpath:
            return errorReply(request, 404, jsonrpc.METHOD_NOT_FOUND, "no such endpoint")
        method = request.method
        if method == b"POST":
            return self._post(request)
        if method == b"GET":
            return self._get(request)
        if method == b"DELETE":
            return self._delete(request)
        request.setHeader("allow", "GET, POST, DELETE")
        return errorReply(request, 405, jsonrpc.INVALID_REQUEST,
                          f"method {method.decode('ascii', 'replace')} is not allowed")

    # -- POST ----------------------------------------------------------------

    def _post(self, request: Request) -> bytes | int:
        refusal = checkPostHeaders(request)
        if refusal is not None:
            return errorReply(request, refusal[0], jsonrpc.INVALID_REQUEST, refusal[1])
        limit = getattr(request, "bodyLimit", None)
        if getattr(request, "bodyTooLarge", False):
            return errorReply(request, 413, jsonrpc.INVALID_REQUEST,
                              f"request body is over the {limit}-byte limit")
        assert request.content is not None
        try:
            payload = jsonrpc.loads(request.content.read())
        except jsonrpc.ParseError as e:
            return errorReply(request, 400, jsonrpc.PARSE_ERROR, f"Parse error: {e}")
        version = header(request, "mcp-protocol-version")
        if version in versions.MODERN_VERSIONS or (
                isinstance(payload, dict) and versions.isModernRequest(payload)):
            return self._modern(request, payload)
        if isinstance(payload, list):
            return self._batch(request, payload, version)
        kind = jsonrpc.classify(payload)
        if kind is Kind.INVALID:
            return errorReply(request, 400, jsonrpc.INVALID_REQUEST,
                              "Invalid Request: not a JSON-RPC 2.0 message",
                              payload.get("id") if isinstance(payload, dict) else None)
        if kind is Kind.REQUEST and payload["method"] == "initialize":
            return self._initialize(request, payload)
        session = self._session(request, version)
        if isinstance(session, bytes):
            return session
        if kind is Kind.NOTIFICATION:
            self._notification(session, payload)
            return accepted(request)
        if kind is Kind.RESPONSE:
            self._response(session, payload)
            return accepted(request)
        if payload["method"] == "ping":
            return jsonReply(request, 200, jsonrpc.resultResponse(payload["id"], {}))
        return self._forward(request, session, [payload])

    def _modern(self, request: Request, payload: Any) -> bytes:
        requestId = payload.get("id") if isinstance(payload, dict) else None
        return errorReply(
            request, 404, jsonrpc.METHOD_NOT_FOUND,
            "this gateway speaks the initialize handshake (protocol 2025-11-25 and earlier);"
            " the 2026-07-28 protocol is not supported yet", requestId)

    def _initialize(self, request: Request, message: Message) -> int | bytes:
        params = message.get("params")
        if not isinstance(params, dict) or not isinstance(params.get("protocolVersion"), str):
            return errorReply(request, 400, jsonrpc.INVALID_PARAMS,
                              "initialize needs params.protocolVersion", message["id"])
        version = versions.negotiate(params["protocolVersion"])
        session, opened = self._gateway.openSession(
            self._server, message, version, clientPid=_headerPid(request),
            connection=_loopbackConnection(request))
        gone = _watchDisconnect(request)

        def answer(response: Message) -> None:
            if gone:
                return
            if "result" in response:
                request.setHeader(b"mcp-session-id", session.id.encode("ascii"))
            request.write(jsonReply(request, 200, response))
            request.finish()

        def failed(reason: Failure) -> None:
            if gone:
                return
            request.write(jsonReply(request, 200, self._errorFor(message["id"], reason)))
            request.finish()

        opened.addCallbacks(answer, failed)
        return NOT_DONE_YET

    def _batch(self, request: Request, batch: list[Any], version: str | None) -> bytes | int:
        if not batch:
            return errorReply(request, 400, jsonrpc.INVALID_REQUEST, "Invalid Request: empty batch")
        if any(isinstance(m, dict) and m.get("method") == "initialize" for m in batch):
            return errorReply(request, 400, jsonrpc.INVALID_REQUEST,
                              "Invalid Request: initialize must not be part of a batch")
        session = self._session(request, version)
        if isinstance(session, bytes):
            return session
        if session.protocolVersion != "2025-03-26":
            return errorReply(request, 400, jsonrpc.INVALID_REQUEST,
                              "Invalid Request: batches are only allowed in protocol 2025-03-26")
        requests: list[Message] = []
        for item in batch:
            kind = jsonrpc.classify(item)
            if kind is Kind.REQUEST:
                requests.append(item)
            elif kind is Kind.NOTIFICATION:
                self._notification(session, item)
            elif kind is Kind.RESPONSE:
                self._response(session, item)
            else:
                return errorReply(request, 400, jsonrpc.INVALID_REQUEST,
                                  "Invalid Request: a batch element is not a JSON-RPC message")
        if not requests:
            return accepted(request)
        return self._forward(request, session, requests)

    def _notification(self, session: Session, message: Message) -> None:
        upstream = self.pool.upstreamFor(session)
        if upstream is not None:
            upstream.router.clientNotification(session, message)

    def _response(self, session: Session, message: Message) -> None:
        upstream = self.pool.upstreamFor(session)
        if upstream is not None:
            upstream.router.clientResponse(session, message)

    def _forward(self, request: Request, session: Session, messages: list[Message]) -> int | bytes:
        upstream = self.pool.upstreamFor(session)
        if len(messages) == 1 and upstream is not None and upstream.state == "running" \
                and not self.pool.disabled:
            # The common case, without waiting on a ready() Deferred.
            message = messages[0]
            stream = SSEStream(request, self._clock, headersNow=False)
            upstream.router.request(session, message, stream.send).addCallbacks(
                stream.end, self._failedLast, errbackArgs=(message, stream))
            return NOT_DONE_YET
        try:
            ready = self.pool.ready(session)
        except SessionGone as e:
            self._gateway.endSession(session, str(e))
            return errorReply(request, 404, jsonrpc.INVALID_REQUEST, f"Session not found: {e}")
        stream = SSEStream(request, self._clock, headersNow=False)
        remaining = [len(messages)]

        def sent(_: object) -> None:
            remaining[0] -= 1
            if remaining[0] == 0:
                stream.close()

        for message in messages:
            one: Deferred[Any] = ready if len(messages) == 1 else self.pool.ready(session)
            one.addCallback(_request, session, message, stream)
            one.addCallbacks(stream.send, self._failed, errbackArgs=(message, stream))
            one.addBoth(sent)
        return NOT_DONE_YET

    def _failedLast(self, reason: Failure, message: Message, stream: SSEStream) -> None:
        if reason.check(CancelledError):
            stream.close()  # cancelled by the client or its session ending: no response
        else:
            stream.end(self._errorFor(message["id"], reason))

    def _failed(self, reason: Failure, message: Message, stream: SSEStream) -> None:
        if reason.check(CancelledError):
            return  # cancelled by the client or its session ending: no response
        stream.send(self._errorFor(message["id"], reason))

    def _errorFor(self, requestId: Any, reason: Failure) -> Message:
        if reason.check(ServerUnavailable, SessionGone):
            return jsonrpc.errorResponse(requestId, jsonrpc.SERVER_UNAVAILABLE,
                                         str(reason.value))
        self.log.failure("request to server {server} failed", failure=reason,
                         server=self._server)
        return jsonrpc.errorResponse(requestId, jsonrpc.INTERNAL_ERROR,
                                     f"gateway error: {reason.getErrorMessage()}")

    # -- GET and DELETE ------------------------------------------------------

    def _get(self, request: Request) -> bytes | int:
        refusal = checkGetHeaders(request)
        if refusal is not None:
            return errorReply(request, refusal[0], jsonrpc.INVALID_REQUEST, refusal[1])
        session = self._session(request, header(request, "mcp-protocol-version"))
        if isinstance(session, bytes):
            return session
        current = session.getStream
        if isinstance(current, SSEStream) and current.open:
            return errorReply(request, 409, jsonrpc.INVALID_REQUEST,
                              "Conflict: this session already has an open GET stream")
        stream = SSEStream(request, self._clock)
        session.getStream = stream

        def forget() -> None:
            if session.getStream is stream:
                session.getStream = None

        stream.onClose(forget)
        return NOT_DONE_YET

    def _delete(self, request: Request) -> bytes:
        session = self._session(request, header(request, "mcp-protocol-version"))
        if isinstance(session, bytes):
            return session
        upstream = self.pool.upstreamFor(session)
        pids = [upstream.pid] if self.pool.stateful and upstream and upstream.pid else []
        self._gateway.endSession(session, "session deleted by the client")
        return jsonReply(request, 200, {"ended": {"sessions": [session.id], "childPids": pids}})

    # -- sessions ------------------------------------------------------------

    def _session(self, request: Request, version: str | None) -> Session | bytes:
        """The request's session, or the error body to answer with."""
        if version is not None and version not in versions.HANDSHAKE_VERSIONS:
            return errorReply(request, 400, jsonrpc.INVALID_REQUEST,
                              f"Bad Request: unsupported MCP-Protocol-Version {version!r}")
        sessionId = header(request, "mcp-session-id")
        if sessionId is None:
            return errorReply(request, 400, jsonrpc.INVALID_REQUEST,
                              "Bad Request: Mcp-Session-Id header is required")
        session = self._gateway.sessions.get(sessionId)
        if session is None or session.server != self._server:
            return errorReply(request, 404, jsonrpc.INVALID_REQUEST, "Session not found")
        self._gateway.sessions.touch(session)
        return session


def _request(upstream: Upstream, session: Session, message: Message,
             stream: SSEStream) -> Deferred[Message]:
    return upstream.router.request(session, message, stream.send)


def _headerPid(request: Request) -> int | None:
    """The C{X-Client-Pid} header, when it is a plausible pid."""
    value = header(request, "x-client-pid")
    value = value.strip() if value is not None else ""
    if not (value.isascii() and value.isdigit()):
        return None
    pid = int(value)
    return pid if pid > 0 else None


def _loopbackConnection(request: Request) -> tuple[str, int, str, int] | None:
    """(peer host, peer port, local host, local port) of a loopback TCP request."""
    peer, local = request.getClientAddress(), request.getHost()
    tcp = (IPv4Address, IPv6Address)
    if isinstance(peer, tcp) and isinstance(local, tcp) and isLoopbackHost(peer.host):
        return peer.host, peer.port, local.host, local.port
    return None


def _watchDisconnect(request: Request) -> list[bool]:
    """A list that becomes truthy when the client goes away before the answer."""
    gone: list[bool] = []
    request.notifyFinish().addErrback(lambda _: gone.append(True))
    return gone
