# -*- test-case-name: tests.cluster.test_peer -*-
"""The credential of a request one replica forwards to another.

One job: seal the caller's principal, bound to the forwarded request
(method, path, session id, a digest of its body) and a short expiry, so the
owner trusts it without the client's token (which is never forwarded).
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime

from mcpgateway.auth.principal import Principal

HEADER = b"mcp-gateway-peer"


class PeerSeal:
    """Seals and opens the C{Mcp-Gateway-Peer} header."""

    def __init__(self, key: bytes, label: str, clock: IReactorTime, ttl: float = 30.0) -> None:
        raise NotImplementedError

    def seal(
        self, principal: Principal, method: bytes, path: bytes, sessionId: str, body: bytes
    ) -> str:
        raise NotImplementedError

    def open(
        self, value: str, method: bytes, path: bytes, sessionId: str, body: bytes
    ) -> Principal | None:
        """The principal C{value} carries for this very request, or C{None}."""
        raise NotImplementedError
