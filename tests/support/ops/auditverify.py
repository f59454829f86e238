"""What tests/ops/test_auditverify.py shares with the other tests: record,
rows, write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.task import Clock

from mcpgateway.ops.audit import AuditLog, AuditRecord


def record(n: int = 0, **kw: Any) -> AuditRecord:
    fields: dict[str, Any] = {
        "ts": 1.5 + n,
        "principal": "alice",
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
        "arguments": {"text": f"call {n}"},
    }
    fields.update(kw)
    return AuditRecord(**fields)


def write(path: Path, count: int, pid: int = 100, **kw: Any) -> AuditLog:
    """A log that wrote C{count} records to C{path} and was closed."""
    log = AuditLog(path, Clock(), pid=pid, **kw)
    log.startService()
    for n in range(count):
        log.record(record(n))
    log.stopService()
    return log


def rows(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)
