"""ChildProtocol: stdout framing, stderr tail, writing, stopping, exit."""

from __future__ import annotations

import json
import signal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IProcessTransport
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from mcpgateway.core.child import (
    _STDERR_LINE_CAP,
    BAD_LINE_LOG_BURST,
    DEFAULT_MAX_LINE,
    LOG_PERIOD,
    OUTPUT_GRACE,
    STDERR_LINES,
    STDERR_LOG_BURST,
    STDERR_LOG_RATE,
    ChildProtocol,
    describeExit,
)
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime.logs import LogBudget
from tests.fakes import FakeProcess, FakeProcessReactor, capturedGatewayLogs

RESPONSE = b'{"jsonrpc":"2.0","id":1,"result":{}}'


def warnings(events: list[Any]) -> list[Any]:
    return [
        e
        for e in events
        if e.get("log_namespace", "").startswith("mcpgateway.core.child")
        and e["log_level"].name in ("warn", "error", "critical")
    ]


class ChildTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.received: list[Any] = []
        self.proto = ChildProtocol(
            "srv", self.received.append, self.clock, maxLine=100, killGroup=None
        )
        self.proc = FakeProcess(self.proto, pid=321).connect()


class FakeTests(SynchronousTestCase):
    def test_fake_provides_i_process_transport(self) -> None:
        proc = FakeProcess(ChildProtocol("s", print, Clock(), killGroup=None))
        self.assertTrue(verifyObject(IProcessTransport, proc))

    def test_reactor_spawn_records_and_connects(self) -> None:
        reactor = FakeProcessReactor()
        proto = ChildProtocol("s", print, reactor, killGroup=None)
        proc = reactor.spawnProcess(proto, "/bin/x", ["/bin/x", "-a"], env={"A": "1"}, path="/tmp")
        self.assertEqual(reactor.spawned, [("/bin/x", ["/bin/x", "-a"], {"A": "1"}, "/tmp")])
        self.assertIs(proto.transport, proc)
        self.assertEqual(proto.pid, 1000)


