# -*- test-case-name: tests.core.pools.test_scoperefresh -*-
"""What C{mcpgateway catalog refresh} keeps of a server whose start-ups
are answered from the catalogs of their scope
(L{mcpgateway.core.pools.scopecatalog}): a per-session or promoted server
(each session's child is its own) and a workspace, credential or per-user
server (a child per route).

Such a server's start-ups are not answered from the server's own catalog
(the one the aggregate endpoint and C{catalog show} read), so a refresh
also keeps, for each of its routes, the catalog of the route
(L{routeKey<mcpgateway.core.pools.scopecatalog.routeKey>}, for the
principal C{""}), saved with the pool's other scope catalogs:

 - the global route's is what the refresh listed through it
   (L{mcpgateway.core.gateway.catalog.Catalogs.refresh}: its probe starts
   that route's child as a session's own would start, or uses the route's
   child, in the same sandbox, as a client that declares sampling,
   elicitation and roots): one child for both;
 - each other route (a workspace's) is listed by a probe of its own
   (L{refreshSession} for a session's own child, the placement's
   C{probeRoute} for a route's child), which is stopped once listed.

A route's child key is a route's catalog's key; a session with a child of
its own falls back to it when its own key (its protocol version and
capabilities) was never listed, so forty clients that list and never call
start nothing after a refresh, whatever they declare.

What a refresh cannot keep is said, never skipped (L{unsavedScopes}): on
an authenticated gateway a server whose catalogs are per principal (a
refresh starts no child as anyone), the credential sets of a server with
C{credentialEnv}, and a remote server (its sessions connect at
C{initialize}: no scope catalog answers them).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway import __version__
from mcpgateway.core.catalogdata import PROBE_CAPABILITIES, Catalog, catalogKeyOf, entryOf
from mcpgateway.core.pools.pool import RouteListed, ScopesRefreshed
from mcpgateway.core.pools.scopecatalog import ScopeCatalog, ScopeHost, ScopeStartup, routeKey
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import Variant
from mcpgateway.protocol import versions
from mcpgateway.runtime import logs

__all__ = [
    "refreshRoutes",
    "refreshSession",
    "unsavedScopes",
]

log = Logger(namespace="mcpgateway.core.pools.scoperefresh", observer=logs.observer)

RouteProbe = Callable[[Variant, str], "Deferred[ScopeCatalog] | None"]
"""Starts the child of a route as its first session would, lists it as the
catalog of a key and stops it (C{None}: the pool has no such probe)."""


_PRINCIPAL = "principal"
"""A principal's key, to ask whether a server's catalogs are per principal."""


def unsavedScopes(host: ScopeHost, principals: bool) -> tuple[str, ...]:
    """Why a refresh keeps no catalog for some (or all) scopes of C{host}'s
    server, a server whose start-ups are answered from the catalogs of
    their scope; C{principals}: the gateway authenticates its callers (each
    session has a principal's key)."""
    spec = host.spec
    if spec.remote is not None:
        return (
            "a remote server: each session connects at initialize, no catalog of its scope"
            " answers it",
        )
    why: list[str] = []
    if principals and catalogKeyOf(host, _PRINCIPAL):
        why.append(
            "its catalogs are kept per principal on this authenticated gateway: each"
            " principal's first session lists its own (a refresh starts no child as anyone)"
        )
    elif spec.credentialEnv:
        why.append(
            "a client that sends credentials (X-Mcp-Env-*) has a child per credential set:"
            " each set's first session lists its catalog (a refresh lists the routes"
            " without credentials)"
        )
    return tuple(why)


def refreshSession(variant: Variant, server: str, now: float) -> Session:
    """The session a refresh starts a session's own child for, on route
    C{variant}: the latest protocol version, every capability a client may
    have through the gateway (what the catalogs' probe declares, so that
    the server lists every tool it has), no principal."""
    session = Session(
        "catalog-refresh-" + secrets.token_hex(16),
        server,
        versions.LATEST,
        dict(PROBE_CAPABILITIES),
        {"name": "mcpgateway-catalog", "version": __version__},
        now,
    )
    session.scope, session.variant = variant.key, variant
    return session


def refreshRoutes(
    startup: ScopeStartup,
    host: ScopeHost,
    routes: Mapping[str, Variant],
    probe: RouteProbe,
    listed: Catalog | None,
    principals: bool,
    clock: IReactorTime,
    timeout: float,
) -> Deferred[ScopesRefreshed]:
    """Keep the catalog of each route of C{routes} (by key): C{listed} (what
    the refresh listed through the global route; C{None}: that failed, and
    the refresh says why) as the global route's, the others listed by
    C{probe}, each told within C{timeout} seconds (a probe still running
    then goes on, and what it lists is kept). Routes of one child key are
    listed once."""
    unsaved = unsavedScopes(host, principals)
    spec = host.spec
    if spec.remote is not None or (principals and catalogKeyOf(host, _PRINCIPAL)):
        return succeed(ScopesRefreshed({}, unsaved))
    keys = {route: routeKey(host, variant, "") for route, variant in routes.items()}
    outcomes: dict[str, Deferred[RouteListed]] = {}
    global_ = keys.get("")
    if global_ is not None and listed is not None:
        outcomes[global_] = succeed(_keepListed(startup, host, global_, listed))
    for route, variant in sorted(routes.items()):
        key = keys[route]
        if key in outcomes or (route == "" and listed is None):
            continue
        log.info(
            "server {server}: listing the catalog of route {route} for a catalog refresh",
            server=spec.name,
            route=route or "(global)",
        )
        outcomes[key] = _within(clock, timeout, _relist(startup, probe, variant, key))
    found: dict[str, RouteListed] = {}

    def keep(result: RouteListed, key: str) -> None:
        for route in routes:
            if keys[route] == key:
                found[route] = result

    waiting = [outcome.addCallback(keep, key) for key, outcome in outcomes.items()]
    return DeferredList(waiting, consumeErrors=True).addCallback(
        lambda _: ScopesRefreshed(dict(sorted(found.items())), unsaved)
    )


def _keepListed(startup: ScopeStartup, host: ScopeHost, key: str, listed: Catalog) -> RouteListed:
    """Keep C{listed} (the global route's listing for any client) as the
    catalog of C{key}."""
    if listed.entry != entryOf(host.spec):
        return RouteListed(None, "the server was reconfigured meanwhile")
    catalog = replace(listed, catalogKey=key, source="probe", stale=False)
    startup.keep(key, ScopeCatalog(catalog, None))
    return RouteListed(catalog)


def _relist(
    startup: ScopeStartup, probe: RouteProbe, variant: Variant, key: str
) -> Deferred[ScopeCatalog]:
    def run() -> Deferred[ScopeCatalog]:
        probing = probe(variant, key)
        if probing is None:
            raise LookupError("its sessions' start-ups are not answered from its route's catalog")
        return probing

    return startup.relist(key, run)


def _within(
    clock: IReactorTime, timeout: float, running: Deferred[ScopeCatalog]
) -> Deferred[RouteListed]:
    """What C{running} listed, or why not, within C{timeout} seconds."""
    told: Deferred[RouteListed] = Deferred()

    def late() -> None:
        told.callback(
            RouteListed(
                None, f"not listed within {timeout:g} s (still listing it in the background)"
            )
        )

    timer = clock.callLater(timeout, late)

    def settled(result: ScopeCatalog | Failure) -> None:
        if timer.active():
            timer.cancel()
        if told.called:
            return
        if isinstance(result, Failure):
            why = result.getErrorMessage() or type(result.value).__name__
            told.callback(RouteListed(None, why))
        else:
            told.callback(RouteListed(result.catalog))

    running.addBoth(settled)
    return told
