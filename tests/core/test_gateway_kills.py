"""A child the gateway kills says so, and why: its server's C{lastExit} (what
C{/health}, C{status}, C{doctor} and the console show) reads "killed by the
gateway: it ...", not "killed by signal 9", and a child that never answered
but wrote a line that is not JSON to stdout is said to have, with that
line's start, quoted. Fake processes and a fake clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.catalogdata import publicReason
from mcpgateway.core.child import STDOUT_MARK, STRAY_CHARS, ChildProtocol, quotedLine
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.upstream import ServerUnavailable, Upstream
from mcpgateway.report.health import exitOf
from tests.fakes import FakeProcess, FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.http import spec

BANNER = b"Server listening on port 3000 \x1b[31mready\x1b[0m"
QUOTED = repr("Server listening on port 3000 \x1b[31mready\x1b[0m")


class ChildKillTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.proto = ChildProtocol("srv", lambda message: None, Clock(), killGroup=None)
        self.proc = FakeProcess(self.proto, pid=5).connect()

    def test_a_kill_says_the_gateway_killed_it_and_why(self) -> None:
        with capturedGatewayLogs():
            self.proto.kill("did not answer initialize within 3 s")
        self.assertEqual(self.proc.signals, ["KILL"])
        self.assertEqual(
            self.proto.howItEnded(),
            "killed by the gateway: it did not answer initialize within 3 s",
        )

    def test_a_child_that_wrote_non_json_and_never_answered_is_said_to_have(self) -> None:
        with capturedGatewayLogs():
            self.proc.stdout(BANNER + b"\nanother line\n")
            self.proto.kill("did not answer initialize within 3 s")
        self.assertEqual(
            self.proto.howItEnded(),
            "killed by the gateway: it wrote non-JSON to stdout and did not answer initialize"
            f" within 3 s{STDOUT_MARK}{QUOTED}",
        )

    def test_its_own_exit_after_non_json_names_the_line(self) -> None:
        with capturedGatewayLogs():
            self.proc.stdout(b"Error: cannot find module 'x'\n")
            self.proc.exit(1)
        self.assertEqual(
            self.proto.howItEnded(),
            "exited with code 1 after writing non-JSON to stdout"
            f"{STDOUT_MARK}\"Error: cannot find module 'x'\"",
        )

    def test_a_child_that_answered_is_not_blamed_for_a_stray_line(self) -> None:
        with capturedGatewayLogs():
            self.proc.stdout(b"debug: hello\n")
            self.proc.stdout(b'{"jsonrpc":"2.0","id":1,"result":{}}\n')
            self.proto.kill("did not answer a health ping")
        self.assertEqual(
            self.proto.howItEnded(), "killed by the gateway: it did not answer a health ping"
        )

    def test_the_first_reason_is_kept_and_a_gone_child_is_not_signalled(self) -> None:
        self.proc.killEnds = False
        with capturedGatewayLogs():
            self.proto.kill("did not answer a health ping")
            self.proto.kill("refused initialize")
            self.proc.exit(signal=9)
            self.proto.kill("again")
        self.assertEqual(self.proc.signals, ["KILL", "KILL"])
        self.assertEqual(
            self.proto.howItEnded(), "killed by the gateway: it did not answer a health ping"
        )

    def test_another_end_while_being_killed_says_both(self) -> None:
        self.proc.killEnds = False
        with capturedGatewayLogs():
            self.proto.kill("did not answer a health ping")
            self.proc.exit(signal=15)
        self.assertEqual(
            self.proto.howItEnded(),
            "killed by signal 15 while the gateway was killing it: it did not answer a health ping",
        )

    def test_the_line_is_cut_and_its_secrets_taken_out(self) -> None:
        proto = ChildProtocol(
            "srv",
            lambda message: None,
            Clock(),
            killGroup=None,
            redact=lambda text: text.replace("hunter2", "[redacted]"),
        )
        proc = FakeProcess(proto, pid=6).connect()
        with capturedGatewayLogs():
            proc.stdout(b"token=hunter2 " + b"z" * 500 + b"\n")
            proc.exit(1)
        how = proto.howItEnded()
        self.assertNotIn("hunter2", how)
        stray = how.partition(STDOUT_MARK)[2]
        self.assertEqual(stray, repr("token=[redacted] " + "z" * (STRAY_CHARS - 17)) + "…")


@given(st.binary(max_size=2000))
def test_any_line_quotes_to_one_bounded_printable_line(line: bytes) -> None:
    quoted = quotedLine(line)
    assert quoted.isprintable()  # no newline, escape or other control character
    # A character quotes to at most 10 (\U0010ffff), with its quotes and a "…".
    assert len(quoted) <= STRAY_CHARS * 10 + 3


class UpstreamKillTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.up = Upstream(
            spec("srv", timeout=5.0),
            fakeSpawner(self.reactor, startTimeout=3.0),
            SharedFanout(),
        )

    def test_a_banner_on_stdout_and_no_answer_is_the_recorded_cause(self) -> None:
        started = self.up.ensure()
        proc = self.reactor.lastProcess
        with capturedGatewayLogs():
            proc.stdout(BANNER + b"\n")
            proc.stderr(b"starting up\n")
            self.reactor.advance(5.0)
        self.failureResultOf(started, ServerUnavailable)
        self.assertEqual(proc.signals, ["KILL"])
        cause = (
            "killed by the gateway: it wrote non-JSON to stdout and did not answer initialize"
            f" within 5 s{STDOUT_MARK}{QUOTED}; last stderr: starting up"
        )
        self.assertEqual(self.up.lastExit, cause)
        # What a caller without the right to see a child's words is told:
        self.assertEqual(exitOf(cause), "killed by the gateway")
        self.assertEqual(
            publicReason(cause),
            "killed by the gateway: it wrote non-JSON to stdout and did not answer initialize"
            " within 5 s",
        )

    def test_a_refused_initialize_is_the_recorded_cause_in_the_gateways_words(self) -> None:
        started = self.up.ensure()
        proc = self.reactor.lastProcess
        [init] = [m for m in proc.sentMessages() if m.get("method") == "initialize"]
        error = {"code": -32603, "message": "no API key in $SECRET"}
        with capturedGatewayLogs():
            proc.reply({"jsonrpc": "2.0", "id": init["id"], "error": error})
        failure = self.failureResultOf(started, ServerUnavailable)
        self.assertEqual(
            str(failure.value), "server 'srv' refused initialize: no API key in $SECRET"
        )
        self.assertEqual(self.up.lastExit, "killed by the gateway: it refused initialize")
