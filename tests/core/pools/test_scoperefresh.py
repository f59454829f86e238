"""What C{mcpgateway catalog refresh} keeps of a server whose start-ups are
answered from the catalogs of their scope: the global route's catalog from
the refresh's own listing (no second child), each workspace route's from a
probe of its own, sessions of any capabilities answered from their route's
catalog with no child (after a restart too), and every scope it cannot keep
a catalog for said, never skipped. Fake children on a fake reactor."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.cachehints import ListingHints
from mcpgateway.core.catalogdata import Catalog, entryOf
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.catalogserve import CatalogServe
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.pool import NO_SCOPES, PoolLike, RouteListed, ScopesRefreshed
from mcpgateway.core.pools.scopecatalog import listedCatalog, routeKey
from mcpgateway.core.pools.scopecatalogfile import SavedScopeCatalogs
from mcpgateway.core.pools.scoperefresh import unsavedScopes
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import SHARES, RemoteEndpoint, ServerSpec
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.support.core.pools.keyedplacement import WORKSPACES, A, B, C, variant
from tests.support.core.pools.own_server import OWN
from tests.support.core.pools.scopecatalogs import LISTS, ListeningSession, answer, initialize

Message = dict[str, Any]

TIMEOUT = 10.0


class Host:
    """The gateway as a L{CatalogServe} reads it."""

    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs


def routeCatalog(spec: ServerSpec, tools: tuple[str, ...], now: float = 0.0) -> Catalog:
    """What a refresh listed through C{spec}'s global route: C{tools}."""
    result = {
        "protocolVersion": "2025-11-25",
        "capabilities": {"tools": {}},
        "serverInfo": {"name": "own", "version": "1"},
    }
    lists = {"tools": tuple({"name": name, "inputSchema": {}} for name in tools)}
    return listedCatalog(spec, "", result, lists, ListingHints(now), now, False).catalog


class RefreshCase(SynchronousTestCase):
    spec = OWN

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.catalogs = Catalogs(self.reactor, timeout=TIMEOUT)
        self.serve = CatalogServe(Host(self.catalogs))
        self.saved = SavedScopeCatalogs(self.reactor)
        self.pool = self.makePool(self.spec)

    def makePool(self, spec: ServerSpec) -> ServerPool:
        pool = makePool(spec, fakeSpawner(self.reactor))
        assert isinstance(pool, ServerPool)
        pool.catalogSource = self.serve
        pool.scopeStartup.saved = self.saved
        self.catalogs.attach(pool)
        return pool

    def running(self) -> int:
        return sum(1 for proc in self.reactor.processes if not proc.ended)

    def listed(self) -> Catalog:
        """The catalogs' refresh of the global route (what the management
        API runs first): its probe's child answered, and stopped."""
        listing = self.catalogs.refresh(self.pool)
        answer(self.reactor.lastProcess)
        self.reactor.advance(10)
        catalog = self.successResultOf(listing)
        assert catalog is not None
        return catalog

    def refreshed(self, listed: Catalog | None, principals: bool = False) -> ScopesRefreshed:
        refreshing = self.pool.refreshScopes(listed, principals, TIMEOUT)
        result: ScopesRefreshed = self.successResultOf(refreshing)
        return result

    def session(self, sid: str, capabilities: Message | None = None, scope: str = "") -> Session:
        session = ListeningSession(sid, self.pool.spec.name, capabilities)
        session.scope = scope
        session.variant = self.pool.variantFor(scope)
        return session

    def opened(self, session: Session, pool: PoolLike | None = None) -> Message:
        opening = (pool or self.pool).open(session, initialize(session))
        result: Message = self.successResultOf(opening)
        return result

    def tools(self, session: Session, pool: PoolLike | None = None) -> list[str]:
        listing = (pool or self.pool).forward(session, jsonrpc.request(7, "tools/list", {}), None)
        return [tool["name"] for tool in self.successResultOf(listing)["result"]["tools"]]


