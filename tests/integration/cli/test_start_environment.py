"""A detached gateway's umask and C{PATH}, for real (D4 and
D9): C{mcpgateway start} gives the gateway the caller's umask (twistd's own
default for a daemon is 0077), and so does its successor after
C{mcpgateway restart}; a start a bridge makes (C{--auto-started}, with a
GUI client's C{PATH}) puts the C{PATH} the user's own start recorded
first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpgateway.ops.statedir import pidAlive
from tests.support.integration.detached import (
    environment,
    freePort,
    gatewayPids,
    runCli,
    startForeground,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh HOME; any gateway left behind by a failed test is killed."""
    yield tmp_path
    for pid in gatewayPids(tmp_path):
        os.kill(pid, 9)


def procField(pid: int, name: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} in /proc/{pid}/status")


def procPath(pid: int) -> str:
    for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        if item.startswith(b"PATH="):
            return item[5:].decode()
    return ""


def test_the_gateway_gets_the_callers_umask_and_the_users_path(home: Path) -> None:
    stateDir = home / "state"
    port = freePort()
    userPath = os.pathsep.join(["/opt/user-tools/bin", os.environ.get("PATH", "")])

    def cli(*args: str, path: str = userPath) -> subprocess.CompletedProcess[str]:
        return runCli(
            home,
            *args,
            stateDir=stateDir,
            env=environment(home, PATH=path),
            timeout=120,
            preexec_fn=lambda: os.umask(0o027),
        )

    def gatewayPid() -> int:
        pid: int = json.loads((stateDir / "state.json").read_text())["pid"]
        return pid

    started = cli("start", "--port", str(port), "--no-rewrite")
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        first = gatewayPid()
        assert procField(first, "Umask") == "0027"
        assert procPath(first) == userPath
        restarted = cli("restart")
        assert restarted.returncode == 0, restarted.stderr + restarted.stdout
        assert gatewayPid() != first
        assert procField(gatewayPid(), "Umask") == "0027"  # the successor's too
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stderr + stopped.stdout

    # A bridge's start, from a client with a desktop session's PATH.
    started = cli(
        "start", "--port", str(port), "--no-rewrite", "--auto-started", path="/usr/bin:/bin"
    )
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        entries = procPath(gatewayPid()).split(os.pathsep)
        assert entries[0] == "/opt/user-tools/bin"
        assert {"/usr/bin", "/bin"} <= set(entries)
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stderr + stopped.stdout


def test_a_sigint_to_start_foreground_alone_stops_the_gateway(home: Path) -> None:
    """C{kill -INT} of the command (an IDE, a supervisor),
    not of its process group: the gateway stops, gracefully, once."""
    stateDir = home / "state"
    port = freePort()
    process = startForeground(port, stateDir, environment(home), home)
    try:
        deadline = time.monotonic() + 30
        while not (stateDir / "state.json").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        pid = json.loads((stateDir / "state.json").read_text())["pid"]
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        assert not pidAlive(pid)
        output = process.stdout.read() if process.stdout else b""
        assert output.count(b"Received SIGINT") == 1, output[-3000:]
        assert b"already stopping" not in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
