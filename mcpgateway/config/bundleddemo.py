# -*- test-case-name: tests.config.test_servers -*-
"""The bundled demo server: its entry, its route, and the client entries
that point at it.

The gateway serves the demo when it has no config (the README's first
command), and goes on serving it for a client pointed at its route by
hand (the README's next one, C{claude mcp add --transport http demo
...}, which writes the C{~/.claude.json} the gateway serves from then on).
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlsplit

DEMO_ROUTE = "/demo/mcp"
"""The bundled demo's route."""


def demoConfig() -> dict[str, Any]:
    """The bundled demo: one stdio server shipped in this package."""
    return {"mcpServers": {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}}}


def pointsAtDemo(entry: Any) -> bool:
    """Whether C{entry} is a remote one naming this machine's L{DEMO_ROUTE}."""
    url = entry.get("url") if isinstance(entry, dict) else None
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return parts.scheme in ("http", "https") and local and parts.path.rstrip("/") == DEMO_ROUTE
