"""A keyed placement: a child per child key (workspace and credential scopes), bounded
by maxChildren with LRU eviction of idle children and waiting requests, idle
expiry, stale environments restarted when idle, and how the gateway binds
sessions (new, restored, rebound) to their route's variant; makePool's choice."""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.keyedplacement import KeyedPlacement
from mcpgateway.core.pools.placement import SessionPlacement
from mcpgateway.core.pools.pool import UnknownRoute
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import SCOPED_IDLE_TIMEOUT, ServerSpec
from mcpgateway.core.upstream import ServerUnavailable
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.support.core.kept_records import KeptRecords
from tests.support.core.pools.keyedplacement import (
    BASE,
    INIT_RESULT,
    WORKSPACES,
    A,
    B,
    C,
    ScopedCase,
    initialize,
    scopedSpec,
    variant,
)
from tests.support.core.pools.pool import keyedOf, placementOf


class ChildKeyTests(ScopedCase):
    def test_each_workspace_its_own_child_with_its_cwd_and_env(self) -> None:
        a, b, g = self.session(A), self.session(B), self.session("")
        procA, procB = self.opened(a), self.opened(b)
        self.assertEqual(len(self.reactor.processes), 2)
        self.assertEqual((procA.path, procB.path), ("/ws/a", "/ws/b"))
        self.assertEqual(procA.env, {"TOKEN": "t"})
        self.assertIsNone(self.pool.variantFor("z" * 16))  # no such route
        self.assertEqual(g.variant, self.pool.variantFor(""))

    def test_equal_child_keys_share_one_child(self) -> None:
        """Two routes whose launch is the same (equal child keys): one child."""
        pool = self.makePool(
            scopedSpec(variant(A, "/ws/same", childKey="k"), variant(B, "/ws/same", childKey="k"))
        )
        self.pool = pool
        a, b = self.session(A), self.session(B)
        procA = self.opened(a)
        self.successResultOf(pool.open(b, initialize()))  # answered from the cached result
        self.assertEqual(len(self.reactor.processes), 1)
        self.assertIs(self.processOf(b), procA)
        [child] = pool.status(2).children
        self.assertEqual((child.scopes, child.sessions), ((A, B), 2))

    def test_credential_keys_a_and_b_get_two_children_the_same_key_one(self) -> None:
        spec = dataclasses.replace(BASE, mode="credential", credentialEnv=("TOKEN",))
        self.pool = self.makePool(spec)
        a1 = self.session("", "key-a", (("TOKEN", "value-a"),))
        a2 = self.session("", "key-a", (("TOKEN", "value-a"),))
        b = self.session("", "key-b", (("TOKEN", "value-b"), ("OTHER", "never")))
        procA = self.opened(a1)
        self.successResultOf(self.pool.open(a2, initialize()))
        procB = self.opened(b)
        self.assertEqual(len(self.reactor.processes), 2)
        self.assertIs(self.processOf(a2), procA)
        self.assertEqual(procA.env, {"TOKEN": "value-a"})
        self.assertEqual(procB.env, {"TOKEN": "value-b"})  # an unlisted name never reaches it
        scopes = sorted(child.scopes for child in self.pool.status(3).children)
        self.assertEqual(scopes, [("", "key-a"), ("", "key-b")])


