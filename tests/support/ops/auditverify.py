"""What tests/ops/test_auditverify.py shares with the other tests: record,
rotatedTrail, rows, write."""

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


def rotatedTrail(folder: Path, records: int = 12) -> list[str]:
    """A trail the gateway rotated (1500-byte files, five kept): its files,
    oldest first."""
    path = folder / "audit.jsonl"
    clock = Clock()
    log = AuditLog(path, clock, rotateLength=1500, maxFiles=5, pid=100)
    log.startService()
    for n in range(records):
        log.record(record(n))
        clock.advance(1.0)
    log.stopService()
    rotated = sorted(
        (p for p in folder.iterdir() if p.name != "audit.jsonl"),
        key=lambda p: -int(p.name.rpartition(".")[2]),
    )
    return [str(p) for p in rotated] + [str(path)]
