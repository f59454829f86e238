# -*- test-case-name: tests.cli.test_status,tests.cli.test_doctor -*-
"""What a C{/health} answer says, read defensively: the answer comes from
whatever listens on the port (this gateway, an older one, another program),
so every malformed part is left out or counted as zero, never trusted."""

from __future__ import annotations

from typing import Any


def count(value: Any) -> int:
    """C{value} when it is an integer (not a bool), else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def healthServers(health: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The C{servers} of a C{/health} answer (malformed parts left out)."""
    servers = health.get("servers")
    if not isinstance(servers, dict):
        return {}
    return {str(name): server for name, server in servers.items() if isinstance(server, dict)}


def resolutionOf(server: dict[str, Any]) -> tuple[str, str] | None:
    """A server's npx/uvx resolution in C{/health}: C{(state, detail)}; C{None}
    when it has none (not an npx/uvx server, or resolution is off)."""
    resolution = server.get("resolution")
    if not isinstance(resolution, dict) or not isinstance(resolution.get("state"), str):
        return None
    detail = resolution.get("detail")
    return resolution["state"], detail if isinstance(detail, str) else ""


LIVENESS = "liveness"
"""C{/health}'s C{"detail"} when it tells only that the gateway lives (a
gateway that requires tokens, to a caller without an admin's token)."""


def livenessOnly(health: dict[str, Any]) -> bool:
    """Whether a C{/health} answer tells only that the gateway lives: no
    server, session or figure is in it (they are hidden, not absent)."""
    return health.get("detail") == LIVENESS
