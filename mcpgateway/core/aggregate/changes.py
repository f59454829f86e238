# -*- test-case-name: tests.web.endpoints.test_aggregate_web, tests.core.aggregate.test_era2026 -*-
"""How the aggregate endpoint follows what its members list.

One job: when servers, filters or catalogs change (a child listed again, a
server added, removed or reconfigured), tell whoever shows them: every open
session whose view changed gets the C{*/list_changed} of what changed, once
per burst (after L{NOTIFY_DELAY}); the watchers (the 2026-07-28 listen
streams, which have no session) at once; and the gateway's search index
gets the rows of every catalog again (L{searchRows}).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mcpgateway.core.aggregate.calls import fingerprints
from mcpgateway.core.aggregate.members import MemberSessions
from mcpgateway.core.aggregate.reprobes import Reprobes
from mcpgateway.core.aggregate.session import (
    KIND_METHOD,
    NOTIFY_DELAY,
    AggregateSession,
    CatalogLike,
    ToolsLike,
)
from mcpgateway.core.aggregate.sessionviews import SessionViews
from mcpgateway.core.aggregate.tools import KEY_SEPARATOR, ROW_SEPARATOR
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs


class ListChanges:
    """Tells the sessions, the watchers and the search index of changes."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        pools: Mapping[str, PoolLike],
        catalogs: CatalogLike,
        clock: IReactorTime,
        sessions: Collection[AggregateSession],
        views: SessionViews,
        members: MemberSessions,
        reprobes: Reprobes,
        tools: ToolsLike | None,
    ) -> None:
        """
        @param sessions: the open aggregate sessions (the live collection).
        @param tools: the gateway's own tools, whose search index is told
            (C{None}: none).
        """
        self._pools = pools
        self._catalogs = catalogs
        self._clock = clock
        self._sessions = sessions
        self._views = views
        self._members = members
        self._reprobes = reprobes
        self._tools = tools
        self._notifyCall: IDelayedCall | None = None
        self.watchers: set[Callable[[], object]] = set()
        """Called whenever what a view may show changed (L{membersChanged}):
        the 2026-07-28 listen streams, which have no session."""

    def catalogChanged(self, server: str, kinds: frozenset[str]) -> None:
        """Server C{server}'s lists of C{kinds} changed (the catalogs say)."""
        self.membersChanged()

    def membersChanged(self) -> None:
        """Servers, filters or catalogs changed: every open session whose
        view changed is told (after L{NOTIFY_DELAY}, coalesced), and every
        watcher at once."""
        self._views.forget()
        self._rowsChanged()
        for watcher in list(self.watchers):
            watcher()
        if not self._sessions:
            return
        if self._notifyCall is None or not self._notifyCall.active():
            self._notifyCall = self._clock.callLater(NOTIFY_DELAY, self._notifyChanges)

    def _notifyChanges(self) -> None:
        self._notifyCall = None
        for session in list(self._sessions):
            # Members whose pool was replaced or removed are dropped.
            for server, member in list(session.members.items()):
                if self._pools.get(server) is not member.pool:
                    self._members.drop(member, f"server {server} was reconfigured")
            self._reprobes.probeUnknown(session)
            view = self._views.viewNow(session)
            if view.unknown:
                self._reprobes.soon()
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

    def _rowsChanged(self) -> None:
        if self._tools is None:
            return
        catalogs = self._catalogs
        self._tools.rowsChanged(lambda: searchRows(catalogs))


def searchRows(catalogs: CatalogLike) -> list[tuple[str, str, dict[str, Any]]]:
    """(row name, server, definition) of every tool of every catalog
    (every principal's and route's), for the search index; the row name
    is C{server ROW_SEPARATOR original}, which a caller's view names
    (L{CallContext.localName<mcpgateway.core.aggregate.callcontext.CallContext.localName>})
    or hides. A row of one principal's catalog (kept under its key, or
    listed C{private}) is C{server KEY_SEPARATOR key ROW_SEPARATOR original}:
    found by that principal only, so what a server listed for one caller
    never reaches another's search, not even its wording."""
    rows: dict[tuple[str, str, str | None], tuple[str, str, dict[str, Any]]] = {}
    for catalog in catalogs.known():
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
