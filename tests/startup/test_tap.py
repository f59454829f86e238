"""The command line (every option, key by key) and the service tree it builds."""

from __future__ import annotations

import ipaddress
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.application.service import MultiService
from twisted.logger import formatEvent
from twisted.python import usage

from mcpgateway import tap
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.startup import endpoints, wiring
from mcpgateway.startup import options as optionsmodule
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, childSpawns
from tests.support.runtime.fresh import REPO, demoConfig, freshPython


def parse(*argv: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(argv))
    return options


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MCPGATEWAY_HOME", raising=False)
    monkeypatch.delenv("MCPGATEWAY_API_TOKEN", raising=False)
    options = parse()
    expected = {
        "port": "9100",
        "interface": "127.0.0.1",
        "config": None,
        "state-dir": str(tmp_path / ".mcpgateway"),
        "log-level": "info",
        "request-timeout": None,
        "max-body": 4 * 1024 * 1024,
        "max-line": 16 * 1024 * 1024,
        "reap-interval": 60.0,
        "idle-timeout": 1800.0,
        "log-file": None,
        "restart-backoff": 1.0,
        "circuit-cool-down": 60.0,
        "child-idle-timeout": None,
        "api-token": None,
        "manhole": None,
        "manhole-ssh": None,
        "rewrite-config": 0,
        "no-resolve": 0,
        "endpoint": "tcp:9100:interface=127.0.0.1",
        "drain-timeout": 5.0,
        "max-batch": 100,
        "max-depth": 100,
        "max-number-digits": 1000,
        "max-in-flight": 64,
        "header-timeout": 10.0,
        "max-connections-per-peer": 2048,
        "keepalive-interval": 15.0,
        "max-era2026-in-flight": 256,
        "max-suspended-calls": 256,
        "era2026-input-timeout": 600.0,
        "max-sessions-per-principal": 1000,
        "poll-spin": 100.0,
    }
    assert {key: options[key] for key in expected} == expected
    assert options["limits"] == MessageBounds()


def test_limit_options_reach_the_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    options = parse(
        "--max-batch",
        "7",
        "--max-in-flight",
        "3",
        "--keepalive-interval",
        "2.5",
        "--max-number-digits",
        "50",
        "--state-dir",
        str(tmp_path / "st"),
    )
    assert options["limits"] == MessageBounds(
        maxBatch=7, maxInFlightPerSession=3, keepAliveInterval=2.5, maxNumberDigits=50
    )
    reactor = FakeProcessReactor()
    top = tap.makeService(options, reactor)
    top.startService()
    try:
        [(_, site, _, _)] = reactor.tcpServers
        assert getattr(site, "limits", None) == options["limits"]
    finally:
        top.stopService()


def test_the_session_limit_per_caller_is_an_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = parse("--max-sessions-per-principal", "7", "--state-dir", str(tmp_path))
    assert options["limits"].maxSessionsPerPrincipal == 7
    with pytest.raises(SystemExit):
        parse("--max-sessions-per-principal", "0", "--state-dir", str(tmp_path))
    assert "--max-sessions-per-principal '0': must be positive" in capsys.readouterr().err


def test_era2026_options_reach_the_site_and_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    options = parse(
        "--max-era2026-in-flight",
        "5",
        "--max-suspended-calls",
        "6",
        "--era2026-input-timeout",
        "7.5",
        "--state-dir",
        str(tmp_path / "st"),
    )
    assert options["limits"] == MessageBounds(
        maxEra2026InFlight=5, maxSuspendedCalls=6, era2026InputTimeout=7.5
    )
    reactor = FakeProcessReactor()
    top = tap.makeService(options, reactor)
    top.startService()
    try:
        [(_, site, _, _)] = reactor.tcpServers
        assert getattr(site, "limits", None) == options["limits"]
        gateway: Any = getattr(site, "gateway", None)
        limits = gateway.servers.limits
        assert (limits.inputTimeout, limits.maxSuspended) == (7.5, 6)
    finally:
        top.stopService()


class _SpinningReactor(FakeProcessReactor):
    """A reactor that, like L{mcpgateway.tuned.reactor.GatewayReactor}, can spin."""

    def __init__(self) -> None:
        super().__init__()
        self.spins: list[tuple[float, Callable[[], bool]]] = []

    def spinBeforeWaiting(self, seconds: float, worthIt: Callable[[], bool]) -> None:
        self.spins.append((seconds, worthIt))


