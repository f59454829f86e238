"""The launcher's parts, in this process where they touch nothing for
good: the plan of each mechanism, the limits it would set, its errors.
(The launcher confining real children: tests/integration/sandbox/test_sandbox*.py.)"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox import landlock, launch, privileges, probe
from mcpgateway.sandbox.bwrap import STDOUT_HANDOVER
from mcpgateway.sandbox.childtmp import childTmp
from mcpgateway.sandbox.datafiles import ALONE
from mcpgateway.sandbox.launch import (
    PREFIX,
    decode,
    lowerResources,
    main,
    plan,
    privateTmp,
    tasksOf,
)
from tests.support.sandbox.layout import request, tree

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


def test_a_variable_a_shell_would_drop_reaches_the_command_without_the_handover(
    tmp_path: Path,
) -> None:
    """npm's own names (a scope's registry, a registry's token) are no shell
    names: the handover's C{/bin/sh} would drop them, so the command runs
    without it, and they reach it in its environment (never its argv)."""
    tree(tmp_path)
    asked = request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap")
    environ = {
        "npm_config_@acme:registry": "http://npm.acme.internal/",
        "npm_config_//npm.acme.internal/:_authToken": "tok-5",
    }
    _, argv, env = plan(asked, COMMAND, environ)
    assert argv[-3:] == ["--", *COMMAND] and not set(STDOUT_HANDOVER) & set(argv)
    assert env["npm_config_//npm.acme.internal/:_authToken"] == "tok-5"
    assert "tok-5" not in " ".join(argv)


def test_a_data_file_bound_alone_in_the_home_is_said_as_the_child_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The gateway logs it as a warning (L{mcpgateway.sandbox.failures}):
    the child runs, but renaming onto that file will fail."""
    home = tree(tmp_path)
    entry = {"MEMORY_FILE_PATH": str(home / "mem2.jsonl")}
    asked = request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap", entryEnv=list(entry))
    plan(asked, COMMAND, {"PATH": "/usr/bin", **entry})
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.startswith(PREFIX + ALONE)]
    assert "~/mem2.jsonl (MEMORY_FILE_PATH) on its own, writable" in line
    assert line.endswith(f"MEMORY_FILE_PATH={home}/.local/share/srv/mem2.jsonl")
    moved = {"MEMORY_FILE_PATH": str(home / ".local" / "share" / "srv" / "mem2.jsonl")}
    plan(asked, COMMAND, {"PATH": "/usr/bin", **moved})
    assert ALONE not in capsys.readouterr().err


def test_a_launchers_child_gets_its_own_caches_whatever_its_env_says(tmp_path: Path) -> None:
    """The entry's C{NPM_CONFIG_CACHE} (npm reads every spelling) names
    the user's C{~/.npm}: the child's environment names its own cache
    alone, which is bound writable; the user's is not bound at all."""
    home = tree(tmp_path)
    entry = {"NPM_CONFIG_CACHE": str(home / ".npm"), "npm_config_cache": "/etc"}
    asked = request(tmp_path, command="npx", mechanism="bwrap", bwrap="/usr/bin/bwrap")
    asked["entryEnv"] = sorted(entry)
    _, argv, env = plan(asked, ["/usr/bin/npx", "-y", "pkg"], {"PATH": "/usr/bin", **entry})
    mine = str(home / ".mcpgateway/caches/srv/npm")
    assert env["npm_config_cache"] == mine + "/cache" and "NPM_CONFIG_CACHE" not in env
    at = argv.index(mine)
    assert argv[at - 1 : at + 2] == ["--bind", mine, mine]
    assert str(home / ".npm") not in argv


def test_bubblewrap_dies_with_the_gateway_process_unless_a_warden_guards_it(
    tmp_path: Path,
) -> None:
    tree(tmp_path)
    asked = request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap")
    assert "--die-with-parent" in plan(asked, COMMAND, {})[1]
    guarded = {**asked, "dieWithParent": False}
    assert "--die-with-parent" not in plan(guarded, COMMAND, {})[1]