class BoundTests(ScopedCase):
    def test_the_least_recently_used_idle_child_is_stopped_when_full(self) -> None:
        a, b, c = self.session(A), self.session(B), self.session(C)
        procA = self.opened(a)
        self.reactor.advance(1)
        procB = self.opened(b)
        self.reactor.advance(1)
        d, sent = self.call(a, procA)  # A is used last
        self.answer(procA, sent)
        self.successResultOf(d)
        with capturedGatewayLogs() as events:
            procC = self.opened(c)
        self.assertTrue(procB.stdinClosed)  # B: the least recently used, nothing in flight
        self.assertFalse(procA.stdinClosed)
        self.assertEqual(procC.path, "/ws/c")
        self.assertEqual((self.pool.limitCounts.evictions, self.pool.limitCounts.waits), (1, 0))
        [said] = [e for e in events if "maxChildren" in e["log_format"]]
        self.assertEqual((said["count"], said["pid"]), (2, procB.pid))
        # B's next request starts its child again (stopping the LRU idle one, A).
        procB.exit(0)
        self.reactor.advance(1)
        d = self.pool.forward(b, jsonrpc.request(7, "tools/list"), None)
        self.assertTrue(procA.stdinClosed)
        again = self.reactor.lastProcess
        self.assertEqual(again.path, "/ws/b")
        [listed] = self.handshake(again)
        self.assertEqual(listed["method"], "tools/list")
        self.answer(again, listed)
        self.assertEqual(self.successResultOf(d)["id"], 7)
        self.assertEqual(self.pool.limitCounts.evictions, 2)

    def test_a_restarted_child_gets_its_sessions_subscriptions_back(self) -> None:
        a, b, c = self.session(A), self.session(B), self.session(C)
        procA = self.opened(a)
        d = self.pool.forward(
            a, jsonrpc.request(1, "resources/subscribe", {"uri": "file:///x"}), None
        )
        [sub] = procA.takeMessages()
        self.answer(procA, sub)
        self.successResultOf(d)
        self.reactor.advance(1)
        self.opened(b)
        self.reactor.advance(1)
        self.opened(c)  # evicts A
        self.assertTrue(procA.stdinClosed)
        self.reactor.advance(1)
        self.pool.forward(a, jsonrpc.request(2, "tools/list"), None)
        again = self.reactor.lastProcess
        self.assertEqual(again.path, "/ws/a")
        methods = [m["method"] for m in self.handshake(again)]
        self.assertEqual(methods, ["resources/subscribe", "tools/list"])

    def test_when_every_child_is_busy_a_request_waits_and_is_served_on_a_drain(self) -> None:
        a, b, c = self.session(A), self.session(B), self.session(C)
        procA, procB = self.opened(a), self.opened(b)
        dA, _ = self.call(a, procA)
        dB, sentB = self.call(b, procB)
        opened = self.open(c)
        self.assertNoResult(opened)
        self.assertEqual((len(self.reactor.processes), self.pool.limitCounts.waits), (2, 1))
        self.reactor.advance(5)
        self.answer(procB, sentB)  # B drains: its child is stopped for C's
        self.successResultOf(dB)
        self.assertTrue(procB.stdinClosed)
        self.assertFalse(procA.stdinClosed)
        procC = self.reactor.lastProcess
        self.assertEqual(procC.path, "/ws/c")
        self.handshake(procC)
        self.assertEqual(self.successResultOf(opened)["result"]["serverInfo"]["name"], "fs")
        self.assertEqual(
            (self.pool.limitCounts.waitTimeouts, self.pool.limitCounts.evictions), (0, 1)
        )
        self.reactor.advance(10)  # the wait's timer was cancelled
        self.assertEqual(self.pool.limitCounts.waitTimeouts, 0)
        self.assertNoResult(dA)

    def test_a_wait_times_out_with_an_error_naming_max_children(self) -> None:
        a, b, c = self.session(A), self.session(B), self.session(C)
        procA, procB = self.opened(a), self.opened(b)
        self.call(a, procA)
        self.call(b, procB)
        opened = self.open(c)
        self.reactor.advance(9.9)
        self.assertNoResult(opened)
        self.reactor.advance(0.1)
        failure = self.failureResultOf(opened, ServerUnavailable)
        self.assertEqual(
            str(failure.value),
            "server 'fs' is at its limit of 2 children (\"maxChildren\"), all busy; waited"
            " 10 s. Raise maxChildren for it in its entry or classification.json",
        )
        self.assertEqual((self.pool.limitCounts.waits, self.pool.limitCounts.waitTimeouts), (1, 1))
        self.assertEqual(len(self.reactor.processes), 2)
        status = self.pool.status(3)
        self.assertEqual((status.waits, status.waitTimeouts, status.maxChildren), (1, 1, 2))

    def test_idle_children_expire(self) -> None:
        a, b = self.session(A), self.session(B)
        procA = self.opened(a)
        self.reactor.advance(100)
        procB = self.opened(b)
        self.reactor.advance(SCOPED_IDLE_TIMEOUT - 100)
        self.assertEqual(self.pool.expire(self.reactor.seconds()), [procA.pid])
        self.assertTrue(procA.stdinClosed)
        self.assertFalse(procB.stdinClosed)
        self.assertEqual(self.pool.expire(self.reactor.seconds()), [])
        # A's session stays bound: its next request starts the child again.
        d = self.pool.forward(a, jsonrpc.request(1, "tools/list"), None)
        again = self.reactor.lastProcess
        self.assertEqual(again.path, "/ws/a")
        [listed] = self.handshake(again)
        self.answer(again, listed)
        self.successResultOf(d)
        # Both are stopped when quiet; the one with no session left is forgotten.
        self.successResultOf(self.pool.close(b))
        self.reactor.advance(SCOPED_IDLE_TIMEOUT)
        self.assertEqual(sorted(self.pool.expire(self.reactor.seconds())), [procB.pid, again.pid])
        self.assertEqual(self.pool.pids(), [])
        self.assertEqual(len(self.pool.upstreams()), 1)  # A's: its session is bound to it

    def test_idle_timeout_of_the_entry_wins(self) -> None:
        self.pool = self.makePool(dataclasses.replace(WORKSPACES, idleTimeout=30.0))
        a = self.session(A)
        procA = self.opened(a)
        self.reactor.advance(29)
        self.assertEqual(self.pool.expire(self.reactor.seconds()), [])
        self.reactor.advance(1)
        self.assertEqual(self.pool.expire(self.reactor.seconds()), [procA.pid])

    def test_each_routes_own_idle_timeout(self) -> None:
        """B's entry sets its own idleTimeout, A's does not (the
        server's then)."""
        quickB = dataclasses.replace(
            variant(B, "/ws/b"),
            launch=dataclasses.replace(variant(B, "/ws/b").launch, idleTimeout=20.0),
        )
        self.pool = self.makePool(scopedSpec(variant("", None), variant(A, "/ws/a"), quickB))
        procA, procB = self.opened(self.session(A)), self.opened(self.session(B))
        self.reactor.advance(20)
        self.assertEqual(self.pool.expire(self.reactor.seconds()), [procB.pid])
        self.reactor.advance(SCOPED_IDLE_TIMEOUT - 20)
        self.assertEqual(self.pool.expire(self.reactor.seconds()), [procA.pid])

    def test_a_reloaded_idle_timeout_applies_to_the_running_children(self) -> None:
        a = self.session(A)
        procA = self.opened(a)
        quickA = dataclasses.replace(
            variant(A, "/ws/a"),
            launch=dataclasses.replace(variant(A, "/ws/a").launch, idleTimeout=5.0),
        )
        self.pool.useSpec(
            scopedSpec(variant("", None), quickA, variant(B, "/ws/b"), variant(C, "/ws/c"))
        )
        self.reactor.advance(5)
        self.assertEqual(self.pool.expire(self.reactor.seconds()), [procA.pid])

    def test_a_credential_childs_route_sets_its_idle_timeout(self) -> None:
        """A child of one credential is stored under its route's
        child key with the credential's; it keeps its route's idleTimeout."""
        quickA = dataclasses.replace(
            variant(A, "/ws/a"),
            launch=dataclasses.replace(variant(A, "/ws/a").launch, idleTimeout=20.0),
        )
        self.pool = self.makePool(
            scopedSpec(variant("", None), quickA, credentialEnv=("TOKEN",), mode="credential")
        )
        proc = self.opened(self.session(A, "ck1", (("TOKEN", "x"),)))
        self.reactor.advance(20)
        self.assertEqual(self.pool.expire(self.reactor.seconds()), [proc.pid])


