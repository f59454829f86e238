# -*- test-case-name: tests.web.admin.test_api,tests.web.admin.test_api_edit -*-
"""C{/api/v1}: the management API (Klein), over the L{ServerChanges} facade.

Every route answers JSON, except C{GET /api/v1/servers/<name>/logs}, which
is an SSE stream of the server's recent and live events (its children's
stderr and lifecycle). Before any route runs, L{ApiResource} refuses a
foreign C{Origin} (403), a non-loopback peer when no token is set (403), and,
when a token is set, a request without C{Authorization: Bearer <token>}
(401, no C{error}: RFC 6750 §3.1) or with another token (401
C{error="invalid_token"}, "the API token was refused"). The token of
C{--self-service}'s C{gateway} server is taken for the servers endpoints
only (list, read, add, remove, enable, disable; 403 elsewhere), on any
gateway. Every change, whoever makes it (an admin principal, the
C{--api-token}, the self-service server), is logged naming who made it
(an admin by its principal key) and, with an audit log (C{--audit-log}),
written to it as one record (L{mcpgateway.web.admin.changerecords}). Bodies must
be JSON objects sent as C{application/json}; every refusal
is C{{"error": message}} with the status of the L{ManagementError} (400
naming the field, 404 unknown server, 409 conflict). Neither a response nor
a log line shows an env value or the token.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from klein import Klein
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from mcpgateway.core.eventlog import Event, EventLog
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.httpbase.principal import Refusal
from mcpgateway.ops.management import ManagementError, ServerChanges
from mcpgateway.protocol import jsonrpc
from mcpgateway.report.health import healthBody
from mcpgateway.runtime import logs
from mcpgateway.runtime.addresses import isLoopbackHost
from mcpgateway.web.admin.approvalsapi import (
    HeldCallsOf,
    allowCall,
    approvalDetail,
    approvalsReport,
    denyCall,
)
from mcpgateway.web.admin.changerecords import ChangeRecords
from mcpgateway.web.admin.pinsapi import approvePins, forgetPins, pinsReport
from mcpgateway.web.admin.sandboxapi import SandboxLike, sandboxAnswer
from mcpgateway.web.endpoints.guard import checkOrigin, header
from mcpgateway.web.plumbing.replies import jsonReply
from mcpgateway.web.plumbing.requestcontext import contextOf
from mcpgateway.web.plumbing.sse import SSEStream

if TYPE_CHECKING:
    from mcpgateway.ops.audit import AuditSink  # loaded with --audit-log

PREFIX = "/api/v1"
RECENT_EVENTS = 100
"""How many recent events a log stream (or C{?follow=false}) starts with."""
MAX_LOG_STREAMS = 20
SWEEP_SECONDS = 1.0
"""How often open log streams look for their server having been reloaded."""
ROUTES_HINT = (
    "GET /api/v1/health, GET|POST /api/v1/servers, GET|PATCH|DELETE"
    " /api/v1/servers/<name>, POST /api/v1/servers/<name>/restart,"
    " POST /api/v1/servers/<name>/reset-circuit, POST /api/v1/servers/<name>/share,"
    " GET /api/v1/servers/<name>/logs, GET /api/v1/tools,"
    " GET /api/v1/catalog, POST /api/v1/catalog/refresh, GET /api/v1/pins[/<name>],"
    " POST /api/v1/pins/<name>/approve, POST /api/v1/pins/<name>/forget,"
    " GET /api/v1/sandbox, GET /api/v1/approvals[/<id>], POST /api/v1/approvals/<id>/allow,"
    " POST /api/v1/approvals/<id>/deny"
)
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class ApiApp:
    """The routes of C{/api/v1}; L{resource} is what the gateway mounts."""

    app = Klein()
    log = Logger(observer=logs.observer)

    def __init__(
        self,
        management: ServerChanges,
        gateway: Gateway,
        clock: IReactorTime,
        token: str | None,
        maxLogStreams: int = MAX_LOG_STREAMS,
        authLine: Callable[[], dict[str, Any]] | None = None,
        serversToken: str | None = None,
        audit: AuditSink | None = None,
        sandbox: SandboxLike | None = None,
        approvals: HeldCallsOf | None = None,
    ) -> None:
        """
        @param token: the bearer token every request must carry; C{None} (or
            empty) for none, in which case only loopback peers are served.
        @param maxLogStreams: how many log streams may be open at once, in total.
        @param authLine: the C{"auth"} object of the health body (see
            L{mcpgateway.web.teamcluster.TeamServices.authLine}; C{None}: no auth).
        @param serversToken: the token of C{--self-service}'s server, good
            for the servers endpoints only (C{None}: no such server).
        @param audit: where every change is recorded (C{None}: no audit log).
        @param sandbox: the gateway's sandbox, for C{GET /api/v1/sandbox}
            (L{mcpgateway.web.admin.sandboxapi}; C{None}: none is wired).
        @param approvals: gives the gateway's held calls, for
            C{/api/v1/approvals} (L{mcpgateway.web.admin.approvalsapi};
            C{None}: none are held).
        """
        self._authLine = authLine
        self._management = management
        self._gateway = gateway
        self._clock = clock
        self._token = token or None
        self._serversToken = serversToken or None
        self._changes = ChangeRecords(audit, clock, self._token is not None)
        self._sandbox = sandbox
        self._approvals = approvals
        self._maxLogStreams = maxLogStreams
        self.logStreams: set[SSEStream] = set()
        """The log streams open now."""
        self._followers: set[_LogFollower] = set()
        self._sweep: LoopingCall | None = None
        """Made with the first log stream: C{LoopingCall()} imports the global reactor."""

    def resource(self) -> IResource:
        """The resource to serve every path under C{/api/v1} (and C{/api}):
        it expects the whole path in C{request.postpath}, as Klein routes
        from the root."""
        return ApiResource(self.app.resource(), self._token, self._serversToken)

    # -- reading ---------------------------------------------------------------

    @app.route(PREFIX + "/health", methods=["GET"])
    def health(self, request: IRequest) -> bytes:
        auth = self._authLine() if self._authLine is not None else {"mode": "none"}
        return jsonReply(
            request,
            200,
            healthBody(
                self._gateway.readModel.status(rows=False),
                auth,
                aggregate=self._gateway.aggregateSide.status(),
                config=self._management.problems(),
            ),
        )

    @app.route(PREFIX + "/sandbox", methods=["GET"])
    def sandbox(self, request: IRequest) -> Deferred[bytes]:
        answering = sandboxAnswer(self._sandbox, os.getpid(), self._clock)
        return answering.addCallback(lambda body: jsonReply(request, 200, body))

    @app.route(PREFIX + "/servers", methods=["GET"])
    def listServers(self, request: IRequest) -> bytes:
        return jsonReply(request, 200, {"servers": self._management.servers()})

    @app.route(PREFIX + "/servers/<name>", methods=["GET"])
    def getServer(self, request: IRequest, name: str) -> bytes:
        return jsonReply(request, 200, self._management.server(name))

    @app.route(PREFIX + "/tools", methods=["GET"])
    def tools(self, request: IRequest) -> Deferred[bytes]:
        return self._management.tools().addCallback(
            lambda tools: jsonReply(request, 200, {"tools": tools})
        )

    @app.route(PREFIX + "/catalog", methods=["GET"])
    def catalog(self, request: IRequest) -> bytes:
        return jsonReply(request, 200, self._management.catalog())

    @app.route(PREFIX + "/catalog/refresh", methods=["POST"])
    def refreshCatalog(self, request: IRequest) -> Deferred[bytes]:
        body = _optionalJsonBody(request)

        def refreshed(result: dict[str, Any]) -> bytes:
            servers = result.get("servers", {})
            self.log.info(
                "api: catalogs refreshed ({count} server(s), {failed} failed)",
                count=len(servers),
                failed=sum(1 for line in servers.values() if line.get("error")),
            )
            return jsonReply(request, 200, result)

        return self._management.refreshCatalogs(body).addCallback(refreshed)

    @app.route(PREFIX + "/pins", methods=["GET"])
    def pins(self, request: IRequest) -> bytes:
        return jsonReply(request, 200, pinsReport(self._gateway))

    @app.route(PREFIX + "/pins/<name>", methods=["GET"])
    def serverPins(self, request: IRequest, name: str) -> bytes:
        return jsonReply(request, 200, pinsReport(self._gateway, name))

    @app.route(PREFIX + "/pins/<name>/approve", methods=["POST"])
    def approveTools(self, request: IRequest, name: str) -> Deferred[bytes]:
        def approve() -> bytes:
            body = _optionalJsonBody(request)
            approved = approvePins(self._gateway, name, body, self._changes.who(request))
            return jsonReply(request, 200, approved)

        return self._changes.run(request, "pins/approve", name, approve)

    @app.route(PREFIX + "/pins/<name>/forget", methods=["POST"])
    def forgetTools(self, request: IRequest, name: str) -> Deferred[bytes]:
        def forget() -> bytes:
            forgotten = forgetPins(self._gateway, name, self._changes.who(request))
            return jsonReply(request, 200, forgotten)

        return self._changes.run(request, "pins/forget", name, forget)

    @app.route(PREFIX + "/approvals", methods=["GET"])
    def approvals(self, request: IRequest) -> bytes:
        return jsonReply(request, 200, approvalsReport(self._approvals))

    @app.route(PREFIX + "/approvals/<callId>", methods=["GET"])
    def approval(self, request: IRequest, callId: str) -> bytes:
        return jsonReply(request, 200, approvalDetail(self._approvals, callId))

    @app.route(PREFIX + "/approvals/<callId>/allow", methods=["POST"])
    def allowHeld(self, request: IRequest, callId: str) -> bytes:
        return jsonReply(request, 200, allowCall(self._approvals, callId, self._decider(request)))

    @app.route(PREFIX + "/approvals/<callId>/deny", methods=["POST"])
    def denyHeld(self, request: IRequest, callId: str) -> bytes:
        body = _optionalJsonBody(request)
        decided = denyCall(self._approvals, callId, self._decider(request), body)
        return jsonReply(request, 200, decided)

    def _decider(self, request: IRequest) -> str:
        """Who decides a held call: the admin principal's key, else the
        holder of the C{--api-token}, else the gateway's owner."""
        context = contextOf(request)
        if context.adminPrincipal and context.principalKey:
            return context.principalKey
        return "api-token" if self._token is not None else "owner"

    @app.route(PREFIX + "/servers/<name>/logs", methods=["GET"])
    def serverLogs(self, request: Request, name: str) -> bytes | Deferred[None]:
        events = self._management.events(name)
        follow = _flag(request, "follow", True)
        if not follow or request.method == b"HEAD":  # HEAD: headers only, no open stream
            return jsonReply(request, 200, {"server": name, "events": events.recent(RECENT_EVENTS)})
        if len(self.logStreams) >= self._maxLogStreams:
            request.setHeader(b"retry-after", b"5")
            return jsonReply(
                request,
                503,
                {
                    "error": f"too many log streams: {self._maxLogStreams} are open, the most"
                    " the gateway serves at once; close one (or use ?follow=false)"
                },
            )
        return self._stream(request, name, events)

    def _stream(self, request: Request, name: str, events: EventLog) -> Deferred[None]:
        """Send the recent events, then the live ones, until either side ends.

        The Deferred is what Klein waits for: it fires once the response has
        finished (Klein then has nothing left to write)."""
        stream = SSEStream(request, self._clock)
        done: Deferred[None] = Deferred()
        request.notifyFinish().addBoth(lambda _: None if done.called else done.callback(None))
        for event in events.recent(RECENT_EVENTS):
            stream.send(event)
        follower = _LogFollower(self._gateway, name, stream)
        self.logStreams.add(stream)
        self._followers.add(follower)
        if self._sweep is None:
            self._sweep = LoopingCall(self._followServers)
            self._sweep.clock = self._clock
        sweep = self._sweep
        if not sweep.running:
            sweep.start(SWEEP_SECONDS, now=False)

        def closed() -> None:
            follower.stop()
            self.logStreams.discard(stream)
            self._followers.discard(follower)
            if not self._followers and sweep.running:
                sweep.stop()

        stream.onClose(closed)
        return done

    def _followServers(self) -> None:
        """Keep every log stream on its server's current pool (a reload may
        have replaced or removed it)."""
        for follower in list(self._followers):
            follower.check()

    # -- changing --------------------------------------------------------------

    @app.route(PREFIX + "/servers", methods=["POST"])
    def addServer(self, request: IRequest) -> Deferred[bytes]:
        body = _jsonBody(request)
        name = body.get("name") if isinstance(body, dict) else None

        def added(summary: dict[str, Any]) -> bytes:
            self.log.info(
                "api: server {server} added by {by}",
                server=summary.get("name"),
                **self._changes.who(request),
            )
            self._followServers()
            request.setHeader(b"location", f"{PREFIX}/servers/{summary.get('name')}".encode())
            return jsonReply(request, 201, summary)

        return self._changes.run(
            request, "servers/add", name, lambda: self._management.add(body).addCallback(added)
        )

    @app.route(PREFIX + "/servers/<name>", methods=["DELETE"])
    def removeServer(self, request: IRequest, name: str) -> Deferred[bytes]:
        def removed(result: dict[str, Any]) -> bytes:
            self.log.info(
                "api: server {server} removed by {by}", server=name, **self._changes.who(request)
            )
            self._followServers()
            return jsonReply(request, 200, result)

        given = request.args.get(b"workspace") if request.args else None
        workspace = given[0].decode("utf-8", "replace") if given else None
        return self._changes.run(
            request,
            "servers/remove",
            name,
            lambda: self._management.remove(name, workspace).addCallback(removed),
        )

    @app.route(PREFIX + "/servers/<name>", methods=["PATCH"])
    def patchServer(self, request: IRequest, name: str) -> Deferred[bytes]:
        def patch() -> Deferred[bytes]:
            self._management.pool(name)  # an unknown server is 404 before the body is read
            body = _jsonBody(request)

            def patched(summary: dict[str, Any]) -> bytes:
                # Field names only: env values never reach the log.
                self.log.info(
                    "api: server {server} changed ({fields}) by {by}",
                    server=name,
                    fields=", ".join(sorted(body)),
                    **self._changes.who(request),
                )
                self._followServers()
                return jsonReply(request, 200, summary)

            return self._management.patch(name, body).addCallback(patched)

        return self._changes.run(request, "servers/change", name, patch)

    @app.route(PREFIX + "/servers/<name>/restart", methods=["POST"])
    def restartServer(self, request: IRequest, name: str) -> Deferred[bytes]:
        def restarted(result: dict[str, Any]) -> bytes:
            self.log.info(
                "api: server {server} restarted (stopped pids {pids}) by {by}",
                server=name,
                pids=result.get("stopped"),
                **self._changes.who(request),
            )
            return jsonReply(request, 200, result)

        return self._changes.run(
            request,
            "servers/restart",
            name,
            lambda: self._management.restart(name).addCallback(restarted),
        )

    @app.route(PREFIX + "/servers/<name>/share", methods=["POST"])
    def shareServer(self, request: IRequest, name: str) -> Deferred[bytes]:
        def shared(result: dict[str, Any]) -> bytes:
            if result.get("promoted") is not None:
                self.log.info(
                    "api: server {server} made to share its children again by {by}",
                    server=name,
                    **self._changes.who(request),
                )
            return jsonReply(request, 200, result)

        return self._changes.run(
            request, "servers/share", name, lambda: self._management.share(name).addCallback(shared)
        )

    @app.route(PREFIX + "/servers/<name>/reset-circuit", methods=["POST"])
    def resetCircuit(self, request: IRequest, name: str) -> Deferred[bytes]:
        def reset(summary: dict[str, Any]) -> bytes:
            self.log.info(
                "api: circuit of server {server} reset by {by}",
                server=name,
                **self._changes.who(request),
            )
            return jsonReply(request, 200, summary)

        return self._changes.run(
            request,
            "servers/reset-circuit",
            name,
            lambda: self._management.resetCircuit(name).addCallback(reset),
        )

    # -- errors ----------------------------------------------------------------

    @app.handle_errors(ManagementError)
    def refused(self, request: IRequest, failure: Failure) -> bytes:
        error = failure.value
        assert isinstance(error, ManagementError)
        return jsonReply(request, error.status, {"error": str(error)})

    @app.handle_errors(NotFound)
    def notFound(self, request: IRequest, failure: Failure) -> bytes:
        return jsonReply(
            request,
            404,
            {"error": f"no such API endpoint: {_path(request)}", "routes": ROUTES_HINT},
        )

    @app.handle_errors(MethodNotAllowed)
    def notAllowed(self, request: IRequest, failure: Failure) -> bytes:
        allowed = sorted(getattr(failure.value, "valid_methods", None) or [])
        if allowed:
            request.setHeader(b"allow", ", ".join(allowed).encode("ascii"))
        method = request.method.decode("ascii", "replace")
        return jsonReply(
            request,
            405,
            {"error": f"method {method} is not allowed on {_path(request)}", "allowed": allowed},
        )

    @app.handle_errors(HTTPException)
    def httpError(self, request: IRequest, failure: Failure) -> bytes:
        error = failure.value
        assert isinstance(error, HTTPException)
        return jsonReply(request, error.code or 400, {"error": error.description or error.name})

    @app.handle_errors(Exception)
    def failed(self, request: IRequest, failure: Failure) -> bytes:
        self.log.failure(
            "api: {method} {path} failed",
            failure=failure,
            method=request.method.decode("ascii", "replace"),
            path=_path(request),
        )
        # The exception's type only: its text is for the log, not for callers.
        return jsonReply(
            request,
            500,
            {
                "error": "internal error in the gateway"
                f" ({type(failure.value).__name__}); see its log"
            },
        )