def test_the_parent_death_signal_is_set_only_when_the_request_asks_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ctypes

    calls: list[tuple[int, ...]] = []

    class Libc:
        def prctl(self, *args: int) -> int:
            calls.append(args)
            return 0

    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: Libc())
    monkeypatch.setattr(os, "setsid", lambda: None)
    monkeypatch.setattr(launch, "guarded", 0)  # put back after the test
    launch.processGuards(None, dieWithParent=False)
    assert [c[0] for c in calls] == [launch.PR_SET_NO_NEW_PRIVS]
    launch.processGuards(None)
    assert (launch.PR_SET_PDEATHSIG, launch.SIGKILL) in [c[:2] for c in calls]


def test_bubblewrap_asked_for_but_not_working_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found: dict[str, Any] = {"works": False, "path": None, "error": "bwrap is not installed"}
    monkeypatch.setattr(probe, "bwrapWorks", lambda path=None, searchPath=None: found)
    with pytest.raises(OSError, match="bubblewrap was asked for and cannot confine here: bwrap is"):
        plan(request(tmp_path, mechanism="bwrap", bwrap=None), COMMAND, {})
    with pytest.raises(ValueError, match="unknown mechanism"):
        plan(request(tmp_path, mechanism="jail"), COMMAND, {})


def test_bubblewrap_named_before_the_probe_answered_is_found_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str | None] = []

    def bwrapWorks(path: str | None = None, searchPath: str | None = None) -> dict[str, Any]:
        asked.append(path)
        return {"works": True, "path": "/opt/bin/bwrap", "error": None, "disableUserns": True}

    monkeypatch.setattr(probe, "bwrapWorks", bwrapWorks)
    tree(tmp_path)
    executable, argv, _ = plan(request(tmp_path, mechanism="bwrap", bwrap=None), COMMAND, {})
    assert executable == "/opt/bin/bwrap" and asked == [None]
    assert "--disable-userns" in argv or os.geteuid() == 0
    plan(request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap"), COMMAND, {})
    assert asked == [None]  # the probe's answer is not asked again


def test_landlock_named_before_the_probe_answered_asks_the_kernel_for_its_abi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    restricted: list[int] = []
    monkeypatch.setattr(landlock, "restrict", lambda paths, abi, net: restricted.append(abi))
    monkeypatch.setattr(probe, "landlockAbi", lambda: (5, None))
    tree(tmp_path)
    executable, _, _ = plan(request(tmp_path, mechanism="landlock", landlock=0), COMMAND, {})
    assert executable == "/usr/bin/node" and restricted == [5]
    monkeypatch.setattr(probe, "landlockAbi", lambda: (0, "Landlock needs Linux 5.13"))
    with pytest.raises(OSError, match="Landlock was asked for and cannot confine here: Landlock"):
        plan(request(tmp_path, mechanism="landlock", landlock=0), COMMAND, {})
    assert restricted == [5]  # never run unconfined


def test_a_named_mechanism_that_does_not_work_is_status_126_and_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def execve(*args: Any) -> None:
        raise OSError(0, "not in the test's own process")

    monkeypatch.setattr(launch, "processGuards", lambda parent, dies=True: None)
    monkeypatch.setattr(launch, "lowerResources", lambda asked, euid: {})
    monkeypatch.setattr(landlock, "restrict", lambda *a, **k: None)  # were it reached
    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.setattr(probe, "landlockAbi", lambda: (0, "disabled at boot"))
    asked = json.dumps(request(tmp_path, mechanism="landlock", landlock=0))
    assert main([asked, "--", "/bin/true"]) == launch.EXIT_CANNOT_CONFINE
    assert capsys.readouterr().err == (
        f"{PREFIX}cannot confine the server: Landlock was asked for and cannot confine here:"
        " disabled at boot\n"
    )


def test_only_the_launchers_own_process_drops_its_capabilities(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    order: list[str] = []
    monkeypatch.setattr(landlock, "restrict", lambda *a, **k: order.append("landlock"))
    monkeypatch.setattr(privileges, "dropAll", lambda: order.append("capabilities"))
    tree(tmp_path)
    asked = request(tmp_path, mechanism="landlock", landlock=7)
    plan(asked, COMMAND, {})
    assert order == ["landlock"]  # this process never took the launcher's guards
    monkeypatch.setattr(launch, "guarded", os.getpid())  # as processGuards marks it
    plan(asked, COMMAND, {})
    assert order == ["landlock", "capabilities", "landlock"]
    order.clear()
    monkeypatch.setattr(launch, "guarded", os.getpid() + 1)  # a parent's mark: not this one
    plan(asked, COMMAND, {})
    assert order == ["landlock"]


def test_landlock_restricts_this_process_then_runs_the_command_with_a_private_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    restricted: list[tuple[list[tuple[str, bool]], int, str]] = []
    monkeypatch.setattr(
        landlock, "restrict", lambda paths, abi, net: restricted.append((list(paths), abi, net))
    )
    tree(tmp_path)
    executable, argv, env = plan(request(tmp_path, mechanism="landlock", landlock=7), COMMAND, {})
    tmp = str(tmp_path / "home" / ".mcpgateway" / "sandbox" / "srv" / "tmp" / str(os.getpid()))
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
    monkeypatch.setattr(probe, "bwrapWorks", lambda path=None, searchPath=None: found)
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
    chosen = lowerResources(asked, euid=1000)
    assert chosen == {
        "RLIMIT_CORE": 0,
        "RLIMIT_NOFILE": 64,
        "RLIMIT_DATA": 8192 * 1024 * 1024,
        "RLIMIT_NPROC": 50,
    }
    assert applied[resource.RLIMIT_CORE] == (0, 0) and applied[resource.RLIMIT_NPROC] == (50, 50)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert applied[resource.RLIMIT_NOFILE] == (min(64, hard),) * 2
    assert "RLIMIT_NPROC" not in lowerResources({}, euid=0)  # root is never limited by the kernel


def test_the_tasks_of_a_user_count_this_process_and_its_threads() -> None:
    assert tasksOf(os.getuid()) >= 1
    assert tasksOf(2**31 - 7) == 0


def test_the_private_tmp_is_the_childs_own_and_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = privateTmp({"server": "a/b c", "stateDir": str(tmp_path)})
    finally:
        os.umask(old)
    assert path == str(tmp_path / "sandbox" / "a_b_c" / "tmp" / str(os.getpid()))
    assert path == childTmp(str(tmp_path), "a/b c", os.getpid())
    for made in (path, *(str(p) for p in Path(path).parents if str(p).startswith(f"{tmp_path}/"))):
        assert stat.S_IMODE(os.stat(made).st_mode) == 0o700, made


def test_what_an_earlier_process_of_the_same_pid_left_is_gone(tmp_path: Path) -> None:
    stale = Path(childTmp(str(tmp_path), "srv", os.getpid()))
    (stale / "theirs").mkdir(parents=True)
    (stale / "theirs" / "secret").write_text("another principal's")
    path = privateTmp({"server": "srv", "stateDir": str(tmp_path)})
    assert os.listdir(path) == [] and stat.S_IMODE(os.stat(path).st_mode) == 0o700
    other = Path(childTmp(str(tmp_path), "srv", 1))
    other.mkdir()
    privateTmp({"server": "srv", "stateDir": str(tmp_path)})
    assert other.is_dir()  # another child's is not this launcher's to touch


def test_each_child_of_a_server_gets_a_directory_of_its_own() -> None:
    assert childTmp("/s", "srv", 10) == "/s/sandbox/srv/tmp/10"
    assert childTmp("/s", "srv", 11) == "/s/sandbox/srv/tmp/11"
    assert childTmp("/s", "", 10) == "/s/sandbox/_/tmp/10"
    assert childTmp("/s", "../x", 10) == "/s/sandbox/.._x/tmp/10"


def test_the_probe_prints_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mcpgateway.sandbox.probe as probing

    monkeypatch.setattr(
        probing, "probe", lambda path=None, searchPath=None: {"mechanism": "none", "path": path}
    )
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


# The proxy under the mechanism the launcher ends up with.

BOTH = {"mode": "allow", "allowedDomains": ["x.org"], "proxy": "/run/gw/n.sock", "proxyPort": 40000}


def landlockedFromAuto(monkeypatch: pytest.MonkeyPatch, abi: int = 7) -> list[tuple[str, Any]]:
    """C{auto} resolving to Landlock: what C{landlock.restrict} is asked."""
    restricted: list[tuple[str, Any]] = []

    def restrict(paths: Any, version: int, network: str, **extra: Any) -> None:
        restricted.append((network, extra.get("proxyPort")))

    monkeypatch.setattr(landlock, "restrict", restrict)
    failing = {"works": False, "path": None, "error": "no userns", "disableUserns": False}
    monkeypatch.setattr(probe, "bwrapWorks", lambda path=None, searchPath=None: failing)
    monkeypatch.setattr(probe, "landlockAbi", lambda: (abi, None))
    return restricted


def test_auto_resolved_to_landlock_uses_the_proxys_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    restricted = landlockedFromAuto(monkeypatch)
    tree(tmp_path)
    _, argv, env = plan(request(tmp_path, mechanism="auto", network=BOTH), COMMAND, {})
    assert argv == COMMAND and restricted == [("allow", 40000)]
    assert env["HTTPS_PROXY"] == "http://127.0.0.1:40000"


def test_auto_resolved_to_bubblewrap_uses_the_proxys_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    works = {"works": True, "path": "/usr/bin/bwrap", "error": None, "disableUserns": False}
    monkeypatch.setattr(probe, "bwrapWorks", lambda path=None, searchPath=None: works)
    monkeypatch.setattr(probe, "landlockAbi", lambda: (7, None))
    tree(tmp_path)
    _, argv, _ = plan(request(tmp_path, mechanism="auto", network=BOTH), COMMAND, {})
    assert "/run/gw/n.sock" in argv and "--unshare-net" in argv
    assert "http://127.0.0.1:40000" not in argv


def test_a_proxy_landlock_cannot_reach_means_no_network_never_the_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    restricted = landlockedFromAuto(monkeypatch)
    tree(tmp_path)
    socketOnly = {k: v for k, v in BOTH.items() if k != "proxyPort"}
    _, _, env = plan(request(tmp_path, mechanism="auto", network=socketOnly), COMMAND, {})
    assert restricted == [("none", None)] and "HTTPS_PROXY" not in env
    err = capsys.readouterr().err
    assert err == f"{PREFIX}{launch.SOCKET_ONLY}\n"
    assert "a socket only a bubblewrap sandbox reaches" in err
    # Before ABI 4, or without a proxy: the host's network, as the gateway warns.
    portOnly = {k: v for k, v in BOTH.items() if k != "proxy"}
    neither = {"mode": "allow", "allowedDomains": ["x.org"]}
    for network in (portOnly, neither):
        plan(request(tmp_path, mechanism="landlock", landlock=3, network=network), COMMAND, {})
        assert restricted[-1] == ("allow", None)
    plan(request(tmp_path, mechanism="landlock", landlock=7, network=neither), COMMAND, {})
    assert restricted[-1] == ("allow", None) and capsys.readouterr().err == ""


@pytest.mark.parametrize("mechanism", ["auto", "bwrap"])
def test_the_launcher_never_runs_a_bwrap_its_childs_path_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mechanism: str
) -> None:
    """Before the gateway's probe answered, the launcher finds bubblewrap
    itself, on the gateway's C{PATH} (the request's), never on its own,
    which is the child's and which a repository's entry may set."""
    planted = tmp_path / "repo"
    planted.mkdir()
    marker = tmp_path / "ran"
    fake = planted / "bwrap"
    fake.write_text(f"#!/bin/sh\necho ran > {marker}\nexit 0\n")
    fake.chmod(0o755)
    empty = tmp_path / "gateway-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", f"{planted}:/usr/bin:/bin")
    asked = {"mechanism": mechanism, "searchPath": str(empty)}
    if mechanism == "auto":
        chosen, path, _, _ = launch.chosenMechanism(asked)
        assert chosen in ("landlock", "none") and path is None
    else:
        with pytest.raises(OSError, match="bubblewrap was asked for"):
            launch.chosenMechanism(asked)
    assert not marker.exists()
