"""Learn mode's launcher side and the gateway's request: the child under
strace with a capped record, its home shown read-only, its network
through the proxy's recording socket; bubblewrap only."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from twisted.logger import LogLevel

from mcpgateway.sandbox import layout, learnrun
from mcpgateway.sandbox.launch import plan
from tests.fakes import capturedGatewayLogs
from tests.support.sandbox.confine import ARGV, ENV, requestOf, sandbox, spec
from tests.support.sandbox.layout import request, tree
from tests.support.sandbox.proxyplan import FakeProxy


def test_strace_follows_every_process_into_the_inherited_descriptor() -> None:
    argv = learnrun.straceCommand("/usr/bin/strace", 5, ["/usr/bin/node", "x.js"])
    assert argv[:5] == ["/usr/bin/strace", "-f", "-qq", "-y", "--seccomp-bpf"]
    assert argv[-5:] == ["-o", "/proc/self/fd/5", "--", "/usr/bin/node", "x.js"]
    assert "?openat" in argv[argv.index("-e") + 1] and "?connect" in argv[argv.index("-e") + 1]


def test_the_record_is_capped_and_the_rest_read_and_dropped() -> None:
    source, sink = os.pipe()
    target, out = os.pipe()
    os.write(sink, b"x" * 5000)
    os.close(sink)
    assert learnrun.capCopy(source, out, cap=1000) == 1000
    os.close(out)
    assert os.read(target, 10000) == b"x" * 1000
    assert os.read(source, 10) == b""  # everything was read


def test_only_the_newest_records_are_kept(tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / f"trace-{i:02d}").write_text("")
    (tmp_path / "hosts").write_text("")
    learnrun.prune(str(tmp_path), keep=8)
    left = sorted(os.listdir(tmp_path))
    assert left == ["hosts", *(f"trace-{i:02d}" for i in range(5, 12))]


def test_without_strace_the_command_is_unchanged_and_that_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(learnrun, "findStrace", lambda: None)
    said = io.StringIO()
    asked = {"server": "a/b", "stateDir": str(tmp_path)}
    assert learnrun.wrap(asked, ["/bin/x"], said) == ["/bin/x"]
    assert "strace is not installed" in said.getvalue()
    assert (tmp_path / "sandbox" / "learn" / "a_b" / learnrun.NO_STRACE).exists()


def test_with_strace_the_command_runs_under_it_into_a_new_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr(learnrun, "findStrace", lambda: "/usr/bin/strace")

    def recorder(path: str) -> int:
        started.append(path)
        return 7

    monkeypatch.setattr(learnrun, "startRecorder", recorder)
    directory = tmp_path / "sandbox" / "learn" / "s"
    directory.mkdir(parents=True)
    (directory / learnrun.NO_STRACE).write_text("")
    argv = learnrun.wrap({"server": "s", "stateDir": str(tmp_path)}, ["/bin/x"])
    assert argv[0] == "/usr/bin/strace" and "/proc/self/fd/7" in argv and argv[-1] == "/bin/x"
    assert os.path.basename(started[0]).startswith("trace-")
    assert not (directory / learnrun.NO_STRACE).exists()


def test_learning_needs_bubblewrap() -> None:
    asked = {"learn": {}, "network": {"mode": "allow", "learn": True, "proxy": "/s"}}
    assert learnrun.learning(asked, "bwrap") == asked
    assert learnrun.learning(asked, "landlock") == {
        "network": {"mode": "none", "allowedDomains": []}
    }


def test_a_learning_childs_home_is_shown_read_only_without_its_secrets(tmp_path: Path) -> None:
    home = tree(tmp_path)
    view = layout.build(request(tmp_path, learn={}), ["/usr/bin/node"], {})
    assert str(home) not in view.private
    assert (str(home), str(home)) in view.readOnly
    masked = [path for path, _ in view.masked]
    assert str(home / ".ssh") in masked and str(home / ".mcpgateway") in masked
    default = layout.build(request(tmp_path), ["/usr/bin/node"], {})
    assert str(home) in default.private and str(home / ".ssh") not in dict(default.masked)


def test_the_launcher_runs_a_learning_child_under_strace_in_bubblewrap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree(tmp_path)
    wrapped: list[list[str]] = []

    def wrap(asked: Any, command: list[str], stderr: Any = None) -> list[str]:
        wrapped.append(command)
        return ["/usr/bin/strace", "--", *command]

    monkeypatch.setattr(learnrun, "wrap", wrap)
    asked = request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap", learn={})
    _, argv, _ = plan(asked, ["/usr/bin/node", "x.js"], {})
    assert wrapped == [["/usr/bin/node", "x.js"]]
    assert argv[-4:] == ["/usr/bin/strace", "--", "/usr/bin/node", "x.js"]
    asked = request(tmp_path, mechanism="landlock", landlock=0, learn={})
    monkeypatch.setattr("mcpgateway.sandbox.landlock.restrict", lambda *a, **k: None)
    plan(asked, ["/usr/bin/node"], {})
    assert len(wrapped) == 1


def test_the_gateway_asks_for_learning_and_the_recording_socket() -> None:
    proxy = FakeProxy()
    box = sandbox(proxy=proxy)
    asked = requestOf(box.command(spec("n", sandbox="learn"), ARGV, ENV) or [])
    assert asked["learn"] == {"dir": "/home/u/.mcpgateway/sandbox/learn/n"}
    assert asked["network"] == {
        "mode": "allow",
        "allowedDomains": [],
        "learn": True,
        "proxy": "/run/gw/n.learn.sock",
    }
    assert proxy.recorded == [("n", "/home/u/.mcpgateway/sandbox/learn/n/hosts")]


def test_learning_is_logged_once_and_not_under_landlock() -> None:
    box = sandbox(proxy=FakeProxy())
    with capturedGatewayLogs() as events:
        for _ in range(2):
            box.command(spec("n", sandbox="learn"), ARGV, ENV)
    told = [e for e in events if "is learning" in str(e.get("log_format"))]
    assert len(told) == 1 and told[0]["log_level"] == LogLevel.warn
    box.found = {"mechanism": "landlock", "landlock": {"abi": 6}, "strace": None}
    with capturedGatewayLogs() as events:
        asked = requestOf(box.command(spec("m", sandbox="learn"), ARGV, ENV) or [])
    assert "learn" not in asked and asked["network"]["mode"] == "none"
    formats = " ".join(str(e.get("log_format")) for e in events)
    assert "needs bubblewrap" in formats and "strace is not installed" in formats
