"""The catalogs: live listing of ready children (pages, bounds, kinds),
list_changed re-lists (debounced, per kind), observers told only of real
changes, probes (one at a time, timeout, the session closed), per-principal
catalogs, snapshots (load, stale, writes only on change, coalescing), forget
and status. Fake children on a fake reactor; no sockets, no real threads."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core import catalogdata as catalogmodule
from mcpgateway.core.catalogdata import (
    KINDS,
    Catalog,
    catalogKeyOf,
    entryOf,
    launchOf,
    listKind,
)
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.catalogprobe import PROBE_BACKOFF, PROBE_BACKOFF_MAX, PROBE_LIMIT
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.keyedplacement import KeyedPlacement
from mcpgateway.core.pools.placement import SessionPlacement
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.router import Router
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import Variant
from mcpgateway.ops.catalogstore import CatalogStore, Loaded
from mcpgateway.protocol import jsonrpc
from tests.fakes import (
    FakeProcess,
    FakeProcessReactor,
    FakeSession,
    HandThreads,
    capturedGatewayLogs,
    fakeSpawner,
)
from tests.support.core.catalog import (
    CAPS,
    SPEC,
    CatalogCase,
    Child,
    MemoryPersistence,
    Message,
    Recorder,
    clientInitialize,
    record,
    sessionOf,
    syncThread,
    tool,
)
from tests.support.core.catalog_status import UNLISTED
from tests.support.core.pools.pool import sharedOf


class RootsChild(Child):
    """Like server-everything: lists C{get-roots-list} only to a client that
    declared roots, and asks that client for its roots once initialized."""

    def __init__(self, proc: FakeProcess, lists: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__(proc, lists)
        self.rootsAnswers: list[Message] = []
        self.clientRoots = False

    def _answer(self, message: Message) -> None:
        method = message.get("method")
        if method == "initialize":
            self.clientRoots = "roots" in message["params"]["capabilities"]
            tools = ["echo", "get-roots-list"] if self.clientRoots else ["echo"]
            self.lists = {**self.lists, "tools": [tool(name) for name in tools]}
        elif method == "notifications/initialized" and self.clientRoots:
            self.proc.reply(jsonrpc.request("roots-1", "roots/list", {}))
        elif "method" not in message and message.get("id") == "roots-1":
            self.rootsAnswers.append(message)
        super()._answer(message)


class LiveTests(CatalogCase):
    def test_a_ready_shared_child_is_listed_over_all_pages(self) -> None:
        child = self.startShared()
        known = self.catalogs.get("cat")
        assert known is not None
        self.assertEqual(known.source, "live")
        self.assertEqual([t["name"] for t in known.items("tools")], ["a", "b", "c"])
        self.assertEqual(known.items("resources"), ({"uri": "file:///x", "name": "x"},))
        self.assertEqual((known.items("prompts"), known.items("resourceTemplates")), ((), ()))
        self.assertEqual(set(known.lists), set(KINDS))
        self.assertEqual(known.serverInfo, {"name": "cat", "version": "1"})
        self.assertEqual(known.instructions, "meow")
        # Two pages of tools; no prompts/list (not declared); templates -32601 -> empty.
        self.assertEqual(
            child.methods(),
            [
                "initialize",
                "notifications/initialized",
                "tools/list",
                "tools/list",
                "resources/list",
                "resources/templates/list",
            ],
        )
        self.assertEqual(self.changes.calls, [("cat", frozenset({"tools", "resources"}))])

    def test_nothing_is_listed_without_attach(self) -> None:
        pool: Any = makePool(dataclasses.replace(SPEC, name="other"), fakeSpawner(self.reactor))
        opened = pool.open(sessionOf("s9"), clientInitialize())
        child = Child(self.reactor.lastProcess, self.lists)
        child.pump()
        self.successResultOf(opened)
        self.assertEqual(child.methods(), ["initialize", "notifications/initialized"])
        self.assertIsNone(self.catalogs.get("other"))

    def test_list_changed_is_debounced_and_relists_that_kind_only(self) -> None:
        child = self.startShared()
        child.seen.clear()
        self.lists["tools"] = [tool("a"), tool("z")]
        note = jsonrpc.notification("notifications/tools/list_changed")
        child.proc.reply(note)
        self.reactor.advance(0.3)
        child.proc.reply(note)
        child.pump()
        self.assertEqual(child.methods(), [])  # still within the 0.5 s
        self.reactor.advance(0.2)
        child.pump()
        self.assertEqual(child.methods(), ["tools/list"])
        known = self.catalogs.get("cat")
        assert known is not None
        self.assertEqual([t["name"] for t in known.items("tools")], ["a", "z"])
        self.assertEqual(self.changes.calls[-1], ("cat", frozenset({"tools"})))

    def test_a_list_changed_with_the_same_list_tells_nobody(self) -> None:
        child = self.startShared()
        before = list(self.changes.calls)
        self.lists["tools"] = list(reversed(self.lists["tools"]))  # same items, other order
        child.proc.reply(jsonrpc.notification("notifications/tools/list_changed"))
        self.reactor.advance(0.5)
        child.pump()
        self.assertEqual(self.changes.calls, before)

    def test_resources_list_changed_relists_resources_and_templates(self) -> None:
        child = self.startShared()
        child.seen.clear()
        self.lists["resourceTemplates"] = [{"uriTemplate": "file:///{p}", "name": "f"}]
        child.proc.reply(jsonrpc.notification("notifications/resources/list_changed"))
        self.reactor.advance(0.5)
        child.pump()
        self.assertEqual(child.methods(), ["resources/list", "resources/templates/list"])
        self.assertEqual(self.changes.calls[-1], ("cat", frozenset({"resourceTemplates"})))

    def test_a_restart_with_the_same_tools_is_silent_with_others_not(self) -> None:
        child = self.startShared()
        calls = len(self.changes.calls)
        child.proc.exit(1)  # the shared child has a session: it is brought back
        self.reactor.advance(5)
        second = Child(self.reactor.lastProcess, self.lists)
        self.assertIsNot(second.proc, child.proc)
        second.pump()
        self.assertEqual(len(self.changes.calls), calls)
        self.lists["tools"] = [tool("new")]
        second.proc.exit(1)
        self.reactor.advance(5)
        third = Child(self.reactor.lastProcess, self.lists)
        third.pump()
        self.assertEqual(self.changes.calls[-1], ("cat", frozenset({"tools"})))

    def test_a_failed_listing_keeps_the_catalog_and_says_why(self) -> None:
        child = self.startShared()
        child.seen.clear()
        child.hold = True
        child.proc.reply(jsonrpc.notification("notifications/tools/list_changed"))
        self.reactor.advance(0.5)
        child.pump()
        [held] = child.held
        child.proc.reply(jsonrpc.errorResponse(held["id"], -32603, "boom"))
        known = self.catalogs.get("cat")
        assert known is not None
        self.assertEqual(len(known.items("tools")), 3)
        self.assertIn("boom", self.catalogs.error("cat") or "")

    def test_a_list_changed_of_a_replaced_pool_is_ignored(self) -> None:
        child = self.startShared()
        newPool: Any = makePool(SPEC, fakeSpawner(self.reactor))
        self.catalogs.attach(newPool)
        child.seen.clear()
        child.proc.reply(jsonrpc.notification("notifications/tools/list_changed"))
        self.reactor.advance(1)
        child.pump()
        self.assertEqual(child.methods(), [])


class PagingTests(SynchronousTestCase):
    """listKind's bounds: pages, items, repeated cursors, errors."""

    def run_(self, answer: Any) -> Any:
        log = Catalogs.log
        return listKind(lambda method, params: succeed(answer(params)), "tools", log, "s")

    def test_page_bound(self) -> None:
        pages: list[Any] = []

        def answer(params: dict[str, Any]) -> Message:
            pages.append(params)
            n = len(pages)
            return {"result": {"tools": [tool(f"t{n}")], "nextCursor": f"c{n}"}}

        with capturedGatewayLogs() as events:
            items = self.successResultOf(self.run_(answer))
        self.assertEqual(len(pages), catalogmodule.MAX_PAGES)
        self.assertEqual(len(items), catalogmodule.MAX_PAGES)
        self.assertTrue(any("stopped after" in e["log_format"] for e in events))

    def test_item_bound(self) -> None:
        def answer(params: dict[str, Any]) -> Message:
            start = int(params.get("cursor") or 0)
            return {
                "result": {
                    "tools": [tool(f"t{i}") for i in range(start, start + 4000)],
                    "nextCursor": str(start + 4000),
                }
            }

        items = self.successResultOf(self.run_(answer))
        self.assertEqual(len(items), catalogmodule.MAX_ITEMS)

    def test_a_repeated_cursor_ends_it(self) -> None:
        calls: list[Any] = []

        def answer(params: dict[str, Any]) -> Message:
            calls.append(params)
            return {"result": {"tools": [tool("x")], "nextCursor": "same"}}

        self.successResultOf(self.run_(answer))
        self.assertEqual(calls, [{}, {"cursor": "same"}])

    def test_bad_items_are_dropped_and_errors_fail(self) -> None:
        items = self.successResultOf(
            self.run_(lambda p: {"result": {"tools": [tool("ok"), {"name": 3}, "x"]}})
        )
        self.assertEqual([i["name"] for i in items], ["ok"])
        failure = self.failureResultOf(
            self.run_(lambda p: {"error": {"code": -32603, "message": "bad"}})
        )
        self.assertIsInstance(failure.value, catalogmodule.ListingFailed)
        failure = self.failureResultOf(self.run_(lambda p: {"result": {"nope": []}}))
        self.assertIsInstance(failure.value, catalogmodule.ListingFailed)


