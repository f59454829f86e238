"""The server cards (SEP-2127's draft) at C{/.well-known/mcp/server-card}:
made from the entry and the catalog without starting a child, behind the
Origin check, and behind the token on a gateway that authenticates."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway import __version__
from mcpgateway.core.catalogdata import Catalog
from mcpgateway.protocol import versions
from mcpgateway.web.pages.servercard import (
    SCHEMA,
    SERVERS_KEY,
    gatewayCard,
    namespaceOf,
    serverCard,
)
from tests.http import Harness, spec
from tests.support.web.team_web import PRINCIPALS, TeamHarness

TOOL = {"name": "search", "description": "Search", "inputSchema": {"type": "object"}}
CATALOG = Catalog(
    server="srv",
    catalogKey="",
    source="live",
    taken=0.0,
    digest="d",
    lists=MappingProxyType({"tools": (TOOL,), "prompts": (), "resources": ()}),
    serverInfo={"name": "child", "version": "1.2.3"},
    capabilities={"tools": {"listChanged": True}, "tasks": {}},
)
ALL_VERSIONS = [*versions.HANDSHAKE_VERSIONS, *versions.ERA2026_VERSIONS]


def test_a_servers_card_from_its_catalog() -> None:
    card = serverCard(spec("srv"), CATALOG, "http://127.0.0.1:9100", "127.0.0.1", False)
    assert card == {
        "$schema": SCHEMA,
        "name": "127.0.0.1/srv",
        "version": "1.2.3",
        "title": "child",
        "remotes": [
            {
                "type": "streamable-http",
                "url": "http://127.0.0.1:9100/srv/mcp",
                "supportedProtocolVersions": ALL_VERSIONS,
            }
        ],
        "capabilities": {"tools": {"listChanged": True}},
        "tools": [TOOL],
    }


def test_the_chosen_name_is_the_cards_title_and_nothing_listed_yet_is_no_primitive() -> None:
    chosen = dataclasses.replace(spec("srv"), displayName="Team search", era2026=False)
    card = serverCard(chosen, None, "https://gw.example.com", "com.example.gw", True)
    assert card["name"] == "com.example.gw/srv"
    assert card["title"] == "Team search"
    assert card["version"] == "unknown"
    assert card["capabilities"] == {}
    [remote] = card["remotes"]
    assert remote["supportedProtocolVersions"] == list(versions.HANDSHAKE_VERSIONS)
    assert remote["authentication"] == {"required": True, "schemes": ["bearer"]}
    assert "tools" not in card


def test_a_private_list_is_not_on_the_card() -> None:
    private = dataclasses.replace(CATALOG, private=frozenset({"tools"}))
    assert "tools" not in serverCard(spec("srv"), private, "http://h", "h", False)


def test_the_gateways_card_lists_where_its_servers_cards_are() -> None:
    card = gatewayCard(["a", "b"], "http://localhost:9100", "localhost", False)
    assert card["name"] == "localhost/mcpgateway"
    assert card["version"] == __version__
    assert card["remotes"][0]["url"] == "http://localhost:9100/mcp"
    assert card["_meta"][SERVERS_KEY] == [
        {"name": "a", "card": "http://localhost:9100/.well-known/mcp/server-card/a"},
        {"name": "b", "card": "http://localhost:9100/.well-known/mcp/server-card/b"},
    ]


@given(st.text(max_size=80))
def test_any_host_gives_a_namespace(host: str) -> None:
    assert "/" not in namespaceOf(host.replace("/", ""))


def test_namespaces() -> None:
    assert namespaceOf("gw.example.com") == "com.example.gw"
    assert namespaceOf("localhost") == "localhost"
    assert namespaceOf("[::1]") == "::1"
    assert namespaceOf("127.0.0.1") == "127.0.0.1"


def test_a_loopback_gateway_serves_its_cards_and_starts_no_child() -> None:
    h = Harness({"srv": spec("srv"), "other": spec("other")})
    response = h.request("GET", "/.well-known/mcp/server-card")
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["access-control-allow-origin"] == "*"
    card = response.json()
    assert [s["name"] for s in card["_meta"][SERVERS_KEY]] == ["other", "srv"]
    one = h.request("GET", "/.well-known/mcp/server-card/srv")
    assert one.status == 200
    assert one.json()["remotes"][0]["url"] == "http://127.0.0.1:9100/srv/mcp"
    assert h.request("GET", "/.well-known/mcp/server-card.json").status == 200
    assert h.request("GET", "/.well-known/mcp/server-card/nope").status == 404
    assert h.reactor.processes == []


def test_a_foreign_origin_gets_no_card() -> None:
    h = Harness()
    response = h.request(
        "GET", "/.well-known/mcp/server-card", headers={"origin": "https://evil.example"}
    )
    assert response.status == 403


def test_a_team_gateway_wants_the_token_and_shows_only_the_principals_servers() -> None:
    h = TeamHarness()
    assert h.request("GET", "/.well-known/mcp/server-card").status == 401
    assert h.request("GET", "/.well-known/mcp/server-card/srv").status == 401
    card: Any = h.as_("carol", "GET", "/.well-known/mcp/server-card").json()
    assert [s["name"] for s in card["_meta"][SERVERS_KEY]] == ["other"]
    assert card["remotes"][0]["authentication"]["required"] is True
    assert h.as_("carol", "GET", "/.well-known/mcp/server-card/srv").status == 404
    allowed = h.as_("alice", "GET", "/.well-known/mcp/server-card/srv")
    assert allowed.status == 200
    assert allowed.headers["cache-control"] == "private, max-age=60"
    assert h.reactor.processes == []


def test_a_verdict_that_comes_later_is_waited_for() -> None:
    h = TeamHarness()
    response = h.as_("slow", "GET", "/.well-known/mcp/server-card")
    assert not response.complete
    [pending] = h.gate.pending
    pending.callback(PRINCIPALS["bob"])
    assert response.status == 200