@pytest.mark.usefixtures("defaultTwisted")  # what runs by default
@pytest.mark.parametrize(("given", "seconds"), [((), 100e-6), (("--poll-spin", "0"), 0.0)])
def test_poll_spin_reaches_the_reactor_with_the_sites_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: tuple[str, ...], seconds: float
) -> None:
    """The reactor spins only while the site serves at most one request."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(wiring, "usableCpus", lambda: 2)
    options = parse(*given, "--state-dir", str(tmp_path / "st"))
    reactor = _SpinningReactor()
    top = tap.makeService(options, reactor)
    top.startService()
    try:
        [(_, site, _, _)] = reactor.tcpServers
        [(spin, worthIt)] = reactor.spins
        assert spin == pytest.approx(seconds)
        assert worthIt() is True
        site.serving = 1  # type: ignore[attr-defined]
        assert worthIt() is True
        site.serving = 2  # type: ignore[attr-defined]
        assert worthIt() is False
    finally:
        top.stopService()


@pytest.mark.usefixtures("defaultTwisted")  # what runs by default
def test_poll_spin_is_off_on_one_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On one CPU the process the gateway waits for needs that CPU: no spin
    (and a log line saying so)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(wiring, "usableCpus", lambda: 1)
    options = parse("--state-dir", str(tmp_path / "st"))
    reactor = _SpinningReactor()
    with capturedGatewayLogs() as events:
        top = tap.makeService(options, reactor)
    top.startService()
    try:
        [(spin, _)] = reactor.spins
        assert spin == 0.0
        assert any("one CPU" in formatEvent(e) for e in events)
    finally:
        top.stopService()


def test_usable_cpus_are_this_process_own() -> None:
    assert wiring.usableCpus() == len(os.sched_getaffinity(0))


def test_bad_poll_spins_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for value in ("-1", "10001", "nan", "inf", "x"):
        with pytest.raises(SystemExit):
            parse("--poll-spin", value)
        said = capsys.readouterr().err
        assert "Parameter type enforcement failed" in said and f"--poll-spin {value!r}: " in said


def test_bad_era2026_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for flag, value in (
        ("--era2026-input-timeout", "0"),
        ("--max-suspended-calls", "-1"),
        ("--max-era2026-in-flight", "x"),
    ):
        with pytest.raises(SystemExit):
            parse(flag, value)
        assert "Parameter type enforcement failed" in capsys.readouterr().err


def test_bad_limit_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--max-number-digits", "5000")
    assert "4300" in capsys.readouterr().err


def test_every_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "servers.json"
    config.write_text("{}")
    monkeypatch.setenv("MCPGATEWAY_API_TOKEN", "from-env")
    options = parse(
        "--port",
        "9200",
        "--interface",
        "::1",
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "st"),
        "--log-level",
        "debug",
        "--request-timeout",
        "5",
        "--max-body",
        "1000",
        "--max-line",
        "2000",
        "--reap-interval",
        "2",
        "--idle-timeout",
        "30",
        "--child-idle-timeout",
        "40",
        "--log-file",
        str(tmp_path / "g.log"),
        "--restart-backoff",
        "0.5",
        "--circuit-cool-down",
        "10",
        "--rewrite-config",
        "--no-resolve",
    )
    assert options["endpoint"] == "tcp:9200:interface=\\:\\:1"
    assert (options["request-timeout"], options["max-body"], options["max-line"]) == (
        5.0,
        1000,
        2000,
    )
    assert (options["reap-interval"], options["idle-timeout"], options["child-idle-timeout"]) == (
        2.0,
        30.0,
        40.0,
    )
    assert (options["restart-backoff"], options["circuit-cool-down"]) == (0.5, 10.0)
    assert options["rewrite-config"] and options["no-resolve"]
    assert options["api-token"] == "from-env"  # the environment, not the command line


def test_state_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPGATEWAY_HOME", str(tmp_path / "elsewhere"))
    assert parse()["state-dir"] == str(tmp_path / "elsewhere")


def test_manhole_ssh_is_a_port_number() -> None:
    assert parse("--manhole-ssh", "9773")["manhole-ssh"] == 9773
    assert parse()["manhole-ssh"] is None


def test_a_manhole_endpoint_string_is_not_a_type_enforcement_failure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse("--manhole-ssh", "tcp:9773:interface=0.0.0.0")
    err = capsys.readouterr().err
    assert "Parameter type enforcement failed" not in err and "int()" not in err, err


def test_endpoint_strings_pass_through() -> None:
    assert parse("--port", "unix:/tmp/gw.sock")["endpoint"] == "unix:/tmp/gw.sock"
    for endpoint in (
        "tcp:0",
        "tcp:port=9302:backlog=5:interface=127.0.0.1",
        "tcp6:9304:interface=\\:\\:1",
        "ssl:65535:privateKey=k.pem",
        "unix:address=/tmp/gw.sock:mode=600",
        "systemd:domain=INET:index=0",
    ):
        assert parse("--port", endpoint)["endpoint"] == endpoint


def test_a_relative_config_is_made_absolute_as_the_start_directory_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """State.json gets the absolute path, so doctor and
    status run from another directory find the file the gateway serves."""
    (tmp_path / "cfg.json").write_text('{"mcpServers": {}}')
    monkeypatch.chdir(tmp_path)
    assert parse("--config", "cfg.json")["config"] == str(tmp_path / "cfg.json")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse("--config", "~/cfg.json")["config"] == str(tmp_path / "cfg.json")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--port", "http"], "--port must be a number"),
        (["--port", "70000"], "out of range"),
        (["--log-level", "loud"], "--log-level must be one of"),
        (["--config", "/no/such/file.json"], "no such file"),
        (["--request-timeout", "-1"], "--request-timeout '-1': must be a positive number"),
        (["--max-body", "0"], "--max-body '0': must be positive"),
        (
            ["--manhole-ssh", "tcp:9773:interface=0.0.0.0"],
            "--manhole-ssh takes a TCP port number, not 'tcp:9773:interface=0.0.0.0': the"
            " manhole listens on 127.0.0.1 only",
        ),
        (["--manhole-ssh", "70000"], "--manhole-ssh 70000 is out of range"),
        # The endpoint's bad part in words, before anything starts
        (["--port", "tcp:abc"], "mcpgateway: --port 'tcp:abc': the port must be a number, not"),
        (["--port", "ssl:port=x:privateKey=k"], "--port 'ssl:port=x:privateKey=k': the port"),
        (["--port", "tcp:"], "--port 'tcp:': the port must be a number, not ''"),
        (["--port", "tcp:99999"], "--port 'tcp:99999': port 99999 is out of range (0 to 65535)"),
        (["--port", "tcp6:-1"], "--port 'tcp6:-1': port -1 is out of range (0 to 65535)"),
        (
            ["--port", "tcp:port=9302:backlog=abc"],
            "--port 'tcp:port=9302:backlog=abc': backlog must be a whole number, not 'abc'",
        ),
        (
            ["--port", "unix:"],
            "--port 'unix:': give the socket's path: unix:/path/to/gateway.sock",
        ),
        (["--port", "unix:address="], "--port 'unix:address=': give the socket's path"),
        (["--port", "unix:/tmp/s:mode=9"], "mode must be an octal number (mode=600), not '9'"),
    ],
)
def test_bad_options_are_one_line_and_a_pointer_to_help(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == "" and len(lines) == 2, captured
    assert lines[0].startswith("mcpgateway: ") and message in lines[0]
    assert lines[1] == "`twistd mcpgateway --help` lists the options"


def test_twistd_bad_option_prints_no_help_page() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from twisted.scripts.twistd import run; run()",
            "mcpgateway",
            "--bogus",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "option --bogus not recognized" in output
    assert "--request-timeout" not in output  # no help page
    assert len(output.strip().splitlines()) <= 3, output


def test_tls_is_left_out_only_for_plain_endpoints() -> None:
    """In a fresh process (no reactor yet) pyOpenSSL is kept out for TCP and
    UNIX endpoints, kept for ssl:; the gateway process itself decides."""
    code = (
        "import sys; from mcpgateway.startup.endpoints import leaveOutTLS;"
        "print(leaveOutTLS(sys.argv[1]), sys.modules.get('OpenSSL', 'absent'))"
    )
    for endpoint, expected in (
        ("tcp:9100:interface=127.0.0.1", "True None"),
        ("unix:/tmp/x.sock", "True None"),
        ("ssl:9443:privateKey=k.pem", "False absent"),
    ):
        out = subprocess.run(
            [sys.executable, "-c", code, endpoint],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        ).stdout.split()
        assert " ".join(out) == expected, endpoint
    assert endpoints.leaveOutTLS("tcp:1") is False  # here the reactor is already imported


@pytest.mark.usefixtures("defaultTwisted")  # what runs by default
def test_service_tree_on_a_memory_reactor(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = demoConfig(tmp_path)
    reactor = FakeProcessReactor()
    options = parse("--port", "9300", "--config", str(config), "--state-dir", str(tmp_path / "st"))
    top = tap.makeService(options, reactor)
    assert isinstance(top, MultiService)
    names = [type(service).__name__ for service in top]
    assert type(top).__name__ == "InstanceService"  # the root: lock and state.json last
    assert names == [
        "OnDemandProxy",
        "SandboxService",
        "CachePruning",
        "CrashKeeping",
        "OnDemandRemotes",
        "PinPolicy",
        "GatewayService",
        "TaskKeeping",
        "StopSignals",
        "ConfigService",
        "ReaperService",
        "MonitorService",
        "SavingsService",
        "SeriesService",
        "HeldCallsService",
        "FlowSweep",
        "SystemdNotifyService",
        "ListenerService",
        "RestartOnSignal",
        "GcTuning",
        "HeapTrim",
    ]
    top.startService()
    [(port, site, _, interface)] = reactor.tcpServers
    assert type(site).__name__ == "GatewaySite"
    assert (port, interface) == (9300, "127.0.0.1")
    reactor.run()  # state.json is written once the reactor runs
    state = json.loads((tmp_path / "st" / "state.json").read_text())
    assert (state["port"], state["config"], state["rewriteConfig"]) == (9300, str(config), False)
    assert state["python"] == sys.executable  # whose installed mcpgateway a restart runs
    assert childSpawns(reactor) == []  # children start lazily: only the sandbox's probe runs
    top.stopService()
    assert not (tmp_path / "st" / "state.json").exists()


def test_version_names_mcpgateway_and_twisted(capsys: pytest.CaptureFixture[str]) -> None:
    from mcpgateway import __version__
    from twisted import copyright

    with pytest.raises(SystemExit) as exited:
        parse("--version")
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == (
        f"mcpgateway {__version__} (Twisted {copyright.version})"
    )


def test_nothing_spawns_or_schedules_before_start_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twistd daemonizes between makeService and startService;
    an npx resolution started in makeService belonged to the parent that
    exits, and every request to the server hung."""
    monkeypatch.setenv("HOME", str(tmp_path))
    npm = tmp_path / "bin" / "npm"
    npm.parent.mkdir()
    npm.write_text("#!/bin/sh\nexit 0\n")
    npm.chmod(0o755)
    (tmp_path / "bin" / "npx").write_bytes(npm.read_bytes())
    (tmp_path / "bin" / "npx").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    config = tmp_path / "servers.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "memory": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-memory@1.0.0"],
                        "prewarm": True,
                    }
                }
            }
        )
    )
    reactor = FakeProcessReactor()
    options = parse("--port", "9302", "--config", str(config), "--state-dir", str(tmp_path / "st"))
    top = tap.makeService(options, reactor)
    assert reactor.spawned == []
    assert reactor.getDelayedCalls() == []
    assert reactor.tcpServers == []
    top.startService()
    try:
        # Now the install runs (npm, in the gateway's cache), in the process that stays,
        # confined as its server would be (through the sandbox's launcher).
        [(executable, argv, _, _)] = childSpawns(reactor)
        if Path(executable).name == "setsid":  # the installer leads a process group
            argv = argv[1:]
        if "--" in argv:  # the sandbox's launcher runs it
            argv = argv[argv.index("--") + 1 :]
        assert Path(argv[0]).name == "npm" and argv[1] == "install", argv
    finally:
        top.stopService()


