# -*- test-case-name: tests.web.test_sessions_api,tests.web.test_metrics -*-
"""The management surface that is not the C{/api/v1} API: C{/health},
C{/metrics}, C{/sessions} and the session DELETEs, as a plain C{twisted.web}
resource.

Loaded on the first management request (see
L{mcpgateway.web.root.GatewayRoot}). It routes five fixed paths itself: it
was a Klein app, whose first request kept Klein and werkzeug in the gateway
for its whole life (5 MiB of an idle gateway, loaded by the first
C{mcpgateway status}). Every answer is JSON (C{/metrics}: Prometheus text):
an unknown path is 404 with a hint, a known path with another method 405,
and a defect of the gateway 500, its traceback in the log only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource

from mcpgateway.core.gateway import Gateway
from mcpgateway.core.sessions import Session
from mcpgateway.report.health import healthBody, sessionsBody, visitingSessions
from mcpgateway.report.metrics import CONTENT_TYPE, renderCluster, renderMetrics, renderTeam
from mcpgateway.runtime import logs
from mcpgateway.web.replies import jsonReply

NOT_FOUND = {
    "error": "not found",
    "hint": "MCP endpoints are at /<server>/mcp; GET /health lists the servers",
}
"""The answer to a path the gateway does not serve."""


class ManagementApp(Resource):
    """C{/health}, C{/metrics}, C{/sessions}, C{DELETE /sessions/<id>} and
    C{DELETE /sessions/by-pid/<pid>}; the request's C{postpath} is the whole
    path (L{mcpgateway.web.root.GatewayRoot} gives it back)."""

    isLeaf = True
    log = Logger(observer=logs.observer)

    def __init__(self, gateway: Gateway, team: Any = None) -> None:
        """
        @param team: the L{mcpgateway.web.surfaces.TeamSurface} whose auth line
            and counters C{/health} and C{/metrics} show (C{None}: none).
        """
        super().__init__()
        self._gateway = gateway
        self._team = team

    def render(self, request: IRequest) -> bytes:
        method = request.method
        if method == b"HEAD":
            method = b"GET"  # as for any GET: the body is dropped by twisted.web
        try:
            handler, args = self._route(request.postpath or [])
            if handler is None:
                return jsonReply(request, 404, NOT_FOUND)
            answer = handler.get(method)
            if answer is None:
                request.setHeader(b"allow", b", ".join(sorted(handler)))
                return jsonReply(request, 405, {"error": "method not allowed"})
            return answer(request, *args)
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

    def _route(
        self, path: list[bytes]
    ) -> tuple[dict[bytes, Callable[..., bytes]] | None, tuple[str, ...]]:
        """The handlers (by method) of C{path}, and their path arguments."""
        if path == [b"health"]:
            return {b"GET": self._health}, ()
        if path == [b"metrics"]:
            return {b"GET": self._metrics}, ()
        if path == [b"sessions"]:
            return {b"GET": self._sessions}, ()
        if len(path) == 3 and path[:2] == [b"sessions", b"by-pid"] and path[2]:
            return {b"DELETE": self._deleteByPid}, (_text(path[2]),)
        if len(path) == 2 and path[0] == b"sessions" and path[1]:
            return {b"DELETE": self._deleteSession}, (_text(path[1]),)
        return None, ()

    def _health(self, request: IRequest) -> bytes:
        auth = self._team.authLine() if self._team is not None else None
        return jsonReply(
            request,
            200,
            healthBody(self._gateway.status(), auth, aggregate=self._gateway.aggregateStatus()),
        )

    def _metrics(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE)
        body = renderMetrics(self._gateway)
        if self._team is not None:
            body += renderTeam(self._team.refusals(), self._team.throttledCounts())
            cluster = self._team.cluster
            if cluster is not None:
                visiting = visitingSessions(self._gateway.status())
                body += renderCluster(cluster.forwardCounts(), visiting)
        return body

    def _sessions(self, request: IRequest) -> bytes:
        return jsonReply(request, 200, sessionsBody(self._gateway.status()))

    def _deleteByPid(self, request: IRequest, pid: str) -> bytes:
        if not (pid.isascii() and pid.isdigit() and len(pid) <= 10) or int(pid) <= 0:
            shown = pid if len(pid) <= 20 else pid[:20] + "..."
            return jsonReply(request, 400, {"error": f"not a pid: {shown!r}"})
        sessions = self._gateway.sessions.ofPid(int(pid))
        if not sessions:
            return jsonReply(request, 404, {"error": f"no session belongs to pid {pid}"})
        return self._ended(request, sessions, f"ended by DELETE /sessions/by-pid/{pid}")

    def _deleteSession(self, request: IRequest, sessionId: str) -> bytes:
        session = self._gateway.sessions.get(sessionId)
        if session is None:
            return jsonReply(request, 404, {"error": "no such session"})
        return self._ended(request, [session], "ended by DELETE /sessions/<id>")

    def _ended(self, request: IRequest, sessions: list[Session], reason: str) -> bytes:
        ended, childPids = self._gateway.endSessions(sessions, reason)
        self.log.info(
            "{reason}: {count} session(s), child pids {pids}",
            reason=reason,
            count=len(ended),
            pids=childPids,
        )
        return jsonReply(request, 200, {"ended": {"sessions": ended, "childPids": childPids}})


def _text(segment: bytes) -> str:
    """A path segment as text (twisted.web gives it still percent-encoded)."""
    return unquote(segment.decode("utf-8", "replace"))
