"""A remote server behind OAuth on a team gateway: each principal calls it
with an upstream token of its own.

A real gateway with C{--auth-tokens} (alice and bob) serves the MCP SDK's
OAuth-protected server (tests/fixtures/oauth_server.py). A principal
without a token gets an error naming a sign-in link of the gateway's
(C{/oauth/start/<server>?ticket=...}); following it as a browser does (the
authorization server approves at once) gives the gateway that principal's
tokens, and only that principal's calls then succeed: bob still gets his
own link until he signs in too, and the store holds one grant per
principal, each with its own access token.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcpgateway.remote.oauth.tokens import TokenStore
from tests.integration.gateway import RunningGateway, errorText, writeConfig
from tests.integration.test_oauth_fixture import OAuthServer
from tests.integration.test_oauth_fixture import oauth as oauth  # the fixture
from tests.integration.test_per_user import tokens

pytestmark = pytest.mark.integration

LINK = re.compile(r"sign in at (http://127\.0\.0\.1:\d+/oauth/start/guarded\?ticket=[\w=%-]+)")


def call(url: str, headers: dict[str, str], message: str) -> str:
    """One SDK session as the principal of C{headers}: the C{echo} tool's text."""

    async def main() -> str:
        async with create_mcp_http_client(headers=headers) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, mode="legacy") as client:
                result = await client.call_tool("echo", {"message": message})
                return "".join(getattr(item, "text", "") for item in result.content)

    return anyio.run(main)


def linkOf(url: str, headers: dict[str, str]) -> str:
    """The sign-in link of the error a principal without a token gets."""
    with pytest.raises(BaseException) as refused:
        call(url, headers, "before")
    found = LINK.search(errorText(refused.value))
    assert found is not None, errorText(refused.value)
    return found.group(1)


def follow(link: str) -> str:
    """Open C{link} as a browser does (redirects followed); the final page."""
    with urllib.request.urlopen(link, timeout=30) as page:
        return str(page.read().decode())


@pytest.fixture
def guardedTeam(
    start: Any, home: Path, oauth: Callable[..., OAuthServer]
) -> tuple[RunningGateway, dict[str, dict[str, str]]]:
    server = oauth()
    config = writeConfig(
        home / "gateway.json", {"guarded": {"type": "http", "url": f"{server.base}/mcp"}}
    )
    path, headers = tokens(home, "alice", "bob")
    return start("--config", str(config), "--auth-tokens", str(path)), headers


def test_each_principal_signs_in_through_the_gateway_and_uses_only_its_own_token(
    guardedTeam: tuple[RunningGateway, dict[str, dict[str, str]]], home: Path
) -> None:
    """Alice's link gives alice a token, not bob; then bob's gives bob his."""
    gateway, headers = guardedTeam
    url = gateway.url("guarded")
    aliceLink = linkOf(url, headers["alice"])
    assert "mcpgateway login" not in aliceLink

    page = follow(aliceLink)
    assert "can now call guarded" in page
    assert call(url, headers["alice"], "alice") == "Echo: alice"

    bobLink = linkOf(url, headers["bob"])  # alice's token is not his
    assert bobLink != aliceLink
    assert "can now call guarded" in follow(bobLink)
    assert call(url, headers["bob"], "bob") == "Echo: bob"
    assert call(url, headers["alice"], "again") == "Echo: again"

    grants = TokenStore(home / "state").all()
    assert len(grants) == 2
    assert len({grant.principal for grant in grants}) == 2
    assert "" not in {grant.principal for grant in grants}  # not the gateway user's login
    assert len({grant.accessToken for grant in grants}) == 2


def test_a_link_is_refused_when_tampered_with_or_for_another_server(
    guardedTeam: tuple[RunningGateway, dict[str, dict[str, str]]],
) -> None:
    """A changed ticket, or a ticket moved to another server's path, is a 400 page."""
    gateway, headers = guardedTeam
    link = linkOf(gateway.url("guarded"), headers["alice"])
    for bad in (
        link[:-6] + ("AAAAAA" if not link.endswith("AAAAAA") else "BBBBBB"),
        link.replace("/oauth/start/guarded?", "/oauth/start/other?"),
    ):
        with pytest.raises(urllib.error.HTTPError) as refused:
            follow(bad)
        assert refused.value.code == 400
        assert refused.value.headers["cache-control"] == "no-store"