def test_warnings_before_start_reach_the_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is logged while the tree is built (before the log
    file opens, after daemonizing) is written to the log file first."""
    monkeypatch.setenv("HOME", str(tmp_path))
    stateDir = tmp_path / "st"
    stateDir.mkdir()
    (stateDir / "classification.json").write_text('{"demo": {"mode": "bogus"}}')
    config = tmp_path / "servers.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]},
                    "remote": {"type": "sse", "url": "http://example.invalid/sse"},
                }
            }
        )
    )
    logFile = tmp_path / "gateway.log"
    options = parse(
        "--port",
        "9303",
        "--config",
        str(config),
        "--state-dir",
        str(stateDir),
        "--log-file",
        str(logFile),
    )
    top = tap.makeService(options, FakeProcessReactor())
    assert not logFile.exists()  # nothing opened before daemonizing
    top.startService()
    top.stopService()
    text = logFile.read_text()
    assert "'demo'.mode" in text, text
    assert "remote" in text, text
    assert text.index("'demo'.mode") < text.index(" serving ")  # before the start line


def test_events_replayed_by_twistd_are_written_once(tmp_path: Path) -> None:
    """twistd replays what it buffered before logging began to every observer
    of the global publisher: the log file must still hold each event once."""
    from twisted.logger import LogLevel, globalLogPublisher

    from mcpgateway.runtime import logs

    logFile = tmp_path / "g.log"
    service = logs.LogFileService(str(logFile))
    event = {
        "log_format": "early {n}",
        "n": 1,
        "log_level": LogLevel.info,
        "log_time": 0.0,
        "log_namespace": "t",
    }
    globalLogPublisher(event)
    globalLogPublisher(event)  # the replay: the same event object again
    service.startService()
    service.stopService()
    assert logFile.read_text().count("early 1") == 1


def test_make_service_on_a_fake_reactor_never_touches_the_global_reactor(tmp_path: Path) -> None:
    """Everything is handed the reactor it runs on: building the tree (and
    starting it) on a fake reactor imports no global one."""
    config = demoConfig(tmp_path)
    code = (
        "import sys\n"
        "from mcpgateway import tap\n"
        "from tests.fakes import FakeProcessReactor\n"
        "options = tap.Options()\n"
        f"options.parseOptions(['--port', '9304', '--config', {str(config)!r},"
        f" '--state-dir', {str(tmp_path / 'st')!r}])\n"
        "top = tap.makeService(options, FakeProcessReactor())\n"
        "print('after makeService', 'twisted.internet.reactor' in sys.modules)\n"
        "top.startService()\n"
        "print('after startService', 'twisted.internet.reactor' in sys.modules)\n"
        "top.stopService()\n"
    )
    result = freshPython("-c", code, home=tmp_path)
    assert result.stdout.split("\n")[:2] == [
        "after makeService False",
        "after startService False",
    ], result.stdout


def test_the_workspace_key_is_made_at_start_and_reaches_the_site_and_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcpgateway.config.workspaces import WorkspaceKeys
    from mcpgateway.runtime.paths import WORKSPACE_KEY_FILE

    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"demo": {"command": sys.executable}}}))
    state = tmp_path / "st"
    reactor = FakeProcessReactor()
    top = tap.makeService(
        parse("--port", "9301", "--config", str(config), "--state-dir", str(state)), reactor
    )
    key = state / WORKSPACE_KEY_FILE
    assert key.is_file() and key.stat().st_mode & 0o777 == 0o600
    top.startService()
    [(_, site, _, _)] = reactor.tcpServers
    credential = site.resource._keys.credential({"T": "v"})  # type: ignore[attr-defined]
    assert credential == WorkspaceKeys.forStateDir(state).credential({"T": "v"})
    assert isinstance(top, MultiService)
    [gatewayService] = [s for s in top if type(s).__name__ == "GatewayService"]
    assert type(gatewayService.gateway.settings.promotions).__name__ == "Promoter"
    top.stopService()


def test_an_unusable_workspace_key_refuses_the_start_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mcpgateway.runtime.paths import WORKSPACE_KEY_FILE

    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {}}))
    state = tmp_path / "st"
    state.mkdir(mode=0o700)
    (state / WORKSPACE_KEY_FILE).write_text("not a key\n")
    (state / WORKSPACE_KEY_FILE).chmod(0o600)  # private: its contents are what is wrong
    with pytest.raises(SystemExit) as exited:
        tap.makeService(
            parse("--port", "9302", "--config", str(config), "--state-dir", str(state)),
            FakeProcessReactor(),
        )
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mcpgateway: the workspace key file ")
    assert "64 hex digits" in err and "Remove it" in err
    assert (state / WORKSPACE_KEY_FILE).read_text() == "not a key\n"


def test_a_request_waits_for_the_predecessor_as_long_as_a_restart_can_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The predecessor keeps its connections up to --restart-timeout, then
    drains up to --drain-timeout: only after that are its last sessions known."""
    monkeypatch.setenv("HOME", str(tmp_path))
    options = parse(
        "--port", "9301", "--state-dir", str(tmp_path / "st"),
        "--restart-timeout", "100", "--drain-timeout", "7",
    )  # fmt: skip
    top = tap.makeService(options, FakeProcessReactor())
    assert isinstance(top, MultiService)
    [gatewayService] = [s for s in top if type(s).__name__ == "GatewayService"]
    assert getattr(gatewayService, "gateway").predecessorWait == 122.0  # noqa: B009


