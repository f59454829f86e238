"""A stop whose drain is given up on (its deadline passed, or a second
signal cut it short) leaves no error behind: no "Unhandled error in
Deferred" (a critical line) when the waits it cancelled are collected, and
no cancelled waiter held by a router (SIGTERM with a request in
flight logged C{CancelledError} as critical)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import LogEvent, LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.protocol import jsonrpc
from tests.http import Harness, spec
from tests.support.core.draining import InFlight


@contextmanager
def collectedLogs() -> Iterator[Sequence[LogEvent]]:
    """Capture every log event, collecting garbage before the block ends:
    a Deferred that is collected holding a failure nobody consumed logs
    "Unhandled error in Deferred" (critical) only then."""
    with capturedLogs() as events:
        yield events
        gc.collect()


def severe(events: Sequence[LogEvent]) -> list[LogEvent]:
    """The events at critical level, or carrying a failure."""
    return [
        event
        for event in events
        if event.get("log_level") is LogLevel.critical
        or event.get("log_failure") is not None
        or event.get("isError")
    ]


class DrainDeadlineTests(InFlight):
    """SIGTERM with a request in flight that outlives C{drainTimeout}."""

    def stopAfterDeadline(self) -> Any:
        """Stop with a call in flight, let the deadline pass and the child
        be stopped (stdin closed, SIGTERM 2 s later, SIGKILL 3 s after)."""
        response = self.call(7)
        stopped = self.h.gateway.stop()
        self.assertNoResult(stopped)
        self.h.reactor.advance(5.0)
        [event] = response.events()
        self.assertEqual(event["error"]["code"], jsonrpc.SERVER_UNAVAILABLE)
        self.assertTrue(self.h.process().stdinClosed)
        self.h.reactor.advance(2.0)
        self.h.reactor.advance(3.0)
        self.assertTrue(self.h.process().ended)
        return self.successResultOf(stopped)

    def test_deadline_passing_logs_no_unhandled_error(self) -> None:
        with collectedLogs() as events:
            self.stopAfterDeadline()
            del self.h  # the gateway, its pools and routers: all collectable now
        self.assertEqual(severe(events), [])

    def test_several_children_in_flight_log_nothing_severe(self) -> None:
        self.h = Harness({"a": spec("a"), "b": spec("b")})
        self.h.gateway.drainTimeout = 5.0
        sids = {name: self.h.initialize(name) for name in ("a", "b")}
        with collectedLogs() as events:
            for name, sid in sids.items():
                self.h.request(
                    "POST",
                    f"/{name}/mcp",
                    {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "x"}},
                    session=sid,
                )
            stopped = self.h.gateway.stop()
            for seconds in (5.0, 2.0, 3.0):  # the deadline, SIGTERM, SIGKILL
                self.h.reactor.advance(seconds)
            self.successResultOf(stopped)
            del self.h
        self.assertEqual(severe(events), [])


class CancelledWaiterTests(SynchronousTestCase):
    """A cancelled drain waiter is let go of by its router at once."""

    def setUp(self) -> None:
        self.h = Harness({"srv": spec("srv")})
        sid = self.h.initialize()
        self.h.request(
            "POST",
            "/srv/mcp",
            {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "slow"}},
            session=sid,
        )
        pool = self.h.gateway.pools["srv"]
        assert isinstance(pool, ServerPool)
        self.pool = pool
        self.assertEqual(self.pool.clientRequestsInFlight(), 1)

    def test_cancelled_router_waiter_is_dropped(self) -> None:
        [upstream] = self.pool.upstreams()
        waiter = upstream.router.whenDrained()
        waiter.cancel()
        self.failureResultOf(waiter, CancelledError)
        gone = weakref.ref(waiter)
        del waiter
        gc.collect()
        # The router (still alive, request still in flight) holds it no more.
        self.assertIsNone(gone())
        self.assertEqual(self.pool.clientRequestsInFlight(), 1)

    def test_cancelled_pool_wait_consumes_its_errors(self) -> None:
        with collectedLogs() as events:
            waited: Deferred[Any] = self.pool.whenDrained()
            waited.cancel()
            self.successResultOf(waited)
            del waited
        self.assertEqual(severe(events), [])

    def test_a_waiter_left_alone_still_fires_on_drain(self) -> None:
        [upstream] = self.pool.upstreams()
        cancelled = upstream.router.whenDrained()
        kept = upstream.router.whenDrained()
        cancelled.cancel()
        self.failureResultOf(cancelled, CancelledError)
        self.assertNoResult(kept)
        childId = self.h.process().sentMessages()[-1]["id"]
        self.h.process().reply({"jsonrpc": "2.0", "id": childId, "result": {}})
        self.assertIsNone(self.successResultOf(kept))


class CutDrainShortTests(InFlight):
    """L{mcpgateway.core.gateway.shutdown.Shutdown.cutShort} (a second
    SIGTERM or SIGINT while stopping)."""

    def test_cut_answers_what_is_left_and_stops_the_children_now(self) -> None:
        with collectedLogs() as events:
            response = self.call(4)
            stopped = self.h.gateway.stop()
            deadline = self.h.reactor.seconds() + 5.0
            self.h.reactor.advance(1.0)
            self.assertEqual(self.h.gateway.shutdown.cutShort(), 1)
            [event] = response.events()
            self.assertEqual(event["error"]["code"], jsonrpc.SERVER_UNAVAILABLE)
            self.assertTrue(self.h.process().stdinClosed)
            # The drain's deadline went with it: only the child's stop is timed.
            timed = [call.getTime() for call in self.h.reactor.getDelayedCalls()]
            self.assertNotIn(deadline, timed)
            self.h.reactor.advance(2.0)
            self.assertEqual(self.h.process().signals, ["TERM"])
            self.h.reactor.advance(3.0)
            self.successResultOf(stopped)
            del self.h
        self.assertEqual(severe(events), [])

    def test_a_cut_asked_before_the_stop_began_makes_it_wait_for_nothing(self) -> None:
        """Two signals handled in one reactor turn: the second asks for the
        cut before the reactor's shutdown began the stop."""
        response = self.call(4)
        announced: list[int] = []
        self.assertEqual(self.h.gateway.shutdown.cutShort(announced.append), 1)
        self.assertEqual(announced, [1])
        self.assertFalse(self.h.process().stdinClosed)  # nothing is stopped yet
        self.h.gateway.stop()
        [event] = response.events()
        self.assertEqual(event["error"]["code"], jsonrpc.SERVER_UNAVAILABLE)
        self.assertTrue(self.h.process().stdinClosed)

    def test_nothing_to_cut_once_the_children_are_being_stopped(self) -> None:
        self.call(4)
        self.h.gateway.stop()
        self.assertEqual(self.h.gateway.shutdown.cutShort(), 1)
        self.assertIsNone(self.h.gateway.shutdown.cutShort())

    def test_nothing_to_cut_when_nothing_was_in_flight(self) -> None:
        self.h.gateway.stop()
        self.assertTrue(self.h.process().stdinClosed)
        self.assertIsNone(self.h.gateway.shutdown.cutShort())

    def test_nothing_to_cut_after_the_drain_finished(self) -> None:
        self.call(4)
        self.h.gateway.stop()
        childId = self.h.process().sentMessages()[-1]["id"]
        self.h.process().reply({"jsonrpc": "2.0", "id": childId, "result": {}})
        self.assertTrue(self.h.process().stdinClosed)
        self.assertIsNone(self.h.gateway.shutdown.cutShort())
