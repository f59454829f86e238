"""The principal as part of the sharing scope: a per-user (C{"perUser": true})
or credential-scoped server gives each authenticated principal children of
its own (and one per credential set within it), a global one shares its child
with everyone, and without authentication (principal C{""}) nothing changes.
Sessions keep their principal across a restart, and a 2026 call of a
principal reaches that principal's child."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.keyedplacement import KeyedPlacement
from mcpgateway.core.pools.placement import SessionPlacement
from mcpgateway.core.pools.pool import GLOBAL_CHILD
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.core.sessions import Session, shortId
from mcpgateway.core.spec import Variant
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, RecordingSink, fakeSpawner
from tests.support.core.kept_records import KeptRecords, openAs
from tests.support.core.opt_specs import optSpec
from tests.support.core.pools.pool import keyedOf, placementOf

Message = dict[str, Any]

ALICE, BOB, CAROL = "mfrggzdfmztwq2lk", "nbswy3dpo5xxe3de", "mnxw2zlsmfxgozlt"
PER_USER = optSpec("gh", perUser=True)
GLOBAL = optSpec("fs")
CREDENTIAL = optSpec("db", mode="credential", credentialEnv=("TOKEN",))
NO_ENV_CREDENTIAL = dataclasses.replace(CREDENTIAL, name="kv", credentialEnv=())
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}},
    "serverInfo": {"name": "child", "version": "1"},
}


def initialize() -> Message:
    return jsonrpc.request(
        0,
        "initialize",
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "client", "version": "1"},
        },
    )


def handshake(proc: FakeProcess) -> list[Message]:
    """The child answers the gateway's initialize; what it got after it."""
    [init, *_] = proc.takeMessages()
    assert init["method"] == "initialize"
    proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
    initialized, *rest = proc.takeMessages()
    assert initialized == jsonrpc.notification("notifications/initialized")
    return list(rest)


class PerUserCase(KeptRecords, SynchronousTestCase):
    specs = {"gh": PER_USER, "fs": GLOBAL, "db": CREDENTIAL, "kv": NO_ENV_CREDENTIAL}

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.records: list[dict[str, Any]] = []
        self.gateway = self.makeGateway()

    def makeGateway(self) -> Gateway:
        return Gateway(self.specs, fakeSpawner(self.reactor), persistence=self, lazyStart=False)

    def open(self, server: str, principal: str = "", **credentials: str) -> Session:
        """A session of C{principal} on C{server}, its child started if needed."""
        spawned = len(self.reactor.processes)
        session, opened = openAs(
            self.gateway, server, initialize(), "2025-11-25", principal, credentials
        )
        if len(self.reactor.processes) > spawned:
            handshake(self.reactor.lastProcess)
        self.assertIn("result", self.successResultOf(opened))
        return session

    def pid(self, session: Session) -> int | None:
        return self.gateway.pools[session.server].childPid(session)

    def process(self, pid: int | None) -> FakeProcess:
        [proc] = [p for p in self.reactor.processes if p.pid == pid and pid is not None]
        return proc


