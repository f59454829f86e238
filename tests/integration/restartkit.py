"""What the restart-children integration tests share: the C{mcpgateway}
command line on a temporary home, one MCP request per connection, a
session of the counter fixture and its C{count} and C{proxy} tools (and
whether an answer says the child was started anew), the
gateway's state file and health, and whether a pid still runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.gateway import REPO, gatewayEnv
from tests.integration.gateway import freePort as freePort  # one per worker
from tests.support import mcpclient

COUNTER = [sys.executable, str(REPO / "tests" / "fixtures" / "counter_server.py")]
VERSION = "2025-11-25"


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = gatewayEnv(home)
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
    url = f"http://127.0.0.1:{port}/{server}/mcp"
    reply = mcpclient.Session(url, VERSION, timeout=60, id=sid or None).post(message)
    assert reply.status in (200, 202), (reply.status, reply.text[:300])
    return reply.messages, reply.session or sid


def openSession(port: int, server: str) -> str:
    session = mcpclient.Session(f"http://127.0.0.1:{port}/{server}/mcp", VERSION, name="counting")
    session.open()
    assert session.id is not None
    return session.id


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
    return mcpclient.request(f"http://127.0.0.1:{port}/health", "GET", timeout=10).json()  # type: ignore[no-any-return]


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
