# -*- test-case-name: tests.protocol.test_versions -*-
"""MCP protocol revisions the gateway speaks, and version negotiation (the
era a POSTed body belongs to is read from its envelope:
L{mcpgateway.protocol.envelope.eraOf})."""

from __future__ import annotations

from typing import Any

HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
"""Revisions reached through C{initialize}; the gateway serves these."""

ERA2026_VERSIONS = ("2026-07-28",)
"""Revisions without C{initialize} or sessions (served per request)."""

LATEST = HANDSHAKE_VERSIONS[-1]
DEFAULT_WITHOUT_HEADER = "2025-03-26"
"""What a request without C{MCP-Protocol-Version} means (the transport spec)."""

ERA2026_META_KEY = "io.modelcontextprotocol/protocolVersion"


def negotiate(requested: Any) -> str:
    """The version to answer a client's C{initialize} with: its own when
    supported, else the latest."""
    return requested if requested in HANDSHAKE_VERSIONS else LATEST