class ProbeTests(CatalogCase):
    def test_ensure_starts_the_child_once_for_concurrent_callers_and_closes(self) -> None:
        first = self.catalogs.ensure(self.pool)
        second = self.catalogs.ensure(self.pool)
        self.assertEqual(len(self.reactor.processes), 1)
        child = Child(self.reactor.lastProcess, self.lists)
        child.pump()
        a, b = self.successResultOf(first), self.successResultOf(second)
        assert a is not None
        self.assertIs(a, b)
        self.assertEqual([t["name"] for t in a.items("tools")], ["a", "b", "c"])
        # The live listing of the child it started served it: listed once.
        self.assertEqual(child.methods().count("tools/list"), 2)
        assert sharedOf(self.pool).shared is not None
        self.assertEqual(
            sharedOf(self.pool).upstream().router.sessions, set()
        )  # the probe session closed
        self.assertIs(self.successResultOf(self.catalogs.ensure(self.pool)), a)

    def test_refresh_lists_a_running_child_through_a_session(self) -> None:
        child = self.startShared()
        child.seen.clear()
        self.lists["tools"] = [tool("only")]
        refreshed = self.catalogs.refresh(self.pool)
        child.pump()
        result = self.successResultOf(refreshed)
        assert result is not None
        self.assertEqual(result.source, "probe")
        self.assertEqual([t["name"] for t in result.items("tools")], ["only"])
        self.assertEqual(child.methods()[0], "tools/list")
        assert sharedOf(self.pool).shared is not None
        self.assertEqual(len(sharedOf(self.pool).upstream().router.sessions), 1)  # s1 only

    def test_a_probe_that_takes_too_long_is_none_and_closes_its_session(self) -> None:
        child = self.startShared()
        child.hold = True
        refreshed = self.catalogs.refresh(self.pool)
        child.pump()
        self.assertNoResult(refreshed)
        self.reactor.advance(10)
        self.assertIsNone(self.successResultOf(refreshed))
        self.assertIn("within 10 s", self.catalogs.error("cat") or "")
        assert sharedOf(self.pool).shared is not None
        # It goes on in the background (what it lists is still kept) ...
        self.assertEqual(len(sharedOf(self.pool).upstream().router.sessions), 2)
        self.assertTrue(self.catalogs.probing("cat"))
        # ... until it ends (here: its list request times out, after the
        # server's requestTimeout; at most PROBE_LIMIT seconds in any case).
        self.reactor.pump([1.0] * int(PROBE_LIMIT - 10))  # (time as it passes: each second)
        self.assertFalse(self.catalogs.probing("cat"))
        self.assertIn("within 30 s", self.catalogs.error("cat") or "")
        self.assertEqual(len(sharedOf(self.pool).upstream().router.sessions), 1)
        # Its requests were cancelled on the child.
        cancels = [
            m for m in child.proc.takeMessages() if m.get("method") == "notifications/cancelled"
        ]
        self.assertEqual(len(cancels), 1)

    def test_a_disabled_or_missing_server_is_none_with_the_reason(self) -> None:
        self.pool.disabled = True
        self.assertIsNone(self.successResultOf(self.catalogs.ensure(self.pool)))
        self.assertIn("disabled", self.catalogs.error("cat") or "")
        self.assertEqual(self.reactor.processes, [])

    def test_a_child_that_initializes_late_is_listed_in_the_background(self) -> None:
        """A server still installing (npx) when the probe's waiters give up:
        what it lists when it is ready is kept, and the observers are told
        (the aggregate then tells its sessions)."""
        probing = self.catalogs.ensure(self.pool)
        self.reactor.advance(10)
        self.assertIsNone(self.successResultOf(probing))
        self.assertTrue(self.catalogs.failed("cat"))
        # Meanwhile nobody waits for it again, and no second probe starts.
        self.assertIsNone(self.successResultOf(self.catalogs.ensure(self.pool)))
        self.assertIsNone(self.successResultOf(self.catalogs.refresh(self.pool)))
        self.assertEqual(len(self.reactor.processes), 1)
        # The child answers late: listed, the observers told, the probe session closed.
        child = Child(self.reactor.lastProcess, self.lists)
        child.pump()
        known = self.catalogs.get("cat")
        assert known is not None
        self.assertEqual([t["name"] for t in known.items("tools")], ["a", "b", "c"])
        self.assertIn(("cat", frozenset({"tools", "resources"})), self.changes.calls)
        self.assertFalse(self.catalogs.failed("cat"))
        self.assertIsNone(self.catalogs.error("cat"))
        assert sharedOf(self.pool).shared is not None
        self.assertEqual(sharedOf(self.pool).upstream().router.sessions, set())

    def test_stop_ends_a_late_probe(self) -> None:
        self.catalogs.ensure(self.pool)
        self.reactor.advance(10)
        self.assertTrue(self.catalogs.probing("cat"))
        self.assertTrue(any("_Probe" in repr(c) for c in self.reactor.getDelayedCalls()))
        self.successResultOf(self.catalogs.stop())
        self.assertFalse(self.catalogs.probing("cat"))
        probeTimers = [call for call in self.reactor.getDelayedCalls() if "_Probe" in repr(call)]
        self.assertEqual(probeTimers, [])
        self.assertIsNone(self.successResultOf(self.catalogs.ensure(self.pool)))

    def test_the_backoff_doubles_per_failure_up_to_its_bound(self) -> None:
        self.pool.disabled = True
        waits = []
        for _ in range(6):
            self.assertIsNone(self.successResultOf(self.catalogs.ensure(self.pool)))
            at = self.catalogs.retryAt("cat")
            assert at is not None
            waits.append(at - self.reactor.seconds())
            self.reactor.advance(waits[-1])
        self.assertEqual(waits, [60.0, 120.0, 240.0, 480.0, PROBE_BACKOFF_MAX, PROBE_BACKOFF_MAX])
        self.pool.disabled = False
        again = self.catalogs.ensure(self.pool)
        Child(self.reactor.lastProcess, self.lists).pump()
        self.assertIsNotNone(self.successResultOf(again))
        self.assertIsNone(self.catalogs.retryAt("cat"))

    def test_after_a_failed_probe_ensure_answers_at_once_for_a_while(self) -> None:
        probing = self.catalogs.ensure(self.pool)
        self.reactor.advance(PROBE_LIMIT)
        self.assertIsNone(self.successResultOf(probing))
        self.assertTrue(self.catalogs.failed("cat"))
        self.assertFalse(self.catalogs.probing("cat"))
        spawned = len(self.reactor.processes)
        self.reactor.advance(PROBE_BACKOFF - 2)
        self.assertIsNone(self.successResultOf(self.catalogs.ensure(self.pool)))
        self.assertEqual(len(self.reactor.processes), spawned)  # no new probe
        self.reactor.advance(3)
        again = self.catalogs.ensure(self.pool)
        self.assertNoResult(again)  # probed again, and this time it answers
        Child(self.reactor.lastProcess, self.lists).pump()
        self.assertIsNotNone(self.successResultOf(again))
        self.assertFalse(self.catalogs.failed("cat"))


