"""A second C{twistd -n mcpgateway} in the directory of a running one: it
stops at once, exit status 1, with one line in the gateway's words (the
running one's pid and port, C{mcpgateway status}, C{mcpgateway stop}, another
pid file or directory), not twistd's "Another twistd server is running"; the
first one serves on, its pid file kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import REPO, RunningGateway, waitFor, writeConfig

pytestmark = pytest.mark.integration


def twistdHere() -> list[str]:
    """C{twistd -n mcpgateway} with twistd's default pid file
    (C{twistd.pid} in the current directory)."""
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n"]


def test_a_second_twistd_in_the_same_directory_is_told_who_runs(start: Any, home: Path) -> None:
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    first: RunningGateway = start(
        "--config", str(config), command=[*twistdHere(), "--logfile=-", "mcpgateway"]
    )
    pidfile = home / "twistd.pid"
    state = home / "state" / "state.json"
    assert waitFor(lambda: state.is_file() and "port" in json.loads(state.read_text()))
    assert pidfile.read_text().strip() == str(first.process.pid)

    second = subprocess.run(
        [*twistdHere(), "mcpgateway", "--config", str(config), "--port", "tcp:0"],
        cwd=home,
        env={
            **os.environ,
            "HOME": str(home),
            "MCPGATEWAY_HOME": str(home / "state"),
            "PYTHONPATH": str(REPO),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1, second
    assert second.stderr == (
        f"mcpgateway: a gateway is already running here (pid {first.process.pid},"
        f" port {first.port}; its pid file is {pidfile}): `mcpgateway status` shows it and"
        " `mcpgateway stop` stops it; to run another one as well, give that one its own"
        " --state-dir and --port, and a pid file of its own (twistd --pidfile=other.pid ...)"
        " or another directory\n"
    )
    assert second.stdout == ""
    assert first.health()["status"] == "ok"
    assert pidfile.read_text().strip() == str(first.process.pid)
