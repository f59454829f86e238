"""Adopting a remote entry of C{~/.claude.json} end to end (C{--remote
adopt}): server-everything serves Streamable HTTP on loopback, the Claude
config's user scope names it, the gateway rewrites the entry to its own
route, serves the tool at C{/<name>/mcp} and in C{/mcp}, and gives the file
back byte for byte when it stops."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, callEcho, waitFor
from tests.support.integration.remote_backends import RemoteEverything

pytestmark = pytest.mark.integration


@pytest.fixture
def remote(everything: list[str], home: Path) -> Iterator[RemoteEverything]:
    server = RemoteEverything(everything, "streamableHttp", home)
    yield server
    server.stop()


def aggregateEcho(port: int, message: str) -> str:
    """Call the remote server's C{echo} through the gateway's C{/mcp}."""

    async def main() -> str:
        async with Client(f"http://127.0.0.1:{port}/mcp", mode="legacy") as client:
            result = await client.call_tool("ev__echo", {"message": message})
            return result.content[0].text  # type: ignore[union-attr]

    return anyio.run(main)


def test_a_remote_entry_is_adopted_served_and_restored(
    start: Any, home: Path, remote: RemoteEverything
) -> None:
    config = home / ".claude.json"
    entry = {"type": "http", "url": remote.url("/mcp"), "headers": {"X-Test": "hdr-secret-7311"}}
    config.write_text(json.dumps({"numStartups": 2, "mcpServers": {"ev": entry}}, indent=2))
    os.chmod(config, 0o600)
    original = config.read_bytes()
    gateway: RunningGateway = start("--rewrite-config", "--clients", "none", "--remote", "adopt")
    assert waitFor(lambda: "_mcp_gateway_ts" in config.read_text()), gateway.text()
    adopted = json.loads(config.read_text())["mcpServers"]["ev"]
    assert adopted == {"type": "http", "url": gateway.url("ev")}  # no upstream headers
    assert callEcho(gateway.url("ev"), "direct route") == "Echo: direct route"
    assert aggregateEcho(gateway.port, "aggregate") == "Echo: aggregate"
    assert "hdr-secret-7311" not in gateway.text()  # a header's value is never logged
    gateway.stop()  # SIGTERM: the gateway restores the file as it stops
    assert config.read_bytes() == original