class FramingTests(ChildTestCase):
    def test_connection_made_records_pid(self) -> None:
        self.assertEqual(self.proto.pid, 321)

    def test_message_split_across_chunks(self) -> None:
        chunks = [b'{"jsonrpc":"2.0",', b'"id":1,', b'"result":{"x":1}}\n']
        self.proc.stdout(chunks[0])
        self.proc.stdout(chunks[1])
        self.assertEqual(self.received, [])
        self.proc.stdout(chunks[2])
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {"x": 1}}])
        self.assertEqual(self.proto.bytesIn, sum(map(len, chunks)))

    def test_newline_alone_in_later_chunk(self) -> None:
        self.proc.stdout(RESPONSE)
        self.assertEqual(self.received, [])
        self.proc.stdout(b"\n")
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])

    def test_several_messages_in_one_chunk(self) -> None:
        self.proc.stdout(
            b'{"jsonrpc":"2.0","id":1,"result":1}\n'
            b'{"jsonrpc":"2.0","method":"n"}\n'
            b'{"jsonrpc":"2.0","id":2,'
        )
        self.assertEqual(
            self.received,
            [{"jsonrpc": "2.0", "id": 1, "result": 1}, {"jsonrpc": "2.0", "method": "n"}],
        )
        self.proc.stdout(b'"result":2}\n')
        self.assertEqual(self.received[2:], [{"jsonrpc": "2.0", "id": 2, "result": 2}])

    def test_crlf(self) -> None:
        self.proc.stdout(RESPONSE + b"\r\n" + b'{"jsonrpc":"2.0","id":2,"result":{}}\r')
        self.proc.stdout(b"\n")
        self.assertEqual([m["id"] for m in self.received], [1, 2])

    def test_blank_lines_skipped_quietly(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.stdout(b"\n\n   \n\r\n\t\n" + RESPONSE + b"\n\n")
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])
        self.assertEqual(warnings(events), [])

    def test_non_json_line_logged_and_skipped(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.stdout(b"Server listening on stdio\n" + RESPONSE + b"\n")
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])
        [event] = warnings(events)
        self.assertIn("non-JSON", event["log_format"])
        self.assertEqual(event["server"], "srv")
        self.assertEqual(event["excerpt"], "Server listening on stdio")
        self.assertIn("line 1 column 1", event["error"])

    def test_non_object_json_skipped(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.stdout(b'42\n"str"\n' + RESPONSE + b"\n")
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])
        self.assertEqual(len(warnings(events)), 2)

    def test_batch_line_delivers_each_element(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.stdout(
                b'[{"jsonrpc":"2.0","id":1,"result":1},7,{"jsonrpc":"2.0","method":"n"}]\n'
            )
        self.assertEqual(
            self.received,
            [{"jsonrpc": "2.0", "id": 1, "result": 1}, {"jsonrpc": "2.0", "method": "n"}],
        )
        self.assertEqual(len(warnings(events)), 1)  # the 7

    def test_on_message_error_does_not_stop_later_lines(self) -> None:
        seen: list[Any] = []

        def onMessage(message: Any) -> None:
            seen.append(message)
            if message["id"] == 1:
                raise ZeroDivisionError("boom")

        proto = ChildProtocol("srv", onMessage, self.clock, killGroup=None)
        proc = FakeProcess(proto).connect()
        with capturedGatewayLogs() as events:
            proc.stdout(RESPONSE + b"\n" + b'{"jsonrpc":"2.0","id":2,"result":{}}\n')
        self.assertEqual([m["id"] for m in seen], [1, 2])
        self.assertTrue(any(e.get("log_failure") is not None for e in events))
        self.flushLoggedErrors(ZeroDivisionError)
        self.assertEqual(proc.signals, [])


class MaxLineTests(ChildTestCase):
    """An over-long stdout line that answers a request it names fails that
    request alone; any other kills the child; nothing is buffered without
    bound."""

    def test_line_of_exactly_max_line_accepted(self) -> None:
        line = b'{"jsonrpc":"2.0","id":1,"result":"' + b"x" * 100
        line = line[:98] + b'"}'
        self.assertEqual(len(line), 100)
        self.proc.stdout(line + b"\n")
        self.assertEqual(len(self.received), 1)
        self.assertEqual(self.proc.signals, [])

    def test_complete_answer_over_max_line_fails_its_request_alone(self) -> None:
        big = b'{"jsonrpc":"2.0","id":2,"result":"' + b"x" * 200 + b'"}'
        with capturedGatewayLogs() as events:
            self.proc.stdout(RESPONSE + b"\n" + big + b"\n" + RESPONSE + b"\n")
        [first, dropped, after] = self.received
        self.assertEqual(first, after)
        self.assertEqual(dropped["id"], 2)
        self.assertIn(f"answered with {len(big)} bytes", dropped["error"]["message"])
        self.assertEqual(self.proc.signals, [])
        [event] = warnings(events)
        self.assertEqual((event["size"], event["limit"], event["requestId"]), (len(big), 100, 2))

    def test_complete_line_over_max_line_that_answers_nothing_it_names_kills(self) -> None:
        big = b'{"jsonrpc":"2.0","method":"notifications/message","params":"' + b"x" * 200
        with capturedGatewayLogs() as events:
            self.proc.stdout(RESPONSE + b"\n" + big + b'"}\n')
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])
        self.assertEqual(self.proc.signals, ["KILL"])
        self.assertTrue(self.proto.exited)
        [event] = warnings(events)
        self.assertEqual(event["log_level"].name, "error")
        self.assertEqual(event["size"], len(big) + 2)
        self.assertEqual(event["limit"], 100)

    def test_answer_over_max_line_assembled_from_chunks_is_dropped_as_it_comes(self) -> None:
        self.proc.stdout(b'{"result":"' + b"x" * 60)
        self.proc.stdout(b"x" * 25)  # 96 bytes buffered: not over the limit yet
        self.assertEqual(self.proc.signals, [])
        for _ in range(3):
            self.proc.stdout(b"x" * 100)  # over: dropped as it comes, the end awaited
        self.assertEqual(self.received, [])
        self.proc.stdout(b'","jsonrpc":"2.0","id":"a-7"}\n' + RESPONSE + b"\n")
        self.assertEqual([m["id"] for m in self.received], ["a-7", 1])
        self.assertEqual(self.proc.signals, [])

    def test_an_answer_without_end_is_killed_at_eight_times_the_limit(self) -> None:
        self.proc.stdout(b'{"jsonrpc":"2.0","id":4,"result":"' + b"x" * 100)
        for _ in range(6):
            self.proc.stdout(b"x" * 100)
        self.assertEqual(self.proc.signals, [])
        self.proc.stdout(b"x" * 200)
        self.assertEqual(self.proc.signals, ["KILL"])

    def test_partial_data_over_max_line_kills_without_newline(self) -> None:
        self.proc.killEnds = False  # the child lingers: the buffer must still be dropped
        self.proc.stdout(b"x" * 60)
        self.assertEqual(self.proc.signals, [])
        self.proc.stdout(b"x" * 60)
        self.assertEqual(self.proc.signals, ["KILL"])
        self.assertEqual(self.received, [])
        # The buffered bytes were dropped, not kept: a fresh line afterwards
        # is read on its own.
        self.proc.stdout(b"\n" + RESPONSE + b"\n")
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])

    def test_single_huge_chunk_without_newline_kills(self) -> None:
        self.proc.stdout(b"y" * 10_000)
        self.assertEqual(self.proc.signals, ["KILL"])
        self.assertEqual(self.received, [])

    def test_default_max_line(self) -> None:
        self.assertEqual(DEFAULT_MAX_LINE, 16 * 1024 * 1024)


