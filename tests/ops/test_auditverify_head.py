"""The head of an audit trail is sealed: its first record is the start of a
segment on an empty file, and every later file begins with its rotation's
record, naming the file before it and its place in the trail. So C{audit
verify} tells a trail cut at its head (a lone, never rotated file among
them) from a whole one, and a file given without the files before it is
reported as not proven rather than intact."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.ops.audit import AuditLog
from mcpgateway.ops.auditchain import Chain, fileSeq, lastHash
from mcpgateway.ops.auditverify import verify
from tests.support.ops.auditverify import record, rotatedTrail, rows, write

KEY = b"k" * 32


def twoSegments(path: Path, key: bytes | None = None) -> list[bytes]:
    """A trail of one file, never rotated, written by two processes one
    after the other: its lines."""
    write(path, 3, pid=100, key=key)
    write(path, 2, pid=200, key=key)
    return rows(path)


def test_a_whole_trail_begins_with_its_start(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    twoSegments(path)
    result = verify([str(path)])
    assert result.intact and result.headProven
    assert (result.begins, result.after, result.anchored) == ("start", None, 0)


def test_a_lone_trail_cut_at_its_head_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = twoSegments(path)
    first = json.loads(lines[2])
    path.write_bytes(b"".join(lines[2:]))
    result = verify([str(path)])
    assert result.problem is not None, result
    assert (result.problem.file, result.problem.line) == (str(path), 1)
    assert result.problem.kind == "removed"
    assert result.problem.detail.startswith(
        f"the trail begins with record 2 of segment {first['seg']} (kind 'request', after hash"
        f" {first['prev'][:12]}), not where a trail or a file of it begins: the start of a"
        " segment on an empty file (record 0, kind 'segment', no previous hash) or a rotation"
    )


def test_a_trail_cut_to_its_second_segment_is_named(tmp_path: Path) -> None:
    """The second process's start names what it followed: without it, cut."""
    path = tmp_path / "audit.jsonl"
    lines = twoSegments(path, key=KEY)
    second = next(i for i, line in enumerate(lines) if b'"kind":"segment"' in line and i)
    path.write_bytes(b"".join(lines[second:]))
    problem = verify([str(path)], KEY).problem
    assert problem is not None and (problem.line, problem.kind) == (1, "removed")
    assert "record 0 of segment 200." in problem.detail and "kind 'segment'" in problem.detail


def test_a_rotated_trail_verifies_and_each_file_says_its_place(tmp_path: Path) -> None:
    files = rotatedTrail(tmp_path)
    assert len(files) >= 3
    assert [fileSeq(path) for path in files] == list(range(len(files)))
    for before, after in itertools.pairwise(files):
        head = json.loads(Path(after).read_bytes().splitlines()[0])
        assert head["kind"] == "rotated" and head["last"] == lastHash(before)
    result = verify(files)
    assert result.intact and result.headProven and result.begins == "start"


def test_a_rotated_pair_verifies(tmp_path: Path) -> None:
    files = rotatedTrail(tmp_path, records=4)
    assert len(files) == 2
    result = verify(files)
    assert result.intact and result.headProven and result.anchored == 0


def test_a_lone_rotated_later_file_is_not_proven(tmp_path: Path) -> None:
    files = rotatedTrail(tmp_path)
    result = verify([files[-1]])
    assert result.intact  # nothing in it is bad...
    assert not result.headProven  # ...but nothing before it is checked
    assert result.begins == "rotated" and result.anchored == 1
    assert result.after == {
        "in": files[-1],
        "file": "audit.jsonl.1",
        "last": lastHash(files[-2]),
        "seq": len(files) - 1,
    }
    assert result.json()["headProven"] is False


def test_the_oldest_files_rotated_away_are_not_proven_either(tmp_path: Path) -> None:
    files = rotatedTrail(tmp_path)
    result = verify(files[2:])
    assert result.intact and not result.headProven
    assert result.after is not None and result.after["seq"] == 2


def test_a_rotated_file_cut_at_its_head_is_named(tmp_path: Path) -> None:
    files = rotatedTrail(tmp_path)
    last = Path(files[-1])
    last.write_bytes(b"".join(rows(last)[1:]))
    problem = verify([str(last)]).problem
    assert problem is not None and (problem.line, problem.kind) == (1, "removed")


def test_a_rotation_written_before_files_said_their_place_is_read(tmp_path: Path) -> None:
    """An older writer's rotation has no C{seq}: read as a place not known."""
    path = tmp_path / "audit.jsonl"
    chain = Chain(100)
    chain.start(1.0, "a" * 64)  # in the file before
    path.write_bytes(chain.rotated(2.0, "audit.jsonl.1", "b" * 64) + b"\n")
    assert fileSeq(str(path)) is None
    result = verify([str(path)])
    assert result.intact and not result.headProven
    assert result.after is not None and result.after["seq"] is None


def test_a_start_written_to_a_full_file_does_not_rotate_it(tmp_path: Path) -> None:
    """Only a flush rotates, beginning the new file with the rotation's
    record: a successor that starts on a full file starts in it."""
    path = tmp_path / "audit.jsonl"
    write(path, 20, pid=100)
    size = path.stat().st_size
    clock = Clock()
    log = AuditLog(path, clock, rotateLength=size // 2, maxFiles=5, pid=200)
    log.startService()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.jsonl"]
    assert json.loads(rows(path)[-1])["kind"] == "segment"
    log.record(record(1))
    clock.advance(1.0)
    head = json.loads(rows(path)[0])
    assert (head["kind"], head["file"], head["seq"]) == ("rotated", "audit.jsonl.1", 1)
    log.stopService()
    assert verify([str(tmp_path / "audit.jsonl.1"), str(path)]).headProven
    assert not verify([str(path)]).headProven


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(1, 8), keyed=st.booleans())
def test_no_cut_of_a_trails_head_is_intact_and_proven(
    tmp_path_factory: Any, cut: int, keyed: bool
) -> None:
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    lines = twoSegments(path, KEY if keyed else None)
    path.write_bytes(b"".join(lines[cut:]))
    result = verify([str(path)], KEY if keyed else None)
    assert not (result.intact and result.headProven), result


@settings(max_examples=300, deadline=None)
@given(picks=st.lists(st.integers(0, 6), max_size=10), keyed=st.booleans())
def test_only_a_head_of_the_trail_is_intact_and_proven(
    tmp_path_factory: Any, picks: list[int], keyed: bool
) -> None:
    """A file of a trail's lines in any order, any cut, any repeated: it
    verifies as intact from its start only when it is the trail's first
    lines in their order."""
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    lines = twoSegments(path, KEY if keyed else None)
    assert len(lines) == 9
    path.write_bytes(b"".join(lines[pick] for pick in picks))
    result = verify([str(path)], KEY if keyed else None)
    if result.intact and result.headProven:
        assert picks == list(range(len(picks))), result
