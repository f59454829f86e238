"""A shared server's start-up answered from its saved catalog: no child for
C{initialize}, the lists, a kept log level or a 2026 C{server/discover};
the child starts at the first request the catalog cannot answer, and the
sessions answered from the catalog hear which lists it lists differently.
What makes a catalog current (its entry, the switches), the wait for the
saved catalogs to be read, and a probe that always reaches the child.
Fake children on a fake reactor."""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.catalogdata import entryOf, launchOf
from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.catalogserve import CatalogServe
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.tasks.handshake import speaksTasks
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.support.core.catalog import (
    CAPS,
    SPEC,
    Child,
    MemoryPersistence,
    record,
    sessionOf,
    syncThread,
    tool,
)
from tests.support.core.pools.pool import sharedOf

Message = dict[str, Any]

LOGGING_CAPS = {**CAPS, "logging": {}}


class Host:
    """The gateway as a L{CatalogServe} reads it: its catalogs."""

    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs


def initialize(version: str = "2025-06-18") -> Message:
    return jsonrpc.request(
        "init-1",
        "initialize",
        {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "c"}},
    )


def clientSession(sid: str = "s1", version: str = "2025-06-18") -> Session:
    session = sessionOf(sid)
    session.protocolVersion = version
    return session


class ListeningSession(Session):
    """A session whose GET stream records what it is given."""

    def __init__(self, sid: str) -> None:
        super().__init__(sid, "cat", "2025-06-18", {}, {"name": "c", "version": "1"}, 0.0)
        self.messages: list[Message] = []

    def deliver(self, message: Message) -> bool:
        self.messages.append(message)
        return True

    def methods(self) -> list[str]:
        return [m["method"] for m in self.messages]


class StartupCase(SynchronousTestCase):
    spec = SPEC
    saved: dict[str, Any] = {}
    enabled = True

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.persistence = MemoryPersistence({("cat", ""): self.savedRecord()})
        self.catalogs = Catalogs(self.reactor, self.persistence, syncThread)
        self.serve = CatalogServe(Host(self.catalogs), self.enabled)
        self.pool = self.makePool(self.spec)
        self.successResultOf(self.serve.loading(self.catalogs.start()))

    def makePool(self, spec: ServerSpec) -> ServerPool:
        pool = makePool(spec, fakeSpawner(self.reactor))
        sharedOf(pool)  # a shared placement's start-ups come from the catalog
        assert isinstance(pool, ServerPool)
        pool.catalogSource = self.serve
        pool.taskSupport = speaksTasks
        self.catalogs.attach(pool)
        return pool

    def savedRecord(self) -> dict[str, Any]:
        saved = record(["a", "b"], launchOf(SPEC), entry=entryOf(SPEC))
        saved["resources"] = [{"uri": "file:///x", "name": "x"}]
        saved["instructions"] = "meow"
        saved["serverInfo"] = {"name": "cat", "version": "1"}
        return {**saved, **self.saved}

    def open(self, session: Session, version: str = "2025-06-18") -> Message:
        return self.successResultOf(self.pool.open(session, initialize(version)))

    def forward(self, session: Session, method: str, params: Message | None = None) -> Any:
        return self.pool.forward(session, jsonrpc.request(7, method, params or {}), None)


