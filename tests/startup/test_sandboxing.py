"""The gateway's C{--sandbox} and its wiring: the option, the spawner's
confiner, the probe started by the service tree, and the paths of every
server a child must not see."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.python.usage import UsageError

from mcpgateway import tap
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.sandbox.confine import Sandbox
from mcpgateway.startup.sandboxing import (
    AUDIT_FILES_KEPT,
    DEFAULT,
    LOG_FILES_KEPT,
    MODES,
    SANDBOX_ENV,
    gatewayFiles,
    sandboxSetting,
    serverPaths,
)
from tests.fakes import FakeProcessReactor


def parse(*argv: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(argv))
    return options


@pytest.fixture(autouse=True)
def noSandboxEnvironment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' own C{$MCPGATEWAY_SANDBOX} does not decide for them."""
    monkeypatch.delenv(SANDBOX_ENV, raising=False)


def test_the_option_is_auto_by_default_and_takes_off() -> None:
    assert parse()["sandbox"] == "auto"
    assert parse("--sandbox", "off")["sandbox"] == "off"
    assert parse("--sandbox", "auto")["sandbox"] == "auto"


@pytest.mark.parametrize("mode", ["bubblewrap", "landlock"])
def test_the_option_and_its_variable_take_a_mechanism(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert parse("--sandbox", mode)["sandbox"] == mode
    monkeypatch.setenv(SANDBOX_ENV, mode)
    assert parse()["sandbox"] == mode


def test_the_environment_decides_when_the_option_is_not_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SANDBOX_ENV, "off")
    assert parse()["sandbox"] == "off"
    assert parse("--sandbox", "auto")["sandbox"] == "auto"  # the command line wins
    monkeypatch.setenv(SANDBOX_ENV, "")
    assert parse()["sandbox"] == "auto"


def test_a_bad_environment_value_is_a_usage_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SANDBOX_ENV, "on")
    with pytest.raises(SystemExit):
        parse()
    assert (
        "$MCPGATEWAY_SANDBOX 'on': use auto, off, bubblewrap or landlock" in capsys.readouterr().err
    )


@given(st.text(max_size=12))
def test_the_setting_is_a_mode_or_a_usage_error(value: str) -> None:
    try:
        setting = sandboxSetting(None, {SANDBOX_ENV: value})
    except UsageError as e:
        assert SANDBOX_ENV in str(e)
    else:
        assert setting in MODES
        assert setting == (value.strip() or DEFAULT)


def test_another_word_is_a_usage_error_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse("--sandbox", "on")
    assert "--sandbox 'on': use auto, off, bubblewrap or landlock" in capsys.readouterr().err


def service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *argv: str
) -> tuple[object, FakeProcessReactor]:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "servers.json"
    demo = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"], "cwd": str(tmp_path)}
    config.write_text(json.dumps({"mcpServers": {"demo": demo}}))
    reactor = FakeProcessReactor()
    options = parse(
        "--port", "9301", "--config", str(config), "--state-dir", str(tmp_path / "st"), *argv
    )
    return tap.makeService(options, reactor), reactor


def test_auto_confines_the_children_and_probes_once_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top, reactor = service(tmp_path, monkeypatch, "--sandbox", "auto")
    assert reactor.spawned == []  # nothing before twistd daemonized
    top.startService()  # type: ignore[attr-defined]
    try:
        [(_, argv, _, _), _] = reactor.spawned  # the probe, then its warden
        assert argv[-2:] == [argv[-2], "--probe"] and argv[-2].endswith("sandbox/launch.py")
        reactor.run()  # state.json is written once the reactor runs
        state = json.loads((tmp_path / "st" / "state.json").read_text())
        assert state["sandbox"] == "auto"
        gateway = next(s for s in top if type(s).__name__ == "GatewayService").gateway  # type: ignore[attr-defined]
        sandbox = gateway.spawner.confiner
        assert isinstance(sandbox, Sandbox) and sandbox.default == "auto"
        assert list(sandbox.others()) == [("demo", (str(tmp_path), sys.executable))]
    finally:
        top.stopService()  # type: ignore[attr-defined]