class StderrTests(ChildTestCase):
    def test_lines_go_to_tail(self) -> None:
        self.proc.stderr(b"starting\r\nready\n")
        self.assertEqual(list(self.proto.stderrTail), ["starting", "ready"])
        self.assertEqual(self.received, [])

    def test_partial_lines_joined(self) -> None:
        self.proc.stderr(b"hel")
        self.proc.stderr(b"lo wo")
        self.assertEqual(list(self.proto.stderrTail), [])
        self.proc.stderr(b"rld\nnext")
        self.assertEqual(list(self.proto.stderrTail), ["hello world"])

    def test_partial_line_kept_at_exit(self) -> None:
        self.proc.stderr(b"Traceback: fatal")
        self.proc.exit(1)
        self.assertEqual(list(self.proto.stderrTail), ["Traceback: fatal"])

    def test_tail_bounded_in_lines(self) -> None:
        self.proc.stderr(b"".join(b"line %d\n" % i for i in range(STDERR_LINES + 50)))
        tail = list(self.proto.stderrTail)
        self.assertEqual(len(tail), STDERR_LINES)
        self.assertEqual(tail[0], "line 50")
        self.assertEqual(tail[-1], f"line {STDERR_LINES + 49}")

    def test_tail_bounded_in_line_length(self) -> None:
        self.proc.stderr(b"w" * 9000 + b"\n")
        for _ in range(50):
            self.proc.stderr(b"z" * 10_000)  # never a newline
        self.proc.exit(1)
        tail = list(self.proto.stderrTail)
        self.assertEqual(len(tail), 2)
        self.assertEqual([len(line) for line in tail], [4096, 4096])

    def test_stderr_never_kills(self) -> None:
        self.proc.stderr(b"e" * 100_000)
        self.assertEqual(self.proc.signals, [])


class SendTests(ChildTestCase):
    def test_send_writes_one_compact_line(self) -> None:
        self.proto.send({"jsonrpc": "2.0", "id": 1, "method": "x", "params": {"s": "a\nb"}})
        self.assertEqual(
            self.proc.written, [b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"s":"a\\nb"}}\n']
        )
        self.assertEqual(self.proto.bytesOut, len(self.proc.written[0]))

    def test_send_after_exit_does_nothing(self) -> None:
        self.proc.exit(0)
        self.proto.send({"jsonrpc": "2.0", "method": "x"})
        self.assertEqual(self.proc.written, [])


