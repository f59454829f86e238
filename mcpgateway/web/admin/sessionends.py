# -*- test-case-name: tests.web.admin.test_sessions_api,tests.web.endpoints.test_web_answers -*-
"""Ending sessions from outside: C{DELETE /sessions/<id>} and
C{DELETE /sessions/by-pid/<pid>}, as Klein routes.

Made on the first session DELETE (L{mcpgateway.web.root.GatewayRoot}): a
gateway that is never asked to end a session never loads Klein. The route
table of C{/sessions/*} is L{mcpgateway.web.pages.reports.ReportsResource}'s,
which hands over only the DELETEs of these two paths; the error handlers
answer as it does, should a request reach them otherwise. Ending a session
ends it in the gateway (its child, if it has one of its own, stops) and
logs what ended, with the child pids and who ended it; with an audit log
it is one record (L{mcpgateway.web.admin.changerecords}, C{sessions/end}).
"""

from __future__ import annotations

from urllib.parse import unquote

from klein import Klein
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from werkzeug.exceptions import MethodNotAllowed, NotFound

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.sessions import Session
from mcpgateway.runtime import logs
from mcpgateway.web.admin.changerecords import ChangeRecords
from mcpgateway.web.pages.reports import NOT_FOUND
from mcpgateway.web.plumbing.replies import jsonReply


class SessionEnds:
    """The Klein routes of the session DELETEs; L{resource} is what the
    gateway mounts."""

    app = Klein()
    log = Logger(observer=logs.observer)

    def __init__(self, gateway: Gateway, changes: ChangeRecords) -> None:
        """
        @param changes: names who ends sessions, and audits it.
        """
        self._gateway = gateway
        self._changes = changes

    def resource(self) -> IResource:
        """The resource to serve the DELETEs: it expects the whole path in
        C{request.postpath}, as Klein routes from the root."""
        resource: IResource = self.app.resource()
        return resource

    @app.route("/sessions/by-pid/<pid>", methods=["DELETE"])
    def deleteByPid(self, request: IRequest, pid: str) -> bytes | Deferred[bytes]:
        """End every session of the client process C{pid}."""
        pid = _text(pid)
        if not (pid.isascii() and pid.isdigit() and len(pid) <= 10) or int(pid) <= 0:
            shown = pid if len(pid) <= 20 else pid[:20] + "..."
            return jsonReply(request, 400, {"error": f"not a pid: {shown!r}"})
        sessions = self._gateway.sessions.ofPid(int(pid))
        if not sessions:
            return jsonReply(request, 404, {"error": f"no session belongs to pid {pid}"})
        return self._ended(request, sessions, f"ended by DELETE /sessions/by-pid/{pid}")

    @app.route("/sessions/<sessionId>", methods=["DELETE"])
    def deleteSession(self, request: IRequest, sessionId: str) -> bytes | Deferred[bytes]:
        """End session C{sessionId}."""
        session = self._gateway.sessions.get(_text(sessionId))
        if session is None:
            return jsonReply(request, 404, {"error": "no such session"})
        return self._ended(request, [session], "ended by DELETE /sessions/<id>")

    def _ended(self, request: IRequest, sessions: list[Session], reason: str) -> Deferred[bytes]:
        def end() -> bytes:
            ended, childPids = self._gateway.endSessions(sessions, reason)
            self.log.info(
                "{reason} by {by}: {count} session(s), child pids {pids}",
                reason=reason,
                count=len(ended),
                pids=childPids,
                **self._changes.who(request),
            )
            body = {"ended": {"sessions": ended, "childPids": childPids}}
            return jsonReply(request, 200, body)

        servers = ",".join(sorted({session.server for session in sessions}))
        return self._changes.run(request, "sessions/end", servers, end)

    @app.handle_errors(NotFound)
    def notFound(self, request: IRequest, failure: Failure) -> bytes:
        return jsonReply(request, 404, NOT_FOUND)

    @app.handle_errors(MethodNotAllowed)
    def notAllowed(self, request: IRequest, failure: Failure) -> bytes:
        allowed = sorted(getattr(failure.value, "valid_methods", None) or [])
        if allowed:
            request.setHeader(b"allow", ", ".join(allowed).encode("ascii"))
        return jsonReply(request, 405, {"error": "method not allowed"})

    @app.handle_errors(Exception)
    def failed(self, request: IRequest, failure: Failure) -> bytes:
        # A defect of the gateway: logged with its traceback, answered in
        # JSON (the exception's type only: its text is for the log).
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


def _text(value: str) -> str:
    """A route's argument as the session id or pid it names: the segment
    L{mcpgateway.web.pages.reports.ReportsResource} escaped for werkzeug, back
    as twisted.web decoded it, then percent-decoded once more: the path of
    a session DELETE is decoded twice (C{/sessions/by-pid/%2532} is pid 2)."""
    return unquote(unquote(value))