class _LogFollower:
    """Feeds one log stream the events of its server's current pool: a pool
    replaced by a reload is followed (with a C{reconfigured} event), a
    removed one ends the stream (with a C{removed} event)."""

    def __init__(self, gateway: Gateway, name: str, stream: SSEStream) -> None:
        self._gateway = gateway
        self._name = name
        self._stream = stream
        self._pool = gateway.pools[name]
        self._stop = self._pool.events.listen(self._deliver)

    def _deliver(self, event: Event) -> None:
        self._stream.send(event)

    def check(self) -> None:
        current = self._gateway.pools.get(self._name)
        if current is self._pool:
            return
        self._stop()
        now = self._gateway.clock.seconds()
        if current is None:
            self._stream.send(
                {"time": now, "kind": "removed", "text": f"server '{self._name}' was removed"}
            )
            self._stream.close()
            return
        self._pool = current
        self._stream.send(
            {
                "time": now,
                "kind": "reconfigured",
                "text": f"server '{self._name}' was reconfigured; following its new children",
            }
        )
        self._stop = current.events.listen(self._deliver)

    def stop(self) -> None:
        self._stop()


class ApiResource(Resource):
    """Refuses what must not reach a route (foreign origin, remote peer
    without a token, missing or wrong token), then hands the request to Klein."""

    isLeaf = True
    log = Logger(observer=logs.observer)

    def __init__(
        self, routes: IResource, token: str | None, serversToken: str | None = None
    ) -> None:
        super().__init__()
        self._routes = routes
        self._token = token.encode("utf-8") if token else None
        self._serversToken = serversToken.encode("utf-8") if serversToken else None

    @property
    def hasToken(self) -> bool:
        """Whether the API needs its bearer token (C{--api-token})."""
        return self._token is not None

    def tokenMatches(self, request: IRequest) -> bool:
        """Whether C{request} carries the C{--api-token} (what also shows it
        all of C{/health} and C{/metrics})."""
        return self._token is not None and self._authorized(request)

    def doorMatches(self, request: IRequest) -> bool:
        """Whether a team gateway's door lets C{request} in without an admin
        principal: the C{--api-token}, or the self-service server's token
        on the servers endpoints (the only ones it is good for)."""
        return self.tokenMatches(request) or (
            self._selfService(request) and _serversEndpoint(request)
        )

    def _selfService(self, request: IRequest) -> bool:
        """Whether C{request} carries the self-service server's token."""
        presented = _bearerOf(request)
        return (
            self._serversToken is not None
            and presented is not None
            and hmac.compare_digest(presented, self._serversToken)
        )

    def render(self, request: IRequest) -> Any:
        # GatewayRoot checks Origin and Host already; this keeps the API safe
        # wherever it is mounted.
        refusal = checkOrigin(request, loopbackOnly=False)
        if refusal is not None:
            return jsonReply(request, refusal[0], {"error": refusal[1]})
        if self._selfService(request):
            if not _serversEndpoint(request):
                return jsonReply(
                    request,
                    403,
                    {"error": "this token is good for the servers endpoints only"},
                )
            contextOf(request).selfService = True
            return self._routes.render(request)
        if contextOf(request).adminPrincipal:
            # A team gateway's door found an admin principal (see web/app.py).
            return self._routes.render(request)
        if self._token is None:
            if not _loopbackPeer(request):
                return jsonReply(
                    request,
                    403,
                    {
                        "error": "the management API answers loopback clients only; start the"
                        " gateway with --api-token to allow others"
                    },
                )
        elif not self._authorized(request):
            presented = _bearerOf(request) is not None
            self.log.warn(
                "api: refused {method} {path}: {why}",
                method=request.method.decode("ascii", "replace"),
                path=_path(request),
                why="a wrong bearer token" if presented else "no bearer token",
            )
            refused = WRONG_TOKEN if presented else NO_TOKEN
            from mcpgateway.auth.metadata import challenge  # a token refused

            request.setHeader(b"www-authenticate", challenge(refused, None))
            return jsonReply(request, 401, {"error": refused.description})
        return self._routes.render(request)

    def _authorized(self, request: IRequest) -> bool:
        assert self._token is not None
        credentials = _bearerOf(request)
        return credentials is not None and hmac.compare_digest(credentials, self._token)