class PerSessionTests(RefreshCase):
    def test_one_child_lists_the_route_for_sessions_of_any_capabilities(self) -> None:
        listed = self.listed()
        self.assertEqual(len(self.reactor.spawned), 1)  # the catalogs' probe
        refreshed = self.refreshed(listed)
        self.assertEqual(list(refreshed.routes), [""])
        self.assertEqual(refreshed.routes[""].error, None)
        self.assertEqual(refreshed.unsaved, ())
        self.assertEqual((len(self.reactor.spawned), self.running()), (1, 0))  # no second child
        declared: list[Message] = [{}, {"roots": {}}, {"sampling": {}, "roots": {}}]
        for n, capabilities in enumerate(declared):
            session = self.session(f"s{n}", capabilities)
            session.protocolVersion = ("2025-03-26", "2025-06-18", "2025-11-25")[n]
            answered = self.opened(session)
            self.assertEqual(answered["result"]["protocolVersion"], session.protocolVersion)
            self.assertEqual(self.tools(session), ["echo", "get-roots-list"])
        self.assertEqual(len(self.reactor.spawned), 1)
        self.assertEqual(self.pool.scopeStartup.probesRun, 0)

    def test_the_route_catalog_is_saved_and_answers_after_a_restart(self) -> None:
        self.refreshed(self.listed())
        key = routeKey(self.pool, self.pool.variantFor(""), "")
        self.assertIsNotNone(self.saved.get("own", entryOf(OWN), key))
        again = self.makePool(OWN)  # the next gateway process: the same saved catalogs
        session = self.session("s1", {"elicitation": {}})
        self.opened(session, again)
        self.assertEqual(self.tools(session, again), ["echo", "get-roots-list"])
        self.assertEqual(len(self.reactor.spawned), 1)  # the refresh's only

    def test_a_key_listed_for_its_own_capabilities_comes_first(self) -> None:
        plain = self.session("plain")
        opening = self.pool.open(plain, initialize(plain))
        answer(self.reactor.lastProcess)  # its probe: no roots, no get-roots-list
        self.reactor.advance(10)
        self.successResultOf(opening)
        self.refreshed(self.listed())
        self.assertEqual(len(self.reactor.spawned), 2)
        again, roots = self.session("again"), self.session("roots", {"roots": {}})
        for session in (again, roots):
            self.opened(session)
        self.assertEqual(self.tools(again), ["echo"])
        self.assertEqual(self.tools(roots), ["echo", "get-roots-list"])
        self.assertEqual(len(self.reactor.spawned), 2)

    def test_a_session_s_own_child_tells_what_differs_and_leaves_the_route_catalog(
        self,
    ) -> None:
        self.refreshed(self.listed())
        session = self.session("s1")
        self.opened(session)
        self.assertEqual(self.tools(session), ["echo", "get-roots-list"])
        call = jsonrpc.request(8, "tools/call", {"name": "echo", "arguments": {}})
        called = self.pool.forward(session, call, None)
        answer(self.reactor.lastProcess)  # its own child: no roots, no get-roots-list
        self.assertEqual(self.successResultOf(called)["result"]["called"], "tools/call")
        assert isinstance(session, ListeningSession)
        self.assertIn(
            "notifications/tools/list_changed", [m.get("method") for m in session.messages]
        )
        other = self.session("s2")
        self.opened(other)
        self.assertEqual(self.tools(other), ["echo", "get-roots-list"])

    def test_an_authenticated_gateway_keeps_none_and_says_why(self) -> None:
        refreshed = self.refreshed(self.listed(), principals=True)
        self.assertEqual(refreshed.routes, {})
        [why] = refreshed.unsaved
        self.assertIn("per principal", why)
        session = self.session("alice")
        session.principal = "alice"
        opening = self.pool.open(session, initialize(session))
        self.assertEqual(len(self.reactor.spawned), 2)  # her own key's probe
        answer(self.reactor.lastProcess)
        self.successResultOf(opening)

    def test_a_failed_global_listing_keeps_nothing_for_it(self) -> None:
        self.assertEqual(self.refreshed(None), ScopesRefreshed({}))
        self.assertEqual(self.reactor.spawned, [])

    def test_a_listing_of_another_entry_is_not_kept(self) -> None:
        listed = routeCatalog(dataclasses.replace(OWN, args=("--old",)), ("echo",))
        refreshed = self.refreshed(listed)
        self.assertEqual(refreshed.routes[""].error, "the server was reconfigured meanwhile")
        self.opened_with_a_probe()

    def opened_with_a_probe(self) -> None:
        session = self.session("s1")
        opening = self.pool.open(session, initialize(session))
        self.assertEqual(len(self.reactor.spawned), 1)
        answer(self.reactor.lastProcess)
        self.successResultOf(opening)


