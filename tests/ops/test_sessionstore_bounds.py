"""The sessions file never loses every session for one bad record: a
record too big is not saved, the file stays under its read limit,
and a record that cannot be used is skipped on load, the others restored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mcpgateway.ops.sessionlines import encodeLine
from mcpgateway.ops.sessionstore import (
    CORRUPT_SUFFIX,
    FOOTER,
    HEADER,
    MAX_BYTES,
    MAX_RECORD_BYTES,
    SessionStore,
    encode,
)
from tests.fakes import capturedGatewayLogs
from tests.support.ops.sessionstore import record


def sessionLines(events: list[Any]) -> list[Any]:
    return [e for e in events if "sessions file" in (e.get("log_format") or "")]


def ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["id"] for r in records)


def test_one_huge_record_is_left_out_and_the_others_survive_a_restart(tmp_path: Path) -> None:
    """As reported: 20 sessions of 3.5 MB capabilities each (70 MB) made
    the next process set the whole file aside; now only they are lost."""
    path = tmp_path / "sessions.json"
    legit = [record(f"legit{n}", lastActivity=1000.0 + n) for n in range(3)]
    fat = [
        record(f"fat{n}", capabilities={"experimental": {"pad": "x" * 3_500_000}})
        for n in range(20)
    ]
    store = SessionStore(path)
    with capturedGatewayLogs() as events:
        store.save(legit + fat)
        store.save(legit + fat)  # unchanged: logged once
    [line] = sessionLines(events)
    assert line["count"] == 20 and f"a record over {MAX_RECORD_BYTES} bytes" in line["why"]
    assert path.stat().st_size < MAX_BYTES
    restarted = SessionStore(path)
    with capturedGatewayLogs() as events:
        assert restarted.load() == legit
    assert sessionLines(events) == []
    restarted.save(legit)
    assert restarted.writes == 0  # what it read is what it would write


def test_the_file_stays_under_its_limit_keeping_the_sessions_active_last(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    records = [record(f"s{n:02}", lastActivity=float(n)) for n in range(40)]
    one = len(encodeLine(records[-1]))  # the longest (a two-digit time)
    store = SessionStore(path, maxBytes=10 * (one + 2) + len(HEADER) + len(FOOTER) + 1)
    with capturedGatewayLogs() as events:
        store.save(records)
    assert path.stat().st_size <= store.maxBytes
    [line] = sessionLines(events)
    assert line["count"] == 30 and "the file would be over" in line["why"]
    assert ids(SessionStore(path, maxBytes=store.maxBytes).load()) == [
        f"s{n:02}" for n in range(30, 40)
    ]


def test_a_bad_record_on_disk_is_skipped_and_the_others_restored(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    good = [record("a"), record("b"), record("c")]
    lines = encode(good).split(b"\n")
    # a record that is not JSON, one that is not a session, one too long, a duplicate
    lines[2:2] = [
        b'{"id": "broken",',
        json.dumps(record("x", clientPid=True)).encode() + b",",
        b'{"id": "y", "pad": "' + b"p" * 5000 + b'"},',
        json.dumps(record("a")).encode() + b",",
    ]
    path.write_bytes(b"\n".join(lines))
    with capturedGatewayLogs() as events:
        loaded = SessionStore(path, maxRecordBytes=4096).load()
    assert loaded == good
    assert path.exists() and not (tmp_path / ("sessions.json" + CORRUPT_SUFFIX)).exists()
    [line] = sessionLines(events)
    assert line["count"] == 4 and line["restored"] == 3
    for words in ("not JSON", "clientPid", "over 4096 bytes", "appears twice"):
        assert words in line["why"]


def test_a_file_cut_short_keeps_what_it_has(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    data = encode([record("a"), record("b")])
    path.write_bytes(data[: data.index(b"\n", len(HEADER)) + 1] + b'{"id": "b", "ser')
    with capturedGatewayLogs() as events:
        assert ids(SessionStore(path).load()) == ["a"]
    [line] = sessionLines(events)
    assert "ends early" in line["why"]


def test_a_file_over_the_read_limit_gives_the_records_before_it(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    records = [record(f"s{n:02}") for n in range(20)]
    path.write_bytes(encode(records))
    limit = len(HEADER) + 5 * (len(json.dumps(records[0])) + 2)
    with capturedGatewayLogs() as events:
        assert ids(SessionStore(path, maxBytes=limit).load()) == [f"s{n:02}" for n in range(5)]
    [line] = sessionLines(events)
    assert f"beyond {limit} bytes" in line["why"]


def test_a_big_one_line_file_of_an_earlier_version_is_still_set_aside(tmp_path: Path) -> None:
    """The layout before: one line, no way to read part of it."""
    path = tmp_path / "sessions.json"
    old = json.dumps({"format": 1, "sessions": [record(f"s{n}") for n in range(5)]})
    path.write_text(old)
    assert ids(SessionStore(path).load()) == [f"s{n}" for n in range(5)]
    with capturedGatewayLogs() as events:
        assert SessionStore(path, maxBytes=len(old) - 1).load() == []
    assert "larger than" in sessionLines(events)[0]["why"]
    assert (tmp_path / ("sessions.json" + CORRUPT_SUFFIX)).exists()


def test_an_earlier_version_reads_the_file_as_one_document() -> None:
    """A downgrade keeps the sessions: the line layout is the same JSON."""
    records = [record("a"), record("b", capabilities={"x": "line\nbreak"})]
    data = encode(records)
    assert data.count(b"\n") == len(records) + 2  # a line each, and the first and last
    assert json.loads(data) == {"format": 1, "sessions": records}
    assert json.loads(encode([])) == {"format": 1, "sessions": []}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    count=st.integers(1, 6),
    broken=st.integers(0, 5),
    garbage=st.binary(max_size=200).filter(lambda b: b"\n" not in b),
)
@example(count=2, broken=0, garbage=b"]}")  # a closing line in a record's place
def test_any_one_broken_line_costs_that_session_only(
    tmp_path: Path, count: int, broken: int, garbage: bytes
) -> None:
    broken %= count
    records = [record(f"s{n}") for n in range(count)]
    lines = encode(records).split(b"\n")
    lines[1 + broken] = garbage
    path = tmp_path / "sessions.json"
    path.write_bytes(b"\n".join(lines))
    with capturedGatewayLogs():
        loaded = SessionStore(path).load()
    expected = [r for n, r in enumerate(records) if n != broken]
    # the garbage might be a session of its own, or be empty: never the others' loss
    assert [r for r in loaded if r["id"] != f"s{broken}"] == expected
