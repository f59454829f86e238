"""Self-healing end to end: a shared child killed repeatedly comes back; a
broken server opens its circuit, the API says why, reset-circuit retries."""

from __future__ import annotations

import json
import os
import signal
import sys
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import (
    REPO,
    RunningGateway,
    callEcho,
    errorText,
    waitFor,
    writeConfig,
)

pytestmark = pytest.mark.integration
BROKEN = REPO / "tests" / "fixtures" / "broken_server.py"


def api(gateway: RunningGateway, path: str, method: str = "GET") -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{gateway.port}/api/v1{path}", method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_a_shared_child_killed_repeatedly_is_not_noticed(start: Any, home: Path) -> None:
    """A serving child SIGKILLed from outside five times (the OOM killer, a
    user's pkill) is restarted each time, and its circuit stays closed: the
    breaker counts crash loops, not deaths of children that were serving."""
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    gateway: RunningGateway = start("--config", str(config), "--circuit-cool-down", "600")
    seen = set()
    for _ in range(5):
        assert callEcho(gateway.url("demo"), "again") == "again"
        pid = gateway.health()["servers"]["demo"]["pids"][0]
        seen.add(pid)
        os.kill(pid, signal.SIGKILL)
        assert waitFor(lambda pid=pid: pid not in gateway.health()["servers"]["demo"]["pids"])
    assert callEcho(gateway.url("demo"), "again") == "again"
    assert len(seen) == 5
    server = api(gateway, "/servers/demo")
    assert server["failures"] == 5 and server["restarts"] == 5
    assert server["circuit"] == "closed" and server["state"] != "error"


def test_a_broken_server_opens_its_circuit_and_says_why(start: Any, home: Path) -> None:
    config = writeConfig(
        home / "servers.json", {"broken": {"command": sys.executable, "args": [str(BROKEN)]}}
    )
    gateway: RunningGateway = start(
        "--config", str(config), "--restart-backoff", "0.02", "--circuit-cool-down", "600"
    )

    async def attempt() -> str:
        try:
            async with Client(gateway.url("broken"), mode="legacy"):
                return "connected"
        except Exception as e:  # MCPError, grouped by anyio
            return errorText(e)

    messages = []
    for _ in range(6):
        messages.append(anyio.run(attempt))
        anyio.run(anyio.sleep, 0.1)  # past the (tiny) backoff
    assert "MY_API_KEY is not set" in messages[0]
    assert "is failing: 5 failure(s)" in messages[-1]
    server = api(gateway, "/servers/broken")
    assert server["state"] == "error" and server["circuit"] == "open"
    assert "MY_API_KEY is not set" in server["error"]
    assert any("MY_API_KEY" in e["text"] for e in server["lastErrors"])
    spawns = server["failures"]
    reset = api(gateway, "/servers/broken/reset-circuit", method="POST")
    assert reset["circuit"] == "closed"
    assert "MY_API_KEY is not set" in anyio.run(attempt)  # tried again at once
    assert api(gateway, "/servers/broken")["failures"] == spawns + 1
