"""The journal of new sessions: appended and flushed at each new session,
read back beside C{sessions.json} at start, emptied once the file holds
them; a torn last line (a crash mid-append) is skipped."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.ops.sessionjournal import JOURNAL_NAME
from mcpgateway.ops.sessionstore import SessionStore
from tests.fakes import capturedGatewayLogs
from tests.support.ops.sessionstore import record


def test_a_new_session_survives_without_a_save(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions.json")
    store.remember(record("new-1"))
    journal = tmp_path / JOURNAL_NAME
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    again = SessionStore(tmp_path / "sessions.json")  # the next process, after a crash
    assert [r["id"] for r in again.load()] == ["new-1"]


def test_the_file_wins_and_a_save_empties_the_journal(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions.json")
    store.save([record("old", logLevel="debug")])
    store.remember(record("old"))  # also in the file: the file's record is newer
    store.remember(record("new"))
    loaded = SessionStore(tmp_path / "sessions.json").load()
    assert [(r["id"], r.get("logLevel")) for r in loaded] == [("old", "debug"), ("new", "info")]
    store.save([record("old", logLevel="debug"), record("new")])
    assert not (tmp_path / JOURNAL_NAME).exists()
    # A session that ended before the save is in neither: never brought back.
    store.remember(record("gone"))
    store.save([record("old", logLevel="debug"), record("new")])
    assert {r["id"] for r in SessionStore(tmp_path / "sessions.json").load()} == {"old", "new"}


def test_an_ended_session_is_not_brought_back_from_the_journal_or_the_file(
    tmp_path: Path,
) -> None:
    """A session ended after the last save (in the file) or before it (only
    in the journal) stays ended after a crash; the next save leaves it out
    and empties the journal."""
    store = SessionStore(tmp_path / "sessions.json")
    store.save([record("saved"), record("saved-ended")])
    store.remember(record("new"))
    store.remember(record("new-ended"))
    store.forget("saved-ended")
    store.forget("new-ended")
    again = SessionStore(tmp_path / "sessions.json")  # after a crash
    loaded = again.load()
    assert [r["id"] for r in loaded] == ["saved", "new"]
    again.save(loaded)
    assert not (tmp_path / JOURNAL_NAME).exists()
    assert {r["id"] for r in SessionStore(tmp_path / "sessions.json").load()} == {"saved", "new"}


def test_a_torn_last_line_is_skipped_and_said(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions.json")
    store.remember(record("whole"))
    with (tmp_path / JOURNAL_NAME).open("ab") as f:
        f.write(json.dumps(record("torn")).encode()[:40])
    with capturedGatewayLogs() as events:
        loaded = SessionStore(tmp_path / "sessions.json").load()
    assert [r["id"] for r in loaded] == ["whole"]
    assert any("line(s) skipped" in e["log_format"] for e in events)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_any_journal_bytes_load_without_raising(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as where:
        (Path(where) / JOURNAL_NAME).write_bytes(data)
        with capturedGatewayLogs():
            loaded = SessionStore(Path(where) / "sessions.json").load()
        assert all(isinstance(r["id"], str) for r in loaded)
