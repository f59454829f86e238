"""What the restart-children integration tests share: the C{mcpgateway}
command line on a temporary home, one MCP request per connection, a
session of the counter fixture and its C{count} and C{proxy} tools (and
whether an answer says the child was started anew), the
gateway's state file and health, and whether a pid still runs."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.gateway import REPO
from tests.integration.gateway import freePort as freePort  # one per worker

COUNTER = [sys.executable, str(REPO / "tests" / "fixtures" / "counter_server.py")]
VERSION = "2025-11-25"


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
    has no idle connection to wait for): its answer."""
    messages, session = postAll(port, server, message, sid)
    return (messages[-1] if messages else None), session


def postAll(
    port: int, server: str, message: dict[str, Any], sid: str = ""
) -> tuple[list[Any], str]:
    """L{post}, with every message of the answer's stream (notifications first)."""
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
        return [], session
    if body.lstrip().startswith("{"):
        return [json.loads(body)], session
    data = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    return data, session


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


def countTold(port: int, server: str, sid: str, number: int) -> tuple[int, list[Any], bool]:
    """Call C{count}: the count, the notifications that came first, and
    whether the result says the child was started anew (C{_meta})."""
    call = {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": "count"}}
    messages, _ = postAll(port, server, call, sid)
    *before, answer = messages
    result = answer["result"]
    counted = int(result["content"][0]["text"].split()[0].split("=")[1])
    told = bool(result.get("_meta", {}).get("mcpgateway/childRestarted"))
    return counted, before, told


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


def ask(port: int, server: str, sid: str, number: int, tool: str) -> str:
    """Call C{tool}: its text."""
    call = {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": tool}}
    answer, _ = post(port, server, call, sid)
    return str(answer["result"]["content"][0]["text"])


def hostPidOf(home: Path, server: str) -> int:
    """The pid (as this process sees it: a confined child's launcher, then
    its sandbox) of C{server}'s running child, from the gateway's ledger."""
    data = json.loads((home / "state" / "children.json").read_text())
    pids = [int(pid) for pid, one in data["children"].items() if one["server"] == server]
    assert len(pids) == 1, data
    return pids[0]
