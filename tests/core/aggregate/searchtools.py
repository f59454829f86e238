"""120 realistic tools in 12 domains (10 servers' worth each), for the
search tests: names, descriptions and parameters as real MCP servers write
them (the data: tests/fixtures/searchtools.json)."""

from __future__ import annotations

import json
from pathlib import Path

from mcpgateway.core.aggregate.search import SearchRow

_DATA = Path(__file__).resolve().parents[2] / "fixtures" / "searchtools.json"

_TOOLS: list[tuple[str, str, str, dict[str, str]]] = [
    (server, name, description, params)
    for server, name, description, params in json.loads(_DATA.read_text(encoding="utf-8"))
]
"""(server, tool, description, {parameter: description}), from
tests/fixtures/searchtools.json."""


def tools() -> list[tuple[str, str, dict[str, object]]]:
    """The 120 tools as (server, original name, tool definition)."""
    return [
        (
            server,
            name,
            {
                "name": name,
                "description": description,
                "inputSchema": {
                    "type": "object",
                    "properties": {
                        key: {"type": "string", "description": text} for key, text in params.items()
                    },
                },
            },
        )
        for server, name, description, params in _TOOLS
    ]


def rows() -> list[SearchRow]:
    """The 120 tools as search rows, named C{<server>__<tool>}."""
    from mcpgateway.core.aggregate.search import rowFromTool

    return [rowFromTool(f"{server}__{name}", server, tool) for server, name, tool in tools()]