class PerSessionTests(CatalogCase):
    spec = dataclasses.replace(SPEC, mode="session")

    def initialized(
        self, session: Session, initialize: Any = None, kind: type[Child] = Child
    ) -> Child:
        """Open C{session} on its own child (of C{kind}), which answers its
        initialize, then send the client's C{notifications/initialized}:
        that child, every message answered."""
        self.pool.open(session, clientInitialize() if initialize is None else initialize)
        child = kind(self.reactor.lastProcess, self.lists)
        child.pump()
        self.pool.notify(session, jsonrpc.notification("notifications/initialized"))
        child.pump()
        return child

    def test_a_probe_of_a_per_session_server_lists_its_child_and_stops_it(self) -> None:
        assert isinstance(self.pool, ServerPool) and isinstance(
            self.pool.placement, SessionPlacement
        )
        probing = self.catalogs.ensure(self.pool)
        child = Child(self.reactor.lastProcess, self.lists)
        child.pump()
        result = self.successResultOf(probing)
        assert result is not None
        self.assertEqual(len(result.items("tools")), 3)
        self.assertEqual(child.methods().count("tools/list"), 2)  # listed once
        self.assertEqual(self.pool.owned.items(), [])
        self.assertTrue(child.proc.stdinClosed)  # its child is being stopped

    def test_a_probe_declares_roots_and_answers_the_childs_roots_list_with_none(self) -> None:
        """A server that lists a tool only to a client with roots (server-everything's
        get-roots-list) has it in its catalog; the probe has no roots to give."""
        probing = self.catalogs.ensure(self.pool)
        child = RootsChild(self.reactor.lastProcess, self.lists)
        child.pump()
        result = self.successResultOf(probing)
        assert result is not None
        self.assertEqual([t["name"] for t in result.items("tools")], ["echo", "get-roots-list"])
        self.assertEqual(child.rootsAnswers, [jsonrpc.resultResponse("roots-1", {"roots": []})])

    def test_a_sessions_child_without_roots_does_not_shrink_the_catalog(self) -> None:
        probing = self.catalogs.ensure(self.pool)
        RootsChild(self.reactor.lastProcess, self.lists).pump()
        self.assertIsNotNone(self.successResultOf(probing))
        self.reactor.advance(301)
        caps: dict[str, Any] = {"sampling": {}, "elicitation": {}}
        noRoots = sessionOf("no-roots", capabilities=caps)
        initialize = clientInitialize()
        initialize["params"]["capabilities"] = caps
        child = self.initialized(noRoots, initialize, RootsChild)
        self.assertNotIn("tools/list", child.methods())
        known = self.catalogs.get("cat")
        assert known is not None
        self.assertIn("get-roots-list", [t["name"] for t in known.items("tools")])

    def test_a_sessions_child_is_listed_after_its_initialized_unless_fresh(self) -> None:
        session = sessionOf("own")
        opened = self.pool.open(session, clientInitialize())
        child = Child(self.reactor.lastProcess, self.lists)
        child.pump()
        self.successResultOf(opened)
        self.assertNotIn("tools/list", child.methods())  # not before the client's initialized
        self.pool.notify(session, jsonrpc.notification("notifications/initialized"))
        child.pump()
        self.assertEqual(child.methods().count("tools/list"), 2)
        self.assertIsNotNone(self.catalogs.get("cat"))
        # A second session within 300 s: its child is not listed.
        second = self.initialized(sessionOf("own2"))
        self.assertNotIn("tools/list", second.methods())
        self.reactor.advance(301)
        # A client that cannot sample or elicit may be shown fewer tools by
        # its own child (server-everything does that): never listed.
        child4 = self.initialized(sessionOf("bare", capabilities={}))
        self.assertNotIn("tools/list", child4.methods())
        child3 = self.initialized(sessionOf("own3"))
        self.assertIn("tools/list", child3.methods())