class RouteTimeoutReloadTests(ScopedCase):
    """A reload gives each running child its
    route's request timeout (a project's entry may set its own), not the
    server's."""

    def test_the_servers_timeout_changing_leaves_a_routes_own(self) -> None:
        self.opened(self.session(A))
        [router] = [u.router for u in self.pool.upstreams()]
        self.assertEqual(router.timeout, 100.0)  # its route's, as made
        self.pool.useSpec(
            scopedSpec(
                variant("", None),
                variant(A, "/ws/a"),
                variant(B, "/ws/b"),
                variant(C, "/ws/c"),
                requestTimeout=20.0,
            )
        )
        self.assertEqual(router.timeout, 100.0)

    def test_a_routes_own_timeout_changing_reaches_its_running_child(self) -> None:
        self.opened(self.session(A))
        [router] = [u.router for u in self.pool.upstreams()]
        shortA = dataclasses.replace(
            variant(A, "/ws/a"),
            launch=dataclasses.replace(variant(A, "/ws/a").launch, requestTimeout=5.0),
        )
        with capturedGatewayLogs() as events:
            self.pool.useSpec(
                scopedSpec(variant("", None), shortA, variant(B, "/ws/b"), variant(C, "/ws/c"))
            )
        self.assertEqual(router.timeout, 5.0)
        [said] = [e for e in events if "request timeout is now" in e["log_format"]]
        self.assertEqual((said["timeout"], said["before"]), (5.0, 100.0))

    def test_a_reload_that_changed_nothing_changes_no_childs_timeout(self) -> None:
        """A session's own child of a route with its own timeout
        (100 s here, the server's 10 s) keeps it through a reload that
        changed nothing (Claude Code rewrites its file all the time)."""
        spec = dataclasses.replace(WORKSPACES, mode="session")
        pool = makePool(spec, fakeSpawner(self.reactor))  # a child per session
        assert isinstance(pool, ServerPool) and isinstance(pool.placement, SessionPlacement)
        session = Session("s1", "fs", "2025-11-25", {}, {}, 0.0)
        session.scope, session.variant = B, pool.variantFor(B)
        pool.open(session, initialize())
        [upstream] = pool.upstreams()
        self.assertEqual(upstream.router.timeout, 100.0)
        with capturedGatewayLogs() as events:
            pool.useSpec(spec)
        self.assertEqual(upstream.router.timeout, 100.0)
        self.assertEqual([e for e in events if "request timeout is now" in e["log_format"]], [])

    def test_a_child_routes_share_has_the_longest_of_their_timeouts_from_the_start(self) -> None:
        """Not the timeout of whichever route started it, then another at
        the first reload: the longest, from the start."""
        short = dataclasses.replace(
            variant(A, "/ws/same", childKey="K"),
            launch=dataclasses.replace(variant(A, "/ws/same").launch, requestTimeout=5.0),
        )
        spec = scopedSpec(variant("", None), short, variant(B, "/ws/same", childKey="K"))
        self.pool = self.makePool(spec)
        self.opened(self.session(A))
        [upstream] = self.pool.upstreams()
        self.assertEqual(upstream.router.timeout, 100.0)
        self.pool.useSpec(spec)
        self.assertEqual(upstream.router.timeout, 100.0)


