"""A reload that changes how a server's children are shared keeps your
child: a project's entry of the name of one of your servers comes (your
one shared child becomes your route's child in a pool with a child per
launch) and goes (the other way), and your session counts on, on the same
process, with what it holds, confined by the default sandbox and not.
A crash after such a move keeps the child too. Real gateway, real
children (tests/fixtures/counter_server.py)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, waitFor
from tests.integration.restartkit import (
    COUNTER,
    VERSION,
    cli,
    count,
    freePort,
    health,
    openSession,
    running,
    state,
)
from tests.support import mcpclient

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]


def counted(session: mcpclient.Session, number: int) -> tuple[int, int]:
    """Call C{count}: (the count, the child's pid)."""
    call = {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": "count"}}
    reply = session.post(call)
    [answer] = [m for m in reply.messages if m.get("id") == number]
    text = answer["result"]["content"][0]["text"]
    count, pid = (int(part.split("=")[1]) for part in text.split())
    return count, pid


def write(
    config: Path, project: Path, projectEntry: dict[str, Any] | None, env: dict[str, str]
) -> None:
    servers: dict[str, Any] = {}
    if projectEntry is not None:
        servers = {str(project): {"mcpServers": {"counter": projectEntry}}}
    yours = {"command": COUNTER[0], "args": COUNTER[1:], "env": env}
    config.write_text(json.dumps({"mcpServers": {"counter": yours}, "projects": servers}))


@pytest.mark.parametrize(("sandbox", "secret"), [("auto", False), ("auto", True), ("off", False)])
def test_a_project_entry_of_your_servers_name_coming_and_going_keeps_your_child(
    home: Path, start: Starter, sandbox: str, secret: bool
) -> None:
    # A child given a secret was laid out from its spec with the value in place.
    env: dict[str, str] = {}
    if secret:
        (home / "token").write_text("tok-reload-5e1f\n")
        env = {"API_TOKEN": f"${{file:{home / 'token'}}}"}
    project = home / "repo"
    project.mkdir()
    config = home / ".claude.json"
    write(config, project, None, env)
    gateway = start("--config", str(config), "--sandbox", sandbox)
    if sandbox != "off":  # a child started before the probe answered is laid out otherwise
        probed = "sandbox: confined children run"
        assert waitFor(lambda: probed in gateway.text(), timeout=30), gateway.text()
    session = mcpclient.Session(gateway.url("counter"), VERSION, name="counting")
    session.open()
    counted(session, 1)
    count, pid = counted(session, 2)
    assert count == 2

    # The project defines "counter" too, with its own arguments: a pool with a child per launch.
    theirs = {"command": COUNTER[0], "args": [*COUNTER[1:], "--journal", "j"]}
    write(config, project, theirs, env)
    moved = "config: server counter's child pid"  # the host's pid: a sandbox's differs
    assert waitFor(lambda: "goes on in its new pool" in gateway.text(), timeout=30), gateway.text()
    assert moved in gateway.text()
    # The same process, with what it counted (a new one would start at one).
    assert counted(session, 3) == (3, pid)

    write(config, project, None, env)  # and removes it: one child for all again
    again = lambda: gateway.text().count("goes on in its new pool") == 2  # noqa: E731
    assert waitFor(again, timeout=30), gateway.text()
    assert counted(session, 4) == (4, pid)
    assert "stops with its old pool" not in gateway.text()
    health = gateway.health()["servers"]["counter"]
    assert health["state"] == "running", health


def test_a_crash_after_the_move_keeps_your_child(home: Path) -> None:
    """The warden was given your child as the shared child of its first
    pool; a project's entry of its name then made the pool anew, and the
    child moved to your route there. After a crash the next gateway finds
    it as your route's child: your session counts on, on that process."""
    config = home / ".claude.json"
    yours = {"command": COUNTER[0], "args": COUNTER[1:], "sandbox": False}
    config.write_text(json.dumps({"numStartups": 1, "mcpServers": {"counter": yours}}))
    os.chmod(config, 0o600)
    port = freePort()
    started = cli(home, "start", "--port", str(port))
    assert started.returncode == 0, started.stdout + started.stderr
    log = home / "state" / "gateway.log"
    try:
        sid = openSession(port, "counter")
        count(port, "counter", sid, 1)
        _, pid = count(port, "counter", sid, 2)
        project = home / "repo"
        project.mkdir()
        adopted = json.loads(config.read_text())  # your entry points at the gateway now
        theirs = {**yours, "args": [*COUNTER[1:], "--journal", "j"]}
        adopted["projects"] = {str(project): {"mcpServers": {"counter": theirs}}}
        config.write_text(json.dumps(adopted))
        assert waitFor(lambda: "goes on in its new pool" in log.read_text(), timeout=30)
        assert count(port, "counter", sid, 3) == (3, pid)
        gateway = state(home)["pid"]
        os.kill(gateway, signal.SIGKILL)
        assert waitFor(lambda: not running(gateway), timeout=10)
        started = cli(home, "start", "--port", str(port))
        assert started.returncode == 0, started.stdout + started.stderr
        assert waitFor(lambda: health(port).get("restart", {}).get("kept") == 1, timeout=20), (
            health(port).get("restart")
        )
        assert count(port, "counter", sid, 4) == (4, pid)
    finally:
        stopped = cli(home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
