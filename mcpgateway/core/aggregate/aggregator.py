# -*- test-case-name: tests.core.test_aggregate -*-
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

import itertools
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.internet.defer import (
    Deferred,
    DeferredList,
    fail,
    gatherResults,
    maybeDeferred,
    succeed,
)
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import __version__
from mcpgateway.core.aggregate.naming import Namer
from mcpgateway.core.aggregate.results import ResultBudget, ResultStore
from mcpgateway.core.aggregate.tools import ROW_SEPARATOR
from mcpgateway.core.aggregate.types import (
    RELATED_TASK,
    SERVER_PREFIX,
    TASKS_SINCE,
    EndpointSpec,
    NameSettings,
    Owner,
    ShieldSpec,
    TaskTable,
    ToolFilter,
)
from mcpgateway.core.aggregate.view import Member, View, buildView, mergeFilters, selected
from mcpgateway.core.pools.pool import ServerPool, SessionGone
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs

Sink = Callable[[Message], bool]

GATEWAY_TOOL_NAMES = frozenset({"search", "describe", "invoke", "get_result"})
NOTIFY_DELAY = 0.25
"""Seconds list changes are gathered before a session is told."""
MEMBER_INSTRUCTIONS = 2000
"""Characters of one member's own instructions an aggregate session is given."""
VIEWS = 1024
"""Views kept (one per endpoint, mode and set of members and catalogs: per
principal for per-user servers), the least recently used dropped first."""
LEARNED_URIS = 1024
"""URIs a session's results named, remembered per session (their owner)."""
TASKS_KEPT = 256
"""Task ids remembered per session (their owner), the oldest terminal ones
forgotten first."""
TASKS_PAGE = 50
"""Tasks in one page of C{tasks/list}."""
TASK_NOT_FOUND = "Failed to retrieve task: Task not found"
"""The start of the error (C{-32602}) for a task id the session does not own."""
REPROBE_SOON = 1.0
"""Seconds before the background re-probe looks again at a catalog that
may be probed now (coalesces the sessions that need it)."""
REPROBE_POLL = 5.0
"""Seconds between two looks at a catalog whose probe is in flight."""
STARTING = (
    "still starting: its tools are listed when it is ready (notifications/tools/list_changed)"
)
"""What a client is told of a member whose catalog is being listed."""
_KIND_METHOD = {
    "tools": "notifications/tools/list_changed",
    "prompts": "notifications/prompts/list_changed",
    "resources": "notifications/resources/list_changed",
}
_CHILD_LIST_CHANGED = frozenset(_KIND_METHOD.values())


class CatalogLike(Protocol):
    """What the aggregator needs of the catalogs (L{mcpgateway.core.catalog.CatalogService})."""

    def get(self, server: str, catalogKey: str = "") -> Any:
        """The catalog known now (with C{.lists}), or C{None}."""

    def ensure(self, pool: ServerPool, catalogKey: str = "", principal: str = "") -> Deferred[Any]:
        """The catalog, probing the server once if none is known."""

    def observe(self, cb: Callable[[str, frozenset[str]], None]) -> Callable[[], None]:
        """Call C{cb(server, kinds)} when a server's lists changed."""

    def failed(self, server: str, catalogKey: str = "") -> bool:
        """Whether the last probe of that catalog failed."""

    def reason(self, server: str, catalogKey: str = "") -> str | None:
        """Why it failed, in words a client may be shown (no stderr)."""

    def probing(self, server: str, catalogKey: str = "") -> bool:
        """Whether a probe of that catalog is in flight."""

    def retryAt(self, server: str, catalogKey: str = "") -> float | None:
        """When L{ensure} probes a failed catalog again (C{None}: not failed)."""

    def known(self) -> Sequence[Any]:
        """Every catalog served now (with C{.server} and C{.lists})."""