class ProjectOnlyTests(CatalogCase):
    """A server only a project's file defines has no route of its own
    (C{/<server>/mcp}), only its project's: it is listed through that."""

    spec = dataclasses.replace(
        SPEC,
        mode="workspace",
        variants=(Variant("a" * 16, dataclasses.replace(SPEC, cwd="/work/a"), "child-a"),),
    )

    def test_a_server_only_a_project_defines_is_listed_through_its_route(self) -> None:
        probing = self.catalogs.ensure(self.pool)
        child = Child(self.reactor.lastProcess, self.lists)
        child.pump()
        result = self.successResultOf(probing)
        assert result is not None, self.catalogs.error("cat")
        self.assertEqual([t["name"] for t in result.items("tools")], ["a", "b", "c"])
        self.assertEqual(self.reactor.lastProcess.path, "/work/a")  # its project's child


class PrincipalTests(SynchronousTestCase):
    def test_a_per_user_servers_catalogs_are_per_principal(self) -> None:
        reactor = FakeProcessReactor()
        spec = dataclasses.replace(SPEC, perUser=True)
        pool: Any = makePool(spec, fakeSpawner(reactor))
        assert isinstance(pool, ServerPool) and isinstance(pool.placement, KeyedPlacement)
        catalogs = Catalogs(reactor)
        catalogs.attach(pool)
        lists = {"alice": [tool("alice_only")], "bob": [tool("bob_only")]}
        for who in ("alice", "bob"):
            session = sessionOf(who, principal=who)
            opened = pool.open(session, clientInitialize())
            Child(reactor.lastProcess, {"tools": lists[who]}).pump()
            self.successResultOf(opened)
        self.assertEqual(catalogKeyOf(pool, "alice"), "alice")
        alice, bob = catalogs.get("cat", "alice"), catalogs.get("cat", "bob")
        assert alice is not None and bob is not None
        self.assertEqual([t["name"] for t in alice.items("tools")], ["alice_only"])
        self.assertEqual([t["name"] for t in bob.items("tools")], ["bob_only"])
        self.assertIsNone(catalogs.get("cat"))
        self.assertEqual(catalogs.status()["cat"]["catalogs"], 2)

    def test_a_global_server_has_one_catalog(self) -> None:
        pool: Any = makePool(SPEC, fakeSpawner(FakeProcessReactor()))
        self.assertEqual(catalogKeyOf(pool, "alice"), "")


class SnapshotTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.pool: Any = makePool(SPEC, fakeSpawner(self.reactor))

    def service(self, persistence: Any, threads: Any = syncThread) -> Catalogs:
        catalogs = Catalogs(self.reactor, persistence, threads)
        return catalogs

    def started(self, persistence: Any) -> Catalogs:
        """A started service over C{persistence}, attached to the pool."""
        catalogs = self.service(persistence)
        catalogs.attach(self.pool)
        self.successResultOf(catalogs.start())
        return catalogs

    def answerInitialize(self, proc: FakeProcess) -> None:
        """C{proc} answers the gateway's initialize as server cat (C{CAPS})."""
        [init] = proc.takeMessages()
        proc.reply(
            jsonrpc.resultResponse(
                init["id"],
                {
                    "protocolVersion": "2025-11-25",
                    "capabilities": CAPS,
                    "serverInfo": {"name": "cat"},
                },
            )
        )

    def test_snapshots_are_served_with_stale_when_the_launch_changed(self) -> None:
        persistence = MemoryPersistence(
            {
                ("cat", ""): record(["a"], launchOf(SPEC)),
                ("old", ""): record(["b"], "0" * 16),
            }
        )
        catalogs = self.service(persistence)
        changes = Recorder()
        catalogs.observe(changes)
        catalogs.attach(self.pool)
        oldPool: Any = makePool(dataclasses.replace(SPEC, name="old"), fakeSpawner(self.reactor))
        catalogs.attach(oldPool)
        self.successResultOf(catalogs.start())
        cat, old = catalogs.get("cat"), catalogs.get("old")
        assert cat is not None and old is not None
        self.assertEqual((cat.source, cat.stale, cat.taken), ("snapshot", False, 5.0))
        self.assertTrue(old.stale)
        self.assertEqual(sorted(changes.calls), [("cat", {"tools"}), ("old", {"tools"})])
        self.assertEqual(catalogs.status()["old"]["stale"], True)
        # A pool of yet another launch: still stale.
        catalogs.attach(
            makePool(dataclasses.replace(SPEC, name="old", args=()), fakeSpawner(self.reactor))
        )
        self.assertTrue(catalogs.get("old").stale)  # type: ignore[union-attr]

    def test_a_live_listing_equal_to_the_snapshot_is_not_written_nor_told(self) -> None:
        persistence = MemoryPersistence(
            {("cat", ""): record(["a"], launchOf(SPEC), entry=entryOf(SPEC))}
        )
        catalogs = self.started(persistence)
        changes = Recorder()
        catalogs.observe(changes)
        # The child lists the same as the snapshot (serverInfo, capabilities, tools).
        opened = self.pool.open(sessionOf("s"), clientInitialize())
        child = Child(self.reactor.lastProcess, {"tools": [tool("a")]})
        child.capabilities = CAPS
        proc = child.proc
        self.answerInitialize(proc)
        child.pump()
        self.successResultOf(opened)
        known = catalogs.get("cat")
        assert known is not None
        self.assertEqual(known.source, "live")
        self.assertEqual((persistence.saves, changes.calls), ([], []))
        # Another tool: written once, with the record's keys.
        child.lists["tools"] = [tool("a"), tool("b")]
        proc.reply(jsonrpc.notification("notifications/tools/list_changed"))
        self.reactor.advance(0.5)
        child.pump()
        [(server, key, saved)] = persistence.saves
        self.assertEqual((server, key), ("cat", ""))
        self.assertEqual(
            set(saved),
            {
                "serverInfo",
                "capabilities",
                "instructions",
                *KINDS,
                "launch",
                "taken",
                "digest",
                "entry",
                "programs",
            },
        )
        self.assertEqual(saved["launch"], launchOf(SPEC))
        self.assertEqual(saved["programs"], ["/opt/cat"])  # the command PATH found
        self.assertNotIn("env", json.dumps(saved))

    def test_a_stale_snapshot_listed_again_is_fresh_and_saved_with_the_new_launch(self) -> None:
        persistence = MemoryPersistence({("cat", ""): record(["a"], "0" * 16)})
        catalogs = self.started(persistence)
        self.assertTrue(catalogs.get("cat").stale)  # type: ignore[union-attr]
        changes = Recorder()
        catalogs.observe(changes)
        opened = self.pool.open(sessionOf("s"), clientInitialize())
        proc = self.reactor.lastProcess
        self.answerInitialize(proc)
        Child(proc, {"tools": [tool("a")]}).pump()
        self.successResultOf(opened)
        known = catalogs.get("cat")
        assert known is not None
        self.assertEqual((known.source, known.stale), ("live", False))
        self.assertEqual(changes.calls, [])  # the same lists: nobody is told
        [(_, _, saved)] = persistence.saves  # the same digest, a new launch: written
        self.assertEqual(saved["launch"], launchOf(SPEC))

    def test_a_refresh_whose_listing_fails_is_none_not_the_snapshot(self) -> None:
        persistence = MemoryPersistence({("cat", ""): record(["a"], launchOf(SPEC))})
        catalogs = self.started(persistence)
        refreshing = catalogs.refresh(self.pool)
        proc = self.reactor.lastProcess
        [init] = proc.takeMessages()
        proc.reply(
            jsonrpc.resultResponse(
                init["id"], {"protocolVersion": "2025-11-25", "capabilities": CAPS}
            )
        )
        [listing] = [m for m in proc.takeMessages() if m.get("method") == "tools/list"]
        proc.reply(jsonrpc.errorResponse(listing["id"], -32603, "exploded"))
        self.assertIsNone(self.successResultOf(refreshing))
        self.assertIn("exploded", catalogs.error("cat") or "")
        self.assertEqual(catalogs.get("cat").source, "snapshot")  # type: ignore[union-attr]

    def test_writes_are_one_at_a_time_the_newest_replacing_a_queued_one(self) -> None:
        threads = HandThreads()
        persistence = MemoryPersistence()
        catalogs = self.service(persistence, threads)
        catalogs.attach(self.pool)
        starting = catalogs.start()
        threads.runAll()  # nothing to load
        self.successResultOf(starting)
        opened = self.pool.open(sessionOf("s"), clientInitialize())
        child = Child(self.reactor.lastProcess, {"tools": [tool("one")]})
        child.pump()
        self.successResultOf(opened)
        for n in ("two", "three"):
            child.lists["tools"] = [tool(n)]
            child.proc.reply(jsonrpc.notification("notifications/tools/list_changed"))
            self.reactor.advance(0.5)
            child.pump()
        self.assertEqual(len(threads.jobs), 1)  # "one" in flight, "three" queued ("two" replaced)
        stopping = catalogs.stop()
        self.assertNoResult(stopping)
        threads.runAll()
        self.successResultOf(stopping)
        self.assertEqual(
            [[t["name"] for t in r["tools"]] for _, _, r in persistence.saves], [["one"], ["three"]]
        )

    def test_a_refused_write_is_one_warning(self) -> None:
        persistence = MemoryPersistence()
        persistence.fail = ValueError("the catalog of 'cat' would be 9000000 bytes, over 8388608")
        catalogs = self.service(persistence)
        catalogs.attach(self.pool)
        with capturedGatewayLogs() as events:
            opened = self.pool.open(sessionOf("s"), clientInitialize())
            Child(self.reactor.lastProcess, {"tools": [tool("a")]}).pump()
            self.successResultOf(opened)
        self.assertIsNotNone(catalogs.get("cat"))
        [warning] = [e for e in events if "was not saved" in e["log_format"]]
        self.assertIn("over 8388608", warning["why"])

    def test_a_bad_record_is_ignored_with_a_warning(self) -> None:
        bad = record(["a"], "x")
        bad["tools"] = "not a list"
        loaded = Loaded({("cat", ""): bad})
        loaded.warnings = ("the catalog file /x is not JSON; it is ignored",)  # type: ignore[assignment]
        catalogs = self.service(MemoryPersistence())
        catalogs._persistence.loadAll = lambda: loaded  # type: ignore[union-attr,method-assign]
        with capturedGatewayLogs() as events:
            self.successResultOf(catalogs.start())
        self.assertIsNone(catalogs.get("cat"))
        texts = [e["log_format"] for e in events]
        self.assertTrue(any("not usable" in t for t in texts))
        self.assertTrue(any(e.get("warning", "").endswith("ignored") for e in events))

    def test_round_trip_through_the_catalog_store(self) -> None:
        stateDir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, stateDir, True)
        store = CatalogStore(stateDir)
        catalogs = self.service(store)
        catalogs.attach(self.pool)
        self.successResultOf(catalogs.start())
        opened = self.pool.open(sessionOf("s"), clientInitialize())
        Child(self.reactor.lastProcess, {"tools": [tool("a"), tool("b")]}).pump()
        self.successResultOf(opened)
        live = catalogs.get("cat")
        assert live is not None
        path = store.pathOf("cat")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(path.parent).st_mode), 0o700)
        again = self.service(CatalogStore(stateDir))
        again.attach(self.pool)
        self.successResultOf(again.start())
        loaded = again.get("cat")
        assert loaded is not None
        self.assertEqual(
            (loaded.source, loaded.digest, loaded.stale), ("snapshot", live.digest, False)
        )
        self.assertEqual(loaded.lists, live.lists)

    def test_a_program_changed_between_two_gateways_is_said_and_not_current(self) -> None:
        """The developer's own server gained a tool while no gateway ran:
        its saved catalog is read, but answers no start-up."""
        stateDir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, stateDir, True)
        script = stateDir / "srv.py"
        script.write_text("TOOLS = ['a']\n")
        pool = makePool(dataclasses.replace(SPEC, args=(str(script),)), fakeSpawner(self.reactor))
        catalogs = self.service(CatalogStore(stateDir))
        catalogs.attach(pool)
        self.successResultOf(catalogs.start())
        opened = pool.open(sessionOf("s"), clientInitialize())
        Child(self.reactor.lastProcess, {"tools": [tool("a")]}).pump()
        self.successResultOf(opened)
        script.write_text("TOOLS = ['a', 'beta']\n")
        again = self.service(CatalogStore(stateDir))
        again.attach(pool)
        with capturedGatewayLogs() as events:
            self.successResultOf(again.start())
        loaded = again.get("cat")
        assert loaded is not None
        self.assertEqual([t["name"] for t in loaded.items("tools")], ["a"])
        self.assertEqual(loaded.entry, "")
        [said] = [e for e in events if e.get("program") == str(script)]
        self.assertEqual(said["server"], "cat")


