# -*- test-case-name: tests.core.pools.test_gateway_era2026 -*-
"""How a pool serves MCP 2026-07-28 clients: its L{Era2026Side}.

Those clients have no session: a pool serves their requests on its shared
child (or the child of the request's route) through its
L{mcpgateway.core.era2026.mrtr.InputBridge}, and their listen streams as
L{mcpgateway.core.era2026.listen.Listener}s of that child's router. A pool
that cannot serve them says why (its C{era2026Refusal}): its answers
to them are then 404/-32601, so that clients fall back to C{initialize}.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, cast

from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.era2026.callers import RecentCallers
from mcpgateway.core.era2026.childtask import keepsTasks
from mcpgateway.core.era2026.listen import Listener, honour
from mcpgateway.core.era2026.mrtr import InputBridge
from mcpgateway.core.era2026.types import Era2026Request, ListenFilter, ListenHandle
from mcpgateway.core.exchange import Sink
from mcpgateway.core.pools.pool import NoSharedChild, UnknownRoute
from mcpgateway.core.router import Router
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.core.status import Era2026Stats
from mcpgateway.core.upstream import ServerUnavailable, Upstream
from mcpgateway.protocol import era2026form, jsonrpc
from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.core.era2026.child import Era2026ChildAdapter

__all__ = ["Era2026Children", "Era2026Side", "FromCatalog"]


class Era2026Children(Protocol):
    """What an L{Era2026Side} asks of its pool's placement: which child
    serves a request."""

    def era2026Upstream(self, request: Era2026Request) -> Deferred[Upstream]:
        """The running child that serves C{request}'s route (and
        credentials); fails with L{ServerUnavailable} or L{UnknownRoute}."""

    def era2026Router(self, scope: str) -> Router | None:
        """The router of route C{scope}'s child, when it has one (no start)."""


FromCatalog = Callable[
    [Era2026Request, Callable[[], Deferred[jsonrpc.Message]]], Deferred[jsonrpc.Message]
]
"""Answers a 2026 request from the server's saved catalog when it can,
else with what the callable given it serves (a shared pool's
L{CatalogStartup.serveEra2026<mcpgateway.core.pools.fromcatalog.CatalogStartup.serveEra2026>})."""


