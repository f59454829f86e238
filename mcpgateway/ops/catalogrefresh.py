# -*- test-case-name: tests.ops.test_catalogrefresh -*-
"""One server's part of C{POST /api/v1/catalog/refresh} (C{mcpgateway
catalog refresh}): L{refreshServer}.

The server is listed through its global route by the catalogs' probe
(L{mcpgateway.core.gateway.catalog.Catalogs.refresh}: a transient session
that starts its child when none runs); that is the server's catalog, which
the aggregate endpoint and C{catalog show} read, and which answers a shared
server's start-ups after a restart. A server whose start-ups are answered
from the catalogs of their scope (a per-session, promoted, workspace,
credential or per-user server) then keeps each route's catalog too
(L{PoolLike.refreshScopes<mcpgateway.core.pools.pool.PoolLike.refreshScopes>}):
the global route's from that same listing, the other routes' by a probe
each. Its line says which routes it kept (C{scopes}, by path) and what it
could not keep, and why (C{unsaved}).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.catalogdata import Catalog
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.pools.pool import PoolLike, ScopesRefreshed
from mcpgateway.core.spec import routesOf
from mcpgateway.runtime import logs

__all__ = ["refreshServer", "refreshedLine", "scopeLines"]

log = Logger(observer=logs.observer, namespace="mcpgateway.ops.catalogrefresh")


def refreshServer(
    catalogs: Catalogs, pool: PoolLike, clock: IReactorTime, principals: bool
) -> Deferred[dict[str, Any]]:
    """List C{pool}'s server again and keep the catalogs of its scopes;
    its line of the answer (L{refreshedLine}, with C{scopes} and
    C{unsaved} when it has some). C{principals}: the gateway authenticates
    its callers."""
    return Deferred.fromCoroutine(_refreshing(catalogs, pool, clock, principals))


async def _refreshing(
    catalogs: Catalogs, pool: PoolLike, clock: IReactorTime, principals: bool
) -> dict[str, Any]:
    name = pool.spec.name
    started = clock.seconds()
    routed = pool.variantFor("") is not None
    catalog = await (catalogs.refresh(pool) if routed else succeed(None))
    error = None if catalog is not None or not routed else catalogs.error(name) or "not listed"
    try:
        scopes = await pool.refreshScopes(catalog, principals, catalogs.timeout)
    except Exception:
        log.failure(
            "catalog refresh: keeping the catalogs of server {server}'s scopes failed",
            failure=Failure(),
            server=name,
        )
        scopes = ScopesRefreshed({}, ("keeping the catalogs of its scopes failed (see the log)",))
    line = refreshedLine(catalog, (clock.seconds() - started) * 1000, error)
    if not routed:
        line["globalRoute"] = False
    lines = scopeLines(pool, scopes)
    if lines:
        line["scopes"] = lines
    if scopes.unsaved:
        line["unsaved"] = list(scopes.unsaved)
    return line


def refreshedLine(catalog: Catalog | None, ms: float, error: str | None) -> dict[str, Any]:
    """One server's line of a catalog refresh: what its global route
    listed, how long the refresh took, or why it was not listed."""
    return {**counts(catalog), "ms": round(ms, 1), "error": error}


def counts(catalog: Catalog | None) -> dict[str, int]:
    """How many tools, prompts and resources C{catalog} has (none: 0)."""
    return {
        kind: len(catalog.items(kind)) if catalog is not None else 0
        for kind in ("tools", "prompts", "resources")
    }


def scopeLines(pool: PoolLike, scopes: ScopesRefreshed) -> dict[str, dict[str, Any]]:
    """What was kept of each route, by its path (C{/<name>/mcp},
    C{/<name>~<key>/mcp}): its counts, or why it was not kept."""
    paths = {route["key"]: route["path"] for route in routesOf(pool.spec.name, pool.spec)}
    return {
        paths.get(route, route): {**counts(listed.catalog), "error": listed.error}
        for route, listed in scopes.routes.items()
    }
