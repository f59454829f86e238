"""The sessions file: written atomically with mode 0600 and only when it
changed; a corrupt or unreadable one is moved aside with one log line and
the gateway starts with no sessions."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.ops.sessionstore import CORRUPT_SUFFIX, CorruptSessions, SessionStore, encode, parse
from tests.fakes import capturedGatewayLogs
from tests.support.ops.sessionstore import record


def test_a_file_without_scope_keys_loads_with_the_global_route() -> None:
    """Files written before scopes (and principals) existed: their sessions
    are on the global route, opened with no authentication."""
    old = {k: v for k, v in record().items() if k not in ("scope", "credential", "principal")}
    [loaded] = parse(encode([old]))
    assert (loaded["scope"], loaded["credential"], loaded["principal"]) == ("", "", "")


def test_the_principal_key_round_trips_and_a_bad_one_is_corrupt() -> None:
    one = record(principal="mfrggzdfmztwq2lk")
    assert parse(encode([one])) == [one]
    for bad in ("alice@example.com", "x" * 65, 7, None):
        with pytest.raises(CorruptSessions, match="principal"):
            parse(encode([record(principal=bad)]))


def test_scope_keys_round_trip_and_a_bad_one_is_corrupt() -> None:
    one = record(scope="abcdefgh23456789", credential="k2")
    assert parse(encode([one])) == [one]
    with pytest.raises(CorruptSessions):
        parse(encode([record(scope="../../etc")]))


def test_round_trip_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    store = SessionStore(path)
    assert store.load() == []
    store.save([record()])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SessionStore(path).load() == [record()]


def test_unchanged_records_are_not_written_again(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions.json")
    store.save([record()])
    store.save([record()])
    assert store.writes == 1
    store.save([record(lastActivity=2000.0)])
    assert store.writes == 2


def test_a_corrupt_file_is_moved_aside_with_one_log_line(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    path.write_bytes(b'{"format": 1, "sessions": [{"id": 3')
    with capturedGatewayLogs() as events:
        assert SessionStore(path).load() == []
    assert not path.exists()
    assert (tmp_path / ("sessions.json" + CORRUPT_SUFFIX)).exists()
    lines = [e for e in events if "sessions file" in (e.get("log_format") or "")]
    assert len(lines) == 1


def test_an_unreadable_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    path.mkdir()  # reading it fails with an OSError, as a permission error would
    with capturedGatewayLogs() as events:
        assert SessionStore(path).load() == []
    assert (tmp_path / ("sessions.json" + CORRUPT_SUFFIX)).is_dir()
    assert len([e for e in events if "sessions file" in (e.get("log_format") or "")]) == 1


def test_records_that_are_not_what_the_store_writes_are_refused() -> None:
    for bad in (
        record(id=""),
        record(id="a b"),
        record(clientPid=True),
        record(created=float("nan")),
        record(subscriptions=[1]),
        record(capabilities=[]),
    ):
        try:
            parse(json.dumps({"format": 1, "sessions": [bad]}).encode())
        except CorruptSessions:
            continue
        raise AssertionError(f"accepted {bad!r}")
    try:
        parse(encode([record(), record()]))
    except CorruptSessions:
        pass
    else:
        raise AssertionError("accepted a duplicate id")


session_files = st.lists(
    st.builds(record, st.from_regex(r"[A-Za-z0-9_-]{1,16}", fullmatch=True)), max_size=3
).map(encode)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=300)
    | session_files
    | session_files.flatmap(lambda data: st.integers(0, len(data)).map(lambda cut: data[:cut]))
)
def test_parse_refuses_any_bytes_only_with_corrupt_sessions(data: bytes) -> None:
    """Any bytes (random, a file L{encode} wrote, or one cut short) are
    refused with L{CorruptSessions}, or read as records that L{encode}
    writes back as they were read."""
    try:
        records = parse(data)
    except CorruptSessions:
        return
    assert parse(encode(records)) == records


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(st.text(max_size=5), json_values, max_size=3),
    st.lists(st.text(max_size=20), max_size=3, unique=True),
    st.floats(0, 2e9),
)
def test_what_is_saved_is_what_is_loaded(
    capabilities: dict[str, Any], subscriptions: list[str], created: float
) -> None:
    one = record(capabilities=capabilities, subscriptions=subscriptions, created=created)
    assert parse(encode([one])) == [one]


def test_whether_a_child_served_the_session_round_trips() -> None:
    served = {**record(), "called": True}
    assert parse(encode([served])) == [served]
    [listedOnly] = parse(encode([{**record(), "called": "yes"}]))
    assert "called" not in listedOnly  # only a true flag is kept


def test_an_aggregate_sessions_members_round_trip_and_a_bad_one_is_corrupt() -> None:
    member = {
        "server": "solo",
        "id": "m-1",
        "scope": "",
        "protocolVersion": "2025-11-25",
        "logLevel": "error",
        "subscriptions": ["file:///a"],
        "created": 1000.0,
        "called": True,
    }
    aggregate = {"endpoint": "default", "mode": "full", "members": [member]}
    one = {**record(server="/mcp"), "aggregate": aggregate}
    assert parse(encode([one])) == [one]
    for bad in (
        {**member, "id": "a b"},
        {**member, "scope": "../x"},
        {**member, "subscriptions": [1]},
        {**member, "created": float("inf")},
        {k: v for k, v in member.items() if k != "server"},
    ):
        with pytest.raises(CorruptSessions, match="member"):
            parse(encode([{**one, "aggregate": {**aggregate, "members": [bad]}}]))
    twice = {**aggregate, "members": [member, {**member, "id": "m-2"}]}
    with pytest.raises(CorruptSessions, match="member"):
        parse(encode([{**one, "aggregate": twice}]))
