"""Server identity end to end: a real gateway serving the bundled demo
(C{python -m mcpgateway.demo}) under entries that choose their
C{"serverInfo"}, the real Python SDK client, and the server cards over HTTP.

The chosen C{name} and C{title} are what every client sees: two sessions on
one shared child, a session with a child of its own, and a 2026-07-28
client (its C{server/discover} and the C{_meta} C{serverInfo} of its
answers), while the child's own C{version} is kept. The cards are served
without a child being started for them, carry the chosen title, and on a
gateway that authenticates want the bearer token.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcpgateway import __version__
from tests.integration.gateway import RunningGateway, writeConfig
from tests.support.auth.tokens import addToken

pytestmark = pytest.mark.integration

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
CHOSEN = {"name": "my-everything", "title": "My Everything"}
SCHEMA = "https://static.modelcontextprotocol.io/schemas/v1/server-card.schema.json"
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"
ERA2026 = "2026-07-28"


def identityConfig(home: Path) -> Path:
    """C{shared} (one child for all) and C{own} (a child per session), both
    with the chosen identity; C{plain} chooses nothing."""
    return writeConfig(
        home / "servers.json",
        {
            "shared": {**DEMO, "share": "global", "serverInfo": CHOSEN},
            "own": {**DEMO, "share": "session", "serverInfo": CHOSEN},
            "plain": {**DEMO, "share": "global"},
        },
    )


def get(url: str, token: str | None = None) -> tuple[int, dict[str, str], Any]:
    """C{GET url}: its status, its headers (lower-case names) and its JSON body."""
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, found, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, found, body = error.code, error.headers, error.read()
    return status, {k.lower(): v for k, v in found.items()}, json.loads(body or b"null")


async def handshakeIdentity(url: str) -> dict[str, Any]:
    """One C{initialize} session on C{url}: the C{serverInfo} it was given."""
    async with Client(url, mode="legacy") as client:
        await client.call_tool("echo", {"message": "hello"})
        assert client.server_info is not None
        return client.server_info.model_dump(exclude_none=True)


async def twoAtOnce(url: str) -> list[dict[str, Any]]:
    """Two C{initialize} sessions on C{url} open at the same time."""
    async with Client(url, mode="legacy") as first, Client(url, mode="legacy") as second:
        infos = [first.server_info, second.server_info]
        await first.call_tool("echo", {"message": "one"})
        await second.call_tool("echo", {"message": "two"})
    return [info.model_dump(exclude_none=True) for info in infos if info is not None]


async def era2026Identity(url: str) -> dict[str, Any]:
    """A 2026-07-28 client on C{url} (the SDK's C{auto}: C{server/discover}
    first): its revision, the C{serverInfo} of C{server/discover}, and the
    C{_meta} C{serverInfo} of a tool call's answer."""
    async with Client(url, mode="auto") as client:
        echo = await client.call_tool("echo", {"message": "era2026"})
        assert client.server_info is not None
        return {
            "version": client.protocol_version,
            "discover": client.server_info.model_dump(exclude_none=True),
            "answer": (echo.meta or {}).get(SERVER_INFO_META),
        }


def test_every_kind_of_session_sees_the_chosen_server_info(start: Any, home: Path) -> None:
    gateway: RunningGateway = start("--config", str(identityConfig(home)))
    expected = {**CHOSEN, "version": __version__}

    assert anyio.run(twoAtOnce, gateway.url("shared")) == [expected, expected]
    assert gateway.health()["servers"]["shared"]["children"] == 1  # both on one child
    assert anyio.run(handshakeIdentity, gateway.url("own")) == expected
    assert gateway.health()["servers"]["own"]["share"] == "session"
    # An entry that chooses nothing shows the child's own name.
    plain = anyio.run(handshakeIdentity, gateway.url("plain"))
    assert plain["name"] == "mcpgateway-demo" and "title" not in plain

    era2026 = anyio.run(era2026Identity, gateway.url("shared"))
    assert era2026["version"] == ERA2026
    assert era2026["discover"] == expected
    assert era2026["answer"] is not None
    assert {key: era2026["answer"][key] for key in CHOSEN} == CHOSEN
    # A session's own child is not served 2026: the client falls back to
    # initialize, which carries the chosen name too.
    fallback = anyio.run(era2026Identity, gateway.url("own"))
    assert fallback["version"] != ERA2026 and fallback["discover"] == expected


def test_the_cards_start_no_child_and_carry_the_chosen_title(start: Any, home: Path) -> None:
    gateway: RunningGateway = start("--config", str(identityConfig(home)))
    base = f"http://127.0.0.1:{gateway.port}"

    status, headers, card = get(f"{base}/.well-known/mcp/server-card")
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    assert headers["access-control-allow-origin"] == "*"
    assert headers["cache-control"] == "public, max-age=60"
    assert card["$schema"] == SCHEMA
    assert card["name"] == "127.0.0.1/mcpgateway"
    assert card["version"] == __version__
    assert card["remotes"][0]["url"] == f"{base}/mcp"
    assert card["_meta"]["mcpgateway/servers"] == [
        {"name": name, "card": f"{base}/.well-known/mcp/server-card/{name}"}
        for name in ("own", "plain", "shared")
    ]

    status, _, never = get(f"{base}/.well-known/mcp/server-card/shared")
    assert status == 200
    assert never["name"] == "127.0.0.1/shared"
    assert never["title"] == "My Everything"
    assert never["version"] == "unknown"  # no child has run yet
    assert never["capabilities"] == {} and "tools" not in never
    assert never["remotes"][0]["url"] == f"{base}/shared/mcp"
    assert "authentication" not in never["remotes"][0]
    assert get(f"{base}/.well-known/mcp/server-card.json")[0] == 200
    assert get(f"{base}/.well-known/mcp/server-card/nope")[0] == 404
    servers = gateway.health()["servers"]
    assert [servers[name]["children"] for name in ("shared", "own", "plain")] == [0, 0, 0]

    anyio.run(handshakeIdentity, gateway.url("shared"))
    status, _, known = get(f"{base}/.well-known/mcp/server-card/shared")
    assert status == 200
    assert known["title"] == "My Everything"
    assert known["version"] == __version__  # the child's own version
    assert "tools" in known["capabilities"]
    assert sorted(tool["name"] for tool in known["tools"]) == ["add", "echo", "sample", "slow"]


def test_an_authenticating_gateway_wants_the_token_for_a_card(start: Any, home: Path) -> None:
    tokens = home / "tokens.json"
    alice = addToken(tokens, "alice", ["shared"])
    gateway: RunningGateway = start(
        "--config", str(identityConfig(home)), "--auth-tokens", str(tokens)
    )
    base = f"http://127.0.0.1:{gateway.port}/.well-known/mcp/server-card"

    assert get(base)[0] == 401
    assert get(f"{base}/shared")[0] == 401
    status, headers, card = get(base, alice)
    assert status == 200
    assert headers["cache-control"] == "private, max-age=60"
    assert [s["name"] for s in card["_meta"]["mcpgateway/servers"]] == ["shared"]
    status, _, shared = get(f"{base}/shared", alice)
    assert status == 200 and shared["title"] == "My Everything"
    assert shared["remotes"][0]["authentication"] == {"required": True, "schemes": ["bearer"]}
    assert get(f"{base}/own", alice)[0] == 404  # not hers: as if unknown
