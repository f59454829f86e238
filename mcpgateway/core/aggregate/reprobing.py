# -*- test-case-name: tests.web.test_mcp -*-
"""How the aggregate endpoint follows its members' catalogs.

A member's catalog changing (a child listed again, a server added or
removed) tells every session whose view changed, once per burst
(C{list_changed}); a member whose catalog is not known yet is probed in the
background, and probed again later while it stays unknown. L{MemberChanges}
is a part of L{mcpgateway.core.aggregate.aggregator.Aggregator}: the
attributes and methods it declares without defining are the aggregator's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mcpgateway.core.aggregate.calls import (
    fingerprints,
)
from mcpgateway.core.aggregate.session import (
    KIND_METHOD,
    NOTIFY_DELAY,
    REPROBE_POLL,
    REPROBE_SOON,
    AggregateSession,
    CatalogLike,
    ToolsLike,
)
from mcpgateway.core.aggregate.tools import KEY_SEPARATOR, ROW_SEPARATOR
from mcpgateway.core.aggregate.view import Member, View
from mcpgateway.core.pools.pool import ServerPool
from mcpgateway.protocol import jsonrpc


class MemberChanges:
    """How the aggregate endpoint follows its members' catalogs."""

    _catalogKey: Callable[[ServerPool, str], str]
    _catalogs: CatalogLike
    _clock: IReactorTime
    _drop: Callable[..., None]
    _memberList: Callable[..., list[Member]]
    _notifyCall: IDelayedCall | None
    _pools: Mapping[str, ServerPool]
    _reprobeCall: IDelayedCall | None
    _tools: ToolsLike | None
    _views: OrderedDict[Any, View]
    log: Logger
    reprobes: int
    sessions: set[AggregateSession]
    viewNow: Callable[..., View]
    watchers: set[Callable[[], object]]

    def catalogKeyFor(self, server: str, principal: str) -> str | None:
        """The key of the catalog of C{server} C{principal} sees (C{None}:
        no such server)."""
        pool = self._pools.get(server)
        return None if pool is None else self._catalogKey(pool, principal)

    def listsPrivately(self, session: AggregateSession, view: View) -> bool:
        """Whether a member of C{view} listed C{private} what C{session}
        sees of it: then what the aggregate lists is private too."""
        for server in view.members:
            key = self.catalogKeyFor(server, session.principal)
            catalog = None if key is None else self._catalogs.get(server, key)
            if getattr(catalog, "private", None):
                return True
        return False

    def searchRows(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(row name, server, definition) of every tool of every catalog
        (every principal's and route's), for the search index; the row name
        is C{server ROW_SEPARATOR original}, which a caller's view names
        (L{CallContext.localName}) or hides. A row of one principal's
        catalog (kept under its key, or listed C{private}) is
        C{server KEY_SEPARATOR key ROW_SEPARATOR original}: found by that
        principal only, so what a server listed for one caller never
        reaches another's search, not even its wording."""
        rows: dict[tuple[str, str, str | None], tuple[str, str, dict[str, Any]]] = {}
        for catalog in self._catalogs.known():
            server = catalog.server
            # One principal's catalog (its own key, or lists it was told are
            # private) is searched by that principal only.
            key: str | None = catalog.catalogKey
            head = f"{server}{KEY_SEPARATOR}{key}"
            if not key and not getattr(catalog, "private", None):
                key, head = None, server
            for tool in catalog.lists.get("tools", ()):
                name = tool.get("name") if isinstance(tool, dict) else None
                if isinstance(name, str) and (server, name, key) not in rows:
                    rows[(server, name, key)] = (f"{head}{ROW_SEPARATOR}{name}", server, tool)
        return list(rows.values())

    def _catalogChanged(self, server: str, kinds: frozenset[str]) -> None:
        self.membersChanged()

    def membersChanged(self) -> None:
        """Servers, filters or catalogs changed: every open session whose
        view changed is told (after L{NOTIFY_DELAY}, coalesced), and every
        watcher at once."""
        self._views = OrderedDict()
        self._rowsChanged()
        for watcher in list(self.watchers):
            watcher()
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
            now = fingerprints(view)
            changed = sorted(kind for kind in now if now[kind] != session.seen.get(kind))
            session.seen = now
            for kind in changed:
                session.deliver(jsonrpc.notification(KIND_METHOD[kind]))
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
