"""The launcher's parts, in this process where they touch nothing for
good: the plan of each mechanism, the limits it would set, its errors.
(The launcher confining real children: tests/integration/test_sandbox*.py.)"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox import landlock, launch, probe
from mcpgateway.sandbox.bwrap import STDOUT_HANDOVER
from mcpgateway.sandbox.launch import PREFIX, decode, limits, main, plan, privateTmp, tasksOf
from tests.sandbox.test_layout import request, tree

COMMAND = ["/usr/bin/node", "server.js"]


def test_without_a_request_and_a_command_it_says_how_it_is_used(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["{}"]) == 2
    assert capsys.readouterr().err.startswith(f"{PREFIX}usage:")


def test_a_request_it_cannot_read_is_one_line_and_status_126(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["not json", "--", "/bin/true"]) == launch.EXIT_CANNOT_CONFINE
    err = capsys.readouterr().err
    assert err.startswith(f"{PREFIX}cannot confine the server:") and err.count("\n") == 1


def test_nothing_to_confine_with_runs_the_command_without_the_users_agents(
    tmp_path: Path,
) -> None:
    environ = {"PATH": "/usr/bin", "SSH_AUTH_SOCK": "/tmp/agent", "DBUS_SESSION_BUS_ADDRESS": "x"}
    executable, argv, env = plan(request(tmp_path, mechanism="none"), COMMAND, environ)
    assert (executable, argv, env) == ("/usr/bin/node", COMMAND, {"PATH": "/usr/bin"})


def test_bubblewrap_runs_the_command_in_its_layout(tmp_path: Path) -> None:
    tree(tmp_path)
    asked = request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap")
    executable, argv, env = plan(asked, COMMAND, {"TMPDIR": "/var/tmp/mine"})
    assert executable == "/usr/bin/bwrap" and argv[0] == "/usr/bin/bwrap"
    assert argv[-7:] == ["--", *STDOUT_HANDOVER, *COMMAND] and env["TMPDIR"] == "/tmp"
    assert argv[argv.index(str(tmp_path / "home")) - 1] == "--tmpfs"  # its own, empty home


def test_bubblewrap_asked_for_but_not_found_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="bwrap was not found"):
        plan(request(tmp_path, mechanism="bwrap", bwrap=None), COMMAND, {})
    with pytest.raises(ValueError, match="unknown mechanism"):
        plan(request(tmp_path, mechanism="jail"), COMMAND, {})


def test_landlock_restricts_this_process_then_runs_the_command_with_a_private_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    restricted: list[tuple[list[tuple[str, bool]], int, str]] = []
    monkeypatch.setattr(
        landlock, "restrict", lambda paths, abi, net: restricted.append((list(paths), abi, net))
    )
    tree(tmp_path)
    executable, argv, env = plan(request(tmp_path, mechanism="landlock", landlock=7), COMMAND, {})
    tmp = str(tmp_path / "home" / ".mcpgateway" / "sandbox" / "srv" / "tmp")
    assert (executable, argv, env["TMPDIR"]) == ("/usr/bin/node", COMMAND, tmp)
    [(paths, abi, network)] = restricted
    assert (abi, network) == (7, "none") and (tmp, True) in paths
    assert not any(p.startswith(str(tmp_path / "home" / ".ssh")) for p, _ in paths)


def test_before_the_probe_answered_the_launcher_tries_bubblewrap_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found: dict[str, Any] = {
        "works": False,
        "path": None,
        "error": "no bwrap",
        "disableUserns": False,
    }
    monkeypatch.setattr(probe, "bwrapWorks", lambda path=None: found)
    monkeypatch.setattr(probe, "landlockAbi", lambda: (0, "no landlock"))
    executable, argv, _ = plan(request(tmp_path, mechanism="auto"), COMMAND, {})
    assert (executable, argv) == ("/usr/bin/node", COMMAND)
    assert capsys.readouterr().err == (
        f"{PREFIX}no confinement works here (no bwrap; no Landlock): running the server"
        " unconfined\n"
    )
    found.update(works=True, path="/usr/bin/bwrap")
    executable, argv, _ = plan(request(tmp_path, mechanism="auto"), COMMAND, {})
    assert executable == "/usr/bin/bwrap"


def test_the_limits_a_child_gets(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    applied: dict[int, tuple[int, int]] = {}
    monkeypatch.setattr(
        resource, "setrlimit", lambda which, value: applied.__setitem__(which, value)
    )
    monkeypatch.setattr(launch, "tasksOf", lambda uid: 40)
    asked = {"profile": {"limits": {"processes": 10, "openFiles": 64}}}
    chosen = limits(asked, euid=1000)
    assert chosen == {
        "RLIMIT_CORE": 0,
        "RLIMIT_NOFILE": 64,
        "RLIMIT_DATA": 8192 * 1024 * 1024,
        "RLIMIT_NPROC": 50,
    }
    assert applied[resource.RLIMIT_CORE] == (0, 0) and applied[resource.RLIMIT_NPROC] == (50, 50)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert applied[resource.RLIMIT_NOFILE] == (min(64, hard),) * 2
    assert "RLIMIT_NPROC" not in limits({}, euid=0)  # root is never limited by the kernel


def test_the_tasks_of_a_user_count_this_process_and_its_threads() -> None:
    assert tasksOf(os.getuid()) >= 1
    assert tasksOf(2**31 - 7) == 0


def test_the_private_tmp_is_the_servers_own_and_private(tmp_path: Path) -> None:
    path = privateTmp({"server": "a/b c", "stateDir": str(tmp_path)})
    assert path == str(tmp_path / "sandbox" / "a_b_c" / "tmp")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700


def test_the_probe_prints_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mcpgateway.sandbox.probe as probing

    monkeypatch.setattr(probing, "probe", lambda path=None: {"mechanism": "none", "path": path})
    assert main(["--probe", "/opt/bwrap"]) == 0
    assert json.loads(capsys.readouterr().out) == {"mechanism": "none", "path": "/opt/bwrap"}


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )
)
def test_the_request_is_read_as_json_reads_it(value: Any) -> None:
    assert decode(json.dumps(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize("text", ["", "{", "{} {}", "nope", "[1,]"])
def test_what_is_not_json_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        decode(text)