class ToolsLike(Protocol):
    """What the aggregator needs of the gateway's own tools
    (L{mcpgateway.core.aggregate.tools.GatewayTools})."""

    def definitions(self, withResults: bool) -> list[dict[str, Any]]: ...

    def instructions(
        self, members: Mapping[str, int], mode: str, unavailable: Mapping[str, str] | None = None
    ) -> str: ...

    def call(self, name: str, arguments: Any, context: Any) -> Deferred[dict[str, Any]]: ...

    def shieldResult(
        self, result: dict[str, Any], outputSchema: dict[str, Any] | None, context: Any
    ) -> Deferred[dict[str, Any]]: ...

    def rowsChanged(self, rows: Callable[[], Sequence[Any]]) -> None: ...


class CallFailed(Exception):
    """A call through the aggregate failed with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class MemberSession(Session):
    """The session an aggregate session has on one member server (never
    registered: only its aggregate session knows it)."""

    __slots__ = ("aggregator", "parent", "pool")

    def __init__(
        self,
        parent: AggregateSession,
        pool: ServerPool,
        aggregator: Aggregator,
        route: str,
        now: float,
    ) -> None:
        super().__init__(
            secrets.token_urlsafe(24),
            pool.spec.name,
            parent.protocolVersion,
            parent.capabilities,
            parent.clientInfo,
            now,
        )
        self.parent = parent
        self.pool = pool
        self.aggregator = aggregator
        self.scope = route
        self.principal = parent.principal
        self.clientPid = parent.clientPid

    def deliver(self, message: Message) -> bool:
        return self.aggregator._fromChild(self, message, None)


class AggregateSession(Session):
    """A client session on an aggregate endpoint."""

    __slots__ = (
        "_askIds",
        "asks",
        "ended",
        "endpoint",
        "forCaller",
        "inflight",
        "learned",
        "mayUse",
        "members",
        "mode",
        "opening",
        "results",
        "seen",
        "tasks",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint = "default"
        """The name of its endpoint's settings."""
        self.mode = "full"
        """C{"full"} or C{"search"} (chosen at C{initialize})."""
        self.ended = False
        self.members: dict[str, MemberSession] = {}
        self.opening: dict[str, list[Deferred[MemberSession]]] = {}
        self.inflight: dict[tuple[str, Any], MemberSession] = {}
        self.asks: dict[int, tuple[MemberSession, int]] = {}
        self._askIds: Iterator[int] = itertools.count(1)
        self.learned: OrderedDict[str, str] = OrderedDict()
        self.results: ResultStore | None = None
        self.tasks = TaskTable(TASKS_KEPT)
        """The tasks its members created for it (task id -> owner)."""
        self.seen: dict[str, str] = {}
        """Per kind, the fingerprint of the list the client was last given."""
        self.mayUse: Callable[[str], bool] = _everything
        self.forCaller: Callable[[Message], Message] = _asIs
        """A member's error as the session's current caller may read it (the
        web sets it per request: a child's stderr is an admin's only on a
        gateway reachable from other machines)."""

    def nextAskId(self) -> int:
        return next(self._askIds)

    def record(self) -> dict[str, Any]:
        record = super().record()
        record["aggregate"] = {"endpoint": self.endpoint, "mode": self.mode}
        return record

    @classmethod
    def fromRecord(cls, record: dict[str, Any]) -> AggregateSession:
        session = cls(
            record["id"],
            record["server"],
            record["protocolVersion"],
            record["capabilities"],
            record["clientInfo"],
            record["created"],
        )
        session.lastActivity = record["lastActivity"]
        session.logLevel = record["logLevel"]
        session.subscriptions = set(record["subscriptions"])
        session.clientPid = record["clientPid"]
        session.scope = record.get("scope", "")
        session.principal = record.get("principal", "")
        session.restored = True
        if session.principal:
            session.mayUse = _nothing  # until a request of its principal binds it
        info = record.get("aggregate")
        if isinstance(info, dict):
            if isinstance(info.get("endpoint"), str):
                session.endpoint = info["endpoint"]
            if info.get("mode") in ("full", "search"):
                session.mode = info["mode"]
        return session


def _everything(server: str) -> bool:
    return True


def _asIs(message: Message) -> Message:
    return message


