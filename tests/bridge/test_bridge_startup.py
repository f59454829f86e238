"""The bridge before there is a session: a C{ping} before C{initialize} is
answered by the bridge itself, and a failed start of the gateway is told
to the client by its cause, short (the whole output goes to stderr)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from twisted.internet.defer import succeed
from twisted.internet.error import ProcessTerminated
from twisted.logger import capturedLogs
from twisted.python.failure import Failure

from mcpgateway.bridge import main as bridge_main
from mcpgateway.bridge.link import LinkState
from mcpgateway.bridge.options import BridgeOptions
from tests.bridge.fakehttp import sseResponse
from tests.support.bridge.client import INIT, INIT_RESULT, Harness

PING = {"jsonrpc": "2.0", "id": 5, "method": "ping"}

FAILED_START = (
    """\
mcpgateway: the gateway exited while starting
last lines of /home/u/.mcpgateway/gateway.log from this start:
"""
    + "".join(
        f"  2026-11-23T16:41:0{i}+0000 [mcpgateway.config#info] config: watching /home/u/f{i}\n"
        for i in range(9)
    )
    + (
        "  2026-11-23T16:41:09+0000 [mcpgateway.tap#critical] cannot listen on"
        " tcp:9555:interface=127.0.0.1: Address already in use.\n"
        "  2026-11-23T16:41:09+0000 [mcpgateway.tap#info] stopped\n"
    )
)


def test_a_ping_before_initialize_is_answered_by_the_bridge() -> None:
    h = Harness()
    h.connect()
    h.send(PING)
    assert h.received() == [{"jsonrpc": "2.0", "id": 5, "result": {}}]
    assert h.agent.take() == []  # the gateway is not asked (it has no session to answer in)


def test_a_ping_before_initialize_is_answered_with_no_gateway_yet() -> None:
    h = Harness(locate=None)
    h.send(PING)
    assert h.received() == [{"jsonrpc": "2.0", "id": 5, "result": {}}]
    assert h.client.state is LinkState.DOWN


def test_a_ping_after_initialize_goes_to_the_gateway() -> None:
    h = Harness()
    h.connect()
    h.send(INIT)
    h.send(PING)  # while the initialize is in flight: after it, in the session
    post = h.agent.one(b"POST")
    assert post.json == INIT
    post.answer(sseResponse(INIT_RESULT, headers={b"mcp-session-id": b"s1"}))
    ping = h.agent.one(b"POST")
    assert ping.json == PING and ping.header("mcp-session-id") == "s1"


def test_a_era2026_ping_goes_to_the_gateway() -> None:
    h = Harness()
    h.connect()
    era2026 = {
        **PING,
        "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}},
    }
    h.send(era2026)
    assert h.agent.one(b"POST").json == era2026


def test_a_failed_start_is_told_by_its_cause() -> None:
    said = bridge_main.startFailure(1, FAILED_START)
    assert said == (
        "`mcpgateway start` failed (exit status 1): cannot listen on"
        " tcp:9555:interface=127.0.0.1: Address already in use."
    )


def test_a_failed_start_without_error_lines_is_told_by_its_first_and_last_lines() -> None:
    said = bridge_main.startFailure(1, "mcpgateway: twistd said no\n  a\n  Traceback: boom\n")
    assert (
        said
        == "`mcpgateway start` failed (exit status 1): mcpgateway: twistd said no | Traceback: boom"
    )
    assert bridge_main.startFailure(2, "") == "`mcpgateway start` failed (exit status 2): no output"


def test_the_cause_is_short() -> None:
    long = "x" * 5000
    said = bridge_main.startFailure(1, f"2026 [mcpgateway.tap#error] {long}\n")
    assert len(said) < bridge_main.START_CAUSE_LENGTH + 60 and said.endswith("...")


def test_the_client_gets_the_cause_and_stderr_the_whole_output() -> None:
    process = bridge_main._StartProcess()
    process.outReceived(FAILED_START.encode())
    results: list[str | None] = []
    process.done.addCallback(results.append)
    with capturedLogs() as events:
        process.processEnded(Failure(ProcessTerminated(exitCode=1)))
    [why] = results
    assert why is not None and why.endswith("Address already in use.")
    assert "watching" not in why and len(why) < 200
    [event] = events
    text = event["log_format"].format(**event)
    assert "config: watching /home/u/f0" in text and "Address already in use" in text


def test_the_client_error_of_a_failed_start_leads_with_the_cause() -> None:
    why = bridge_main.startFailure(1, FAILED_START)
    h = Harness(locate=None, start=lambda: succeed(why))
    h.client.connect()
    h.send(INIT)
    with capturedLogs():
        h.clock.advance(0)
    [error] = h.received()
    message = error["error"]["message"]
    assert (
        "could not be started: `mcpgateway start` failed (exit status 1): cannot listen" in message
    )
    assert "watching" not in message
    assert len(json.dumps(error)) < 400


def test_the_bridges_start_is_an_auto_started_one(tmp_path: Path) -> None:
    """The start command line parses, with C{--auto-started}, answering in
    JSON (refused here for its missing config, after the options were read)."""
    argv = bridge_main.startCommand(BridgeOptions("demo", tmp_path / "state", port=9200))
    assert "'--auto-started'" in argv[argv.index("-c") + 1]
    done = subprocess.run(
        [*argv, "--config", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (1, "")
    answer = json.loads(done.stdout)
    assert answer["ok"] is False and answer["error"].endswith("missing.json: no such file")
