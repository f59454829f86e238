"""ChildProtocol: stdout framing, stderr tail, writing, stopping, exit."""

from __future__ import annotations

import signal
from typing import Any

from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IProcessTransport
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from mcpgateway.child import DEFAULT_MAX_LINE, STDERR_LINES, ChildProtocol, describeExit
from tests.fakes import FakeProcess, FakeProcessReactor, capturedGatewayLogs

RESPONSE = b'{"jsonrpc":"2.0","id":1,"result":{}}'


def warnings(events: list[Any]) -> list[Any]:
    return [e for e in events if e.get("log_namespace", "").startswith("mcpgateway.child")
            and e["log_level"].name in ("warn", "error", "critical")]


class ChildTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.received: list[Any] = []
        self.proto = ChildProtocol("srv", self.received.append, self.clock, maxLine=100,
                                   killGroup=None)
        self.proc = FakeProcess(self.proto, pid=321).connect()


class FakeTests(SynchronousTestCase):
    def test_fakeProvidesIProcessTransport(self) -> None:
        proc = FakeProcess(ChildProtocol("s", print, Clock(), killGroup=None))
        self.assertTrue(verifyObject(IProcessTransport, proc))

    def test_reactorSpawnRecordsAndConnects(self) -> None:
        reactor = FakeProcessReactor()
        proto = ChildProtocol("s", print, reactor, killGroup=None)
        proc = reactor.spawnProcess(proto, "/bin/x", ["/bin/x", "-a"], env={"A": "1"},
                                    path="/tmp")
        self.assertEqual(reactor.spawned, [("/bin/x", ["/bin/x", "-a"], {"A": "1"}, "/tmp")])
        self.assertIs(proto.transport, proc)
        self.assertEqual(proto.pid, 1000)


