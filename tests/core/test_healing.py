"""Self-healing: backoff, the circuit breaker, and how they drive a shared
child, with a fake clock and fake processes that crash on demand."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.healing import Breaker
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.lostchild import NOTICE_KEY
from mcpgateway.core.status import Circuit
from mcpgateway.core.upstream import ServerUnavailable
from tests.fakes import FakeProcessReactor, FakeSession, fakeSpawner
from tests.http import Harness, spec
from tests.support.core.pools.pool import serverPoolOf


def crash(breaker: Breaker, why: str = "boom") -> bool:
    """An exit that is a crash by the rule: never initialized."""
    return breaker.exited(why, initialized=False, served=False, uptime=0.5)


class BreakerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.breaker = Breaker(self.clock)

    def test_backoff_doubles_to_the_cap_and_resets_after_an_exit_that_is_no_crash(self) -> None:
        delays = []
        for _ in range(8):
            crash(self.breaker, "x")
            delays.append(self.breaker.delay())
            self.clock.advance(100)  # keep under the threshold within the window
        self.assertEqual(delays, [1, 2, 4, 8, 16, 32, 60, 60])
        # A child that served and was then killed: no crash, the next start is at once.
        self.assertFalse(
            self.breaker.exited("killed by signal 9", initialized=True, served=True, uptime=3.0)
        )
        self.assertEqual(self.breaker.delay(), 0)
        crash(self.breaker, "x")
        self.assertEqual(self.breaker.delay(), 1)

    def test_the_rule(self) -> None:
        """Crash: never initialized; or exited within 10 s of its start having
        answered nothing after its initialize. Anything else is not a crash."""
        isCrash = self.breaker.isCrash
        self.assertTrue(isCrash(initialized=False, served=False, uptime=0.1))
        self.assertTrue(isCrash(initialized=False, served=False, uptime=3600))  # slow, then died
        self.assertTrue(isCrash(initialized=True, served=False, uptime=9.99))
        self.assertFalse(isCrash(initialized=True, served=False, uptime=10.0))
        self.assertFalse(isCrash(initialized=True, served=True, uptime=0.5))
        self.assertFalse(isCrash(initialized=True, served=True, uptime=3600))

    def test_five_crashes_in_five_minutes_open_the_circuit_then_half_open(self) -> None:
        for _ in range(4):
            crash(self.breaker)
            self.clock.advance(10)
        self.assertEqual(self.breaker.state, Circuit.CLOSED)
        crash(self.breaker)
        self.assertEqual(self.breaker.state, Circuit.OPEN)
        self.assertEqual((self.breaker.crashes, self.breaker.totalFailures), (5, 5))
        self.clock.advance(59)
        self.assertEqual(self.breaker.state, Circuit.OPEN)
        self.assertEqual(round(self.breaker.retryIn()), 1)
        self.clock.advance(1)
        self.assertEqual(self.breaker.state, Circuit.HALF_OPEN)
        crash(self.breaker)  # the trial attempt failed
        self.assertEqual(self.breaker.state, Circuit.OPEN)
        self.clock.advance(60)
        self.breaker.succeeded()
        self.assertEqual(self.breaker.state, Circuit.CLOSED)

    def test_serving_children_killed_five_times_ten_seconds_apart_keep_it_closed(self) -> None:
        for _ in range(5):
            self.clock.advance(10)
            self.assertFalse(
                self.breaker.exited("killed by signal 9", initialized=True, served=True, uptime=9.5)
            )
            self.assertEqual(self.breaker.delay(), 0)
        self.assertEqual(self.breaker.state, Circuit.CLOSED)
        self.assertEqual(
            (self.breaker.recentCrashes(), self.breaker.crashes, self.breaker.totalFailures),
            (0, 0, 5),
        )
        self.assertEqual(self.breaker.recentFailures(), 5)  # still "degraded" for a while

    def test_an_exit_that_is_no_crash_ends_the_loop(self) -> None:
        for _ in range(4):
            crash(self.breaker)
        self.breaker.exited("exited with code 1", initialized=True, served=False, uptime=30.0)
        crash(self.breaker)
        self.assertEqual((self.breaker.state, self.breaker.recentCrashes()), (Circuit.CLOSED, 1))

    def test_failures_outside_the_window_do_not_count(self) -> None:
        for _ in range(4):
            crash(self.breaker, "x")
        self.clock.advance(301)
        crash(self.breaker, "x")
        self.assertEqual((self.breaker.state, self.breaker.recentFailures()), (Circuit.CLOSED, 1))

    def test_reset(self) -> None:
        for _ in range(5):
            crash(self.breaker, "x")
        self.breaker.reset()
        self.assertEqual((self.breaker.state, self.breaker.delay()), (Circuit.CLOSED, 0))


class SharedChildHealingTests(SynchronousTestCase):
    """A shared child that crashes is restarted with backoff; a crash loop
    opens the circuit and requests fail at once, naming the reason."""

    def setUp(self) -> None:
        self.h = Harness()
        self.sid = self.h.initialize()

    def crash(self, stderr: bytes = b"fatal: no config\n") -> None:
        proc = self.h.process()
        proc.stderr(stderr)
        proc.exit(1)

    def test_restart_at_once_with_sessions_attached_after_backoff(self) -> None:
        pool = self.h.gateway.pools["srv"]
        self.crash()
        self.assertEqual(pool.status(0).state, "restarting")
        self.h.reactor.advance(1.0)
        self.assertEqual(len(self.h.reactor.processes), 2)  # nobody asked: it came back
        self.assertEqual(pool.status(0).state, "starting")
        self.h.answerHandshake()
        self.assertEqual(pool.status(0).state, "degraded")
        self.crash()
        self.h.reactor.advance(1.9)
        self.assertEqual(len(self.h.reactor.processes), 2)  # second failure: 2 s
        self.h.reactor.advance(0.1)
        self.assertEqual(len(self.h.reactor.processes), 3)

    def test_crash_loop_opens_the_circuit_and_requests_fail_fast_with_the_reason(self) -> None:
        pool = serverPoolOf(self.h.gateway.pools["srv"])
        for _ in range(5):
            self.crash()
            self.h.reactor.advance(pool.breaker.delay())
        self.assertEqual(pool.status(0).state, "error")
        spawned = len(self.h.reactor.processes)
        response = self.h.request(
            "POST",
            "/srv/mcp",
            {"jsonrpc": "2.0", "id": 7, "method": "tools/list"},
            session=self.sid,
        )
        [event] = response.events()
        self.assertEqual(event["id"], 7)
        message = event["error"]["message"]
        self.assertIn("server 'srv' is failing: 5 failure(s)", message)
        self.assertIn("fatal: no config", message)
        self.assertEqual(len(self.h.reactor.processes), spawned)  # no spawn while open
        health = self.h.request("GET", "/health").json()["servers"]["srv"]
        self.assertEqual((health["state"], health["circuit"]), ("error", "open"))
        self.assertIn("is failing", health["error"])
        # After the cool-down one attempt goes through; a healthy child closes it.
        self.h.reactor.advance(60)
        retry = self.h.request(
            "POST",
            "/srv/mcp",
            {"jsonrpc": "2.0", "id": 8, "method": "tools/list"},
            session=self.sid,
        )
        self.assertEqual(len(self.h.reactor.processes), spawned + 1)
        self.h.answerHandshake()
        forwarded = [m for m in self.h.process().sentMessages() if m.get("method") == "tools/list"][
            -1
        ]
        self.h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {}})
        self.assertEqual(retry.events(), [{"jsonrpc": "2.0", "id": 8, "result": {}}])
        self.assertEqual(pool.breaker.state, Circuit.CLOSED)


class CrashLoopRuleTests(SynchronousTestCase):
    """Through the real gateway with fake children and a
    fake clock: deaths of serving children never open the circuit; crash
    loops do."""

    def setUp(self) -> None:
        self.h = Harness()
        self.sid = self.h.initialize()
        self.pool = serverPoolOf(self.h.gateway.pools["srv"])

    def serveOneCall(self, requestId: int, told: bool = False) -> None:
        """One C{tools/list} of the session, answered by the child; C{told}:
        the first after the child that served the session was lost (its
        answer says the child is new, after a warning)."""
        response = self.h.request(
            "POST",
            "/srv/mcp",
            {"jsonrpc": "2.0", "id": requestId, "method": "tools/list"},
            session=self.sid,
        )
        forwarded = [m for m in self.h.process().sentMessages() if m.get("method") == "tools/list"][
            -1
        ]
        self.h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"tools": []}})
        result: dict[str, object] = {"tools": []}
        events = response.events()
        if told:
            notice = events.pop(0)
            self.assertEqual(notice["method"], "notifications/message")
            result["_meta"] = {NOTICE_KEY: True}
        self.assertEqual(events, [{"jsonrpc": "2.0", "id": requestId, "result": result}])

    def test_a_serving_child_killed_five_times_ten_seconds_apart(self) -> None:
        for kill in range(5):
            for i in range(20):
                self.serveOneCall(100 * kill + i, told=kill > 0 and i == 0)
            self.h.reactor.advance(10)
            spawned = len(self.h.reactor.processes)
            self.h.process().exit(signal=9)  # SIGKILL from outside
            # Restarted at once: no backoff for a child that was serving.
            self.assertEqual(len(self.h.reactor.processes), spawned + 1)
            self.assertEqual(self.pool.breaker.delay(), 0)
            self.h.answerHandshake()
        self.assertEqual(self.pool.breaker.state, Circuit.CLOSED)
        self.assertEqual((self.pool.breaker.totalFailures, self.pool.breaker.crashes), (5, 0))
        self.serveOneCall(999, told=True)
        health = self.h.request("GET", "/health").json()["servers"]["srv"]
        self.assertEqual((health["circuit"], health["failures"]), ("closed", 5))

    def test_a_child_that_initializes_then_dies_at_once_five_times(self) -> None:
        for _ in range(5):
            self.h.reactor.advance(2)  # up 2 s, answered nothing after its initialize
            self.h.process().exit(1)
            self.h.reactor.advance(self.pool.breaker.delay())
            if self.pool.breaker.state == Circuit.CLOSED:
                self.h.answerHandshake()
        self.assertEqual(self.pool.breaker.state, Circuit.OPEN)
        self.assertEqual(self.pool.status(0).state, "error")

    def test_a_child_that_served_resets_the_backoff(self) -> None:
        for expected in (1, 2, 4):
            self.h.process().exit(1)
            self.assertEqual(self.pool.breaker.delay(), expected)
            self.h.reactor.advance(expected)
            self.h.answerHandshake()
        self.serveOneCall(5)
        spawned = len(self.h.reactor.processes)
        self.h.process().exit(1)  # it had served: not part of the loop
        self.assertEqual(len(self.h.reactor.processes), spawned + 1)
        self.assertEqual(self.pool.breaker.recentCrashes(), 0)


class ResolutionGateTests(SynchronousTestCase):
    def test_no_child_starts_before_resolution_then_the_resolved_command(self) -> None:
        reactor = FakeProcessReactor()
        pool = makePool(spec("srv"), fakeSpawner(reactor))
        resolving: Deferred[Any] = Deferred()
        pool.launchAfter(resolving, "npx to resolve the command")
        session: Any = FakeSession("a")
        opened = pool.open(
            session,
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": "2025-11-25"},
            },
        )
        self.assertEqual(reactor.processes, [])
        resolving.callback(spec("srv", executable="/opt/real/bin/server"))
        self.assertEqual(reactor.spawned[0][0], "/opt/real/bin/server")
        self.assertNoResult(opened)
        self.assertEqual(pool.spec.executable != "/opt/real/bin/server", True)  # config kept

    def test_a_closed_circuit_when_the_command_is_missing_is_still_an_error(self) -> None:
        reactor = FakeProcessReactor()
        pool = makePool(spec("srv", executable=None), fakeSpawner(reactor))
        session: Any = FakeSession("a")
        failure = self.failureResultOf(
            pool.open(session, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}),
            ServerUnavailable,
        )
        self.assertIn("not found", str(failure.value))
        self.assertEqual(pool.status(0).state, "error")
