# -*- test-case-name: tests.web.test_awaited_route -*-
"""A request for a route the gateway does not serve yet, while a reload is
under way.

A reload of the config can rewrite a client's file (adopting a server
added to it) before the gateway serves the route the file now names
(L{mcpgateway.config.underway}); a client that watches its file connects
at once. L{AwaitedRoute} holds such a request until the reload is served,
then looks its route up again: the route found is rendered as if it had
been there from the start; a route still unknown gets the 404 it would
have had. It waits at most L{ROUTE_WAIT} seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request

from mcpgateway.runtime import logs
from mcpgateway.web.endpoints.requestreading import watchDisconnect

ROUTE_WAIT = 30.0
"""Seconds a request waits for a reload under way before its route is
looked up again (a reload takes well under a second; one stuck on a slow
disk does not hold requests for longer)."""

_log = Logger(observer=logs.observer, namespace="mcpgateway.web")


class AwaitedRoute(Resource):
    """Renders a request once C{settled} fires (or after L{ROUTE_WAIT}
    seconds), with the resource C{lookUp} gives then, found along the rest
    of the request's path as the site finds one."""

    isLeaf = True

    def __init__(
        self,
        settled: Deferred[None],
        lookUp: Callable[[], IResource],
        clock: IReactorTime,
    ) -> None:
        """
        @param settled: fires once the reload under way is served.
        @param lookUp: the route's resource as the root finds it now, for a
            request whose C{prepath} and C{postpath} are as they were when
            it was first looked up (it is called once, and never waits).
        """
        super().__init__()
        self._settled = settled
        self._lookUp = lookUp
        self._clock = clock

    def render(self, request: Request) -> int:
        gone = watchDisconnect(request)

        def again(_: object) -> None:
            if gone or request.finished:
                return
            try:
                found = self._lookUp()
                prepath = request.prepath
                assert prepath is not None  # set once the request was read
                while request.postpath and not found.isLeaf:
                    element = request.postpath.pop(0)
                    prepath.append(element)
                    found = found.getChildWithDefault(element, request)
                request.render(found)
            except Exception:
                request.processingFailed(Failure())

        settled = self._settled
        settled.addTimeout(ROUTE_WAIT, self._clock, onTimeoutCancel=lambda *_: None)
        settled.addCallback(again)
        settled.addErrback(lambda f: _log.failure("answering a request after a reload failed", f))
        return NOT_DONE_YET
