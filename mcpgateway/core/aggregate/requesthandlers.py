# -*- test-case-name: tests.web.endpoints.test_aggregate_web, tests.web.endpoints.test_aggregate_smoke, tests.governance.test_policy_members -*-
"""The aggregate endpoint's answers to its clients' requests.

One job: answer each request of an aggregate session's client. The four
lists come from the session's view, in one page; a C{tools/call} is routed
by its namespaced name to its member (a gateway tool runs in a
L{CallContext<mcpgateway.core.aggregate.callcontext.CallContext>}), decided
by the flow rule as that member's call
(L{flowCall<mcpgateway.core.aggregate.flowcalls.flowCall>}), and its
result shielded when too large; C{prompts/get}, C{resources/read} and
subscriptions by the prompt's name or the resource's URI (URIs learned from
the members' results first); C{completion/complete} by its reference; a
C{logging/setLevel} goes to every member; the C{tasks/*} requests to
L{TaskRequests<mcpgateway.core.aggregate.taskrequests.TaskRequests>}; the Skills
extension's to L{SessionSkills}. A member request is decided by the member
policy first.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from twisted.internet.defer import Deferred, fail, gatherResults, maybeDeferred, succeed
from twisted.python.failure import Failure

from mcpgateway.core.aggregate import apps, skills
from mcpgateway.core.aggregate.callcontext import GatewayCalls
from mcpgateway.core.aggregate.calls import fingerprints, shownCursor, tasksCapability
from mcpgateway.core.aggregate.flowcalls import flowCall
from mcpgateway.core.aggregate.memberpolicy import Asker, MemberGate
from mcpgateway.core.aggregate.members import MemberSessions
from mcpgateway.core.aggregate.session import AggregateSession, CallFailed, Sink, ToolsLike
from mcpgateway.core.aggregate.sessionviews import SessionViews
from mcpgateway.core.aggregate.skillrequests import SessionSkills
from mcpgateway.core.aggregate.taskrequests import TaskRequests
from mcpgateway.core.aggregate.view import View
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message

Handler = Callable[[AggregateSession, Message, dict[str, Any], Sink | None], Deferred[Message]]
"""The handler of one method: (session, request, its params, its stream)."""

_VIEW_ATTR = {
    "tools": "tools",
    "prompts": "prompts",
    "resources": "resources",
    "resourceTemplates": "templates",
}


class RequestHandlers:
    """Answers the aggregate sessions' requests."""

    def __init__(
        self,
        views: SessionViews,
        members: MemberSessions,
        gate: MemberGate,
        calls: GatewayCalls,
        tasks: TaskRequests,
        tools: ToolsLike | None,
        skillRequests: SessionSkills | None = None,
    ) -> None:
        """
        @param gate: what decides each member request.
        @param calls: what runs a gateway tool and shields a result.
        @param tools: the gateway's own tools (C{None}: it has none).
        @param skillRequests: the Skills extension's requests (C{None}: not served).
        """
        self._views = views
        self._members = members
        self._gate = gate
        self._calls = calls
        self._tasks = tasks
        self._tools = tools
        self._handlers: dict[str, Handler] = {
            "ping": self._ping,
            "tools/list": self._lister("tools"),
            "prompts/list": self._lister("prompts"),
            "resources/list": self._lister("resources"),
            "resources/templates/list": self._lister("resourceTemplates"),
            "tools/call": self._toolsCall,
            "prompts/get": self._promptsGet,
            "resources/read": self._byUri,
            "resources/subscribe": self._byUri,
            "resources/unsubscribe": self._byUri,
            "completion/complete": self._complete,
            "logging/setLevel": self._setLevel,
            "tasks/get": tasks.request,
            "tasks/result": tasks.request,
            "tasks/cancel": tasks.request,
            "tasks/list": tasks.tasksList,
        }
        if skillRequests is not None:
            self._handlers["skills/list"] = skillRequests.skillsList
            self._handlers["skills/get"] = skillRequests.one
            self._handlers["resources/directory/read"] = skillRequests.one

    def forward(
        self, session: AggregateSession, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        """Serve one client request; fires with its response (errors are
        JSON-RPC error responses, never failures)."""
        method = message.get("method")
        requestId = message.get("id")
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        handler = self._handlers.get(method if isinstance(method, str) else "")
        if handler is None:
            return succeed(
                jsonrpc.errorResponse(
                    requestId, jsonrpc.METHOD_NOT_FOUND, f"Method not found: {method}"
                )
            )
        try:
            answer = handler(session, message, params, related)
        except CallFailed as e:
            return succeed(jsonrpc.errorResponse(requestId, e.code, e.message))

        def failed(reason: Failure) -> Deferred[Message]:
            # Cancelled (no response), a server that cannot serve, a
            # member's own child gone: as on /<server>/mcp (the web says so).
            error = reason.value
            if isinstance(error, CallFailed):
                return succeed(jsonrpc.errorResponse(requestId, error.code, error.message))
            return fail(reason)

        return answer.addErrback(failed)

    def _ping(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        return succeed(jsonrpc.resultResponse(message["id"], {}))

    def _lister(self, attribute: str) -> Handler:
        """The handler of one list request: the whole list, from the view."""
        kind = "resources" if attribute == "resourceTemplates" else attribute
        views = self._views

        def handle(
            session: AggregateSession,
            message: Message,
            params: dict[str, Any],
            related: Sink | None,
        ) -> Deferred[Message]:
            cursor = params.get("cursor")
            if cursor is not None:
                # Every list is one page (no nextCursor is ever given): any
                # cursor is one this endpoint never made (MCP pagination: -32602).
                raise CallFailed(
                    jsonrpc.INVALID_PARAMS,
                    f"Invalid params: invalid cursor {shownCursor(cursor)}: this endpoint lists"
                    f" everything in one page and gives no cursors",
                )

            def answer(view: View) -> Message:
                session.seen[kind] = fingerprints(view)[kind]
                items = list(getattr(view, _VIEW_ATTR[attribute]))
                if attribute == "tools":
                    items = apps.listedTo(items, session.capabilities)
                return jsonrpc.resultResponse(message["id"], {attribute: items})

            return views.view(session, renew=True).addCallback(answer)

        return handle

    def _toolsCall(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        name = params.get("name")
        if not isinstance(name, str):
            raise CallFailed(jsonrpc.INVALID_PARAMS, "tools/call needs a tool name")
        asker = session.asker  # this request's caller, whenever it is decided
        view = self._views.viewNow(session)
        owner = view.owner(name)
        if owner is None and view.unknown:
            return self._views.view(session).addCallback(
                lambda fresh: self._callIn(session, fresh, message, params, name, related, asker)
            )
        return self._callIn(session, view, message, params, name, related, asker)

    def _callIn(
        self,
        session: AggregateSession,
        view: View,
        message: Message,
        params: dict[str, Any],
        name: str,
        related: Sink | None,
        asker: Asker | None,
    ) -> Deferred[Message]:
        owner = view.owner(name)
        tasked = isinstance(params.get("task"), dict)
        if (
            owner is None
            and name not in view.gatewayTools
            and apps.declaresUi(session.capabilities)
        ):
            # An app calls its server's tools by the server's own names.
            found, why = apps.appTool(name, view.callable, view.definitions)
            if why:
                raise CallFailed(jsonrpc.INVALID_PARAMS, why)
            if found is not None:
                name, owner = found, view.owner(found)
        if owner is None:
            # A name the policy hides (or invoke's of one) is refused as an
            # unknown one, once its refusal is noted and logged.
            whole = partial(self._views.wholeNow, session)
            self._gate.decideHidden(session, view, whole, "tools/call", params, asker=asker)
            if name in view.gatewayTools and self._tools is not None:
                if tasked and tasksCapability(session):
                    # Its own tools run at once (no execution.taskSupport:
                    # "forbidden"), as MCP's tasks say a server should answer.
                    raise CallFailed(
                        jsonrpc.METHOD_NOT_FOUND,
                        f"Method not found: tool {name} does not support task-augmented calls",
                    )
                context = self._calls.context(session, view, message, related, asker)
                return self._tools.call(name, params.get("arguments"), context).addCallback(
                    lambda result: jsonrpc.resultResponse(message["id"], result)
                )
            pending = self._views.pendingOf(session, view, name)
            if pending is not None:
                raise CallFailed(jsonrpc.SERVER_UNAVAILABLE, pending)
            raise CallFailed(jsonrpc.INVALID_PARAMS, f"Unknown tool: {name}")
        member = view.members[owner.server]
        self._gate.decideMember(
            session, "tools/call", owner.server, owner.original, params, member.route, asker=asker
        )
        inner = {**params, "name": owner.original}
        forwarded = {**message, "params": inner}
        requestId = message.get("id")

        def call() -> Deferred[Message]:
            return self._members.call(
                session, owner.server, member.route, forwarded, related, tagged=not tasked
            )

        def denied(denial: dict[str, Any]) -> Message:
            return jsonrpc.resultResponse(requestId, denial)

        answer = flowCall(self._gate.flowStep(), session, owner.server, inner, call, denied)
        if tasked:
            answer.addCallback(self._tasks.created, session, owner.server, member.route, name)
        return answer.addCallback(self._toolAnswered, session, view, name)

    def _toolAnswered(
        self, response: Message, session: AggregateSession, view: View, name: str
    ) -> Deferred[Message] | Message:
        result = response.get("result")
        if not isinstance(result, dict) or ("task" in result and "content" not in result):
            return response  # a CreateTaskResult: nothing to learn or shield
        owner = view.callable.get(name)
        if owner is not None:
            response = apps.callAnswer(response, owner.server)
            session.learn(owner.server, response["result"])
        return self._calls.shielded(response, session, view, name)

    def _promptsGet(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        name = params.get("name")
        if not isinstance(name, str):
            raise CallFailed(jsonrpc.INVALID_PARAMS, "prompts/get needs a prompt name")
        asker = session.asker  # this request's caller, whenever it is decided

        def call(view: View) -> Deferred[Message]:
            owner = view.owner(name, "prompt")
            if owner is None:
                whole = partial(self._views.wholeNow, session)
                self._gate.decideHidden(session, view, whole, "prompts/get", params, asker=asker)
                raise CallFailed(jsonrpc.INVALID_PARAMS, f"Unknown prompt: {name}")
            route = view.members[owner.server].route
            self._gate.decideMember(
                session, "prompts/get", owner.server, owner.original, params, route, asker=asker
            )
            forwarded = {**message, "params": {**params, "name": owner.original}}
            return self._members.call(session, owner.server, route, forwarded, related)

        return self._views.view(session).addCallback(call)

    def _byUri(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        uri = params.get("uri")
        if not isinstance(uri, str):
            raise CallFailed(jsonrpc.INVALID_PARAMS, f"{message.get('method')} needs a uri")
        asker = session.asker  # this request's caller, whenever it is decided

        def call(view: View) -> Deferred[Message]:
            server, why = view.uriOwner(uri, session.learned.get)
            if server is None:
                raise CallFailed(jsonrpc.INVALID_PARAMS, why)
            route = view.members[server].route
            own = view.memberUri(uri)
            if message.get("method") in ("resources/read", "resources/subscribe"):
                self._gate.decideMember(
                    session, "resources/read", server, own, None, route, asker=asker
                )
            forwarded = message if own == uri else {**message, "params": {**params, "uri": own}}
            answer = self._members.call(session, server, route, forwarded, related)
            method = message.get("method")
            if method == "resources/read":
                answer.addCallback(apps.readAnswer, server).addCallback(skills.readAnswer, server)
            if method == "resources/subscribe":
                session.subscriptions.add(uri)
            elif method == "resources/unsubscribe":
                session.subscriptions.discard(uri)
            return answer

        return self._views.view(session).addCallback(call)

    def _complete(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        ref = params.get("ref")
        if not isinstance(ref, dict):
            raise CallFailed(jsonrpc.INVALID_PARAMS, "completion/complete needs a ref")

        def call(view: View) -> Deferred[Message]:
            forwarded = message
            if ref.get("type") == "ref/prompt":
                owner = view.owner(str(ref.get("name")), "prompt")
                if owner is None:
                    raise CallFailed(jsonrpc.INVALID_PARAMS, f"Unknown prompt: {ref.get('name')}")
                server = owner.server
                forwarded = {
                    **message,
                    "params": {**params, "ref": {**ref, "name": owner.original}},
                }
            else:
                uri = str(ref.get("uri"))
                found, why = view.uriOwner(uri, session.learned.get)
                if found is None:
                    raise CallFailed(jsonrpc.INVALID_PARAMS, why)
                server = found
                if view.memberUri(uri) != uri:  # an app's: the server's own URI
                    forwarded = {
                        **message,
                        "params": {**params, "ref": {**ref, "uri": view.memberUri(uri)}},
                    }
            route = view.members[server].route
            return self._members.call(session, server, route, forwarded, related)

        return self._views.view(session).addCallback(call)

    def _setLevel(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        level = params.get("level")
        if not isinstance(level, str):
            raise CallFailed(jsonrpc.INVALID_PARAMS, "logging/setLevel needs a level")
        session.logLevel = level
        sent = [
            maybeDeferred(member.pool.forward, member, message, None)
            for member in list(session.members.values())
        ]
        return gatherResults(sent, consumeErrors=True).addBoth(
            lambda _: jsonrpc.resultResponse(message["id"], {})
        )
