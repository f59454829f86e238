# -*- test-case-name: tests.core.aggregate.test_invoketasks, tests.web.endpoints.test_aggregate_web -*-
"""The context a call of a gateway tool runs in on an aggregate session.

One job: give the gateway's own tools (C{search}, C{describe}, C{invoke},
C{get_result}, and the shield of a member's result) what one client
C{tools/call} may reach, and nothing more (L{CallContext}, the C{ToolContext}
of L{mcpgateway.core.aggregate.tools}): the caller's view, its own result
store, its endpoint's shield, the member path for C{invoke} (decided by the
member policy like any member request, then by the flow rule as the
member's call: L{mcpgateway.core.aggregate.flowcalls}). L{GatewayCalls} makes one per call
and shields a member's result through one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from mcpgateway.core.aggregate import apps
from mcpgateway.core.aggregate.calls import toolError
from mcpgateway.core.aggregate.flowcalls import flowCall
from mcpgateway.core.aggregate.memberpolicy import Asker, MemberGate
from mcpgateway.core.aggregate.members import MemberSessions
from mcpgateway.core.aggregate.results import ResultBudget, ResultStore
from mcpgateway.core.aggregate.roster import Roster
from mcpgateway.core.aggregate.session import AggregateSession, CallFailed, Sink, ToolsLike
from mcpgateway.core.aggregate.sessionviews import SessionViews
from mcpgateway.core.aggregate.types import Owner
from mcpgateway.core.aggregate.view import View
from mcpgateway.core.pools.pool import ServerUnavailable, SessionGone
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message

SkillsLister = Callable[[AggregateSession, View], Deferred[list[dict[str, Any]]]]
"""Every skill a session's members serve, as it sees them."""


class GatewayCalls:
    """Makes the L{CallContext} of each call of a gateway tool, and shields
    a member's result through one; holds what a context reaches."""

    def __init__(
        self,
        roster: Roster,
        views: SessionViews,
        members: MemberSessions,
        gate: MemberGate,
        tools: ToolsLike | None,
        clock: IReactorTime,
        budget: ResultBudget,
    ) -> None:
        """
        @param tools: the gateway's own tools (C{None}: it has none; nothing
            is shielded).
        @param budget: the bytes the sessions' kept results share.
        """
        self.roster = roster
        self.views = views
        self.members = members
        self.gate = gate
        self.clock = clock
        self.budget = budget
        self._tools = tools
        self.skills: SkillsLister | None = None
        """Every skill a session's members serve (the Skills extension), which
        C{search} finds too; C{None}: none."""

    def context(
        self,
        session: AggregateSession,
        view: View,
        message: Message,
        related: Sink | None,
        asker: Asker | None = None,
    ) -> CallContext:
        """The context of C{session}'s C{message}, seeing C{view}, sent by
        C{asker} (C{None}: the session's caller)."""
        return CallContext(self, session, view, message, related, asker)

    def shielded(
        self, response: Message, session: AggregateSession, view: View, name: str
    ) -> Deferred[Message] | Message:
        """C{response} with its result shielded as tool C{name}'s (on an
        endpoint whose shield is on)."""
        result = response.get("result")
        spec = self.roster.endpointOf(session)
        if not isinstance(result, dict) or not spec.shield.enabled or self._tools is None:
            return response
        definition = view.definitions.get(name) or {}
        schema = definition.get("outputSchema")
        context = CallContext(self, session, view, response, None)
        return self._tools.shieldResult(
            result, schema if isinstance(schema, dict) else None, context
        ).addCallback(lambda shielded: {**response, "result": shielded})


