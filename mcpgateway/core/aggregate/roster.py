# -*- test-case-name: tests.web.endpoints.test_aggregate_web, tests.core.aggregate.test_visit -*-
"""Which members an aggregate session has.

One job: from the endpoints' settings (C{aggregate.json}), each server's
own filter and the live pools, say which servers are an aggregate
session's members, on which route of each, with which catalog (a
principal's own for a server that lists per principal). What a session
sees of them is made elsewhere (L{mcpgateway.core.aggregate.sessionviews}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mcpgateway.core.aggregate.calls import withMode
from mcpgateway.core.aggregate.session import AggregateSession, CatalogLike
from mcpgateway.core.aggregate.types import EndpointSpec
from mcpgateway.core.aggregate.view import Member, mergeFilters, selected
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.spec import ToolFilter


class Roster:
    """The members of each aggregate session, under the endpoints' settings."""

    def __init__(
        self,
        pools: Mapping[str, PoolLike],
        catalogs: CatalogLike,
        filters: Callable[[str], ToolFilter],
        catalogKey: Callable[[PoolLike, str], str],
    ) -> None:
        """
        @param pools: the gateway's pools (the live mapping: reconfigures show).
        @param filters: a server's own filter (its entry's C{includeTools},
            C{excludeTools}, C{toolBudget}, C{alias}, C{aggregate}).
        @param catalogKey: which catalog of a pool a principal sees.
        """
        self._pools = pools
        self._catalogs = catalogs
        self._filters = filters
        self._catalogKey = catalogKey
        self.endpoints: dict[str, EndpointSpec] = {"default": EndpointSpec()}
        """The endpoints served, by name (C{default} always among them)."""

    def use(self, endpoints: dict[str, EndpointSpec]) -> None:
        """Serve C{endpoints} (which name C{default}) from now on."""
        self.endpoints = endpoints

    def spec(self, session: AggregateSession) -> EndpointSpec:
        """The settings of C{session}'s endpoint (C{default}'s when its
        endpoint went away)."""
        return self.endpoints.get(session.endpoint) or self.endpoints["default"]

    def endpointOf(self, session: AggregateSession) -> EndpointSpec:
        """The settings of C{session}'s endpoint in the session's mode (a
        C{?mode=search} session of a full endpoint is shielded)."""
        spec = self.endpoints.get(session.endpoint) or self.endpoints["default"]
        return spec if spec.mode == session.mode else withMode(spec, session.mode)

    def catalogKeyFor(self, server: str, principal: str) -> str | None:
        """The key of the catalog of C{server} C{principal} sees (C{None}:
        no such server)."""
        pool = self._pools.get(server)
        return None if pool is None else self._catalogKey(pool, principal)

    def keyOf(self, server: str, session: AggregateSession) -> str:
        """The key of the catalog of member C{server} (a configured one)
        C{session}'s principal sees."""
        return self._catalogKey(self._pools[server], session.principal)

    def members(self, session: AggregateSession) -> list[Member]:
        """C{session}'s members now, by server name: the servers its
        endpoint selects that are enabled, not filtered out, allowed to the
        session and have a route for it; each with its catalog's lists as
        known now (C{None}: never listed)."""
        spec = self.spec(session)
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

    def _routeFor(self, pool: PoolLike, session: AggregateSession) -> str | None:
        """The route of C{pool} that serves C{session}: its workspace's, else
        the global one; C{None}: neither."""
        for route in (session.scope, "") if session.scope else ("",):
            if pool.variantFor(route, principal=session.principal) is not None:
                return route
        return None
