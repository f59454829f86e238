"""Cache scopes end to end: a real 2026-07-28 server that lists C{private}
behind a team gateway (static tokens), and the real Python SDK client in
2026-07-28 mode on C{/mcp}. Each principal is served its own listing of
the server, never another's; what the aggregate lists says C{private};
a list of C{ttlMs: 0} is listed again for each list request, and one of a
longer C{ttlMs} is not until it runs out."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.gateway import REPO, RunningGateway
from tests.support.auth.tokens import addToken

pytestmark = pytest.mark.integration
FIXTURE = REPO / "tests" / "fixtures" / "private_lists_server.py"
ERA2026 = "2026-07-28"


def listSecret(url: str, token: str) -> tuple[str, str, int]:
    """(the description of C{vault__secret}, the list's cacheScope, its ttlMs)
    as the SDK's 2026-07-28 client of C{token} is served them."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async def main() -> tuple[str, str, int]:
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, mode=ERA2026) as client:
                listed = await client.list_tools(cache_mode="bypass")
                (secret,) = [tool for tool in listed.tools if tool.name == "vault__secret"]
                return str(secret.description), listed.cache_scope, listed.ttl_ms

    return anyio.run(main)


def gatewayWith(start: Any, home: Path, ttl: int) -> tuple[RunningGateway, str, str]:
    tokens = home / "tokens.json"
    alice, bob = addToken(tokens, "alice"), addToken(tokens, "bob")
    vault = {"command": sys.executable, "args": [str(FIXTURE), str(ttl)], "share": "global"}
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"vault": vault}}))
    # --pins off: the server's one tool changes its description at each listing.
    gateway: RunningGateway = start(
        "--config", str(config), "--auth-tokens", str(tokens), "--pins", "off"
    )
    return gateway, alice, bob


def test_a_private_list_is_each_principals_own(start: Any, home: Path) -> None:
    gateway, alice, bob = gatewayWith(start, home, 60_000)
    url = f"http://127.0.0.1:{gateway.port}/mcp"
    seen: dict[str, set[str]] = {"alice": set(), "bob": set()}
    for who, token in (("alice", alice), ("bob", bob), ("alice", alice), ("bob", bob)):
        description, scope, ttl = listSecret(url, token)
        assert (scope, ttl) == ("private", 0)
        seen[who].add(description)
    # Fresh for a minute: each is served its own catalog again, never the other's.
    assert len(seen["alice"]) == 1 and len(seen["bob"]) == 1
    assert seen["alice"] != seen["bob"]


def test_a_list_is_listed_again_once_its_ttl_runs_out(start: Any, home: Path) -> None:
    gateway, alice, _ = gatewayWith(start, home, 3000)
    url = f"http://127.0.0.1:{gateway.port}/mcp"
    first, _, _ = listSecret(url, alice)
    assert listSecret(url, alice)[0] == first  # fresh: served from alice's catalog
    time.sleep(3.2)
    assert listSecret(url, alice)[0] != first


def test_a_ttl_of_zero_is_listed_again_for_each_list(start: Any, home: Path) -> None:
    gateway, alice, _ = gatewayWith(start, home, 0)
    url = f"http://127.0.0.1:{gateway.port}/mcp"
    assert listSecret(url, alice)[0] != listSecret(url, alice)[0]