# -- a team gateway -----------------------------------------------------


def test_team_options_default_to_none_and_limits_to_64_and_50(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for env in (
        "MCPGATEWAY_AUTH_TOKENS",
        "MCPGATEWAY_OAUTH_ISSUER",
        "MCPGATEWAY_RESOURCE_URI",
        "MCPGATEWAY_AUDIT_LOG",
    ):
        monkeypatch.delenv(env, raising=False)
    options = parse()
    assert {
        key: options[key]
        for key in (
            "auth-tokens",
            "oauth-issuer",
            "resource-uri",
            "oauth-jwks-uri",
            "oauth-audience",
            "oauth-scopes",
            "oauth-principal-claim",
            "oauth-ca-file",
            "max-requests-per-principal",
            "rate-per-principal",
            "audit-log",
            "audit-payloads",
            "public-health",
        )
    } == {
        "auth-tokens": None,
        "oauth-issuer": None,
        "resource-uri": None,
        "oauth-jwks-uri": None,
        "oauth-audience": (),
        "oauth-scopes": (),
        "oauth-principal-claim": "sub",
        "oauth-ca-file": None,
        "max-requests-per-principal": 64,
        "rate-per-principal": 50.0,
        "audit-log": None,
        "audit-payloads": 0,
        "public-health": 0,
    }


def test_team_options_and_their_environment_fallbacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MCPGATEWAY_AUTH_TOKENS", "tokens.json")
    monkeypatch.setenv("MCPGATEWAY_AUDIT_LOG", "audit.jsonl")
    options = parse("--max-requests-per-principal", "8", "--rate-per-principal", "2.5")
    assert options["auth-tokens"] == str(tmp_path / "tokens.json")  # absolute: twistd may chdir
    assert options["audit-log"] == str(tmp_path / "audit.jsonl")
    assert (options["max-requests-per-principal"], options["rate-per-principal"]) == (8, 2.5)
    assert parse("--auth-tokens", "/etc/t.json")["auth-tokens"] == "/etc/t.json"  # the flag wins
    monkeypatch.delenv("MCPGATEWAY_AUTH_TOKENS")
    monkeypatch.setenv("MCPGATEWAY_OAUTH_ISSUER", "https://id.example.com")
    monkeypatch.setenv("MCPGATEWAY_RESOURCE_URI", "https://mcp.example.com")
    oauth = parse("--oauth-scopes", "mcp:use, profile", "--oauth-audience", "a,b")
    assert (oauth["oauth-issuer"], oauth["resource-uri"]) == (
        "https://id.example.com",
        "https://mcp.example.com",
    )
    assert (oauth["oauth-scopes"], oauth["oauth-audience"]) == (("mcp:use", "profile"), ("a", "b"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--oauth-issuer", "https://id.example.com"], "--oauth-issuer needs --resource-uri URL"),
        (
            ["--oauth-issuer", "http://id.example.com", "--resource-uri", "https://m.example"],
            "--oauth-issuer http://id.example.com: must be https (plain http only on a loopback",
        ),
        (
            ["--oauth-issuer", "ftp://x", "--resource-uri", "https://m.example"],
            "must be an https:// URL",
        ),
        (
            [
                "--auth-tokens",
                "t.json",
                "--oauth-issuer",
                "https://i",
                "--resource-uri",
                "https://m",
            ],
            "give one authentication method, not both",
        ),
        (["--resource-uri", "https://m.example"], "--resource-uri needs --oauth-issuer URL"),
        (["--oauth-ca-file", "ca.pem"], "--oauth-ca-file needs --oauth-issuer URL"),
        (["--audit-payloads"], "--audit-payloads needs --audit-log FILE"),
        (["--public-health"], "--public-health needs --auth-tokens FILE or --oauth-issuer URL"),
        (["--rate-per-principal", "-1"], "'-1': must be a number, zero or more"),
        (["--max-requests-per-principal", "-2"], "must be zero or more"),
    ],
)
def test_team_option_combinations_that_cannot_work(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for env in ("MCPGATEWAY_AUTH_TOKENS", "MCPGATEWAY_OAUTH_ISSUER", "MCPGATEWAY_RESOURCE_URI"):
        monkeypatch.delenv(env, raising=False)
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 2, err


def test_a_loopback_issuer_may_be_plain_http() -> None:
    options = parse(
        "--oauth-issuer", "http://127.0.0.1:8000", "--resource-uri", "http://localhost:9100"
    )
    assert options["oauth-issuer"] == "http://127.0.0.1:8000"


REFUSED = (
    "is reachable from other machines and no authentication is set: add --auth-tokens FILE"
    " (`mcpgateway token new NAME --file FILE` makes one) or --oauth-issuer URL"
    " --resource-uri URL, or listen on 127.0.0.1"
)


@pytest.mark.parametrize(
    ("endpoint", "reachable"),
    [
        ("tcp:9100:interface=127.0.0.1", False),
        ("tcp:9100:interface=127.0.0.2", False),
        ("tcp:9100", True),
        ("tcp:9100:interface=0.0.0.0", True),
        ("tcp:9100:interface=192.168.1.5", True),
        ("tcp6:9100:interface=\\:\\:1", False),
        ("tcp6:9100:interface=\\:\\:", True),
        ("unix:/run/mcpgateway.sock", False),
        ("ssl:9443:privateKey=k.pem:interface=0.0.0.0", True),
        ("ssl:9443:privateKey=k.pem", True),
        ("ssl:9443:privateKey=k.pem:interface=127.0.0.1", False),
    ],
)
def test_require_auth_over_endpoint_kinds(endpoint: str, reachable: bool) -> None:
    loopback = endpoints.isLoopbackEndpoint(endpoint)
    refusal = endpoints.requireAuth(endpoint, loopback, {})
    assert refusal == (f"{endpoint} {REFUSED}" if reachable else None)
    assert endpoints.requireAuth(endpoint, loopback, {"auth-tokens": "/t.json"}) is None
    assert endpoints.requireAuth(endpoint, loopback, {"oauth-issuer": "https://i"}) is None


def test_an_adopted_socket_off_loopback_needs_auth() -> None:
    # An adopted systemd socket: the endpoint string says nothing, the socket does.
    assert endpoints.requireAuth("systemd:domain=INET:index=0", False, {}) == (
        f"systemd:domain=INET:index=0 {REFUSED}"
    )
    assert endpoints.requireAuth("systemd:domain=INET:index=0", True, {}) is None


def test_off_loopback_without_auth_refuses_the_start_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MCPGATEWAY_AUTH_TOKENS", raising=False)
    monkeypatch.delenv("MCPGATEWAY_OAUTH_ISSUER", raising=False)
    reactor = FakeProcessReactor()
    options = parse("--port", "9303", "--interface", "0.0.0.0", "--state-dir", str(tmp_path / "st"))
    with pytest.raises(SystemExit) as exited:
        tap.makeService(options, reactor)
    assert exited.value.code == 1
    assert capsys.readouterr().err == f"mcpgateway: tcp:9303:interface=0.0.0.0 {REFUSED}\n"
    assert reactor.tcpServers == []


def test_a_team_gateway_on_a_memory_reactor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.auth.tokens import addToken

    monkeypatch.setenv("HOME", str(tmp_path))
    tokens = tmp_path / "tokens.json"
    addToken(tokens, "alice")
    audit = tmp_path / "audit.jsonl"
    reactor = FakeProcessReactor()
    options = parse(
        "--port",
        "tcp:9304:interface=0.0.0.0",
        "--state-dir",
        str(tmp_path / "st"),
        "--auth-tokens",
        str(tokens),
        "--audit-log",
        str(audit),
        "--rate-per-principal",
        "5",
    )
    top = tap.makeService(options, reactor)
    assert isinstance(top, MultiService)
    names = [type(service).__name__ for service in top]
    assert {"_Polling", "AuditLog"} <= set(names)
    # Nothing opened or scheduled before startService (twistd daemonizes in between).
    assert not audit.exists() and reactor.getDelayedCalls() == []
    key = tmp_path / "st" / "audit.key"  # the chain's key: made, and read, at start
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text()) == 65
    top.startService()
    try:
        [(port, site, _, interface)] = reactor.tcpServers
        assert (port, interface) == (9304, "0.0.0.0")
        team = getattr(site, "resource").team  # noqa: B009 (an IProtocolFactory to mypy)
        assert team.gate is not None and team.quota is not None and team.audit is not None
        assert team.authLine() == {
            "mode": "tokens",
            "principals": 1,
            "tokens": 1,
            "reloads": 0,
            "lastError": None,
            "limits": {"maxConcurrent": 64, "perSecond": 5.0, "principals": 0},
            "audit": True,
        }
        assert audit.exists()
    finally:
        top.stopService()
    from mcpgateway.ops.auditkey import readKey
    from mcpgateway.ops.auditverify import verify

    assert json.loads(audit.read_text().splitlines()[0])["mac"] == "hmac-sha256"
    assert verify([str(audit)], readKey(key)).integrity == "checked"


def test_without_authentication_there_are_no_per_principal_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MCPGATEWAY_AUTH_TOKENS", raising=False)
    reactor = FakeProcessReactor()
    options = parse("--port", "9306", "--state-dir", str(tmp_path / "st"))
    top = tap.makeService(options, reactor)
    top.startService()
    try:
        [(_, site, _, _)] = reactor.tcpServers
        team = getattr(site, "resource").team  # noqa: B009
        assert (team.gate, team.quota, team.audit) == (None, None, None)
        assert team.authLine() == {"mode": "none"}
    finally:
        top.stopService()


def test_a_bad_tokens_file_refuses_the_start_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    tokens = tmp_path / "tokens.json"
    tokens.write_text('{"version": 1, "tokens": [{"sha256": "zz", "principal": "a"}]}')
    options = parse("--state-dir", str(tmp_path / "st"), "--auth-tokens", str(tokens))
    with pytest.raises(SystemExit):
        tap.makeService(options, FakeProcessReactor())
    err = capsys.readouterr().err
    assert err.startswith("mcpgateway: ") and len(err.strip().splitlines()) == 1, err
    assert "tokens[0]" in err or "entry" in err, err


def test_an_oauth_gateway_fetches_the_issuers_keys_only_once_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    reactor = FakeProcessReactor()
    options = parse(
        "--port",
        "tcp:9305:interface=0.0.0.0",
        "--state-dir",
        str(tmp_path / "st"),
        "--oauth-issuer",
        "http://127.0.0.1:8555",
        "--resource-uri",
        "http://127.0.0.1:9305",
        "--oauth-jwks-uri",
        "http://127.0.0.1:8555/jwks.json",
    )
    top = tap.makeService(options, reactor)
    assert isinstance(top, MultiService)
    assert "KeySetService" in [type(service).__name__ for service in top]
    assert reactor.tcpClients == [] and reactor.getDelayedCalls() == []
    top.startService()
    try:
        assert [(host, port) for host, port, *_ in reactor.tcpClients] == [("127.0.0.1", 8555)]
        [(_, site, _, _)] = reactor.tcpServers
        gate = getattr(site, "resource").team.gate  # noqa: B009
        assert (gate.resource, gate.issuer) == ("http://127.0.0.1:9305", "http://127.0.0.1:8555")
        line = getattr(site, "resource").team.authLine()  # noqa: B009
        assert (line["mode"], line["issuer"], line["jwks"]["keys"]) == (
            "oauth",
            "http://127.0.0.1:8555",
            0,
        )
    finally:
        top.stopService()


# -- a cluster replica (docs/guide/cluster.md) -------------------------------------

CLUSTER_ENVS = (
    "MCPGATEWAY_CLUSTER_KEY_FILE",
    "MCPGATEWAY_REPLICA_ID",
    "MCPGATEWAY_CLUSTER_ADVERTISE",
)


@pytest.fixture
def noClusterEnv(monkeypatch: pytest.MonkeyPatch) -> None:
    """No cluster variable of the machine running the tests leaks in."""
    for name in CLUSTER_ENVS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clusterHome(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, noClusterEnv: None) -> Path:
    """A temporary HOME (where the workspace key is written), no cluster variable set."""
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def keyFile(path: Path, lines: int = 1, mode: int = 0o600) -> Path:
    from mcpgateway.cluster.keyfile import newClusterKey

    path.write_text("".join(newClusterKey() + "\n" for _ in range(lines)))
    path.chmod(mode)
    return path


def test_cluster_options_default_to_none(noClusterEnv: None) -> None:
    options = parse()
    assert (options["cluster-key-file"], options["replica-id"], options["cluster-advertise"]) == (
        None,
        None,
        None,
    )
    assert options["advertised"] is None


def test_cluster_options_and_their_environment_fallbacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = keyFile(tmp_path / "cluster.key")
    monkeypatch.setenv("MCPGATEWAY_CLUSTER_KEY_FILE", str(key))
    monkeypatch.setenv("MCPGATEWAY_REPLICA_ID", "r2")
    monkeypatch.setenv("MCPGATEWAY_CLUSTER_ADVERTISE", "http://10.0.3.7:9100")
    options = parse()
    assert options["cluster-key-file"] == str(key)
    assert options["replica-id"] == "r2"
    assert options["advertised"] == ("10.0.3.7", 9100, False)
    options = parse("--replica-id", "r3", "--cluster-advertise", "https://[fd00::7]:9443")
    assert options["replica-id"] == "r3"
    assert options["advertised"] == ("fd00::7", 9443, True)


def test_the_replica_id_defaults_to_the_host_name() -> None:
    assert endpoints.defaultReplicaId("Build_Host.example.COM") == "build-host-example-com"
    assert endpoints.defaultReplicaId("x" * 40) == "x" * 32
    assert endpoints.defaultReplicaId("___") == "replica"
    assert optionsmodule.REPLICA_ID.fullmatch(endpoints.defaultReplicaId())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--replica-id", "r1"], "--replica-id needs --cluster-key-file FILE"),
        (["--cluster-advertise", "http://10.0.0.1:9100"], "--cluster-advertise needs"),
        (["--cluster-key-file", "K", "--replica-id", "R1"], "--replica-id 'R1': use 1 to 32"),
        (["--cluster-key-file", "K", "--replica-id", "a" * 33], "use 1 to 32 of a-z"),
        (
            ["--cluster-key-file", "K", "--cluster-advertise", "http://gw.example:9100"],
            "is not an IP",
        ),
        (["--cluster-key-file", "K", "--cluster-advertise", "http://10.0.0.1"], "give the port"),
        (["--cluster-key-file", "K", "--cluster-advertise", "10.0.0.1:9100"], "http://IP:PORT"),
        (["--cluster-key-file", "K", "--cluster-advertise", "http://10.0.0.1:9100/x"], "no path"),
        (["--cluster-key-file", "K", "--rewrite-config"], "does not adopt"),
    ],
)
def test_cluster_option_combinations_that_cannot_work(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], noClusterEnv: None
) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)
    err = capsys.readouterr().err
    assert message in err and err.startswith("mcpgateway: "), err


