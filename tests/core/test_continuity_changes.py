"""A save of the gateway's sessions costs what changed, not what the
registry holds: after one request, the next save encodes one record (and
the one after it that record again, for a change made a moment after its
request), and the file is the one every record encoded again makes, read
back whole by the next gateway."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mcpgateway.core.gateway.continuity import SAVE_SPACING
from mcpgateway.ops.sessionstore import SessionStore, encode
from tests.support.core.continuity import call
from tests.support.core.continuity_writes import StoredHarness


@pytest.fixture
def h(tmp_path: Path) -> StoredHarness:
    return StoredHarness(tmp_path)


def settled(h: StoredHarness, sessions: int) -> list[str]:
    """C{sessions} opened, and saved until no save encodes anything."""
    sids = [h.opened() for _ in range(sessions)]
    for _ in range(3):
        h.reactor.advance(1.0)
        h.threads.runAll()
    return sids


def fileOfEveryRecord(h: StoredHarness) -> bytes:
    return encode([session.record() for session in h.gateway.sessions])


def test_a_save_after_one_request_encodes_one_record(h: StoredHarness) -> None:
    sids = settled(h, 30)
    encoded = h.store.lines.encoded
    call(h, "srv", sids[7])
    h.reactor.advance(1.0)
    h.threads.runAll()
    assert h.store.lines.encoded - encoded == 1
    assert h.store.path.read_bytes() == fileOfEveryRecord(h)
    h.reactor.advance(1.0)  # that record once more; the same line: nothing written
    h.threads.runAll()
    writes = h.store.writes
    assert h.store.lines.encoded - encoded == 2
    h.reactor.advance(5.0)
    h.threads.runAll()
    assert h.store.lines.encoded - encoded == 2 and h.store.writes == writes


def test_a_change_made_after_its_request_is_saved_at_the_next_tick(h: StoredHarness) -> None:
    """A child's answer changes a session a moment after the request that
    counted it, and after the save in between: the save after that one
    has it."""
    [sid] = settled(h, 1)
    call(h, "srv", sid)
    h.reactor.advance(1.0)
    h.threads.runAll()
    session = h.gateway.sessions.get(sid)
    assert session is not None
    session.logLevel = "debug"  # no request counts it
    h.reactor.advance(1.0)
    h.threads.runAll()
    [saved] = SessionStore(h.store.path).load()
    assert saved["logLevel"] == "debug"


def test_an_ended_session_leaves_the_file_and_the_rest_is_read_back(
    h: StoredHarness, tmp_path: Path
) -> None:
    sids = settled(h, 5)
    encoded = h.store.lines.encoded
    assert h.request("DELETE", "/srv/mcp", session=sids[2]).status in (200, 204)
    h.reactor.advance(1.0)
    h.threads.runAll()
    assert h.store.lines.encoded == encoded
    assert h.store.path.read_bytes() == fileOfEveryRecord(h)
    restarted = StoredHarness(tmp_path)
    assert {s.id for s in restarted.gateway.sessions} == set(sids) - {sids[2]}


def test_the_last_save_builds_every_record(h: StoredHarness) -> None:
    """The stop's save is whole: a change no request counted is in it."""
    [sid] = settled(h, 1)
    session = h.gateway.sessions.get(sid)
    assert session is not None
    session.logLevel = "warning"
    h.reactor.advance(5.0)
    h.threads.runAll()
    h.service.stopService()
    h.reactor.advance(60)
    h.threads.runAll()
    [saved] = SessionStore(h.store.path).load()
    assert saved["logLevel"] == "warning"


def test_saves_are_spaced_by_how_long_the_last_write_took(h: StoredHarness) -> None:
    """While the sessions change every second, a save waits at least
    L{SAVE_SPACING} times the last write's time after the one before (a
    file of 100,000 sessions takes a worker thread a tenth of a second to
    write); what changed meanwhile goes with the next save, and a quiet
    second's save has it all."""
    sids = settled(h, 3)
    h.store.lastWriteSeconds = 0.35  # the next save waits 3.5 s after the last one
    writes = h.store.writes
    written: list[float] = []
    for second in range(1, 13):
        call(h, "srv", sids[second % 3])
        h.reactor.advance(1.0)
        h.threads.runAll()
        h.store.lastWriteSeconds = 0.35
        if h.store.writes > writes:
            written.append(h.reactor.seconds())
            writes = h.store.writes
    assert len(written) >= 2  # every 4 s, not every second
    assert all(later - earlier >= 3.5 for earlier, later in itertools.pairwise(written))
    for _ in range(4):  # nothing changes now: what changed meanwhile is saved
        h.reactor.advance(1.0)
        h.threads.runAll()
    assert h.store.path.read_bytes() == fileOfEveryRecord(h)
    assert SAVE_SPACING == 10.0


def saverTimers(h: StoredHarness) -> list[object]:
    """The session saver's pending ticks."""
    found: list[object] = []
    for pending in h.reactor.getDelayedCalls():
        every = getattr(getattr(pending, "func", None), "__self__", None)
        f = getattr(every, "_f", None)
        owner = type(getattr(f, "__self__", None)).__name__
        if getattr(f, "__name__", "") == "_tick" and owner == "SessionContinuity":
            found.append(pending)
    return found


def test_the_saver_runs_no_timer_while_no_session_changes_and_wakes_at_a_change(
    h: StoredHarness,
) -> None:
    [sid] = settled(h, 1)
    assert saverTimers(h) == []  # all saved: an idle gateway is not woken every second
    encoded = h.store.lines.encoded
    call(h, "srv", sid)
    assert len(saverTimers(h)) == 1
    h.reactor.advance(1.0)
    h.threads.runAll()
    assert h.store.lines.encoded - encoded == 1
    for _ in range(3):
        h.reactor.advance(1.0)
        h.threads.runAll()
    assert saverTimers(h) == []