class StopTests(ChildTestCase):
    def test_stop_sequence(self) -> None:
        d = self.proto.stop(graceTime=2.0, termTime=3.0)
        self.assertTrue(self.proc.stdinClosed)
        self.assertEqual(self.proc.signals, [])
        self.clock.advance(1.999)
        self.assertEqual(self.proc.signals, [])
        self.clock.advance(0.001)
        self.assertEqual(self.proc.signals, ["TERM"])
        self.assertNoResult(d)
        self.clock.advance(2.999)
        self.assertEqual(self.proc.signals, ["TERM"])
        self.clock.advance(0.001)
        self.assertEqual(self.proc.signals, ["TERM", "KILL"])
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(self.clock.getDelayedCalls(), [])
        assert self.proto.exitReason is not None
        self.assertEqual(describeExit(self.proto.exitReason), "killed by signal 9")

    def test_early_exit_cancels_timers(self) -> None:
        d = self.proto.stop(graceTime=5.0, termTime=5.0)
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)
        self.clock.advance(1)
        self.proc.exit(0)
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(100)
        self.assertEqual(self.proc.signals, [])

    def test_exit_after_term_cancels_kill(self) -> None:
        self.proc.termEnds = True
        d = self.proto.stop(graceTime=1.0, termTime=1.0)
        self.clock.advance(1.0)
        self.assertEqual(self.proc.signals, ["TERM"])
        self.successResultOf(d)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop_twice_one_sequence(self) -> None:
        d1 = self.proto.stop(1.0, 1.0)
        d2 = self.proto.stop(1.0, 1.0)
        self.assertEqual(self.proc.closeStdinCalls, 1)
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)
        self.proc.exit(0)
        self.successResultOf(d1)
        self.successResultOf(d2)

    def test_stop_exited_child_fires_at_once(self) -> None:
        self.proc.exit(3)
        d = self.proto.stop()
        self.assertIsNone(self.successResultOf(d))
        self.assertFalse(self.proc.stdinClosed)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_signal_after_exit_ignored(self) -> None:
        self.proc.exit(0)
        self.proto.signal("KILL")
        self.assertEqual(self.proc.signals, [])

    def test_process_exited_already_swallowed(self) -> None:
        def raiser(name: str | int) -> None:
            raise ProcessExitedAlready()

        self.proc.signalProcess = raiser  # type: ignore[method-assign, assignment]
        self.proto.signal("TERM")  # must not raise

    def test_kill_group_signals_the_group(self) -> None:
        """With a process group, the whole group is signalled, not the transport."""
        calls: list[tuple[int, int]] = []
        proto = ChildProtocol("srv", print, self.clock, killGroup=lambda p, s: calls.append((p, s)))
        proc = FakeProcess(proto, pid=777).connect()
        d = proto.stop(1.0, 1.0)
        self.clock.advance(2.0)
        self.assertEqual(calls, [(777, signal.SIGTERM), (777, signal.SIGKILL)])
        self.assertEqual(proc.signals, [])
        self.assertNoResult(d)
        proc.exit(signal=9)
        self.successResultOf(d)

    def test_what_an_exited_child_left_in_its_group_is_killed(self) -> None:
        """A sandbox's processes (or a helper) left behind hold the pipes open:
        when the child's own process exits, its group is killed at once."""
        calls: list[tuple[int, int]] = []
        proto = ChildProtocol("srv", print, self.clock, killGroup=lambda p, s: calls.append((p, s)))
        FakeProcess(proto, pid=778).connect()
        proto.processExited(Failure(ProcessTerminated(signal=9)))
        self.assertEqual(calls, [(778, signal.SIGKILL)])

        def empty(pid: int, sig: int) -> None:
            raise ProcessLookupError()  # nothing was left

        quiet = ChildProtocol("srv", print, self.clock, killGroup=empty)
        FakeProcess(quiet, pid=779).connect()
        quiet.processExited(Failure(ProcessDone(0)))  # must not raise

    def test_kill_group_process_lookup_error_swallowed(self) -> None:
        def gone(pid: int, sig: int) -> None:
            raise ProcessLookupError()

        proto = ChildProtocol("srv", print, self.clock, killGroup=gone)
        FakeProcess(proto, pid=778).connect()
        proto.signal("KILL")  # must not raise


