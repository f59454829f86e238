# -*- test-case-name: tests.web.test_sessions_api,tests.web.test_metrics -*-
"""Klein routes for the management surface (everything but the MCP endpoints).

C{/health}, C{/metrics}, C{/sessions} and the session DELETEs. Loaded on the
first management request (see L{mcpgateway.web.app.GatewayRoot}), so a gateway
that only serves MCP traffic never imports Klein.
"""

from __future__ import annotations

from typing import Any

from klein import Klein
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from mcpgateway import logs
from mcpgateway.core.gateway import Gateway
from mcpgateway.core.sessions import Session
from mcpgateway.web.health import healthBody, sessionsBody, visitingSessions
from mcpgateway.web.mcp import jsonReply
from mcpgateway.web.metrics import CONTENT_TYPE, renderCluster, renderMetrics, renderTeam


class ManagementApp:
    """Klein routes for everything that is not an MCP endpoint."""

    app = Klein()
    log = Logger(observer=logs.observer)

    def __init__(self, gateway: Gateway, team: Any = None) -> None:
        """
        @param team: the L{mcpgateway.web.app.TeamSurface} whose auth line
            and counters C{/health} and C{/metrics} show (C{None}: none).
        """
        self._gateway = gateway
        self._team = team

    @app.route("/health", methods=["GET"])
    def health(self, request: IRequest) -> bytes:
        auth = self._team.authLine() if self._team is not None else None
        return jsonReply(
            request,
            200,
            healthBody(self._gateway.status(), auth, aggregate=self._gateway.aggregateStatus()),
        )

    @app.route("/metrics", methods=["GET"])
    def metrics(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE)
        body = renderMetrics(self._gateway)
        if self._team is not None:
            body += renderTeam(self._team.refusals(), self._team.throttledCounts())
            cluster = self._team.cluster
            if cluster is not None:
                visiting = visitingSessions(self._gateway.status())
                body += renderCluster(cluster.forwardCounts(), visiting)
        return body

    @app.route("/sessions", methods=["GET"])
    def sessions(self, request: IRequest) -> bytes:
        return jsonReply(request, 200, sessionsBody(self._gateway.status()))

    @app.route("/sessions/by-pid/<pid>", methods=["DELETE"])
    def deleteByPid(self, request: IRequest, pid: str) -> bytes:
        if not (pid.isascii() and pid.isdigit() and len(pid) <= 10) or int(pid) <= 0:
            shown = pid if len(pid) <= 20 else pid[:20] + "..."
            return jsonReply(request, 400, {"error": f"not a pid: {shown!r}"})
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
        self.log.info(
            "{reason}: {count} session(s), child pids {pids}",
            reason=reason,
            count=len(ended),
            pids=childPids,
        )
        return jsonReply(request, 200, {"ended": {"sessions": ended, "childPids": childPids}})

    @app.handle_errors(NotFound)
    def notFound(self, request: IRequest, failure: Any) -> bytes:
        return jsonReply(
            request,
            404,
            {
                "error": "not found",
                "hint": "MCP endpoints are at /<server>/mcp; GET /health lists the servers",
            },
        )

    @app.handle_errors(MethodNotAllowed)
    def notAllowed(self, request: IRequest, failure: Any) -> bytes:
        return jsonReply(request, 405, {"error": "method not allowed"})

    @app.handle_errors(Exception)
    def failed(self, request: IRequest, failure: Any) -> bytes:
        # A defect of the gateway: logged with its traceback, answered in JSON
        # (the exception's type only: its text is for the log).
        self.log.failure(
            "{method} {path} failed",
            failure=failure,
            method=request.method.decode("ascii", "replace"),
            path=request.path.decode("utf-8", "replace")[:200],
        )
        return jsonReply(
            request,
            500,
            {
                "error": "internal error in the gateway"
                f" ({type(failure.value).__name__}); see its log"
            },
        )