class ChildPerPrincipalTests(PerUserCase):
    def test_alice_and_bob_get_two_children_alice_twice_one(self) -> None:
        alice1, bob, alice2 = self.open("gh", ALICE), self.open("gh", BOB), self.open("gh", ALICE)
        self.assertEqual(len(self.reactor.processes), 2)
        self.assertEqual(self.pid(alice1), self.pid(alice2))
        self.assertNotEqual(self.pid(alice1), self.pid(bob))
        self.assertEqual((alice1.principal, bob.principal), (ALICE, BOB))
        self.assertEqual(alice1.variant, Variant("", PER_USER, f"/p:{ALICE}", ALICE))
        status = self.gateway.readModel.server("gh")
        self.assertEqual(status.principalChildren, {ALICE: 1, BOB: 1})
        byPid = {child.pid: child.principal for child in status.children}
        self.assertEqual(byPid, {self.pid(alice1): ALICE, self.pid(bob): BOB})
        rows = {row.id: row.principal for row in self.gateway.readModel.status().sessions}
        self.assertEqual(rows, {alice1.id: ALICE, bob.id: BOB, alice2.id: ALICE})

    def test_a_global_server_is_one_child_for_every_principal(self) -> None:
        self.assertIsInstance(placementOf(self.gateway.pools["fs"]), SharedPlacement)
        alice, bob = self.open("fs", ALICE), self.open("fs", BOB)
        self.assertEqual(len(self.reactor.processes), 1)
        self.assertEqual(self.pid(alice), self.pid(bob))
        self.assertEqual((alice.principal, bob.principal), (ALICE, BOB))  # bound all the same
        self.assertEqual(self.gateway.readModel.server("fs").principalChildren, {})

    def test_a_principals_child_is_spawned_as_serving_that_principal_alone(self) -> None:
        """What its sandbox keeps apart (L{mcpgateway.sandbox.request.build})
        reads the principal off the spec the child is spawned with."""
        alice, bob, shared = self.open("gh", ALICE), self.open("gh", BOB), self.open("fs", ALICE)
        served = {}
        for session in (alice, bob, shared):
            pool = self.gateway.pools[session.server]
            assert isinstance(pool, ServerPool)
            upstream = pool.upstreamFor(session)
            assert upstream is not None
            served[session.server, session.principal] = upstream.spec.principal
        self.assertEqual(served, {("gh", ALICE): ALICE, ("gh", BOB): BOB, ("fs", ALICE): ""})

    def test_a_per_user_server_without_authentication_is_one_child(self) -> None:
        first, second, third = self.open("gh"), self.open("gh"), self.open("gh")
        self.assertEqual(len(self.reactor.processes), 1)
        self.assertEqual({self.pid(s) for s in (first, second, third)}, {self.pid(first)})
        assert first.variant is not None
        self.assertEqual((first.variant.childKey, first.principal), (GLOBAL_CHILD, ""))

    def test_the_credential_scope_is_per_principal(self) -> None:
        alice, bob, anonymous = self.open("kv", ALICE), self.open("kv", BOB), self.open("kv")
        self.assertEqual(len({self.pid(s) for s in (alice, bob, anonymous)}), 3)

    def test_a_child_per_principal_and_credential_set(self) -> None:
        alice1 = self.open("db", ALICE, key="k1", TOKEN="v1")
        alice1again = self.open("db", ALICE, key="k1", TOKEN="v1")
        alice2 = self.open("db", ALICE, key="k2", TOKEN="v2")
        bob1 = self.open("db", BOB, key="k1", TOKEN="v1")
        self.assertEqual(len(self.reactor.processes), 3)
        self.assertEqual(self.pid(alice1), self.pid(alice1again))
        self.assertEqual(len({self.pid(s) for s in (alice1, alice2, bob1)}), 3)
        self.assertEqual(self.process(self.pid(bob1)).env, {"TOKEN": "v1"})
        assert alice2.variant is not None
        self.assertEqual(alice2.variant.childKey, f"/c:k2/p:{ALICE}")

    def test_max_children_evicts_the_least_recently_used_across_principals(self) -> None:
        self.specs = {"gh": dataclasses.replace(PER_USER, maxChildren=2)}
        self.gateway = self.makeGateway()
        alice = self.open("gh", ALICE)
        self.reactor.advance(1)
        bob = self.open("gh", BOB)
        aliceProc, bobProc = self.process(self.pid(alice)), self.process(self.pid(bob))
        self.reactor.advance(1)
        carol = self.open("gh", CAROL)  # full: alice's child, idle longest, makes room
        self.assertTrue(aliceProc.stdinClosed)
        self.assertFalse(bobProc.stdinClosed)
        pool = self.gateway.pools["gh"]
        self.assertEqual(pool.status(3).evictions, 1)
        # Alice's next request starts her own child again (bob's, now the
        # least recently used, makes room), never carol's.
        aliceProc.exit(0)
        d = pool.forward(alice, jsonrpc.request(7, "tools/list"), None)
        self.assertTrue(bobProc.stdinClosed)
        again = self.reactor.lastProcess
        self.assertNotIn(again.pid, (aliceProc.pid, bobProc.pid, self.pid(carol)))
        [listed] = handshake(again)
        again.reply(jsonrpc.resultResponse(listed["id"], {"tools": []}))
        self.assertEqual(self.successResultOf(d)["id"], 7)
        self.assertEqual(self.pid(alice), again.pid)