NO_TOKEN = Refusal(
    401,
    None,
    "this gateway's management API needs Authorization: Bearer <token>"
    " (the CLI sends $MCPGATEWAY_API_TOKEN)",
)
"""No bearer token: no C{error} in the challenge (RFC 6750 §3.1)."""
WRONG_TOKEN = Refusal(
    401,
    "invalid_token",
    "the API token was refused: it is not this gateway's --api-token"
    " (the CLI sends $MCPGATEWAY_API_TOKEN)",
)
"""A bearer token that is not the C{--api-token}."""


def _bearerOf(request: IRequest) -> bytes | None:
    """The bearer credentials C{request} presents (C{None}: none, or another scheme)."""
    value = request.getHeader(b"authorization") or b""
    scheme, _, credentials = value.strip().partition(b" ")
    if scheme.lower() != b"bearer" or not credentials.strip():
        return None
    return credentials.strip()


_SERVERS_ENDPOINT = re.compile(rb"/api/v1/servers(/[^/]+)?")


def _serversEndpoint(request: IRequest) -> bool:
    """Whether C{request} lists, reads, adds, removes or changes a server
    (what the self-service server's token is good for)."""
    match = _SERVERS_ENDPOINT.fullmatch(request.path)
    if match is None:
        return False
    methods = (b"GET", b"DELETE", b"PATCH") if match.group(1) else (b"GET", b"POST")
    return request.method in methods


