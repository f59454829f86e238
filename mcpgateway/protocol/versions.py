# -*- test-case-name: tests.protocol.test_versions -*-
"""MCP protocol revisions the gateway speaks, and version negotiation."""

from __future__ import annotations

from enum import Enum
from typing import Any

HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
"""Revisions reached through C{initialize}; the gateway serves these."""

ERA2026_VERSIONS = ("2026-07-28",)
"""Revisions without C{initialize} or sessions (served per request)."""

LATEST = HANDSHAKE_VERSIONS[-1]
DEFAULT_WITHOUT_HEADER = "2025-03-26"
"""What a request without C{MCP-Protocol-Version} means (the transport spec)."""

ERA2026_META_KEY = "io.modelcontextprotocol/protocolVersion"


class Era(Enum):
    """Which revision family a request belongs to."""

    HANDSHAKE = "handshake"
    ERA2026 = "era2026"


def eraOf(message: Any, headerVersion: str | None) -> Era:
    """The era of one POSTed body, body first (as the SDKs classify): 2026
    when C{params._meta} carries the 2026 protocol version (a claim, any
    value: a malformed one is refused as 2026), or the method is
    C{server/discover}, or the C{MCP-Protocol-Version} header names a
    revision outside L{HANDSHAKE_VERSIONS} (a claim-less request then gets
    400/-32602); handshake otherwise. C{initialize} without the claim is handshake
    whatever the header says (the handshake by definition), and so is a body
    with an C{Mcp-Session-Id} but no claim (the header is the caller's, and
    it does not count here)."""
    if isinstance(message, dict):
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        if isinstance(meta, dict) and ERA2026_META_KEY in meta:
            return Era.ERA2026
        method = message.get("method")
        if method == "initialize":
            return Era.HANDSHAKE
        if method == "server/discover":
            return Era.ERA2026
    if headerVersion is not None and headerVersion not in HANDSHAKE_VERSIONS:
        return Era.ERA2026
    return Era.HANDSHAKE


def negotiate(requested: Any) -> str:
    """The version to answer a client's C{initialize} with: its own when
    supported, else the latest."""
    return requested if requested in HANDSHAKE_VERSIONS else LATEST


def isEra2026Request(message: dict[str, Any]) -> bool:
    """A 2026-era request by its body alone: C{server/discover}, or one
    carrying the 2026 protocol version in C{_meta}. It must never reach a
    child."""
    return eraOf(message, None) is Era.ERA2026
