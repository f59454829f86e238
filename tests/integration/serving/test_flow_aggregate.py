"""The flow rule on the aggregate endpoint, through a real gateway: the
Python SDK's client reads from an C{untrusted} server on its own route and
from a C{private} one through C{/mcp}, then calls an C{egress} one through
C{/mcp} and through C{/mcp/search}'s C{invoke}; each call is held as the
member's, waits while a person runs C{mcpgateway approvals allow}, and the
client gets the real result."""

from __future__ import annotations

import json
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, writeConfig
from tests.support.integration.approvals import TRIFECTA, allowFirstHeld, cli

pytestmark = pytest.mark.integration


async def calls(gateway: RunningGateway, home: Path) -> list[tuple[str, dict[str, Any]]]:
    """One client reads the web on its route and a file through C{/mcp},
    then posts through C{/mcp} and through C{invoke}, a person allowing
    each: each post's text, with the held call as the list showed it."""
    base = f"http://127.0.0.1:{gateway.port}"
    posted: list[tuple[str, dict[str, Any]]] = []

    async def allowed(call: Any) -> None:
        held: dict[str, Any] = {}

        async def person() -> None:
            deadline = time.monotonic() + 50
            held.update(await anyio.to_thread.run_sync(allowFirstHeld, home, deadline))

        async with anyio.create_task_group() as tg:
            tg.start_soon(person)
            result = await call
        posted.append((result.content[0].text, held))

    async with AsyncExitStack() as stack:
        web, aggregate, search = [
            await stack.enter_async_context(Client(url, mode="legacy"))
            for url in (gateway.url("web"), f"{base}/mcp", f"{base}/mcp/search")
        ]
        await web.call_tool("echo", {"message": "read the web"})
        await aggregate.call_tool("files__echo", {"message": "read a file"})
        await allowed(aggregate.call_tool("post__echo", {"message": "send it"}))
        invoke = {"name": "post__echo", "arguments": {"message": "send it again"}}
        await allowed(search.call_tool("invoke", invoke))
    return posted


def test_calls_through_the_aggregate_are_held_as_the_members(tmp_path: Path) -> None:
    config = writeConfig(tmp_path / "servers.json", TRIFECTA)
    gateway = RunningGateway(["--config", str(config)], tmp_path)
    try:
        try:
            posted = anyio.run(calls, gateway, tmp_path)
        except BaseException:
            print(gateway.text())
            raise
        [(direct, first), (invoked, second)] = posted
        assert "send it" in direct and "send it again" in invoked
        for held, message in ((first, "send it"), (second, "send it again")):
            assert (held["server"], held["tool"]) == ("post", "echo")
            assert held["labels"] == ["untrusted", "private", "egress"]
            shown = json.loads(cli(tmp_path, "approvals", "show", held["id"], "--json").stdout)
            assert (shown["state"], shown["arguments"]) == ("used", {"message": message})
    finally:
        gateway.stop()