def clusterService(
    tmp_path: Path, key: Path, *argv: str, state: str = "st"
) -> tuple[Any, FakeProcessReactor]:
    reactor = FakeProcessReactor()
    options = parse(
        "--state-dir",
        str(tmp_path / state),
        "--cluster-key-file",
        str(key),
        *argv,
    )
    return tap.makeService(options, reactor), reactor


def test_a_cluster_replica_on_a_memory_reactor(tmp_path: Path, clusterHome: Path) -> None:
    from mcpgateway.cluster.keyfile import derive, loadClusterKeys
    from mcpgateway.cluster.routing import ClusterSessions
    from mcpgateway.cluster.sealing import SessionSealer
    from mcpgateway.config.workspaces import WorkspaceKeys
    from mcpgateway.runtime.paths import WORKSPACE_KEY_FILE
    from mcpgateway.web.teamcluster import ClusterServices

    key = keyFile(tmp_path / "cluster.key", lines=2)
    top, reactor = clusterService(
        tmp_path, key, "--port", "tcp:9307:interface=127.0.0.1", "--replica-id", "r1"
    )
    assert "_PeerPool" in [type(service).__name__ for service in top]
    top.startService()
    try:
        [(_, site, _, _)] = reactor.tcpServers
        root: Any = getattr(site, "resource")  # noqa: B009
        cluster = root.team.cluster
        assert isinstance(cluster, ClusterServices) and isinstance(
            cluster.sessions, ClusterSessions
        )
        assert root.team.active
        assert cluster.line(0) == {
            "replica": "r1",
            "advertise": "http://127.0.0.1:9307",
            "visiting": 0,
            "forwarded": 0,
            "failedOver": 0,
            "ownersDown": 0,
        }
        # Session ids are sealed, naming this replica.
        [gatewayService] = [s for s in top if type(s).__name__ == "GatewayService"]
        ids = gatewayService.gateway.sessions._ids
        assert isinstance(ids, SessionSealer)
        # Credential (and workspace, principal) keys come from the cluster key:
        # every replica computes the same; no workspace.key is made.
        keys = loadClusterKeys(key)
        expected = WorkspaceKeys(derive(keys[-1], "workspace-keys")).credential({"T": "v"})
        assert root._keys.credential({"T": "v"}) == expected
        assert not (tmp_path / "st" / WORKSPACE_KEY_FILE).exists()
    finally:
        top.stopService()