class FramingTests(ChildTestCase):
    def test_connectionMadeRecordsPid(self) -> None:
        self.assertEqual(self.proto.pid, 321)

    def test_messageSplitAcrossChunks(self) -> None:
        chunks = [b'{"jsonrpc":"2.0",', b'"id":1,', b'"result":{"x":1}}\n']
        self.proc.stdout(chunks[0])
        self.proc.stdout(chunks[1])
        self.assertEqual(self.received, [])
        self.proc.stdout(chunks[2])
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {"x": 1}}])
        self.assertEqual(self.proto.bytesIn, sum(map(len, chunks)))

    def test_newlineAloneInLaterChunk(self) -> None:
        self.proc.stdout(RESPONSE)
        self.assertEqual(self.received, [])
        self.proc.stdout(b"\n")
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])

    def test_severalMessagesInOneChunk(self) -> None:
        self.proc.stdout(b'{"jsonrpc":"2.0","id":1,"result":1}\n'
                         b'{"jsonrpc":"2.0","method":"n"}\n'
                         b'{"jsonrpc":"2.0","id":2,')
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": 1},
                                         {"jsonrpc": "2.0", "method": "n"}])
        self.proc.stdout(b'"result":2}\n')
        self.assertEqual(self.received[2:], [{"jsonrpc": "2.0", "id": 2, "result": 2}])

    def test_crlf(self) -> None:
        self.proc.stdout(RESPONSE + b"\r\n" + b'{"jsonrpc":"2.0","id":2,"result":{}}\r')
        self.proc.stdout(b"\n")
        self.assertEqual([m["id"] for m in self.received], [1, 2])

    def test_blankLinesSkippedQuietly(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.stdout(b"\n\n   \n\r\n\t\n" + RESPONSE + b"\n\n")
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])
        self.assertEqual(warnings(events), [])

    def test_nonJsonLineLoggedAndSkipped(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.stdout(b"Server listening on stdio\n" + RESPONSE + b"\n")
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])
        [event] = warnings(events)
        self.assertIn("non-JSON", event["log_format"])
        self.assertEqual(event["server"], "srv")
        self.assertEqual(event["excerpt"], "Server listening on stdio")
        self.assertIn("line 1 column 1", event["error"])

    def test_nonObjectJsonSkipped(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.stdout(b'42\n"str"\n' + RESPONSE + b"\n")
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])
        self.assertEqual(len(warnings(events)), 2)

    def test_batchLineDeliversEachElement(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.stdout(b'[{"jsonrpc":"2.0","id":1,"result":1},7,'
                             b'{"jsonrpc":"2.0","method":"n"}]\n')
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": 1},
                                         {"jsonrpc": "2.0", "method": "n"}])
        self.assertEqual(len(warnings(events)), 1)  # the 7

    def test_onMessageErrorDoesNotStopLaterLines(self) -> None:
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
    """Over-long stdout lines kill the child; nothing is buffered without bound."""

    def test_lineOfExactlyMaxLineAccepted(self) -> None:
        line = b'{"jsonrpc":"2.0","id":1,"result":"' + b"x" * 100
        line = line[:98] + b'"}'
        self.assertEqual(len(line), 100)
        self.proc.stdout(line + b"\n")
        self.assertEqual(len(self.received), 1)
        self.assertEqual(self.proc.signals, [])

    def test_completeLineOverMaxLineKills(self) -> None:
        big = b'{"jsonrpc":"2.0","id":2,"result":"' + b"x" * 200 + b'"}'
        with capturedGatewayLogs() as events:
            self.proc.stdout(RESPONSE + b"\n" + big + b"\n")
        self.assertEqual(self.received, [{"jsonrpc": "2.0", "id": 1, "result": {}}])
        self.assertEqual(self.proc.signals, ["KILL"])
        self.assertTrue(self.proto.exited)
        [event] = warnings(events)
        self.assertEqual(event["log_level"].name, "error")
        self.assertEqual(event["size"], len(big))
        self.assertEqual(event["limit"], 100)

    def test_lineOverMaxLineAssembledFromChunksKills(self) -> None:
        self.proc.stdout(b'{"jsonrpc":"2.0","id":2,"result":"' + b"x" * 40)  # 74 bytes
        self.proc.stdout(b"x" * 25)  # 99 bytes buffered: not over the limit yet
        self.assertEqual(self.proc.signals, [])
        self.proc.stdout(b'"}\n')  # a complete line of 101 bytes
        self.assertEqual(self.received, [])
        self.assertEqual(self.proc.signals, ["KILL"])

    def test_partialDataOverMaxLineKillsWithoutNewline(self) -> None:
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

    def test_singleHugeChunkWithoutNewlineKills(self) -> None:
        self.proc.stdout(b"y" * 10_000)
        self.assertEqual(self.proc.signals, ["KILL"])
        self.assertEqual(self.received, [])

    def test_defaultMaxLine(self) -> None:
        self.assertEqual(DEFAULT_MAX_LINE, 16 * 1024 * 1024)


class StderrTests(ChildTestCase):
    def test_linesGoToTail(self) -> None:
        self.proc.stderr(b"starting\r\nready\n")
        self.assertEqual(list(self.proto.stderrTail), ["starting", "ready"])
        self.assertEqual(self.received, [])

    def test_partialLinesJoined(self) -> None:
        self.proc.stderr(b"hel")
        self.proc.stderr(b"lo wo")
        self.assertEqual(list(self.proto.stderrTail), [])
        self.proc.stderr(b"rld\nnext")
        self.assertEqual(list(self.proto.stderrTail), ["hello world"])

    def test_partialLineKeptAtExit(self) -> None:
        self.proc.stderr(b"Traceback: fatal")
        self.proc.exit(1)
        self.assertEqual(list(self.proto.stderrTail), ["Traceback: fatal"])

    def test_tailBoundedInLines(self) -> None:
        self.proc.stderr(b"".join(b"line %d\n" % i for i in range(STDERR_LINES + 50)))
        tail = list(self.proto.stderrTail)
        self.assertEqual(len(tail), STDERR_LINES)
        self.assertEqual(tail[0], "line 50")
        self.assertEqual(tail[-1], f"line {STDERR_LINES + 49}")

    def test_tailBoundedInLineLength(self) -> None:
        self.proc.stderr(b"w" * 9000 + b"\n")
        for _ in range(50):
            self.proc.stderr(b"z" * 10_000)  # never a newline
        self.proc.exit(1)
        tail = list(self.proto.stderrTail)
        self.assertEqual(len(tail), 2)
        self.assertEqual([len(line) for line in tail], [4096, 4096])

    def test_stderrNeverKills(self) -> None:
        self.proc.stderr(b"e" * 100_000)
        self.assertEqual(self.proc.signals, [])


