"""What tests/integration/routing/test_shared_roots.py shares with the other tests:
promotions, text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mcp.types as types


def text(result: Any) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent), result
    return first.text


def promotions(home: Path) -> dict[str, Any]:
    path = home / "state" / "promotions.json"
    if not path.exists():
        return {}
    servers: dict[str, Any] = json.loads(path.read_text())["servers"]
    return servers
