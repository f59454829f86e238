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

pytestmark = pytest.mark.integration


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