def test_two_replicas_with_one_key_file_agree_on_their_keys(
    tmp_path: Path, clusterHome: Path
) -> None:
    key = keyFile(tmp_path / "cluster.key")
    credentials = []
    for index in (1, 2):
        top, reactor = clusterService(
            tmp_path,
            key,
            "--port",
            f"tcp:{9310 + index}:interface=127.0.0.1",
            "--replica-id",
            f"r{index}",
            state=f"st{index}",
        )
        top.startService()
        [(_, site, _, _)] = reactor.tcpServers
        credentials.append(getattr(site, "resource")._keys.credential({"T": "v"}))  # noqa: B009
        top.stopService()
    assert credentials[0] == credentials[1]


def test_the_advertised_port_is_the_listening_one(tmp_path: Path, clusterHome: Path) -> None:
    key = keyFile(tmp_path / "cluster.key")
    top, reactor = clusterService(
        tmp_path,
        key,
        "--port",
        "tcp:9308:interface=0.0.0.0",
        "--auth-tokens",
        str(tokens(tmp_path)),
    )
    top.startService()
    try:
        [(_, site, _, _)] = reactor.tcpServers
        line = getattr(site, "resource").team.cluster.line(0)  # noqa: B009
        assert line["advertise"].endswith(":9308")
        assert line["advertise"] == f"http://{endpoints.hostAddress()}:9308"
    finally:
        top.stopService()