class MakePoolTests(SynchronousTestCase):
    def test_per_user_and_credential_servers_are_scoped_pools(self) -> None:
        spawner = fakeSpawner(FakeProcessReactor())
        self.assertIsInstance(placementOf(makePool(PER_USER, spawner)), KeyedPlacement)
        self.assertIsInstance(placementOf(makePool(NO_ENV_CREDENTIAL, spawner)), KeyedPlacement)
        self.assertIsInstance(placementOf(makePool(GLOBAL, spawner)), SharedPlacement)
        session = makePool(dataclasses.replace(PER_USER, mode="session"), spawner)
        self.assertIsInstance(placementOf(session), SessionPlacement)
        self.assertEqual(session.variantFor("", principal=ALICE), Variant("", session.spec, ""))
        # A project route saying perUser makes the whole server per user.
        route = Variant("k" * 16, dataclasses.replace(GLOBAL, perUser=True), "child-k")
        self.assertIsInstance(
            placementOf(makePool(dataclasses.replace(GLOBAL, variants=(route,)), spawner)),
            KeyedPlacement,
        )
        self.assertTrue(dataclasses.replace(GLOBAL, variants=(route,)).perPrincipal)

    def test_with_principal(self) -> None:
        route = Variant("k", GLOBAL, "child")
        self.assertIs(route.withPrincipal(""), route)
        alice = route.withPrincipal(ALICE)
        self.assertEqual(
            (alice.key, alice.launch, alice.childKey), ("k", GLOBAL, f"child/p:{ALICE}")
        )
        both = route.withCredentials("k1", (("TOKEN", "v"),)).withPrincipal(ALICE)
        self.assertEqual((both.childKey, both.principal), (f"child/c:k1/p:{ALICE}", ALICE))
        self.assertEqual(dict(both.launch.env), {"TOKEN": "v"})


class RecordTests(SynchronousTestCase):
    def test_the_principal_is_recorded_and_read_back(self) -> None:
        session = Session("sid-1", "gh", "2025-11-25", {}, {"name": "c"}, 5.0)
        session.principal = ALICE
        record = session.record()
        self.assertEqual(record["principal"], ALICE)
        self.assertEqual(Session.fromRecord(record).principal, ALICE)

    def test_a_record_of_an_older_gateway_has_no_principal(self) -> None:
        record = Session("sid-1", "gh", "2025-11-25", {}, {}, 5.0).record()
        del record["principal"]
        self.assertEqual(Session.fromRecord(record).principal, "")

    def test_short_id_is_a_hash_not_a_piece_of_the_id(self) -> None:
        session = Session("r1.secret-part-of-the-id", "gh", "2025-11-25", {}, {}, 0.0)
        expected = hashlib.sha256(b"r1.secret-part-of-the-id").hexdigest()[:8]
        self.assertEqual((session.shortId, shortId(session.id)), (expected, expected))
        self.assertNotIn(session.shortId, session.id)


