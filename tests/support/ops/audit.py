"""What tests/ops/test_audit.py shares with the other tests: RECORDED, lines,
record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcpgateway.ops.audit import AuditRecord

RECORDED: dict[str, Any] = {
    "ts": 1.5,
    "principal": "k",
    "session": "abcd1234",
    "server": "srv",
    "route": "global",
    "method": "tools/call",
    "tool": "echo",
    "outcome": "ok",
    "code": None,
    "status": 200,
    "durationMs": 2.0,
    "via": "token",
    "peer": "127.0.0.1",
}
"""The fields of an allowed C{tools/call} that went well, as an audit line
carries them."""


def record(outcome: str = "ok", payload: dict[str, Any] | None = None, **kw: Any) -> AuditRecord:
    """An L{AuditRecord} of L{RECORDED}, with C{outcome}, C{payload} and C{kw}."""
    return AuditRecord(**{**RECORDED, "outcome": outcome, "payload": payload, **kw})


CHAIN = ("kind", "seg", "n", "prev", "hash")


def lines(path: Path) -> list[dict[str, Any]]:
    """The request records of C{path}, without their chain's members."""
    out = []
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if entry["kind"] == "request":
            out.append({k: v for k, v in entry.items() if k not in CHAIN})
    return out
