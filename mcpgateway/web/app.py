"""The gateway's HTTP tree: guards, the MCP endpoints, and the management apps.

L{GatewayRoot} checks C{Origin} and C{Host} on every request, hands
C{/<server>/mcp} to that server's L{McpEndpoint}, answers C{/health} itself,
and hands everything else to the Klein apps (C{/api/v1}, and
L{mcpgateway.web.admin.ManagementApp}), which are loaded on first use: a
gateway that only serves MCP traffic never imports Klein (about 5 MB).
L{makeSite} builds the C{Site} with a request class that caps body sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from twisted.internet.interfaces import IReactorTime
from twisted.web import http
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site

from mcpgateway import jsonrpc
from mcpgateway.service import Gateway
from mcpgateway.web.guard import checkOrigin
from mcpgateway.web.mcp import McpEndpoint, errorReply, jsonReply

ResourceFactory = Callable[[], IResource]

DEFAULT_MAX_BODY = 4 * 1024 * 1024


class _Refused(Resource):
    isLeaf = True

    def __init__(self, status: int, text: str) -> None:
        super().__init__()
        self._status, self._text = status, text

    def render(self, request: IRequest) -> bytes:
        return errorReply(request, self._status, jsonrpc.INVALID_REQUEST, self._text)


class _Health(Resource):
    """C{GET /health}: polled often (by C{mcpgateway start}, by monitors); no Klein."""

    isLeaf = True

    def __init__(self, gateway: Gateway) -> None:
        super().__init__()
        self._gateway = gateway

    def render_GET(self, request: IRequest) -> bytes:
        return jsonReply(request, 200, self._gateway.health())


def _managementResource(gateway: Gateway) -> IResource:
    from mcpgateway.web.admin import ManagementApp

    resource: IResource = ManagementApp(gateway).app.resource()
    return resource


class GatewayRoot(Resource):
    """Dispatches C{/<server>/mcp} to MCP endpoints, the rest to Klein."""

    def __init__(self, gateway: Gateway, clock: IReactorTime, loopbackOnly: bool,
                 api: ResourceFactory | None = None) -> None:
        super().__init__()
        self._apiFactory = api
        self._api: IResource | None = None
        self._loopbackOnly = loopbackOnly
        self._gateway = gateway
        self._clock = clock
        self._endpoints: dict[str, McpEndpoint] = {}
        self._health = _Health(gateway)
        self._management: IResource | None = None

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
        if path == b"health" and not request.postpath:
            return self._health
        # Give Klein the whole path back: it routes from the root.
        request.postpath.insert(0, request.prepath.pop())
        if path == b"api" and self._apiFactory is not None:
            if self._api is None:
                self._api = self._apiFactory()
            return self._api
        if self._management is None:
            self._management = _managementResource(self._gateway)
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
        self.onLost: Callable[[], object] | None = None
        """Called if the client goes away before the response is finished."""

    def connectionLost(self, reason: Any) -> None:
        onLost, self.onLost = self.onLost, None
        super().connectionLost(reason)
        if onLost is not None:
            onLost()

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
             maxBody: int = DEFAULT_MAX_BODY, api: ResourceFactory | None = None) -> Site:
    """The C{Site} serving the gateway."""
    class LimitedRequest(GatewayRequest):
        bodyLimit = maxBody

    site = GatewaySite(GatewayRoot(gateway, clock, loopbackOnly, api), reactor=clock)
    site.requestFactory = LimitedRequest
    site.displayTracebacks = False
    return site
