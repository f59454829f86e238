"""The bridge's entry (L{mcpgateway.bridge.main}), its options and the
C{mcpgateway bridge} command: SIGINT ignored, where the gateway is, how one
is started, the CLI staying Twisted-free."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from twisted.internet.testing import StringTransport
from twisted.web.client import HTTPConnectionPool

from mcpgateway.bridge import main as bridge_main
from mcpgateway.bridge.options import BridgeOptions, checkTarget
from mcpgateway.bridge.stdio import FLUSH_TIMEOUT
from mcpgateway.cli import bridge as cli_bridge
from mcpgateway.cli.output import Parser, UsageError
from mcpgateway.ops import gatewayprobe
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.runtime.ownertoken import HEADER, loadOwnerToken
from tests.bridge.fakehttp import URL
from tests.fakes import FakeProcessReactor
from tests.remote.fakehttp import FakeAgent, FakeResponse
from tests.support.runtime.loadedmodules import loadedUnder


def test_sigint_is_ignored() -> None:
    previous = signal.getsignal(signal.SIGINT)
    try:
        bridge_main.ignoreSigint()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_url_is_used_as_it_is_and_a_server_is_found_in_the_state_dir(tmp_path: Path) -> None:
    url = "http://127.0.0.1:1234/x/mcp"
    assert bridge_main.locator(BridgeOptions(url, tmp_path))() == url
    assert bridge_main.locator(BridgeOptions("demo", tmp_path))() is None  # nothing runs
    (tmp_path / "state.json").write_text('{"pid": 999999999, "port": 9}')
    assert bridge_main.locator(BridgeOptions("demo", tmp_path))() is None  # stale


def test_the_gateway_is_started_with_mcpgateway_start_in_a_session_of_its_own(
    tmp_path: Path,
) -> None:
    argv = bridge_main.startCommand(BridgeOptions("demo", tmp_path, port=9200))
    assert argv[0] == sys.executable
    code = argv[argv.index("-c") + 1]
    assert "os.setsid()" in code and "default_int_handler" in code
    assert argv[argv.index("-c") + 2 :] == [
        "--state-dir",
        str(tmp_path),
        "start",
        "--json",
        "--port",
        "9200",
    ]


def test_the_start_never_imports_from_the_folder_the_client_runs_the_bridge_in(
    tmp_path: Path,
) -> None:
    """A module planted in the bridge's working directory (a cloned
    repository's root, a shared folder) is never imported by the start."""
    planted = tmp_path / "signal.py"
    marker = tmp_path / "ran"
    planted.write_text(f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit(3)\n")
    argv = bridge_main.startCommand(BridgeOptions("demo", tmp_path / "state", port=9200))
    assert "-P" in argv[1 : argv.index("-c")]
    done = subprocess.run(
        [*argv[: argv.index("-c")], "-c", "import signal, sys; sys.exit(0)"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and not marker.exists(), done.stderr


def test_targets_are_checked() -> None:
    assert checkTarget("demo") is None and checkTarget("http://h/x/mcp") is None
    assert checkTarget("../etc") is not None and checkTarget("a b") is not None


def test_the_subcommand_parses(tmp_path: Path) -> None:
    parser = Parser(prog="mcpgateway")
    parser.add_argument("--state-dir")
    commands = parser.add_subparsers(dest="command")
    cli_bridge.addParser(commands, [])
    args = parser.parse_args(["--state-dir", str(tmp_path), "bridge", "demo", "--timeout", "5"])
    assert args.handler is cli_bridge.cmdBridge
    assert (args.target, args.timeout, args.no_start, args.port) == ("demo", 5.0, False, None)
    with pytest.raises(UsageError):
        parser.parse_args(["bridge", "demo", "--timeout", "-1"])
    assert isinstance(args, argparse.Namespace)


def test_the_cli_module_loads_no_twisted() -> None:
    assert loadedUnder(("mcpgateway.cli.bridge",), ("twisted", "klein")) == []


def connectedBridge(
    tmp_path: Path,
) -> tuple[FakeProcessReactor, bridge_main.Bridge, StringTransport]:
    """A bridge (no autostart) on a fake reactor, its stdout a L{StringTransport}."""
    reactor = FakeProcessReactor()
    bridge = bridge_main.makeBridge(reactor, BridgeOptions("demo", tmp_path, autostart=False))
    stdout = StringTransport()
    bridge.stdio.makeConnection(stdout)
    return reactor, bridge, stdout


def test_stdin_eof_ends_the_bridge(tmp_path: Path) -> None:
    reactor, bridge, stdout = connectedBridge(tmp_path)
    bridge.client.connect()
    reactor.advance(0)
    assert not bridge.ended.called
    bridge.stdio.readConnectionLost()
    stdoutFlushed(bridge, stdout)
    assert bridge.ended.called and bridge.exitCode() == 0
    assert not reactor.getDelayedCalls() or all(not c.active() for c in reactor.getDelayedCalls())


def stdoutFlushed(bridge: bridge_main.Bridge, stdout: StringTransport) -> None:
    """The bridge asked for stdout to be flushed and closed before it ends:
    the pipe does so (a C{StringTransport} only records the request)."""
    assert stdout.disconnecting and not bridge.ended.called
    bridge.stdio.connectionLost()


def fakeBridge(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[bridge_main.Bridge, FakeAgent, StringTransport]:
    """A bridge to L{URL} on a fake agent, connected (the probe answered)."""
    reactor = FakeProcessReactor()
    agent = FakeAgent()
    monkeypatch.setattr(
        bridge_main, "makeAgent", lambda reactor: (agent, HTTPConnectionPool(reactor))
    )
    bridge = bridge_main.makeBridge(reactor, BridgeOptions(URL, tmp_path, timeout=20))
    stdout = StringTransport()
    bridge.stdio.makeConnection(stdout)
    bridge.client.connect()
    reactor.advance(0)
    agent.one(b"GET").answer(FakeResponse(200, b"{}"))
    return bridge, agent, stdout


INIT_LINE = (
    b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"c","version":"1"}}}'
)


def test_stdin_eof_answers_the_requests_sent_before_then_ends(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # echo '<initialize>' | mcpgateway bridge URL
    bridge, agent, stdout = fakeBridge(monkeypatch, tmp_path)
    bridge.stdio.dataReceived(INIT_LINE)  # no newline: the last line, read at EOF
    bridge.stdio.readConnectionLost()
    post = agent.one(b"POST")
    assert not bridge.ended.called
    answer = b'{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25"}}'
    post.answer(FakeResponse(200, answer, headers={b"mcp-session-id": b"s1"}))
    assert stdout.value() == answer + b"\n"
    delete = agent.one(b"DELETE")  # then the end, as before: the session is ended
    assert delete.header("mcp-session-id") == "s1" and not bridge.ended.called
    delete.answer(FakeResponse(200))
    stdoutFlushed(bridge, stdout)
    assert bridge.ended.called and bridge.exitCode() == 0


def test_stdout_gone_while_waiting_ends_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bridge, agent, _ = fakeBridge(monkeypatch, tmp_path)
    bridge.stdio.dataReceived(INIT_LINE + b"\n")
    bridge.stdio.readConnectionLost()
    agent.one(b"POST")
    assert not bridge.ended.called
    bridge.stdio.writeConnectionLost()  # no answer can reach the client any more
    assert bridge.ended.called


CALL_LINE = b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo"}}'


def test_stdin_eof_with_no_gateway_flushes_the_errors_then_ends_with_status_1(
    tmp_path: Path,
) -> None:
    # printf '<initialize>\n<call>\n' | mcpgateway bridge --no-start --timeout 3 demo
    reactor = FakeProcessReactor()
    options = BridgeOptions("demo", tmp_path, autostart=False, timeout=3)
    bridge = bridge_main.makeBridge(reactor, options)
    stdout = StringTransport()
    bridge.stdio.makeConnection(stdout)
    bridge.client.connect()
    reactor.advance(0)
    bridge.stdio.dataReceived(INIT_LINE + b"\n" + CALL_LINE + b"\n")
    bridge.stdio.readConnectionLost()
    reactor.advance(3)
    errors = [json.loads(line) for line in stdout.value().splitlines()]
    assert [(e["id"], e["error"]["code"]) for e in errors] == [(1, -32000), (2, -32000)]
    assert f"no gateway is running on state directory {tmp_path}" in errors[0]["error"]["message"]
    # The reactor must not stop before stdout has taken those lines.
    stdoutFlushed(bridge, stdout)
    assert bridge.ended.called
    assert bridge.exitCode() == bridge_main.EXIT_NO_GATEWAY == 1


def test_the_end_waits_a_bounded_time_for_a_client_that_reads_no_more(tmp_path: Path) -> None:
    reactor, bridge, stdout = connectedBridge(tmp_path)
    bridge.stdio.readConnectionLost()
    assert stdout.disconnecting and not bridge.ended.called
    reactor.advance(FLUSH_TIMEOUT)
    assert bridge.ended.called


def test_the_owner_token_goes_to_the_state_directorys_gateway_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By name, the bridge finds its gateway in the state directory: the
    token goes to that loopback URL. A URL it was given gets the token only
    while it names the port of the gateway running there."""
    token = loadOwnerToken(tmp_path)
    byName = bridge_main.ownerHeadersFor(BridgeOptions("demo", tmp_path))
    assert byName("http://127.0.0.1:9100/demo/mcp") == {HEADER: token}
    assert byName("http://10.1.1.1:9100/demo/mcp") == {}
    options = BridgeOptions("http://127.0.0.1:9100/x/mcp", tmp_path)
    given = bridge_main.ownerHeadersFor(options)
    assert given("http://127.0.0.1:9100/x/mcp") == {}  # no gateway runs there
    running = GatewayProbe(tmp_path, {"pid": 1, "port": 9100}, alive=True, locked=True)
    monkeypatch.setattr(gatewayprobe, "probe", lambda stateDir: running)
    given = bridge_main.ownerHeadersFor(options)
    assert given("http://127.0.0.1:9100/x/mcp") == {HEADER: token}
    assert given("http://127.0.0.1:9200/x/mcp") == {}  # another port: another gateway's
