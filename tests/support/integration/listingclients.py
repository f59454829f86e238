"""Forty real Python SDK clients that start up on one server of a real
gateway and list everything, as editors do at their start: what the lazy
start and the saved catalogs of a per-session server are proven with."""

from __future__ import annotations

from typing import Any

import anyio
from mcp import Client

from tests.integration.gateway import RunningGateway

CLIENTS = 40


async def listingClients(
    gateway: RunningGateway, server: str, message: str | None = None
) -> dict[str, Any]:
    """L{CLIENTS} clients initialize and list the tools, prompts, resources
    and templates of C{server}; with all still open, its line of
    C{/health} (C{before}); then, given a C{message}, the first calls
    C{echo} with it (C{echo}: the answer's text) and the line again
    (C{after}). C{tools}: the tool names the clients were given."""
    listed = anyio.Event()
    done = anyio.Event()
    count = 0
    seen: dict[str, Any] = {}

    async def one(n: int) -> None:
        nonlocal count
        async with Client(gateway.url(server), mode="legacy") as client:
            tools = (await client.list_tools()).tools
            await client.list_prompts()
            await client.list_resources()
            await client.list_resource_templates()
            seen.setdefault("tools", sorted(tool.name for tool in tools))
            count += 1
            if count == CLIENTS:
                listed.set()
            await listed.wait()
            if n == 0:
                line = await anyio.to_thread.run_sync(gateway.health)
                seen["before"] = line["servers"][server]
                if message is not None:
                    echo = await client.call_tool("echo", {"message": message})
                    seen["echo"] = getattr(echo.content[0], "text", None)
                    line = await anyio.to_thread.run_sync(gateway.health)
                    seen["after"] = line["servers"][server]
                done.set()
            await done.wait()

    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            for n in range(CLIENTS):
                group.start_soon(one, n)
    return seen