def tokens(tmp_path: Path) -> Path:
    from tests.support.auth.tokens import addToken

    path = tmp_path / "tokens.json"
    if not path.exists():
        addToken(path, "alice")
    return path


@pytest.mark.parametrize(
    "mode, lines, message",
    [
        (0o644, 1, "has mode 0644"),
        (0o600, 0, "no key in it"),
        (0o600, -1, "line 1: not the base64 of 32 bytes"),
        (None, 1, "No such file"),
    ],
)
def test_a_bad_cluster_key_file_refuses_the_start_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mode: int | None,
    lines: int,
    message: str,
    clusterHome: Path,
) -> None:
    key = tmp_path / "cluster.key"
    if mode is not None:
        if lines < 0:
            key.write_text("c2hvcnQ=\n")  # "short"
            key.chmod(mode)
        else:
            keyFile(key, lines, mode)
    with pytest.raises(SystemExit) as exited:
        clusterService(tmp_path, key, "--port", "9309")
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mcpgateway: --cluster-key-file: "), err
    assert message in err, err


def test_a_cluster_without_cryptography_says_which_extra(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clusterHome: Path,
) -> None:
    key = keyFile(tmp_path / "cluster.key")
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(SystemExit):
        clusterService(tmp_path, key, "--port", "9309")
    err = capsys.readouterr().err
    assert err == (
        f"mcpgateway: --cluster-key-file {key}: a cluster needs cryptography:"
        " pip install 'mcpgateway[team]'\n"
    )


def test_a_unix_socket_replica_needs_an_advertised_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clusterHome: Path
) -> None:
    key = keyFile(tmp_path / "cluster.key")
    with pytest.raises(SystemExit):
        clusterService(tmp_path, key, "--port", f"unix:{tmp_path / 'gw.sock'}")
    err = capsys.readouterr().err
    assert "give --cluster-advertise http://IP:PORT" in err and err.count("\n") == 1


def test_a_single_gateway_seals_nothing(tmp_path: Path, clusterHome: Path) -> None:
    reactor = FakeProcessReactor()
    top = tap.makeService(parse("--port", "9312", "--state-dir", str(tmp_path / "st")), reactor)
    assert isinstance(top, MultiService)
    assert "_PeerPool" not in [type(service).__name__ for service in top]
    top.startService()
    try:
        [(_, site, _, _)] = reactor.tcpServers
        root: Any = getattr(site, "resource")  # noqa: B009
        assert root.team.cluster is None and not root.team.active
        [gatewayService] = [s for s in top if type(s).__name__ == "GatewayService"]
        assert gatewayService.gateway.sessions._ids is None
    finally:
        top.stopService()


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=60)
    | st.from_regex(r"https?://[0-9a-f.:\[\]]{0,20}(:[0-9]{0,6})?/?", fullmatch=True)
)
def test_parse_advertise_takes_any_text(text: str) -> None:
    try:
        host, port, tls = endpoints.parseAdvertise(text)
    except usage.UsageError as e:
        assert str(e).startswith("--cluster-advertise ")
        return
    assert 0 < port <= 65535 and isinstance(tls, bool)
    assert host == str(ipaddress.ip_address(host))