class StaleEnvTests(ScopedCase):
    def changed(self) -> ServerSpec:
        """Workspace A's .env changed: its variant has another child key."""
        return scopedSpec(variant("", None), variant(A, "/ws/a", token="new"), variant(B, "/ws/b"))

    def test_a_changed_env_restarts_the_child_only_when_idle(self) -> None:
        a, b = self.session(A), self.session(B)
        procA, procB = self.opened(a), self.opened(b)
        d, sent = self.call(a, procA)
        with capturedGatewayLogs() as events:
            ended = self.pool.useSpec(self.changed())
            self.assertEqual(ended, [])
            self.assertFalse(procA.stdinClosed)  # busy: it finishes first
            self.assertEqual(keyedOf(self.pool).table.boundKey(a), "child:/ws/a:t")
            self.answer(procA, sent)
            self.successResultOf(d)
        self.assertTrue(procA.stdinClosed)  # drained: stopped, its session moved
        self.assertFalse(procB.stdinClosed)
        self.assertEqual(keyedOf(self.pool).table.boundKey(a), "child:/ws/a:new")
        [said] = [e for e in events if "environment of workspace" in e["log_format"]]
        self.assertEqual((said["routes"], said["pid"]), (A, procA.pid))
        self.pool.forward(a, jsonrpc.request(1, "tools/list"), None)
        self.assertEqual(self.reactor.lastProcess.env, {"TOKEN": "new"})
        self.assertEqual(len(self.pool.upstreams()), 2)  # the stale child is forgotten

    def test_an_idle_child_restarts_at_once_and_a_removed_route_ends_its_sessions(self) -> None:
        self.pool = self.makePool(dataclasses.replace(WORKSPACES, maxChildren=3))
        a, b, c = self.session(A), self.session(B), self.session(C)
        procA, procB, procC = self.opened(a), self.opened(b), self.opened(c)
        self.assertEqual(self.pool.useSpec(self.changed()), [c])  # C's route is gone
        self.assertTrue(procA.stdinClosed)  # idle: stopped at once, its session moved
        self.assertEqual(keyedOf(self.pool).table.boundKey(a), "child:/ws/a:new")
        self.assertFalse(procB.stdinClosed)
        self.assertFalse(procC.stdinClosed)  # until the gateway ends C's session


