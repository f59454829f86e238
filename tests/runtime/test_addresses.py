"""The one loopback check: names, addresses, and what is not loopback."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.runtime.addresses import isLoopbackHost


def test_loopback_names_and_addresses() -> None:
    for host in ("localhost", "LOCALHOST", "localhost.", "ip6-localhost", "a.localhost"):
        assert isLoopbackHost(host), host
    for host in ("127.0.0.1", "127.9.8.7", "::1"):
        assert isLoopbackHost(host), host


def test_what_is_not_loopback() -> None:
    for host in ("", "0.0.0.0", "::", "10.0.0.1", "example.com", "localhost.example.com", "[::1]"):
        assert not isLoopbackHost(host), host


@given(st.ip_addresses())
def test_an_address_is_loopback_exactly_when_the_standard_library_says(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    assert isLoopbackHost(str(address)) == address.is_loopback


@given(st.text(max_size=60))
def test_any_text_is_answered(host: str) -> None:
    assert isinstance(isLoopbackHost(host), bool)
