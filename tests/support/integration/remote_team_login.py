"""What tests/integration/remote/test_remote_team_login.py shares with the other
tests: call, linkOf, refusal."""

from __future__ import annotations

import re

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.integration.gateway import errorText
from tests.support.integration.oauth_fixture import oauth as oauth  # the fixture

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/oauth/(?:start|confirm)/guarded\?ticket=[\w=%-]+)")


def call(url: str, headers: dict[str, str], message: str) -> str:
    """One SDK session as the principal of C{headers}: the C{echo} tool's text."""

    async def main() -> str:
        async with create_mcp_http_client(headers=headers) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, mode="legacy") as client:
                result = await client.call_tool("echo", {"message": message})
                return "".join(getattr(item, "text", "") for item in result.content)

    return anyio.run(main)


def refusal(url: str, headers: dict[str, str]) -> str:
    """The error's text of a call a principal without a token makes."""
    with pytest.raises(BaseException) as refused:
        call(url, headers, "before")
    return errorText(refused.value)


def linkOf(url: str, headers: dict[str, str]) -> str:
    """The link (sign-in or confirmation) the error of a principal's call names."""
    said = refusal(url, headers)
    found = LINK.search(said)
    assert found is not None, said
    return found.group(1)
