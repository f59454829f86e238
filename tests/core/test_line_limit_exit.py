"""A child killed for a stdout line over the limit says so: its callers'
C{-32003} and the server's C{lastExit} say the gateway killed it and name
the line and the limit, not only "killed by signal 9" (which reads as the
OOM killer's work)."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.child import ChildProtocol
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.http import spec
from tests.support.core.upstream import RecordingWatcher, UpstreamCase

WHY = "it wrote a stdout line of 1500 bytes, over the 1000-byte limit"


class LineTooLongTests(UpstreamCase):
    def setUp(self) -> None:
        super().setUp()
        self.reactor = FakeProcessReactor()
        self.up = Upstream(
            spec("srv", timeout=60.0),
            fakeSpawner(self.reactor, watcher=RecordingWatcher(), maxLine=1000),
            SharedFanout(),
        )

    def test_the_callers_error_and_last_exit_name_the_line_and_the_limit(self) -> None:
        proc = self.start()
        pending = self.call()
        with capturedGatewayLogs() as events:
            proc.stdout(b"x" * 1500 + b"\n")
        error = self.successResultOf(pending)["error"]
        self.assertEqual(error["code"], jsonrpc.CHILD_EXITED)
        how = f"killed by the gateway: {WHY}"
        self.assertEqual(error["message"], f"server 'srv' {how}")
        self.assertEqual(self.up.lastExit, how)
        self.assertIn(
            f"child pid 1000 {how}",
            [e.get("how") and f"child pid {e['pid']} {e['how']}" for e in events],
        )


class HowItEndedTests(SynchronousTestCase):
    def test_an_exit_of_its_own_while_being_killed_still_says_why(self) -> None:
        proto = ChildProtocol("srv", print, Clock(), maxLine=10, killGroup=None)
        proc = FakeProcess(proto, pid=5).connect()
        proc.killEnds = False  # it exits by itself before the KILL lands
        with capturedGatewayLogs():
            proc.stdout(b"y" * 20)
            proc.exit(3)
        self.assertEqual(
            proto.howItEnded(),
            "exited with code 3 while the gateway was killing it:"
            " it wrote a stdout line of 20 bytes, over the 10-byte limit",
        )

    def test_an_ordinary_exit_is_described_as_before(self) -> None:
        proto = ChildProtocol("srv", print, Clock(), killGroup=None)
        proc = FakeProcess(proto, pid=5).connect()
        with capturedGatewayLogs():
            proc.exit(signal=9)
        self.assertEqual(proto.howItEnded(), "killed by signal 9")