@pytest.mark.parametrize("endpoint", ["tcp6:9304:interface=::", "tcp:9304:bogus=1"])
def test_a_malformed_endpoint_string_refuses_the_start_in_one_line(
    endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Twisted's parsers raise TypeError for an unknown or repeated option
    (an IPv6 address with bare colons): one line, not a traceback."""
    monkeypatch.setenv("HOME", str(tmp_path))
    reactor = FakeProcessReactor()
    options = parse("--port", endpoint, "--state-dir", str(tmp_path / "st"))
    with pytest.raises(SystemExit) as exited:
        tap.makeService(options, reactor)
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mcpgateway: --port {endpoint}: not a valid endpoint string"), err
    assert "tcp6:9100:interface=\\:\\:1" in err and len(err.splitlines()) == 1
    assert reactor.tcpServers == []


@pytest.mark.parametrize("spec", ["", ",", " , "])
def test_a_clients_list_naming_no_client_is_none(spec: str) -> None:
    """What state.json records, and what the CLI reads back: C{none}, as
    the gateway's adoption treats it."""
    assert parse("--clients", spec)["clients"] == "none"


def test_a_clients_list_naming_clients_is_kept() -> None:
    assert parse("--clients", "cursor,vscode")["clients"] == "cursor,vscode"


@pytest.mark.parametrize(
    ("argv0", "runner"),
    [
        ("/venv/bin/twist", "twist"),
        ("/venv/lib/python3.11/site-packages/twisted/__main__.py", "twist"),
        ("/venv/bin/twistd", "twistd"),
        ("", "twistd"),
    ],
)
def test_the_pointer_to_the_help_names_the_runner_in_use(
    argv0: str, runner: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", [argv0])
    with pytest.raises(SystemExit):
        parse("--port", "tcp:abc")
    assert (
        capsys.readouterr().err.splitlines()[1] == f"`{runner} mcpgateway --help` lists the options"
    )


def test_a_systemd_port_without_a_passed_socket_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {}}))
    with pytest.raises(SystemExit) as exited:
        tap.makeService(
            parse(
                "--port",
                "systemd:domain=INET:index=0",
                "--config",
                str(config),
                "--state-dir",
                str(tmp_path / "st"),
            ),
            FakeProcessReactor(),
        )
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "systemd passed no such socket" in err and "index out of range" not in err


def test_a_gateway_behind_a_proxy_does_not_take_the_socket_owner_for_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team gateway or a cluster replica is reached through a proxy: the
    process at the connection's other end is the proxy, and its restart must
    not end every session as 'client exited'. A gateway for
    one user's clients keeps looking the owner up."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for env in ("MCPGATEWAY_AUTH_TOKENS", "MCPGATEWAY_OAUTH_ISSUER", "MCPGATEWAY_CLUSTER_KEY_FILE"):
        monkeypatch.delenv(env, raising=False)
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {}}))
    from tests.support.auth.tokens import addToken

    tokens = tmp_path / "tokens.json"
    addToken(tokens, "alice")

    def finder(*extra: str) -> object:
        state = tmp_path / f"st{len(extra)}"
        top = tap.makeService(
            parse("--port", "9301", "--config", str(config), "--state-dir", str(state), *extra),
            FakeProcessReactor(),
        )
        assert isinstance(top, MultiService)
        [gatewayService] = [s for s in top if type(s).__name__ == "GatewayService"]
        return gatewayService.gateway.settings.pidFinder

    assert finder() is not None
    assert finder("--auth-tokens", str(tokens)) is None


def test_the_handlers_help_survives_oo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under -OO (how mcpgateway start runs it) docstrings are not loaded:
    --version and --help still say what they do."""
    monkeypatch.setattr(tap.Options.opt_version, "__doc__", None)
    monkeypatch.setattr(usage.Options.opt_help, "__doc__", None)
    options = tap.Options()
    assert options.docs["version"] == optionsmodule.HANDLER_HELP["version"]
    assert options.docs["help"] == optionsmodule.HANDLER_HELP["help"]
    assert "Display this help and exit." in str(options)


def test_a_poll_spin_on_twisteds_own_reactor_says_it_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for argv, said in ((("--poll-spin", "50"), True), ((), False)):
        options = parse(*argv, "--state-dir", str(tmp_path / "st"))
        with capturedGatewayLogs() as events:
            top = tap.makeService(options, FakeProcessReactor())
        lines = [formatEvent(e) for e in events]
        assert any("--poll-spin does nothing" in line for line in lines) is said, lines
        top.startService()
        top.stopService()


@pytest.mark.parametrize(
    ("mode", "what", "fix"),
    [
        (0o770, "state directory", "chmod 700"),
        (0o702, "state directory", "chmod 700"),
    ],
)
def test_a_state_directory_others_can_write_in_refuses_the_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mode: int,
    what: str,
    fix: str,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    state = tmp_path / "st"
    state.mkdir()
    state.chmod(mode)
    with pytest.raises(SystemExit) as exited:
        tap.makeService(parse("--port", "9303", "--state-dir", str(state)), FakeProcessReactor())
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and what in err and fix in err, err


def test_a_workspace_key_others_may_read_refuses_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mcpgateway.runtime.paths import WORKSPACE_KEY_FILE

    monkeypatch.setenv("HOME", str(tmp_path))
    state = tmp_path / "st"
    state.mkdir(mode=0o700)
    key = state / WORKSPACE_KEY_FILE
    key.write_text("ab" * 32 + "\n")
    key.chmod(0o644)
    with pytest.raises(SystemExit):
        tap.makeService(parse("--port", "9304", "--state-dir", str(state)), FakeProcessReactor())
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"chmod 600 {key}" in err, err
    assert stat.S_IMODE(key.stat().st_mode) == 0o644  # refused, not quietly tightened