class SendTests(ChildTestCase):
    def test_sendWritesOneCompactLine(self) -> None:
        self.proto.send({"jsonrpc": "2.0", "id": 1, "method": "x", "params": {"s": "a\nb"}})
        self.assertEqual(self.proc.written,
                         [b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"s":"a\\nb"}}\n'])
        self.assertEqual(self.proto.bytesOut, len(self.proc.written[0]))

    def test_sendAfterExitDoesNothing(self) -> None:
        self.proc.exit(0)
        self.proto.send({"jsonrpc": "2.0", "method": "x"})
        self.assertEqual(self.proc.written, [])


class StopTests(ChildTestCase):
    def test_stopSequence(self) -> None:
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
        self.assertEqual(describeExit(self.proto.exitReason), "killed by signal 9")

    def test_earlyExitCancelsTimers(self) -> None:
        d = self.proto.stop(graceTime=5.0, termTime=5.0)
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)
        self.clock.advance(1)
        self.proc.exit(0)
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(100)
        self.assertEqual(self.proc.signals, [])

    def test_exitAfterTermCancelsKill(self) -> None:
        self.proc.termEnds = True
        d = self.proto.stop(graceTime=1.0, termTime=1.0)
        self.clock.advance(1.0)
        self.assertEqual(self.proc.signals, ["TERM"])
        self.successResultOf(d)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopTwiceOneSequence(self) -> None:
        d1 = self.proto.stop(1.0, 1.0)
        d2 = self.proto.stop(1.0, 1.0)
        self.assertEqual(self.proc.closeStdinCalls, 1)
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)
        self.proc.exit(0)
        self.successResultOf(d1)
        self.successResultOf(d2)

    def test_stopExitedChildFiresAtOnce(self) -> None:
        self.proc.exit(3)
        d = self.proto.stop()
        self.assertIsNone(self.successResultOf(d))
        self.assertFalse(self.proc.stdinClosed)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_signalAfterExitIgnored(self) -> None:
        self.proc.exit(0)
        self.proto.signal("KILL")
        self.assertEqual(self.proc.signals, [])

    def test_processExitedAlreadySwallowed(self) -> None:
        def raiser(name: str) -> None:
            raise ProcessExitedAlready()

        self.proc.signalProcess = raiser  # type: ignore[method-assign]
        self.proto.signal("TERM")  # must not raise

    def test_killGroupSignalsTheGroup(self) -> None:
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

    def test_killGroupProcessLookupErrorSwallowed(self) -> None:
        def gone(pid: int, sig: int) -> None:
            raise ProcessLookupError()

        proto = ChildProtocol("srv", print, self.clock, killGroup=gone)
        FakeProcess(proto, pid=778).connect()
        proto.signal("KILL")  # must not raise


class ExitTests(ChildTestCase):
    def test_signalExit(self) -> None:
        self.assertNoResult(self.proto.ended)
        self.proc.exit(signal=15)
        self.assertIsNone(self.successResultOf(self.proto.ended))
        self.assertTrue(self.proto.exited)
        assert self.proto.exitReason is not None
        self.assertIsInstance(self.proto.exitReason.value, ProcessTerminated)
        self.assertEqual(self.proto.exitReason.value.signal, 15)
        self.assertEqual(describeExit(self.proto.exitReason), "killed by signal 15")

    def test_exitLogged(self) -> None:
        with capturedGatewayLogs() as events:
            self.proc.exit(2)
        [event] = [e for e in events if e.get("log_namespace", "").startswith("mcpgateway.child")]
        self.assertEqual(event["how"], "exited with code 2")
        self.assertEqual(event["pid"], 321)

    def test_describeExit(self) -> None:
        self.assertEqual(describeExit(Failure(ProcessDone(0))), "exited with code 0")
        self.assertEqual(describeExit(Failure(ProcessTerminated(exitCode=3))),
                         "exited with code 3")
        self.assertEqual(describeExit(Failure(ProcessTerminated(signal=9))),
                         "killed by signal 9")
        self.assertEqual(describeExit(Failure(RuntimeError("odd"))), "odd")