class ExitTests(ChildTestCase):
    def test_signal_exit(self) -> None:
        self.assertNoResult(self.proto.ended)
        self.proc.exit(signal=15)
        self.assertIsNone(self.successResultOf(self.proto.ended))
        self.assertTrue(self.proto.exited)
        assert self.proto.exitReason is not None
        value = self.proto.exitReason.value
        assert isinstance(value, ProcessTerminated)
        self.assertEqual(value.signal, 15)
        self.assertEqual(describeExit(self.proto.exitReason), "killed by signal 15")

    def test_exit_logged(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.exit(2)
        [event] = [
            e for e in events if e.get("log_namespace", "").startswith("mcpgateway.core.child")
        ]
        self.assertEqual(event["how"], "exited with code 2")
        self.assertEqual(event["pid"], 321)

    def test_describe_exit(self) -> None:
        self.assertEqual(describeExit(Failure(ProcessDone(0))), "exited with code 0")
        self.assertEqual(describeExit(Failure(ProcessTerminated(exitCode=3))), "exited with code 3")
        self.assertEqual(describeExit(Failure(ProcessTerminated(signal=9))), "killed by signal 9")
        self.assertEqual(describeExit(Failure(RuntimeError("odd"))), "odd")


class BadLineTests(ChildTestCase):
    """Whatever a child writes on one line, the reader goes on: the line is
    skipped and logged (within a budget), later lines are delivered, and only
    the framing limit kills the child."""

    def setUp(self) -> None:
        super().setUp()
        self.proto = ChildProtocol("srv", self.received.append, self.clock, killGroup=None)
        self.proc = FakeProcess(self.proto, pid=322).connect()

    def assertSkippedThenDelivered(self, line: bytes) -> list[Any]:
        del self.received[:]
        with capturedGatewayLogs() as events:
            self.proc.stdout(line + b"\n" + RESPONSE + b"\n")
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])
        self.assertEqual(self.proc.signals, [])
        self.assertFalse(self.proto.exited)
        found = warnings(events)
        self.assertEqual(len(found), 1, found)
        self.assertLessEqual(len(found[0]["excerpt"]), 200)
        return found

    def test_a_number_of_5000_digits(self) -> None:
        self.assertSkippedThenDelivered(b'{"jsonrpc":"2.0","id":1,"result":' + b"7" * 5000 + b"}")

    def test_an_id_of_5000_digits(self) -> None:
        self.assertSkippedThenDelivered(b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b',"result":1}')

    def test_nesting_100000_deep(self) -> None:
        self.assertSkippedThenDelivered(b"[" * 100_000 + b"]" * 100_000)
        self.assertSkippedThenDelivered(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)

    def test_nan_alone(self) -> None:
        self.assertSkippedThenDelivered(b"NaN")

    def test_invalid_utf8(self) -> None:
        [event] = self.assertSkippedThenDelivered(b'{"jsonrpc":"2.0","x":"\xff\xfe"}')
        self.assertIn("UTF-8", event["error"])

    def test_any_exception_the_parser_raises_is_caught(self) -> None:
        """Whatever the parser raises (today's json raises ValueError and
        RecursionError, not ParseError), one line never breaks the reader."""
        real = jsonrpc.loads
        errors = iter(
            [
                RecursionError("deep"),
                ValueError("Exceeds the limit (4300 digits)"),
                TypeError("odd"),
                OverflowError("big"),
                MemoryError(),
            ]
        )

        def loads(data: bytes | str, **options: Any) -> Any:
            if data == b"BAD":
                raise next(errors)
            return real(data, **options)

        self.patch(jsonrpc, "loads", loads)
        with capturedGatewayLogs() as events:
            for _ in range(5):
                self.proc.stdout(b"BAD\n" + RESPONSE + b"\n")
        self.assertEqual(len(self.received), 5)
        self.assertEqual(
            [e["error"] for e in warnings(events)],
            [
                "RecursionError: deep",
                "ValueError: Exceeds the limit (4300 digits)",
                "TypeError: odd",
                "OverflowError: big",
                "MemoryError: ",
            ],
        )
        self.assertEqual(self.proc.signals, [])

    def test_skipped_lines_are_logged_within_a_budget_with_a_count(self) -> None:
        with capturedGatewayLogs() as events:
            for i in range(1000):
                self.proc.stdout(b"garbage %d\n" % i)
            self.proc.stdout(RESPONSE + b"\n")
            self.assertEqual(len(self.received), 1)
            self.assertEqual(len(warnings(events)), BAD_LINE_LOG_BURST)
            self.clock.advance(LOG_PERIOD)
        [summary] = warnings(events)[BAD_LINE_LOG_BURST:]
        self.assertEqual(summary["count"], 1000 - BAD_LINE_LOG_BURST)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        # The budget refills slowly: one more line logged per 10 s.
        with capturedGatewayLogs() as events:
            self.proc.stdout(b"more garbage\nand more\n")
        self.assertEqual([e["excerpt"] for e in warnings(events)], ["more garbage"])

    def test_the_count_is_logged_when_the_child_exits(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.stdout(b"x\n" * (BAD_LINE_LOG_BURST + 3))
            self.proc.exit(1)
        self.assertEqual(warnings(events)[-1]["count"], 3)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_routing_errors_are_logged_within_the_budget(self) -> None:
        def onMessage(message: Any) -> None:
            raise ZeroDivisionError("router bug")

        proto = ChildProtocol("srv", onMessage, self.clock, killGroup=None)
        proc = FakeProcess(proto).connect()
        with capturedGatewayLogs() as events:
            proc.stdout((RESPONSE + b"\n") * 50)
        self.assertEqual(len([e for e in events if e.get("log_failure")]), BAD_LINE_LOG_BURST)
        self.flushLoggedErrors(ZeroDivisionError)

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.binary(max_size=300),
                st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
                st.recursive(
                    st.one_of(
                        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)
                    ),
                    lambda inner: st.one_of(
                        st.lists(inner, max_size=3),
                        st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    ),
                    max_leaves=10,
                ).map(lambda v: json.dumps(v).encode()),
            ),
            max_size=8,
        )
    )
    def test_no_line_stops_the_reader(self, lines: list[bytes]) -> None:
        """Any lines (no newline inside), each followed by a good response:
        every good response arrives, in order, and nothing kills the child."""
        received: list[Any] = []
        clock = Clock()
        proto = ChildProtocol("srv", received.append, clock, maxLine=1000, killGroup=None)
        proc = FakeProcess(proto).connect()
        expected = 0
        for i, line in enumerate(lines):
            line = line.replace(b"\n", b" ")
            good = b'{"jsonrpc":"2.0","id":%d,"result":{}}' % i
            proc.stdout(line + b"\n" + good + b"\n")
            expected += 1
            ids = [
                m.get("id")
                for m in received
                if m.get("result") == {} and isinstance(m.get("id"), int)
            ]
            self.assertEqual(ids[-1], i)
        self.assertEqual(proc.signals, [])
        self.assertGreaterEqual(len(received), expected)


