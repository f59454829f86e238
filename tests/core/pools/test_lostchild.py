"""A session whose child was started anew is told so once, with its next
answer: a C{notifications/message} warning on that answer's stream (else
its GET stream) and C{_meta} C{mcpgateway/childRestarted} on the result;
a per-session server's session restored after a restart or whose child
exited, and a shared server's restored session unless the restart kept
the shared child."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.pools.lostchild import NOTICE_KEY, LostChildNotices
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeSession, RecordingSink
from tests.support.core.pools.pool import INIT_RESULT, Message, PoolCase, ok, sharedOf

CALL = jsonrpc.request(7, "tools/call", {"name": "count"})


def isNotice(message: Message) -> bool:
    params = message.get("params", {})
    return (
        message.get("method") == "notifications/message"
        and params.get("level") == "warning"
        and params.get("logger") == "mcpgateway"
    )


class NoticeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.notices = LostChildNotices("srv")
        self.session = FakeSession("a")
        self.notices.mark(self.session, "restored after a gateway restart")

    def test_the_first_result_carries_the_flag_and_the_warning_goes_first(self) -> None:
        sink = RecordingSink()
        answer = self.notices.tell(ok(7, {"content": []}), self.session, sink)
        self.assertEqual(answer, ok(7, {"content": [], "_meta": {NOTICE_KEY: True}}))
        [notice] = sink.messages
        self.assertTrue(isNotice(notice))
        self.assertIn("server 'srv': the child serving this session", notice["params"]["data"])
        self.assertIn("restored after a gateway restart", notice["params"]["data"])
        self.assertEqual(self.session.delivered, [])

    def test_only_once(self) -> None:
        sink = RecordingSink()
        self.notices.tell(ok(7, {}), self.session, sink)
        again = self.notices.tell(ok(8, {}), self.session, sink)
        self.assertEqual(again, ok(8, {}))
        self.assertEqual(len(sink.messages), 1)
        self.assertFalse(self.notices)

    def test_an_error_answer_leaves_it_for_the_next_result(self) -> None:
        sink = RecordingSink()
        error = jsonrpc.errorResponse(7, -32602, "no such tool")
        self.assertEqual(self.notices.tell(error, self.session, sink), error)
        self.assertEqual(sink.messages, [])
        answer = self.notices.tell(ok(8, {}), self.session, sink)
        self.assertEqual(answer["result"]["_meta"], {NOTICE_KEY: True})

    def test_the_results_own_meta_is_kept(self) -> None:
        answer = self.notices.tell(ok(7, {"_meta": {"x": 1}}), self.session, None)
        self.assertEqual(answer["result"]["_meta"], {"x": 1, NOTICE_KEY: True})

    def test_without_the_answers_stream_it_goes_on_the_get_stream(self) -> None:
        self.notices.tell(ok(7, {}), self.session, RecordingSink(accept=False))
        [notice] = self.session.delivered
        self.assertTrue(isNotice(notice))

    def test_a_session_that_asked_for_errors_only_gets_the_flag_alone(self) -> None:
        quiet = FakeSession("q", logLevel="error")
        self.notices.mark(quiet, "whose child exited")
        sink = RecordingSink()
        answer = self.notices.tell(ok(7, {}), quiet, sink)
        self.assertEqual(answer["result"]["_meta"], {NOTICE_KEY: True})
        self.assertEqual((sink.messages, quiet.delivered), ([], []))

    def test_a_session_that_asked_for_warnings_gets_it(self) -> None:
        warned = FakeSession("w", logLevel="warning")
        self.notices.mark(warned, "whose child exited")
        sink = RecordingSink()
        self.notices.tell(ok(7, {}), warned, sink)
        self.assertEqual(len(sink.messages), 1)

    def test_forgotten_and_unmarked_sessions_are_not_told(self) -> None:
        self.notices.forget(self.session)
        other = FakeSession("b")
        sink = RecordingSink()
        d: Deferred[Message] = self.notices.told(succeed(ok(7, {})), self.session, sink)
        self.assertEqual(self.successResultOf(d), ok(7, {}))
        self.assertEqual(self.notices.tell(ok(7, {}), other, sink), ok(7, {}))
        self.assertEqual(sink.messages, [])


class PerSessionTests(PoolCase):
    mode = "stateful"

    def call(self, session: FakeSession, sink: RecordingSink, proc: FakeProcess | None) -> Any:
        """A C{tools/call} of C{session}, answered by its child C{proc}
        (C{None}: the child the call starts, its initialize replayed)."""
        before = len(self.reactor.spawned)
        d = self.pool.forward(session, CALL, sink)
        if proc is None:
            if len(self.reactor.spawned) == before:
                self.reactor.advance(30)  # a child that exited: the restart's backoff
            proc = self.reactor.lastProcess
            [init] = proc.takeMessages()
            self.assertEqual(init["method"], "initialize")
            proc.reply(ok(init["id"], INIT_RESULT))
        messages = proc.takeMessages()
        [request] = [m for m in messages if m.get("method") == "tools/call"]
        proc.reply(ok(request["id"], {"content": []}))
        return self.successResultOf(d)

    def test_a_restored_session_is_told_once_that_its_child_is_new(self) -> None:
        session = FakeSession("a")
        self.pool.restore(session)
        sink = RecordingSink()
        first = self.call(session, sink, None)
        self.assertEqual(first["result"]["_meta"], {NOTICE_KEY: True})
        [notice] = sink.messages
        self.assertTrue(isNotice(notice))
        again = self.call(session, sink, self.reactor.lastProcess)
        self.assertNotIn("_meta", again["result"])
        self.assertEqual(len(sink.messages), 1)

    def test_concurrent_requests_of_the_replay_tell_it_once(self) -> None:
        session = FakeSession("a")
        self.pool.restore(session)
        sink = RecordingSink()
        first = self.pool.forward(session, CALL, sink)
        second = self.pool.forward(session, jsonrpc.request(8, "tools/call"), sink)
        proc = self.reactor.lastProcess
        [init] = proc.takeMessages()
        proc.reply(ok(init["id"], INIT_RESULT))
        calls = [m for m in proc.takeMessages() if m.get("method") == "tools/call"]
        for request in calls:
            proc.reply(ok(request["id"], {}))
        results = [self.successResultOf(first), self.successResultOf(second)]
        self.assertEqual(sum(1 for r in results if "_meta" in r["result"]), 1)
        self.assertEqual(len(sink.messages), 1)

    def test_a_session_whose_child_exited_is_told(self) -> None:
        session = FakeSession("a")
        d = self.pool.open(session, jsonrpc.request(0, "initialize", {}))
        proc = self.reactor.lastProcess
        [init] = proc.takeMessages()
        proc.reply(ok(init["id"], INIT_RESULT))
        self.successResultOf(d)
        proc.exit(1)
        self.assertIsNone(self.pool.gone(session))
        sink = RecordingSink()
        answer = self.call(session, sink, None)
        self.assertIsNot(self.reactor.lastProcess, proc)
        self.assertEqual(answer["result"]["_meta"], {NOTICE_KEY: True})
        self.assertIn("exited", sink.messages[0]["params"]["data"])

    def test_a_closed_session_leaves_nothing_to_tell(self) -> None:
        session = FakeSession("a")
        self.pool.restore(session)
        self.call(session, RecordingSink(), None)  # told
        self.pool.owned.notices.mark(session, "again")
        self.pool.close(session)
        self.assertFalse(self.pool.owned.notices)


class SharedTests(PoolCase):
    def call(self, session: FakeSession, sink: RecordingSink, adopted: bool = False) -> Any:
        d = self.pool.forward(session, CALL, sink)
        proc = self.reactor.lastProcess
        if sharedOf(self.pool).upstream().state.name != "RUNNING":
            self.answerInitialize(proc)
        if adopted:
            sharedOf(self.pool).upstream().adopted = True  # as a restart's kept child is
        messages = proc.takeMessages()
        [request] = [m for m in messages if m.get("method") == "tools/call"]
        proc.reply(ok(request["id"], {"content": []}))
        return self.successResultOf(d)

    def test_each_restored_session_of_a_new_shared_child_is_told_once(self) -> None:
        a, b = FakeSession("a"), FakeSession("b")
        a.called = b.called = True  # the previous process's child served them
        self.pool.restore(a)
        self.pool.restore(b)
        sinkA, sinkB = RecordingSink(), RecordingSink()
        self.assertEqual(self.call(a, sinkA)["result"]["_meta"], {NOTICE_KEY: True})
        self.assertEqual(self.call(b, sinkB)["result"]["_meta"], {NOTICE_KEY: True})
        self.assertNotIn("_meta", self.call(a, sinkA)["result"])
        self.assertEqual((len(sinkA.messages), len(sinkB.messages)), (1, 1))

    def test_a_restored_session_no_child_served_is_not_told(self) -> None:
        a = FakeSession("a")  # answered from a catalog only, in the previous process
        self.pool.restore(a)
        sink = RecordingSink()
        self.assertNotIn("_meta", self.call(a, sink)["result"])
        self.assertEqual(sink.messages, [])

    def test_a_kept_shared_child_tells_nothing(self) -> None:
        a = FakeSession("a")
        self.pool.restore(a)
        sink = RecordingSink()
        self.assertNotIn("_meta", self.call(a, sink, adopted=True)["result"])
        self.assertEqual(sink.messages, [])
        self.assertFalse(self.pool.owned.notices)

    def test_a_new_session_is_not_told(self) -> None:
        a = FakeSession("a")
        self.openRunning(a)
        sink = RecordingSink()
        self.assertNotIn("_meta", self.call(a, sink)["result"])
        self.assertEqual(sink.messages, [])

    def test_each_session_a_shared_child_served_is_told_once_when_it_exits(self) -> None:
        """The shared child exits while the gateway runs and is started
        again: each session a request of which reached it is told once; one
        that never called is not."""
        a, b, idle = FakeSession("a"), FakeSession("b"), FakeSession("idle")
        for session in (a, b, idle):
            self.openRunning(session)
        sinkA, sinkB, sinkIdle = RecordingSink(), RecordingSink(), RecordingSink()
        self.call(a, sinkA)
        self.call(b, sinkB)
        first = self.reactor.lastProcess
        first.exit(signal=9)
        self.reactor.advance(30)  # the restart's backoff
        self.assertIsNot(self.reactor.lastProcess, first)
        self.assertEqual(self.call(a, sinkA)["result"]["_meta"], {NOTICE_KEY: True})
        [notice] = sinkA.messages
        self.assertTrue(isNotice(notice))
        self.assertIn("its shared child killed by signal 9", notice["params"]["data"])
        self.assertNotIn("_meta", self.call(a, sinkA)["result"])
        self.assertEqual(self.call(b, sinkB)["result"]["_meta"], {NOTICE_KEY: True})
        self.assertNotIn("_meta", self.call(idle, sinkIdle)["result"])
        self.assertEqual((len(sinkA.messages), len(sinkB.messages), sinkIdle.messages), (1, 1, []))

    def test_a_session_is_told_only_of_a_child_that_served_it(self) -> None:
        """A session an earlier child served (its record says C{called})
        and that did not call this one lost nothing when this one exits."""
        earlier, a = FakeSession("earlier"), FakeSession("a")
        earlier.called = True
        self.openRunning(earlier)
        self.openRunning(a)
        self.call(a, RecordingSink())
        self.reactor.lastProcess.exit(1)
        self.reactor.advance(30)
        sink = RecordingSink()
        self.assertNotIn("_meta", self.call(earlier, sink)["result"])
        self.assertEqual(sink.messages, [])
        self.assertEqual(self.call(a, RecordingSink())["result"]["_meta"], {NOTICE_KEY: True})

    def test_a_shared_child_the_gateway_stops_tells_the_sessions_it_served(self) -> None:
        """Stopped when idle, or for its memory cap: the next child holds
        nothing of the sessions either."""
        a = FakeSession("a")
        self.openRunning(a)
        sink = RecordingSink()
        self.call(a, sink)
        self.pool.stopShared()
        self.assertEqual(self.call(a, sink)["result"]["_meta"], {NOTICE_KEY: True})
        self.assertIn(
            "its shared child was stopped by the gateway", sink.messages[0]["params"]["data"]
        )

    def test_a_closed_session_is_not_kept_for_a_child_it_served(self) -> None:
        a = FakeSession("a")
        self.openRunning(a)
        self.call(a, RecordingSink())
        self.pool.close(a)
        self.reactor.lastProcess.exit(1)
        self.assertFalse(self.pool.owned.notices)
        placement = self.pool.placement
        assert isinstance(placement, SharedPlacement) and placement.shared is not None
        self.assertEqual(placement.shared.router.childServed, set())
