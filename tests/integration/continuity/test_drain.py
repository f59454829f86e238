"""End to end: SIGTERM lets a call in flight finish (within the
drain deadline) instead of answering it "the gateway is shutting down"."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, callsInFlight, writeConfig

pytestmark = pytest.mark.integration


def test_sigterm_lets_a_call_in_flight_finish(start: Any, home: Path) -> None:
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    gateway: RunningGateway = start("--config", str(config), "--drain-timeout", "10")

    async def main() -> str:
        async with Client(gateway.url("demo"), mode="legacy") as client:
            await client.list_tools()  # the SDK reads the schemas once, before the stop
            async with anyio.create_task_group() as group:

                async def stopSoon() -> None:
                    await callsInFlight(gateway, "demo", 1)
                    gateway.process.send_signal(signal.SIGTERM)

                group.start_soon(stopSoon)
                with anyio.fail_after(30):
                    result = await client.call_tool("slow", {"seconds": 2, "steps": 2})
            return str(result.content[0].text)  # type: ignore[union-attr]

    started = time.monotonic()
    assert anyio.run(main) == "done after 2 steps"
    assert gateway.process.wait(timeout=20) in (0, -signal.SIGTERM)  # twist re-raises it
    assert time.monotonic() - started < 15
    assert "letting 1 request(s) in flight finish" in gateway.text()
