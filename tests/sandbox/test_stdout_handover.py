"""A confined child's stdout is its own: the launcher hands the pipe to
bubblewrap on fd 9 and keeps C{/dev/null} as bubblewrap's own stdout, and
the command's shell prefix takes it back on fd 1 (so bubblewrap's
processes, which close every fd but 0 to 2, do not keep it open). The
fd moves are recorded here, never made on this process; the real child
closing its stdout: tests/integration/sandbox/test_sandbox_openends.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.sandbox import launch
from mcpgateway.sandbox.bwrap import STDOUT_FD, STDOUT_HANDOVER
from mcpgateway.sandbox.launch import handOverStdout, plan
from tests.support.sandbox.layout import request, tree

COMMAND = ["/usr/bin/node", "server.js"]


class Moves:
    """The launcher's C{os}: its fd calls recorded, not made (fd 9 open
    when C{taken}); the rest is the real module's."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, taken: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.taken = taken
        monkeypatch.setattr(launch, "os", self)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def dup2(self, fd: int, to: int) -> None:
        self.calls.append(("dup2", fd, to))

    def open(self, path: str, flags: int) -> int:
        self.calls.append(("open", path))
        return 42

    def close(self, fd: int) -> None:
        self.calls.append(("close", fd))

    def fstat(self, fd: int) -> Any:
        if fd == STDOUT_FD and self.taken:
            return object()
        raise OSError(9, "Bad file descriptor")

    def execve(self, *argv: Any) -> None:
        raise OSError(2, "No such file or directory")


def test_bubblewraps_command_takes_its_stdout_back_from_fd_9(tmp_path: Path) -> None:
    tree(tmp_path)
    asked = request(tmp_path, mechanism="bwrap", bwrap="/usr/bin/bwrap")
    _, argv, _ = plan(asked, COMMAND, {})
    assert argv[-7:] == ["--", "/bin/sh", "-c", 'exec 1>&9 9>&-; exec "$@"', "sh", *COMMAND]


def test_the_pipe_moves_to_fd_9_and_bubblewrap_keeps_dev_null(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moves = Moves(monkeypatch)
    argv = ["/usr/bin/bwrap", "--unshare-pid", "--", *STDOUT_HANDOVER, *COMMAND]
    assert handOverStdout(argv) == argv
    assert moves.calls == [("dup2", 1, 9), ("open", os.devnull), ("dup2", 42, 1), ("close", 42)]


def test_without_the_handover_nothing_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    moves = Moves(monkeypatch)
    assert handOverStdout(COMMAND) == COMMAND
    assert moves.calls == []


def test_fd_9_taken_already_runs_the_command_without_the_handover(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moves = Moves(monkeypatch, taken=True)
    argv = ["/usr/bin/bwrap", "--", *STDOUT_HANDOVER, *COMMAND]
    assert handOverStdout(argv) == ["/usr/bin/bwrap", "--", *COMMAND]
    assert moves.calls == []


def test_the_shell_prefix_gives_the_command_fd_9_as_its_stdout_and_closes_9(
    tmp_path: Path,
) -> None:
    """The prefix itself, in a shell, without bubblewrap: what the command
    finds on fd 1 is what fd 9 was, and fd 9 is closed."""
    out = tmp_path / "out"
    script = 'echo "to stdout"; [ -e /proc/self/fd/9 ] && echo "9 open" || echo "9 closed"'
    opens9 = ["/bin/sh", "-c", 'exec 9>"$0"; exec "$@"', str(out)]  # fd 9: the file
    done = subprocess.run(
        [*opens9, *STDOUT_HANDOVER, "/bin/sh", "-c", script],
        stdout=subprocess.DEVNULL,
        timeout=30,
    )
    assert done.returncode == 0
    assert out.read_text() == "to stdout\n9 closed\n"


def test_the_launcher_hands_over_after_its_plan(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    handed: list[list[str]] = []
    Moves(monkeypatch)
    monkeypatch.setattr(launch, "processGuards", lambda parent, dies=True: None)
    monkeypatch.setattr(launch, "lowerResources", lambda request, euid: {})
    monkeypatch.setattr(launch, "plan", lambda r, c, e: ("/bin/x", ["/bin/x", *c], {}))

    def handOver(command: list[str]) -> list[str]:
        handed.append(command)
        return command

    monkeypatch.setattr(launch, "handOverStdout", handOver)
    assert launch.main(["{}", "--", "/bin/true"]) == 127
    assert handed == [["/bin/x", "/bin/true"]]