class AnsweredFromTheCatalogTests(StartupCase):
    def test_initialize_and_the_lists_start_no_child(self) -> None:
        session = clientSession()
        answer = self.open(session)
        self.assertEqual(
            answer["result"],
            {
                "protocolVersion": "2025-06-18",
                "capabilities": CAPS,
                "serverInfo": {"name": "cat", "version": "1"},
                "instructions": "meow",
            },
        )
        tools = self.successResultOf(self.forward(session, "tools/list"))
        self.assertEqual([t["name"] for t in tools["result"]["tools"]], ["a", "b"])
        self.assertEqual(tools["id"], 7)
        resources = self.successResultOf(self.forward(session, "resources/list"))
        self.assertEqual(resources["result"], {"resources": [{"uri": "file:///x", "name": "x"}]})
        self.pool.notify(session, jsonrpc.notification("notifications/initialized"))
        self.assertEqual(self.reactor.spawned, [])
        self.assertIn(session, sharedOf(self.pool).upstream().router.sessions)
        self.assertEqual(
            (
                sharedOf(self.pool).startup.counts.startups,
                sharedOf(self.pool).startup.counts.answers,
            ),
            (1, 3),
        )

    def test_each_session_gets_the_version_the_gateway_negotiated(self) -> None:
        for version in ("2024-11-05", "2025-03-26", "2025-11-25"):
            answer = self.open(clientSession(version, version), version)
            self.assertEqual(answer["result"]["protocolVersion"], version)
        self.assertEqual(self.reactor.spawned, [])

    def test_a_2025_11_25_session_learns_its_tasks_from_the_catalog(self) -> None:
        session = clientSession(version="2025-11-25")
        self.open(session, "2025-11-25")
        self.assertFalse(self.successResultOf(self.pool.childTasks(session)))
        self.assertEqual(self.reactor.spawned, [])

    def test_the_entry_s_chosen_server_info_applies(self) -> None:
        chosen = dataclasses.replace(SPEC, displayName="mine", displayTitle="Mine")
        self.persistence.records[("cat", "")]["entry"] = entryOf(chosen)
        self.catalogs = Catalogs(self.reactor, self.persistence, syncThread)
        self.serve = CatalogServe(Host(self.catalogs), True)
        self.pool = self.makePool(chosen)
        self.successResultOf(self.serve.loading(self.catalogs.start()))
        answer = self.open(clientSession())
        self.assertEqual(
            answer["result"]["serverInfo"], {"name": "mine", "title": "Mine", "version": "1"}
        )
        self.assertEqual(self.reactor.spawned, [])

    def test_a_log_level_is_kept_for_the_child_to_be_told_when_it_starts(self) -> None:
        self.persistence.records[("cat", "")]["capabilities"] = LOGGING_CAPS
        self.catalogs = Catalogs(self.reactor, self.persistence, syncThread)
        self.serve = CatalogServe(Host(self.catalogs), True)
        self.pool = self.makePool(SPEC)
        self.successResultOf(self.serve.loading(self.catalogs.start()))
        session = clientSession()
        self.open(session)
        answer = self.successResultOf(self.forward(session, "logging/setLevel", {"level": "info"}))
        self.assertEqual(answer["result"], {})
        self.assertEqual(self.reactor.spawned, [])
        called = self.forward(session, "tools/call", {"name": "a", "arguments": {}})
        child = Child(self.reactor.lastProcess, {"tools": [tool("a"), tool("b")]})
        child.capabilities = LOGGING_CAPS
        child.pump()
        self.successResultOf(called)
        told = [m for m in child.seen if m.get("method") == "logging/setLevel"]
        self.assertEqual([m["params"] for m in told], [{"level": "info"}])

    def test_a_2026_discover_and_list_start_no_child(self) -> None:
        discover = Era2026Request(clientId=1, method="server/discover", params={})
        answer = self.successResultOf(self.pool.era2026.serve(discover, lambda _: True))
        result = answer["result"]
        self.assertEqual(result["capabilities"], CAPS)
        self.assertEqual(result["instructions"], "meow")
        self.assertEqual(
            result["_meta"]["io.modelcontextprotocol/serverInfo"], {"name": "cat", "version": "1"}
        )
        listing = Era2026Request(clientId=2, method="tools/list", params={})
        tools = self.successResultOf(self.pool.era2026.serve(listing, lambda _: True))
        self.assertEqual([t["name"] for t in tools["result"]["tools"]], ["a", "b"])
        self.assertEqual(tools["result"]["resultType"], "complete")
        self.assertEqual(self.reactor.spawned, [])
        self.assertEqual(self.pool.era2026Stats().requests, 2)