class RestoreTests(PerUserCase):
    def record(self, sid: str, server: str, principal: str, credential: str = "") -> Message:
        session = Session(sid, server, "2025-11-25", {}, {"name": "c"}, 0.0)
        session.principal, session.credential = principal, credential
        return session.record()

    def test_restored_sessions_keep_their_principal_and_its_child(self) -> None:
        old = self.record("s-alice", "gh", ALICE)
        del old["principal"]
        self.records = [self.record("s-alice", "gh", ALICE), {**old, "id": "s-older"}]
        self.gateway.start()
        restored = self.gateway.sessions.get("s-alice")
        assert restored is not None
        self.assertEqual(restored.principal, ALICE)
        pool = self.gateway.pools["gh"]
        assert isinstance(pool, ServerPool) and isinstance(pool.placement, KeyedPlacement)
        self.assertEqual(keyedOf(pool).table.boundKey(restored), f"/p:{ALICE}")
        older = self.gateway.sessions.get("s-older")
        assert older is not None
        self.assertEqual((older.principal, keyedOf(pool).table.boundKey(older)), ("", GLOBAL_CHILD))
        # The restored sessions' children were prewarmed: alice's new session joins hers.
        [aliceProc] = [p for p in self.reactor.processes if p.pid == pool.childPid(restored)]
        handshake(aliceProc)
        spawned = len(self.reactor.processes)
        again = self.open("gh", ALICE)
        self.assertEqual(len(self.reactor.processes), spawned)
        self.assertEqual(self.pid(again), aliceProc.pid)
        self.assertNotEqual(self.pid(self.open("gh", BOB)), aliceProc.pid)
        self.gateway.continuity.save(always=True)
        saved = {r["id"]: r["principal"] for r in self.records}
        self.assertEqual(saved["s-alice"], ALICE)
        self.assertEqual(saved["s-older"], "")

    def test_a_restored_credential_session_rebinds_to_its_principals_child(self) -> None:
        self.records = [self.record("s-db", "db", ALICE, "k1")]
        self.gateway.start()
        restored = self.gateway.sessions.get("s-db")
        assert restored is not None and restored.variant is None
        self.assertTrue(self.gateway.foreignSessions.rebind(restored, "k1", (("TOKEN", "v1"),)))
        pool = self.gateway.pools["db"]
        assert isinstance(pool, ServerPool) and isinstance(pool.placement, KeyedPlacement)
        self.assertEqual(keyedOf(pool).table.boundKey(restored), f"/c:k1/p:{ALICE}")
        self.assertEqual(self.pid(self.open("db", ALICE, key="k1", TOKEN="v1")), self.pid(restored))


class Era2026Tests(PerUserCase):
    def call(self, principal: str, requestId: int) -> tuple[Any, FakeProcess, Message]:
        """A 2026 tools/list of C{principal}: the response, the one child
        that got something, and what it got (a child started for it first
        answers the gateway's initialize)."""
        spawned = len(self.reactor.processes)
        request = Era2026Request(
            clientId=requestId, method="tools/list", params={}, principal=principal
        )
        d = self.gateway.era2026Call("gh", request, RecordingSink())
        after = {p.pid: handshake(p) for p in self.reactor.processes[spawned:]}
        got = [
            (p, message)
            for p in self.reactor.processes
            for message in after.get(p.pid, []) + p.takeMessages()
        ]
        [(proc, forwarded)] = got
        return d, proc, forwarded

    def test_a_era2026_call_reaches_its_principals_child(self) -> None:
        alice, bob = self.open("gh", ALICE), self.open("gh", BOB)
        for proc in self.reactor.processes:
            proc.takeMessages()
        d, proc, forwarded = self.call(ALICE, 1)
        self.assertEqual(proc.pid, self.pid(alice))
        proc.reply(jsonrpc.resultResponse(forwarded["id"], {"tools": []}))
        result = self.successResultOf(d)["result"]
        self.assertEqual(result["cacheScope"], "private")  # one principal's child: never shared
        _, proc, _ = self.call(BOB, 2)
        self.assertEqual(proc.pid, self.pid(bob))
        spawned = len(self.reactor.processes)
        _, proc, _ = self.call(CAROL, 3)  # no session yet: a child of her own
        self.assertEqual(len(self.reactor.processes), spawned + 1)
        self.assertNotIn(proc.pid, (self.pid(alice), self.pid(bob)))

    def test_a_reconfiguration_keeps_a_principals_child_without_sessions(self) -> None:
        d, carolProc, forwarded = self.call(CAROL, 1)
        carolProc.reply(jsonrpc.resultResponse(forwarded["id"], {"tools": []}))
        self.successResultOf(d)
        pool = self.gateway.pools["gh"]
        self.gateway.reconfigurer.reconfigure(dict(self.specs))
        self.assertIs(self.gateway.pools["gh"], pool)
        self.assertFalse(carolProc.stdinClosed)

    def test_turning_per_user_off_replaces_the_pool(self) -> None:
        alice = self.open("gh", ALICE)
        pool = self.gateway.pools["gh"]
        self.gateway.reconfigurer.reconfigure(
            {**self.specs, "gh": dataclasses.replace(PER_USER, perUser=False)}
        )
        self.assertIsNot(self.gateway.pools["gh"], pool)
        self.assertIsInstance(placementOf(self.gateway.pools["gh"]), SharedPlacement)
        self.assertIsNone(self.gateway.sessions.get(alice.id))
