"""What tests/integration/remote/test_remote_login_browser.py shares with the other
tests: call."""

from __future__ import annotations

from mcp import Client

from tests.integration.gateway import RunningGateway
from tests.support.integration.oauth_fixture import oauth as oauth  # the fixture
from tests.support.integration.remote_oauth import textOf


async def call(gateway: RunningGateway) -> tuple[str, str]:
    """C{echo} and C{whoami} through the gateway, in one client session."""
    async with Client(gateway.url("guarded"), mode="legacy") as c:
        echo = textOf(await c.call_tool("echo", {"message": "from the browser login"}))
        return echo, textOf(await c.call_tool("whoami", {}))
