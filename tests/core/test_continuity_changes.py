"""A save of the gateway's sessions costs what changed, not what the
registry holds: after one request, the next save encodes one record (and
the one after it that record again, for a change made a moment after its
request), and the file is the one every record encoded again makes, read
back whole by the next gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpgateway.ops.sessionstore import SessionStore, encode
from tests.core.test_continuity import call
from tests.core.test_continuity_writes import StoredHarness


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
