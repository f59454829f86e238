"""C{invoke} with C{"async": true} on C{/mcp/search}, end to end: a Python
SDK client (which checks each answer against its tool's outputSchema)
starts the demo server's C{slow} tool as a task, gets the handle at once,
sees the tool's progress as the task's C{statusMessage} while it works, and
reads the result with C{get_result} once it is completed (the call
outlasting the request timeout: a task's time to live bounds it); an
unknown id is an error result.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, writeConfig
from tests.support.integration.restart_handover import cli, freePort

pytestmark = pytest.mark.integration
DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}


def structured(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


def test_a_slow_tool_runs_as_a_task_and_its_result_is_read(start: Any, home: Path) -> None:
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    gateway: RunningGateway = start("--config", str(config), "--request-timeout", "1")
    url = f"http://127.0.0.1:{gateway.port}/mcp/search"

    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Client(url, mode="legacy") as client:
            began = time.monotonic()
            handle = structured(
                await client.call_tool(
                    "invoke",
                    {"name": "demo__slow", "arguments": {"seconds": 3, "steps": 3}, "async": True},
                )
            )
            out["handleAfter"] = time.monotonic() - began
            out["handle"] = handle
            seen: list[dict[str, Any]] = []
            while True:
                read = structured(
                    await client.call_tool("get_result", {"taskId": handle["taskId"]})
                )
                seen.append(read)
                if read["status"] != "working" or time.monotonic() - began > 30:
                    break
                await anyio.sleep(0.3)
            out["seen"] = seen
            unknown = await client.call_tool("get_result", {"taskId": "nope"})
            out["unknown"] = unknown.is_error
        return out

    out = anyio.run(run)
    assert out["handle"]["status"] == "working", out
    assert out["handleAfter"] < 2.5, out
    messages = {read.get("statusMessage") for read in out["seen"][:-1]}
    assert messages & {"step 1 of 3", "step 2 of 3"}, out["seen"]
    last = out["seen"][-1]
    assert last["status"] == "completed", last
    assert last["result"]["content"] == [{"type": "text", "text": "done after 3 steps"}], last
    assert out["unknown"] is True, out


def test_a_task_polled_through_a_restart_is_never_unknown(home: Path) -> None:
    """A model polls C{get_result} every second while C{mcpgateway restart}
    hands the gateway over: every answer is the task's (C{working}, then its
    end), never "unknown task … invoke the tool again", which would make it
    run a tool with effects twice."""
    port = freePort()
    config = writeConfig(home / "servers.json", {"demo": DEMO})
    started = cli(home, "start", "--port", str(port), "--config", str(config), "--no-rewrite")
    assert started.returncode == 0, started.stdout + started.stderr
    url = f"http://127.0.0.1:{port}/mcp/search"

    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {"seen": []}
        async with Client(url, mode="legacy") as client:
            handle = structured(
                await client.call_tool(
                    "invoke",
                    {"name": "demo__slow", "arguments": {"seconds": 8, "steps": 8}, "async": True},
                )
            )
            out["handle"] = handle
            restarting = anyio.to_thread.run_sync(cli, home, "restart")
            began = time.monotonic()
            async with anyio.create_task_group() as group:

                async def restart() -> None:
                    out["restarted"] = await restarting

                group.start_soon(restart)
                while time.monotonic() - began < 60:
                    read = await client.call_tool("get_result", {"taskId": handle["taskId"]})
                    out["seen"].append(read)
                    shown = read.structured_content
                    if not read.is_error and shown is not None and shown.get("status") != "working":
                        break
                    await anyio.sleep(1)
        return out

    try:
        out = anyio.run(run)
    finally:
        stopped = cli(home, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    restarted = out["restarted"]
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    errors = [read for read in out["seen"] if read.is_error]
    assert errors == [], errors
    statuses = [read.structured_content["status"] for read in out["seen"]]
    assert statuses[-1] in ("completed", "failed"), statuses
    assert set(statuses[:-1]) <= {"working"}, statuses
