"""MCP 2026-07-28 on the aggregate endpoint C{/mcp}, end to end with the
real Python SDK client pinned to the revision, over two members (the demo
server and the conformance fixture): discover, the merged lists, calls
routed under their aggregate names, an elicitation and a sampling round
(C{input_required}) answered by the client's callbacks through the
aggregate, a listen stream that hears a member's tool list change as the
aggregate's own, and no gateway session made for any of it; and search
mode on C{/mcp/search}: its four tools, an elicitation round of C{invoke},
and a large result paged by C{get_result} across requests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client
from mcp.client.subscriptions import ToolsListChanged
from mcp.shared.exceptions import MCPError

from tests.integration.gateway import REPO, RunningGateway, writeConfig

pytestmark = [pytest.mark.integration, pytest.mark.front]
FIXTURE = REPO / "tests" / "fixtures" / "conformance_server.py"
ERA2026 = "2026-07-28"
SERVER_INFO = "io.modelcontextprotocol/serverInfo"


def textOf(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent), result
    return first.text


async def onSampling(context: Any, params: types.CreateMessageRequestParams) -> Any:
    content = params.messages[0].content
    asked = content.text if isinstance(content, types.TextContent) else "?"
    return types.CreateMessageResult(
        role="assistant",
        model="aggregate-model",
        content=types.TextContent(type="text", text=f"sampled {asked}"),
    )


async def onElicitation(context: Any, params: Any) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"username": "ada", "email": "a@x.org"})


def twoMembers(start: Any, home: Path) -> RunningGateway:
    """A gateway whose aggregate endpoints join two members: the demo
    server and the conformance fixture."""
    config = writeConfig(
        home / "servers.json",
        {
            "demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]},
            "conformance": {"command": sys.executable, "args": [str(FIXTURE)]},
        },
    )
    gateway: RunningGateway = start("--config", str(config))
    return gateway


def test_a_pinned_client_lists_calls_and_listens_across_two_members(start: Any, home: Path) -> None:
    gateway = twoMembers(start, home)
    url = f"http://127.0.0.1:{gateway.port}/mcp"

    async def main() -> dict[str, Any]:
        with anyio.fail_after(120):
            return await scenario()

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Client(
            url,
            mode=ERA2026,
            sampling_callback=onSampling,
            elicitation_callback=onElicitation,
        ) as client:
            out["version"] = client.session.protocol_version
            # A pinned client adopts a discover result of its own: ask the gateway's.
            discovered = await client.session.send_discover(ERA2026)
            out["server"] = discovered["_meta"][SERVER_INFO]["name"]
            out["extensions"] = sorted(discovered["capabilities"].get("extensions", {}))
            tools = await client.list_tools()
            out["tools"] = sorted(tool.name for tool in tools.tools)
            out["echo"] = textOf(await client.call_tool("demo__echo", {"message": "through /mcp"}))
            out["added"] = textOf(await client.call_tool("demo__add", {"a": 2, "b": 3}))
            out["simple"] = textOf(await client.call_tool("conformance__test_simple_text", {}))
            elicited = await client.call_tool(
                "conformance__test_elicitation", {"message": "who are you?"}
            )
            out["elicited"] = textOf(elicited)
            sampled = await client.call_tool("conformance__test_sampling", {"prompt": "hi"})
            out["sampled"] = textOf(sampled)
            read = await client.read_resource("test://static-text")
            out["read"] = getattr(read.contents[0], "text", None)
            prompt = await client.get_prompt("conformance__test_simple_prompt", {})
            content = prompt.messages[0].content
            out["prompt"] = content.text if isinstance(content, types.TextContent) else None
            try:
                await client.call_tool("nosuch__tool", {})
            except MCPError as error:
                out["unknown"] = (error.error.code, error.error.message)
            async with client.listen(
                tools_list_changed=True, resource_subscriptions=["test://watched-resource"]
            ) as subscription:
                out["honoured"] = subscription.honored.model_dump(by_alias=True, exclude_none=True)
                await client.call_tool("conformance__test_trigger_tool_change", {})
                with anyio.fail_after(15):
                    event = await subscription.__anext__()
                out["event"] = type(event).__name__
                relisted = await client.list_tools()
                out["dynamic"] = "conformance__test_dynamic_tool" in {
                    tool.name for tool in relisted.tools
                }
        return out

    out = anyio.run(main)
    assert out["version"] == ERA2026, out
    assert out["server"] == "mcpgateway", out
    assert out["extensions"] == ["io.modelcontextprotocol/tasks"], out
    assert {"demo__echo", "demo__add", "conformance__test_simple_text"} <= set(out["tools"]), out
    assert out["echo"] == "through /mcp", out
    assert out["added"] == "5", out
    assert out["simple"] == "This is a simple text response for testing.", out
    assert out["elicited"].startswith("User response: action=accept"), out
    assert json.dumps({"username": "ada", "email": "a@x.org"}) in out["elicited"], out
    assert out["sampled"] == "LLM response: sampled hi", out
    assert out["read"] == "This is the content of the static text resource.", out
    assert out["prompt"] == "This is a simple prompt for testing.", out
    assert out["unknown"] == (-32602, "Unknown tool: nosuch__tool"), out
    assert out["honoured"] == {
        "toolsListChanged": True,
        "resourceSubscriptions": ["test://watched-resource"],
    }, out
    assert out["event"] == ToolsListChanged.__name__, out
    assert out["dynamic"] is True, out
    health = gateway.health()
    # Stateless: no session of the gateway's was made, neither on /mcp nor on a member.
    assert "opened on the aggregate endpoint" not in gateway.text()
    assert health["servers"]["demo"]["sessions"] == 0, health["servers"]["demo"]
    assert health["servers"]["conformance"]["era2026Requests"] >= 6, health["servers"]
    assert health["servers"]["conformance"]["inputRounds"] >= 2, health["servers"]


def test_a_pinned_client_uses_search_mode(start: Any, home: Path) -> None:
    """C{/mcp/search} with the client pinned to 2026-07-28: the four tools
    listed, C{search}, C{describe}, C{invoke} (a member's elicitation is a
    round of the C{invoke} call, answered by the client's callback), and a
    large result shortened by one request and paged by C{get_result} in
    later ones."""
    gateway = twoMembers(start, home)
    url = f"http://127.0.0.1:{gateway.port}/mcp/search"
    big = "".join(f"line {n:06d}\n" for n in range(20000))  # 240 000 characters

    async def main() -> dict[str, Any]:
        with anyio.fail_after(120):
            return await scenario()

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Client(url, mode=ERA2026, elicitation_callback=onElicitation) as client:
            out["version"] = client.session.protocol_version
            tools = await client.list_tools()
            out["tools"] = [tool.name for tool in tools.tools]
            found = await client.call_tool("search", {"query": "echo a message"})
            out["found"] = [hit["name"] for hit in (found.structured_content or {})["results"]]
            described = await client.call_tool("describe", {"name": "demo__echo"})
            out["described"] = (described.structured_content or {}).get("name")
            elicited = await client.call_tool(
                "invoke",
                {"name": "conformance__test_elicitation", "arguments": {"message": "who?"}},
            )
            out["elicited"] = textOf(elicited)
            echoed = await client.call_tool(
                "invoke", {"name": "demo__echo", "arguments": {"message": big}}
            )
            out["shortened"] = len(json.dumps(echoed.model_dump(by_alias=True)))
            ref = (echoed.meta or {})["mcpgateway/shielded"]["ref"]
            text = ""
            offset: int | None = 0
            while offset is not None:
                page = await client.call_tool("get_result", {"ref": ref, "offset": offset})
                assert not page.is_error, page
                content = page.structured_content or {}
                text += content["text"]
                offset = content.get("next")
            out["paged"] = text == big
        return out

    out = anyio.run(main)
    assert out["version"] == ERA2026, out
    assert out["tools"] == ["search", "describe", "invoke", "get_result"], out
    assert "demo__echo" in out["found"], out
    assert out["described"] == "demo__echo", out
    assert out["elicited"].startswith("User response: action=accept"), out
    assert out["shortened"] < 70000, out
    assert out["paged"] is True, out
    assert "opened on the aggregate endpoint" not in gateway.text()
    health = gateway.health()
    assert health["servers"]["conformance"]["inputRounds"] >= 1, health["servers"]
