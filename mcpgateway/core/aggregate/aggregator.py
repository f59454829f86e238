# -*- test-case-name: tests.web.endpoints.test_aggregate_web -*-
"""The aggregate endpoint's sessions: one client session over many servers.

One job: hold every L{AggregateSession} (a client session on C{/mcp}) of
the gateway through its life (opened, restored, ended) and what they
share: the endpoints' settings, the member policy, the kept results. Each
session's requests are answered from the servers' catalogs and routed to
the server that owns the name or URI, through a L{MemberSession} per
server opened at the first use. The work is done by collaborators, one job
each, which the aggregator makes and wires:

  - L{Roster}: which members a session has (endpoints, filters, routes);
  - L{SessionViews}: what a session sees of them (its view), and why what
    it lacks is missing;
  - L{Reprobes}: the background probes of the catalogs not known yet;
  - L{MemberRelay}: what crosses between a client and its members besides
    a request's answer, re-keyed per session so nothing reaches a session
    that is not its owner;
  - L{MemberSessions}: the member sessions, opened, called and dropped;
  - L{GatewayCalls}: the context a gateway tool's call runs in, and the
    shield of a member's result;
  - L{TaskRequests}: the tasks a member made for a session;
  - L{RequestHandlers}: the answer to each client request;
  - L{ListChanges}: the sessions, listen streams and search index told of
    what changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core.aggregate import apps, skills
from mcpgateway.core.aggregate.callcontext import GatewayCalls
from mcpgateway.core.aggregate.calls import fingerprints, tasksCapability
from mcpgateway.core.aggregate.changes import ListChanges
from mcpgateway.core.aggregate.memberpolicy import MemberGate, MemberPolicy
from mcpgateway.core.aggregate.members import MemberSessions
from mcpgateway.core.aggregate.naming import Namer
from mcpgateway.core.aggregate.relay import MemberRelay
from mcpgateway.core.aggregate.reprobes import Reprobes
from mcpgateway.core.aggregate.requesthandlers import RequestHandlers
from mcpgateway.core.aggregate.results import CallerResults, ResultBudget
from mcpgateway.core.aggregate.roster import Roster
from mcpgateway.core.aggregate.session import (
    GATEWAY_TOOL_NAMES,
    MEMBER_INSTRUCTIONS,
    SERVER_INFO,
    AggregateSession,
    CatalogLike,
    MemberSession,
    Sink,
    ToolsLike,
)
from mcpgateway.core.aggregate.sessionviews import SessionViews
from mcpgateway.core.aggregate.skillrequests import Era2026Skills, SessionSkills, callerBound
from mcpgateway.core.aggregate.taskrequests import TaskRequests
from mcpgateway.core.aggregate.types import SERVER_PREFIX, EndpointSpec, NameSettings, ShieldSpec
from mcpgateway.core.aggregate.view import View
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ToolFilter
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs


class Aggregator:
    """Every aggregate session of the gateway, and what they share: the
    endpoints' settings, the member policy, the result budget; it makes
    the collaborators that do the work and hands each what it needs."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        pools: Mapping[str, PoolLike],
        catalogs: CatalogLike,
        clock: IReactorTime,
        *,
        tools: ToolsLike | None = None,
        budget: ResultBudget | None = None,
        filters: Callable[[str], ToolFilter] | None = None,
        catalogKey: Callable[[PoolLike, str], str] | None = None,
    ) -> None:
        """
        @param pools: the gateway's pools (the live mapping: reconfigures show).
        @param filters: a server's own filter (its entry's C{includeTools},
            C{excludeTools}, C{toolBudget}, C{alias}, C{aggregate}).
        @param catalogKey: which catalog of a pool a principal sees.
        """
        self._tools = tools
        self.budget = budget if budget is not None else ResultBudget()
        self.callerResults = CallerResults(clock, self.budget)
        """The results kept for the callers without a session (2026-07-28)."""
        self.sessions: set[AggregateSession] = set()
        """The open aggregate sessions (the collaborators share this set)."""
        self.memberGate = MemberGate()
        """The member policy, and the decision of each member request
        (L{MemberGate.decideMember}), which search, C{invoke} and the
        2026-07-28 side share."""
        self._roster = Roster(
            pools,
            catalogs,
            filters if filters is not None else (lambda server: ToolFilter()),
            catalogKey if catalogKey is not None else (lambda pool, principal: ""),
        )
        self._reprobes = Reprobes(pools, catalogs, clock, self._roster, self.sessions)
        self.views = SessionViews(
            pools,
            catalogs,
            self._roster,
            self.memberGate,
            Namer(NameSettings(), GATEWAY_TOOL_NAMES),
            tools,
            self._reprobes.soon,
        )
        """What each session sees (its view), and why what it lacks is missing."""
        self._relay = MemberRelay()
        self._members = MemberSessions(pools, clock, self.sessions, self._relay, self.views.viewNow)
        self.gatewayCalls = GatewayCalls(
            self._roster, self.views, self._members, self.memberGate, tools, clock, self.budget
        )
        """What a call of a gateway tool runs in."""
        tasks = TaskRequests(pools, self._members, self.gatewayCalls, self.views.viewNow)
        self.skills = skills.AggregateSkills(clock)
        """The members' skills listings, kept for their C{ttlMs}."""

        def dependsOnCaller(server: str) -> bool:
            return callerBound(pools, server)

        self.era2026Skills = Era2026Skills(
            self.skills, self.views, self.memberGate, dependsOnCaller
        )
        """The Skills extension's requests of the 2026-07-28 callers."""
        sessionSkills = SessionSkills(
            self.skills, self.views, self._members, self.memberGate, dependsOnCaller
        )
        self.gatewayCalls.skills = sessionSkills.entries
        self._requests = RequestHandlers(
            self.views,
            self._members,
            self.memberGate,
            self.gatewayCalls,
            tasks,
            tools,
            sessionSkills,
        )
        self.forward: Callable[[AggregateSession, Message, Sink | None], Deferred[Message]] = (
            self._requests.forward
        )
        """Serve one client request; fires with its response (errors are
        JSON-RPC error responses, never failures). The handlers' own method
        (L{RequestHandlers.forward}): a request takes no extra call on its way."""
        self._changes = ListChanges(
            pools,
            catalogs,
            clock,
            self.sessions,
            self.views,
            self._members,
            self._reprobes,
            tools,
        )
        self.watchers = self._changes.watchers
        """Called whenever what a view may show changed (C{membersChanged}):
        the 2026-07-28 listen streams, which have no session."""
        self.useEndpoints({}, NameSettings())
        catalogs.observe(self._changes.catalogChanged)

    # -- settings --------------------------------------------------------------

    def useEndpoints(self, endpoints: Mapping[str, EndpointSpec], names: NameSettings) -> None:
        """Serve C{endpoints} (name -> settings; C{default} and C{search}
        are added when missing) under C{names} from now on."""
        chosen = dict(endpoints)
        chosen.setdefault("default", EndpointSpec())
        chosen.setdefault(
            "search", EndpointSpec(name="search", mode="search", shield=ShieldSpec(enabled=True))
        )
        self._roster.use(chosen)
        self.views.use(Namer(names, GATEWAY_TOOL_NAMES))
        self.membersChanged()

    @property
    def endpoints(self) -> Mapping[str, EndpointSpec]:
        """The endpoints served, by name."""
        return self._roster.endpoints

    def endpoint(self, name: str) -> EndpointSpec | None:
        """The settings of endpoint C{name} (C{None}: no such endpoint)."""
        return self._roster.endpoints.get(name)

    @property
    def ownTools(self) -> ToolsLike | None:
        """The gateway's own tools (C{search}, C{describe}, C{invoke},
        C{get_result}); C{None}: it has none."""
        return self._tools

    @property
    def memberPolicy(self) -> MemberPolicy | None:
        """The policy each caller's view and member request is decided by
        (L{mcpgateway.core.aggregate.memberpolicy}); C{None}: none."""
        return self.memberGate.policy

    @memberPolicy.setter
    def memberPolicy(self, policy: MemberPolicy | None) -> None:
        self.memberGate.policy = policy

    @property
    def reprobes(self) -> int:
        """Background probes started for members whose catalog is not known."""
        return self._reprobes.count

    # -- what a session sees ---------------------------------------------------

    def viewNow(self, session: AggregateSession) -> View:
        """The session's view from the catalogs known now."""
        return self.views.viewNow(session)

    def view(self, session: AggregateSession, renew: bool = False) -> Deferred[View]:
        """The session's view once every member's catalog is known (see
        L{SessionViews.view}); with C{renew}, a catalog past its C{ttlMs}
        is listed again first."""
        return self.views.view(session, renew)

    def membersChanged(self) -> None:
        """Servers, filters or catalogs changed: every open session whose
        view changed is told (coalesced), and every watcher at once."""
        self.skills.cache.forget()  # a changed server lists its skills afresh
        self._changes.membersChanged()

    def allTools(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(name, server, definition) of every tool C{/mcp} offers a caller
        who may use every server, named as it names them."""
        session = AggregateSession("all-tools", SERVER_PREFIX, "", {}, {}, 0.0)
        view = self.views.viewNow(session)
        return [
            (name, owner.server, view.definitions[name]) for name, owner in view.callable.items()
        ]

    # -- the session's life ----------------------------------------------------

    def open(self, session: AggregateSession, initialize: Message) -> Deferred[Message]:
        """Fires with the answer to C{session}'s C{initialize} once the
        catalogs of its members are known (a server never listed is probed
        once, at most the catalogs' timeout); then it is told of changes."""
        return self.views.view(session).addCallback(
            lambda view: self._initialized(session, view, initialize)
        )

    def _initialized(self, session: AggregateSession, view: View, initialize: Message) -> Message:
        result = self.initializeResult(session, view)
        if not session.ended:
            self.sessions.add(session)
        session.seen = fingerprints(view)
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
        unavailable = self.views.unavailable(session, view)
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
        ui = apps.declared(self.views.capabilities(session, server) for server in view.members)
        if ui is not None:  # a member declares MCP Apps: so does the aggregate
            result["capabilities"]["extensions"] = {apps.EXTENSION: ui}
        found = (skills.settingsOf(self.views.capabilities(session, s)) for s in view.members)
        declared = [settings for settings in found if settings is not None]
        if declared:  # a member declares Skills: so does the aggregate
            result["capabilities"].setdefault("extensions", {}).update(skills.capability(declared))
        if instructions:
            result["instructions"] = instructions
        return result

    def _memberInstructions(self, session: AggregateSession, view: View) -> str:
        """The members' own C{instructions}, each under its server's name
        (full mode: the model sees their tools, so it needs their advice;
        at most L{MEMBER_INSTRUCTIONS} characters each)."""
        parts = []
        for server in view.members:
            text = self.views.instructions(session, server)
            if text is not None and text.strip():
                text = text.strip()
                if len(text) > MEMBER_INSTRUCTIONS:
                    text = text[:MEMBER_INSTRUCTIONS] + "…"
                parts.append(f"\n\n## {server}\n{text}")
        return "".join(parts)

    def restore(self, session: AggregateSession) -> set[str]:
        """Take C{session} back (restored from a previous process) with its
        saved members, each restored on its server's pool with its own id
        (a member whose server is not configured yet is taken back at its
        next use); the names of the servers of the members restored."""
        self.sessions.add(session)
        view = self.views.viewNow(session)
        session.seen = fingerprints(view)
        if view.unknown:
            self._reprobes.soon()
        return self._members.restore(session)

    def merge(self, session: AggregateSession, last: AggregateSession) -> set[str]:
        """C{last} is the predecessor's last record of C{session}, which this
        process restored from an earlier one: C{session}'s members become
        those it names (L{MemberSessions.merge}); the names of the servers
        of the members restored."""
        saved = {**last.saved}
        return self._members.merge(session, saved)

    def restoreSaved(self) -> set[str]:
        """Restore the saved members of every session whose server is
        configured now (the configuration is complete); the names of their
        servers."""
        servers: set[str] = set()
        for session in list(self.sessions):
            if session.saved:
                servers |= self._members.restore(session)
        return servers

    @property
    def memberChanged(self) -> Callable[[MemberSession], object] | None:
        """Told when a session's members changed (one opened, restored or
        dropped), so that the record holding them is saved again."""
        return self._members.changed

    @memberChanged.setter
    def memberChanged(self, changed: Callable[[MemberSession], object] | None) -> None:
        self._members.changed = changed

    def close(self, session: AggregateSession, reason: str = "session ended") -> Deferred[None]:
        """End C{session} and its members."""
        session.ended = True
        self.sessions.discard(session)
        if session.results is not None:
            session.results.clear()
        closing = self._members.closeAll(session, reason)
        session.tasks.clear()
        return DeferredList(closing, consumeErrors=True).addCallback(lambda _: None)

    def gone(self, session: Session) -> str | None:
        """Why C{session} cannot be served any more: never (its members
        are opened again at their next use)."""
        return None

    def ownChildPids(self, session: AggregateSession) -> list[int]:
        """The pids of the children C{session}'s members have of their own."""
        pids: list[int] = []
        for member in session.members.values():
            pids += member.pool.ownChildPids(member)
        return pids

    def memberGone(self, member: MemberSession, reason: str) -> Deferred[None]:
        """C{member}'s own child is gone (the reaper found it): the member is
        dropped and opened again at its next use; the client's session lives."""
        return self._members.gone(member, reason)

    # -- what crosses between a client and its members -------------------------

    def notify(self, session: AggregateSession, message: Message) -> None:
        """Pass a client notification to the members it concerns."""
        self._relay.notify(session, message)

    def answer(self, session: AggregateSession, message: Message) -> bool:
        """Pass a client's answer to a member's request; C{False} if this
        session was asked no such thing."""
        return self._relay.answer(session, message)

    # -- status ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The aggregate's line of C{/health}: its sessions, their members,
        its endpoints and the results kept."""
        return {
            "sessions": len(self.sessions),
            "members": sum(len(s.members) for s in self.sessions),
            "endpoints": sorted(self._roster.endpoints),
            "results": {
                "stored": len(self.budget._order),
                "bytes": self.budget.used,
                "evicted": self.budget.evicted,
            },
        }
