# -*- test-case-name: tests.core.test_pool -*-
"""MCP protocol revisions the gateway speaks, and version negotiation."""

from __future__ import annotations

from enum import Enum
from typing import Any

HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
"""Revisions reached through C{initialize}; the gateway serves these."""

MODERN_VERSIONS = ("2026-07-28",)
"""Revisions without C{initialize} or sessions; not served yet (answered -32601)."""

LATEST = HANDSHAKE_VERSIONS[-1]
DEFAULT_WITHOUT_HEADER = "2025-03-26"
"""What a request without C{MCP-Protocol-Version} means (the transport spec)."""

MODERN_META_KEY = "io.modelcontextprotocol/protocolVersion"

SUPPORTED_ANY = MODERN_VERSIONS + tuple(reversed(HANDSHAKE_VERSIONS))
"""Every revision served, newest first (C{data.supported} of a -32022)."""


class Era(Enum):
    """Which revision family a request belongs to."""

    LEGACY = "legacy"
    MODERN = "modern"


def eraOf(message: Any, headerVersion: str | None) -> Era:
    """The era of one POSTed body, body first (as the SDKs classify): modern
    when C{params._meta} carries the modern protocol version, or the method
    is C{server/discover}, or the C{MCP-Protocol-Version} header names a
    revision outside L{HANDSHAKE_VERSIONS}; legacy otherwise (C{initialize}
    without the claim included)."""
    raise NotImplementedError


def negotiate(requested: Any) -> str:
    """The version to answer a client's C{initialize} with: its own when
    supported, else the latest."""
    return requested if requested in HANDSHAKE_VERSIONS else LATEST


def isModernRequest(message: dict[str, Any]) -> bool:
    """A 2026-era request: C{server/discover}, or one carrying the modern
    protocol version in C{_meta}. It must never reach a child."""
    if message.get("method") == "server/discover":
        return True
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and MODERN_META_KEY in meta