class ForgetStatusTests(CatalogCase):
    def test_forget_tells_observers_and_drops_late_listings(self) -> None:
        child = self.startShared()
        child.hold = True
        child.proc.reply(jsonrpc.notification("notifications/tools/list_changed"))
        self.reactor.advance(0.5)
        child.pump()
        self.catalogs.forget("cat")
        self.assertIsNone(self.catalogs.get("cat"))
        self.assertEqual(self.changes.calls[-1], ("cat", frozenset({"tools", "resources"})))
        [held] = child.held
        child.proc.reply(jsonrpc.resultResponse(held["id"], {"tools": [tool("late")]}))
        self.assertIsNone(self.catalogs.get("cat"))
        self.assertNotIn("cat", self.catalogs.status())
        self.assertIsNone(self.pool.maker.listener)

    def test_status(self) -> None:
        self.assertEqual(
            self.catalogs.status(),
            {"cat": UNLISTED},
        )
        self.reactor.advance(7)
        self.startShared()
        status = self.catalogs.status()["cat"]
        self.assertEqual(
            (status["source"], status["tools"], status["resources"], status["taken"]),
            ("live", 3, 1, 7.0),
        )

    def test_an_observer_that_raises_is_logged_and_unsubscribing_works(self) -> None:
        def broken(server: str, kinds: frozenset[str]) -> None:
            raise RuntimeError("observer")

        stop = self.catalogs.observe(broken)
        with capturedGatewayLogs() as events:
            self.startShared()
        self.assertTrue(any("observer" in e["log_format"] for e in events))
        self.flushLoggedErrors(RuntimeError)
        stop()
        calls = len(self.changes.calls)
        self.catalogs.forget("cat")
        self.assertEqual(len(self.changes.calls), calls + 1)


