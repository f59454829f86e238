"""What tests/cli/test_start_routes.py shares with the other tests: healthOf,
serversAnswer."""

from __future__ import annotations

from typing import Any

from tests.cli.support import HEALTH


def serversAnswer(routes: dict[str, list[str]]) -> dict[str, Any]:
    """C{GET /api/v1/servers} of a gateway whose servers have these route keys."""
    return {
        "servers": [
            {
                "name": name,
                **HEALTH["servers"]["context7"],
                "routes": [
                    {"key": key, "path": f"/{name}~{key}/mcp" if key else f"/{name}/mcp"}
                    for key in keys
                ],
            }
            for name, keys in routes.items()
        ]
    }


def healthOf(*names: str) -> dict[str, Any]:
    return {**HEALTH, "servers": {name: HEALTH["servers"]["context7"] for name in names}}
