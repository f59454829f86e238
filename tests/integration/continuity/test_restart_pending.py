"""A restart's hand-over while it is still pending: the old process keeps
its children until its open connections have finished, and one of them
is a request half sent. A second C{mcpgateway restart} meanwhile waits
for the first and keeps the child all the same; C{mcpgateway status}
says the hand-over is pending; C{mcpgateway stop} meanwhile leaves
nothing of the gateway running, and the next C{start} works."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.gateway import gatewayEnv, waitFor
from tests.integration.restartkit import (
    COUNTER,
    cli,
    count,
    freePort,
    openSession,
    running,
    state,
)


def configure(home: Path) -> Path:
    config = home / "servers.json"
    solo = {"command": COUNTER[0], "args": COUNTER[1:], "mode": "stateful", "sandbox": False}
    config.write_text(json.dumps({"mcpServers": {"solo": solo}}))
    return config


@contextmanager
def halfSent(port: int) -> Iterator[socket.socket]:
    """A connection to the gateway serving now, answered once, then
    holding a request whose headers have not ended: that process cannot
    hand its children over before the connection is gone (or its
    --restart-timeout has passed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        yield sock


def started(home: Path) -> tuple[int, str, int]:
    """A gateway on C{home} whose session counts on its own child: the
    port, the session and the child's pid."""
    port = freePort()
    run = cli(home, "start", "--port", str(port), "--config", str(configure(home)))
    assert run.returncode == 0, run.stdout + run.stderr
    sid = openSession(port, "solo")
    counted, pid = count(port, "solo", sid, 1)
    assert counted == 1
    return port, sid, pid


def test_a_second_restart_while_the_first_hands_over_waits_and_keeps_the_child(
    home: Path,
) -> None:
    port, sid, child = started(home)
    try:
        first = state(home)["pid"]
        with halfSent(port):
            restarted = cli(home, "restart")
            assert restarted.returncode == 0, restarted.stdout + restarted.stderr
            second = state(home)["pid"]
            assert state(home)["handingOver"]["from"] == first
            status = cli(home, "status")
            assert f"restart: handing over from pid {first}" in status.stdout, status.stdout
            again = subprocess.Popen(
                [sys.executable, "-m", "mcpgateway.cli", "restart"],
                env=gatewayEnv(home),
                cwd=home,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert waitFor(
                lambda: "restart deferred" in (home / "state" / "gateway.log").read_text(),
                timeout=30,
            )
            assert running(first) and state(home)["pid"] == second
        out, err = again.communicate(timeout=90)  # the half-sent request is gone: it goes on
        assert again.returncode == 0, out + err
        assert f"the previous restart is still handing over (pid {first} -> {second})" in err
        third = state(home)["pid"]
        assert third not in (first, second)
        assert count(port, "solo", sid, 2) == (2, child)  # the same child, what it counted
        assert waitFor(lambda: not running(first) and not running(second), timeout=40)
    finally:
        stopped = cli(home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert waitFor(lambda: not running(child), timeout=15)


def test_a_stop_while_a_restart_hands_over_leaves_nothing_running(home: Path) -> None:
    port, _, child = started(home)
    first = state(home)["pid"]
    try:
        with halfSent(port):
            restarted = cli(home, "restart")
            assert restarted.returncode == 0, restarted.stdout + restarted.stderr
            second = state(home)["pid"]
            stopped = cli(home, "stop")
            assert stopped.returncode == 0, stopped.stdout + stopped.stderr
            assert f"pid {second}, and pid {first}" in stopped.stdout
            assert not running(first) and not running(second)
        assert waitFor(lambda: not running(child), timeout=15)
        status = cli(home, "status")
        assert status.returncode == 1 and "not running" in status.stdout
        again = cli(home, "start", "--port", str(port), "--config", str(home / "servers.json"))
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        cli(home, "stop")
