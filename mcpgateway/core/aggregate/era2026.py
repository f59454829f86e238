# -*- test-case-name: tests.core.aggregate.test_era2026,tests.web.endpoints.test_aggregate_era2026 -*-
"""MCP 2026-07-28 on the aggregate endpoint: C{/mcp}, C{/mcp~<key>} and
the named endpoints, in full and in search mode, as stateless requests.

One job: be the L{Era2026Gateway} of one aggregate endpoint. Each request
carries everything: its principal, route and allowed servers give the view
it sees (L{Aggregator.view} of a transient L{AggregateSession} that is never
registered and opens no member), and from that view

  - C{server/discover} is the aggregate's C{initialize} answer in the 2026
    shape (the Tasks extension added when the gateway serves tasks);
  - the four lists are the view's, in one page, in the 2026 shape (in
    search mode, its tools are the gateway's own: C{search}, C{describe},
    C{invoke}, C{get_result});
  - a C{tools/call} of one of the gateway's own tools in search mode is
    answered by them, for this request alone
    (L{mcpgateway.core.aggregate.era2026search});
  - C{tools/call}, C{prompts/get}, C{resources/read} and
    C{completion/complete} are resolved to (member, its own name or URI)
    and a copy of the request with the member's name goes to that member's
    pool (L{Era2026Side.serve<mcpgateway.core.pools.era2026side.Era2026Side.serve>}),
    on the route the view gives it; a C{tools/call} through the gateway's
    L{TaskManager} when it has one. A member's C{input_required} round seals
    its C{requestState} for the member's request: the retry, which names the
    aggregate name again, is translated the same way, so it reaches the
    same suspended call;
  - C{tasks/get}, C{tasks/update} and C{tasks/cancel} find the task among
    the members the caller may reach on the route the task was made on;
  - C{subscriptions/listen} is an L{AggregateListen}; the C{taskIds} it
    names are those tasks' status (L{mcpgateway.core.tasks.listening}).

An endpoint with a server that does not serve the revision (a child per
session, C{"era2026": false}) answers 404/-32601, as such a server does, so
that clients fall back to a session, where every server is reached, rather
than see fewer tools. The gateway's own tools of a full-mode listing (a
hybrid one's, C{get_result}) are not listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from mcpgateway.core.aggregate import apps, skills
from mcpgateway.core.aggregate.era2026listen import AggregateListen, detached, openListen
from mcpgateway.core.aggregate.era2026search import Era2026Context, callGatewayTool
from mcpgateway.core.aggregate.session import SERVER_INFO, AggregateSession, CallFailed
from mcpgateway.core.aggregate.types import SERVER_PREFIX
from mcpgateway.core.aggregate.view import View
from mcpgateway.core.era2026.types import (
    Era2026Request,
    ListenFilter,
    ListenHandle,
    Sink,
    gated,
)
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.status import Era2026Stats
from mcpgateway.core.tasks.listening import openListen as openTaskListen
from mcpgateway.core.tasks.manager import (
    TaskManager,
    declaresTasks,
    missingExtension,
    withTasksExtension,
)
from mcpgateway.core.tasks.model import Task
from mcpgateway.protocol import era2026form, jsonrpc, paramheaders, versions
from mcpgateway.protocol.jsonrpc import Message

if TYPE_CHECKING:
    from mcpgateway.core.aggregate.aggregator import Aggregator

ERA2026_SESSION = "aggregate-2026-07-28"
"""The id of the transient sessions a 2026 request's view is made for."""


class _Settings(Protocol):
    @property
    def tasks(self) -> TaskManager | None:
        """The gateway's tasks (C{None}: it serves none)."""


class AggregatorHolder(Protocol):
    """What the aggregate's 2026 side needs of the gateway's aggregate side
    (L{mcpgateway.core.gateway.aggregateside.AggregateSide})."""

    @property
    def aggregator(self) -> Aggregator:
        """The aggregate endpoint's sessions and views (made on first use)."""


class AggregateCore(Protocol):
    """What the aggregate's 2026 side needs of the gateway
    (L{mcpgateway.core.gateway.gateway.Gateway})."""

    @property
    def pools(self) -> Mapping[str, PoolLike]:
        """The servers' pools, by name (the live mapping)."""

    @property
    def aggregateSide(self) -> AggregatorHolder:
        """Its aggregate side, which makes the aggregator on first use."""

    @property
    def settings(self) -> _Settings:
        """Its settings (their C{tasks})."""

    @property
    def clock(self) -> IReactorTime:
        """The gateway's clock."""