class StderrLogBudgetTests(ChildTestCase):
    """Child stderr in the gateway log is rate-limited per child (a token
    bucket: 100 at once, then 20 per second), with a count of what was left
    out every 10 s; the stderr ring still holds the latest lines."""

    def stderrEvents(self, events: list[Any]) -> list[Any]:
        return [e for e in events if e.get("stream") == "stderr"]

    def test_a_flood_is_cut_to_the_budget_and_counted(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.stderr(b"".join(b"noise %d\n" % i for i in range(100_000)))
            logged = self.stderrEvents(events)
            self.assertEqual(len(logged), STDERR_LOG_BURST)
            self.assertEqual(logged[-1]["line"], f"noise {STDERR_LOG_BURST - 1}")
            self.assertEqual(self.proto.stderrTail[-1], "noise 99999")
            self.assertEqual(len(self.proto.stderrTail), STDERR_LINES)
            self.clock.advance(LOG_PERIOD)
        [summary] = [e for e in events if "not logged" in e["log_format"]]
        self.assertEqual(summary["count"], 100_000 - STDERR_LOG_BURST)
        self.assertEqual(summary["server"], "srv")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_the_rate_after_the_burst(self) -> None:
        with capturedGatewayLogs() as events:
            for second in range(10):
                for i in range(100):
                    self.proc.stderr(b"s%d l%d\n" % (second, i))
                self.clock.advance(1.0)
            self.clock.advance(LOG_PERIOD)
        logged = self.stderrEvents(events)
        # 100 at once, then 20 per second for the 9 seconds that followed.
        self.assertEqual(len(logged), STDERR_LOG_BURST + 9 * int(STDERR_LOG_RATE))
        summaries = [e for e in events if "not logged" in e["log_format"]]
        self.assertEqual(len(summaries), 1)  # at most one per 10 s period
        self.assertEqual(sum(s["count"] for s in summaries) + len(logged), 1000)

    def test_a_quiet_child_loses_nothing(self) -> None:
        with capturedGatewayLogs() as events:
            for i in range(300):
                self.proc.stderr(b"line %d\n" % i)
                self.clock.advance(0.1)  # 10 lines/s: under the rate
        self.assertEqual(len(self.stderrEvents(events)), 300)
        self.assertEqual([e for e in events if "not logged" in e["log_format"]], [])

    def test_the_on_stderr_callback_sees_every_line_and_its_errors_are_contained(self) -> None:
        seen: list[str] = []

        def onStderr(line: str) -> None:
            seen.append(line)
            if line == "b":
                raise RuntimeError("listener broke")

        proto = ChildProtocol("srv", print, self.clock, killGroup=None, onStderr=onStderr)
        proc = FakeProcess(proto).connect()
        proc.stderr(b"a\nb\nc\n")
        self.assertEqual(seen, ["a", "b", "c"])
        self.assertEqual(list(proto.stderrTail), ["a", "b", "c"])
        self.flushLoggedErrors(RuntimeError)


class StdoutClosedTests(ChildTestCase):
    """The end of a child's stdout ends it for the gateway."""

    def setUp(self) -> None:
        super().setUp()
        self.lost: list[ChildProtocol] = []
        self.proto = ChildProtocol(
            "srv", self.received.append, self.clock, killGroup=None, onOutputLost=self.lost.append
        )
        self.proc = FakeProcess(self.proto, pid=323).connect()

    def test_a_child_that_closes_stdout_and_lives_on_is_stopped(self) -> None:
        self.proc.stdout(b'{"jsonrpc":"2.0",')  # a partial line is dropped with the stream
        with capturedGatewayLogs() as events:
            self.proto.childConnectionLost(1)
            self.assertTrue(self.proto.outputClosed)
            self.clock.advance(OUTPUT_GRACE - 0.01)
            self.assertEqual(self.lost, [])
            self.clock.advance(0.01)
        self.assertEqual(self.lost, [self.proto])
        [event] = warnings(events)
        self.assertIn("closed its stdout", event["log_format"])
        self.assertEqual(event["pid"], 323)
        # The stop sequence: stdin EOF now, TERM 2 s later, KILL 3 s after that.
        self.assertTrue(self.proc.stdinClosed)
        self.clock.advance(2.0)
        self.assertEqual(self.proc.signals, ["TERM"])
        self.clock.advance(3.0)
        self.assertEqual(self.proc.signals, ["TERM", "KILL"])
        self.assertTrue(self.proto.exited)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.received, [])

    def test_a_child_that_exits_with_its_stdout_is_just_an_exit(self) -> None:
        self.proto.childConnectionLost(1)
        self.proc.stderr(b"fatal: bad config\n")
        self.proc.exit(1)
        self.clock.advance(10)
        self.assertEqual(self.lost, [])
        self.assertFalse(self.proc.stdinClosed)
        self.assertEqual(self.proc.signals, [])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_an_error_in_the_callback_still_stops_the_child(self) -> None:
        def broken(proto: ChildProtocol) -> None:
            raise RuntimeError("upstream bug")

        proto = ChildProtocol("srv", print, self.clock, killGroup=None, onOutputLost=broken)
        proc = FakeProcess(proto).connect()
        proto.childConnectionLost(1)
        self.clock.advance(OUTPUT_GRACE)
        self.assertTrue(proc.stdinClosed)
        self.flushLoggedErrors(RuntimeError)


