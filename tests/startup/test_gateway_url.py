"""The URL principals' login links start with: the gateway's canonical URI
when it has one (behind a proxy, the only one a browser reaches), else the
address it listens on, its port known once it listens."""

from __future__ import annotations

from mcpgateway.startup.team import GatewayUrl


def test_the_resource_uris_origin_wins() -> None:
    url = GatewayUrl("tcp:8080:interface=127.0.0.1", "https://mcp.example.com/mcp")
    url.listening(8080)
    assert url() == "https://mcp.example.com"


def test_without_one_the_listening_address_and_port() -> None:
    url = GatewayUrl("tcp:0:interface=127.0.0.1", None)
    url.listening(43210)
    assert url() == "http://127.0.0.1:43210"


def test_an_ipv6_interface_is_bracketed() -> None:
    url = GatewayUrl("tcp6:0:interface=\\:\\:1", None)
    url.listening(5)
    assert url() == "http://[::1]:5"
