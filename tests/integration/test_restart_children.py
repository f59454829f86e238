"""A restart keeps the running children: a shared child and a session's
own child of a server that counts calls in memory go on in the new
process, the same pids with the same counts, and no child is sent an
C{initialize} again. A restart whose new process cannot start leaves
the children to the old one, and they stop with it."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.gateway import REPO, waitFor

COUNTER = [sys.executable, str(REPO / "tests" / "fixtures" / "counter_server.py")]
VERSION = "2025-11-25"


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "MCPGATEWAY_HOME": str(home / "state"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=90,
    )


def post(port: int, server: str, message: dict[str, Any], sid: str = "") -> tuple[Any, str]:
    """One request on a connection of its own (so a restart's old process
    has no idle connection to wait for)."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": VERSION,
    }
    if sid:
        headers["Mcp-Session-Id"] = sid
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", f"/{server}/mcp", json.dumps(message), headers)
        response = conn.getresponse()
        body = response.read().decode()
        assert response.status in (200, 202), (response.status, body[:300])
        session = response.getheader("mcp-session-id") or sid
    finally:
        conn.close()
    if not body.strip():
        return None, session
    if body.lstrip().startswith("{"):
        return json.loads(body), session
    data = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    return data[-1], session


def openSession(port: int, server: str) -> str:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": VERSION,
            "capabilities": {},
            "clientInfo": {"name": "counting", "version": "1"},
        },
    }
    answer, sid = post(port, server, init)
    assert "result" in answer and sid, answer
    post(port, server, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    return sid


def count(port: int, server: str, sid: str, number: int) -> tuple[int, int]:
    """Call C{count}: (the count, the server's pid)."""
    call = {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": "count"}}
    answer, _ = post(port, server, call, sid)
    text = answer["result"]["content"][0]["text"]
    counted, pid = (int(part.split("=")[1]) for part in text.split())
    return counted, pid


def state(home: Path) -> dict[str, Any]:
    return json.loads((home / "state" / "state.json").read_text())  # type: ignore[no-any-return]


def health(port: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/health")
        return json.loads(conn.getresponse().read())  # type: ignore[no-any-return]
    finally:
        conn.close()


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def configure(home: Path) -> Path:
    config = home / "servers.json"
    servers = {
        "shared": {"command": COUNTER[0], "args": COUNTER[1:], "sandbox": False},
        "solo": {"command": COUNTER[0], "args": COUNTER[1:], "mode": "stateful", "sandbox": False},
    }
    config.write_text(json.dumps({"mcpServers": servers}))
    return config


def test_restart_keeps_each_child_with_its_memory(home: Path) -> None:
    config = configure(home)
    port = freePort()
    started = cli(home, "start", "--port", str(port), "--config", str(config))
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        old = state(home)["pid"]
        shared, solo = openSession(port, "shared"), openSession(port, "solo")
        assert count(port, "shared", shared, 1)[0] == 1
        soloCount, soloPid = count(port, "solo", solo, 1)
        sharedCount, sharedPid = count(port, "shared", shared, 2)
        assert (soloCount, sharedCount) == (1, 2)

        restarted = cli(home, "restart")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        new = state(home)["pid"]
        assert new != old
        assert waitFor(lambda: not os.path.exists(f"/proc/{old}"), timeout=40)

        # The same processes, with what they counted: nothing started again.
        assert count(port, "solo", solo, 2) == (2, soloPid)
        assert count(port, "shared", shared, 3) == (3, sharedPid)
        assert running(soloPid) and running(sharedPid)
        kept = health(port)["restart"]
        assert kept["kept"] == 2 and kept["started"] == 0, kept
        status = cli(home, "status")
        assert "restart: kept 2 running children with their memory, 0 started anew" in (
            status.stdout
        ), status.stdout
        log = (home / "state" / "gateway.log").read_text(errors="replace")
        assert f"goes on with child pid {sharedPid}" in log
        assert f"goes on with child pid {soloPid}" in log
    finally:
        stopped = cli(home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    # The new process stops the children it kept, as its own.
    assert waitFor(lambda: not running(soloPid) and not running(sharedPid), timeout=15)


def test_a_restart_that_fails_leaves_the_children_serving_then_stopping(home: Path) -> None:
    config = configure(home)
    port = freePort()
    started = cli(home, "start", "--port", str(port), "--config", str(config))
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        old = state(home)["pid"]
        solo = openSession(port, "solo")
        counted, pid = count(port, "solo", solo, 1)
        moved = home / "moved.json"
        config.rename(moved)  # the new process's --config is gone: it refuses to start
        result = cli(home, "restart")
        assert result.returncode == 1, result.stdout + result.stderr
        assert state(home)["pid"] == old
        assert count(port, "solo", solo, 2) == (counted + 1, pid)
    finally:
        cli(home, "stop")
    assert waitFor(lambda: not os.path.exists(f"/proc/{old}"), timeout=20)
    assert waitFor(lambda: not running(pid), timeout=15)  # nothing left behind
