"""A server added while a confined child runs does not cost that child its
memory at the next restart.

Each confined child's sandbox masks the paths the other servers' entries
name, where it would see them. A server added later (here one run from a
Python in a virtual environment under the home, as `claude mcp add`
leaves it) names a path the running child's launcher was never given;
the child cannot see that path all the same (the home is hidden from it),
so a restart keeps it: the same process, with what it counted."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests.integration.gateway import waitFor
from tests.integration.restartkit import (
    COUNTER,
    cli,
    count,
    freePort,
    health,
    hostPidOf,
    openSession,
    restartedFrom,
    running,
    sandboxProbed,
    state,
)
from tests.integration.sandboxkit import bwrapOrSkip

pytestmark = pytest.mark.integration


def test_a_restart_keeps_a_child_started_before_a_server_it_cannot_see_was_added(
    home: Path,
) -> None:
    bwrapOrSkip()
    venv = home / "venvs" / "tool" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(os.path.realpath(sys.executable))
    config = home / "servers.json"
    servers = {"counter": {"command": COUNTER[0], "args": COUNTER[1:]}}
    config.write_text(json.dumps({"mcpServers": servers}))
    port = freePort()
    started = cli(home, "start", "--port", str(port), "--config", str(config))
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        sandboxProbed(home)  # the child is laid out with what it found
        session = openSession(port, "counter")
        first, pid = count(port, "counter", session, 1)
        child = hostPidOf(home, "counter")
        time.sleep(2.5)  # by now the warden holds every child (given at initialize)

        servers["tool"] = {"command": str(venv / "python"), "args": ["-m", "mcpgateway.demo"]}
        config.write_text(json.dumps({"mcpServers": servers}))
        assert waitFor(lambda: "tool" in health(port)["servers"], timeout=20)

        old = state(home)["pid"]
        restartedFrom(home, cli(home, "restart"), old)
        assert count(port, "counter", session, 2) == (first + 1, pid)
        assert hostPidOf(home, "counter") == child and running(child)
        report = health(port)["restart"]
        assert report["kept"] == 1 and report["started"] == 0, report
    finally:
        stopped = cli(home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
