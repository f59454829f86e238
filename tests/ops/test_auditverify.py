"""The audit trail's chain: sealed lines, segments of two writers (a
restart's hand-over), rotation, and C{audit verify} naming the first bad
record of a trail with a line removed, edited, reordered, or a file missing."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.core.decision import Decision
from mcpgateway.ops.audit import AuditLog
from mcpgateway.ops.auditchain import canonical, digest, lastHash, seal
from mcpgateway.ops.auditverify import verify
from tests.support.ops.auditverify import record, rows, write


def test_a_sealed_line_is_its_canonical_body_and_the_hash_of_it() -> None:
    line, hexed = seal({"b": 1, "a": "é"})
    assert line == b'{"a":"\\u00e9","b":1,"hash":"' + hexed.encode() + b'"}'
    assert json.loads(line)["hash"] == hexed
    assert canonical({"b": 1, "a": "é"}) == b'{"a":"\\u00e9","b":1}'
    assert digest({"b": [1, 2], "a": None}) == digest({"a": None, "b": [1, 2]})


def test_every_record_names_the_hash_before_it_and_the_trail_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 5)
    entries = [json.loads(line) for line in rows(path)]
    assert [e["kind"] for e in entries] == ["segment"] + ["request"] * 5 + ["end"]
    assert entries[0]["prev"] is None and entries[0]["pid"] == 100
    for before, after in itertools.pairwise(entries):
        assert after["prev"] == before["hash"]
    assert entries[1]["argsDigest"] == digest({"text": "call 0"})
    assert entries[-1]["records"] == 7
    result = verify([str(path)])
    assert result.intact and result.records == 7 and result.open == []


def test_a_decision_is_recorded_with_its_policies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, Clock())
    log.startService()
    log.record(record(decision=Decision("denied", ("no-prod-writes",), "refused by policy")))
    log.record(record(decision=Decision("limited", ("per-user",), "rate", retryAfter=19.330089092)))
    log.stopService()
    denied, limited = [json.loads(line) for line in rows(path)][1:3]
    assert (denied["decision"], denied["policies"], denied["reason"]) == (
        "denied",
        ["no-prod-writes"],
        "refused by policy",
    )
    assert (limited["decision"], limited["retryAfter"]) == ("limited", 19.33)  # to the ms


def test_payloads_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(
        path,
        Clock(),
        payloads=True,
        redact=lambda server: lambda text: text.replace("hunter22", "${keyring:pw}"),
    )
    log.startService()
    log.record(record(payload={"arguments": {"apiKey": "k-123", "note": "hunter22 said"}}))
    log.stopService()
    entry = json.loads(rows(path)[1])
    assert entry["payload"]["arguments"] == {"apiKey": "[redacted]", "note": "${keyring:pw} said"}
    assert verify([str(path)]).intact


def test_a_removed_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 5)
    lines = rows(path)
    del lines[2]
    path.write_bytes(b"".join(lines))
    result = verify([str(path)])
    assert result.problem is not None
    assert (result.problem.line, result.problem.kind) == (3, "removed")
    assert "record 2 of segment" in result.problem.detail


def test_an_edited_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 5)
    lines = rows(path)
    lines[3] = lines[3].replace(b'"principal":"alice"', b'"principal":"mallo"')
    path.write_bytes(b"".join(lines))
    problem = verify([str(path)]).problem
    assert problem is not None
    assert (problem.line, problem.kind) == (4, "edited")


def test_an_edited_and_resealed_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 5)
    lines = rows(path)
    entry = json.loads(lines[2])
    del entry["hash"]
    entry["principal"] = "mallory"
    lines[2] = seal(entry)[0] + b"\n"
    path.write_bytes(b"".join(lines))
    problem = verify([str(path)]).problem
    assert problem is not None
    assert (problem.file, problem.line, problem.kind) == (str(path), 3, "edited")


def test_reordered_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 5)
    lines = rows(path)
    lines[2], lines[3] = lines[3], lines[2]
    path.write_bytes(b"".join(lines))
    problem = verify([str(path)]).problem
    assert problem is not None
    assert (problem.line, problem.kind) == (3, "reordered")
    assert f"{path}:4" in problem.detail


def test_a_cut_last_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 2)
    path.write_bytes(path.read_bytes()[:-5])
    problem = verify([str(path)]).problem
    assert problem is not None and problem.kind == "truncated"


def test_two_writers_of_a_restart_interleave_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    old = AuditLog(path, clock, pid=100)
    old.startService()
    old.record(record(0))
    clock.advance(1.0)
    new = AuditLog(path, clock, pid=200)
    new.startService()  # reads the old one's last hash before it writes
    for n in range(1, 4):
        old.record(record(n))
        new.record(record(n, principal="bob"))
        clock.advance(1.0)
    old.stopService()
    new.record(record(9, principal="bob"))
    new.stopService()
    entries = [json.loads(line) for line in rows(path)]
    starts = [e for e in entries if e["kind"] == "segment"]
    assert [s["pid"] for s in starts] == [100, 200]
    assert starts[1]["prev"] == entries[1]["hash"]  # the old segment's record it found
    assert {e["seg"] for e in entries} == {old.chain.seg, new.chain.seg}
    result = verify([str(path)])
    assert result.intact and result.segments == 2 and result.open == []
    lines = rows(path)
    victim = next(i for i, e in enumerate(entries) if e["seg"] == new.chain.seg and e["n"] == 2)
    del lines[victim]
    path.write_bytes(b"".join(lines))
    problem = verify([str(path)]).problem
    assert problem is not None and problem.kind == "removed"
    assert f"record 2 of segment {new.chain.seg}" in problem.detail
    assert problem.line > victim  # the next record of that segment, which names it


def test_a_restart_before_the_predecessor_recorded_anything_verifies(tmp_path: Path) -> None:
    """The predecessor's segment starts in the file at once: its successor
    does not take the file for empty when nothing was recorded yet."""
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    old = AuditLog(path, clock, pid=100)
    old.startService()
    new = AuditLog(path, clock, pid=200)
    new.startService()
    new.record(record(0))
    old.stopService()
    new.stopService()
    entries = [json.loads(line) for line in rows(path)]
    starts = [e for e in entries if e["kind"] == "segment"]
    assert [s["prev"] for s in starts] == [None, starts[0]["hash"]]
    result = verify([str(path)])
    assert result.intact, result.problem
    assert result.segments == 2 and result.open == []


def test_the_segment_names_the_process_that_started_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """twistd forks between the log's making and its start: the segment
    names the daemon, not the process that exited."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, Clock())
    monkeypatch.setattr(os, "getpid", lambda: 4242)  # daemonized
    log.startService()
    log.stopService()
    start = json.loads(rows(path)[0])
    assert (start["kind"], start["pid"]) == ("segment", 4242)
    assert start["seg"].startswith("4242.") and log.chain.seg == start["seg"]