Handler = Callable[
    ["AggregateEra2026", AggregateSession, View, Era2026Request, Sink],
    "Message | Deferred[Message]",
]


class AggregateEra2026:
    """The L{Era2026Gateway} of one aggregate endpoint (and mode)."""

    def __init__(self, core: AggregateCore, endpoint: str = "default", mode: str | None = None):
        """
        @param endpoint: the name of the endpoint's settings (C{default}:
            C{/mcp}).
        @param mode: the mode asked for (C{?mode=}); C{None}: the endpoint's own.
        """
        self._core = core
        self._endpoint = endpoint
        self._asked = mode
        self.requests = 0
        self.listens: set[AggregateListen] = set()

    def withMode(self, mode: str) -> AggregateEra2026:
        """The service of the same endpoint in C{mode} (a C{?mode=} request)."""
        return AggregateEra2026(self._core, self._endpoint, mode)

    @property
    def serverName(self) -> str:
        """The C{server} its requests and sessions name (C{/mcp}, C{/mcp/<name>})."""
        if self._endpoint == "default":
            return SERVER_PREFIX
        return f"{SERVER_PREFIX}/{self._endpoint}"

    def _mode(self) -> str | None:
        spec = self._core.aggregateSide.aggregator.endpoint(self._endpoint)
        if spec is None:
            return None
        return self._asked if self._asked is not None else spec.mode

    # -- Era2026Gateway ----------------------------------------------------------

    def era2026Refusal(self, server: str) -> str | None:
        mode = self._mode()
        if mode is None:
            return f"no aggregate endpoint {self.serverName}"
        if mode not in ("full", "search"):
            return f"the {mode} mode serves MCP 2025-11-25 and earlier sessions: send initialize"
        return self._membersRefusal()

    def _membersRefusal(self) -> str | None:
        """Why the endpoint cannot serve the revision: one of its servers
        does not (a child per session, C{"era2026": false}); its 2026-07-28
        clients fall back to a session, where every server is reached,
        rather than see fewer tools."""
        pools = self._core.pools
        everyone = self.session(Era2026Request(clientId=None, method="", params={}))
        everyone.mayUse = lambda server: True
        members = self._core.aggregateSide.aggregator.viewNow(everyone).members
        refusing = [
            (server, why)
            for server in members
            if server in pools and (why := pools[server].era2026Refusal()) is not None
        ]
        if not refusing:
            return None
        names = ", ".join(server for server, _ in refusing[:8])
        more = f" and {len(refusing) - 8} more" if len(refusing) > 8 else ""
        why = refusing[0][1]
        return (
            f"servers of this endpoint do not serve MCP 2026-07-28 ({names}{more}; {why});"
            " 2026-07-28 clients reach the others through an endpoint of aggregate.json that"
            " leaves them out"
        )

    def era2026Call(self, server: str, request: Era2026Request, sink: Sink) -> Deferred[Message]:
        self.requests += 1
        if request.method in era2026form.TASK_METHODS:
            return self._tasks(request)
        handler = _HANDLERS.get(request.method)
        if handler is None:
            return succeed(
                jsonrpc.errorResponse(
                    request.clientId,
                    jsonrpc.METHOD_NOT_FOUND,
                    f"Method not found: {request.method}",
                )
            )
        session = self.session(request)

        def answer(view: View) -> Message | Deferred[Message]:
            return handler(self, session, view, request, sink)

        # A list (or discover's counts) is served from the view: fresh lists.
        renew = request.method in era2026form.CACHEABLE and request.method != "resources/read"
        viewed: Deferred[View] = detached(
            self._core.aggregateSide.aggregator.view(session, renew=renew)
        )
        answered: Deferred[Message] = viewed.addCallback(answer)
        return answered.addErrback(self._failed, request)

    def listen(
        self, server: str, request: Era2026Request, wanted: ListenFilter, sink: Sink
    ) -> Deferred[ListenHandle]:
        session = self.session(request)
        aggregator = self._core.aggregateSide.aggregator

        def opened(handle: AggregateListen) -> ListenHandle:
            self.listens.add(handle)

            def over(reason: str) -> str:
                self.listens.discard(handle)
                return reason

            handle.ended.addCallback(over)
            return handle

        def lists(kept: ListenFilter) -> Deferred[ListenHandle]:
            def start(view: View) -> Deferred[AggregateListen]:
                return openListen(
                    aggregator,
                    self._core.clock,
                    session,
                    view,
                    self._memberRequests(request, view),
                    kept,
                    sink,
                )

            return detached(aggregator.view(session)).addCallback(start).addCallback(opened)

        tasks = self._core.settings.tasks
        if tasks is not None and wanted.taskIds:

            def find(taskId: str) -> Task | None:
                return self._ownedTask(tasks, request, taskId)

            return openTaskListen(tasks, request, wanted, sink, find, lists)
        return lists(wanted)

    def paramHeaders(self, server: str, scope: str, tool: str) -> dict[str, str] | None:
        """From the view's definition of C{tool} (its catalog's
        C{x-mcp-header} annotations): no child need have been asked."""
        session = self.session(Era2026Request(None, "tools/call", {}, scope=scope))
        definition = self._core.aggregateSide.aggregator.viewNow(session).definitions.get(tool)
        return None if definition is None else paramheaders.xHeaderMap(definition)

    def era2026Stats(self, server: str) -> Era2026Stats:
        return Era2026Stats(requests=self.requests, listenStreams=len(self.listens))

    # -- the view of a request ---------------------------------------------------

    def session(self, request: Era2026Request) -> AggregateSession:
        """A transient session that sees what C{request}'s caller sees:
        its route, its principal, the servers it may use that serve the
        revision (never registered: no member is opened for it)."""
        session = AggregateSession(
            ERA2026_SESSION, self.serverName, versions.ERA2026_VERSIONS[0], {}, {}, 0.0
        )
        session.ended = True
        session.endpoint = self._endpoint
        session.mode = self._mode() or "full"
        session.scope = request.scope
        session.principal = request.principal
        session.asker = request.asker
        pools = self._core.pools
        servers, withheld = request.servers, request.withheld

        def mayUse(server: str) -> bool:
            if server in withheld or (servers is not None and server not in servers):
                return False
            pool = pools.get(server)
            return pool is not None and pool.era2026Refusal() is None

        session.mayUse = mayUse
        return session

    def _memberRequests(
        self, request: Era2026Request, view: View
    ) -> Callable[[str], tuple[PoolLike, Era2026Request] | None]:
        """Where C{request} goes for a member: its pool and the request on
        the route the view gives it (C{None}: not a member any more)."""

        def forMember(server: str) -> tuple[PoolLike, Era2026Request] | None:
            member = view.members.get(server)
            pool = self._core.pools.get(server)
            if member is None or pool is None:
                return None
            return pool, replace(request, scope=member.route)

        return forMember

    def _cacheScope(self, request: Era2026Request, view: View) -> str:
        """C{private} when what the view shows depends on the caller (a
        principal's servers and catalogs) or a member's does, or a member
        listed it C{private}."""
        if request.principal or self._core.aggregateSide.aggregator.views.listsPrivately(
            self.session(request), view
        ):
            return "private"
        for server in view.members:
            pool = self._core.pools.get(server)
            if pool is not None and (pool.spec.credentialEnv or pool.spec.perPrincipal):
                return "private"
        return "public"

    def _failed(self, reason: Failure, request: Era2026Request) -> Message:
        """A refusal of the aggregate's own as its error answer; anything
        else (cancelled, a member that cannot serve) goes on to the web,
        which says so."""
        reason.trap(CallFailed)
        error = reason.value
        assert isinstance(error, CallFailed)
        return jsonrpc.errorResponse(request.clientId, error.code, error.message)

    # -- the requests --------------------------------------------------------------

    def _discover(
        self, session: AggregateSession, view: View, request: Era2026Request, sink: Sink
    ) -> Message:
        initialize = self._core.aggregateSide.aggregator.initializeResult(session, view)
        result = era2026form.discoverResult(initialize, self._cacheScope(request, view))
        response = jsonrpc.resultResponse(request.clientId, result)
        if self._core.settings.tasks is not None:
            response = withTasksExtension(response)
        return response

    def _forward(
        self, server: str, request: Era2026Request, view: View, sink: Sink, **params: Any
    ) -> Deferred[Message]:
        """Send a copy of C{request} (with C{params} changed) to member
        C{server}'s pool, on its route; its answer names the aggregate."""
        routed = self._memberRequests(request, view)(server)
        if routed is None:
            raise CallFailed(
                jsonrpc.INVALID_PARAMS, f"server '{server}' is not configured any more"
            )
        pool, forwarded = routed
        if params:
            forwarded = replace(forwarded, params={**forwarded.params, **params})
        tasks = self._core.settings.tasks
        if forwarded.method == "tools/call":
            run = gated(server, pool.era2026.serve, request.gate)  # the flow rule, as the member's
            if tasks is not None:
                answer = tasks.call(server, forwarded, sink, run, pool.era2026.toolTaskSupport)
            else:
                answer = run(forwarded, sink)
        else:
            answer = pool.era2026.serve(forwarded, sink)
        return answer.addCallback(branded)

    def _toolsCall(
        self, session: AggregateSession, view: View, request: Era2026Request, sink: Sink
    ) -> Deferred[Message]:
        name = str(request.params.get("name"))
        owner = view.owner(name)
        tools = self._core.aggregateSide.aggregator.ownTools
        if owner is None:
            self._hidden(session, view, request)  # a hidden name: noted, then unknown
        if (
            owner is None
            and view.mode == "search"
            and name in view.gatewayTools
            and tools is not None
        ):
            context = Era2026Context(
                self._core.aggregateSide.aggregator, self._core.pools, session, view, request, sink
            )
            return callGatewayTool(tools, context, request).addCallback(branded)
        if owner is None and apps.declaresUi(request.capabilities):
            # An app calls its server's tools by the server's own names.
            found, why = apps.appTool(name, view.callable, view.definitions)
            if why:
                raise CallFailed(jsonrpc.INVALID_PARAMS, why)
            owner = view.owner(found) if found is not None else None
        if owner is None:
            pending = self._core.aggregateSide.aggregator.views.pendingOf(session, view, name)
            if pending is not None:
                raise CallFailed(jsonrpc.SERVER_UNAVAILABLE, pending)
            raise CallFailed(jsonrpc.INVALID_PARAMS, f"Unknown tool: {name}")
        self._decide(session, view, request, "tools/call", owner.server, owner.original)
        answer = self._forward(owner.server, request, view, sink, name=owner.original)
        return answer.addCallback(apps.callAnswer, owner.server)

    def _decide(
        self,
        session: AggregateSession,
        view: View,
        request: Era2026Request,
        action: str,
        server: str,
        name: str,
    ) -> None:
        """Refuse (L{CallFailed}) the member request the policy refuses."""
        route = view.members[server].route if server in view.members else ""
        self._core.aggregateSide.aggregator.memberGate.decideMember(
            session, action, server, name, request.params, route, request.clientInfo
        )

    def _hidden(self, session: AggregateSession, view: View, request: Era2026Request) -> None:
        """Decide, for the audit record and the log, the member request of a
        name C{view} hides (L{MemberGate.decideHidden})."""
        aggregator = self._core.aggregateSide.aggregator
        aggregator.memberGate.decideHidden(
            session,
            view,
            lambda: aggregator.views.wholeNow(session),
            request.method,
            request.params,
            request.clientInfo,
        )

    def _promptsGet(
        self, session: AggregateSession, view: View, request: Era2026Request, sink: Sink
    ) -> Deferred[Message]:
        name = str(request.params.get("name"))
        owner = view.owner(name, "prompt")
        if owner is None:
            self._hidden(session, view, request)  # a hidden name: noted, then unknown
            raise CallFailed(jsonrpc.INVALID_PARAMS, f"Unknown prompt: {name}")
        self._decide(session, view, request, "prompts/get", owner.server, owner.original)
        return self._forward(owner.server, request, view, sink, name=owner.original)

    def _resourcesRead(
        self, session: AggregateSession, view: View, request: Era2026Request, sink: Sink
    ) -> Deferred[Message]:
        uri = str(request.params.get("uri"))
        server, why = view.uriOwner(uri)
        if server is None:
            raise CallFailed(jsonrpc.INVALID_PARAMS, why)
        own = view.memberUri(uri)
        self._decide(session, view, request, "resources/read", server, own)
        answer = self._forward(server, request, view, sink, uri=own)
        return answer.addCallback(apps.readAnswer, server).addCallback(skills.readAnswer, server)

    def _skills(
        self, session: AggregateSession, view: View, request: Era2026Request, sink: Sink
    ) -> Deferred[Message]:
        """The Skills extension's requests, through the members' own."""

        def ask(server: str, method: str, params: dict[str, Any]) -> Deferred[Message]:
            return self._forward(server, replace(request, method=method), view, sink, **params)

        scope = self._cacheScope(request, view)
        return self._core.aggregateSide.aggregator.era2026Skills.serve(
            session, view, request, ask, scope
        )

    def _complete(
        self, session: AggregateSession, view: View, request: Era2026Request, sink: Sink
    ) -> Deferred[Message]:
        ref = request.params.get("ref")
        if not isinstance(ref, dict):
            raise CallFailed(jsonrpc.INVALID_PARAMS, "completion/complete needs a ref")
        if ref.get("type") == "ref/prompt":
            owner = view.owner(str(ref.get("name")), "prompt")
            if owner is None:
                raise CallFailed(jsonrpc.INVALID_PARAMS, f"Unknown prompt: {ref.get('name')}")
            return self._forward(
                owner.server, request, view, sink, ref={**ref, "name": owner.original}
            )
        uri = str(ref.get("uri"))
        server, why = view.uriOwner(uri)
        if server is None:
            raise CallFailed(jsonrpc.INVALID_PARAMS, why)
        return self._forward(server, request, view, sink, ref={**ref, "uri": view.memberUri(uri)})

    # -- tasks -------------------------------------------------------------------

    def _tasks(self, request: Era2026Request) -> Deferred[Message]:
        tasks = self._core.settings.tasks
        if tasks is None:
            return succeed(
                jsonrpc.errorResponse(
                    request.clientId,
                    jsonrpc.METHOD_NOT_FOUND,
                    f"Method not found: {request.method} (this gateway does not serve tasks)",
                )
            )
        if not declaresTasks(request):
            return succeed(missingExtension(request.clientId, request.method))
        return tasks.afterLoad(lambda: self._task(tasks, request))

    def _task(self, tasks: TaskManager, request: Era2026Request) -> Message:
        """Serve a C{tasks/*} request for a task a member made for this
        principal, on the route the caller reaches that member through;
        any other is the unknown task of C{tasks.serve}."""
        taskId = request.params.get("taskId")
        task = self._ownedTask(tasks, request, taskId)
        pool = self._core.pools.get(task.server) if task is not None else None
        if task is None or pool is None:
            return tasks.unknown(request.clientId, taskId)
        scoped = replace(request, scope=task.scope)
        return tasks.serve(task.server, scoped, pool.era2026.serve)

    def _ownedTask(self, tasks: TaskManager, request: Era2026Request, taskId: Any) -> Task | None:
        """The task C{taskId} a member made for C{request}'s principal, on
        the route the caller reaches that member through (C{tasks/*}, a
        listen's C{taskIds}); C{None} for any other."""
        view = self._core.aggregateSide.aggregator.viewNow(self.session(request))
        for scope in dict.fromkeys((request.scope, "")):
            task = tasks.owned(taskId, scope, request.principal)
            if task is None:
                continue
            member = view.members.get(task.server)
            pool = self._core.pools.get(task.server)
            if member is not None and pool is not None and member.route == task.scope:
                return task
        return None


