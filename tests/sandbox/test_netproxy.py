"""The network allow list: which hosts, ports and addresses a confined
child may reach through the proxy, and the request heads the proxy reads."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox.defaults import registryHosts
from mcpgateway.sandbox.netproxy import (
    AllowList,
    ProxyRequestError,
    addressOf,
    allowLine,
    isPublic,
    normalHost,
    parseHead,
    parseRule,
)

LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
HOST = st.lists(LABEL, min_size=1, max_size=4).map(".".join)


def test_an_exact_host_on_the_default_ports() -> None:
    allow = AllowList(("api.example.com",))
    assert allow.allows("api.example.com", 443) and allow.allows("api.example.com", 80)
    assert not allow.allows("api.example.com", 22)
    assert not allow.allows("example.com", 443) and not allow.allows("x.api.example.com", 443)


def test_a_wildcard_names_the_hosts_under_it_never_the_parent() -> None:
    allow = AllowList(("*.example.com",))
    assert allow.allows("a.example.com", 443) and allow.allows("a.b.example.com", 80)
    assert not allow.allows("example.com", 443)
    assert not allow.allows("badexample.com", 443)
    assert AllowList(("*.example.com", "example.com")).allows("example.com", 443)


def test_a_port_in_the_rule_is_the_only_port() -> None:
    allow = AllowList(("api.example.com:8443", "127.0.0.1:8000", "[::1]:9000"))
    assert allow.allows("api.example.com", 8443) and not allow.allows("api.example.com", 443)
    assert allow.allows("127.0.0.1", 8000) and not allow.allows("127.0.0.1", 8001)
    assert allow.allows("::1", 9000)


def test_denied_domains_win() -> None:
    allow = AllowList(("*.example.com",), ("evil.example.com",))
    assert allow.allows("good.example.com", 443) and not allow.allows("evil.example.com", 443)


def test_a_rule_that_is_no_host_allows_nothing() -> None:
    allow = AllowList(("bad host!", "a..b"))
    assert allow.allowed == ()


def test_hosts_are_compared_in_lower_case_without_the_trailing_dot() -> None:
    assert normalHost("API.Example.COM.") == "api.example.com"
    assert normalHost("[::FFFF:127.0.0.1]") == "127.0.0.1"
    with pytest.raises(ProxyRequestError):
        normalHost("a/b")


@settings(max_examples=200)
@given(st.lists(HOST, max_size=5), HOST, st.integers(1, 65535))
def test_a_host_no_rule_names_is_never_allowed(rules: list[str], host: str, port: int) -> None:
    allow = AllowList(tuple(rules))
    if allow.allows(host, port):
        assert host in rules


@settings(max_examples=200)
@given(HOST, st.integers(1, 65535))
def test_a_wildcard_never_allows_its_bare_parent(parent: str, port: int) -> None:
    assert not AllowList((f"*.{parent}",)).allows(parent, port)


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_any_rule_text_parses_or_is_refused_in_words(text: str) -> None:
    try:
        parseRule(text)
    except ProxyRequestError as e:
        assert str(e)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.1.1",
        "172.16.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "64:ff9b::7f00:1",
        "::",
        "255.255.255.255",
    ],
)
def test_local_addresses_are_not_public(address: str) -> None:
    assert not isPublic(ipaddress.ip_address(address))
    assert not AllowList(("example.com",)).addressAllowed(ipaddress.ip_address(address), 443)


@pytest.mark.parametrize("address", ["93.184.216.34", "203.0.113.80", "2606:4700::1"])
def test_addresses_beyond_this_machines_networks_are_public(address: str) -> None:
    assert isPublic(ipaddress.ip_address(address))


def test_a_local_address_is_allowed_only_when_named_literally_with_its_port() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    assert AllowList(("127.0.0.1:8000",)).addressAllowed(loopback, 8000)
    assert not AllowList(("127.0.0.1:8000",)).addressAllowed(loopback, 8001)
    assert not AllowList(("localhost:8000",)).addressAllowed(loopback, 8000)
    assert AllowList(("example.com",)).addressAllowed(ipaddress.ip_address("93.184.216.34"), 443)


def test_connect_names_host_and_port() -> None:
    request = parseHead(
        b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n"
    )
    assert (request.host, request.port, request.tunnel, request.head) == (
        "api.example.com",
        443,
        True,
        b"",
    )
    assert parseHead(b"CONNECT [::1]:22 HTTP/1.1\r\n\r\n").host == "::1"


def test_an_absolute_form_request_is_forwarded_in_origin_form_closing() -> None:
    request = parseHead(
        b"GET http://Example.com:8080/a/b?c=1 HTTP/1.1\r\nHost: example.com:8080\r\n"
        b"Proxy-Connection: keep-alive\r\nProxy-Authorization: x\r\nConnection: keep-alive\r\n"
        b"Accept: */*\r\n\r\n"
    )
    assert (request.host, request.port, request.tunnel) == ("example.com", 8080, False)
    assert request.head == (
        b"GET /a/b?c=1 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n"
        b"Connection: close\r\n\r\n"
    )


def test_a_request_without_a_host_header_gets_one_and_a_path() -> None:
    request = parseHead(b"GET http://example.com HTTP/1.0\r\n\r\n")
    assert request.port == 80
    assert request.head == b"GET / HTTP/1.0\r\nHost: example.com\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET https://example.com/ HTTP/1.1\r\n\r\n",
        b"CONNECT example.com HTTP/1.1\r\n\r\n",
        b"CONNECT example.com:0 HTTP/1.1\r\n\r\n",
        b"GET http://user@example.com/ HTTP/1.1\r\n\r\n",
        b"\xff\xfe\r\n\r\n",
        b"get http://example.com/ HTTP/1.1\r\n\r\n",
    ],
)
def test_what_the_proxy_does_not_serve_is_refused_in_words(head: bytes) -> None:
    with pytest.raises(ProxyRequestError):
        parseHead(head)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_any_head_parses_or_is_refused(head: bytes) -> None:
    try:
        request = parseHead(head)
    except ProxyRequestError:
        return
    assert 0 < request.port < 65536 and request.host == normalHost(request.host)


def test_the_line_that_allows_a_host() -> None:
    assert allowLine("api.example.com", 443) == (
        'add "api.example.com" to "sandbox": {"network": {"allowedDomains": [...]}}'
    )
    assert '"127.0.0.1:8000"' in allowLine("127.0.0.1", 8000)
    assert '"[::1]:22"' in allowLine("::1", 22)
    assert addressOf("nope") is None


def test_the_registries_the_environment_names_are_hosts_to_allow() -> None:
    environ = {
        "npm_config_registry": "https://npm.example.com/repo/",
        "UV_INDEX_URL": "http://pypi.internal:8080/simple",
        "PIP_EXTRA_INDEX_URL": "https://a.example https://b.example:443/x not-a-url",
        "UV_DEFAULT_INDEX": "ftp://nope.example/",
    }
    assert registryHosts(environ) == (
        "npm.example.com",
        "pypi.internal:8080",
        "a.example",
        "b.example",
    )
    assert registryHosts({}) == ()


def test_a_scopes_npm_registry_is_a_host_to_allow() -> None:
    """npm's registry of one scope (C{npm_config_@acme:registry}, in any
    case, as npm reads it) is one the install and an C{npx} child reach."""
    environ = {
        "npm_config_@acme:registry": "http://npm.acme.internal/",
        "NPM_CONFIG_@other:REGISTRY": "https://npm.other.example:8443/repo/",
        "npm_config_//npm.acme.internal/:_authToken": "https://not.a.registry/",
        "npm_config_@acme:other": "https://nope.example/",
    }
    assert registryHosts(environ) == ("npm.other.example:8443", "npm.acme.internal")
