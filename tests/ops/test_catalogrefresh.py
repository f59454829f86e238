"""One server's line of C{POST /api/v1/catalog/refresh}: the server's own
catalog listed through its global route, and, for a server whose start-ups
are answered from the catalogs of their scope, each route's catalog kept
(by path) or why none is. Fake children on a fake reactor."""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.catalogdata import Catalog
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.catalogserve import CatalogServe
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.pool import ScopesRefreshed
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops.catalogrefresh import refreshServer
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.support.core.pools.keyedplacement import BASE, A, variant
from tests.support.core.pools.own_server import OWN
from tests.support.core.pools.scopecatalogs import ListeningSession, answer, initialize

Message = dict[str, Any]


class Host:
    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs


class RefreshServerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.catalogs = Catalogs(self.reactor, timeout=10.0)
        self.serve = CatalogServe(Host(self.catalogs))

    def pool(self, spec: ServerSpec) -> ServerPool:
        pool = makePool(spec, fakeSpawner(self.reactor))
        assert isinstance(pool, ServerPool)
        pool.catalogSource = self.serve
        self.catalogs.attach(pool)
        return pool

    def line(self, pool: ServerPool, principals: bool = False) -> Message:
        refreshing = refreshServer(self.catalogs, pool, self.reactor, principals)
        self.reactor.advance(0.5)
        for proc in list(self.reactor.processes):
            answer(proc)
        self.reactor.advance(1)
        line: Message = self.successResultOf(refreshing)
        return line

    def test_a_per_session_server_keeps_its_route_s_catalog(self) -> None:
        pool = self.pool(OWN)
        line = self.line(pool)
        counts = {"tools": 2, "prompts": 0, "resources": 1}
        scopes = {"/own/mcp": {**counts, "error": None}}
        self.assertEqual(line, {**counts, "ms": 500.0, "error": None, "scopes": scopes})
        self.assertEqual(len(self.reactor.spawned), 1)
        session = ListeningSession("later", "own", {"roots": {}})
        session.variant = pool.variantFor("")
        self.assertIn("result", self.successResultOf(pool.open(session, initialize(session))))
        self.assertEqual(len(self.reactor.spawned), 1)  # answered from the route's catalog

    def test_an_authenticated_gateway_says_what_it_cannot_keep(self) -> None:
        line = self.line(self.pool(OWN), principals=True)
        self.assertNotIn("scopes", line)
        [why] = line["unsaved"]
        self.assertIn("kept per principal on this authenticated gateway", why)
        self.assertIsNone(line["error"])

    def test_a_shared_server_s_line_is_its_catalog_only(self) -> None:
        line = self.line(self.pool(dataclasses.replace(OWN, mode="global")), principals=True)
        self.assertEqual(set(line), {"tools", "prompts", "resources", "ms", "error"})

    def test_a_server_without_a_global_route_is_listed_by_route(self) -> None:
        pool = self.pool(dataclasses.replace(BASE, variants=(variant(A, "/ws/a"),)))
        line = self.line(pool)
        self.assertEqual(line["globalRoute"], False)
        self.assertIsNone(line["error"])
        self.assertEqual(list(line["scopes"]), [f"/fs~{A}/mcp"])
        self.assertIsNone(line["scopes"][f"/fs~{A}/mcp"]["error"])
        self.assertEqual(len(self.reactor.spawned), 1)  # the route's child, no global probe

    def test_a_bug_keeping_the_scopes_is_logged_and_said(self) -> None:
        pool = self.pool(OWN)

        def broken(
            listed: Catalog | None, principals: bool, timeout: float
        ) -> Deferred[ScopesRefreshed]:
            return fail(RuntimeError("bug"))

        pool.refreshScopes = broken  # type: ignore[method-assign]
        with capturedGatewayLogs() as events:
            line = self.line(pool)
        self.assertEqual(
            line["unsaved"], ["keeping the catalogs of its scopes failed (see the log)"]
        )
        self.assertEqual(line["tools"], 2)
        self.assertTrue(any(event.get("log_failure") for event in events))
        self.flushLoggedErrors(RuntimeError)
