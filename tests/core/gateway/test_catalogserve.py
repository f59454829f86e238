"""Which saved catalog answers a shared server's start-up: the entry's
fingerprint (what changes it, what does not), the rules of a current
catalog (launch, cache hints, the switches), and a gateway whose restored
sessions start no child their catalog can serve. Fake children on a fake
reactor."""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.catalogdata import entryOf, launchOf, programFiles
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.catalogserve import CatalogServe
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.core.status import ServerState
from mcpgateway.protocol import jsonrpc
from mcpgateway.sandbox.profile import SandboxProfile
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import initializeMessage
from tests.support.core.catalog import (
    SPEC,
    CatalogCase,
    Child,
    MemoryPersistence,
    record,
    syncThread,
    tool,
)


def test_the_entry_fingerprint_follows_what_a_child_is_started_with() -> None:
    base = entryOf(SPEC)
    changed = [
        dataclasses.replace(SPEC, command="other"),
        dataclasses.replace(SPEC, args=("--y",)),
        dataclasses.replace(SPEC, env=(("TOKEN", "1"),)),
        dataclasses.replace(SPEC, cwd="/srv"),
        dataclasses.replace(SPEC, mode="session"),
        dataclasses.replace(SPEC, era="era2026"),
        dataclasses.replace(SPEC, remote=RemoteEndpoint("https://example.test/mcp")),
        dataclasses.replace(SPEC, sandbox=SandboxProfile(setting="off")),
        dataclasses.replace(SPEC, displayName="mine"),  # a probe keeps what it was shown
    ]
    prints = [entryOf(spec) for spec in changed]
    assert base not in prints and len(set(prints)) == len(prints)
    same = [
        dataclasses.replace(SPEC, requestTimeout=5.0),
        dataclasses.replace(SPEC, prewarm=True, idleTimeout=30.0),
        dataclasses.replace(SPEC, lazy=False),
    ]
    assert {entryOf(spec) for spec in same} == {base}
    assert len(base) == 32 and "TOKEN" not in entryOf(changed[2])


class Host:
    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs


class CurrentTests(SynchronousTestCase):
    def served(
        self, saved: dict[str, Any], enabled: bool = True, later: float = 0.0, **spec: Any
    ) -> Any:
        reactor = FakeProcessReactor()
        catalogs = Catalogs(reactor, MemoryPersistence({("cat", ""): saved}), syncThread)
        gateway = Gateway({"cat": dataclasses.replace(SPEC, **spec)}, fakeSpawner(reactor))
        pool = gateway.pools["cat"]
        catalogs.attach(pool)
        self.successResultOf(catalogs.start())
        reactor.advance(later)
        return CatalogServe(Host(catalogs), enabled).current(pool, "")

    def test_a_catalog_of_the_entry_served_now_is_current(self) -> None:
        catalog = self.served(record(["a"], launchOf(SPEC), entry=entryOf(SPEC)))
        self.assertEqual([t["name"] for t in catalog.items("tools")], ["a"])

    def test_what_is_not_current(self) -> None:
        entry = entryOf(SPEC)
        for saved in (
            record(["a"], launchOf(SPEC)),  # an older gateway's: no entry
            record(["a"], "0" * 16, entry=entry),  # another launch (stale)
            {**record(["a"], launchOf(SPEC), entry=entry), "private": ["tools"]},
        ):
            self.assertIsNone(self.served(saved))
        self.assertIsNone(self.served(record(["a"], launchOf(SPEC), entry=entry), enabled=False))
        self.assertIsNone(self.served(record(["a"], launchOf(SPEC), entry=entry), lazy=False))

    def test_a_list_past_its_ttl_is_not_current(self) -> None:
        saved = {**record(["a"], launchOf(SPEC), entry=entryOf(SPEC)), "ttlMs": {"tools": 1000}}
        saved["taken"] = 0.0
        self.assertIsNotNone(self.served(saved, later=0.5))
        self.assertIsNone(self.served(saved, later=1.0))


class RelistedTests(SynchronousTestCase):
    def test_a_start_up_waits_for_the_listing_of_a_child_that_just_became_ready(self) -> None:
        reactor = FakeProcessReactor()
        catalogs = Catalogs(reactor, MemoryPersistence({}), syncThread)
        pool = makePool(SPEC, fakeSpawner(reactor))
        catalogs.attach(pool)
        self.successResultOf(catalogs.start())
        serve = CatalogServe(Host(catalogs))
        self.assertIsNone(serve.relisted(pool))  # no child is being listed
        session = Session("s1", "cat", "2025-06-18", {}, {"name": "c", "version": "1"}, 0.0)
        initialize = jsonrpc.request(
            1, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}}
        )
        pool.open(session, initialize)
        child = Child(reactor.lastProcess, {"tools": [tool("a")]})
        child.hold = True
        child.pump()
        relisted = serve.relisted(pool)
        assert relisted is not None
        self.assertNoResult(relisted)
        child.hold = False
        for held in child.held:
            child._answer(held)
        child.pump()
        catalog = self.successResultOf(relisted)
        assert catalog is not None
        self.assertEqual([t["name"] for t in catalog.items("tools")], ["a"])
        self.assertIsNone(serve.relisted(pool))