def test_the_default_confines_the_children(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top, reactor = service(tmp_path, monkeypatch)
    top.startService()  # type: ignore[attr-defined]
    try:
        [(_, argv, _, _), _] = reactor.spawned  # the probe, then its warden
        assert argv[-1] == "--probe"
        reactor.run()  # state.json is written once the reactor runs
        assert json.loads((tmp_path / "st" / "state.json").read_text())["sandbox"] == "auto"
    finally:
        top.stopService()  # type: ignore[attr-defined]


def test_the_probe_is_the_wardens_as_a_child_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top, reactor = service(tmp_path, monkeypatch, "--sandbox", "auto")
    top.startService()  # type: ignore[attr-defined]
    try:
        [(_, _, env, _), (_, wardenArgv, _, _)] = reactor.spawned
        gateway = next(s for s in top if type(s).__name__ == "GatewayService").gateway  # type: ignore[attr-defined]
        warden = gateway.spawner.watcher
        name, value = warden.marker
        # A gateway killed now leaves no probe: its warden stops what holds its marker.
        assert env is not None and env[name] == value
        assert any(arg.endswith("ops/wardenrun.py") for arg in wardenArgv)
        probe = reactor.processes[0]
        written = b"".join(reactor.processes[1].written)
        assert f"={name}={value}\n".encode() in written
        assert f"+{probe.pid}\n".encode() in written
    finally:
        top.stopService()  # type: ignore[attr-defined]


def test_off_starts_no_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top, reactor = service(tmp_path, monkeypatch, "--sandbox", "off")
    top.startService()  # type: ignore[attr-defined]
    try:
        assert reactor.spawned == []
    finally:
        top.stopService()  # type: ignore[attr-defined]


class Pool:
    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec


def test_the_paths_of_every_server_and_of_each_of_its_routes() -> None:
    launch = ServerSpec(name="a", command="node", cwd="/ws/one", args=("/ws/one/x.js", "-v"))
    spec = ServerSpec(
        name="a",
        command="node",
        executable="/usr/bin/node",
        args=("/srv/a/index.js", "stdio"),
        variants=(Variant("k", launch),),
    )
    assert list(serverPaths({"a": Pool(spec)})) == [
        ("a", ("/usr/bin/node", "/srv/a/index.js")),
        ("a", ("/ws/one", "/ws/one/x.js")),
    ]


def test_the_start_timeout_is_a_minute_unless_given() -> None:
    """A child's handshake has C{--start-timeout} (the spawner's
    L{mcpgateway.core.spawn.Spawner.startTimeout}), apart from the calls'
    C{--request-timeout}."""
    assert parse()["start-timeout"] == 60.0
    assert parse("--start-timeout", "90", "--request-timeout", "2")["start-timeout"] == 90.0
    for bad in ("0", "-1", "inf", "soon"):
        with pytest.raises(SystemExit):  # the gateway's options say why and exit
            parse("--start-timeout", bad)


@pytest.mark.parametrize("mode", ["bubblewrap", "landlock"])
def test_a_named_mechanism_confines_the_children_and_probes_once_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    top, reactor = service(tmp_path, monkeypatch, "--sandbox", mode)
    assert reactor.spawned == []
    top.startService()  # type: ignore[attr-defined]
    try:
        [(_, argv, _, _), _] = reactor.spawned  # the probe (does it work?), its warden
        assert argv[-1] == "--probe"
        reactor.run()  # state.json is written once the reactor runs
        assert json.loads((tmp_path / "st" / "state.json").read_text())["sandbox"] == mode
        gateway = next(s for s in top if type(s).__name__ == "GatewayService").gateway  # type: ignore[attr-defined]
        assert gateway.spawner.confiner.mechanism == {"bubblewrap": "bwrap"}.get(mode, mode)
    finally:
        top.stopService()  # type: ignore[attr-defined]


def test_the_gateways_own_files_named_by_its_options() -> None:
    endpoint = r"ssl:9443:privateKey=tls/key.pem:certKey=/etc/gw/cert.pem:extraCertChain=chain.pem"
    options = {
        "config": "/etc/gw/servers.json",
        "auth-tokens": "/etc/gw/tokens.json",
        "cluster-key-file": "/etc/gw/cluster.key",
        "audit-key-file": "/etc/gw/audit.key",
        "endpoint": endpoint,
        "audit-log": "/var/gw/audit.log",
        "log-file": "gw.log",
        "policy": "~/policy.cedar",
        "task-dir": "tasks",
        "api-token": "s3cret-token",
        "oauth-ca-file": "/etc/ssl/certs/ca-certificates.crt",
        "manhole": "manhole.sock",
    }
    files = gatewayFiles(options, "/run/gw", "/etc/gw/servers.json")
    home = str(Path("~").expanduser())
    assert files == [
        "/etc/gw/servers.json",
        "/etc/gw/tokens.json",
        "/etc/gw/cluster.key",
        "/etc/gw/audit.key",
        f"{home}/policy.cedar",
        "/run/gw/tasks",
        "/run/gw/tls/key.pem",
        "/etc/gw/cert.pem",
        "/run/gw/chain.pem",
        "/var/gw/audit.log",
        *(f"/var/gw/audit.log.{n}" for n in range(1, AUDIT_FILES_KEPT + 1)),
        "/run/gw/gw.log",
        *(f"/run/gw/gw.log.{n}" for n in range(1, LOG_FILES_KEPT + 1)),
    ]
    assert not any("s3cret" in path for path in files)  # a token is never a path
    assert gatewayFiles({"endpoint": "ssl:9443", "manhole": "/run/m.sock"}, "/w") == [
        "/w/server.pem",  # Twisted's default key, and the certificate with it
        "/run/m.sock",
    ]
    assert gatewayFiles({"endpoint": "tcp:9100:interface=127.0.0.1"}, "/w") == []


def test_the_rotated_files_counted_are_the_writers_own() -> None:
    import inspect

    from mcpgateway.ops.audit import AuditLog
    from mcpgateway.runtime.logs import LogFileService

    kept = inspect.signature(LogFileService).parameters["maxRotatedFiles"].default
    assert kept == LOG_FILES_KEPT
    assert inspect.signature(AuditLog).parameters["maxFiles"].default == AUDIT_FILES_KEPT


def test_the_wired_sandbox_masks_the_files_the_gateway_was_started_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    top, _ = service(
        tmp_path, monkeypatch, "--log-file", "logs/gw.log", "--audit-log", "logs/audit.log"
    )
    gateway = next(s for s in top if type(s).__name__ == "GatewayService").gateway  # type: ignore[attr-defined]
    files = gateway.spawner.confiner.gatewayFiles
    assert str(tmp_path / "servers.json") in files  # its --config
    assert (
        str(tmp_path / "logs" / "gw.log") in files and str(tmp_path / "logs" / "audit.log") in files
    )
    spec = gateway.pools["demo"].spec
    command = gateway.spawner.confiner.command(spec, [sys.executable], {"HOME": str(tmp_path)})
    request = json.loads(command[command.index("--") - 1])
    assert request["gatewayFiles"] == list(files)
