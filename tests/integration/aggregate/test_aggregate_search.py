"""Tool search mode end to end: C{/mcp?mode=search} (and
C{/mcp/search}) lists exactly the gateway's four tools; among 140 tools of
four servers (the 120 of tests/fixtures/many_tools_server.py split as
C{fs}, C{memory} and C{hub}, plus server-everything) a Python SDK client's
C{search} ranks the right tool in the top 3, C{describe} gives its schema,
C{invoke} calls it (sampling included), and bad arguments come back as an
C{isError} result listing what is wrong. Then the gateway is stopped and
started again on the same state directory: the saved catalogs make every
server searchable, and describable, with no child started.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.gateway import REPO, RunningGateway, waitFor, writeConfig

pytestmark = pytest.mark.integration

MANY = REPO / "tests" / "fixtures" / "many_tools_server.py"
GATEWAY_TOOLS = ["describe", "get_result", "invoke", "search"]
HUB = ["git", "github", "browser", "postgres", "web", "slack", "google", "k8s", "util", "jira"]
QUERIES = {
    "read the contents of a text file": "fs__read_text_file",
    "create entities in the knowledge graph": "memory__create_entities",
    "echo a message back": "everything__echo",
    "post a message to a slack channel": "hub__slack_post_message",
    "run a sql query on the database": "hub__query",
    "weather forecast for a city": "hub__get_weather_forecast",
    "open a pull request on github": "hub__create_pull_request",
    "list kubernetes pods": "hub__kubectl_get",
}
"""A query and the tool that must be among its first three results."""
ENTITIES = json.dumps([{"name": "gw", "entityType": "thing"}])


def searchConfig(home: Path, everything: list[str]) -> Path:
    many = [sys.executable, str(MANY)]
    return writeConfig(
        home / "servers.json",
        {
            "fs": {"command": many[0], "args": [many[1], "fs"]},
            "memory": {"command": many[0], "args": [many[1], "memory"]},
            "hub": {"command": many[0], "args": [many[1], *HUB]},
            "everything": {"command": everything[0], "args": everything[1:]},
        },
    )


def structured(result: types.CallToolResult) -> dict[str, Any]:
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


def textOf(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent), result
    return first.text


def children(gateway: RunningGateway) -> dict[str, int]:
    return {name: s["children"] for name, s in gateway.health()["servers"].items()}


async def sampled(context: Any, params: types.CreateMessageRequestParams) -> Any:
    return types.CreateMessageResult(
        role="assistant", model="m", content=types.TextContent(type="text", text="from search")
    )


def test_search_describe_invoke_then_lazy_servers_after_a_restart(
    start: Any, home: Path, everything: list[str]
) -> None:
    config = searchConfig(home, everything)
    gateway: RunningGateway = start("--config", str(config))
    base = f"http://127.0.0.1:{gateway.port}/mcp"

    async def first() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Client(base, mode="legacy") as full:
            out["full"] = len((await full.list_tools()).tools)
        async with Client(f"{base}/search", mode="legacy") as named:
            out["named"] = sorted(t.name for t in (await named.list_tools()).tools)
        async with Client(f"{base}?mode=search", mode="legacy", sampling_callback=sampled) as c:
            listed = (await c.list_tools()).tools
            out["listed"] = sorted(t.name for t in listed)
            out["schemas"] = {t.name: t.output_schema is not None for t in listed}
            out["ranks"] = {}
            for query, wanted in QUERIES.items():
                found = structured(await c.call_tool("search", {"query": query, "limit": 3}))
                names = [hit["name"] for hit in found["results"]]
                out["ranks"][query] = (wanted in names, names)
            hub = structured(await c.call_tool("search", {"query": "file", "server": "fs"}))
            out["serverFilter"] = {hit["server"] for hit in hub["results"]}
            out["describe"] = structured(
                await c.call_tool("describe", {"name": "memory__create_entities"})
            )
            invoked = await c.call_tool(
                "invoke", {"name": "memory__create_entities", "arguments": {"entities": ENTITIES}}
            )
            out["invoke"] = (invoked.is_error, textOf(invoked))
            asString = await c.call_tool(
                "invoke", {"name": "everything__echo", "arguments": '{"message": "as a string"}'}
            )
            out["asString"] = textOf(asString)
            missing = await c.call_tool(
                "invoke", {"name": "memory__create_entities", "arguments": {}}
            )
            out["missing"] = (missing.is_error, textOf(missing))
            wrongType = await c.call_tool(
                "invoke", {"name": "everything__echo", "arguments": {"message": 5}}
            )
            out["wrongType"] = (wrongType.is_error, textOf(wrongType))
            unknown = await c.call_tool("invoke", {"name": "nosuch__tool", "arguments": {}})
            out["unknown"] = (unknown.is_error, textOf(unknown))
            sample = await c.call_tool(
                "invoke",
                {
                    "name": "everything__trigger-sampling-request",
                    "arguments": {"prompt": "hello", "maxTokens": 5},
                },
            )
            out["sample"] = (sample.is_error, textOf(sample))
        return out

    out = anyio.run(first)
    assert out["full"] >= 130, out["full"]  # every server's tools, namespaced
    assert out["listed"] == GATEWAY_TOOLS, out["listed"]
    assert out["named"] == GATEWAY_TOOLS, out["named"]
    assert out["schemas"] == {name: True for name in GATEWAY_TOOLS}, out["schemas"]
    missed = {q: names for q, (hit, names) in out["ranks"].items() if not hit}
    assert missed == {}, missed
    assert out["serverFilter"] == {"fs"}, out
    described = out["describe"]
    assert described["name"] == "memory__create_entities", described
    assert described["server"] == "memory", described
    assert described["inputSchema"]["required"] == ["entities"], described
    called = f"called create_entities with {json.dumps({'entities': ENTITIES})}"
    assert out["invoke"] == (False, called), out["invoke"]
    assert out["asString"] == "Echo: as a string", out
    assert out["missing"][0] is True, out["missing"]
    assert "'entities' is a required property" in out["missing"][1], out["missing"]
    assert out["wrongType"][0] is True, out["wrongType"]
    assert "5 is not of type 'string'" in out["wrongType"][1], out["wrongType"]
    assert out["unknown"][0] is True and "nosuch__tool" in out["unknown"][1], out["unknown"]
    assert out["sample"][0] is False and "from search" in out["sample"][1], out["sample"]

    # Every server's catalog is saved: a new gateway searches them lazily.
    saved = home / "state" / "catalogs"
    servers = ("fs", "memory", "hub", "everything")
    assert waitFor(lambda: all((saved / f"{s}.json").is_file() for s in servers), timeout=10), (
        sorted(p.name for p in saved.glob("*")) if saved.is_dir() else "no catalogs folder"
    )
    gateway.stop()
    again: RunningGateway = start("--config", str(config))
    assert children(again) == {s: 0 for s in servers}

    async def second() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Client(f"http://127.0.0.1:{again.port}/mcp/search", mode="legacy") as c:
            for query in ("create entities in the knowledge graph", "list kubernetes pods"):
                found = structured(await c.call_tool("search", {"query": query, "limit": 3}))
                out[query] = [(hit["name"], hit["running"]) for hit in found["results"]]
            out["describe"] = structured(await c.call_tool("describe", {"name": "fs__write_file"}))
            out["childrenBefore"] = await anyio.to_thread.run_sync(children, again)
            called = await c.call_tool(
                "invoke", {"name": "hub__kubectl_get", "arguments": {"resourceType": "pods"}}
            )
            out["called"] = (called.is_error, textOf(called))
            out["childrenAfter"] = await anyio.to_thread.run_sync(children, again)
        return out

    lazy = anyio.run(second)
    assert ("memory__create_entities", False) in lazy["create entities in the knowledge graph"]
    assert ("hub__kubectl_get", False) in lazy["list kubernetes pods"], lazy
    assert lazy["describe"]["server"] == "fs" and "inputSchema" in lazy["describe"], lazy
    assert lazy["childrenBefore"] == {s: 0 for s in servers}, lazy
    assert lazy["called"][0] is False and "called kubectl_get" in lazy["called"][1], lazy
    assert lazy["childrenAfter"]["hub"] == 1, lazy
    assert lazy["childrenAfter"]["fs"] == lazy["childrenAfter"]["memory"] == 0, lazy
    with urllib.request.urlopen(f"http://127.0.0.1:{again.port}/api/v1/catalog", timeout=5) as r:
        catalog = json.loads(r.read())
    fs = catalog["servers"]["fs"]
    assert fs["source"] == "snapshot" and fs["tools"] == 10, catalog
