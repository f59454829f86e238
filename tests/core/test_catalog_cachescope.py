"""The catalogs honour a server's cache hints (MCP 2026-07-28, C{ttlMs} and
C{cacheScope}): a list the server says is C{private} is kept per principal
and never served to another one (nor, through a snapshot, after a
restart); a list is served past its C{ttlMs} only after it was listed
again (through the running child, else a probe), or when that failed; a
C{list_changed} of a private server expires the other principals'
catalogs. The probe reads the hints a 2026 child gives (a client's
session gets a 2025 result without them). Fake children, a fake clock."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.core.cachehints import MAX_TTL_MS, ListingHints, hintsOf
from mcpgateway.core.catalogdata import KINDS, launchOf, savedHints
from mcpgateway.core.era2026.translate import handshakeResult
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.catalogprobe import _ProbeSession
from mcpgateway.core.pools.factory import makePool
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, FakeSession, fakeSpawner
from tests.support.core.catalog import (
    SPEC,
    CatalogCase,
    Child,
    MemoryPersistence,
    clientInitialize,
    record,
    sessionOf,
    syncThread,
    tool,
)
from tests.support.core.era2026.era2026child import SERVER_INFO, AdapterCase

Message = dict[str, Any]


class HintedChild(Child):
    """A child whose every list page carries C{hints}; each listing of its
    tools is numbered (C{t1}, C{t2}, ...), so a catalog shows which
    listing it came from."""

    def __init__(self, proc: FakeProcess, hints: dict[str, Any]) -> None:
        super().__init__(proc, {"tools": []})
        self.hints = hints
        self.pageSize = 10
        self.listings = 0
        self.failNext = False

    def _answer(self, message: Message) -> None:
        if message.get("method") == "tools/list" and "id" in message:
            if self.failNext:
                self.failNext = False
                self.proc.reply(jsonrpc.errorResponse(message["id"], -32603, "down"))
                return
            self.listings += 1
            result = {"tools": [tool(f"t{self.listings}")], **self.hints}
            self.proc.reply(jsonrpc.resultResponse(message["id"], result))
            return
        super()._answer(message)


def names(catalog: Any) -> list[str]:
    assert catalog is not None
    return [t["name"] for t in catalog.items("tools")]


class ScopeCase(CatalogCase):
    hints: dict[str, Any] = {"cacheScope": "private"}

    def startHinted(self) -> HintedChild:
        opened = self.pool.open(sessionOf("s1"), clientInitialize())
        child = HintedChild(self.reactor.lastProcess, dict(self.hints))
        child.pump()
        self.successResultOf(opened)
        return child

    def listFor(self, principal: str, child: HintedChild) -> Any:
        key = self.catalogs.keyFor(self.pool, principal)
        ensured = self.catalogs.ensure(self.pool, key, principal)
        child.pump()
        return self.successResultOf(ensured)


class PrivateTests(ScopeCase):
    def test_a_private_list_is_kept_per_principal(self) -> None:
        child = self.startHinted()
        own = self.catalogs.get("cat")
        assert own is not None
        self.assertEqual(own.private, frozenset({"tools"}))
        self.assertEqual(names(own), ["t1"])
        # Each principal has its catalog of its own; none sees another's.
        self.assertEqual(self.catalogs.keyFor(self.pool, "key-alice"), "key-alice")
        self.assertIsNone(self.catalogs.get("cat", "key-alice"))
        alice = self.listFor("key-alice", child)
        self.assertEqual(names(alice), ["t2"])
        self.assertEqual(alice.catalogKey, "key-alice")
        bob = self.listFor("key-bob", child)
        self.assertEqual(names(bob), ["t3"])
        self.assertEqual(names(self.catalogs.get("cat", "key-alice")), ["t2"])
        # Without authentication every caller is the one anonymous principal.
        self.assertEqual(self.catalogs.keyFor(self.pool, ""), "")

    def test_a_public_list_is_shared(self) -> None:
        self.hints = {"cacheScope": "public", "ttlMs": 60_000}
        self.startHinted()
        self.assertEqual(self.catalogs.keyFor(self.pool, "key-alice"), "")
        catalog = self.catalogs.get("cat")
        assert catalog is not None
        self.assertEqual(catalog.private, frozenset())

    def test_becoming_private_and_public_again_is_told_for_every_kind(self) -> None:
        child = self.startHinted()
        self.assertIn(("cat", frozenset(KINDS)), self.changes.calls)
        child.hints = {"cacheScope": "public"}
        self.changes.calls.clear()
        child.proc.reply(jsonrpc.notification("notifications/tools/list_changed"))
        self.reactor.advance(1.0)
        child.pump()
        self.assertEqual(self.changes.calls, [("cat", frozenset(KINDS))])
        self.assertEqual(self.catalogs.keyFor(self.pool, "key-alice"), "")

    def test_list_changed_expires_the_other_principals_catalogs(self) -> None:
        child = self.startHinted()
        alice = self.listFor("key-alice", child)
        self.assertFalse(self.catalogs.expired("cat", "key-alice"))
        child.proc.reply(jsonrpc.notification("notifications/tools/list_changed"))
        child.pump()
        self.assertTrue(self.catalogs.expired("cat", "key-alice"))
        self.reactor.advance(1.0)
        child.pump()
        again = self.listFor("key-alice", child)
        self.assertNotEqual(names(again), names(alice))
        self.assertFalse(self.catalogs.expired("cat", "key-alice"))

    def test_the_snapshot_keeps_the_scope(self) -> None:
        self.startHinted()
        saved = self.persistence.records[("cat", "")]
        self.assertEqual(saved["private"], ["tools"])
        reactor = FakeProcessReactor()
        later = Catalogs(reactor, MemoryPersistence(dict(self.persistence.records)), syncThread)
        pool: Any = _pool(reactor)
        later.attach(pool, watch=False)
        self.successResultOf(later.start())
        self.assertEqual(later.keyFor(pool, "key-alice"), "key-alice")
        self.assertIsNone(later.get("cat", "key-alice"))


def _pool(reactor: FakeProcessReactor) -> Any:
    return makePool(SPEC, fakeSpawner(reactor))


class TtlTests(ScopeCase):
    hints = {"cacheScope": "public", "ttlMs": 5000}

    def test_a_list_past_its_ttl_is_listed_again_before_it_is_served(self) -> None:
        child = self.startHinted()
        first = self.catalogs.get("cat")
        self.assertEqual(names(first), ["t1"])
        self.reactor.advance(4.9)
        self.assertFalse(self.catalogs.expired("cat"))
        self.assertIs(self.successResultOf(self.catalogs.ensure(self.pool)), first)
        self.assertEqual(child.listings, 1)
        self.reactor.advance(0.1)
        self.assertTrue(self.catalogs.expired("cat"))
        ensured = self.catalogs.ensure(self.pool)
        again = self.catalogs.ensure(self.pool)  # one listing for both
        child.pump()
        fresh = self.successResultOf(ensured)
        assert fresh is not None
        self.assertIs(self.successResultOf(again), fresh)
        self.assertEqual(names(fresh), ["t2"])
        self.assertEqual(child.listings, 2)
        self.assertEqual(fresh.source, "live")  # through the running child
        self.assertEqual(fresh.expiresAt(), 5.0 + 5.0)

    def test_when_listing_again_fails_the_stale_list_is_served(self) -> None:
        child = self.startHinted()
        self.reactor.advance(5.0)
        child.failNext = True
        ensured = self.catalogs.ensure(self.pool)
        child.pump()
        self.assertEqual(names(self.successResultOf(ensured)), ["t1"])

    def test_a_ttl_of_zero_is_listed_each_time_it_is_needed(self) -> None:
        self.hints = {"ttlMs": 0}
        child = self.startHinted()
        for n in range(2, 5):
            ensured = self.catalogs.ensure(self.pool)
            child.pump()
            self.assertEqual(names(self.successResultOf(ensured)), [f"t{n}"])

    def test_without_a_ttl_a_list_stays_fresh(self) -> None:
        self.hints = {}
        child = self.startHinted()
        self.reactor.advance(86_400.0)
        self.assertFalse(self.catalogs.expired("cat"))
        self.successResultOf(self.catalogs.ensure(self.pool))
        self.assertEqual(child.listings, 1)

    def test_no_running_child_means_a_probe(self) -> None:
        persistence = MemoryPersistence(
            {("cat", ""): {**record(["old"], launchOf(SPEC), taken=0.0), "ttlMs": {"tools": 1000}}}
        )
        reactor = FakeProcessReactor()
        catalogs = Catalogs(reactor, persistence, syncThread)
        pool = _pool(reactor)
        catalogs.attach(pool)
        self.successResultOf(catalogs.start())
        reactor.advance(2.0)
        self.assertTrue(catalogs.expired("cat"))
        ensured = catalogs.ensure(pool)
        child = HintedChild(reactor.lastProcess, {"ttlMs": 1000})
        child.pump()
        self.assertEqual(names(self.successResultOf(ensured)), ["t1"])


class HintValueTests(CatalogCase):
    def test_the_hints_of_one_result(self) -> None:
        self.assertEqual(hintsOf({"cacheScope": "private", "ttlMs": 10}), ("private", 10))
        self.assertEqual(hintsOf({"cacheScope": "shared", "ttlMs": -5}), (None, 0))
        self.assertEqual(hintsOf({"ttlMs": True}), (None, None))
        self.assertEqual(hintsOf({"ttlMs": 10**400}), (None, MAX_TTL_MS))
        hints = ListingHints(5.0)
        hints.page("tools", {"tools": [], "ttlMs": 10**400})
        self.assertEqual(hints.expiry("tools"), 5.0 + MAX_TTL_MS / 1000.0)
        saved = savedHints({"ttlMs": {"tools": 10**400}})
        self.assertEqual(saved, (frozenset(), {"tools": MAX_TTL_MS}))
        self.assertEqual(hintsOf({"ttlMs": 1.5}), (None, None))

    def test_a_listing_takes_the_shortest_ttl_and_any_private_page(self) -> None:
        hints = ListingHints(100.0)
        hints.page("tools", {"ttlMs": 9000, "cacheScope": "public"})
        hints.page("tools", {"ttlMs": 3000, "cacheScope": "private"})
        hints.page("prompts", {"cacheScope": "public"})
        self.assertEqual(hints.private, {"tools"})
        self.assertEqual(hints.expiry("tools"), 103.0)
        self.assertIsNone(hints.expiry("prompts"))

    def test_saved_hints_keep_only_what_fits(self) -> None:
        private, ttls = savedHints(
            {"private": ["tools", "nope", 3], "ttlMs": {"tools": 5, "prompts": -1, "x": 2}}
        )
        self.assertEqual((private, ttls), (frozenset({"tools"}), {"tools": 5}))
        self.assertEqual(savedHints({"private": "tools", "ttlMs": []}), (frozenset(), {}))


@given(
    st.dictionaries(
        st.text(max_size=12),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=4), inner, max_size=3)
            ),
            max_leaves=8,
        ),
    )
)
def test_hints_of_anything_never_fail(result: dict[str, Any]) -> None:
    scope, ttl = hintsOf(result)
    assert scope in (None, "public", "private")
    assert ttl is None or (isinstance(ttl, int) and ttl >= 0)
    hints = ListingHints(0.0)
    hints.page("tools", result)
    private, ttls = savedHints(result)
    assert private <= frozenset(KINDS) and all(v >= 0 for v in ttls.values())


class ProbeSeesHintsTests(AdapterCase):
    """A 2026 child's list through the adapter: the catalogs' probe
    session gets its hints, a client's session a 2025 result without."""

    def listed(self, session: Any) -> Message:
        self.router.attach(session)
        d = self.router.request(session, jsonrpc.request(4, "tools/list", {}), None)
        sent = [m for m in self.taken() if m.get("method") == "tools/list"][-1]
        self.reply(
            {
                "id": sent["id"],
                "result": {
                    "resultType": "complete",
                    "tools": [tool("a")],
                    "ttlMs": 7000,
                    "cacheScope": "private",
                    "_meta": {"io.modelcontextprotocol/serverInfo": SERVER_INFO},
                },
            }
        )
        return self.successResultOf(d)

    def test_the_probe_gets_the_hints(self) -> None:
        probe = ProbeLike("p")
        self.assertTrue(_ProbeSession.keepsCacheHints)
        result = self.listed(probe)["result"]
        self.assertEqual((result["ttlMs"], result["cacheScope"]), (7000, "private"))
        self.assertNotIn("resultType", result)

    def test_a_clients_session_does_not(self) -> None:
        result = self.listed(FakeSession("b"))["result"]
        self.assertNotIn("ttlMs", result)
        self.assertNotIn("cacheScope", result)
        self.assertNotIn("ttlMs", handshakeResult("tools/list", {"ttlMs": 1}))


class ProbeLike(FakeSession):
    keepsCacheHints = True


def test_a_clock_is_enough() -> None:
    """The service needs nothing but a clock to say a catalog expired."""
    catalogs = Catalogs(Clock())
    assert not catalogs.expired("none")