class Era2026Side:
    """The MCP 2026-07-28 side of a pool: its 2026 calls and listen
    streams, which its callers reach as the pool's C{era2026}
    (L{mcpgateway.core.pools.pool.Era2026Calls}).

    @ivar bridge: the 2026 calls on its children (their suspended rounds).
    @ivar requests: how many 2026 requests it was given.
    @ivar callers: who sent them lately, on the bridge's clock (the
        pool's): the clients without a session that its status counts.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        spec: Callable[[], ServerSpec],
        routes: Callable[[], Mapping[str, Variant]],
        refusal: Callable[[], str | None],
        children: Era2026Children,
        perLaunch: bool,
        bridge: InputBridge,
        fromCatalog: FromCatalog | None = None,
    ) -> None:
        """
        @param spec: the server as configured now.
        @param routes: the server's routes by key.
        @param refusal: why its pool does not serve 2026-07-28 clients, or
            C{None} (the pool's C{era2026Refusal}).
        @param children: which child serves a request (its pool's placement).
        @param perLaunch: whether its children are by launch spec (a keyed
            placement's), each route its own; else one child serves every route.
        @param fromCatalog: what answers C{server/discover} and the lists
            from the saved catalog while a shared child does not run
            (C{None}: every request goes to its child).
        """
        self._spec = spec
        self._routes = routes
        self._refusal = refusal
        self._childrenOf = children
        self._perLaunch = perLaunch
        self.bridge = bridge
        self._fromCatalog = fromCatalog
        self._listeners: set[Listener] = set()
        """The open listen streams on its children."""
        self.requests = 0
        self.callers = RecentCallers(bridge.clock)

    def cacheScope(self) -> str:
        """The C{cacheScope} of its cacheable results: C{private} when its
        children depend on the caller's credentials or identity, else
        C{public} (one route, one child, one list for everyone)."""
        spec = self._spec()
        return "private" if spec.credentialEnv or spec.perPrincipal else "public"

    def serve(self, request: Era2026Request, sink: Sink) -> Deferred[jsonrpc.Message]:
        """Serve one 2026 request (not a listen): fires with the finished
        answer (L{mcpgateway.core.pools.pool.Era2026Calls.serve}); a
        C{server/discover} or a list from the saved catalog when it can
        (C{fromCatalog}), else on its child."""
        self.callers.saw(request)
        fromCatalog = self._fromCatalog
        if fromCatalog is None:
            return self._onChild(request, sink)
        return fromCatalog(request, lambda: self._onChild(request, sink))

    def _onChild(self, request: Era2026Request, sink: Sink) -> Deferred[jsonrpc.Message]:
        """Serve C{request} on the child of its route."""
        self.requests += 1
        refusal = self._refusal()
        if refusal is not None:
            return succeed(
                jsonrpc.errorResponse(request.clientId, jsonrpc.METHOD_NOT_FOUND, refusal)
            )
        try:
            ready = self._childrenOf.era2026Upstream(self._routed(request))
        except Exception:
            ready = fail()
        served: Deferred[jsonrpc.Message] = ready.addCallback(self._serve, request, sink)
        return served.addErrback(self._failed, request)

    def _serve(
        self, upstream: Upstream, request: Era2026Request, sink: Sink
    ) -> Deferred[jsonrpc.Message]:
        initialize = upstream.initializeResult or {}
        scope = self.cacheScope()
        method = request.method
        if method == "server/discover":
            return succeed(
                jsonrpc.resultResponse(
                    request.clientId, era2026form.discoverResult(initialize, scope)
                )
            )
        served = method in era2026form.ERA2026_METHODS or method in era2026form.SKILLS_METHODS
        if not served or method == "subscriptions/listen":
            # Only the web's ladder brings requests here; nothing else reaches a child.
            return succeed(
                jsonrpc.errorResponse(
                    request.clientId, jsonrpc.METHOD_NOT_FOUND, f"Method not found: {method}"
                )
            )
        lacking = _lacking(method, initialize.get("capabilities"))
        if lacking is not None:
            return succeed(
                jsonrpc.errorResponse(
                    request.clientId,
                    jsonrpc.METHOD_NOT_FOUND,
                    f"Method not found: {method} (server '{self._spec().name}' does not declare"
                    f" the {lacking} capability)",
                )
            )
        info = initialize.get("serverInfo")
        serverInfo = info if isinstance(info, dict) else None
        if upstream.adapter is not None:  # the child speaks 2026-07-28 itself: passed through
            # the pools' upstreams make their adapters with ERA2026_SUPPORT
            adapter = cast("Era2026ChildAdapter", upstream.adapter)
            return adapter.serveEra2026(request, sink, serverInfo, scope)
        if keepsTasks(request, initialize, upstream.router):
            request = replace(request, childTask=True)
        answered = self.bridge.call(upstream.router, request, sink)
        return answered.addCallback(
            lambda response: era2026form.era2026Answer(method, response, serverInfo, scope)
        )

    def _failed(self, reason: Failure, request: Era2026Request) -> jsonrpc.Message:
        if reason.check(CancelledError):
            reason.raiseException()  # the client went away: nobody to answer
        if reason.check(ServerUnavailable, UnknownRoute, NoSharedChild):
            return jsonrpc.errorResponse(
                request.clientId, jsonrpc.SERVER_UNAVAILABLE, str(reason.value)
            )
        self.log.failure(
            "server {server}: serving a 2026 {method} failed",
            failure=reason,
            server=self._spec().name,
            method=logs.clientText(request.method),
        )
        return jsonrpc.errorResponse(
            request.clientId, jsonrpc.INTERNAL_ERROR, "the gateway failed to serve this request"
        )

    def listen(
        self, request: Era2026Request, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        """Open a listen stream on the child of C{request}'s route; fails
        with L{ServerUnavailable} when it cannot run."""
        self.callers.saw(request)
        refusal = self._refusal()
        if refusal is not None:
            return fail(ServerUnavailable(refusal))

        def opened(upstream: Upstream) -> ListenHandle:
            initialize = upstream.initializeResult or {}
            capabilities = initialize.get("capabilities")
            listener = Listener(
                upstream.router,
                honour(wanted, capabilities if isinstance(capabilities, dict) else {}),
                sink,
                request.scope,
                self._listeners.discard,
            )
            self._listeners.add(listener)
            listener.start()
            return listener

        try:
            ready = self._childrenOf.era2026Upstream(self._routed(request))
        except Exception:
            ready = fail()
        return ready.addCallback(opened)

    def _routed(self, request: Era2026Request) -> Era2026Request:
        """C{request} as its route's child serves it: on a pool with one
        child for all its routes (C{perLaunch} false), a workspace route
        that is the user's entry is the key-less route."""
        routes = self._routes()
        if request.scope and not self._perLaunch and request.scope in routes:
            return replace(request, scope="")
        return request

    def paramHeaders(self, scope: str, tool: str) -> dict[str, str] | None:
        """The C{Mcp-Param-*} map of C{tool} on route C{scope}'s child, from
        its last C{tools/list} (C{None}: not known)."""
        children = self._childrenOf
        if scope and not self._perLaunch and scope in self._routes():
            scope = ""
        router = children.era2026Router(scope)
        if router is None:
            return None
        known = router.toolHeaders.get(tool)
        return None if known is None else dict(known)

    def toolTaskSupport(self, request: Era2026Request, tool: str) -> Deferred[str | None]:
        """What the child of C{request}'s route says of C{tool}'s task
        support (C{execution.taskSupport}; C{None}: nothing), from its last
        C{tools/list}, which is asked for first when the child has not
        answered one yet."""
        routed = self._routed(request)
        children = self._childrenOf

        def known() -> str | None:
            router = children.era2026Router(routed.scope)
            return None if router is None else router.toolTasks.get(tool)

        router = children.era2026Router(routed.scope)
        if router is not None and router.toolsListed:
            return succeed(known())
        listing = replace(
            routed,
            clientId="mcpgateway-tools-list",
            method="tools/list",
            params={},
            inputResponses=None,
            requestState=None,
        )
        return self._onChild(listing, lambda _: False).addCallback(lambda _: known())

    def answeredElsewhere(self) -> None:
        """A 2026 request was answered without its child (from a saved catalog)."""
        self.requests += 1

    def stats(self) -> Era2026Stats:
        """The counters of its 2026 traffic."""
        bridge = self.bridge
        return Era2026Stats(
            requests=self.requests,
            inputRounds=bridge.inputRounds,
            inputExpired=bridge.inputExpired,
            badRequestStates=bridge.badRequestStates,
            refusedServerRequests=bridge.refusedServerRequests,
            listenStreams=len(self._listeners),
            suspendedCalls=bridge.suspended(),
            clients=self.callers.recent(),
        )

    def end(self, reason: str) -> None:
        """End the suspended 2026 calls and the listen streams."""
        self.bridge.stopAll(reason)
        for listener in list(self._listeners):
            listener.end(reason)


_CAPABILITY_OF = {
    "tools/list": "tools",
    "tools/call": "tools",
    "prompts/list": "prompts",
    "prompts/get": "prompts",
    "resources/list": "resources",
    "resources/templates/list": "resources",
    "resources/read": "resources",
    "completion/complete": "completions",
}


def _lacking(method: str, capabilities: Any) -> str | None:
    """The server capability C{method} needs that the child did not declare
    (a Skills request: the extension)."""
    skills = era2026form.skillsRefusal(method, capabilities)
    if skills is not None:
        return skills
    needed = _CAPABILITY_OF.get(method)
    if needed is None:
        return None
    if isinstance(capabilities, dict) and isinstance(capabilities.get(needed), dict):
        return None
    return needed