def _nothing(server: str) -> bool:
    return False


def _idKey(requestId: Any) -> tuple[str, Any]:
    return (type(requestId).__name__, requestId)


@dataclass
class _Pending:
    kinds: set[str] = field(default_factory=set)


class Aggregator:
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
            endpoint = spec if spec.mode == mode else _withMode(spec, mode)
            shielded = endpoint.shield.enabled
            definitions = (
                {d["name"]: d for d in self._tools.definitions(True)}
                if self._tools is not None
                else {}
            )
            view = buildView(endpoint, members, self._namer, definitions, shielded)
            self._views[key] = view
        return view

    def view(self, session: AggregateSession) -> Deferred[View]:
        """The session's view once every member's catalog is known (a server
        never listed is probed once and waited for; one whose last probe
        failed is left out, probed again in the background at most every
        C{PROBE_BACKOFF} seconds)."""
        pending = []
        missing = False
        for member in self._memberList(session):
            if member.lists is None:
                missing = True
                pool = self._pools[member.server]
                key = self._catalogKey(pool, session.principal)
                probing = self._catalogs.ensure(pool, key, session.principal)
                probing.addErrback(lambda _: None)
                if not self._catalogs.failed(member.server, key):
                    # A server that failed to list before is not waited for
                    # again: it is listed in the background, and the session
                    # is told when it arrives.
                    pending.append(probing)
        if missing:
            self._reprobeLater(REPROBE_SOON)
        if not pending:
            return succeed(self.viewNow(session))
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
                **_tasksCapability(session),
            },
            "serverInfo": {
                "name": "mcpgateway",
                "title": "mcpgateway (all servers)",
                "version": __version__,
            },
        }
        if instructions:
            result["instructions"] = instructions
        if not session.ended:
            self.sessions.add(session)
        self._remember(session, view)
        return jsonrpc.resultResponse(initialize["id"], result)

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
        member's prefix); C{None} otherwise."""
        if not view.unknown:
            return None
        separator = self._namer.settings.separator
        owners = []
        for server in view.unknown:
            member = view.members[server]
            prefix, _ = self._namer.prefix(server, member.filter.alias)
            if name.startswith(prefix + separator):
                owners.append(server)
        if not owners:
            return None
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
            member = session.inflight.get(_idKey(params.get("requestId")))
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
        message = _retagged(parent.tasks, member.server, message, "params")
        if "id" in message and isinstance(method, str):
            askId = parent.nextAskId()
            parent.asks[askId] = (member, message["id"])
            out = {**message, "id": askId}
            if sink(out) if sink is not None else parent.deliver(out):
                return True
            parent.asks.pop(askId, None)
            return False
        if method in _CHILD_LIST_CHANGED:
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
    ) -> Deferred[Message]:
        """Send C{message} (the client's id and C{_meta} kept) to the member
        of C{server}; fires with the child's response (its result's
        related-task tag translated, unless not C{tagged}: the caller does
        it). A member whose own child ended is opened again once."""
        key = _idKey(message.get("id"))

        def send(member: MemberSession, again: bool) -> Deferred[Message]:
            session.inflight[key] = member
            sent = maybeDeferred(
                member.pool.forward, member, message, self._relayed(member, related)
            )

            def gone(reason: Failure) -> Deferred[Message]:
                if reason.check(SessionGone) and again:
                    self._drop(member, "its own child ended")
                    return self._member(session, server, route).addCallback(send, False)
                return fail(reason)

            return sent.addErrback(gone)

        def done(result: Any) -> Any:
            session.inflight.pop(key, None)
            if tagged and isinstance(result, dict):
                return _retagged(session.tasks, server, result, "result")
            return result

        return self._member(session, server, route).addCallback(send, True).addBoth(done)

    # -- list changes ------------------------------------------------------------

    def _remember(self, session: AggregateSession, view: View) -> None:
        session.seen = _fingerprints(view)

    def _catalogChanged(self, server: str, kinds: frozenset[str]) -> None:
        self.membersChanged()

    def membersChanged(self) -> None:
        """Servers, filters or catalogs changed: every open session whose
        view changed is told (after L{NOTIFY_DELAY}, coalesced)."""
        self._views = OrderedDict()
        self._rowsChanged()
        if not self.sessions:
            return
        if self._notifyCall is None or not self._notifyCall.active():
            self._notifyCall = self._clock.callLater(NOTIFY_DELAY, self._notifyChanges)

    def _notifyChanges(self) -> None:
        self._notifyCall = None
        for session in list(self.sessions):
            # Members whose pool was replaced or removed are dropped.
            for server, member in list(session.members.items()):
                if self._pools.get(server) is not member.pool:
                    self._drop(member, f"server {server} was reconfigured")
            self._probeUnknown(session)
            view = self.viewNow(session)
            if view.unknown:
                self._reprobeLater(REPROBE_SOON)
            now = _fingerprints(view)
            changed = sorted(kind for kind in now if now[kind] != session.seen.get(kind))
            session.seen = now
            for kind in changed:
                session.deliver(jsonrpc.notification(_KIND_METHOD[kind]))
            if changed:
                self.log.info(
                    "aggregate session {sid}: told the client its {kinds} changed",
                    sid=session.shortId,
                    kinds=", ".join(changed),
                )

    def _probeUnknown(self, session: AggregateSession) -> None:
        """Start listing the members never listed (a server just added):
        the session is told when their catalogs arrive."""
        for member in self._memberList(session):
            if member.lists is None:
                pool = self._pools[member.server]
                self._catalogs.ensure(
                    pool, self._catalogKey(pool, session.principal), session.principal
                ).addErrback(lambda _: None)

    # -- background re-probes ----------------------------------------------------

    def _reprobeLater(self, delay: float) -> None:
        """Look at the catalogs the open sessions lack in C{delay} seconds
        (one timer; an earlier one stands)."""
        call = self._reprobeCall
        if call is not None and call.active():
            if call.getTime() <= self._clock.seconds() + delay:
                return
            call.cancel()
        self._reprobeCall = self._clock.callLater(max(0.0, delay), self._reprobe)

    def _reprobe(self) -> None:
        """Probe again, in the background, each catalog an open session
        lacks whose backoff has passed (L{CatalogLike.retryAt}), one probe
        per catalog whatever the number of sessions; then look again at the
        soonest next retry, or while a probe is in flight. A server removed,
        disabled or filtered out is no session's member: it is left alone,
        and with no session lacking anything no timer is left."""
        self._reprobeCall = None
        now = self._clock.seconds()
        soonest: float | None = None
        seen: set[tuple[str, str]] = set()
        for session in list(self.sessions):
            for member in self._memberList(session):
                if member.lists is not None:
                    continue
                pool = self._pools[member.server]
                key = self._catalogKey(pool, session.principal)
                if (member.server, key) in seen:
                    continue
                seen.add((member.server, key))
                at: float | None
                if self._catalogs.probing(member.server, key):
                    at = now + REPROBE_POLL  # its end is looked at then
                else:
                    at = self._catalogs.retryAt(member.server, key)
                if at is not None and at > now:
                    soonest = at if soonest is None else min(soonest, at)
                    continue
                self.reprobes += 1
                self.log.info(
                    "aggregate: listing server {server} again in the background"
                    " (its catalog is not known{why})",
                    server=member.server,
                    why=f": {self._catalogs.reason(member.server, key)}"
                    if self._catalogs.failed(member.server, key)
                    else "",
                )
                probing = self._catalogs.ensure(pool, key, session.principal)
                probing.addBoth(self._reprobed, member.server, key)
        if soonest is not None:
            self._reprobeLater(soonest - now)

    def _reprobed(self, result: object, server: str, key: str) -> None:
        """A background probe ended: look again soon (a catalog that
        arrived has told the sessions already)."""
        if result is None and not (
            self._catalogs.failed(server, key) or self._catalogs.probing(server, key)
        ):
            return  # nothing was probed (the catalogs are stopping): nothing to wait for
        self._reprobeLater(REPROBE_SOON)

    def _rowsChanged(self) -> None:
        if self._tools is None:
            return
        self._tools.rowsChanged(self.searchRows)

    def allTools(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(name, server, definition) of every tool C{/mcp} offers a caller
        who may use every server, named as it names them."""
        session = AggregateSession("all-tools", SERVER_PREFIX, "", {}, {}, 0.0)
        view = self.viewNow(session)
        return [
            (name, owner.server, view.definitions[name]) for name, owner in view.callable.items()
        ]

    def searchRows(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(row name, server, definition) of every tool of every catalog
        (every principal's and route's), for the search index; the row name
        is C{server ROW_SEPARATOR original}, which a caller's view names
        (L{CallContext.localName}) or hides."""
        rows: dict[tuple[str, str], tuple[str, str, dict[str, Any]]] = {}
        for catalog in self._catalogs.known():
            server = catalog.server
            for tool in catalog.lists.get("tools", ()):
                name = tool.get("name") if isinstance(tool, dict) else None
                if isinstance(name, str) and (server, name) not in rows:
                    rows[(server, name)] = (f"{server}{ROW_SEPARATOR}{name}", server, tool)
        return list(rows.values())

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
                if tasked and _tasksCapability(session):
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
        forwarded = {**message, "params": {**params, "name": owner.original}}
        member = view.members[owner.server]
        answer = self._call(
            session, owner.server, member.route, forwarded, related, tagged=not tasked
        )
        if tasked:
            answer.addCallback(self._taskCreated, session, owner.server, member.route, name)
        return answer.addCallback(self._toolAnswered, session, view, name)

    def _taskCreated(
        self, response: Message, session: AggregateSession, server: str, route: str, tool: str
    ) -> Message:
        """A task-augmented call of C{tool} was answered: a C{CreateTaskResult}
        makes its task this session's (through C{server}'s member), under an
        id of the gateway's own (the answer says that one)."""
        result = response.get("result")
        task = result.get("task") if isinstance(result, dict) else None
        childId = task.get("taskId") if isinstance(task, dict) else None
        if (
            isinstance(result, dict)
            and isinstance(task, dict)
            and isinstance(childId, str)
            and not session.ended
        ):
            taskId, forgotten = session.tasks.remember(server, childId, route, tool, task)
            for gone in forgotten:
                self.log.info(
                    "aggregate session {sid}: forgot task {task!r} (at most {limit} tasks,"
                    " or its server made its id again)",
                    sid=session.shortId,
                    task=gone,
                    limit=session.tasks.limit,
                )
            response = {**response, "result": {**result, "task": {**task, "taskId": taskId}}}
        # Otherwise answered at once (a server that runs it as a plain call).
        return _retagged(session.tasks, server, response, "result")

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
        return spec if spec.mode == session.mode else _withMode(spec, session.mode)

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
            forwarded = {**message, "params": {**params, "name": owner.original}}
            return self._call(
                session, owner.server, view.members[owner.server].route, forwarded, related
            )

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
            answer = self._call(session, server, view.members[server].route, message, related)
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

    def _taskRequest(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        """C{tasks/get}, C{tasks/result} or C{tasks/cancel}: to the member
        that created the task, for a task this session created only."""
        method = str(message.get("method"))
        taskId = params.get("taskId")
        entry = session.tasks.get(taskId)
        if entry is None:
            raise CallFailed(
                jsonrpc.INVALID_PARAMS,
                f"{TASK_NOT_FOUND}: {_shownCursor(taskId)} is not a task of this session"
                if isinstance(taskId, str)
                else f"{method} needs a taskId (a string)",
            )
        assert isinstance(taskId, str)
        if not session.mayUse(entry.server) or entry.server not in self._pools:
            session.tasks.forget(taskId)
            raise CallFailed(
                jsonrpc.INVALID_PARAMS,
                f"{TASK_NOT_FOUND}: its server '{entry.server}' is not available to this"
                " session any more",
            )
        forwarded = {**message, "params": {**params, "taskId": entry.childId}}
        answer = self._call(session, entry.server, entry.route, forwarded, related, tagged=False)
        answer.addCallback(self._taskAnswered, session, taskId, method)
        if method == "tasks/result":
            tool = entry.tool
            answer.addCallback(
                lambda response: self._shielded(response, session, self.viewNow(session), tool)
            )
        return answer

    def _taskAnswered(
        self, response: Message, session: AggregateSession, taskId: str, method: str
    ) -> Message:
        """Keep what the member said of C{taskId} (a task it no longer knows
        is forgotten); the answer says the session's id, not the child's."""
        entry = session.tasks.get(taskId)
        if entry is None:
            return response
        response = _retagged(session.tasks, entry.server, response, "result")
        result = response.get("result")
        error = response.get("error")
        if isinstance(result, dict):
            if method == "tasks/result":
                session.tasks.ended(taskId)
                self._learn(session, entry.server, result)
            elif result.get("taskId") == entry.childId:
                session.tasks.update(taskId, result)
                response = {**response, "result": {**result, "taskId": taskId}}
        elif (
            method != "tasks/cancel"  # -32602 there: it was terminal already
            and isinstance(error, dict)
            and error.get("code") == jsonrpc.INVALID_PARAMS
        ):
            session.tasks.forget(taskId)  # expired or unknown in its child
        return response

    def _tasksList(
        self,
        session: AggregateSession,
        message: Message,
        params: dict[str, Any],
        related: Sink | None,
    ) -> Deferred[Message]:
        """This session's tasks (and no other's), oldest first, a page of
        L{TASKS_PAGE}; a task not known to have ended is asked of its open
        member first (C{tasks/get}) so its status is current."""
        cursor = params.get("cursor")
        try:
            shown, nextCursor = session.tasks.page(cursor, TASKS_PAGE)
        except ValueError:
            raise CallFailed(
                jsonrpc.INVALID_PARAMS,
                f"Invalid params: invalid cursor {_shownCursor(cursor)}",
            ) from None
        asked: list[Deferred[None]] = []

        def refreshed(response: Message, taskId: str) -> None:
            self._taskAnswered(response, session, taskId, "tasks/get")

        for taskId, entry in shown:
            member = session.members.get(entry.server)
            if entry.terminal or member is None or member.pool.gone(member) is not None:
                continue
            request = jsonrpc.request(
                f"mcpgateway-{secrets.token_hex(4)}", "tasks/get", {"taskId": entry.childId}
            )
            asked.append(
                maybeDeferred(member.pool.forward, member, request, None).addCallbacks(
                    refreshed, lambda _: None, callbackArgs=(taskId,)
                )
            )

        def answer(_: object) -> Message:
            tasks = []
            for taskId, _entry in shown:
                entry = session.tasks.get(taskId)
                if entry is not None:
                    tasks.append({**entry.task, "taskId": taskId})
            result: dict[str, Any] = {"tasks": tasks}
            if nextCursor is not None:
                result["nextCursor"] = nextCursor
            return jsonrpc.resultResponse(message["id"], result)

        return DeferredList(asked, consumeErrors=True).addCallback(answer)

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


Handler = Callable[
    [Aggregator, AggregateSession, Message, dict[str, Any], Sink | None], Deferred[Message]
]
_VIEW_ATTR = {
    "tools": "tools",
    "prompts": "prompts",
    "resources": "resources",
    "resourceTemplates": "templates",
}


def _lister(attribute: str) -> Handler:
    """The handler of one list request: the whole list, from the view."""
    kind = "resources" if attribute == "resourceTemplates" else attribute

    def handle(
        aggregator: Aggregator,
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
                f"Invalid params: invalid cursor {_shownCursor(cursor)}: this endpoint lists"
                f" everything in one page and gives no cursors",
            )

        def answer(view: View) -> Message:
            session.seen[kind] = _fingerprints(view)[kind]
            items = list(getattr(view, _VIEW_ATTR[attribute]))
            return jsonrpc.resultResponse(message["id"], {attribute: items})

        return aggregator.view(session).addCallback(answer)

    return handle


_HANDLERS: dict[str, Handler] = {
    "ping": Aggregator._ping,
    "tools/list": _lister("tools"),
    "prompts/list": _lister("prompts"),
    "resources/list": _lister("resources"),
    "resources/templates/list": _lister("resourceTemplates"),
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


def _tasksCapability(session: AggregateSession) -> dict[str, Any]:
    """The C{tasks} server capability the session is offered (empty before
    2025-11-25): task-augmented C{tools/call} (for the tools whose
    C{execution.taskSupport} allows it), C{tasks/list} and C{tasks/cancel}."""
    if session.protocolVersion < TASKS_SINCE:
        return {}
    return {"tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}}


def _retagged(tasks: TaskTable, server: str, message: Message, key: str) -> Message:
    """C{message} with the related-task tag (C{_meta} L{RELATED_TASK}) of
    its C{key} (C{"params"} or C{"result"}) naming the session's id of the
    task C{server}'s child names; without the tag when the task is not one
    the session keeps (a child's id is never shown)."""
    payload = message.get(key)
    meta = payload.get("_meta") if isinstance(payload, dict) else None
    if not isinstance(meta, dict) or RELATED_TASK not in meta:
        return message
    assert isinstance(payload, dict)
    tag = meta[RELATED_TASK]
    taskId = tasks.idOf(server, tag.get("taskId")) if isinstance(tag, dict) else None
    kept = {name: value for name, value in meta.items() if name != RELATED_TASK}
    if taskId is not None:
        assert isinstance(tag, dict)
        kept[RELATED_TASK] = {**tag, "taskId": taskId}
    payload = {name: value for name, value in payload.items() if name != "_meta"}
    if kept:
        payload["_meta"] = kept
    return {**message, key: payload}


def _shownCursor(cursor: Any) -> str:
    """A client's cursor as an error may quote it (short, one line)."""
    text = cursor if isinstance(cursor, str) else jsonrpc.dumps(cursor).decode("utf-8", "replace")
    text = repr(text[:40] + ("…" if len(text) > 40 else ""))
    return text


def _fingerprints(view: View) -> dict[str, str]:
    return dict(view.fingerprints)


def _withMode(spec: EndpointSpec, mode: str) -> EndpointSpec:
    from dataclasses import replace

    shield = replace(spec.shield, enabled=True) if mode == "search" else spec.shield
    return replace(spec, mode=mode, shield=shield)


class CallContext:
    """One client C{tools/call} of a gateway tool, as L{ToolsLike.call}
    sees it (the C{ToolContext} of L{mcpgateway.core.aggregate.tools})."""

    def __init__(
        self,
        aggregator: Aggregator,
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

    def invoke(self, name: str, arguments: dict[str, Any]) -> Deferred[dict[str, Any]]:
        owner: Owner | None = self._view.callable.get(name)
        if owner is None:
            return fail(
                _toolError({"code": jsonrpc.INVALID_PARAMS, "message": f"Unknown tool: {name}"})
            )
        params = self._message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        inner: dict[str, Any] = {"name": owner.original, "arguments": arguments}
        if isinstance(meta, dict):
            inner["_meta"] = meta
        forwarded = {**self._message, "params": inner}
        member = self._view.members[owner.server]
        answer = self._aggregator._call(
            self._session, owner.server, member.route, forwarded, self._related
        )

        def result(response: Message) -> dict[str, Any]:
            if "result" in response and isinstance(response["result"], dict):
                self._aggregator._learn(self._session, owner.server, response["result"])
                out: dict[str, Any] = response["result"]
                return out
            error = self._session.forCaller(response).get("error") or {}
            raise _toolError(error)

        return answer.addCallback(result)


def _toolError(error: Mapping[str, Any]) -> Exception:
    from mcpgateway.core.aggregate.tools import ToolCallError

    return ToolCallError(
        int(error.get("code", jsonrpc.INTERNAL_ERROR)), str(error.get("message", ""))
    )
