"""Servers that change under an open aggregate session: a server
(npm server-sequential-thinking) added with C{POST /api/v1/servers} while a
Python SDK and a TypeScript SDK session are open on C{/mcp} reaches both as
C{notifications/tools/list_changed}, and both call its tool without
reconnecting; disabling, enabling and removing it each send one more; a
server whose tools change (the catalog fixture says C{tools/list_changed})
sends one, and restarting it with the same tools sends none.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.continuitykit import TsSession, tsEnvironment
from tests.integration.gateway import REPO, RunningGateway, npmServer, writeConfig

pytestmark = pytest.mark.integration

CATALOG = REPO / "tests" / "fixtures" / "catalog_server.py"
TOOLS_CHANGED = "notifications/tools/list_changed"
TOOL = "thinking__sequentialthinking"
"""The tool of the server added mid-session (npm server-sequential-thinking)."""
SETTLE = 1.5
"""Seconds after which a notification that was going to come has come (the
catalogs debounce a child's list_changed 0.5 s, the aggregate gathers
changes 0.25 s)."""


def tool(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"The {name} tool.",
        "inputSchema": {"type": "object", "properties": {"x": {"type": "string"}}},
    }


def textOf(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent), result
    return first.text


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    with anyio.move_on_after(timeout):
        while not predicate():
            await anyio.sleep(0.05)
    assert predicate(), f"timed out waiting for {what}"


def test_list_changed_on_add_disable_enable_remove_and_catalog_change(
    start: Any, home: Path
) -> None:
    toolsFile = home / "cat-tools.json"
    toolsFile.write_text(json.dumps([tool("alpha")]))
    config = writeConfig(
        home / "servers.json",
        {
            "cat": {
                "command": sys.executable,
                "args": [str(CATALOG)],
                "env": {"CATALOG_TOOLS_FILE": str(toolsFile)},
            }
        },
    )
    gateway: RunningGateway = start("--config", str(config))
    url = f"http://127.0.0.1:{gateway.port}/mcp"
    thinking = npmServer("SERVER_SEQUENTIAL_THINKING_JS")
    thought1 = {
        "thought": "one",
        "nextThoughtNeeded": False,
        "thoughtNumber": 1,
        "totalThoughts": 1,
    }
    seen: list[str] = []

    async def onMessage(message: Any) -> None:
        method = getattr(getattr(message, "root", message), "method", None)
        if isinstance(method, str):
            seen.append(method)

    ts = TsSession("ts2", url, tsEnvironment())

    def tsSeen() -> int:
        return sum(1 for e in ts.eventsOf("notification") if e["method"] == TOOLS_CHANGED)

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Client(url, mode="legacy", message_handler=onMessage) as client:

            async def names() -> set[str]:
                return {t.name for t in (await client.list_tools()).tools}

            def told() -> int:
                return seen.count(TOOLS_CHANGED)

            def toldIs(count: int) -> bool:
                return told() == count

            out["before"] = await names()

            # A server added through the API: both sessions are told, both call it.
            status, added = await anyio.to_thread.run_sync(
                gateway.api,
                "POST",
                "/servers",
                {"name": "thinking", "command": thinking[0], "args": thinking[1:]},
            )
            assert status == 201, (status, added)
            await until(lambda: told() == 1, "list_changed after the add")
            await until(lambda: tsSeen() == 1, "the TypeScript session's list_changed")
            out["added"] = await names()
            thought = await client.call_tool(TOOL, thought1)
            out["call"] = thought.structured_content
            out["tsCall"] = await anyio.to_thread.run_sync(lambda: ts.call(TOOL, thought1))

            # The catalog fixture's tools change and it says so.
            toolsFile.write_text(json.dumps([tool("alpha"), tool("beta")]))
            assert textOf(await client.call_tool("cat__touch", {})) == "touched"
            await until(lambda: told() == 2, "list_changed after the tools changed")
            out["changed"] = await names()
            out["beta"] = textOf(await client.call_tool("cat__beta", {"x": "1"}))

            # A restart with the same tools: nothing to tell.
            status, _ = await anyio.to_thread.run_sync(gateway.api, "POST", "/servers/cat/restart")
            assert status == 200
            assert textOf(await client.call_tool("cat__alpha", {})).startswith("alpha called")
            await anyio.sleep(SETTLE)
            out["afterRestart"] = told()

            # Disabled, enabled, removed: one each.
            for step, (method, path, body) in enumerate(
                [
                    ("PATCH", "/servers/thinking", {"enabled": False}),
                    ("PATCH", "/servers/thinking", {"enabled": True}),
                    ("DELETE", "/servers/thinking", None),
                ],
                start=3,
            ):
                status, answer = await anyio.to_thread.run_sync(gateway.api, method, path, body)
                assert status == 200, (method, body, status, answer)
                await until(partial(toldIs, step), f"list_changed after {method} {body}")
                out[f"{method} {body}"] = await names()
            await anyio.sleep(SETTLE)
            out["told"] = told()
            out["tsTold"] = tsSeen()
        return out

    try:
        out = anyio.run(main)
    finally:
        ts.close()
    assert out["before"] == {"cat__alpha", "cat__touch"}, out
    assert out["added"] == out["before"] | {TOOL}, out
    assert out["call"]["thoughtNumber"] == 1, out
    assert out["tsCall"]["ok"], out["tsCall"]
    assert out["tsCall"]["result"]["structuredContent"]["thoughtNumber"] == 1, out["tsCall"]
    assert out["changed"] == out["added"] | {"cat__beta"}, out
    assert out["beta"] == 'beta called with {"x": "1"}', out
    assert out["afterRestart"] == 2, out  # the restart changed nothing a client sees
    catTools = {"cat__alpha", "cat__beta", "cat__touch"}
    assert out["PATCH {'enabled': False}"] == catTools, out
    assert out["PATCH {'enabled': True}"] == out["changed"], out
    assert out["DELETE None"] == catTools, out
    assert out["told"] == 5, out  # exactly one per change, none more
    assert out["tsTold"] == 5, (out, ts.diagnostics())
