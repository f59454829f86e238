"""The gateway's HTTP tree: guards, the MCP endpoints, and the management app.

L{GatewayRoot} checks C{Origin} and C{Host} on every request, hands
C{/<server>/mcp} to that server's L{McpEndpoint}, and everything else to the
Klein L{ManagementApp} (C{/health}, later C{/sessions} and C{/api/v1}).
L{makeSite} builds the C{Site} with a request class that caps body sizes.
"""

from __future__ import annotations

from typing import IO, Any

from klein import Klein
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web import http
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site
from werkzeug.exceptions import MethodNotAllowed, NotFound

from mcpgateway import jsonrpc, logs
from mcpgateway.service import Gateway
from mcpgateway.sessions import Session
from mcpgateway.web.guard import checkOrigin
from mcpgateway.web.mcp import McpEndpoint, errorReply, jsonReply
from mcpgateway.web.metrics import CONTENT_TYPE, renderMetrics

DEFAULT_MAX_BODY = 4 * 1024 * 1024


class ManagementApp:
    """Klein routes for everything that is not an MCP endpoint."""

    app = Klein()
    log = Logger(observer=logs.observer)

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    @app.route("/health", methods=["GET"])
    def health(self, request: IRequest) -> bytes:
        return jsonReply(request, 200, self._gateway.health())

    @app.route("/metrics", methods=["GET"])
    def metrics(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE)
        return renderMetrics(self._gateway)

    @app.route("/sessions", methods=["GET"])
    def sessions(self, request: IRequest) -> bytes:
        return jsonReply(request, 200, {"sessions": self._gateway.describeSessions()})

    @app.route("/sessions/by-pid/<pid>", methods=["DELETE"])
    def deleteByPid(self, request: IRequest, pid: str) -> bytes:
        if not (pid.isascii() and pid.isdigit()) or int(pid) <= 0:
            return jsonReply(request, 400, {"error": f"not a pid: {pid!r}"})
        sessions = self._gateway.sessions.ofPid(int(pid))
        if not sessions:
            return jsonReply(request, 404, {"error": f"no session belongs to pid {pid}"})
        return self._ended(request, sessions, f"ended by DELETE /sessions/by-pid/{pid}")

    @app.route("/sessions/<sessionId>", methods=["DELETE"])
    def deleteSession(self, request: IRequest, sessionId: str) -> bytes:
        session = self._gateway.sessions.get(sessionId)
        if session is None:
            return jsonReply(request, 404, {"error": "no such session"})
        return self._ended(request, [session], "ended by DELETE /sessions/<id>")

    def _ended(self, request: IRequest, sessions: list[Session], reason: str) -> bytes:
        ended, childPids = self._gateway.endSessions(sessions, reason)
        self.log.info("{reason}: {count} session(s), child pids {pids}", reason=reason,
                      count=len(ended), pids=childPids)
        return jsonReply(request, 200, {"ended": {"sessions": ended, "childPids": childPids}})

    @app.handle_errors(NotFound)
    def notFound(self, request: IRequest, failure: Any) -> bytes:
        return jsonReply(request, 404, {"error": "not found",
                                        "hint": "MCP endpoints are at /<server>/mcp;"
                                                " GET /health lists the servers"})

    @app.handle_errors(MethodNotAllowed)
    def notAllowed(self, request: IRequest, failure: Any) -> bytes:
        return jsonReply(request, 405, {"error": "method not allowed"})


class _Refused(Resource):
    isLeaf = True

    def __init__(self, status: int, text: str) -> None:
        super().__init__()
        self._status, self._text = status, text

    def render(self, request: IRequest) -> bytes:
        return errorReply(request, self._status, jsonrpc.INVALID_REQUEST, self._text)


class GatewayRoot(Resource):
    """Dispatches C{/<server>/mcp} to MCP endpoints, the rest to Klein."""

    def __init__(self, gateway: Gateway, clock: IReactorTime, loopbackOnly: bool,
                 api: IResource | None = None) -> None:
        super().__init__()
        self._api = api
        self._loopbackOnly = loopbackOnly
        self._gateway = gateway
        self._clock = clock
        self._endpoints: dict[str, McpEndpoint] = {}
        self._management: IResource = ManagementApp(gateway).app.resource()

    def _endpoint(self, name: str) -> McpEndpoint | None:
        """The endpoint of server C{name}; servers come and go on reload."""
        pool = self._gateway.pools.get(name)
        if pool is None:
            self._endpoints.pop(name, None)
            return None
        endpoint = self._endpoints.get(name)
        if endpoint is None or endpoint.pool is not pool:
            endpoint = self._endpoints[name] = McpEndpoint(self._gateway, name, self._clock)
        return endpoint

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:
        refusal = checkOrigin(request, self._loopbackOnly)
        if refusal is not None:
            return _Refused(*refusal)
        if request.postpath and request.postpath[0] == b"mcp":
            endpoint = self._endpoint(path.decode("utf-8", "replace"))
            if endpoint is not None:
                request.postpath.pop(0)
                request.prepath.append(b"mcp")
                return endpoint
            return _Refused(404, f"no server named {path.decode('utf-8', 'replace')!r}"
                                 " (GET /health lists the servers)")
        # Give Klein the whole path back: it routes from the root.
        request.postpath.insert(0, request.prepath.pop())
        if path == b"api" and self._api is not None:
            return self._api
        return self._management


class GatewayRequest(Request):
    """A request that stops storing its body past C{bodyLimit} bytes."""

    bodyLimit = DEFAULT_MAX_BODY
    defaultContentType = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Bodies are JSON-RPC, never HTML forms: skip Twisted's form parsing,
        # which runs every POST's Content-Type through the email package.
        kwargs.setdefault("parsePOSTFormSubmission", False)
        super().__init__(*args, **kwargs)
        self.bodyTooLarge = False
        self._bodyBytes = 0

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self.bodyLimit:
            self.bodyTooLarge = True
            length = 0
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.bodyTooLarge:
            return
        self._bodyBytes += len(data)
        if self._bodyBytes > self.bodyLimit:
            self.bodyTooLarge = True
            content: IO[bytes] | None = self.content
            if content is not None:
                content.seek(0)
                content.truncate()
            return
        super().handleContentChunk(data)


class GatewaySite(Site):
    """A C{Site} without the per-request access log (hot path; see /health)."""

    def log(self, request: http.Request) -> None:
        pass


def makeSite(gateway: Gateway, clock: IReactorTime, loopbackOnly: bool = True,
             maxBody: int = DEFAULT_MAX_BODY, api: IResource | None = None) -> Site:
    """The C{Site} serving the gateway."""
    class LimitedRequest(GatewayRequest):
        bodyLimit = maxBody

    site = GatewaySite(GatewayRoot(gateway, clock, loopbackOnly, api), reactor=clock)
    site.requestFactory = LimitedRequest
    site.displayTracebacks = False
    return site