class ResponseCountTests(ChildTestCase):
    def test_responses_are_counted_requests_and_notifications_are_not(self) -> None:
        self.proc.stdout(
            RESPONSE
            + b"\n"
            + b'{"jsonrpc":"2.0","method":"notifications/message"}\n'
            + b'{"jsonrpc":"2.0","id":0,"method":"roots/list"}\n'
            + b'{"jsonrpc":"2.0","id":2,"error":{"code":1,"message":"x"}}\n'
        )
        self.assertEqual(self.proto.responses, 2)


class SignalErrorTests(ChildTestCase):
    def test_a_group_we_may_not_signal_is_logged_not_raised(self) -> None:
        def denied(pid: int, sig: int) -> None:
            raise PermissionError(1, "Operation not permitted")

        proto = ChildProtocol("srv", print, self.clock, maxLine=10, killGroup=denied)
        proc = FakeProcess(proto, pid=779).connect()
        with capturedGatewayLogs() as events:
            proc.stdout(b"y" * 100)  # over the limit: the kill is attempted from outReceived
        [event] = [e for e in warnings(events) if "cannot send" in e["log_format"]]
        self.assertEqual((event["name"], event["pid"]), ("KILL", 779))


class LogBudgetTests(SynchronousTestCase):
    def test_bucket(self) -> None:
        clock = Clock()
        reports: list[int] = []
        budget = LogBudget(clock, rate=2.0, burst=3, period=5.0, report=reports.append)
        self.assertEqual([budget.allow() for _ in range(5)], [True, True, True, False, False])
        clock.advance(0.5)  # one token back
        self.assertEqual([budget.allow(), budget.allow()], [True, False])
        clock.advance(4.5)  # the period's report
        self.assertEqual(reports, [3])
        clock.advance(100)  # full again, never more than the burst
        self.assertEqual([budget.allow() for _ in range(4)], [True, True, True, False])
        budget.flush()
        self.assertEqual(reports, [3, 1])
        self.assertEqual(budget.totalDropped, 4)
        self.assertEqual(clock.getDelayedCalls(), [])


class RedactedStderrTests(SynchronousTestCase):
    def test_a_secret_across_the_cut_of_an_endless_line_is_never_kept(self) -> None:
        """A stderr line longer than the cap is cut to its end as it comes:
        a secret value the cut would split is taken out first."""
        secret = "s3cr3t-value-which-must-never-show"
        proto = ChildProtocol(
            "s",
            print,
            Clock(),
            killGroup=None,
            redact=lambda line: line.replace(secret, "${keyring:tok}"),
        )
        # The cut of this chunk (its last cap bytes kept) falls 14 bytes into
        # the value: without redaction first, its last 20 bytes would stay.
        head = b"x" * 10 + secret.encode()
        proto.errReceived(head + b"y" * (_STDERR_LINE_CAP - 20))
        proto.errReceived(b"z" * 100 + b"\n")
        [line] = list(proto.stderrTail)
        for size in range(6, len(secret) + 1):
            assert secret[-size:] not in line, size
