"""The sessions file made of lines each encoded once: whatever the order
of the changes, the file is byte for byte the one every record encoded
again would make (its size bound included), and a save given one change
encodes one record."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mcpgateway.ops.sessionlines import SessionLines, decodeLine, encodeLine, fileBytes
from mcpgateway.ops.sessionstore import SessionStore, encode, encodeBounded
from tests.support.ops.sessionstore import record

IDS = st.sampled_from([f"s{n}" for n in range(12)])
CHANGE = st.one_of(
    st.tuples(st.just("put"), IDS, st.integers(0, 5), st.integers(0, 300)),
    st.tuples(st.just("drop"), IDS, st.just(0), st.just(0)),
)


def made(lines: SessionLines) -> tuple[bytes, dict[str, str]]:
    order, entries, leftOut = lines.snapshot()
    return fileBytes([entries[sessionId][1] for sessionId in order]), leftOut


@settings(max_examples=200, deadline=None)
@given(
    changes=st.lists(st.lists(CHANGE, max_size=8), max_size=6),
    maxBytes=st.sampled_from([10**9, 3000, 1200, 60]),
)
def test_the_kept_lines_make_the_file_every_record_encoded_again_makes(
    changes: list[list[tuple[str, str, int, int]]], maxBytes: int
) -> None:
    lines = SessionLines(maxBytes, 400)
    current: dict[str, dict[str, Any]] = {}
    for batch in changes:
        for kind, sessionId, activity, pad in batch:
            if kind == "put":
                current[sessionId] = record(
                    sessionId, lastActivity=float(activity), clientInfo={"name": "x" * pad}
                )
                lines.put(current[sessionId])
            else:
                current.pop(sessionId, None)
                lines.drop(sessionId)
        assert made(lines) == encodeBounded(list(current.values()), maxBytes, 400)


def test_a_save_of_one_change_encodes_one_record(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions.json")
    records = [record(f"s{n:04}", lastActivity=float(n)) for n in range(1000)]
    store.save(records)
    before = store.lines.encoded
    records[500] = record("s0500", lastActivity=5000.0, logLevel="debug")
    store.saveChanges([records[500]], ())
    assert store.lines.encoded - before == 1
    assert store.path.read_bytes() == encode(records) and store.writes == 2


def test_an_ended_session_leaves_the_file_without_any_encoding(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions.json")
    records = [record(f"s{n}") for n in range(50)]
    store.save(records)
    before = store.lines.encoded
    store.saveChanges([], ["s7"])
    assert store.lines.encoded == before
    assert store.path.read_bytes() == encode([r for r in records if r["id"] != "s7"])
    assert {r["id"] for r in SessionStore(store.path).load()} == {
        r["id"] for r in records if r["id"] != "s7"
    }


def test_no_change_hands_nothing_over(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions.json")
    store.save([record("a")])
    store.saveChanges([record("a")], ())  # encoded again, the same line
    store.saveChanges([], ())
    assert store.writes == 1


def test_a_kept_line_holds_its_own_bytes_only() -> None:
    """A line is kept per session: it holds what it says, not the buffer the
    encoder wrote it into (orjson's bytes keep 4 KiB for a line of 300)."""
    lines = SessionLines(10**9, 10**6)
    records = [record(f"s{n:05}") for n in range(500)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for each in records:
            lines.put(each)
        grown = (tracemalloc.get_traced_memory()[0] - before) / len(records)
    finally:
        tracemalloc.stop()
    assert grown < 1024, grown


@example(-(2**63) - 1)  # beyond 64 bits: orjson writes none and reads it as a float
@example(2**64)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=12,
    )
)
def test_every_line_reads_back_as_its_record(value: Any) -> None:
    """Whichever encoder writes a line (orjson, or the standard library
    for what orjson refuses: an integer beyond 64 bits, a lone surrogate)
    and whichever reads it, the record read is the record written."""
    written = {"id": "s", "clientInfo": value}
    line = encodeLine(written)
    assert b"\n" not in line
    assert decodeLine(line, refuse) == written
    assert json.loads(line) == written


def refuse(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