class WorkspaceTests(RefreshCase):
    spec = dataclasses.replace(
        WORKSPACES,
        variants=(*WORKSPACES.variants, variant("d" * 16, "/ws/a")),  # A's child key
        maxChildren=4,
    )

    def test_each_route_is_listed_once_and_its_child_stopped(self) -> None:
        listed = routeCatalog(self.spec, ("global",))
        refreshing = self.pool.refreshScopes(listed, False, TIMEOUT)
        self.assertEqual(len(self.reactor.spawned), 3)  # A (and d), B, C: not the global one
        for proc in list(self.reactor.processes):
            tools = {"tools": [{"name": proc.path or "", "inputSchema": {}}]}
            answer(proc, {**LISTS, "tools/list": tools})
        refreshed = self.successResultOf(refreshing)
        self.assertEqual(sorted(refreshed.routes), sorted(["", A, B, C, "d" * 16]))
        self.assertTrue(all(route.error is None for route in refreshed.routes.values()))
        self.reactor.advance(10)
        self.assertEqual(self.running(), 0)
        for sid, scope, tool in (("g", "", "global"), ("a", A, "/ws/a"), ("b", B, "/ws/b")):
            session = self.session(sid, {"sampling": {}}, scope)
            self.opened(session)
            # The gateway initializes a route's child (with roots): the fake lists one more.
            expected = [tool] if scope == "" else [tool, "get-roots-list"]
            self.assertEqual(self.tools(session), expected)
        self.assertEqual(len(self.reactor.spawned), 3)

    def test_a_route_that_fails_or_is_late_is_said(self) -> None:
        refreshing = self.pool.refreshScopes(None, False, TIMEOUT)
        procs = {proc.path: proc for proc in self.reactor.processes}
        answer(procs["/ws/a"])
        procs["/ws/b"].exit(3)
        self.assertNoResult(refreshing)
        self.reactor.advance(TIMEOUT)
        refreshed = self.successResultOf(refreshing)
        self.assertEqual(list(refreshed.routes), [A, B, C, "d" * 16])
        self.assertIsNone(refreshed.routes[A].error)
        self.assertIn("exited with code 3", str(refreshed.routes[B].error))
        self.assertIn("not listed within 10 s", str(refreshed.routes[C].error))
        answer(procs["/ws/c"])  # it goes on: what it lists is kept
        session = self.session("c", {}, C)
        self.opened(session)
        self.assertEqual(len(self.reactor.spawned), 3)


class UnsavedTests(RefreshCase):
    def test_a_shared_server_keeps_nothing_more(self) -> None:
        pool = self.makePool(dataclasses.replace(OWN, mode="global"))
        self.assertEqual(self.successResultOf(pool.refreshScopes(None, True, 1.0)), NO_SCOPES)

    def test_credential_sets_are_said(self) -> None:
        self.pool = self.makePool(dataclasses.replace(OWN, credentialEnv=("TOKEN",)))
        refreshed = self.refreshed(self.listed())
        self.assertEqual(list(refreshed.routes), [""])
        [why] = refreshed.unsaved
        self.assertIn("credential set", why)

    def test_a_remote_server_is_said(self) -> None:
        self.pool.spec = dataclasses.replace(OWN, remote=RemoteEndpoint("https://x.test/mcp"))
        refreshed = self.refreshed(routeCatalog(OWN, ("echo",)))
        self.assertEqual(refreshed.routes, {})
        [why] = refreshed.unsaved
        self.assertIn("remote server", why)


@settings(max_examples=60, deadline=None)
@given(
    share=st.sampled_from(sorted(set(SHARES))),
    perUser=st.booleans(),
    credentials=st.booleans(),
    principals=st.booleans(),
    listedOk=st.booleans(),
)
def test_a_scoped_server_s_refresh_keeps_a_route_or_says_why(
    share: str, perUser: bool, credentials: bool, principals: bool, listedOk: bool
) -> None:
    """Whatever the entry and the gateway: a server whose start-ups its own
    catalog does not answer has a route catalog kept, or a reason, or its
    global listing failed (which the refresh's line says)."""
    spec = dataclasses.replace(
        OWN, mode=share, perUser=perUser, credentialEnv=("TOKEN",) if credentials else ()
    )
    reactor = FakeProcessReactor()
    pool = makePool(spec, fakeSpawner(reactor))
    listed = routeCatalog(spec, ("echo",)) if listedOk else None
    outcome: list[ScopesRefreshed] = []
    pool.refreshScopes(listed, principals, TIMEOUT).addCallback(outcome.append)
    [refreshed] = outcome
    assert reactor.spawned == []  # the global route only: the refresh's own listing
    if not pool.ownsChildren() and not pool.perLaunch:
        assert refreshed == NO_SCOPES
        return
    kept = {route: listed for route, listed in refreshed.routes.items() if listed.error is None}
    assert kept or refreshed.unsaved or listed is None
    assert refreshed.unsaved == unsavedScopes(pool, principals)
    for route in kept.values():
        assert isinstance(route, RouteListed) and route.catalog is not None


def test_a_late_route_probe_ends_once() -> None:
    """A probe past its time is said once; its failure later is no unhandled error."""
    reactor = FakeProcessReactor()
    pool = makePool(WORKSPACES, fakeSpawner(reactor))
    refreshing: Deferred[ScopesRefreshed] = pool.refreshScopes(None, False, 1.0)
    reactor.advance(1.0)
    outcome: list[ScopesRefreshed] = []
    refreshing.addCallback(outcome.append)
    [refreshed] = outcome
    assert all("not listed within 1 s" in str(r.error) for r in refreshed.routes.values())
    for proc in list(reactor.processes):
        proc.exit(1)
    reactor.advance(30)