def branded(response: Message) -> Message:
    """A member's answer as the aggregate gives it: the server info in its
    result's C{_meta} is the aggregate's (the client talks to one server)."""
    result = response.get("result")
    meta = result.get("_meta") if isinstance(result, dict) else None
    if not isinstance(meta, dict) or era2026form.SERVER_INFO_KEY not in meta:
        return response
    assert isinstance(result, dict)
    meta = {**meta, era2026form.SERVER_INFO_KEY: dict(SERVER_INFO)}
    return {**response, "result": {**result, "_meta": meta}}


def _lister(key: str, attribute: str) -> Handler:
    """The handler of one list: the view's, one page, in the 2026 shape."""

    def handle(
        service: AggregateEra2026,
        session: AggregateSession,
        view: View,
        request: Era2026Request,
        sink: Sink,
    ) -> Message:
        cursor = request.params.get("cursor")
        if cursor is not None:
            raise CallFailed(
                jsonrpc.INVALID_PARAMS,
                "Invalid params: invalid cursor: this endpoint lists everything in one page"
                " and gives no cursors",
            )
        items = list(getattr(view, attribute))
        if attribute == "tools" and view.mode != "search":  # full mode's need a session
            items = [tool for tool in items if tool.get("name") not in view.gatewayTools]
        if attribute == "tools":
            items = apps.listedTo(items, request.capabilities)
        result = era2026form.completeResult(
            request.method, {key: items}, dict(SERVER_INFO), service._cacheScope(request, view)
        )
        return jsonrpc.resultResponse(request.clientId, result)

    return handle


_HANDLERS: dict[str, Handler] = {
    "server/discover": AggregateEra2026._discover,
    "tools/list": _lister("tools", "tools"),
    "prompts/list": _lister("prompts", "prompts"),
    "resources/list": _lister("resources", "resources"),
    "resources/templates/list": _lister("resourceTemplates", "templates"),
    "tools/call": AggregateEra2026._toolsCall,
    "prompts/get": AggregateEra2026._promptsGet,
    "resources/read": AggregateEra2026._resourcesRead,
    "completion/complete": AggregateEra2026._complete,
    "skills/list": AggregateEra2026._skills,
    "skills/get": AggregateEra2026._skills,
    "resources/directory/read": AggregateEra2026._skills,
}
