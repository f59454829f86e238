"""Where OAuth discovery may send the gateway, and what the documents it
reads must say of themselves: the kinds of addresses (literal, in the
resolver's other spellings, C{localhost}, and host names resolved by the
fetch's own resolver), the rule for an authorization server's endpoints
(public, unless the MCP server itself is not), the issuer an authorization
server's metadata names (RFC 8414 section 3.3) and the resource a
protected-resource metadata names (RFC 9728 section 3.3), through
L{discover} with a fake network."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.remote.oauth.discovery import (
    DiscoveryError,
    sameIssuer,
)
from mcpgateway.remote.oauth.hosts import HostRule, addressKind, hostKind
from mcpgateway.remote.oauth.login import HttpAnswer, LoginError, discover
from mcpgateway.remote.oauth.resources import canonicalResource, resourceCovers

SERVER = "https://mcp.example.com/mcp"
ISSUER = "https://auth.example.com"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("localhost", "loopback"),
        ("api.localhost", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fd00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("auth.example.com", None),
    ],
)
def test_each_kind_of_address(address: str, kind: str | None) -> None:
    assert addressKind(address) == kind


@given(st.text(max_size=80))
def test_any_host_text_is_judged_without_raising(host: str) -> None:
    assert addressKind(host) in (None, "loopback", "link-local", "private")


def test_a_name_is_judged_by_what_the_fetch_resolves_it_to() -> None:
    inside = {"metadata.internal": ["169.254.169.254"], "twice": ["8.8.8.8", "10.0.0.9"]}

    def resolve(host: str) -> list[str]:
        return inside.get(host, ["93.184.216.34"])

    assert hostKind("metadata.internal", resolve) == "link-local"
    assert hostKind("twice", resolve) == "private"
    assert hostKind("auth.example.com", resolve) is None
    assert hostKind("metadata.internal") is None  # no resolver: the name is not judged


def test_a_public_servers_authorization_server_must_be_public() -> None:
    rule = HostRule(SERVER)
    rule.check(f"{ISSUER}/token", "token endpoint")
    for url in (
        "http://127.0.0.1:8080/token",
        "https://169.254.169.254/latest",
        "https://10.0.0.5/register",
        "https://localhost/token",
        "https://[::1]:9000/token",
    ):
        with pytest.raises(DiscoveryError, match=r"token endpoint .* address"):
            rule.check(url, "token endpoint")


def test_a_local_servers_authorization_server_may_be_local_too() -> None:
    for server in ("http://127.0.0.1:9000/mcp", "http://10.0.0.4/mcp", "http://localhost:3000/mcp"):
        rule = HostRule(server)
        rule.check("http://127.0.0.1:9001/token", "token endpoint")
        rule.check("https://auth.example.com/token", "token endpoint")


# -- what the documents say of themselves ------------------------------------------------


def test_a_urls_canonical_resource() -> None:
    assert canonicalResource("HTTPS://MCP.Example.com:443/mcp/") == "https://mcp.example.com/mcp"
    assert canonicalResource("http://127.0.0.1:8080/mcp#x") == "http://127.0.0.1:8080/mcp"
    assert canonicalResource("https://[::1]:8443/") == "https://[::1]:8443"
    assert canonicalResource(SERVER) != canonicalResource("https://mcp.example.com/other")
    assert canonicalResource(SERVER) != canonicalResource("https://mcp.example.com:8443/mcp")


@given(st.text(max_size=120))
def test_any_url_has_a_canonical_form_without_raising(url: str) -> None:
    assert isinstance(canonicalResource(url), str)


def test_a_resource_covers_its_own_url_and_the_ones_below_it_on_its_origin() -> None:
    assert resourceCovers(SERVER, SERVER)
    assert resourceCovers("https://mcp.example.com", SERVER)
    assert resourceCovers("https://mcp.example.com/", SERVER)
    assert not resourceCovers("https://mcp.example.com/other", SERVER)
    assert not resourceCovers("https://mcp.example.com/mc", SERVER)
    assert not resourceCovers("https://evil.example/mcp", SERVER)
    assert not resourceCovers("http://mcp.example.com/mcp", SERVER)


def test_an_issuer_is_the_same_only_when_identical() -> None:
    assert sameIssuer(ISSUER, ISSUER)
    assert sameIssuer(ISSUER + "/", ISSUER)
    assert not sameIssuer("https://evil.example", ISSUER)
    assert not sameIssuer(ISSUER + "/tenant", ISSUER)
    assert not sameIssuer(ISSUER, ISSUER + "/tenant")


class Network:
    """The MCP server, its protected-resource metadata and its authorization
    server's metadata, as C{fetch} answers them; each can be changed."""

    def __init__(self, server: str = SERVER, issuer: str = ISSUER, **metadata: Any) -> None:
        self.server = server
        self.prm: dict[str, Any] = {"resource": server, "authorization_servers": [issuer]}
        self.metadata = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "registration_endpoint": f"{issuer}/register",
            "code_challenge_methods_supported": ["S256"],
            **metadata,
        }
        self.challenge = 'Bearer resource_metadata="' + server.replace("/mcp", "/prm") + '"'
        self.fetched: list[str] = []

    def __call__(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpAnswer:
        self.fetched.append(url)
        if url == self.server:
            return HttpAnswer(401, {"www-authenticate": self.challenge}, b"")
        if url.endswith("/prm"):
            return HttpAnswer(200, {}, json.dumps(self.prm).encode())
        if "/.well-known/oauth-authorization-server" in url:
            return HttpAnswer(200, {}, json.dumps(self.metadata).encode())
        return HttpAnswer(404, {}, b"")


def test_discovery_finds_the_authorization_server_the_documents_agree_on() -> None:
    resource, server, _ = discover(SERVER, Network())
    assert (resource, server.issuer, server.tokenEndpoint) == (SERVER, ISSUER, f"{ISSUER}/token")


def test_metadata_that_names_another_issuer_is_refused() -> None:
    network = Network()
    network.metadata["issuer"] = "https://evil.example"
    with pytest.raises(LoginError, match=r"names the issuer https://evil\.example"):
        discover(SERVER, network)


def test_protected_resource_metadata_for_another_resource_is_refused() -> None:
    for other in ("https://evil.example/mcp", "https://mcp.example.com/other"):
        network = Network()
        network.prm["resource"] = other
        with pytest.raises(LoginError, match="names another resource"):
            discover(SERVER, network)


def test_a_public_servers_endpoints_on_internal_addresses_are_refused_before_any_is_used() -> None:
    for name, url in (
        ("token_endpoint", "http://127.0.0.1:9999/token"),
        ("registration_endpoint", "https://169.254.169.254/register"),
        ("authorization_endpoint", "https://10.0.0.1/authorize"),
        ("revocation_endpoint", "https://localhost/revoke"),
    ):
        network = Network(**{name: url})
        with pytest.raises(LoginError, match="address"):
            discover(SERVER, network)
        assert url not in network.fetched


def test_a_challenge_that_points_at_an_internal_address_is_not_followed() -> None:
    network = Network()
    network.challenge = 'Bearer resource_metadata="https://169.254.169.254/latest/meta-data"'
    with pytest.raises(LoginError, match="link-local"):
        discover(SERVER, network)
    assert not any("169.254" in url for url in network.fetched)


def test_an_authorization_server_on_an_internal_address_is_refused() -> None:
    network = Network()
    network.prm["authorization_servers"] = ["http://127.0.0.1:7000"]
    with pytest.raises(LoginError, match=r"authorization server http://127\.0\.0\.1:7000"):
        discover(SERVER, network)
    assert not any("127.0.0.1" in url for url in network.fetched)


def test_a_name_the_fetch_resolves_to_an_internal_address_is_refused() -> None:
    network = Network(token_endpoint="https://tokens.example.net/token")
    network.resolve = lambda host: (  # type: ignore[attr-defined]
        ["10.9.8.7"] if host == "tokens.example.net" else ["93.184.216.34"]
    )
    with pytest.raises(LoginError, match=r"token endpoint .* private address"):
        discover(SERVER, network)


def test_a_local_test_server_keeps_its_local_authorization_server() -> None:
    """The integration fixtures: the MCP server and its authorization server
    both on 127.0.0.1."""
    local = "http://127.0.0.1:8123"
    network = Network(server=f"{local}/mcp", issuer=local)
    resource, server, _ = discover(f"{local}/mcp", network)
    assert (resource, server.issuer) == (f"{local}/mcp", local)
