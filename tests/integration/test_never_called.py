"""A server nobody calls is never started: a real gateway, the real Python
SDK client, and a fixture server that writes a marker file each time it
starts (C{tests/fixtures/marker_server.py}).

The gateway runs once, so that the server's catalog is saved; a new
gateway on the same state directory answers a client's start-up
(C{initialize}, the tools, prompts, resources and templates) from that
catalog: no child starts, and the client gets what it got from the
running child. Its first call starts the child, which answers it. What it
listed equals what a direct stdio connection to the server lists.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.integration.gateway import REPO, RunningGateway, waitFor, writeConfig

pytestmark = pytest.mark.integration

MARKER_SERVER = REPO / "tests" / "fixtures" / "marker_server.py"


def startUp(client: Client) -> Any:
    """Everything a client learns at start-up, as JSON values."""

    async def lists() -> dict[str, Any]:
        def dumped(items: Any) -> list[dict[str, Any]]:
            return [item.model_dump(mode="json", exclude_none=True) for item in items]

        capabilities = client.server_capabilities
        info = client.server_info
        return {
            "serverInfo": None if info is None else info.model_dump(exclude_none=True),
            "capabilities": None
            if capabilities is None
            else capabilities.model_dump(mode="json", exclude_none=True),
            "instructions": client.instructions,
            "protocolVersion": client.protocol_version,
            "tools": dumped((await client.list_tools()).tools),
            "prompts": dumped((await client.list_prompts()).prompts),
            "resources": dumped((await client.list_resources()).resources),
            "templates": dumped((await client.list_resource_templates()).resource_templates),
        }

    return lists()


async def throughTheGateway(url: str, marker: Path) -> dict[str, Any]:
    """A client's start-up on C{url}, whether C{marker} existed after it,
    then a call."""
    async with Client(url, mode="legacy") as client:
        seen = await startUp(client)
        seen["startedBeforeTheCall"] = marker.exists()
        echo = await client.call_tool("echo", {"message": "hello"})
        first = echo.content[0]
        seen["echo"] = getattr(first, "text", None)
    return seen


async def direct(marker: Path) -> dict[str, Any]:
    """The same start-up over a direct stdio connection to the server."""
    params = StdioServerParameters(
        command=sys.executable, args=[str(MARKER_SERVER)], env={"MARKER_FILE": str(marker)}
    )
    async with Client(params, mode="legacy") as client:
        return dict(await startUp(client))


def withoutGatewayTasks(seen: dict[str, Any]) -> dict[str, Any]:
    """What the gateway adds for a 2025-11-25 session whose server serves no
    tasks itself (it makes them: docs/guide/tasks.md) taken out: its
    C{tasks} capability and each tool's C{execution}."""
    capabilities = {k: v for k, v in seen["capabilities"].items() if k != "tasks"}
    tools = [{k: v for k, v in t.items() if k != "execution"} for t in seen["tools"]]
    return {**seen, "capabilities": capabilities, "tools": tools}


def test_a_start_up_is_answered_from_the_saved_catalog(start: Any, home: Path) -> None:
    marker = home / "started"
    config = writeConfig(
        home / "servers.json",
        {
            "marked": {
                "command": sys.executable,
                "args": [str(MARKER_SERVER)],
                "env": {"MARKER_FILE": str(marker)},
            }
        },
    )
    args = ("--config", str(config), "--sandbox", "off")
    first: RunningGateway = start(*args)
    live = anyio.run(throughTheGateway, first.url("marked"), marker)
    assert live["startedBeforeTheCall"], "a server never run starts at its first initialize"
    saved = home / "state" / "catalogs" / "marked.json"

    def kept() -> bool:
        try:
            return "entry" in json.loads(saved.read_text())
        except (OSError, ValueError):
            return False

    assert waitFor(kept, timeout=10), "the catalog was not saved"
    first.stop()
    marker.unlink()

    second: RunningGateway = start(*args)
    assert second.health()["servers"]["marked"]["state"] == "stopped"
    answered = anyio.run(throughTheGateway, second.url("marked"), marker)
    assert not answered.pop("startedBeforeTheCall"), "the start-up started the child"
    assert answered["echo"] == "hello"  # the call started it, and it answered
    assert marker.read_text().count("\n") == 1
    live.pop("startedBeforeTheCall")
    assert answered == live
    health = second.health()["servers"]["marked"]
    assert health["state"] == "running"
    assert health["catalogStartups"] == 1

    other = home / "direct"
    alone = anyio.run(direct, other)
    assert other.exists()
    expected = withoutGatewayTasks(answered)
    expected.pop("echo")
    assert expected == alone