class CatalogValueTests(SynchronousTestCase):
    def test_items_and_record(self) -> None:
        c = Catalog("s", "", "live", 1.0, "d", {kind: () for kind in KINDS})
        self.assertEqual(c.items("tools"), ())
        self.assertEqual(c.items("nope"), ())
        self.assertEqual(c.record("l")["launch"], "l")

    def test_launch_ignores_env(self) -> None:
        self.assertEqual(
            launchOf(SPEC), launchOf(dataclasses.replace(SPEC, env=(("SECRET", "x"),)))
        )
        self.assertNotEqual(launchOf(SPEC), launchOf(dataclasses.replace(SPEC, args=())))
        self.assertRegex(launchOf(SPEC), "^[0-9a-f]{16}$")


class HookTests(SynchronousTestCase):
    """The core hooks the catalogs hang on: Router.onList, Upstream(onReady)."""

    def test_the_router_tells_on_list_of_the_three_list_changed_only(self) -> None:
        router = Router("srv", Clock(), 10.0, SharedFanout())
        session = FakeSession("s")
        router.attach(session)
        told: list[str] = []
        router.onList = told.append
        for method in (
            "notifications/tools/list_changed",
            "notifications/prompts/list_changed",
            "notifications/resources/list_changed",
            "notifications/message",
            "notifications/resources/updated",
        ):
            router.childMessage(jsonrpc.notification(method, {}))
        self.assertEqual(
            told,
            [
                "notifications/tools/list_changed",
                "notifications/prompts/list_changed",
                "notifications/resources/list_changed",
            ],
        )

        def broken(method: str) -> None:
            raise RuntimeError("listener")

        router.onList = broken
        session.delivered.clear()
        with capturedGatewayLogs() as events:
            router.childMessage(jsonrpc.notification("notifications/tools/list_changed"))
        self.flushLoggedErrors(RuntimeError)
        self.assertTrue(any("listener of its" in e["log_format"] for e in events))
        self.assertEqual(len(session.delivered), 1)  # still delivered to the session

    def test_a_era2026_child_is_listed_once_discovered(self) -> None:
        reactor = FakeProcessReactor()
        pool: Any = makePool(dataclasses.replace(SPEC, era="era2026"), fakeSpawner(reactor))
        catalogs = Catalogs(reactor)
        catalogs.attach(pool)
        warming = pool.prewarm()
        proc = reactor.lastProcess
        [discover] = proc.takeMessages()
        self.assertEqual(discover["method"], "server/discover")
        proc.reply(
            jsonrpc.resultResponse(
                discover["id"],
                {
                    "resultType": "complete",
                    "supportedVersions": ["2026-07-28"],
                    "capabilities": {"tools": {}},
                    "_meta": {},
                },
            )
        )
        reactor.advance(0)
        self.successResultOf(warming)
        [listing] = [m for m in proc.takeMessages() if m.get("method") == "tools/list"]
        proc.reply(jsonrpc.resultResponse(listing["id"], {"tools": [tool("m")]}))
        known = catalogs.get("cat")
        assert known is not None
        self.assertEqual([t["name"] for t in known.items("tools")], ["m"])

    def test_a_listener_that_raises_does_not_stop_the_handshake(self) -> None:
        reactor = FakeProcessReactor()
        pool: Any = makePool(SPEC, fakeSpawner(reactor))

        class Broken:
            def childReady(self, *args: Any) -> None:
                raise RuntimeError("ready")

            def childListChanged(self, *args: Any) -> None:
                raise RuntimeError("changed")

        pool.watchChildren(Broken())
        opened = pool.open(sessionOf("s"), clientInitialize())
        with capturedGatewayLogs():
            Child(reactor.lastProcess, {}).pump()
        self.successResultOf(opened)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


def test_a_probes_roots_question_is_taken_even_once_its_child_is_stopped() -> None:
    """The catalog probe's child may ask for roots as the probe ends:
    answered with none while it runs, taken either way, so that it never
    waits for a stream the probe's session never opens (which ended, 5 s
    later, in a warning naming a session no client has)."""
    from mcpgateway.core.gateway.catalogprobe import _ProbeSession

    answers: list[dict[str, Any]] = []
    running = [True]

    class Pool:
        spec = dataclasses.make_dataclass("Spec", [("name", str)])("srv")

        def answer(self, session: object, message: dict[str, Any]) -> bool:
            answers.append(message)
            return running[0]

    probe = _ProbeSession(Pool(), "probe-1", 0.0)  # type: ignore[arg-type]
    assert probe.deliver({"jsonrpc": "2.0", "id": 1, "method": "roots/list"})
    running[0] = False
    assert probe.deliver({"jsonrpc": "2.0", "id": 2, "method": "roots/list"})
    assert [a["result"] for a in answers] == [{"roots": []}, {"roots": []}]
    assert not probe.deliver({"jsonrpc": "2.0", "id": 3, "method": "sampling/createMessage"})
