"""The session store's writes off the reactor thread: the sessions file and
a new session's journal line are written by jobs of a thread runner (here
one the test drives by hand), one at a time and in the order asked for; a
save asked for while one is written stands for the saves still waiting;
each call's Deferred fires once its write (and every one before) is done;
a crash at any point between the jobs loses no session and brings back
none that ended."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred

from mcpgateway.ops import sessionstore
from mcpgateway.ops.sessionjournal import JOURNAL_NAME
from mcpgateway.ops.sessionstore import SessionStore
from tests.fakes import HandThreads, capturedGatewayLogs
from tests.support.ops.sessionstore import record


def fired(d: Deferred[Any] | None) -> list[Any]:
    """What C{d} fired with so far (a list the test reads later)."""
    seen: list[Any] = []
    assert d is not None
    d.addBoth(seen.append)
    return seen


def afterCrash(path: Path) -> set[str]:
    """The sessions a gateway started now would restore from C{path}."""
    return {r["id"] for r in SessionStore(path).load()}


@pytest.fixture
def threads() -> HandThreads:
    return HandThreads()


@pytest.fixture
def store(tmp_path: Path, threads: HandThreads) -> SessionStore:
    return SessionStore(tmp_path / "sessions.json", runInThread=threads)


def test_a_save_is_written_by_its_job_not_by_the_caller(
    store: SessionStore, threads: HandThreads
) -> None:
    saved = fired(store.save([record("a")]))
    assert not store.path.exists() and saved == []
    threads.runNext()
    assert saved == [None] and afterCrash(store.path) == {"a"}
    assert store.writes == 1


def test_the_saves_asked_for_while_one_is_written_become_one(
    store: SessionStore, threads: HandThreads
) -> None:
    first = fired(store.save([record("a")]))
    second = fired(store.save([record("a"), record("b")]))
    third = fired(store.save([record("a"), record("b"), record("c")]))
    assert len(threads.jobs) == 1  # one writer at a time
    threads.runNext()
    assert first == [None] and second == third == []
    assert afterCrash(store.path) == {"a"}
    threads.runNext()  # the second stands for both
    assert second == third == [None] and threads.jobs == []
    assert afterCrash(store.path) == {"a", "b", "c"} and store.writes == 2


def test_the_same_records_again_are_not_written_again(
    store: SessionStore, threads: HandThreads
) -> None:
    store.save([record("a")])
    threads.runAll()
    again = fired(store.save([record("a")]))
    assert again == [None] and threads.jobs == []


def test_the_same_records_wait_for_the_write_under_way(
    store: SessionStore, threads: HandThreads
) -> None:
    """Nothing new to write, but the records are not on the disk yet:
    what the save returns fires once they are (a stop waits for it)."""
    store.save([record("a")])
    again = fired(store.save([record("a")]))
    assert again == [] and len(threads.jobs) == 1
    threads.runNext()
    assert again == [None]


def test_an_initialize_waits_for_its_journal_line_on_the_disk(
    store: SessionStore, threads: HandThreads
) -> None:
    kept = fired(store.remember(record("new")))
    assert kept == [] and not store.journal.path.exists()
    threads.runNext()
    assert kept == [None] and afterCrash(store.path) == {"new"}


def test_sessions_opened_while_their_journal_write_waits_share_one_fdatasync(
    store: SessionStore, threads: HandThreads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines asked for before their write starts are written together, with
    one C{fdatasync}; each C{initialize} is answered once that is done. A
    line asked for once the write started waits for the next one."""
    synced: list[int] = []
    monkeypatch.setattr(os, "fdatasync", synced.append)
    kept = [fired(store.remember(record(sid))) for sid in ("a", "b", "c")]
    assert len(threads.jobs) == 1 and kept == [[], [], []]
    threads.runNext()
    assert kept == [[None], [None], [None]] and len(synced) == 1
    assert afterCrash(store.path) == {"a", "b", "c"} and store.journal.appended == 3
    later = fired(store.remember(record("d")))
    assert later == [] and len(threads.jobs) == 1
    threads.runNext()
    assert later == [None] and len(synced) == 2


def test_a_line_asked_for_while_the_write_runs_waits_for_the_next_write(
    tmp_path: Path,
) -> None:
    """The write takes its lines when it starts: a line that comes while it
    runs (in a worker thread) is not lost with it, but has a write of its
    own."""
    threads = HandThreads()
    store = SessionStore(tmp_path / "sessions.json", runInThread=threads)
    first = fired(store.remember(record("a")))
    write = store.journal.write
    during: list[list[Any]] = []

    def writing(lines: bytes, count: int = 1) -> bool:
        during.append(fired(store.remember(record("b"))))  # as the reactor would, meanwhile
        return write(lines, count)

    store.journal.write = writing  # type: ignore[method-assign]
    threads.runNext()
    store.journal.write = write  # type: ignore[method-assign]
    assert first == [None] and during == [[]] and afterCrash(store.path) == {"a"}
    threads.runNext()
    assert during == [[None]] and afterCrash(store.path) == {"a", "b"}


