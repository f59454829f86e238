"""C{mcpgateway service install|uninstall}: the user's systemd units and
LaunchAgent, written and removed in a temporary HOME (no systemctl is run)."""

from __future__ import annotations

import configparser
import json
import os
import plistlib
import shlex
import subprocess
from pathlib import Path

import pytest

from mcpgateway import tap
from mcpgateway.cli import service
from mcpgateway.cli.context import CliContext
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.runtime import interpreter
from mcpgateway.runtime.pathrecord import PATH_RECORD
from tests.cli.support import Cli, FakeGateway, run

REPO = Path(__file__).resolve().parents[2]
REAL_CHECK = service.systemdUnreachable
"""The real check (the fixture L{systemdAnswers} stands in for it in C{install})."""
SYSTEMD_PORT = "systemd:domain=INET:index=0"


@pytest.fixture(autouse=True)
def noXdg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)


@pytest.fixture(autouse=True)
def systemdAnswers(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """What C{install} hears when it asks whether the systemd user manager
    can be reached (reachable unless a test says otherwise): never the
    machine's own systemd."""
    answer: list[str | None] = [None]
    monkeypatch.setattr(service, "systemdUnreachable", lambda: answer[0])
    return answer


def units(home: Path) -> Path:
    return home / ".config" / "systemd" / "user"


def parseUnit(path: Path) -> dict[str, dict[str, str]]:
    """A unit file as sections of key=value (a continued line joined)."""
    parser = configparser.ConfigParser(interpolation=None, strict=True, comment_prefixes=("#",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text().replace("\\\n", " "))
    return {name: dict(parser[name]) for name in parser.sections()}


def execStart(unit: dict[str, dict[str, str]]) -> list[str]:
    """C{ExecStart=} as words (systemd's quoting: C{%%} is C{%}, C{$$} is C{$})."""
    words = shlex.split(unit["Service"]["ExecStart"])
    return [w.replace("%%", "%").replace("$$", "$") for w in words]


def test_install_writes_the_socket_and_service_units(
    home: Path, stateDir: Path, cli: Cli, warmed: list[str | None]
) -> None:
    code, out, err = cli("service", "install", "--manager", "systemd")
    assert code == 0, err
    assert warmed == [None]  # the -OO bytecode, before the service manager starts it
    sock = parseUnit(units(home) / "mcpgateway.socket")
    assert sock["Socket"]["ListenStream"] == "127.0.0.1:9100"
    assert sock["Socket"]["Service"] == "mcpgateway.service"
    assert sock["Install"]["WantedBy"] == "sockets.target"
    unit = parseUnit(units(home) / "mcpgateway.service")
    assert set(unit) == {"Unit", "Service", "Install"}
    assert unit["Unit"]["Requires"] == "mcpgateway.socket"
    assert {k: unit["Service"][k] for k in ("Type", "NotifyAccess", "KillMode")} == {
        "Type": "notify",
        "NotifyAccess": "main",
        "KillMode": "mixed",
    }
    assert int(unit["Service"]["TimeoutStopSec"]) >= 30  # drain, stop children, restore configs
    assert unit["Service"]["Environment"].startswith('"PATH=')
    # `status` says a command not found was looked for on the unit's PATH.
    assert unit["Service"]["Environment"].endswith(" MCPGATEWAY_PATH_FROM=service")
    record = json.loads((stateDir / PATH_RECORD).read_text())
    assert record["by"] == "service install" and record["PATH"] == os.environ["PATH"]
    argv = execStart(unit)
    assert Path(argv[0]).is_absolute()
    gateway = argv[argv.index("mcpgateway") + 1 :]
    assert gateway[:2] == ["--port", SYSTEMD_PORT]
    assert gateway[gateway.index("--state-dir") + 1] == str(stateDir)
    assert gateway[gateway.index("--log-file") + 1] == str(stateDir / "gateway.log")
    assert "--rewrite-config" not in gateway  # no ~/.claude.json: the demo, nothing to adopt
    assert "systemctl --user enable --now mcpgateway.socket" in out
    assert (units(home) / "mcpgateway.service").stat().st_mode & 0o777 == 0o644


def test_install_writes_the_services_bytecode_first_in_its_private_folder(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path, ctx: CliContext
) -> None:
    """The unit runs the gateway under -OO: its bytecode is written at install,
    so the service's first start does not compile (and keep the garbage).
    Where the standard library lacks that bytecode, the warm-up and the
    unit both keep it in the state directory's folder."""
    folders: list[str] = []

    def folder(stateDir: str) -> str:
        folders.append(stateDir)
        return f"{stateDir}/bytecode"

    warmed: list[tuple[str | None, bool]] = []
    units_ = units(home) / "mcpgateway.service"
    ctx.bytecodeFolder = folder
    ctx.warm = lambda given: warmed.append((given, units_.exists()))
    state = tmp_path / "st"
    code, _, err = run(capsys, state, "service", "install", "--manager", "systemd", ctx=ctx)
    assert code == 0, err
    assert folders == [str(state)]
    assert warmed == [(f"{state}/bytecode", True)]
    argv = execStart(parseUnit(units_))
    flags = [*interpreter.FLAGS, "-X", f"pycache_prefix={state}/bytecode", "-m", "twisted"]
    assert argv[1 : 1 + len(flags)] == flags


def test_the_units_command_line_is_one_the_gateway_accepts(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    """Quoting survives a state directory with a space, a % and a $ in it."""
    state = tmp_path / "odd 100% $HOME"
    (home / ".claude.json").write_text("{}")
    code, _, err = run(capsys, state, "service", "install", "--manager", "systemd")
    assert code == 0, err
    argv = execStart(parseUnit(units(home) / "mcpgateway.service"))
    twist = [*interpreter.FLAGS, "-m", "twisted", "--reactor=mcpgateway", "--log-format=text"]
    assert argv[1 : 1 + len(twist)] == twist
    options = tap.Options()
    options.parseOptions(argv[argv.index("mcpgateway") + 1 :])
    assert options["endpoint"] == SYSTEMD_PORT
    assert options["state-dir"] == str(state)
    assert options["rewrite-config"]


def test_install_json_and_port(home: Path, cli: Cli) -> None:
    code, out, _ = cli("service", "install", "--manager", "systemd", "--port", "9311", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["ok"] and document["manager"] == "systemd"
    assert document["files"] == [
        str(units(home) / "mcpgateway.socket"),
        str(units(home) / "mcpgateway.service"),
    ]
    assert ["systemctl", "--user", "daemon-reload"] in document["commands"]
    assert parseUnit(units(home) / "mcpgateway.socket")["Socket"]["ListenStream"] == (
        "127.0.0.1:9311"
    )


def test_install_again_rewrites_its_own_files(home: Path, cli: Cli) -> None:
    assert cli("service", "install", "--manager", "systemd")[0] == 0
    code, _, _ = cli("service", "install", "--manager", "systemd", "--port", "9312")
    assert code == 0
    assert "127.0.0.1:9312" in (units(home) / "mcpgateway.socket").read_text()


def test_install_refuses_to_overwrite_a_file_it_did_not_write(home: Path, cli: Cli) -> None:
    units(home).mkdir(parents=True)
    mine = units(home) / "mcpgateway.service"
    mine.write_text("[Service]\nExecStart=/usr/bin/my-own\n")
    code, _, err = cli("service", "install", "--manager", "systemd")
    assert code == 1
    assert "was not written by `mcpgateway service install`" in err
    assert mine.read_text() == "[Service]\nExecStart=/usr/bin/my-own\n"
    assert not (units(home) / "mcpgateway.socket").exists()  # all or nothing


def test_uninstall_removes_the_units_and_their_enable_links(home: Path, cli: Cli) -> None:
    assert cli("service", "install", "--manager", "systemd")[0] == 0
    wants = units(home) / "sockets.target.wants"
    wants.mkdir()
    (wants / "mcpgateway.socket").symlink_to(units(home) / "mcpgateway.socket")
    code, out, _ = cli("service", "uninstall", "--manager", "systemd", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["removed"] == [
        str(wants / "mcpgateway.socket"),
        str(units(home) / "mcpgateway.socket"),
        str(units(home) / "mcpgateway.service"),
    ]
    assert list(units(home).rglob("*mcpgateway*")) == []
    code, out, _ = cli("service", "uninstall", "--manager", "systemd")
    assert code == 0 and "nothing to remove" in out


def test_uninstall_leaves_a_file_it_did_not_write(home: Path, cli: Cli) -> None:
    units(home).mkdir(parents=True)
    (units(home) / "mcpgateway.socket").write_text("[Socket]\nListenStream=1\n")
    code, _, err = cli("service", "uninstall", "--manager", "systemd")
    assert code == 1 and "not written by" in err
    assert (units(home) / "mcpgateway.socket").exists()


def test_xdg_config_home_is_where_systemd_looks(
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert cli("service", "install", "--manager", "systemd")[0] == 0
    assert (tmp_path / "xdg" / "systemd" / "user" / "mcpgateway.service").is_file()


def test_launchd_install_writes_a_foreground_launch_agent(
    home: Path, stateDir: Path, cli: Cli
) -> None:
    code, out, err = cli("service", "install", "--manager", "launchd")
    assert code == 0, err
    path = home / "Library" / "LaunchAgents" / "local.mcpgateway.plist"
    agent = plistlib.loads(path.read_bytes())
    assert agent["Label"] == "local.mcpgateway"
    argv = agent["ProgramArguments"]
    gateway = argv[argv.index("mcpgateway") + 1 :]
    assert gateway[:4] == ["--port", "9100", "--state-dir", str(stateDir)]
    assert "-n" not in argv and "--nodaemon" not in argv  # twist never daemonizes
    assert argv[1 : 3 + len(interpreter.FLAGS)] == [*interpreter.FLAGS, "-m", "twisted"]
    assert not any(a.startswith("--reactor") for a in argv)  # macOS has no epoll
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["ExitTimeOut"] >= 30
    assert agent["EnvironmentVariables"]["PATH"]
    assert agent["EnvironmentVariables"]["MCPGATEWAY_PATH_FROM"] == "service"
    assert "launchctl bootstrap gui/" in out
    code, out, _ = cli("service", "uninstall", "--manager", "launchd")
    assert code == 0 and not path.exists()
    assert "launchctl bootout gui/" in out


def test_the_deploy_files_are_the_templates() -> None:
    for name, template in service.TEMPLATES.items():
        assert (REPO / "deploy" / name).read_text() == template, name


def test_fill_replaces_each_placeholder_once() -> None:
    assert service.fill("a @X@ b @Y@ @Z@ c@", {"@X@": "@Y@", "@Y@": "y"}) == "a @Y@ b y @Z@ c@"


# -- install: what stands in the way of loading the units ----------


def test_install_says_when_the_systemd_user_manager_is_not_reachable(
    home: Path, systemdAnswers: list[str | None], cli: Cli
) -> None:
    systemdAnswers[0] = "there is no /run/systemd/system"
    code, out, err = cli("service", "install", "--manager", "systemd")
    assert code == 0  # written all the same: the user may be preparing them
    assert (units(home) / "mcpgateway.service").is_file()
    assert "systemctl --user daemon-reload" in out
    note = (
        "the systemd user manager is not reachable: there is no /run/systemd/system; the"
        " units are written, but the systemctl commands below fail here"
    )
    assert err == f"mcpgateway: {note}\n"
    code, out, err = cli("service", "install", "--manager", "systemd", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["notes"] == [note]


def test_install_says_when_a_gateway_already_runs_on_the_state_directory(
    home: Path, stateDir: Path, running: FakeGateway, cli: Cli
) -> None:
    code, out, err = cli("service", "install", "--manager", "systemd", "--port", "9351")
    assert code == 0
    assert (units(home) / "mcpgateway.socket").is_file()
    [line] = err.splitlines()
    assert line.startswith(f"mcpgateway: a gateway already runs on {stateDir} (pid ")
    assert line.endswith(
        f"port {running.port}): the service cannot start while it holds that state directory;"
        " stop it first (`mcpgateway stop`)"
    )
    code, out, err = cli("service", "install", "--manager", "launchd", "--json")
    assert (code, err) == (0, "")
    [note] = json.loads(out)["notes"]  # launchd: no systemd to ask
    assert note.startswith("a gateway already runs on")


def test_install_says_nothing_more_when_nothing_stands_in_the_way(home: Path, cli: Cli) -> None:
    code, out, err = cli("service", "install", "--manager", "systemd", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["notes"] == []


def completed(code: int, stderr: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["systemctl"], code, "", stderr)


def test_systemd_unreachable_without_systemd_asks_no_systemctl(tmp_path: Path) -> None:
    def systemctl(argv: list[str]) -> subprocess.CompletedProcess[str]:
        raise AssertionError("ran systemctl")

    assert REAL_CHECK(tmp_path / "nope", systemctl) == (
        f"systemd does not run this system (there is no {tmp_path / 'nope'})"
    )


def test_systemd_unreachable_says_what_systemctl_says(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def answering(result: subprocess.CompletedProcess[str]) -> service.Systemctl:
        def systemctl(argv: list[str]) -> subprocess.CompletedProcess[str]:
            calls.append(argv)
            return result

        return systemctl

    assert REAL_CHECK(tmp_path, answering(completed(0))) is None
    assert calls == [["systemctl", "--user", "show", "--property=Version"]]
    bus = completed(1, "\nFailed to connect to bus: No medium found\n")
    assert REAL_CHECK(tmp_path, answering(bus)) == (
        "`systemctl --user` cannot reach it (Failed to connect to bus: No medium found)"
    )
    assert REAL_CHECK(tmp_path, answering(completed(3))) == (
        "`systemctl --user` cannot reach it (exit status 3)"
    )

    def raising(error: Exception) -> service.Systemctl:
        def systemctl(argv: list[str]) -> subprocess.CompletedProcess[str]:
            raise error

        return systemctl

    missing = raising(FileNotFoundError(2, "No such file or directory"))
    assert REAL_CHECK(tmp_path, missing) == "there is no systemctl on PATH"
    slow = raising(subprocess.TimeoutExpired(["systemctl"], 5))
    assert REAL_CHECK(tmp_path, slow) == ("`systemctl --user` did not answer within 5 s")


def test_install_notes_only_for_a_running_gateway() -> None:
    stopped = GatewayProbe(Path("/state"), {"pid": 1, "port": 9350})
    assert service.installNotes("launchd", stopped, lambda: "unused") == []