class RestoredSessionsTests(SynchronousTestCase):
    def gateway(self, saved: dict[str, Any] | None) -> tuple[Gateway, FakeProcessReactor]:
        reactor = FakeProcessReactor()
        records = {} if saved is None else {("cat", ""): saved}
        catalogs = Catalogs(reactor, MemoryPersistence(records), syncThread)
        gateway = Gateway({"cat": SPEC}, fakeSpawner(reactor), catalogs=catalogs)
        gateway.start()
        return gateway, reactor

    def test_restored_sessions_start_no_child_their_catalog_can_serve(self) -> None:
        gateway, reactor = self.gateway(record(["a"], launchOf(SPEC), entry=entryOf(SPEC)))
        gateway.servers.prewarmRestored({"cat"})
        self.assertEqual(reactor.spawned, [])

    def test_restored_sessions_without_a_catalog_start_the_child(self) -> None:
        gateway, reactor = self.gateway(None)
        gateway.servers.prewarmRestored({"cat"})
        self.assertEqual(len(reactor.spawned), 1)

    def test_the_state_says_catalog_while_sessions_are_answered_from_it(self) -> None:
        gateway, reactor = self.gateway(record(["a"], launchOf(SPEC), entry=entryOf(SPEC)))
        pool = gateway.pools["cat"]
        self.assertEqual(pool.status(0).state, ServerState.STOPPED)
        session, opened = gateway.opener.openSession(
            "cat",
            initializeMessage("2025-06-18", clientInfo={"name": "c", "version": "1"}),
            "2025-06-18",
        )
        self.assertIn("result", self.successResultOf(opened))
        self.assertEqual(pool.status(0).state, ServerState.CATALOG)
        status = pool.status(1)
        self.assertEqual((status.catalogStartups, status.catalogAnswers), (1, 1))
        self.assertEqual(reactor.spawned, [])
        self.successResultOf(gateway.endSession(session, "done"))
        self.assertEqual(pool.status(0).state, ServerState.STOPPED)


def test_the_programs_of_an_entry_are_its_found_command_and_the_scripts_it_names() -> None:
    spec = dataclasses.replace(
        SPEC,
        command="python",
        executable="/home/u/.venv/bin/python",
        args=("srv.py", "/opt/tools/extra.mjs", "--db-path", "/home/u/test.db", "-c", "x.py"),
        cwd="/home/u/dev",
    )
    assert programFiles(spec) == (
        "/home/u/.venv/bin/python",
        "/home/u/dev/srv.py",
        "/opt/tools/extra.mjs",
        "/home/u/dev/x.py",
    )
    # a command not found, named bare: nothing of it is known
    bare = dataclasses.replace(SPEC, command="npx", executable=None, args=("-y", "pkg"))
    assert programFiles(bare) == ()
    # a relative script without a folder to run in is not guessed
    assert programFiles(dataclasses.replace(SPEC, args=("srv.py",), cwd=None)) == ("/opt/cat",)


class RestartedTests(CatalogCase):
    """A server restarted on request answers no start-up from its catalog
    until a fresh child of it has listed it again: its code may have
    changed, which is why it was restarted."""

    spec = dataclasses.replace(SPEC, args=("srv.py",), cwd="/home/u/dev")

    def test_a_restart_makes_the_catalog_wait_for_a_fresh_listing(self) -> None:
        child = self.startShared()
        serve = CatalogServe(Host(self.catalogs))
        self.assertIsNotNone(serve.current(self.pool, ""))
        self.catalogs.restarted("cat")
        self.assertIsNone(serve.current(self.pool, ""))
        self.lists["tools"] = [tool("a"), tool("gamma")]
        child.proc.exit(1)  # its session is still open: a fresh child is started
        self.reactor.advance(5)
        fresh = Child(self.reactor.lastProcess, self.lists)
        self.assertIsNot(fresh.proc, child.proc)
        fresh.pump()
        catalog = serve.current(self.pool, "")
        assert catalog is not None
        self.assertEqual([t["name"] for t in catalog.items("tools")], ["a", "gamma"])

    def test_the_fresh_listing_is_saved_with_its_programs_even_when_unchanged(self) -> None:
        child = self.startShared()
        saved = len(self.persistence.saves)
        self.assertEqual(
            self.persistence.saves[-1][2]["programs"], ["/opt/cat", "/home/u/dev/srv.py"]
        )
        self.catalogs.restarted("cat")
        child.proc.exit(1)
        self.reactor.advance(5)
        Child(self.reactor.lastProcess, self.lists).pump()
        self.assertEqual(len(self.persistence.saves), saved + 1)
        self.assertTrue(self.persistence.saves[-1][2]["entry"])

    def test_another_servers_catalog_is_left_alone(self) -> None:
        self.startShared()
        self.catalogs.restarted("other")
        self.assertIsNotNone(CatalogServe(Host(self.catalogs)).current(self.pool, ""))
