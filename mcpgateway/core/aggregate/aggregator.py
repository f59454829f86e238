# -*- test-case-name: tests.web.test_aggregate_web -*-
"""The aggregate endpoint's sessions: one client session over many servers.

One job: serve an L{AggregateSession} (a client session on C{/mcp}) by
answering its list requests from the servers' catalogs and routing each
call to the server that owns the name or URI, through a L{MemberSession}
per server opened at the first use. A member is an ordinary session of its
server's pool, so that server's router does what it does for a direct
session: ids, progress, cancellation, the child's sampling, elicitation
and roots requests, refusals and promotion.

What crosses between the client and its members is re-keyed here, per
aggregate session, so nothing reaches a session that is not its owner:

  - a child's request (sampling, elicitation, roots) gets an id of this
    aggregate session's own (routers number theirs per child, so two
    members can both ask request 1); the client's answer is looked up in
    I{this} session's table only, then handed to the member's router,
    which checks once more that the member is the asker;
  - a client's C{notifications/cancelled} goes to the member its request
    went to, or nowhere;
  - a child's own C{*/list_changed} is dropped: the aggregate sends its
    own when what the client sees changed (coalesced);
  - a task a member created (a task-augmented C{tools/call} answered with a
    C{CreateTaskResult}) is remembered as this session's, under a task id
    of the gateway's own (opaque, mapped to the member and the child's own
    id, which the client never sees): C{tasks/get}, C{tasks/result} and
    C{tasks/cancel} go to that member, C{tasks/list} lists this session's
    tasks only, a child's C{notifications/tasks/status} reaches the session
    only for a task it created through that member, and the C{_meta}
    related-task tag of what a child sends is translated (or dropped, for a
    task that is not the session's);
  - a C{tasks/result} is shielded as the result of the call that made the
    task would have been.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import (
    Deferred,
    DeferredList,
    fail,
    maybeDeferred,
    succeed,
)
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.aggregate.calls import (
    fingerprints,
    retagged,
    tasksCapability,
    withheldReason,
    withMode,
)
from mcpgateway.core.aggregate.memberpolicy import Asker, MemberPolicy, screened
from mcpgateway.core.aggregate.naming import Namer
from mcpgateway.core.aggregate.reprobing import MemberChanges
from mcpgateway.core.aggregate.requests import AggregateRequests, lister
from mcpgateway.core.aggregate.results import CallerResults, ResultBudget
from mcpgateway.core.aggregate.session import (
    CHILD_LIST_CHANGED,
    GATEWAY_TOOL_NAMES,
    MEMBER_INSTRUCTIONS,
    REPROBE_SOON,
    SERVER_INFO,
    STARTING,
    VIEWS,
    AggregateSession,
    CallFailed,
    CatalogLike,
    MemberSession,
    Sink,
    ToolsLike,
    idKey,
)
from mcpgateway.core.aggregate.tasks import AggregateTasks
from mcpgateway.core.aggregate.types import (
    SERVER_PREFIX,
    EndpointSpec,
    NameSettings,
    ShieldSpec,
    ToolFilter,
)
from mcpgateway.core.aggregate.view import Member, View, buildView, mergeFilters, selected
from mcpgateway.core.pools.pool import ServerPool, SessionGone
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs


class Aggregator(AggregateRequests, AggregateTasks, MemberChanges):
    """Every aggregate session of the gateway, and what they share: the
    endpoints' settings, the namer, the view cache, the result budget."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        pools: Mapping[str, ServerPool],
        catalogs: CatalogLike,
        clock: IReactorTime,
        *,
        tools: ToolsLike | None = None,
        budget: ResultBudget | None = None,
        filters: Callable[[str], ToolFilter] | None = None,
        catalogKey: Callable[[ServerPool, str], str] | None = None,
    ) -> None:
        """
        @param pools: the gateway's pools (the live mapping: reconfigures show).
        @param filters: a server's own filter (its entry's C{includeTools},
            C{excludeTools}, C{toolBudget}, C{alias}, C{aggregate}).
        @param catalogKey: which catalog of a pool a principal sees.
        """
        self._pools = pools
        self._catalogs = catalogs
        self._clock = clock
        self._tools = tools
        self.budget = budget if budget is not None else ResultBudget()
        self.callerResults = CallerResults(clock, self.budget)
        """The results kept for the callers without a session (2026-07-28)."""
        self._filters = filters if filters is not None else (lambda server: ToolFilter())
        self._catalogKey = catalogKey if catalogKey is not None else (lambda pool, principal: "")
        self.endpoints: dict[str, EndpointSpec] = {}
        self.sessions: set[AggregateSession] = set()
        self._views: OrderedDict[Any, View] = OrderedDict()
        self._pending: dict[AggregateSession, set[str]] = {}
        self._notifyCall: IDelayedCall | None = None
        self._reprobeCall: IDelayedCall | None = None
        self.reprobes = 0
        """Background probes started for members whose catalog is not known."""
        self.memberPolicy: MemberPolicy | None = None
        """The policy each caller's view and member request is decided by
        (L{mcpgateway.core.aggregate.memberpolicy}); C{None}: none."""
        self.watchers: set[Callable[[], object]] = set()
        """Called whenever what a view may show changed (C{membersChanged}):
        the 2026-07-28 listen streams, which have no session."""
        self.useEndpoints({}, NameSettings())
        self._rowsGeneration = 0
        self.nameCollisions = 0
        catalogs.observe(self._catalogChanged)

    # -- settings --------------------------------------------------------------

    def useEndpoints(self, endpoints: Mapping[str, EndpointSpec], names: NameSettings) -> None:
        """Serve C{endpoints} (name -> settings; C{default} and C{search}
        are added when missing) under C{names} from now on."""
        chosen = dict(endpoints)
        chosen.setdefault("default", EndpointSpec())
        chosen.setdefault(
            "search", EndpointSpec(name="search", mode="search", shield=ShieldSpec(enabled=True))
        )
        self.endpoints = chosen
        self._namer = Namer(names, GATEWAY_TOOL_NAMES)
        self._views = OrderedDict()
        self.membersChanged()

    def endpoint(self, name: str) -> EndpointSpec | None:
        return self.endpoints.get(name)

    @property
    def ownTools(self) -> ToolsLike | None:
        """The gateway's own tools (C{search}, C{describe}, C{invoke},
        C{get_result}); C{None}: it has none."""
        return self._tools

    # -- what a session sees ---------------------------------------------------

    def _memberList(self, session: AggregateSession) -> list[Member]:
        spec = self.endpoints.get(session.endpoint) or self.endpoints["default"]
        out: list[Member] = []
        for server in sorted(self._pools):
            pool = self._pools[server]
            if pool.disabled or pool.spec.disabled or not selected(spec, server):
                continue
            filter_ = mergeFilters(self._filters(server), spec.tools.get(server))
            if not filter_.enabled or not session.mayUse(server):
                continue
            route = self._routeFor(pool, session)
            if route is None:
                continue
            catalog = self._catalogs.get(server, self._catalogKey(pool, session.principal))
            lists = catalog.lists if catalog is not None else None
            running = bool(pool.pids())
            out.append(Member(server, route, lists, filter_, running))
        return out

    def _routeFor(self, pool: ServerPool, session: AggregateSession) -> str | None:
        """The route of C{pool} that serves C{session}: its workspace's, else
        the global one; C{None}: neither."""
        for route in (session.scope, "") if session.scope else ("",):
            if pool.variantFor(route, principal=session.principal) is not None:
                return route
        return None

    def viewNow(self, session: AggregateSession) -> View:
        """The session's view from the catalogs known now."""
        members = self._memberList(session)
        spec = self.endpoints.get(session.endpoint) or self.endpoints["default"]
        mode = session.mode
        key = (
            session.endpoint,
            mode,
            tuple(
                (m.server, m.route, m.filter, id(m.lists) if m.lists is not None else None)
                for m in members
            ),
        )
        view = self._views.get(key)
        if view is not None:
            self._views.move_to_end(key)
        else:
            while len(self._views) >= VIEWS:
                self._views.popitem(last=False)
            endpoint = spec if spec.mode == mode else withMode(spec, mode)
            shielded = endpoint.shield.enabled
            definitions = (
                {d["name"]: d for d in self._tools.definitions(True)}
                if self._tools is not None
                else {}
            )
            view = buildView(endpoint, members, self._namer, definitions, shielded)
            self._views[key] = view
        policy = self.memberPolicy
        if policy is None:
            return view
        asker = session.asker if session.asker is not None else Asker()
        screenedKey = (key, "screened", policy.viewKey(asker))
        found = self._views.get(screenedKey)
        if found is None:
            while len(self._views) >= VIEWS:
                self._views.popitem(last=False)
            found = self._views[screenedKey] = screened(view, policy, asker)
        return found

    def view(
        self, session: AggregateSession, renew: bool = False, again: bool = True
    ) -> Deferred[View]:
        """The session's view once every member's catalog is known (a server
        never listed is probed once and waited for; one whose last probe
        failed is left out, probed again in the background at most every
        C{PROBE_BACKOFF} seconds). With C{renew} (a list is served from
        it), a catalog past its C{ttlMs} is listed again first. A member
        whose catalog key changed meanwhile (its server lists C{private}:
        one catalog per principal) is waited for once more."""
        pending = []
        missing = False
        for member in self._memberList(session):
            pool = self._pools[member.server]
            key = self._catalogKey(pool, session.principal)
            if member.lists is None:
                missing = True
                probing = self._catalogs.ensure(pool, key, session.principal)
                probing.addErrback(lambda _: None)
                if not self._catalogs.failed(member.server, key):
                    # A server that failed to list before is not waited for
                    # again: it is listed in the background, and the session
                    # is told when it arrives.
                    pending.append(probing)
            elif renew and self._catalogs.expired(member.server, key):
                renewing = self._catalogs.ensure(pool, key, session.principal)
                pending.append(renewing.addErrback(lambda _: None))
        if missing:
            self._reprobeLater(REPROBE_SOON)
        if not pending:
            return succeed(self.viewNow(session))
        if again:
            return DeferredList(pending).addCallback(lambda _: self.view(session, again=False))
        return DeferredList(pending).addCallback(lambda _: self.viewNow(session))

    # -- the session's life ----------------------------------------------------

    def open(self, session: AggregateSession, initialize: Message) -> Deferred[Message]:
        """Fires with the answer to C{session}'s C{initialize} once the
        catalogs of its members are known (a server never listed is probed
        once, at most the catalogs' timeout); then it is told of changes."""
        return self.view(session).addCallback(
            lambda view: self._initialized(session, view, initialize)
        )

    def _initialized(self, session: AggregateSession, view: View, initialize: Message) -> Message:
        result = self.initializeResult(session, view)
        if not session.ended:
            self.sessions.add(session)
        self._remember(session, view)
        return jsonrpc.resultResponse(initialize["id"], result)

    def initializeResult(self, session: AggregateSession, view: View) -> dict[str, Any]:
        """What C{session}, seeing C{view}, is told of the aggregate: its
        C{InitializeResult} (the C{server/discover} of a 2026-07-28 request
        is made from it too); registers nothing."""
        mode = "hybrid" if view.hybrid else session.mode
        counts = {server: 0 for server in view.members if server not in view.unknown}
        if mode == "full":
            # What tools/list gives: a server's toolBudget hides the rest.
            owners = [view.callable.get(str(tool.get("name"))) for tool in view.tools]
        else:
            owners = list(view.callable.values())  # search and invoke reach them all
        for owner in owners:
            if owner is not None and owner.server in counts:
                counts[owner.server] += 1
        unavailable = self.unavailable(session, view)
        instructions = (
            self._tools.instructions(counts, mode, unavailable) if self._tools is not None else ""
        )
        if mode == "full":
            instructions += self._memberInstructions(session, view)
        result: dict[str, Any] = {
            "protocolVersion": session.protocolVersion,
            "capabilities": {
                "tools": {"listChanged": True},
                "prompts": {"listChanged": True},
                "resources": {"subscribe": True, "listChanged": True},
                "completions": {},
                "logging": {},
                **tasksCapability(session),
            },
            "serverInfo": dict(SERVER_INFO),
        }
        if instructions:
            result["instructions"] = instructions
        return result

    def _memberInstructions(self, session: AggregateSession, view: View) -> str:
        """The members' own C{instructions}, each under its server's name
        (full mode: the model sees their tools, so it needs their advice;
        at most L{MEMBER_INSTRUCTIONS} characters each)."""
        parts = []
        for server in view.members:
            pool = self._pools.get(server)
            if pool is None:
                continue
            catalog = self._catalogs.get(server, self._catalogKey(pool, session.principal))
            text = getattr(catalog, "instructions", None)
            if isinstance(text, str) and text.strip():
                text = text.strip()
                if len(text) > MEMBER_INSTRUCTIONS:
                    text = text[:MEMBER_INSTRUCTIONS] + "…"
                parts.append(f"\n\n## {server}\n{text}")
        return "".join(parts)

    def restore(self, session: AggregateSession) -> None:
        """Take C{session} back (restored from a previous process); its
        members are opened again at their next use."""
        self.sessions.add(session)
        view = self.viewNow(session)
        self._remember(session, view)
        if view.unknown:
            self._reprobeLater(REPROBE_SOON)

    # -- members not listed yet ------------------------------------------------

    def unavailable(self, session: AggregateSession, view: View) -> dict[str, str]:
        """Why each member of C{view} whose catalog is not known is left
        out, as its client may be told (server -> the rest of a sentence
        that starts with the server's name; never a child's stderr)."""
        out: dict[str, str] = {}
        for server in view.unknown:
            pool = self._pools.get(server)
            if pool is None:
                continue
            key = self._catalogKey(pool, session.principal)
            reason = self._catalogs.reason(server, key)
            if self._catalogs.probing(server, key) or not self._catalogs.failed(server, key):
                out[server] = f"is {STARTING}"
            else:
                out[server] = (
                    f"is not available ({reason or 'it could not be listed'});"
                    " it is probed again in the background"
                )
        return out

    def pendingOf(self, session: AggregateSession, view: View, name: str) -> str | None:
        """Why tool C{name} cannot be called yet, when it may be a tool of a
        member whose catalog is not known (its name starts with that
        member's prefix), or one its pins withhold; C{None} otherwise."""
        if not view.unknown:
            return withheldReason(self._namer, self._pools, view, name)
        separator = self._namer.settings.separator
        owners = []
        for server in view.unknown:
            member = view.members[server]
            prefix, _ = self._namer.prefix(server, member.filter.alias)
            if name.startswith(prefix + separator):
                owners.append(server)
        if not owners:
            return withheldReason(self._namer, self._pools, view, name)
        server = max(owners, key=len)  # the longest prefix names it
        why = self.unavailable(session, view).get(server, f"is {STARTING}")
        return f"{name} is not known yet: server '{server}' {why}"

    def close(self, session: AggregateSession, reason: str = "session ended") -> Deferred[None]:
        """End C{session} and its members."""
        session.ended = True
        self.sessions.discard(session)
        self._pending.pop(session, None)
        if session.results is not None:
            session.results.clear()
        closing = []
        members, session.members = session.members, {}
        for member in members.values():
            closing.append(member.pool.close(member, reason))
        session.asks.clear()
        session.inflight.clear()
        session.tasks.clear()
        return DeferredList(closing, consumeErrors=True).addCallback(lambda _: None)

    def gone(self, session: Session) -> str | None:
        return None

    def ownChildPids(self, session: AggregateSession) -> list[int]:
        pids: list[int] = []
        for member in session.members.values():
            pids += member.pool.ownChildPids(member)
        return pids

    def memberGone(self, member: MemberSession, reason: str) -> Deferred[None]:
        """C{member}'s own child is gone (the reaper found it): the member is
        dropped and opened again at its next use; the client's session lives."""
        parent = member.parent
        self._forget(member)
        self.log.info(
            "aggregate session {sid}: member {server} ended ({reason});"
            " opened again at its next use",
            sid=parent.shortId,
            server=member.server,
            reason=reason,
        )
        return member.pool.close(member, reason)

    # -- members ---------------------------------------------------------------

    def _member(
        self, session: AggregateSession, server: str, route: str
    ) -> Deferred[MemberSession]:
        pool = self._pools.get(server)
        if pool is None:
            raise CallFailed(
                jsonrpc.INVALID_PARAMS, f"server '{server}' is not configured any more"
            )
        member = session.members.get(server)
        if member is not None:
            if member.pool is pool and pool.gone(member) is None:
                return succeed(member)
            self._drop(member, "its server changed or its child ended")
        waiters = session.opening.get(server)
        if waiters is not None:
            waiting: Deferred[MemberSession] = Deferred()
            waiters.append(waiting)
            return waiting
        variant = pool.variantFor(route, principal=session.principal)
        if variant is None:
            raise CallFailed(
                jsonrpc.INVALID_PARAMS, f"server '{server}' has no route for this session"
            )
        member = MemberSession(session, pool, self, route, self._clock.seconds())
        member.variant = variant
        initialize = jsonrpc.request(
            0,
            "initialize",
            {
                "protocolVersion": session.protocolVersion,
                "capabilities": session.capabilities,
                "clientInfo": session.clientInfo,
            },
        )
        started = maybeDeferred(pool.open, member, initialize)

        def opened(response: Message) -> MemberSession:
            if "result" not in response:
                error = response.get("error") or {}
                raise CallFailed(
                    jsonrpc.SERVER_UNAVAILABLE,
                    f"server '{server}' did not start a session:"
                    f" {error.get('message', 'no answer')}",
                )
            if session not in self.sessions:
                raise CallFailed(jsonrpc.INVALID_REQUEST, "the session ended")
            session.members[server] = member
            pool.notify(member, jsonrpc.notification("notifications/initialized"))
            if session.logLevel is not None:
                self._send(member, "logging/setLevel", {"level": session.logLevel})
            for uri in sorted(session.subscriptions):
                if (
                    self._learnedOwner(session, uri) == server
                    or self._uriServer(session, uri) == server
                ):
                    self._send(member, "resources/subscribe", {"uri": uri})
            self.log.debug(
                "aggregate session {sid}: member {server} opened",
                sid=session.shortId,
                server=server,
            )
            return member

        first: Deferred[MemberSession] = Deferred()
        waiters = [first]
        session.opening[server] = waiters

        def settle(result: MemberSession | Failure) -> None:
            session.opening.pop(server, None)
            if isinstance(result, Failure):
                # Whatever the pool started for it (a child of its own) goes.
                self._close(member, f"it could not be opened: {result.getErrorMessage()}")
            for waiter in waiters:
                if isinstance(result, Failure):
                    waiter.errback(result)
                else:
                    waiter.callback(result)

        started.addCallback(opened).addBoth(settle)
        return first

    def _forget(self, member: MemberSession) -> None:
        """C{member} is no longer its session's: its entry, and the child's
        questions and the calls it was sent, are forgotten."""
        parent = member.parent
        if parent.members.get(member.server) is member:
            del parent.members[member.server]
        for askId in [a for a, (asker, _) in parent.asks.items() if asker is member]:
            del parent.asks[askId]
        for key in [k for k, m in parent.inflight.items() if m is member]:
            del parent.inflight[key]

    def _drop(self, member: MemberSession, why: str) -> None:
        """Forget C{member} and close it on its pool."""
        self._forget(member)
        self._close(member, why)

    def _close(self, member: MemberSession, why: str) -> None:
        maybeDeferred(member.pool.close, member, why).addErrback(
            lambda reason: self.log.failure(
                "aggregate: closing member {server} failed", reason, server=member.server
            )
        )

    def _send(self, member: MemberSession, method: str, params: dict[str, Any]) -> None:
        """A request of the aggregate's own to C{member} (its answer dropped)."""
        message = jsonrpc.request(f"mcpgateway-{secrets.token_hex(4)}", method, params)
        maybeDeferred(member.pool.forward, member, message, None).addErrback(
            lambda reason: self.log.info(
                "aggregate: {method} to member {server} failed: {why}",
                method=method,
                server=member.server,
                why=reason.getErrorMessage(),
            )
        )

    # -- client -> members -----------------------------------------------------

    def forward(
        self, session: AggregateSession, message: Message, related: Sink | None
    ) -> Deferred[Message]:
        """Serve one client request; fires with its response (errors are
        JSON-RPC error responses, never failures)."""
        method = message.get("method")
        requestId = message.get("id")
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        handler = _HANDLERS.get(method if isinstance(method, str) else "")
        if handler is None:
            return succeed(
                jsonrpc.errorResponse(
                    requestId, jsonrpc.METHOD_NOT_FOUND, f"Method not found: {method}"
                )
            )
        try:
            answer = handler(self, session, message, params, related)
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

    def notify(self, session: AggregateSession, message: Message) -> None:
        """Pass a client notification to the members it concerns."""
        method = message.get("method")
        given = message.get("params")
        params: dict[str, Any] = given if isinstance(given, dict) else {}
        if method == "notifications/cancelled":
            member = session.inflight.get(idKey(params.get("requestId")))
            if member is not None:
                member.pool.notify(member, message)
        elif method == "notifications/roots/list_changed":
            for member in list(session.members.values()):
                member.pool.notify(member, message)
        # notifications/initialized: every member had its own.

    def answer(self, session: AggregateSession, message: Message) -> bool:
        """Pass a client's answer to a member's request; C{False} if this
        session was asked no such thing."""
        askId = message.get("id")
        entry = (
            session.asks.pop(askId, None)
            if isinstance(askId, int) and not isinstance(askId, bool)
            else None
        )
        if entry is None:
            self.log.warn(
                "aggregate session {sid} answered unknown request id {id!r}; dropped",
                sid=session.shortId,
                id=askId,
            )
            return False
        member, gatewayId = entry
        return member.pool.answer(member, {**message, "id": gatewayId})

    # -- members -> client -----------------------------------------------------

    def _fromChild(self, member: MemberSession, message: Message, sink: Sink | None) -> bool:
        parent = member.parent
        method = message.get("method")
        message = retagged(parent.tasks, member.server, message, "params")
        if "id" in message and isinstance(method, str):
            askId = parent.nextAskId()
            parent.asks[askId] = (member, message["id"])
            out = {**message, "id": askId}
            if sink(out) if sink is not None else parent.deliver(out):
                return True
            parent.asks.pop(askId, None)
            return False
        if method in CHILD_LIST_CHANGED:
            return True  # the catalogs re-list; the aggregate sends its own
        params = message.get("params")
        if method == "notifications/cancelled" and isinstance(params, dict):
            gatewayId = params.get("requestId")
            for askId, (asker, asked) in list(parent.asks.items()):
                if asker is member and asked == gatewayId:
                    del parent.asks[askId]
                    message = {**message, "params": {**params, "requestId": askId}}
                    break
            else:
                return True
        elif method == "notifications/tasks/status":
            childId = params.get("taskId") if isinstance(params, dict) else None
            taskId = parent.tasks.idOf(member.server, childId)
            if taskId is None:
                # Not a task this session created through this member: never
                # shown to it.
                self.log.debug(
                    "aggregate session {sid}: status of task {task!r} of {server},"
                    " which is not its own; dropped",
                    sid=parent.shortId,
                    task=childId,
                    server=member.server,
                )
                return True
            assert isinstance(params, dict)
            parent.tasks.update(taskId, params)
            message = {**message, "params": {**params, "taskId": taskId}}
        elif (
            method == "notifications/message"
            and isinstance(params, dict)
            and "logger" not in params
        ):
            message = {**message, "params": {**params, "logger": member.server}}
        return sink(message) if sink is not None else parent.deliver(message)

    def _relayed(self, member: MemberSession, related: Sink | None) -> Sink | None:
        if related is None:
            return None
        return lambda message: self._fromChild(member, message, related)

    def _call(
        self,
        session: AggregateSession,
        server: str,
        route: str,
        message: Message,
        related: Sink | None,
        tagged: bool = True,
        untimed: bool = False,
    ) -> Deferred[Message]:
        """Send C{message} (the client's id and C{_meta} kept) to the member
        of C{server}; fires with the child's response (its result's
        related-task tag translated, unless not C{tagged}: the caller does
        it). A member whose own child ended is opened again once. An
        C{untimed} call (a task's: its time to live bounds it) has no
        request timeout."""
        key = idKey(message.get("id"))

        def send(member: MemberSession, again: bool) -> Deferred[Message]:
            session.inflight[key] = member
            sent = maybeDeferred(
                member.pool.forward, member, message, self._relayed(member, related)
            )
            if untimed:
                member.pool.untime(member, message.get("id"))

            def gone(reason: Failure) -> Deferred[Message]:
                if reason.check(SessionGone) and again:
                    self._drop(member, "its own child ended")
                    return self._member(session, server, route).addCallback(send, False)
                return fail(reason)

            return sent.addErrback(gone)

        def done(result: Any) -> Any:
            session.inflight.pop(key, None)
            if tagged and isinstance(result, dict):
                return retagged(session.tasks, server, result, "result")
            return result

        return self._member(session, server, route).addCallback(send, True).addBoth(done)

    # -- list changes ------------------------------------------------------------

    def _remember(self, session: AggregateSession, view: View) -> None:
        session.seen = fingerprints(view)

    # -- background re-probes ----------------------------------------------------

    def allTools(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(name, server, definition) of every tool C{/mcp} offers a caller
        who may use every server, named as it names them."""
        session = AggregateSession("all-tools", SERVER_PREFIX, "", {}, {}, 0.0)
        view = self.viewNow(session)
        return [
            (name, owner.server, view.definitions[name]) for name, owner in view.callable.items()
        ]

    # -- status ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "sessions": len(self.sessions),
            "members": sum(len(s.members) for s in self.sessions),
            "endpoints": sorted(self.endpoints),
            "results": {
                "stored": len(self.budget._order),
                "bytes": self.budget.used,
                "evicted": self.budget.evicted,
            },
        }

    # -- request handlers --------------------------------------------------------


Handler = Callable[
    [Aggregator, AggregateSession, Message, dict[str, Any], Sink | None], Deferred[Message]
]
_HANDLERS: dict[str, Handler] = {
    "ping": Aggregator._ping,
    "tools/list": lister("tools"),
    "prompts/list": lister("prompts"),
    "resources/list": lister("resources"),
    "resources/templates/list": lister("resourceTemplates"),
    "tools/call": Aggregator._toolsCall,
    "prompts/get": Aggregator._promptsGet,
    "resources/read": Aggregator._byUri,
    "resources/subscribe": Aggregator._byUri,
    "resources/unsubscribe": Aggregator._byUri,
    "completion/complete": Aggregator._complete,
    "logging/setLevel": Aggregator._setLevel,
    "tasks/get": Aggregator._taskRequest,
    "tasks/result": Aggregator._taskRequest,
    "tasks/cancel": Aggregator._taskRequest,
    "tasks/list": Aggregator._tasksList,
}
