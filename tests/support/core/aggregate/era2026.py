"""What tests/core/aggregate/test_era2026.py shares with the other tests:
era2026."""

from __future__ import annotations

from typing import Any

from mcpgateway.core.era2026.types import Era2026Request


def era2026(
    clientId: Any, method: str, params: dict[str, Any] | None = None, **fields: Any
) -> Era2026Request:
    return Era2026Request(clientId=clientId, method=method, params=params or {}, **fields)
