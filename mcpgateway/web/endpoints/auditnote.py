# -*- test-case-name: tests.web.endpoints.test_audit_note,tests.web.endpoints.test_auth_audit,tests.governance.test_policy_members -*-
"""What the audit log records of one MCP request, gathered while it is
served: its principal, session, server, method, tool and outcome
(L{AuditNote}), and how a failure is named (L{failureCode}).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

from mcpgateway.core.decision import Decision
from mcpgateway.core.pools.pool import ServerUnavailable, SessionGone
from mcpgateway.core.sessions import Session, shortId
from mcpgateway.protocol import jsonrpc

if TYPE_CHECKING:
    pass  # cryptography: clustered gateways only


NAMED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""The param that names what a request uses (the audit's C{tool})."""


class AuditNote:
    """What the audit record of one HTTP request will say, filled in as the
    request goes (see L{mcpgateway.ops.audit}); written when it ends."""

    __slots__ = (
        "__weakref__",
        "arguments",
        "code",
        "decision",
        "member",
        "method",
        "outcome",
        "payload",
        "session",
        "started",
        "tool",
    )

    def __init__(self, started: float, keepPayload: bool = False) -> None:
        from mcpgateway.ops.audit import NO_ARGUMENTS  # loaded with a team's audit log

        self.started = started
        self.method: str = "-"
        self.tool: str | None = None
        self.session: str | None = None
        self.outcome: str | None = None
        self.code: int | None = None
        self.payload: dict[str, Any] | None = {} if keepPayload else None
        self.arguments: Any = NO_ARGUMENTS
        """The arguments (the params without them) the record digests."""
        self.decision: Decision | None = None
        """What the policy and the limits decided (the request gate sets it)."""
        self.member: tuple[str, str, str] | None = None
        """What a request of an aggregate endpoint resolved to: the member
        server, the member request's method and the member's own name
        (L{memberDecided}); C{None}: nothing, or not an aggregate's."""

    def message(self, message: Any) -> None:
        """The request being served: its method and tool (and arguments);
        a batch is named C{batch}."""
        if isinstance(message, list):
            self.method = "batch"
            return
        if not isinstance(message, dict):
            return
        method = message.get("method")
        if not isinstance(method, str):
            method = ""  # an envelope refused later: nothing of it is named
        self.method = method[:128] or self.method
        params = message.get("params")
        if isinstance(params, dict) and method in NAMED_METHODS:
            name = params.get(NAMED_METHODS[method])
            if isinstance(name, str):
                self.tool = name[:256]
        if isinstance(params, dict):
            self.arguments = params.get("arguments", params)
            if self.payload is not None:
                self.payload["arguments"] = self.arguments

    def memberDecided(self, call: Any, decision: Decision) -> None:
        """An aggregate request resolved to the member request C{call} (a
        L{mcpgateway.core.aggregate.memberpolicy.MemberCall}), and
        C{decision} was made of it: the record names the member's resource
        (a batch's names its own), and the first refusal."""
        if self.method != "batch":
            self.member = (str(call.server), str(call.action), str(call.name)[:256])
        if not decision.allowed and (self.decision is None or self.decision.allowed):
            self.decision = decision

    def settle(self, outcome: str, code: int | None = None) -> None:
        """How it ended (the first error of a batch stays)."""
        if self.outcome in (None, "ok"):
            self.outcome, self.code = outcome, code

    def answered(self, response: Any) -> Any:
        """A callback: note a JSON-RPC response; returns it."""
        error = response.get("error") if isinstance(response, dict) else None
        if isinstance(error, dict):
            code = error.get("code")
            code = code if type(code) is int else None
            self.settle("timeout" if code == jsonrpc.REQUEST_TIMEOUT else "error", code)
            if self.payload is not None:
                self.payload["error"] = error
        else:
            self.settle("ok")
            if self.payload is not None and isinstance(response, dict):
                self.payload["result"] = response.get("result")
        return response

    def failed(self, reason: Failure) -> Failure:
        """An errback: note why a request failed, with the code its client
        is answered with (L{failureCode}); returns the failure."""
        if reason.check(CancelledError):
            self.settle("cancelled")
        else:
            self.settle("error", failureCode(reason))
        return reason

    def opened(self, response: Any, session: str) -> Any:
        """A callback on an C{initialize}: the session's short id
        C{session} is noted only when it answered with a result (an error
        gives its client no C{Mcp-Session-Id}: no session was opened);
        returns C{response}."""
        if isinstance(response, dict) and "result" in response:
            self.session = session
        return response


def failureCode(reason: Failure) -> int:
    """The JSON-RPC code of the error a request that failed with C{reason}
    is answered with (as L{mcpgateway.web.endpoints.answers.CallerAnswers.errorFor}
    builds it): C{-32000} for a server's failure (its child exited or could
    not start, the session is gone), C{-32603} (a defect in the gateway) for
    anything else."""
    if reason.check(ServerUnavailable, SessionGone):
        return jsonrpc.SERVER_UNAVAILABLE
    return jsonrpc.INTERNAL_ERROR


def requestCount(payload: Any) -> int:
    """How many JSON-RPC requests C{payload} (a message or a batch) holds:
    what per-principal limits count (notifications and responses are free)."""
    if isinstance(payload, dict):
        return 1 if "method" in payload and "id" in payload else 0
    if isinstance(payload, list):
        return sum(
            1 for item in payload if isinstance(item, dict) and "method" in item and "id" in item
        )
    return 0


def noteClaimedSession(note: AuditNote, sessions: Any, request: Any, principal: str) -> None:
    """Name on C{note} the session C{request} claims (its C{Mcp-Session-Id})
    when it is one of C{sessions} that C{principal} opened: a request
    refused before its session is looked up (by the policy, by a limit) is
    tied to the rest of that session in the audit. A claim of no such
    session names none (nobody else's session is written in a record)."""
    values = request.requestHeaders.getRawHeaders(b"mcp-session-id")
    if not values:
        return
    session = sessions.get(values[-1].decode("latin-1"))
    if session is not None and getattr(session, "principal", "") == principal:
        note.session = shortName(session)


def shortName(session: Session) -> str:
    """How logs and the audit name a session: a hash of its id, never the id
    nor a piece of it (the id is the session's only secret). A session-like
    object without its own C{shortId} is named by the same hash."""
    short = getattr(session, "shortId", None)
    return short if isinstance(short, str) else shortId(session.id)
