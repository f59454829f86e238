# -*- test-case-name: tests.web.endpoints.test_aggregate_web, tests.core.aggregate.test_era2026, tests.governance.test_policy_members -*-
"""What an aggregate session sees.

One job: make the L{View} of a session (its members' tools, prompts and
resources under the names its endpoint gives them, screened by the member
policy for its caller) from the catalogs, kept in a cache of the most
recently used views; wait for the catalogs a view lacks; and say why a
member or a name is not there yet.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, succeed

from mcpgateway.core.aggregate.calls import withheldReason
from mcpgateway.core.aggregate.memberpolicy import Asker, MemberGate, screened
from mcpgateway.core.aggregate.naming import Namer
from mcpgateway.core.aggregate.roster import Roster
from mcpgateway.core.aggregate.session import (
    STARTING,
    VIEWS,
    AggregateSession,
    CatalogLike,
    ToolsLike,
)
from mcpgateway.core.aggregate.view import View, buildView
from mcpgateway.core.pools.pool import PoolLike


class SessionViews:
    """The views of the aggregate sessions, and why what they lack is missing."""

    def __init__(
        self,
        pools: Mapping[str, PoolLike],
        catalogs: CatalogLike,
        roster: Roster,
        gate: MemberGate,
        namer: Namer,
        tools: ToolsLike | None,
        reprobeSoon: Callable[[], None],
    ) -> None:
        """
        @param gate: the member policy a caller's view is screened by.
        @param namer: how the members' names are shown (L{use} replaces it).
        @param tools: the gateway's own tools, whose definitions a view holds.
        @param reprobeSoon: have the catalogs a session lacks probed again
            in the background soon.
        """
        self._pools = pools
        self._catalogs = catalogs
        self._roster = roster
        self._gate = gate
        self._tools = tools
        self._reprobeSoon = reprobeSoon
        self.namer = namer
        """How the members' names are shown now."""
        self._views: OrderedDict[Hashable, View] = OrderedDict()

    def use(self, namer: Namer) -> None:
        """Name the members' tools with C{namer} from now on."""
        self.namer = namer
        self.forget()

    def forget(self) -> None:
        """Forget every view made (servers, filters or catalogs changed)."""
        self._views = OrderedDict()

    def viewNow(self, session: AggregateSession) -> View:
        """The session's view from the catalogs known now, screened by the
        member policy for its caller."""
        key, view = self._whole(session)
        policy = self._gate.policy
        if policy is None:
            return view
        views = self._views
        asker = session.asker if session.asker is not None else Asker()
        screenedKey = (key, "screened", policy.viewKey(asker))
        found = views.get(screenedKey)
        if found is None:
            while len(views) >= VIEWS:
                views.popitem(last=False)
            found = views[screenedKey] = screened(view, policy, asker)
        return found

    def wholeNow(self, session: AggregateSession) -> View:
        """The session's view from the catalogs known now, before the member
        policy screened it: what the caller's requests resolve to whether or
        not it may make them (L{MemberGate.decideHidden})."""
        return self._whole(session)[1]

    def _whole(self, session: AggregateSession) -> tuple[Hashable, View]:
        """The session's unscreened view now, and its key in the cache."""
        members = self._roster.members(session)
        key = (
            session.endpoint,
            session.mode,
            tuple(
                (m.server, m.route, m.filter, id(m.lists) if m.lists is not None else None)
                for m in members
            ),
        )
        views = self._views
        view = views.get(key)
        if view is not None:
            views.move_to_end(key)
        else:
            while len(views) >= VIEWS:
                views.popitem(last=False)
            endpoint = self._roster.endpointOf(session)
            shielded = endpoint.shield.enabled
            definitions = (
                {d["name"]: d for d in self._tools.definitions(True)}
                if self._tools is not None
                else {}
            )
            view = buildView(endpoint, members, self.namer, definitions, shielded)
            views[key] = view
        return key, view

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
        for member in self._roster.members(session):
            pool = self._pools[member.server]
            key = self._roster.keyOf(member.server, session)
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
            self._reprobeSoon()
        if not pending:
            return succeed(self.viewNow(session))
        if again:
            return DeferredList(pending).addCallback(lambda _: self.view(session, again=False))
        return DeferredList(pending).addCallback(lambda _: self.viewNow(session))

    def unavailable(self, session: AggregateSession, view: View) -> dict[str, str]:
        """Why each member of C{view} whose catalog is not known is left
        out, as its client may be told (server -> the rest of a sentence
        that starts with the server's name; never a child's stderr)."""
        out: dict[str, str] = {}
        for server in view.unknown:
            key = self._roster.catalogKeyFor(server, session.principal)
            if key is None:
                continue
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
            return withheldReason(self.namer, self._pools, view, name)
        separator = self.namer.settings.separator
        owners = []
        for server in view.unknown:
            member = view.members[server]
            prefix, _ = self.namer.prefix(server, member.filter.alias)
            if name.startswith(prefix + separator):
                owners.append(server)
        if not owners:
            return withheldReason(self.namer, self._pools, view, name)
        server = max(owners, key=len)  # the longest prefix names it
        why = self.unavailable(session, view).get(server, f"is {STARTING}")
        return f"{name} is not known yet: server '{server}' {why}"

    def listsPrivately(self, session: AggregateSession, view: View) -> bool:
        """Whether a member of C{view} listed C{private} what C{session}
        sees of it: then what the aggregate lists is private too."""
        for server in view.members:
            key = self._roster.catalogKeyFor(server, session.principal)
            catalog = None if key is None else self._catalogs.get(server, key)
            if getattr(catalog, "private", None):
                return True
        return False

    def instructions(self, session: AggregateSession, server: str) -> str | None:
        """The C{instructions} member C{server}'s catalog C{session} sees
        gave (C{None}: none, or no such server)."""
        key = self._roster.catalogKeyFor(server, session.principal)
        if key is None:
            return None
        text = getattr(self._catalogs.get(server, key), "instructions", None)
        return text if isinstance(text, str) else None

    def capabilities(self, session: AggregateSession, server: str) -> dict[str, Any]:
        """The C{capabilities} member C{server}'s catalog C{session} sees
        declared (empty: none known, or no such server)."""
        key = self._roster.catalogKeyFor(server, session.principal)
        if key is None:
            return {}
        declared = getattr(self._catalogs.get(server, key), "capabilities", None)
        return declared if isinstance(declared, dict) else {}
