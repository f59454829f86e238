"""What tests/ops/test_auditverify.py shares with the other tests: record,
rows, write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.task import Clock

from mcpgateway.ops.audit import AuditLog, AuditRecord
from tests.support.ops.audit import RECORDED


def record(n: int = 0, **kw: Any) -> AuditRecord:
    """The C{n}th record of alice's calls (L{RECORDED} otherwise), with C{kw}."""
    fields: dict[str, Any] = {
        **RECORDED,
        "ts": 1.5 + n,
        "principal": "alice",
        "arguments": {"text": f"call {n}"},
    }
    return AuditRecord(**{**fields, **kw})


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
