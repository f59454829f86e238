# -*- test-case-name: tests.core.aggregate.test_era2026search,tests.web.endpoints.test_aggregate_era2026 -*-
"""Search mode's own tools (C{search}, C{describe}, C{invoke},
C{get_result}) for MCP 2026-07-28 requests, which have no session.

One job: answer a 2026-07-28 C{tools/call} of a gateway tool through
L{GatewayTools<mcpgateway.core.aggregate.tools.GatewayTools>} with a
L{Era2026Context} made for that request alone: the caller's principal,
route and endpoint, the view L{AggregateEra2026<mcpgateway.core.aggregate.era2026.AggregateEra2026>}
built for it. What must outlive the request does so without a session:

  - a shortened result is kept in the store of the caller's (endpoint,
    route, principal) (L{CallerResults<mcpgateway.core.aggregate.results.CallerResults>}),
    so the C{ref} one request gives pages in the next, and never for
    another principal or route;
  - C{invoke} sends the member's request to its pool's C{era2026}, as a
    full-mode C{tools/call} is sent: a member's sampling or elicitation
    comes back as an C{input_required} round of the C{invoke} call, whose
    retry (the same arguments, with C{inputResponses} and C{requestState})
    is translated the same way, so it reaches the same suspended call;
  - C{invoke} with C{"async": true} makes a task of the gateway's
    L{TaskManager<mcpgateway.core.tasks.manager.TaskManager>}, owned by
    (route, principal), which C{get_result} reads in any later request.
    Its call cannot ask the client anything (nobody is there to answer):
    it is sent without the client's capabilities, so a child's sampling or
    elicitation is refused at once and the task fails saying so.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.python.failure import Failure

from mcpgateway.core.aggregate import apps
from mcpgateway.core.aggregate.callcontext import CallContext, memberFailure
from mcpgateway.core.aggregate.calls import toolError
from mcpgateway.core.aggregate.session import SERVER_INFO, AggregateSession, CallFailed, ToolsLike
from mcpgateway.core.aggregate.types import Owner
from mcpgateway.core.aggregate.view import Member, View
from mcpgateway.core.catalogdata import publicReason
from mcpgateway.core.era2026.types import Era2026Request, Sink, gated
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.protocol import era2026form, jsonrpc
from mcpgateway.protocol.jsonrpc import Message

if TYPE_CHECKING:
    from mcpgateway.core.aggregate.aggregator import Aggregator

__all__ = ["ASKED_IN_TASK", "Era2026Context", "InputRequired", "callGatewayTool"]

ASKED_IN_TASK = (
    "the tool asked the client a question (sampling or elicitation), which a call made with"
    ' "async" cannot answer: invoke it without "async", or call it on the full-mode endpoint /mcp'
)
"""The error of an C{async} invoke whose tool asked for input."""

_STDERR_MARK = "; last stderr: "
"""How the gateway's own words about a child's exit introduce what it wrote."""


class InputRequired(Exception):
    """A member answered an C{invoke} with an C{input_required} round: that
    round is the C{invoke} call's answer."""

    def __init__(self, response: Message) -> None:
        super().__init__("input required")
        self.response = response


def _plain(result: dict[str, Any]) -> dict[str, Any]:
    """A member's 2026-07-28 C{CallToolResult} without the revision's
    envelope (C{invoke}'s answer gets its own)."""
    return {k: v for k, v in result.items() if k not in ("resultType", "ttlMs", "cacheScope")}


