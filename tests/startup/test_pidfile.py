"""A second C{twistd mcpgateway} over a live pid file stops in the
gateway's words (who runs, its port, what to do), before C{twistd}'s own
check; a pid file of a process that is gone, a zombie or this process is
removed; C{twist}, the C{.tac} and C{--pidfile=} have none to check."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from twisted.application.service import ServiceMaker
from twisted.scripts import twistd

from mcpgateway.startup.pidfile import pidfileRefusal, twistdPidfile

OWN = 4000
RUNNING = 4242


def alive(pid: int) -> bool:
    return pid == RUNNING


def gateway(pid: int) -> bool:
    return True


def stranger(pid: int) -> bool:
    return False


def pidfile(tmp_path: Path, content: str) -> str:
    path = tmp_path / "twistd.pid"
    path.write_text(content)
    return str(path)


def stateDir(tmp_path: Path, **state: Any) -> Path:
    directory = tmp_path / "st"
    directory.mkdir()
    if state:
        (directory / "state.json").write_text(json.dumps(state))
    return directory


def test_a_running_gateway_of_this_state_directory_is_named_with_its_port(
    tmp_path: Path,
) -> None:
    path = pidfile(tmp_path, f"{RUNNING}\n")
    refusal = pidfileRefusal(path, stateDir(tmp_path, pid=RUNNING, port=9177), OWN, alive, stranger)
    assert refusal is not None
    assert refusal.startswith(
        f"a gateway is already running here (pid {RUNNING}, port 9177; its pid file is {path})"
    )
    named = f" --state-dir {tmp_path / 'st'}"
    assert f"`mcpgateway status{named}` shows it" in refusal
    assert f"`mcpgateway stop{named}` stops it" in refusal
    assert "its own --state-dir and --port" in refusal and "--pidfile=other.pid" in refusal
    assert "twistd server" not in refusal
    assert Path(path).exists()  # the running gateway's


def test_the_default_state_directory_is_not_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = stateDir(tmp_path, pid=RUNNING, port=9100)
    monkeypatch.setenv("MCPGATEWAY_HOME", str(directory))
    refusal = pidfileRefusal(pidfile(tmp_path, str(RUNNING)), directory, OWN, alive, stranger)
    assert refusal is not None and "`mcpgateway status` shows it" in refusal


def test_a_gateway_of_another_state_directory_is_named_without_a_port(tmp_path: Path) -> None:
    path = pidfile(tmp_path, str(RUNNING))
    refusal = pidfileRefusal(path, stateDir(tmp_path, pid=17, port=9100), OWN, alive, gateway)
    assert refusal is not None
    assert refusal.startswith(f"a gateway is already running here (pid {RUNNING}; its pid file")
    assert "with its --state-dir, if it has one" in refusal and "port" not in refusal


def test_another_program_holding_the_pid_file_is_not_called_a_gateway(tmp_path: Path) -> None:
    path = pidfile(tmp_path, str(RUNNING))
    refusal = pidfileRefusal(path, stateDir(tmp_path), OWN, alive, stranger)
    assert refusal == (
        f"the pid file {path} belongs to pid {RUNNING}, a running program that is not a"
        " gateway: give this gateway a pid file of its own (twistd --pidfile=mcpgateway.pid"
        " ...) or start it from another directory"
    )


@pytest.mark.parametrize("pid", [5555, OWN], ids=["gone-or-zombie", "this-process"])
def test_a_stale_pid_file_is_removed(tmp_path: Path, pid: int) -> None:
    """Twistd refuses to start over a zombie's pid and over its own (a
    container's PID 1 started again): both are removed, as a gone one."""
    path = pidfile(tmp_path, str(pid))
    assert pidfileRefusal(path, stateDir(tmp_path), OWN, alive, gateway) is None
    assert not Path(path).exists()


def test_no_pid_file_or_no_pid_in_it_is_left_to_twistd(tmp_path: Path) -> None:
    directory = stateDir(tmp_path)
    assert pidfileRefusal(str(tmp_path / "none.pid"), directory, OWN, alive, gateway) is None
    path = pidfile(tmp_path, "not a pid")
    assert pidfileRefusal(path, directory, OWN, alive, gateway) is None
    assert Path(path).read_text() == "not a pid"  # twistd says so in its own words


class _Options(dict[str, Any]):
    parent: Any = None


def test_the_pid_file_is_twistds_only() -> None:
    options = _Options()
    assert twistdPidfile(options) is None  # twist, the .tac, a test
    options.parent = {}
    assert twistdPidfile(options) is None  # a runner without --pidfile
    options.parent = {"pidfile": ""}
    assert twistdPidfile(options) is None  # --pidfile=
    options.parent = {"pidfile": "twistd.pid"}
    assert twistdPidfile(options) == os.path.abspath("twistd.pid")


class _Twistd(twistd.ServerOptions):  # type: ignore[name-defined]
    """twistd's own command line with the gateway's (unchecked by a
    reactor) options as its only plugin."""

    @staticmethod
    def _getPlugins(interface: Any, package: object = None) -> list[Any]:
        return [ServiceMaker("MCP Gateway", "mcpgateway.tap", "", "mcpgateway")]


def test_twistd_over_a_running_gateways_pid_file_stops_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As C{twistd -n mcpgateway} parses it: exit status 1 and one line,
    before twistd's own check would say "Another twistd server is running"."""
    running = os.getppid()  # a live process, named by the state directory
    directory = stateDir(tmp_path, pid=running, port=9188)
    path = tmp_path / "twistd.pid"
    path.write_text(str(running))
    with pytest.raises(SystemExit) as stopped:
        _Twistd().parseOptions(
            ["-n", "--pidfile", str(path), "mcpgateway", "--state-dir", str(directory)]
        )
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"mcpgateway: a gateway is already running here (pid {running}, port 9188;"
    )
    assert err.count("\n") == 1 and path.read_text() == str(running)


def test_twistd_over_a_stale_pid_file_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "twistd.pid"
    path.write_text(str(os.getpid()))  # this process: stale for the process that starts
    options = _Twistd()
    options.parseOptions(
        ["-n", "--pidfile", str(path), "mcpgateway", "--state-dir", str(stateDir(tmp_path))]
    )
    assert options["pidfile"] == str(path) and not path.exists()