def test_the_journal_line_and_the_save_keep_their_order(
    store: SessionStore, threads: HandThreads
) -> None:
    """A save asked for after a new session's line empties the journal
    after that line is written (its records hold the session); a line
    asked for after a save stays in the journal."""
    store.remember(record("x"))
    store.save([record("x")])
    store.remember(record("y"))  # opened after the save took its records
    assert len(threads.jobs) == 1
    threads.runNext()  # x's line
    assert afterCrash(store.path) == {"x"}
    threads.runNext()  # the save, which empties the journal
    assert afterCrash(store.path) == {"x"}
    threads.runNext()  # y's line, after it
    assert afterCrash(store.path) == {"x", "y"}
    assert store.journal.path.exists()


def test_a_save_moved_behind_a_journal_line_still_empties_the_journal(
    store: SessionStore, threads: HandThreads
) -> None:
    store.save([record("a")])  # being written
    store.save([record("a"), record("b")])  # waits
    store.remember(record("c"))
    store.save([record("a"), record("b"), record("c")])  # stands for the waiting one
    threads.runAll()
    assert afterCrash(store.path) == {"a", "b", "c"}
    assert not store.journal.path.exists() and store.writes == 2


def test_a_session_ended_while_a_save_is_written_stays_ended(
    store: SessionStore, threads: HandThreads
) -> None:
    """Its end is written at once (before its client is answered); the
    save under way, whose records still hold it, empties the journal but
    keeps that line."""
    store.save([record("a"), record("b")])
    threads.runAll()
    store.save([record("a"), record("b"), record("c")])
    store.forget("b")  # ended after that save took its records
    assert afterCrash(store.path) == {"a"}
    threads.runNext()
    assert afterCrash(store.path) == {"a", "c"}
    assert stat.S_IMODE(store.journal.path.stat().st_mode) == 0o600  # the ended line, kept
    store.save([record("a"), record("c")])
    threads.runNext()
    assert afterCrash(store.path) == {"a", "c"}
    assert not store.journal.path.exists()  # nothing left to keep


def test_a_session_ended_before_the_save_took_its_records_is_dropped_with_the_journal(
    store: SessionStore, threads: HandThreads
) -> None:
    store.save([record("a"), record("b")])
    threads.runAll()
    store.forget("b")
    store.save([record("a")])
    threads.runNext()
    assert afterCrash(store.path) == {"a"}
    assert not store.journal.path.exists()


def test_a_failed_write_fails_the_save_and_the_next_save_writes_again(
    store: SessionStore, threads: HandThreads, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(path: Path, data: bytes, mode: int = 0o600) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sessionstore, "writeFileAtomic", full)
    failed = fired(store.save([record("a")]))
    threads.runNext()
    assert failed[0].check(OSError)
    monkeypatch.undo()
    store.save([record("a")])  # the same records: written this time
    threads.runNext()
    assert afterCrash(store.path) == {"a"}


def test_a_failed_journal_line_still_answers_the_initialize(
    store: SessionStore, threads: HandThreads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journal that cannot be written is logged; the session lives on
    until the next save (its initialize is not failed for it)."""

    def broken(lines: bytes, count: int = 1) -> bool:
        raise RuntimeError("journal")

    monkeypatch.setattr(store.journal, "write", broken)
    with capturedGatewayLogs() as events:
        kept = fired(store.remember(record("new")))
        threads.runNext()
    assert kept == [None]
    assert any("keeping a new session failed" in e["log_format"] for e in events)


def test_a_record_too_long_for_the_journal_is_left_to_the_next_save(tmp_path: Path) -> None:
    threads = HandThreads()
    store = SessionStore(tmp_path / "sessions.json", maxRecordBytes=100, runInThread=threads)
    assert store.remember(record("long")) is None and threads.jobs == []
    assert not (tmp_path / JOURNAL_NAME).exists()


def test_idle_fires_once_every_write_asked_for_is_done(
    store: SessionStore, threads: HandThreads
) -> None:
    assert fired(store.idle()) == [None]
    store.remember(record("x"))
    store.save([record("x")])
    idle = fired(store.idle())
    threads.runNext()
    assert idle == []
    threads.runNext()
    assert idle == [None]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["open", "end", "save", "run", "run"]), max_size=40))
def test_a_crash_between_any_two_jobs_loses_no_answered_session_and_revives_no_ended_one(
    steps: list[str],
) -> None:
    """Sessions open (journaled), end (their end written at once), saves
    come, and the jobs run in any interleaving: at every point, a gateway
    started on what is on the disk restores every session whose
    C{initialize} was answered and is not ended, and none that ended."""
    with tempfile.TemporaryDirectory() as where:
        threads = HandThreads()
        store = SessionStore(Path(where) / "sessions.json", runInThread=threads)
        live: list[str] = []
        answered: set[str] = set()
        ended: set[str] = set()
        for n, step in enumerate(steps):
            if step == "open":
                sid = f"s{n}"
                live.append(sid)
                kept = store.remember(record(sid))
                assert kept is not None
                kept.addCallback(lambda _, sid: answered.add(sid), sid)
            elif step == "end" and live:
                sid = live.pop(0)
                ended.add(sid)
                store.forget(sid)
            elif step == "save":
                store.save([record(sid) for sid in live])
            elif step == "run" and threads.jobs:
                threads.runNext()
            restored = afterCrash(store.path)
            assert answered - ended <= restored
            assert not restored & ended