class Era2026Context(CallContext):
    """One 2026-07-28 C{tools/call} of a gateway tool (the C{ToolContext}
    of L{mcpgateway.core.aggregate.tools}): C{session} is the request's
    transient one, C{view} its view."""

    def __init__(
        self,
        aggregator: Aggregator,
        pools: Mapping[str, PoolLike],
        session: AggregateSession,
        view: View,
        request: Era2026Request,
        sink: Sink,
    ) -> None:
        session.results = aggregator.callerResults.storeFor(
            session.endpoint, request.scope, request.principal
        )
        message = jsonrpc.request(request.clientId, request.method, request.params)
        super().__init__(aggregator.gatewayCalls, session, view, message, None)
        self._pools = pools
        self._request = request
        self._sink = sink
        self._skills = aggregator.era2026Skills

    def skills(self) -> Deferred[list[dict[str, Any]]]:
        """The skills of the members the caller sees, namespaced: each
        member asked with a 2026 request of the caller's own."""
        view, pools, request = self._view, self._pools, self._request

        def ask(server: str, method: str, params: dict[str, Any]) -> Deferred[Message]:
            member, pool = view.members.get(server), pools.get(server)
            if member is None or pool is None:
                return fail(CallFailed(jsonrpc.INVALID_PARAMS, f"no server '{server}' here"))
            asked = replace(request, method=method, params=params, scope=member.route)
            return pool.era2026.serve(asked, self._sink)

        return self._skills.entries(self._session, view, request, ask)

    def _routed(self, name: str) -> tuple[PoolLike, Member, Owner] | None:
        owner = self._view.callable.get(name)
        if owner is None:
            return None
        member = self._view.members.get(owner.server)
        pool = self._pools.get(owner.server)
        if member is None or pool is None:
            return None
        return pool, member, owner

    def _decideMember(self, owner: Owner, member: Member, arguments: dict[str, Any]) -> None:
        """Refuse (L{CallFailed}) the member call the policy refuses."""
        self._calls.gate.decideMember(
            self._session,
            "tools/call",
            owner.server,
            owner.original,
            {"arguments": arguments},
            member.route,
            self._request.clientInfo,
        )

    def invoke(self, name: str, arguments: dict[str, Any]) -> Deferred[dict[str, Any]]:
        """The member's request is the caller's with the member's name and
        the arguments C{invoke} was given: the same each round, so a retry
        (C{inputResponses}, C{requestState}) is bound as its first round."""
        routed = self._routed(name)
        if routed is None:
            return fail(
                toolError({"code": jsonrpc.INVALID_PARAMS, "message": f"Unknown tool: {name}"})
            )
        pool, member, owner = routed
        try:
            self._decideMember(owner, member, arguments)
        except CallFailed as refused:
            return fail(toolError({"code": refused.code, "message": refused.message}))
        params: dict[str, Any] = {"name": owner.original, "arguments": arguments}
        meta = self._request.params.get("_meta")
        if isinstance(meta, dict):
            params["_meta"] = meta
        forwarded = replace(self._request, scope=member.route, params=params)

        def result(response: Message) -> dict[str, Any]:
            body = response.get("result")
            if isinstance(body, dict):
                if body.get("resultType") == "input_required":
                    raise InputRequired(response)
                return apps.toolResult(_plain(body), owner.server)
            error = response.get("error")
            raise toolError(self.shownError(error if isinstance(error, dict) else {}))

        run = gated(owner.server, pool.era2026.serve, self._request.gate)
        return run(forwarded, self._sink).addCallback(result)

    def start(
        self, name: str, arguments: dict[str, Any], progress: Callable[[str], None]
    ) -> Deferred[Message]:
        """A call of C{name} under an id of the gateway's own, bounded by its
        task's time to live (not the request timeout), without the client's
        capabilities; its progress text goes to C{progress}."""
        callId = f"mcpgateway-task-{secrets.token_urlsafe(12)}"
        routed = self._routed(name)
        if routed is None:
            return succeed(
                jsonrpc.errorResponse(callId, jsonrpc.INVALID_PARAMS, f"Unknown tool: {name}")
            )
        pool, member, owner = routed
        try:
            self._decideMember(owner, member, arguments)
        except CallFailed as refused:
            return succeed(jsonrpc.errorResponse(callId, refused.code, refused.message))
        params = {
            "name": owner.original,
            "arguments": arguments,
            "_meta": {"progressToken": callId},
        }
        request = replace(
            self._request,
            clientId=callId,
            params=params,
            scope=member.route,
            capabilities={},
            inputResponses=None,
            requestState=None,
            untimed=True,
        )

        def related(message: Message) -> bool:
            given = message.get("params")
            if message.get("method") == "notifications/progress" and isinstance(given, dict):
                text = given.get("message")
                if isinstance(text, str) and text:
                    progress(text)
            return True

        def answered(response: Message) -> Message:
            body = response.get("result")
            if isinstance(body, dict) and body.get("resultType") == "input_required":
                return jsonrpc.errorResponse(callId, jsonrpc.INVALID_REQUEST, ASKED_IN_TASK)
            error = response.get("error")
            if isinstance(error, dict) and error.get("code") == jsonrpc.MISSING_CAPABILITY:
                # The bridge refused the child's question: no client to ask.
                return {**response, "error": {**error, "message": ASKED_IN_TASK}}
            return response

        why = "the call was cancelled: its time to live is over, or the gateway stopped"
        run = gated(owner.server, pool.era2026.serve, self._request.gate)
        answer: Deferred[Message] = maybeDeferred(run, request, related)
        return answer.addCallbacks(answered, memberFailure, errbackArgs=(callId, why))

    def shownError(self, error: Mapping[str, Any]) -> dict[str, Any]:
        """What a request without a session may read of a member's error:
        the gateway's words about a child's exit never quote its stderr
        (the text goes into a result, which the web does not screen)."""
        shown = dict(error)
        text = shown.get("message")
        if isinstance(text, str) and (
            shown.get("code") == jsonrpc.CHILD_EXITED or _STDERR_MARK in text
        ):
            shown["message"] = publicReason(text)
        return shown


def callGatewayTool(
    tools: ToolsLike, context: Era2026Context, request: Era2026Request
) -> Deferred[Message]:
    """The response to C{request}, a C{tools/call} of a gateway tool: its
    C{CallToolResult} in the 2026 shape, or the C{input_required} round a
    member's question made of an C{invoke}."""
    name = str(request.params.get("name"))

    def answered(result: dict[str, Any]) -> Message:
        done = era2026form.completeResult("tools/call", result, dict(SERVER_INFO), "private")
        return jsonrpc.resultResponse(request.clientId, done)

    def asked(reason: Failure) -> Message:
        reason.trap(InputRequired)
        error = reason.value
        assert isinstance(error, InputRequired)
        return error.response

    called = tools.call(name, request.params.get("arguments"), context)
    return called.addCallbacks(answered, asked)
