"""What tests/ops/test_sessionstore.py shares with the other tests: record."""

from __future__ import annotations

from typing import Any


def record(sessionId: str = "abc_DEF-123", **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": sessionId,
        "server": "srv",
        "protocolVersion": "2025-11-25",
        "capabilities": {"roots": {}},
        "clientInfo": {"name": "claude-code", "version": "2"},
        "logLevel": "info",
        "subscriptions": ["file:///a"],
        "clientPid": 1234,
        "created": 1000.0,
        "lastActivity": 1010.5,
        "scope": "",
        "credential": "",
        "principal": "",
    }
    return {**base, **changes}