class GatewayBindingTests(KeptRecords, SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.records: list[dict[str, Any]] = []
        credential = dataclasses.replace(
            BASE, name="db", mode="credential", credentialEnv=("TOKEN",)
        )
        self.gateway = Gateway(
            {"fs": WORKSPACES, "db": credential},
            fakeSpawner(self.reactor),
            persistence=self,
        )

    def record(self, sid: str, server: str, scope: str, credential: str = "") -> dict[str, Any]:
        session = Session(sid, server, "2025-11-25", {}, {"name": "c"}, 0.0)
        session.scope, session.credential = scope, credential
        return session.record()

    def test_open_sets_the_route_and_an_unknown_route_is_refused(self) -> None:
        session, _ = self.gateway.opener.openSession("fs", initialize(), "2025-11-25", scope=A)
        self.assertEqual((session.scope, session.credential), (A, ""))
        self.assertEqual(session.variant, self.gateway.pools["fs"].variantFor(A))
        self.assertEqual(self.reactor.lastProcess.path, "/ws/a")
        before = len(self.gateway.sessions)
        self.assertRaises(
            UnknownRoute,
            self.gateway.opener.openSession,
            "fs",
            initialize(),
            "2025-11-25",
            scope="zzzzzzzzzzzzzzzz",
        )
        self.assertEqual(len(self.gateway.sessions), before)
        db, _ = self.gateway.opener.openSession(
            "db", initialize(), "2025-11-25", credentialKey="k1", credentials=(("TOKEN", "s3"),)
        )
        self.assertEqual(db.credential, "k1")
        self.assertEqual(self.reactor.lastProcess.env, {"TOKEN": "s3"})
        [row] = [r for r in self.gateway.readModel.status().sessions if r.id == db.id]
        self.assertEqual((row.scope, row.credential), ("", "k1"))

    def test_restored_sessions_bind_their_variant_unknown_routes_are_dropped(self) -> None:
        self.records = [
            self.record("s-a", "fs", A),
            self.record("s-gone", "fs", "zzzzzzzzzzzzzzzz"),
            self.record("s-db", "db", "", "k1"),
        ]
        self.gateway.start()
        pool = self.gateway.pools["fs"]
        restored = self.gateway.sessions.get("s-a")
        assert restored is not None
        self.assertEqual(restored.variant, pool.variantFor(A))
        assert isinstance(pool, ServerPool) and isinstance(pool.placement, KeyedPlacement)
        self.assertEqual(keyedOf(pool).table.boundKey(restored), "child:/ws/a:t")
        self.assertEqual(self.reactor.lastProcess.path, "/ws/a")  # prewarmed for it
        self.assertIsNone(self.gateway.sessions.get("s-gone"))
        # A credential session waits for its client's values: the key must match.
        db = self.gateway.sessions.get("s-db")
        assert db is not None and db.variant is None
        self.assertFalse(self.gateway.foreignSessions.rebind(db, "k2", (("TOKEN", "other"),)))
        self.assertIsNone(db.variant)
        self.assertTrue(self.gateway.foreignSessions.rebind(db, "k1", (("TOKEN", "s3"),)))
        self.assertEqual(dict(db.variant.launch.env) if db.variant else {}, {"TOKEN": "s3"})
        dbPool = self.gateway.pools["db"]
        assert isinstance(dbPool, ServerPool) and isinstance(dbPool.placement, KeyedPlacement)
        self.assertIsNotNone(keyedOf(dbPool).table.boundKey(db))
        self.assertTrue(
            self.gateway.foreignSessions.rebind(db, "k1", (("TOKEN", "s3"),))
        )  # bound already

    def test_reconfigure_ends_only_the_sessions_of_a_removed_route(self) -> None:
        a, _ = self.gateway.opener.openSession("fs", initialize(), "2025-11-25", scope=A)
        self.reactor.lastProcess.reply(
            jsonrpc.resultResponse(self.reactor.lastProcess.sentMessages()[0]["id"], INIT_RESULT)
        )
        b, _ = self.gateway.opener.openSession("fs", initialize(), "2025-11-25", scope=B)
        pool = self.gateway.pools["fs"]
        without = scopedSpec(variant("", None), variant(B, "/ws/b"))
        self.gateway.reconfigurer.reconfigure({"fs": without, "db": self.gateway.pools["db"].spec})
        self.assertIs(self.gateway.pools["fs"], pool)
        self.assertIsNone(self.gateway.sessions.get(a.id))
        self.assertIs(self.gateway.sessions.get(b.id), b)


class MakePoolTests(SynchronousTestCase):
    def test_the_scope_and_routes_pick_the_pool(self) -> None:
        spawner = fakeSpawner(FakeProcessReactor())
        plain = dataclasses.replace(BASE, mode="global")
        self.assertIsInstance(placementOf(makePool(plain, spawner)), SharedPlacement)
        self.assertIsInstance(placementOf(makePool(WORKSPACES, spawner)), KeyedPlacement)
        self.assertIsInstance(
            placementOf(makePool(dataclasses.replace(plain, credentialEnv=("TOKEN",)), spawner)),
            KeyedPlacement,
        )
        self.assertIsInstance(
            placementOf(makePool(dataclasses.replace(WORKSPACES, mode="session"), spawner)),
            SessionPlacement,
        )
        # A workspace-scoped entry with no project routes yet: as today.
        self.assertIsInstance(
            placementOf(makePool(dataclasses.replace(BASE), spawner)), SharedPlacement
        )

    def test_a_session_scoped_server_spawns_from_the_sessions_route(self) -> None:
        reactor = FakeProcessReactor()
        pool = makePool(dataclasses.replace(WORKSPACES, mode="session"), fakeSpawner(reactor))
        session = Session("s1", "fs", "2025-11-25", {}, {}, 0.0)
        session.scope, session.variant = B, pool.variantFor(B)
        pool.open(session, initialize())
        self.assertEqual(
            (reactor.lastProcess.path, reactor.lastProcess.env), ("/ws/b", {"TOKEN": "t"})
        )
        other = Session("s2", "fs", "2025-11-25", {}, {}, 0.0)
        other.variant = pool.variantFor("")
        pool.open(other, initialize())
        self.assertEqual(reactor.lastProcess.path, None)


class LaunchTests(ScopedCase):
    def test_each_routes_launch_is_resolved_once_per_child_key(self) -> None:
        """npx/uvx: the base resolution first, then each variant's own
        launch (its args may differ), remembered by child key."""
        asked: list[ServerSpec] = []
        resolving: Deferred[ServerSpec] = Deferred()

        def resolve(spec: ServerSpec) -> Deferred[ServerSpec]:
            asked.append(spec)
            return succeed(dataclasses.replace(spec, command="/opt/node", executable="/opt/node"))

        self.pool.launchAfter(resolving, "`npx fs` to be installed", resolve)
        a = self.session(A)
        opened = self.open(a)
        self.assertEqual(self.reactor.processes, [])  # waits for the base resolution
        resolving.callback(dataclasses.replace(BASE, command="/opt/node", executable="/opt/node"))
        proc = self.reactor.lastProcess
        self.assertEqual((proc.executable, proc.path), ("/opt/node", "/ws/a"))
        self.handshake(proc)
        self.successResultOf(opened)
        self.assertEqual([spec.cwd for spec in asked], ["/ws/a"])
        # Stopped and started again: not resolved again.
        self.pool.stopShared()
        self.pool.forward(a, jsonrpc.request(1, "tools/list"), None)
        self.assertEqual(self.reactor.lastProcess.executable, "/opt/node")
        self.assertEqual(len(asked), 1)
