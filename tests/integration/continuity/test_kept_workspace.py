"""A restart keeps a workspace-scoped server's children: each project's
child (one per workspace route, by its child key) goes on in the new
process with what it holds, as a shared child does, and the sessions of
each project keep reaching their own. A crash keeps them too."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.integration.gateway import waitFor
from tests.integration.restartkit import (
    COUNTER,
    cli,
    cliGateway,
    count,
    freePort,
    health,
    openSession,
    restartedFrom,
    running,
    state,
)
from tests.support.integration.scopes import keyOf


def projects(home: Path) -> tuple[Path, Path]:
    """Two projects of Claude Code's config, each with its own C{counter}
    entry (workspace scope: a child per project)."""
    alpha, beta = home / "alpha", home / "beta"
    alpha.mkdir()
    beta.mkdir()
    server = {"command": COUNTER[0], "args": COUNTER[1:], "sandbox": False}
    config = {
        "numStartups": 1,
        "projects": {str(p): {"mcpServers": {"counter": server}} for p in (alpha, beta)},
    }
    path = home / ".claude.json"
    path.write_text(json.dumps(config, indent=2))
    os.chmod(path, 0o600)
    return alpha, beta


def countedInEach(home: Path, port: int) -> dict[str, tuple[str, int, int]]:
    """A session on each project's route, each counting twice: its
    session, its count and its child's pid, by route."""
    alpha, beta = home / "alpha", home / "beta"
    found = {}
    for project in (alpha, beta):
        route = f"counter~{keyOf(home, project)}"
        sid = openSession(port, route)
        count(port, route, sid, 1)
        counted, pid = count(port, route, sid, 2)
        found[route] = (sid, counted, pid)
    pids = {pid for _, _, pid in found.values()}
    assert len(pids) == 2, found  # a child per project
    return found


def goOn(port: int, found: dict[str, tuple[str, int, int]]) -> None:
    """Each project's session counts on where it was, on the same child."""
    for route, (sid, counted, pid) in found.items():
        assert count(port, route, sid, counted + 1) == (counted + 1, pid), route


def test_a_restart_keeps_each_projects_child_with_its_memory(home: Path) -> None:
    projects(home)
    with cliGateway(home) as port:
        found = countedInEach(home, port)
        old = state(home)["pid"]
        restartedFrom(home, cli(home, "restart"), old)

        goOn(port, found)
        kept = health(port)["restart"]
        assert kept["kept"] == 2 and kept["started"] == 0, kept
        assert all(running(pid) for _, _, pid in found.values())
    assert waitFor(lambda: not any(running(pid) for _, _, pid in found.values()), timeout=15)


def test_a_crash_keeps_each_projects_child(home: Path) -> None:
    projects(home)
    port = freePort()
    started = cli(home, "start", "--port", str(port))
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        found = countedInEach(home, port)
        time.sleep(2.5)  # by now the warden holds the children (given at initialize)
        gateway = state(home)["pid"]
        os.kill(gateway, signal.SIGKILL)
        assert waitFor(lambda: not running(gateway), timeout=10)
        started = cli(home, "start", "--port", str(port))
        assert started.returncode == 0, started.stdout + started.stderr
        assert waitFor(lambda: health(port).get("restart", {}).get("kept") == 2, timeout=20)
        goOn(port, found)
    finally:
        stopped = cli(home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
