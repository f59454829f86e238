# -*- test-case-name: tests.runtime.test_addresses -*-
"""Whether a host name or address is this machine's loopback: the one check.

The gateway binds loopback by default, refuses a C{Host} that is not
loopback on such a listener (DNS rebinding), skips certificate checks only
for its own loopback TLS, and lets some endpoints (the management API's
writes, an issuer's plain-HTTP metadata) be used from this machine only;
all of these ask the same question, here. Standard library only: the
container's health probe (L{mcpgateway.healthcheck}) imports it without
Twisted.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})
"""The names every resolver maps to loopback (RFC 6761 reserves
C{localhost} and every name under it)."""


@lru_cache(maxsize=512)
def isLoopbackHost(host: str) -> bool:
    """Whether C{host} (a name or an address, IPv6 without brackets) is
    loopback: a name of L{LOOPBACK_NAMES}, a name under C{.localhost}, or
    an address in 127.0.0.0/8 or C{::1}."""
    host = host.lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
