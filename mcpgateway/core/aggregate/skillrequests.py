# -*- test-case-name: tests.core.aggregate.test_skills -*-
"""The Skills extension's requests on the aggregate endpoint (SEP-2640):
C{skills/list}, C{skills/get} and C{resources/directory/read} of its
sessions and of its 2026-07-28 callers.

One job: answer those requests through the members that declare the
extension (L{mcpgateway.core.aggregate.skills} keeps their listings and
names their URIs): a list from every such member, one page; a URI to the
member it names, with the member's own URI, each request decided by the
member policy as a C{resources/read} of it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core.aggregate.memberpolicy import Asker, MemberGate
from mcpgateway.core.aggregate.members import MemberSessions
from mcpgateway.core.aggregate.session import SERVER_INFO, AggregateSession, CallFailed, Sink
from mcpgateway.core.aggregate.sessionviews import SessionViews
from mcpgateway.core.aggregate.skills import (
    DIRECTORY_READ,
    SCHEME,
    AggregateSkills,
    Ask,
    Gathered,
    localOf,
    namespacedAnswer,
    settingsOf,
)
from mcpgateway.core.aggregate.view import View
from mcpgateway.core.cachehints import PRIVATE
from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.era2026form import SERVER_INFO_KEY
from mcpgateway.protocol.jsonrpc import Message

__all__ = ["Era2026Skills", "SessionSkills", "callerBound", "declaring", "route"]


def requestId() -> str:
    """An id for a request of the aggregate's own to a member."""
    return f"mcpgateway-skills-{secrets.token_hex(4)}"


def _shown(uri: Any) -> str:
    text = uri if isinstance(uri, str) else type(uri).__name__
    return repr(text[:200])


def route(
    skills: AggregateSkills,
    method: str,
    uri: Any,
    declared: Mapping[str, Mapping[str, Any]],
    routes: Mapping[str, str],
    principal: str,
) -> tuple[str, str]:
    """The member a C{skills/get} or C{resources/directory/read} of C{uri}
    goes to, and the URI it knows it by; L{CallFailed} (-32602, as the
    extension says of an unknown skill or directory) when no member that
    declares the extension (and, for a directory, C{directoryRead}) has it.

    @param declared: the settings of each member that declares the extension.
    @param routes: the route the caller reaches each of them on.
    """
    if not isinstance(uri, str):
        raise CallFailed(jsonrpc.INVALID_PARAMS, f"Invalid params: {method} needs a string uri")
    local = localOf(uri)
    if local is not None and local[0] in declared:
        server, own = local
    else:
        found = None if uri.startswith(SCHEME) else skills.owner(uri, routes, principal)
        if found is None:
            if method == "skills/get":
                raise CallFailed(jsonrpc.INVALID_PARAMS, f"No skill is served at {_shown(uri)}")
            raise CallFailed(jsonrpc.INVALID_PARAMS, f"{_shown(uri)} is not a directory resource")
        server, own = found, uri
    if method == "resources/directory/read" and declared[server].get(DIRECTORY_READ) is not True:
        raise CallFailed(
            jsonrpc.INVALID_PARAMS,
            f"{_shown(uri)} is not a directory resource: server '{server}' does not read"
            " directories",
        )
    return server, own


def callerBound(pools: Mapping[str, PoolLike], server: str) -> bool:
    """Whether C{server}'s children depend on the caller (its credentials or
    its identity): what it lists is then the caller's own."""
    pool = pools.get(server)
    return pool is not None and bool(pool.spec.credentialEnv or pool.spec.perPrincipal)


def declaring(
    views: SessionViews, session: AggregateSession, view: View
) -> dict[str, dict[str, Any]]:
    """The members of C{view} whose catalog declares the extension, with its
    settings, in the view's order."""
    out: dict[str, dict[str, Any]] = {}
    for server in view.members:
        settings = settingsOf(views.capabilities(session, server))
        if settings is not None:
            out[server] = settings
    return out


