# -*- test-case-name: tests.web.test_mcp -*-
"""The aggregate endpoint's requests that reach one member.

A C{tools/call} is routed by its namespaced name to its member and its
result shielded when too large; C{prompts/get}, C{resources/read} and
subscriptions by the prompt's name or the resource's URI (URIs learned
from the members' lists); C{completion/complete} by its reference; a
C{logging/setLevel} goes to every member. L{AggregateRequests} is a part of
L{mcpgateway.core.aggregate.aggregator.Aggregator}: the attributes and
methods it declares without defining are the aggregator's.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import (
    CancelledError,
    Deferred,
    fail,
    gatherResults,
    maybeDeferred,
    succeed,
)
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from mcpgateway.core.aggregate.calls import (
    fingerprints,
    shownCursor,
    tasksCapability,
    toolError,
    withMode,
)
from mcpgateway.core.aggregate.memberpolicy import MemberCall, MemberPolicy, refuseCall
from mcpgateway.core.aggregate.results import ResultBudget, ResultStore
from mcpgateway.core.aggregate.session import (
    LEARNED_URIS,
    AggregateSession,
    CallFailed,
    Sink,
    ToolsLike,
)
from mcpgateway.core.aggregate.types import (
    EndpointSpec,
    Owner,
)
from mcpgateway.core.aggregate.view import View
from mcpgateway.core.pools.pool import ServerUnavailable, SessionGone
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message


class AggregateRequests:
    """The aggregate endpoint's requests that reach one member."""

    _call: Callable[..., Deferred[Message]]
    _taskCreated: Callable[..., Message]
    _clock: IReactorTime
    budget: ResultBudget
    unavailable: Callable[..., dict[str, str]]
    _tools: ToolsLike | None
    endpoints: dict[str, EndpointSpec]
    pendingOf: Callable[..., str | None]
    view: Callable[..., Deferred[View]]
    viewNow: Callable[..., View]
    memberPolicy: MemberPolicy | None
    catalogKeyFor: Callable[..., str | None]

    def _ping(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        return succeed(jsonrpc.resultResponse(message["id"], {}))

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
        view = self.viewNow(session)
        owner = view.owner(name)
        if owner is None and view.unknown:
            return self.view(session).addCallback(
                lambda fresh: self._callIn(session, fresh, message, params, name, related)
            )
        return self._callIn(session, view, message, params, name, related)

    def _callIn(
        self,
        session: AggregateSession,
        view: View,
        message: Message,
        params: dict[str, Any],
        name: str,
        related: Sink | None,
    ) -> Deferred[Message]:
        owner = view.owner(name)
        tasked = isinstance(params.get("task"), dict)
        if owner is None:
            if name in view.gatewayTools and self._tools is not None:
                if tasked and tasksCapability(session):
                    # Its own tools run at once (no execution.taskSupport:
                    # "forbidden"), as MCP's tasks say a server should answer.
                    raise CallFailed(
                        jsonrpc.METHOD_NOT_FOUND,
                        f"Method not found: tool {name} does not support task-augmented calls",
                    )
                context = CallContext(self, session, view, message, related)
                return self._tools.call(name, params.get("arguments"), context).addCallback(
                    lambda result: jsonrpc.resultResponse(message["id"], result)
                )
            pending = self.pendingOf(session, view, name)
            if pending is not None:
                raise CallFailed(jsonrpc.SERVER_UNAVAILABLE, pending)
            raise CallFailed(jsonrpc.INVALID_PARAMS, f"Unknown tool: {name}")
        member = view.members[owner.server]
        self.decideMember(session, "tools/call", owner.server, owner.original, params, member.route)
        forwarded = {**message, "params": {**params, "name": owner.original}}
        answer = self._call(
            session, owner.server, member.route, forwarded, related, tagged=not tasked
        )
        if tasked:
            answer.addCallback(self._taskCreated, session, owner.server, member.route, name)
        return answer.addCallback(self._toolAnswered, session, view, name)

    def decideMember(
        self,
        session: AggregateSession,
        action: str,
        server: str,
        name: str,
        params: Mapping[str, Any] | None,
        route: str,
        clientInfo: Any = None,
    ) -> None:
        """Refuse (L{CallFailed}) the member request the policy refuses.

        @param clientInfo: the client's C{clientInfo} (C{None}: the session's)."""
        if self.memberPolicy is None:
            return
        arguments = params.get("arguments") if params is not None else None
        info = clientInfo if clientInfo is not None else getattr(session, "clientInfo", None)
        client = info.get("name") if isinstance(info, dict) else None
        call = MemberCall(
            action,
            server,
            name,
            arguments if isinstance(arguments, dict) else None,
            route,
            client if isinstance(client, str) else "",
        )
        refuseCall(self.memberPolicy, session.asker, call)

    def _toolAnswered(
        self, response: Message, session: AggregateSession, view: View, name: str
    ) -> Deferred[Message] | Message:
        result = response.get("result")
        if not isinstance(result, dict) or ("task" in result and "content" not in result):
            return response  # a CreateTaskResult: nothing to learn or shield
        owner = view.callable.get(name)
        if owner is not None:
            self._learn(session, owner.server, result)
        return self._shielded(response, session, view, name)

    def _shielded(
        self, response: Message, session: AggregateSession, view: View, name: str
    ) -> Deferred[Message] | Message:
        """C{response} with its result shielded as tool C{name}'s (on an
        endpoint whose shield is on)."""
        result = response.get("result")
        spec = self._endpointOf(session)
        if not isinstance(result, dict) or not spec.shield.enabled or self._tools is None:
            return response
        definition = view.definitions.get(name) or {}
        schema = definition.get("outputSchema")
        context = CallContext(self, session, view, response, None)
        return self._tools.shieldResult(
            result, schema if isinstance(schema, dict) else None, context
        ).addCallback(lambda shielded: {**response, "result": shielded})

    def _endpointOf(self, session: AggregateSession) -> EndpointSpec:
        spec = self.endpoints.get(session.endpoint) or self.endpoints["default"]
        return spec if spec.mode == session.mode else withMode(spec, session.mode)

    def _learn(self, session: AggregateSession, server: str, result: dict[str, Any]) -> None:
        content = result.get("content")
        if not isinstance(content, list):
            return
        for item in content:
            if not isinstance(item, dict):
                continue
            uri: Any = None
            if item.get("type") == "resource_link":
                uri = item.get("uri")
            elif item.get("type") == "resource" and isinstance(item.get("resource"), dict):
                uri = item["resource"].get("uri")
            if isinstance(uri, str):
                session.learned[uri] = server
                session.learned.move_to_end(uri)
                while len(session.learned) > LEARNED_URIS:
                    session.learned.popitem(last=False)

    def _learnedOwner(self, session: AggregateSession, uri: str) -> str | None:
        return session.learned.get(uri)

    def _uriServer(self, session: AggregateSession, uri: str) -> str | None:
        server, _ = self.viewNow(session).uriOwner(uri, session.learned.get)
        return server

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

        def call(view: View) -> Deferred[Message]:
            owner = view.owner(name, "prompt")
            if owner is None:
                raise CallFailed(jsonrpc.INVALID_PARAMS, f"Unknown prompt: {name}")
            route = view.members[owner.server].route
            self.decideMember(session, "prompts/get", owner.server, owner.original, params, route)
            forwarded = {**message, "params": {**params, "name": owner.original}}
            return self._call(session, owner.server, route, forwarded, related)

        return self.view(session).addCallback(call)

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

        def call(view: View) -> Deferred[Message]:
            server, why = view.uriOwner(uri, session.learned.get)
            if server is None:
                raise CallFailed(jsonrpc.INVALID_PARAMS, why)
            route = view.members[server].route
            if message.get("method") in ("resources/read", "resources/subscribe"):
                self.decideMember(session, "resources/read", server, uri, None, route)
            answer = self._call(session, server, route, message, related)
            method = message.get("method")
            if method == "resources/subscribe":
                session.subscriptions.add(uri)
            elif method == "resources/unsubscribe":
                session.subscriptions.discard(uri)
            return answer

        return self.view(session).addCallback(call)

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
                found, why = view.uriOwner(str(ref.get("uri")), session.learned.get)
                if found is None:
                    raise CallFailed(jsonrpc.INVALID_PARAMS, why)
                server = found
            return self._call(session, server, view.members[server].route, forwarded, related)

        return self.view(session).addCallback(call)

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


class CallContext:
    """One client C{tools/call} of a gateway tool, as L{ToolsLike.call}
    sees it (the C{ToolContext} of L{mcpgateway.core.aggregate.tools})."""

    def __init__(
        self,
        aggregator: AggregateRequests,
        session: AggregateSession,
        view: View,
        message: Message,
        related: Sink | None,
    ) -> None:
        self._aggregator = aggregator
        self._session = session
        self._view = view
        self._message = message
        self._related = related
        self.servers = view.servers
        self.shieldSpec = aggregator._endpointOf(session).shield
        if session.results is None:
            session.results = ResultStore(aggregator._clock, aggregator.budget)
        self.store = session.results

    @property
    def unavailable(self) -> Mapping[str, str]:
        return self._aggregator.unavailable(self._session, self._view)

    def pendingOf(self, name: str) -> str | None:
        return self._aggregator.pendingOf(self._session, self._view, name)

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

    def catalogKey(self, server: str) -> str | None:
        return self._aggregator.catalogKeyFor(server, self._session.principal)

    def invoke(self, name: str, arguments: dict[str, Any]) -> Deferred[dict[str, Any]]:
        owner: Owner | None = self._view.callable.get(name)
        if owner is None:
            return fail(
                toolError({"code": jsonrpc.INVALID_PARAMS, "message": f"Unknown tool: {name}"})
            )
        member = self._view.members[owner.server]
        try:
            self._aggregator.decideMember(
                self._session,
                "tools/call",
                owner.server,
                owner.original,
                {"arguments": arguments},
                member.route,
            )
        except CallFailed as refused:
            return fail(toolError({"code": refused.code, "message": refused.message}))
        params = self._message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        inner: dict[str, Any] = {"name": owner.original, "arguments": arguments}
        if isinstance(meta, dict):
            inner["_meta"] = meta
        forwarded = {**self._message, "params": inner}
        answer = self._aggregator._call(
            self._session, owner.server, member.route, forwarded, self._related
        )

        def result(response: Message) -> dict[str, Any]:
            if "result" in response and isinstance(response["result"], dict):
                self._aggregator._learn(self._session, owner.server, response["result"])
                out: dict[str, Any] = response["result"]
                return out
            error = self._session.forCaller(response).get("error") or {}
            raise toolError(error)

        return answer.addCallback(result)

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
            self._aggregator.decideMember(
                self._session,
                "tools/call",
                server,
                owner.original,
                {"arguments": arguments},
                self._view.members[server].route,
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

        answer = maybeDeferred(
            self._aggregator._call,
            session,
            server,
            self._view.members[server].route,
            jsonrpc.request(callId, "tools/call", inner),
            related,
            untimed=True,
        )

        def answered(response: Message) -> Message:
            if isinstance(response.get("result"), dict):
                self._aggregator._learn(session, server, response["result"])
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


ListHandler = Callable[
    [AggregateRequests, AggregateSession, Message, dict[str, Any], Sink | None], Deferred[Message]
]
_VIEW_ATTR = {
    "tools": "tools",
    "prompts": "prompts",
    "resources": "resources",
    "resourceTemplates": "templates",
}


def lister(attribute: str) -> ListHandler:
    """The handler of one list request: the whole list, from the view."""
    kind = "resources" if attribute == "resourceTemplates" else attribute

    def handle(
        aggregator: AggregateRequests,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        cursor = params.get("cursor")
        if cursor is not None:
            # Every list is one page (no nextCursor is ever given): any cursor
            # is one this endpoint never made (MCP pagination: -32602).
            raise CallFailed(
                jsonrpc.INVALID_PARAMS,
                f"Invalid params: invalid cursor {shownCursor(cursor)}: this endpoint lists"
                f" everything in one page and gives no cursors",
            )

        def answer(view: View) -> Message:
            session.seen[kind] = fingerprints(view)[kind]
            items = list(getattr(view, _VIEW_ATTR[attribute]))
            return jsonrpc.resultResponse(message["id"], {attribute: items})

        return aggregator.view(session, renew=True).addCallback(answer)

    return handle