class TheChildStartsTests(StartupCase):
    def started(self, session: Session, lists: dict[str, list[Message]]) -> tuple[Any, Child]:
        called = self.forward(session, "tools/call", {"name": "a", "arguments": {}})
        self.assertEqual(len(self.reactor.spawned), 1)
        child = Child(self.reactor.lastProcess, lists)
        child.pump()
        return called, child

    def test_a_call_starts_the_child_and_sessions_hear_which_lists_changed(self) -> None:
        listed, quiet = ListeningSession("listed"), ListeningSession("quiet")
        self.open(listed)
        self.open(quiet)
        self.successResultOf(self.forward(listed, "tools/list"))
        self.successResultOf(self.forward(listed, "resources/list"))
        called, child = self.started(
            listed,
            {"tools": [tool("a"), tool("c")], "resources": [{"uri": "file:///x", "name": "x"}]},
        )
        answer = self.successResultOf(called)
        self.assertEqual(answer["error"]["code"], jsonrpc.METHOD_NOT_FOUND)  # the child's
        self.assertEqual(listed.methods(), ["notifications/tools/list_changed"])
        self.assertEqual(quiet.methods(), [])  # listed nothing from the catalog
        # The child runs: lists are its own now, and nothing more is told.
        again = self.forward(listed, "tools/list")
        child.pump()
        self.assertEqual(
            [t["name"] for t in self.successResultOf(again)["result"]["tools"]], ["a", "c"]
        )
        self.assertEqual(child.methods().count("tools/list"), 2)
        self.assertEqual(listed.methods(), ["notifications/tools/list_changed"])

    def test_a_child_that_lists_the_same_tells_nobody(self) -> None:
        session = ListeningSession("s1")
        self.open(session)
        self.successResultOf(self.forward(session, "tools/list"))
        called, _ = self.started(session, {"tools": [tool("a"), tool("b")]})
        self.successResultOf(called)
        self.assertEqual(session.messages, [])

    def test_every_list_given_is_told_when_the_child_cannot_be_listed(self) -> None:
        session = ListeningSession("s1")
        self.open(session)
        self.successResultOf(self.forward(session, "tools/list"))
        self.successResultOf(self.forward(session, "resources/list"))
        called = self.forward(session, "tools/call", {"name": "a", "arguments": {}})
        child = Child(self.reactor.lastProcess, {})
        child.hold = True
        child.pump()
        for held in child.held:
            child.proc.reply(jsonrpc.errorResponse(held["id"], jsonrpc.INTERNAL_ERROR, "no"))
        child.pump()
        self.successResultOf(called)
        self.assertEqual(
            sorted(session.methods()),
            ["notifications/resources/list_changed", "notifications/tools/list_changed"],
        )

    def test_a_child_that_stopped_is_not_started_again_for_a_list(self) -> None:
        session = clientSession()
        self.open(session)
        called, _ = self.started(session, {"tools": [tool("a"), tool("c")]})
        self.successResultOf(called)
        stopping = self.pool.stopShared()
        self.reactor.lastProcess.exit(0)
        self.successResultOf(stopping)
        listed = self.successResultOf(self.forward(session, "tools/list"))
        self.assertEqual([t["name"] for t in listed["result"]["tools"]], ["a", "c"])
        self.assertEqual(len(self.reactor.spawned), 1)

    def test_what_the_catalog_cannot_answer_starts_the_child(self) -> None:
        for method, params in (
            ("prompts/get", {"name": "p"}),
            ("resources/read", {"uri": "file:///x"}),
            ("completion/complete", {}),
            ("tools/list", {"cursor": "2"}),
            ("prompts/list", {}),  # not declared: the child's to refuse
        ):
            reactor = self.reactor = FakeProcessReactor()
            self.catalogs = Catalogs(reactor, self.persistence, syncThread)
            self.serve = CatalogServe(Host(self.catalogs), True)
            self.pool = self.makePool(SPEC)
            self.successResultOf(self.serve.loading(self.catalogs.start()))
            session = clientSession()
            self.open(session)
            self.assertEqual(reactor.spawned, [])
            self.forward(session, method, params)
            self.assertEqual(len(reactor.spawned), 1, method)

    def test_a_probe_always_lists_the_child(self) -> None:
        refreshed = self.catalogs.refresh(self.pool)
        Child(self.reactor.lastProcess, {"tools": [tool("z")]}).pump()
        catalog = self.successResultOf(refreshed)
        assert catalog is not None
        self.assertEqual([t["name"] for t in catalog.items("tools")], ["z"])


class NotCurrentTests(StartupCase):
    def assertStarts(self) -> None:
        opened = self.pool.open(clientSession(), initialize())
        self.assertEqual(len(self.reactor.spawned), 1)
        Child(self.reactor.lastProcess, {"tools": [tool("a")]}).pump()
        self.successResultOf(opened)

    def test_a_catalog_of_another_entry_starts_the_child(self) -> None:
        self.persistence.records[("cat", "")]["entry"] = entryOf(
            dataclasses.replace(SPEC, env=(("TOKEN", "new"),))
        )
        self.setUpAgain()
        self.assertStarts()

    def test_a_catalog_saved_by_an_older_gateway_starts_the_child(self) -> None:
        del self.persistence.records[("cat", "")]["entry"]
        self.setUpAgain()
        self.assertStarts()

    def test_an_entry_that_says_lazy_false_starts_the_child(self) -> None:
        self.spec = dataclasses.replace(SPEC, lazy=False)
        self.setUpAgain()
        self.assertStarts()

    def test_the_gateway_s_switch_starts_the_child(self) -> None:
        self.enabled = False
        self.setUpAgain()
        self.assertStarts()

    def test_a_server_never_run_starts_at_initialize_and_its_catalog_is_kept(self) -> None:
        self.persistence.records.clear()
        self.setUpAgain()
        self.assertStarts()
        [(server, key, saved)] = self.persistence.saves
        self.assertEqual((server, key, saved["entry"]), ("cat", "", entryOf(SPEC)))

    def test_a_session_opened_while_the_catalogs_are_read_waits_for_them(self) -> None:
        self.reactor = FakeProcessReactor()
        self.catalogs = Catalogs(self.reactor, self.persistence, syncThread)
        self.serve = CatalogServe(Host(self.catalogs), True)
        self.pool = self.makePool(SPEC)
        reading: Deferred[None] = Deferred()
        self.serve.loading(reading)
        opened = self.pool.open(clientSession(), initialize())
        self.assertNoResult(opened)
        self.successResultOf(self.catalogs.start())
        reading.callback(None)
        self.assertEqual(self.successResultOf(opened)["result"]["instructions"], "meow")
        self.assertEqual(self.reactor.spawned, [])

    def setUpAgain(self) -> None:
        self.reactor = FakeProcessReactor()
        self.catalogs = Catalogs(self.reactor, self.persistence, syncThread)
        self.serve = CatalogServe(Host(self.catalogs), self.enabled)
        self.pool = self.makePool(self.spec)
        self.successResultOf(self.serve.loading(self.catalogs.start()))
