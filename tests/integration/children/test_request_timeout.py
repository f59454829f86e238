"""C{--request-timeout} against a server entry's own C{requestTimeout}: the
entry's wins whenever it set one, even a value equal to the built-in default."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, errorText, writeConfig

pytestmark = pytest.mark.integration


async def _slowCall(url: str, seconds: float) -> tuple[bool, str]:
    async with Client(url, mode="legacy") as client:
        result = await client.call_tool("slow", {"seconds": seconds, "steps": 1})
        return bool(result.is_error), result.content[0].text  # type: ignore[union-attr]


def test_an_entry_that_sets_the_default_timeout_keeps_it(start: Any, home: Path) -> None:
    demo = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
    config = writeConfig(
        home / "servers.json",
        {"own": {**demo, "requestTimeout": 60000}, "plain": demo},
    )
    gateway: RunningGateway = start("--config", str(config), "--request-timeout", "1")
    assert anyio.run(_slowCall, gateway.url("own"), 2.0) == (False, "done after 1 steps")
    with pytest.raises(BaseException) as caught:  # the SDK raises it in an exception group
        anyio.run(_slowCall, gateway.url("plain"), 2.0)
    assert "server 'plain' did not answer tools/call within 1 s" in errorText(caught.value)