def test_a_thread_runner_that_cannot_run_still_anchors_the_segment(tmp_path: Path) -> None:
    """A reactor without a thread pool: the last hash is read at once."""
    path = tmp_path / "audit.jsonl"
    write(path, 2, pid=100)
    before = lastHash(str(path))

    def noThreads(f: Any, *args: Any) -> Any:
        raise AttributeError("no thread pool")

    log = AuditLog(path, Clock(), pid=200, threads=noThreads)
    log.startService()
    log.record(record(5))
    log.stopService()
    second = [json.loads(line) for line in rows(path)][4:]
    assert (second[0]["kind"], second[0]["prev"]) == ("segment", before)
    assert verify([str(path)]).intact


def test_a_new_segment_anchored_to_what_is_not_there_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 2, pid=100)
    write(path, 2, pid=200)
    lines = rows(path)
    path.write_bytes(b"".join(lines[:1] + lines[5:]))  # the first segment's records gone
    problem = verify([str(path)]).problem
    assert problem is not None and problem.kind == "removed"


def rotated(tmp_path: Path) -> list[str]:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    log = AuditLog(path, clock, rotateLength=1500, maxFiles=5, pid=100)
    log.startService()
    for n in range(12):
        log.record(record(n))
        clock.advance(1.0)
    log.stopService()
    names = sorted(
        (p.name for p in tmp_path.iterdir()),
        key=lambda name: -int(name.rpartition(".")[2] or 0) if name[-1].isdigit() else 0,
    )
    return [str(tmp_path / name) for name in names]


def test_rotation_names_the_file_before_and_the_trail_verifies(tmp_path: Path) -> None:
    files = rotated(tmp_path)
    assert len(files) >= 3 and files[-1].endswith("audit.jsonl")
    first = json.loads(Path(files[1]).read_bytes().splitlines()[0])
    assert first["kind"] == "rotated" and first["file"] == "audit.jsonl.1"
    assert first["last"] == lastHash(files[0])
    result = verify(files)
    assert result.intact, result.problem
    assert result.anchored == 0 and result.files == len(files)


def test_a_missing_file_of_the_rotation_is_named(tmp_path: Path) -> None:
    files = rotated(tmp_path)
    del files[1]
    problem = verify(files).problem
    assert problem is not None and problem.kind == "removed"
    assert (problem.file, problem.line) == (files[1], 1)


def test_a_trail_whose_oldest_files_were_rotated_away_is_anchored(tmp_path: Path) -> None:
    files = rotated(tmp_path)
    result = verify(files[1:])
    assert result.intact and result.anchored == 1


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_single_byte_change_is_detected(tmp_path_factory: Any, data: st.DataObject) -> None:
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    write(path, 3, payloads=True)
    raw = bytearray(path.read_bytes())
    where = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[where]))
    raw[where] = byte
    path.write_bytes(bytes(raw))
    assert not verify([str(path)]).intact