def screened(gate: MemberGate, asker: Any, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """C{entries} without the skills the member policy lets C{asker} read
    nothing of (a skill is decided as a C{resources/read} of its C{SKILL.md})."""
    policy = gate.policy
    if policy is None:
        return entries
    who = asker if asker is not None else Asker()
    kept = []
    for entry in entries:
        uri = entry.get("uri")
        local = localOf(uri) if isinstance(uri, str) else None
        if local is None or policy.listable(who, "resources/read", *local):
            kept.append(entry)
    return kept


def _noCursor(params: Mapping[str, Any]) -> None:
    if params.get("cursor") is not None:
        raise CallFailed(
            jsonrpc.INVALID_PARAMS,
            "Invalid params: invalid cursor: this endpoint lists every skill in one page and"
            " gives no cursors",
        )


class SessionSkills:
    """The extension's requests of aggregate sessions (the handshake
    revisions): each is answered through the session's members."""

    def __init__(
        self,
        skills: AggregateSkills,
        views: SessionViews,
        members: MemberSessions,
        gate: MemberGate,
        dependsOnCaller: Callable[[str], bool],
    ) -> None:
        self._skills = skills
        self._views = views
        self._members = members
        self._gate = gate
        self._dependsOnCaller = dependsOnCaller

    def skillsList(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        """C{skills/list}: every member's skills, one page."""
        _noCursor(params)

        def gather(view: View) -> Deferred[Message]:
            return self.entries(session, view).addCallback(
                lambda kept: jsonrpc.resultResponse(message["id"], {"skills": kept})
            )

        return self._views.view(session).addCallback(gather)

    def entries(self, session: AggregateSession, view: View) -> Deferred[list[dict[str, Any]]]:
        """Every member's skills, namespaced (what the gateway's C{search}
        searches)."""
        declared = declaring(self._views, session, view)
        routes = {server: view.members[server].route for server in declared}

        def ask(server: str, method: str, asked: dict[str, Any]) -> Deferred[Message]:
            request = jsonrpc.request(requestId(), method, asked)
            return self._members.call(session, server, routes[server], request, None, tagged=False)

        listed = self._skills.list(routes, session.principal, ask, self._dependsOnCaller)
        return listed.addCallback(
            lambda gathered: screened(self._gate, session.asker, gathered.entries)
        )

    def one(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        """C{skills/get} or C{resources/directory/read}: to the member of
        its URI, with the member's own URI; the answer's URIs namespaced."""
        method = str(message.get("method"))
        asker = session.asker  # this request's caller, whenever it is decided

        def call(view: View) -> Deferred[Message]:
            declared = declaring(self._views, session, view)
            routes = {server: view.members[server].route for server in declared}
            server, own = route(
                self._skills, method, params.get("uri"), declared, routes, session.principal
            )
            self._gate.decideMember(
                session, "resources/read", server, own, None, routes[server], asker=asker
            )
            forwarded = {**message, "params": {**params, "uri": own}}
            answer = self._members.call(session, server, routes[server], forwarded, related)
            return answer.addCallback(lambda response: namespacedAnswer(server, response))

        return self._views.view(session).addCallback(call)


class Era2026Skills:
    """The extension's requests of the aggregate's 2026-07-28 callers: each
    is answered through the members' own 2026 requests."""

    def __init__(
        self,
        skills: AggregateSkills,
        views: SessionViews,
        gate: MemberGate,
        dependsOnCaller: Callable[[str], bool],
    ) -> None:
        self._skills = skills
        self._views = views
        self._gate = gate
        self._dependsOnCaller = dependsOnCaller

    def entries(
        self, session: AggregateSession, view: View, request: Era2026Request, ask: Ask
    ) -> Deferred[list[dict[str, Any]]]:
        """Every member's skills, namespaced (what the gateway's C{search}
        searches)."""
        declared = declaring(self._views, session, view)
        routes = {server: view.members[server].route for server in declared}
        listed = self._skills.list(routes, request.principal, ask, self._dependsOnCaller)
        return listed.addCallback(
            lambda gathered: screened(self._gate, session.asker, gathered.entries)
        )

    def serve(
        self,
        session: AggregateSession,
        view: View,
        request: Era2026Request,
        ask: Ask,
        scope: str,
    ) -> Deferred[Message]:
        """Answer C{request} (C{ask} sends a member the request of the
        caller with another method and params) in the 2026 shape, its
        C{cacheScope} C{private} when C{scope} is."""
        declared = declaring(self._views, session, view)
        routes = {server: view.members[server].route for server in declared}
        if request.method == "skills/list":
            _noCursor(request.params)
            listed = self._skills.list(routes, request.principal, ask, self._dependsOnCaller)

            def listing(gathered: Gathered) -> Message:
                result = {
                    "resultType": "complete",
                    "skills": screened(self._gate, session.asker, gathered.entries),
                    **gathered.hints(scope),
                    "_meta": {SERVER_INFO_KEY: dict(SERVER_INFO)},
                }
                return jsonrpc.resultResponse(request.clientId, result)

            return listed.addCallback(listing)
        server, own = route(
            self._skills,
            request.method,
            request.params.get("uri"),
            declared,
            routes,
            request.principal,
        )
        self._gate.decideMember(
            session,
            "resources/read",
            server,
            own,
            request.params,
            routes[server],
            request.clientInfo,
        )

        def answered(response: Message) -> Message:
            response = namespacedAnswer(server, response)
            result = response.get("result")
            if scope == PRIVATE and isinstance(result, dict) and "cacheScope" in result:
                response = {**response, "result": {**result, "cacheScope": PRIVATE}}
            return response

        return ask(server, request.method, {"uri": own}).addCallback(answered)
