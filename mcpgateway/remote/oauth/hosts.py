# -*- test-case-name: tests.remote.oauth.test_oauth_hosts -*-
"""Which hosts OAuth discovery may send the gateway to.

A remote server's metadata names the URLs the gateway then fetches or
posts to itself: other metadata, the registration and token endpoints. A
hostile server could name an address inside the gateway's network (a
cloud's metadata service on a link-local address, an admin port on
loopback, a private host) and have the gateway send requests there. So an
authorization server's endpoints must be on public addresses, unless the
MCP server itself is on a loopback, private or link-local one (a server the
operator runs nearby, as the tests' fixtures on 127.0.0.1 are: its
authorization server may be nearby too).

Literal addresses (in any form the resolver reads, C{2130706433} and
C{127.1} included) and the C{localhost} names are judged as they are; a
host name is judged by the addresses it resolves to when the fetch that
will reach it says how it resolves names (L{Resolve}), which the CLI and
the gateway's login pages do off the reactor's thread (the resolver
blocks). Standard library only: the CLI uses it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from mcpgateway.remote.oauth.discovery import DiscoveryError
from mcpgateway.runtime.addresses import isLoopbackHost

Resolve = Callable[[str], list[str]]
"""A host name to the addresses it resolves to (C{[]}: it does not)."""

_NUMERIC = re.compile(r"[0-9a-fA-Fx.]+")
"""What C{inet_aton} may read as an IPv4 address (C{0x7f.1}, C{2130706433})."""


def addressKind(address: str) -> str | None:
    """What kind of non-public address C{address} (an IP address, or a
    C{localhost} name) is: C{"loopback"}, C{"link-local"} or C{"private"}
    (any other address the public internet does not route: RFC 1918,
    unique local, shared, reserved, unspecified); C{None} for a public
    address, or for a name that is not an address."""
    if isLoopbackHost(address):
        return "loopback"
    ip = _literal(address)
    if ip is None:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return "loopback"  # 0.0.0.0 and :: reach this machine
    if ip.is_link_local:
        return "link-local"
    if ip.is_global and not ip.is_multicast:
        return None
    return "private"


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def resolveHost(host: str) -> list[str]:
    """The addresses C{host} resolves to (blocks: call it off the reactor's
    thread); C{[]} when it does not resolve (the fetch then fails on its own)."""
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in found})


def hostKind(host: str, resolve: Resolve | None = None) -> str | None:
    """L{addressKind} of C{host}, or of the first non-public address it
    resolves to (with C{resolve}); C{None}: public, as far as is known."""
    kind = addressKind(host)
    if kind is not None or resolve is None or _literal(host) is not None:
        return kind
    for address in resolve(host):
        kind = addressKind(address)
        if kind is not None:
            return kind
    return None


class HostRule:
    """Where discovery for the MCP server at C{serverUrl} may go.

    @param resolve: how the fetch resolves host names (C{None}: literal
        addresses and C{localhost} only are judged).
    """

    def __init__(self, serverUrl: str, resolve: Resolve | None = None) -> None:
        self.serverUrl = serverUrl
        self._resolve = resolve
        host = urlsplit(serverUrl).hostname or ""
        self.serverKind = hostKind(host, resolve) if host else None
        """The server's own kind of address (C{None}: public)."""

    def check(self, url: str, what: str) -> None:
        """Refuse C{url} (C{what} says what it is) when it is on a
        non-public address and the MCP server is not.

        @raise DiscoveryError: it is."""
        if self.serverKind is not None:
            return
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            host = ""
        kind = hostKind(host, self._resolve) if host else None
        if kind is not None:
            raise DiscoveryError(
                f"the {what} {url[:200]} is on a {kind} address, and the MCP server at"
                f" {self.serverUrl} is not: refused (a server must not send the gateway"
                " into its own network)"
            )
