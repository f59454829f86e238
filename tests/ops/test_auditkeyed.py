"""The keyed audit chain (L{mcpgateway.ops.auditkey}): the key made once,
mode 0600, never in the log's folder; a keyed trail verifies with its key;
one whose denied records were dropped and the chain sealed again without
the key is caught; an old unkeyed trail still verifies, said to be
unkeyed; without the key only a keyed trail's structure is checked."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.core.decision import Decision
from mcpgateway.ops.auditchain import MAC, canonical
from mcpgateway.ops.auditkey import (
    KEY_BYTES,
    AuditKeyError,
    keyPath,
    loadOrCreateKey,
    misplacedKey,
    readKey,
)
from mcpgateway.ops.auditverify import verify
from tests.support.ops.auditverify import record, rows, write

KEY = bytes(range(KEY_BYTES))
DENIED = Decision("denied", ("forbid-delete",), "a policy forbids it")


def writeWithDenials(path: Path, key: bytes | None) -> None:
    """A trail of five requests, the second and fourth denied."""
    from twisted.internet.task import Clock

    from mcpgateway.ops.audit import AuditLog

    log = AuditLog(path, Clock(), pid=100, key=key)
    log.startService()
    for n in range(5):
        log.record(record(n, decision=DENIED if n % 2 else None))
    log.stopService()


def resealed(path: Path, keep: Any, after: str | None = None) -> bytes:
    """What someone who can write the log but not read the key makes of
    it: the records C{keep} takes (it may edit them), numbered and chained
    again from C{after}, each sealed with what they have (SHA-256)."""
    kept = [e for e in (json.loads(line) for line in rows(path)) if keep(e)]
    prev = after
    out = b""
    for n, entry in enumerate(kept):
        entry.pop("hash")
        entry["n"], entry["prev"] = n, prev
        if entry["kind"] == "end":
            entry["records"] = len(kept)
        body = canonical(entry)
        prev = hashlib.sha256(body).hexdigest()
        out += body[:-1] + b',"hash":"' + prev.encode() + b'"}\n'
    return out


def notDenied(entry: dict[str, Any]) -> bool:
    return bool(entry.get("decision") != "denied")


def test_a_keyed_trail_names_its_mac_and_verifies_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writeWithDenials(path, KEY)
    entries = [json.loads(line) for line in rows(path)]
    assert entries[0]["kind"] == "segment"
    assert all(e["mac"] == MAC for e in entries)
    result = verify([str(path)], KEY)
    assert result.intact and result.records == 7
    assert (result.keyed, result.unkeyed, result.unchecked) == (1, 0, 0)
    assert result.integrity == "checked"


def test_a_trail_resealed_without_the_key_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writeWithDenials(path, KEY)
    path.write_bytes(resealed(path, notDenied))
    result = verify([str(path)], KEY)
    assert result.problem is not None
    assert (result.problem.line, result.problem.kind) == (1, "edited")
    assert "MAC does not match" in result.problem.detail


def test_a_trail_resealed_as_unkeyed_after_a_keyed_segment_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writeWithDenials(path, KEY)
    later = tmp_path / "later.jsonl"
    writeWithDenials(later, KEY)

    def unkeyed(entry: dict[str, Any]) -> bool:
        entry.pop("mac", None)
        return notDenied(entry)

    # a keyed segment sealed again as unkeyed, on the keyed trail before it
    forged = resealed(later, unkeyed, json.loads(rows(path)[-1])["hash"])
    with path.open("ab") as f:
        f.write(forged)
    alone = tmp_path / "alone.jsonl"
    alone.write_bytes(forged)
    # alone, a trail sealed again whole as unkeyed can only be said to be unkeyed
    assert verify([str(alone)], KEY).integrity == "unkeyed"
    result = verify([str(path)], KEY)
    assert result.problem is not None and result.problem.kind == "edited"
    assert "starts unkeyed after keyed segments" in result.problem.detail


def test_the_wrong_key_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writeWithDenials(path, KEY)
    result = verify([str(path)], bytes(KEY_BYTES))
    assert result.problem is not None and result.problem.line == 1


def test_an_old_unkeyed_trail_still_verifies_and_is_said_to_be_unkeyed(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 3)
    for key in (None, KEY):
        result = verify([str(path)], key)
        assert result.intact and result.records == 5
        assert (result.keyed, result.unkeyed, result.unchecked) == (0, 1, 0)
        assert result.integrity == "unkeyed"


def test_without_the_key_a_keyed_trail_is_checked_for_its_structure_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    writeWithDenials(path, KEY)
    result = verify([str(path)])
    assert result.intact and result.unchecked == 7 and result.integrity == "structure"
    lines = rows(path)
    del lines[2]
    path.write_bytes(b"".join(lines))
    result = verify([str(path)])
    assert result.problem is not None and result.problem.kind == "removed"


def test_the_key_is_made_once_mode_0600_and_read_again(tmp_path: Path) -> None:
    path = tmp_path / "state" / "audit.key"
    path.parent.mkdir()
    key = loadOrCreateKey(path)
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == key.hex() + "\n"
    assert loadOrCreateKey(path) == key == readKey(path)
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]  # no temp file left


def test_a_key_others_may_read_or_that_is_malformed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_text("00" * KEY_BYTES + "\n")
    os.chmod(path, 0o644)
    with pytest.raises(AuditKeyError, match="mode 0644"):
        loadOrCreateKey(path)
    os.chmod(path, 0o600)
    path.write_text("not hex")
    with pytest.raises(AuditKeyError, match="64 hex digits") as refused:
        loadOrCreateKey(path)
    assert "not hex" not in str(refused.value)


def test_a_key_in_the_logs_own_folder_is_misplaced(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "audit.jsonl"
    (tmp_path / "logs").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "logs")
    for key in (tmp_path / "logs" / "audit.key", tmp_path / "link" / "k"):
        why = misplacedKey(key, log)
        assert why is not None and "\n" not in why and "--audit-key-file" in why
    assert misplacedKey(tmp_path / "state" / "audit.key", log) is None
    assert keyPath(None, tmp_path / "state") == tmp_path / "state" / "audit.key"
    assert keyPath(str(tmp_path / "k"), tmp_path / "state") == tmp_path / "k"
