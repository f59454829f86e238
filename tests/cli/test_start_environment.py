"""What a gateway started by C{mcpgateway start} inherits, and how it is
stopped from the foreground: the caller's umask (not twistd's daemon
default 0077), the user's C{PATH} for a start a bridge makes, a SIGINT
sent to C{start --foreground} alone, and the entries of the Claude config
that another gateway adopted."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import launch
from mcpgateway.cli import main
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.elsewhere import adoptedElsewhere
from mcpgateway.cli.userpath import currentUmask, startPath
from mcpgateway.runtime.pathrecord import PATH_FROM_ENV, PATH_RECORD, recordedPath
from tests.support.cli.start import FakeLauncher
from tests.support.cli.started import Start


class RecordingLauncher(FakeLauncher):
    """A L{FakeLauncher} that keeps the C{Popen} arguments it was given."""

    kwargs: dict[str, Any]

    def __call__(self, argv: list[str], **kwargs: Any) -> FakeLauncher:
        self.kwargs = kwargs
        return super().__call__(argv, **kwargs)


@pytest.fixture
def umask() -> Iterator[int]:
    """An unusual umask for the test (the caller's), put back after."""
    previous = os.umask(0o027)
    yield 0o027
    os.umask(previous)


def recordedStart(start: Start, *more: str) -> tuple[RecordingLauncher, str]:
    """A start that succeeds, its launcher keeping what it was given, and its output."""
    started = start(*more, launcher=RecordingLauncher)
    assert started.code == 0
    assert isinstance(started.launcher, RecordingLauncher)
    return started.launcher, started.out


# -- the umask --------------------------------------------------------------------------


def test_a_detached_start_gives_twistd_the_callers_umask(
    umask: int,
    start: Start,
) -> None:
    launcher, _ = recordedStart(start, "--no-rewrite")
    argv = launcher.argv
    assert argv[argv.index("--umask") + 1] == "0027"
    assert argv.index("--umask") < argv.index("mcpgateway")  # twistd's option
    assert currentUmask() == umask  # read, and left as it was


def test_twistd_of_the_gateway_keeps_the_umask_it_was_started_with() -> None:
    """The successor of a restart (started by the gateway with no C{--umask})
    gets its predecessor's umask, not twistd's 0077."""
    argv = ["twistd", "--pidfile=", "mcpgateway", "--port", "1"]
    assert launch.withUmask(argv, 0o022) == ["twistd", "--umask=0022", *argv[1:]]
    given = ["twistd", "--umask", "0077", "mcpgateway"]
    assert launch.withUmask(given, 0o022) == given
    assert launch.withUmask(["twistd", "--umask=0007", "mcpgateway"], 0o022)[1] == "--umask=0007"


def test_launch_reads_the_umask_without_changing_it(umask: int) -> None:
    assert launch.currentUmask() == umask
    assert launch.currentUmask() == umask


# -- the PATH of a start a bridge makes -------------------------------------------------


def test_a_users_start_records_its_path_and_runs_with_it(
    stateDir: Path,
    monkeypatch: pytest.MonkeyPatch,
    start: Start,
) -> None:
    monkeypatch.setenv("PATH", "/home/u/.nvm/bin:/usr/bin:/bin")
    launcher, _ = recordedStart(start, "--no-rewrite")
    # Its own environment, saying where its PATH comes from (for `status`).
    assert launcher.kwargs["env"] == {**os.environ, PATH_FROM_ENV: "start"}
    assert recordedPath(stateDir) == "/home/u/.nvm/bin:/usr/bin:/bin"
    record = json.loads((stateDir / PATH_RECORD).read_text())
    assert record.pop("at") == pytest.approx(time.time(), abs=60)
    assert record == {"PATH": "/home/u/.nvm/bin:/usr/bin:/bin", "by": "start"}
    assert (stateDir / PATH_RECORD).stat().st_mode & 0o777 == 0o600


def test_a_bridges_start_puts_the_recorded_path_first_and_records_nothing(
    stateDir: Path,
    monkeypatch: pytest.MonkeyPatch,
    start: Start,
) -> None:
    (stateDir / PATH_RECORD).write_text('{"PATH": "/opt/homebrew/bin:/usr/bin:/bin"}')
    monkeypatch.setenv("PATH", "/usr/bin:/bin:/usr/sbin")
    launcher, _ = recordedStart(start, "--no-rewrite", "--auto-started")
    env = launcher.kwargs["env"]
    assert env["PATH"] == "/opt/homebrew/bin:/usr/bin:/bin:/usr/sbin"
    assert env[PATH_FROM_ENV] == "bridge"
    assert env["HOME"] == os.environ["HOME"]  # the rest as it was
    assert recordedPath(stateDir) == "/opt/homebrew/bin:/usr/bin:/bin"  # the client's not kept


def test_a_bridges_start_with_nothing_recorded_runs_with_its_own_path(
    stateDir: Path,
    monkeypatch: pytest.MonkeyPatch,
    start: Start,
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    launcher, _ = recordedStart(start, "--no-rewrite", "--auto-started")
    assert launcher.kwargs["env"] == {**os.environ, PATH_FROM_ENV: "bridge"}
    assert not (stateDir / PATH_RECORD).exists()


def test_start_path() -> None:
    recorded = "/opt/homebrew/bin:/usr/bin"
    assert startPath("/usr/bin:/bin", None, autoStarted=True) == "/usr/bin:/bin"
    assert startPath("/usr/bin:/bin", recorded, True) == "/opt/homebrew/bin:/usr/bin:/bin"
    # The user's own start keeps its order, and gets what it lacks after it.
    assert startPath("/usr/bin:/bin", recorded, False) == "/usr/bin:/bin:/opt/homebrew/bin"
    assert startPath("/usr/bin::/opt/homebrew/bin", recorded, False) == (
        "/usr/bin::/opt/homebrew/bin"  # nothing lacking: as it was
    )


# -- SIGINT to start --foreground alone --------------------------------------------------


class Foreground(FakeLauncher):
    """twistd -n: C{wait} runs C{interrupt} once, then returns the exit
    status twistd has once it stopped on SIGINT."""

    def __init__(self, stateDir: Path, interrupt: Any) -> None:
        super().__init__(stateDir, None)
        self.interrupt = interrupt
        self.signals: list[int] = []
        self.kwargs: dict[str, Any] = {}

    def __call__(self, argv: list[str], **kwargs: Any) -> FakeLauncher:
        self.kwargs = kwargs
        return super().__call__(argv, **kwargs)

    def wait(self, timeout: float | None = None) -> int:
        interrupt, self.interrupt = self.interrupt, None
        if interrupt is not None:
            interrupt()
        return -signal.SIGINT

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)


def foreground(stateDir: Path, ctx: CliContext, process: Foreground) -> int:
    ctx.launch = process
    return main(["start", "--foreground", "--no-rewrite", "--state-dir", str(stateDir)], ctx)


def test_a_sigint_to_the_foreground_command_alone_reaches_the_gateway(
    stateDir: Path, ctx: CliContext
) -> None:
    """Not in a terminal's foreground (an IDE, a supervisor, C{kill -INT}):
    twistd runs in a session of its own, and the SIGINT is passed on once."""
    ctx.terminalForeground = lambda: False
    # raise_signal: to this thread, so the handler runs before wait() returns (a signal
    # sent to the process may land on another of its threads and be run later).
    process = Foreground(stateDir, lambda: signal.raise_signal(signal.SIGINT))
    # SIGINT as a shell's foreground command has it: a test run started in the background
    # (or a test before this one) may have it ignored, and an ignored one stays ignored.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert foreground(stateDir, ctx, process) == 0
        assert process.signals == [signal.SIGINT]
        assert process.kwargs.get("start_new_session") is True
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_in_the_terminal_is_not_sent_twice(stateDir: Path, ctx: CliContext) -> None:
    """twistd shares the terminal's foreground group: Ctrl-C reached it too;
    a second SIGINT would cut its graceful stop short."""
    ctx.terminalForeground = lambda: True

    def ctrlC() -> None:
        raise KeyboardInterrupt

    process = Foreground(stateDir, ctrlC)
    assert foreground(stateDir, ctx, process) == 0
    assert process.signals == []
    assert "start_new_session" not in process.kwargs


def test_a_sigint_from_kill_after_the_terminal_let_go_is_passed_on(
    stateDir: Path, ctx: CliContext
) -> None:
    """Started in the terminal's foreground, then put in the background:
    a SIGINT can no longer be the terminal's."""
    foregrounds = iter([True, False])
    ctx.terminalForeground = lambda: next(foregrounds)

    def interrupted() -> None:
        raise KeyboardInterrupt

    process = Foreground(stateDir, interrupted)
    assert foreground(stateDir, ctx, process) == 0
    assert process.signals == [signal.SIGINT]


# -- entries another gateway adopted ----------------------------------------------------


def claudeConfig(home: Path, port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    (home / ".claude.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "memory": {"type": "http", "url": f"{url}/memory/mcp"},
                    "mine": {"type": "http", "url": "http://localhost:3000/mcp"},
                    "stdio": {"command": "npx", "args": ["x"]},
                },
                "projects": {
                    "/p": {"mcpServers": {"local": {"type": "http", "url": f"{url}/local~k1/mcp"}}}
                },
            }
        )
    )


def test_start_says_which_entries_another_gateway_adopted(
    home: Path,
    start: Start,
) -> None:
    claudeConfig(home, 9557)
    _, out = recordedStart(start, "--clients", "none", "--no-rewrite")
    assert (
        "  2 entries of ~/.claude.json point at http://127.0.0.1:9557, another gateway's (of"
        " another state directory): they are served there, not here"
    ) in out.splitlines()


def test_adopted_elsewhere(home: Path, tmp_path: Path) -> None:
    claudeConfig(home, 9557)
    config = home / ".claude.json"
    assert adoptedElsewhere(config, 9558) == {"http://127.0.0.1:9557": 2}
    assert adoptedElsewhere(config, 9557) == {}  # this gateway's own
    assert adoptedElsewhere(tmp_path / "missing.json", 9558) == {}
    (tmp_path / "bad.json").write_text("{")
    assert adoptedElsewhere(tmp_path / "bad.json", 9558) == {}
