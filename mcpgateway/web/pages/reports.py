# -*- test-case-name: tests.web.admin.test_sessions_api,tests.report.test_metrics -*-
"""The gateway's reports, and the answer to a path it does not serve.

C{GET /sessions} and C{GET /metrics} are what C{mcpgateway status} and a
Prometheus scrape read, often: they are a plain C{twisted.web} resource, so
reading them never loads Klein and werkzeug (about 5 MiB the gateway would
keep for the rest of its life). This resource also holds the route table of
C{/sessions/*}: a session DELETE goes on to the Klein routes of
L{mcpgateway.web.admin.sessionends}, made on the first one; any other method there
is 405 here. Every answer is JSON (C{/metrics}: Prometheus text): an unknown
path is 404 with a hint, a known path with another method 405 (with
C{Allow}), and a defect of the gateway 500, its traceback in the log only.

Mounted by L{mcpgateway.web.root.GatewayRoot} on the first request it does
not answer itself; the request's C{postpath} is the whole path.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.report.health import sessionsBody, visitingSessions
from mcpgateway.report.metrics import (
    CONTENT_TYPE,
    renderCluster,
    renderDoor,
    renderMetrics,
    renderTeam,
)
from mcpgateway.runtime import logs
from mcpgateway.web.plumbing.replies import jsonReply

if TYPE_CHECKING:
    from mcpgateway.httpbase.door import Door
    from mcpgateway.web.teamcluster import TeamServices

NOT_FOUND = {
    "error": "not found",
    "hint": "MCP endpoints are at /<server>/mcp; GET /health lists the servers",
}
"""The answer to a path the gateway does not serve."""

Handler = Callable[[IRequest], bytes | int]

_ESCAPED = {ord("%"): "%25", ord("/"): "%2F"}
"""What a segment handed to Klein escapes, so that werkzeug sees it as one
segment, as it came (L{sessionEndPath})."""


class ReportsResource(Resource):
    """C{GET /metrics}, C{GET /sessions}, the route table of C{DELETE
    /sessions/<id>} and C{DELETE /sessions/by-pid/<pid>} (answered by the
    Klein routes C{sessionEnds} makes), and 404 for the rest."""

    isLeaf = True
    log = Logger(observer=logs.observer)

    def __init__(
        self,
        gateway: Gateway,
        sessionEnds: Callable[[], IResource],
        team: TeamServices | None = None,
        door: Door | None = None,
    ) -> None:
        """
        @param sessionEnds: the resource of the session DELETEs, made (and
            Klein loaded) on its first call.
        @param team: the team surface whose counters C{/metrics} shows
            (C{None}: none).
        @param door: the front door whose refusals C{/metrics} shows
            (C{None}: none, a gateway that authenticates its callers).
        """
        super().__init__()
        self._gateway = gateway
        self._sessionEnds = sessionEnds
        self._team = team
        self._door = door

    def render(self, request: IRequest) -> bytes | int:
        method = request.method
        if method == b"HEAD":
            method = b"GET"  # as for any GET: the body is dropped by twisted.web
        try:
            handlers = self._route(request.postpath or [])
            if handlers is None:
                return jsonReply(request, 404, NOT_FOUND)
            answer = handlers.get(method)
            if answer is None:
                request.setHeader(b"allow", b", ".join(sorted(handlers)))
                return jsonReply(request, 405, {"error": "method not allowed"})
            return answer(request)
        except Exception:
            # A defect of the gateway: logged with its traceback, answered in
            # JSON (the exception's type only: its text is for the log).
            self.log.failure(
                "{method} {path} failed",
                method=request.method.decode("ascii", "replace"),
                path=request.path.decode("utf-8", "replace")[:200],
            )
            kind = type(sys.exc_info()[1]).__name__
            return jsonReply(
                request, 500, {"error": f"internal error in the gateway ({kind}); see its log"}
            )

    def _route(self, path: list[bytes]) -> dict[bytes, Handler] | None:
        """The handlers (by method) of C{path}; C{None}: no such path."""
        if path == [b"metrics"]:
            return {b"GET": self._metrics}
        if path == [b"sessions"]:
            return {b"GET": self._sessions}
        if sessionEndPath(path):
            return {b"DELETE": self._endSessions}
        return None

    def _metrics(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE)
        body = renderMetrics(self._gateway)
        if self._door is not None:
            body += renderDoor(self._door.refusals)
        if self._team is not None:
            body += renderTeam(self._team.refusals(), self._team.throttledCounts())
            if self._team.callQuotas is not None:  # loaded with call limits
                from mcpgateway.governance.quotagate import renderMetrics as renderQuotas

                body += renderQuotas(self._team.callQuotas)
            cluster = self._team.cluster
            if cluster is not None:
                visiting = visitingSessions(self._gateway.readModel.status(rows=False))
                body += renderCluster(cluster.forwardCounts(), visiting)
        return body

    def _sessions(self, request: IRequest) -> bytes:
        return jsonReply(request, 200, sessionsBody(self._gateway.readModel.status()))

    def _endSessions(self, request: IRequest) -> bytes | int:
        """Hand a session DELETE to its Klein routes, each segment escaped
        (C{%}, C{/}) so that werkzeug matches the segments this table did."""
        request.postpath = [
            segment.decode("utf-8", "replace").translate(_ESCAPED).encode("utf-8")
            for segment in request.postpath
        ]
        return self._sessionEnds().render(request)  # type: ignore[no-any-return]


def sessionEndPath(path: list[bytes]) -> bool:
    """Whether C{path} (segments) is C{/sessions/<id>} or C{/sessions/by-pid/<pid>}."""
    if len(path) == 3:
        return path[:2] == [b"sessions", b"by-pid"] and bool(path[2])
    return len(path) == 2 and path[0] == b"sessions" and bool(path[1])
