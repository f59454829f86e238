# -*- test-case-name: tests.web.admin.test_approvalsapi -*-
"""What C{/api/v1/approvals} does (docs/guide/flow.md), for
L{mcpgateway.web.admin.api.ApiApp}: a person's side of the calls held for
their yes (L{mcpgateway.flow.held}).

 - C{GET /api/v1/approvals}: C{{"pending": [...], "decided": [...]}}, the
   calls waiting (oldest first) and those decided lately (the latest
   first), each as L{mcpgateway.flow.held.HeldCall.summary} has it (no
   arguments);
 - C{GET /api/v1/approvals/<id>}: one call (404: none), its summary with
   C{"arguments"} (exact), C{"lastApproved"} (the arguments last approved
   for the same client, server and tool; C{null}: none) and C{"diff"}
   against them (L{mcpgateway.flow.held.argumentsDiff}; C{null}: none
   approved before);
 - C{POST /api/v1/approvals/<id>/allow}: the person's yes, good for that
   exact call once, until its expiry; the call's detail as it is then;
 - C{POST /api/v1/approvals/<id>/deny}, with an optional body
   C{{"reason": text}}: the person's no.

A decision of a call decided already, or expired, is refused with 409
(saying how it was decided); an unknown id is 404. These routes sit behind
the management API's own guard (L{mcpgateway.web.admin.api.ApiResource}):
the gateway's owner, its C{--api-token} or an admin principal decides,
never a client's MCP session, nor the self-service server's token. Who
decided is the admin principal's key, else C{api-token} (with
C{--api-token}) or C{owner}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcpgateway.flow.held import (
    HeldCall,
    HeldCallDecided,
    HeldCalls,
    HeldState,
    UnknownHeldCall,
)
from mcpgateway.ops.management import ManagementError

HeldCallsOf = Callable[[], HeldCalls]
"""Gives the gateway's held calls (made on first use)."""


def approvalsReport(store: HeldCallsOf | None) -> dict[str, Any]:
    """C{GET /api/v1/approvals}; a gateway that holds no calls (none
    wired) has none."""
    if store is None:
        return {"pending": [], "decided": []}
    calls = store()
    return {
        "pending": [call.summary() for call in calls.pending()],
        "decided": [call.summary() for call in calls.decided()],
    }


def approvalDetail(store: HeldCallsOf | None, callId: str) -> dict[str, Any]:
    """C{GET /api/v1/approvals/<id>}."""
    calls = _calls(store, callId)
    try:
        call = calls.get(callId)
    except UnknownHeldCall as e:
        raise ManagementError(404, str(e)) from None
    return _detail(calls, call)


def allowCall(store: HeldCallsOf | None, callId: str, by: str) -> dict[str, Any]:
    """C{POST /api/v1/approvals/<id>/allow}, by C{by}."""
    calls = _calls(store, callId)
    try:
        return _detail(calls, calls.allow(callId, by))
    except UnknownHeldCall as e:
        raise ManagementError(404, str(e)) from None
    except HeldCallDecided as e:
        raise ManagementError(409, _decidedText(e.call)) from None


def denyCall(store: HeldCallsOf | None, callId: str, by: str, body: Any) -> dict[str, Any]:
    """C{POST /api/v1/approvals/<id>/deny}, by C{by}, with C{body}
    (C{None}: no body)."""
    reason = _reason(body)
    calls = _calls(store, callId)
    try:
        return _detail(calls, calls.deny(callId, by, reason))
    except UnknownHeldCall as e:
        raise ManagementError(404, str(e)) from None
    except HeldCallDecided as e:
        raise ManagementError(409, _decidedText(e.call)) from None


def _calls(store: HeldCallsOf | None, callId: str) -> HeldCalls:
    if store is None:
        raise ManagementError(404, str(UnknownHeldCall(callId)))
    return store()


def _detail(calls: HeldCalls, call: HeldCall) -> dict[str, Any]:
    before = calls.lastApproved(call)
    return {
        **call.summary(),
        "arguments": call.arguments,
        "lastApproved": before,
        "diff": calls.diff(call),
    }


def _decidedText(call: HeldCall) -> str:
    """Why a decision of C{call} is refused: how it was decided."""
    by = f" by {call.decidedBy}" if call.decidedBy else ""
    if call.state is HeldState.EXPIRED and call.decidedBy is None:
        return f"the held call {call.id!r} expired: nobody decided it in time"
    if call.state is HeldState.EXPIRED:
        return f"the held call {call.id!r} was allowed{by}, and its yes expired unused"
    if call.state is HeldState.USED:
        return f"the held call {call.id!r} was allowed{by}, and its yes is used"
    return f"the held call {call.id!r} was {call.state.value}{by} already"


def _reason(body: Any) -> str:
    """The C{"reason"} of a deny's body (C{""}: no body, or none said)."""
    if body is None:
        return ""
    if not isinstance(body, dict):
        raise ManagementError(400, "the body must be a JSON object")
    unknown = sorted(str(key) for key in body if key != "reason")
    if unknown:
        raise ManagementError(400, f"unknown field(s): {', '.join(unknown)}; it takes reason")
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise ManagementError(400, "reason: must be a string")
    return reason
