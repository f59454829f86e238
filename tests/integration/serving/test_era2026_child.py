"""A child that speaks only MCP 2026-07-28 (tests/fixtures/era2026_server.py,
hand-written: it refuses C{initialize} with -32022 and sends no requests),
through the real gateway, to the real Python SDK client in both eras.

The gateway finds the child out by its -32022 (or is told so by the entry's
C{"era": "era2026"}), discovers it, and talks 2026-07-28 to it: a handshake
(2025) session's calls get an envelope made from the session; the child's
C{InputRequiredResult}s become real elicitation and sampling requests on
the handshake session's stream, and the gateway retries the child with the
answers; a 2026 client's calls pass through, its C{requestState} sealed
by the gateway. List changes and resource updates come from one upstream
listen, to handshake sessions and 2026 listen streams alike.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.integration.gateway import REPO, RunningGateway, writeConfig

pytestmark = pytest.mark.integration
FIXTURE = REPO / "tests" / "fixtures" / "era2026_server.py"
ERA2026 = "2026-07-28"
TOOLS = ["ask", "ask_model", "ask_twice", "change", "count", "echo", "seen", "touch", "whoami"]


def era2026Config(home: Path, **entry: Any) -> Path:
    return writeConfig(
        home / "servers.json",
        {"era2026": {"command": sys.executable, "args": [str(FIXTURE)], **entry}},
    )


def textOf(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent), result
    return first.text


class Callbacks:
    """One client's answers: labelled, and what it was asked recorded."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.asked: list[str] = []
        self.notified: list[str] = []

    async def onElicitation(self, context: Any, params: Any) -> types.ElicitResult:
        self.asked.append(params.message)
        return types.ElicitResult(
            action="accept", content={"answer": f"{self.label}:{params.message}"}
        )

    async def onSampling(
        self, context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        content = params.messages[0].content
        asked = content.text if isinstance(content, types.TextContent) else "?"
        self.asked.append(asked)
        return types.CreateMessageResult(
            role="assistant",
            model="m",
            content=types.TextContent(type="text", text=f"{self.label} on {asked}"),
        )

    async def onMessage(self, message: Any) -> None:
        root = getattr(message, "root", message)
        method = getattr(root, "method", None)
        if isinstance(method, str):
            self.notified.append(method)

    def client(self, url: str, mode: str) -> Client:
        return Client(
            url,
            mode=mode,
            client_info=types.Implementation(name=f"py-{self.label}", version="1"),
            elicitation_callback=self.onElicitation,
            sampling_callback=self.onSampling,
            message_handler=self.onMessage,
        )


async def scenario(client: Client, label: str) -> dict[str, Any]:
    """Every tool of the fixture through one client."""
    seen: list[float] = []

    async def onProgress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    tools = await client.list_tools()
    read = await client.read_resource("era2026://notes")
    return {
        "tools": sorted(tool.name for tool in tools.tools),
        "read": getattr(read.contents[0], "text", None),
        "echo": textOf(await client.call_tool("echo", {"text": label})),
        "whoami": json.loads(textOf(await client.call_tool("whoami", {}))),
        "ask": textOf(await client.call_tool("ask", {"question": f"{label}?"})),
        "model": textOf(await client.call_tool("ask_model", {"question": f"{label}!"})),
        "twice": textOf(await client.call_tool("ask_twice", {})),
        "count": textOf(
            await client.call_tool("count", {"steps": 3}, progress_callback=onProgress)
        ),
        "progress": seen,
    }


def checkScenario(result: dict[str, Any], label: str) -> None:
    assert result["tools"] == TOOLS, result
    assert result["read"] == "era2026 notes", result
    assert result["echo"] == f"echo: {label}", result
    whoami = result["whoami"]
    assert whoami["client"] == f"py-{label}", whoami
    assert whoami["version"] == ERA2026, whoami
    assert {"elicitation", "sampling"} <= set(whoami["capabilities"]), whoami
    assert result["ask"] == f"accept: {label}:{label}? (state-ok)", result
    assert result["model"] == f"model said: {label} on {label}!", result
    assert result["twice"] == f"first={label}:first? second={label}:second?", result
    assert result["count"] == "counted 3", result
    assert result["progress"] == [1, 2, 3], result


def seenBy(url: str) -> list[str]:
    """The methods the child received so far."""

    async def main() -> list[str]:
        async with Client(url, mode=ERA2026) as client:
            return json.loads(textOf(await client.call_tool("seen", {})))  # type: ignore[no-any-return]

    return anyio.run(main)


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")
@pytest.mark.parametrize("entry", [{}, {"era": "era2026"}], ids=["detected", "configured"])
def test_handshake_and_era2026_clients_on_a_era2026_only_child(
    start: Any, home: Path, entry: dict[str, Any]
) -> None:
    gateway: RunningGateway = start("--config", str(era2026Config(home, **entry)))
    url = gateway.url("era2026")
    handshake, era2026 = Callbacks("handshake"), Callbacks("era2026")
    health: dict[str, Any] = {}

    async def main() -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        with anyio.fail_after(60):
            async with handshake.client(url, "legacy") as old, era2026.client(url, ERA2026) as new:
                assert old.session.protocol_version == "2025-11-25"
                assert old.server_info is not None and old.server_info.name == "era2026-fixture"
                oldResult = await scenario(old, "handshake")
                newResult = await scenario(new, "era2026")
                # The child's list changes and resource updates, through its one listen.
                await old.subscribe_resource("era2026://notes")
                events: list[str] = []
                async with new.listen(tools_list_changed=True) as subscription:
                    await new.call_tool("change", {})
                    async for event in subscription:
                        events.append(type(event).__name__)
                        break
                await new.call_tool("touch", {})
                for _ in range(100):
                    if {
                        "notifications/tools/list_changed",
                        "notifications/resources/updated",
                    } <= set(handshake.notified):
                        break
                    await anyio.sleep(0.05)
                tools = await old.list_tools()
                assert "extra" in [tool.name for tool in tools.tools]
                health.update(await anyio.to_thread.run_sync(gateway.health))
        return oldResult, newResult, events

    oldResult, newResult, events = anyio.run(main)
    checkScenario(oldResult, "handshake")
    checkScenario(newResult, "era2026")
    assert handshake.asked == ["handshake?", "handshake!", "first?", "second?"], handshake.asked
    assert era2026.asked == ["era2026?", "era2026!", "first?", "second?"], era2026.asked
    assert events == ["ToolsListChanged"], events
    assert "notifications/tools/list_changed" in handshake.notified, handshake.notified
    assert "notifications/resources/updated" in handshake.notified, handshake.notified
    server = health["servers"]["era2026"]
    assert server["children"] == 1, server
    assert server["sessions"] == 1, server  # the handshake client; the 2026 one has none
    assert server["ambiguousServerRequests"] == 0, server
    seen = seenBy(url)
    # Detected by its -32022 to the one initialize, or never sent one.
    assert seen.count("initialize") == (0 if entry else 1), seen
    assert seen[seen.count("initialize")] == "server/discover", seen
    for removed in ("ping", "logging/setLevel", "resources/subscribe", "notifications/initialized"):
        assert removed not in seen, seen
    assert "subscriptions/listen" in seen, seen


def test_a_era2026_clients_request_state_is_sealed_by_the_gateway(start: Any, home: Path) -> None:
    """A pinned client driving the rounds itself: the state it gets is the
    gateway's seal of the child's, good only for that very call."""
    gateway: RunningGateway = start("--config", str(era2026Config(home)))
    url = gateway.url("era2026")

    async def main() -> tuple[Any, Any, Any]:
        async def never(context: Any, params: Any) -> types.ElicitResult:
            raise AssertionError("this client drives its rounds itself")

        async with Client(url, mode=ERA2026, elicitation_callback=never) as client:
            session = client.session
            first = await session.call_tool("ask", {"question": "q"}, allow_input_required=True)
            assert isinstance(first, types.InputRequiredResult), first
            state = first.request_state
            answers: dict[str, Any] = {
                "confirm": types.ElicitResult(action="accept", content={"answer": "a"})
            }
            try:
                await session.call_tool(
                    "ask",
                    {"question": "other"},
                    allow_input_required=True,
                    input_responses=answers,
                    request_state=state,
                )
                other: Any = None
            except MCPError as error:  # another call's state: refused by the gateway
                other = error.code
            good = await session.call_tool(
                "ask",
                {"question": "q"},
                allow_input_required=True,
                input_responses=answers,
                request_state=state,
            )
            return first, other, good

    first, other, good = anyio.run(main)
    assert first.result_type == "input_required", first
    assert first.request_state.startswith("m1."), first  # not the child's own
    assert "confirm" in first.input_requests, first
    assert other == -32602, other
    assert textOf(good) == "accept: a (state-ok)", good