def _loopbackPeer(request: IRequest) -> bool:
    """Whether the client is on this machine (loopback TCP, or a Unix socket)."""
    peer = request.getClientAddress()
    if isinstance(peer, (IPv4Address, IPv6Address)):
        return isLoopbackHost(peer.host)
    return True


def _path(request: IRequest) -> str:
    path: bytes = request.path
    return path.decode("utf-8", "replace")


def _flag(request: IRequest, name: str, default: bool) -> bool:
    """A boolean query parameter (C{true}/C{false}, C{1}/C{0}, C{yes}/C{no})."""
    values = request.args.get(name.encode("ascii")) if request.args else None
    if not values:
        return default
    value = values[-1].decode("utf-8", "replace").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ManagementError(400, f"{name}: must be true or false, not {value!r}")


def _optionalJsonBody(request: IRequest) -> Any:
    """The request's JSON body, or C{None} when it has none."""
    content = request.content
    if content is not None and not getattr(request, "bodyTooLarge", False):
        data = content.read()
        content.seek(0)
        if not data.strip():
            return None
    return _jsonBody(request)


def _jsonBody(request: IRequest) -> Any:
    """The request's JSON body, or a L{ManagementError} saying what is wrong."""
    if getattr(request, "bodyTooLarge", False):
        limit = getattr(request, "bodyLimit", None)
        raise ManagementError(413, f"the body is over the {limit}-byte limit")
    contentType = (header(request, "content-type") or "").split(";", 1)[0].strip().lower()
    if contentType != "application/json" and not contentType.endswith("+json"):
        raise ManagementError(
            415, f"Content-Type must be application/json, not {contentType or 'missing'}"
        )
    data = request.content.read() if request.content is not None else b""
    if not data.strip():
        raise ManagementError(400, "the body is empty: send a JSON object")
    try:
        return jsonrpc.loads(data)
    except jsonrpc.ParseError as e:
        raise ManagementError(400, f"the body is not valid JSON: {e}") from None