class CallContext:
    """One client C{tools/call} of a gateway tool, as L{ToolsLike.call}
    sees it (the C{ToolContext} of L{mcpgateway.core.aggregate.tools})."""

    def __init__(
        self,
        calls: GatewayCalls,
        session: AggregateSession,
        view: View,
        message: Message,
        related: Sink | None,
        asker: Asker | None = None,
    ) -> None:
        self._calls = calls
        self._session = session
        self._view = view
        self._message = message
        self._related = related
        self._asker = asker if asker is not None else session.asker
        self.servers = view.servers
        self.shieldSpec = calls.roster.endpointOf(session).shield
        if session.results is None:
            session.results = ResultStore(calls.clock, calls.budget)
        self.store = session.results

    @property
    def unavailable(self) -> Mapping[str, str]:
        return self._calls.views.unavailable(self._session, self._view)

    def pendingOf(self, name: str) -> str | None:
        return self._calls.views.pendingOf(self._session, self._view, name)

    def definition(self, name: str) -> dict[str, Any] | None:
        return self._view.definitions.get(name)

    def serverOf(self, name: str) -> str | None:
        owner = self._view.callable.get(name)
        return owner.server if owner is not None else None

    def running(self, server: str) -> bool:
        member = self._view.members.get(server)
        return member is not None and member.running

    def visible(self, name: str) -> bool:
        return name in self._view.callable

    def localName(self, server: str, original: str) -> str | None:
        return self._view.names.get((server, original))

    def skills(self) -> Deferred[list[dict[str, Any]]]:
        """The skills of the members the caller sees, namespaced."""
        lister = self._calls.skills
        return succeed([]) if lister is None else lister(self._session, self._view)

    def catalogKey(self, server: str) -> str | None:
        return self._calls.roster.catalogKeyFor(server, self._session.principal)

    def invoke(self, name: str, arguments: dict[str, Any]) -> Deferred[dict[str, Any]]:
        owner: Owner | None = self._view.callable.get(name)
        if owner is None:
            return fail(
                toolError({"code": jsonrpc.INVALID_PARAMS, "message": f"Unknown tool: {name}"})
            )
        member = self._view.members[owner.server]
        try:
            self._calls.gate.decideMember(
                self._session,
                "tools/call",
                owner.server,
                owner.original,
                {"arguments": arguments},
                member.route,
                asker=self._asker,
            )
        except CallFailed as refused:
            return fail(toolError({"code": refused.code, "message": refused.message}))
        inner: dict[str, Any] = {"name": owner.original, "arguments": arguments}
        inner.update(self._callerMeta())
        forwarded = {**self._message, "params": inner}
        requestId = self._message.get("id")

        def call() -> Deferred[Message]:
            return self._calls.members.call(
                self._session, owner.server, member.route, forwarded, self._related
            )

        def denied(denial: dict[str, Any]) -> Message:
            return jsonrpc.resultResponse(requestId, denial)

        flow = self._calls.gate.flowStep()
        answer = flowCall(flow, self._session, owner.server, inner, call, denied)

        def result(response: Message) -> dict[str, Any]:
            if "result" in response and isinstance(response["result"], dict):
                out = apps.toolResult(response["result"], owner.server)
                self._session.learn(owner.server, out)
                return out
            error = self._session.forCaller(response).get("error") or {}
            raise toolError(error)

        return answer.addCallback(result)

    def _callerMeta(self) -> dict[str, Any]:
        """The C{_meta} of the caller's C{tools/call} (C{{"_meta": ...}}),
        which a member call C{invoke} makes carries: its C{flowOrigin}
        narrows what the flow rule sees (C{{}}: none)."""
        params = self._message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        return {"_meta": meta} if isinstance(meta, dict) else {}

    @property
    def scope(self) -> str:
        return self._session.scope

    @property
    def principal(self) -> str:
        return self._session.principal

    def shownError(self, error: Mapping[str, Any]) -> dict[str, Any]:
        shown = self._session.forCaller({"error": dict(error)}).get("error")
        return shown if isinstance(shown, dict) else dict(error)

    def start(
        self, name: str, arguments: dict[str, Any], progress: Callable[[str], None]
    ) -> Deferred[Message]:
        """A call of C{name} under an id of the gateway's own, with no tie
        to the caller's request (which is answered first: its id may be
        used again, and cancelling it does not reach this call), bounded by
        its task's time to live rather than the request timeout; a progress
        token of its own carries the call's progress to C{progress}."""
        callId = f"mcpgateway-task-{secrets.token_urlsafe(12)}"
        owner: Owner | None = self._view.callable.get(name)
        if owner is None:
            return succeed(
                jsonrpc.errorResponse(callId, jsonrpc.INVALID_PARAMS, f"Unknown tool: {name}")
            )
        server = owner.server
        try:
            self._calls.gate.decideMember(
                self._session,
                "tools/call",
                server,
                owner.original,
                {"arguments": arguments},
                self._view.members[server].route,
                asker=self._asker,
            )
        except CallFailed as refused:
            return succeed(jsonrpc.errorResponse(callId, refused.code, refused.message))
        inner = {"name": owner.original, "arguments": arguments, "_meta": {"progressToken": callId}}
        session = self._session

        def related(message: Message) -> bool:
            params = message.get("params")
            if message.get("method") != "notifications/progress" or not isinstance(params, dict):
                return session.deliver(message)
            text = params.get("message")
            if isinstance(text, str) and text:
                progress(text)
            return True

        route = self._view.members[server].route

        def call() -> Deferred[Message]:
            return maybeDeferred(
                self._calls.members.call,
                session,
                server,
                route,
                jsonrpc.request(callId, "tools/call", inner),
                related,
                untimed=True,
            )

        def denied(denial: dict[str, Any]) -> Message:
            return jsonrpc.resultResponse(callId, denial)

        decided = {"name": owner.original, "arguments": arguments, **self._callerMeta()}
        flow = self._calls.gate.flowStep()
        answer = flowCall(flow, session, server, decided, call, denied, bounded=False)

        def answered(response: Message) -> Message:
            if isinstance(response.get("result"), dict):
                session.learn(server, response["result"])
            return response

        why = "the call was cancelled: its session ended, or the gateway stopped"
        return answer.addCallbacks(answered, memberFailure, errbackArgs=(callId, why))


def memberFailure(reason: Failure, callId: Any, cancelled: str) -> Message | Failure:
    """The error a detached member call ends with, as the caller reads it:
    the member's own, an unavailable server, or C{cancelled} (why such a
    call is cancelled); anything else stays a failure (a bug, logged)."""
    error = reason.value
    if isinstance(error, CallFailed):
        return jsonrpc.errorResponse(callId, error.code, error.message)
    if isinstance(error, (ServerUnavailable, SessionGone)):
        return jsonrpc.errorResponse(callId, jsonrpc.SERVER_UNAVAILABLE, str(error))
    if isinstance(error, CancelledError):
        return jsonrpc.errorResponse(callId, jsonrpc.INTERNAL_ERROR, cancelled)
    return reason
