"""The gateway's log files with two writers, and to the end of a stop.

During C{mcpgateway restart} the old process and its successor both write
C{gateway.log} (and the audit log): each write must land whole at the end,
whoever wrote last, and rotation must lose nothing with both writing
(L{logs.AppendFile}). A stop takes time (children exit, the gateway logs
C{all children stopped in …s}); the log file must get every line of it
(L{logs.LogFileService}), and the audit log every record
(L{mcpgateway.ops.audit.AuditLog}).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import Logger, globalLogPublisher

from mcpgateway.ops.audit import AuditLog
from mcpgateway.ops.auditchain import CHAIN_KINDS
from mcpgateway.ops.auditverify import verify
from mcpgateway.runtime.logs import AppendFile, LogFileService
from tests.support.ops.audit import record

REPO = Path(__file__).resolve().parents[2]
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} \[")
log = Logger(namespace="tests.logfile", observer=globalLogPublisher)


def files(path: Path) -> list[Path]:
    """C{path} and its rotated files, oldest first."""
    rotated = sorted(
        (p for p in path.parent.iterdir() if p.name.startswith(path.name + ".")),
        key=lambda p: int(p.name.rsplit(".", 1)[1]),
        reverse=True,
    )
    return [*rotated, path]


def readAll(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in files(path))


def requests(data: bytes) -> list[dict[str, Any]]:
    """The audit records of C{data} that are requests' (not the chain's own)."""
    records = [json.loads(line) for line in data.decode().splitlines()]
    return [r for r in records if r["kind"] not in CHAIN_KINDS]


@pytest.fixture
def umask0() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# -- AppendFile: two writers ------------------------------------------------


def test_two_writers_on_one_file_lose_and_cut_nothing(tmp_path: Path) -> None:
    """The restart's case: the successor opens the file the predecessor
    writes; the predecessor writes on (longer lines than the successor's
    first ones). Every line of both is there, whole, in the order written."""
    path = tmp_path / "gateway.log"
    old = AppendFile(str(path), 5_000_000, 3)
    old.write("old: twistd starting up\n")
    new = AppendFile(str(path), 5_000_000, 3)
    expected = ["old: twistd starting up"]
    for i in range(20):
        writer, line = (old, f"old: child exited {i} " + "x" * i) if i % 3 else (new, f"new {i}")
        writer.write(line + "\n")
        expected.append(line)
    old.close()
    new.close()
    assert path.read_text().splitlines() == expected


lines = st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=120)


@settings(max_examples=60, deadline=None)
@given(
    writes=st.lists(st.tuples(st.integers(0, 1), lines), max_size=60),
    rotateLength=st.integers(1, 400),
)
def test_two_writers_that_rotate_lose_nothing(
    writes: list[tuple[int, str]], rotateLength: int
) -> None:
    """Any interleaving of two writers, with any rotation size: the files,
    oldest first, hold every line once, whole, in the order written; only
    full files were rotated away, and each once."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "gateway.log"
        writers = [AppendFile(str(path), rotateLength, 10_000) for _ in range(2)]
        for writer, line in writes:
            writers[writer].write(line + "\n")
        for w in writers:
            w.close()
        assert readAll(path).decode() == "".join(line + "\n" for _, line in writes)
        for rotated in files(path)[:-1]:
            assert rotated.stat().st_size >= rotateLength


def test_a_file_two_writers_find_full_is_rotated_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both writers find the file full; the second rotates it while the
    first waits for the lock. The first must not rotate again: a second
    rotation would push the newest old file out (one old file kept here)."""
    path = tmp_path / "audit.jsonl"
    first = AppendFile(str(path), 10, 1)
    second = AppendFile(str(path), 10, 1)
    (tmp_path / "audit.jsonl.1").write_text("older\n")
    first.write("0123456789\n")
    realFlock = fcntl.flock
    interleaved: list[int] = []

    def flock(fd: int, operation: int) -> None:
        if fd == first._fd and not interleaved:
            interleaved.append(fd)
            second.write("second\n")  # rotates while the first waits
        realFlock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    first.write("first\n")
    monkeypatch.undo()
    first.close()
    second.close()
    assert interleaved
    assert (tmp_path / "audit.jsonl.1").read_text() == "0123456789\n"
    assert path.read_text() == "second\nfirst\n"


def test_a_writer_that_finds_the_rotation_lock_taken_writes_on(tmp_path: Path) -> None:
    """Another process holds the lock (it rotates now): the line goes to the
    file it has, and the next write follows the rotated path."""
    path = tmp_path / "gateway.log"
    writer = AppendFile(str(path), 5, 10)
    writer.write("full line\n")
    other = os.open(path, os.O_WRONLY)
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        writer.write("while locked\n")
    finally:
        os.close(other)
    writer.write("after\n")
    writer.close()
    assert readAll(path) == b"full line\nwhile locked\nafter\n"
    assert (tmp_path / "gateway.log.1").read_bytes() == b"full line\nwhile locked\n"


def test_a_writer_that_rotates_only_when_it_asks_writes_on_to_a_full_file(
    tmp_path: Path,
) -> None:
    """A writer whose new file must begin with what it says about the
    rotation (the audit log's) is never rotated by a write."""

    class Asking(AppendFile):
        autoRotate = False

    path = tmp_path / "audit.jsonl"
    writer = Asking(str(path), 10, 5)
    writer.write("a line longer than ten bytes\n")
    writer.write("and another\n")
    assert [p.name for p in files(path)] == ["audit.jsonl"]
    writer._current(rotate=True)
    writer.write("first of the new file\n")
    writer.close()
    assert [p.name for p in files(path)] == ["audit.jsonl.1", "audit.jsonl"]
    assert path.read_text() == "first of the new file\n"


def test_a_file_moved_or_removed_from_outside_is_made_again(tmp_path: Path) -> None:
    """logrotate (or a user) moved the file away: the next write makes it again."""
    path = tmp_path / "gateway.log"
    writer = AppendFile(str(path), 5_000_000, 3)
    writer.write("one\n")
    path.rename(tmp_path / "moved.log")
    writer.write("two\n")
    path.unlink()
    writer.write("three\n")
    writer.close()
    assert (tmp_path / "moved.log").read_text() == "one\n"
    assert path.read_text() == "three\n"


def test_two_processes_writing_and_rotating_lose_nothing(tmp_path: Path) -> None:
    """Two real processes at once, rotating at 4 KiB: every line of both
    is in the files, whole, each once."""
    path = tmp_path / "gateway.log"
    code = (
        "import sys\n"
        "from mcpgateway.runtime.logs import AppendFile\n"
        "f = AppendFile(sys.argv[1], 4096, 100000)\n"
        "for i in range(int(sys.argv[3])):\n"
        "    f.write(f'{sys.argv[2]} {i:05d} ' + 'x' * (i % 97) + '\\n')\n"
    )
    count = 3000
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path), name, str(count)], env=env)
        for name in ("old", "new")
    ]
    assert [p.wait(60) for p in procs] == [0, 0]
    written = readAll(path).decode().splitlines()
    expected = {
        f"{name} {i:05d} " + "x" * (i % 97) for name in ("old", "new") for i in range(count)
    }
    assert len(written) == 2 * count
    assert set(written) == expected
    for name in ("old", "new"):  # each writer's lines in its order
        mine = [line for line in written if line.startswith(name)]
        assert mine == sorted(mine)


def test_files_are_made_and_kept_0600(tmp_path: Path, umask0: None) -> None:
    """Created 0600 whatever the umask, rotated files too; an existing file
    is set to 0600 when opened (as twisted's LogFile did)."""
    path = tmp_path / "gateway.log"
    existing = tmp_path / "other.log"
    existing.write_text("")
    existing.chmod(0o644)
    writer = AppendFile(str(path), 10, 3)
    for _ in range(3):
        writer.write("0123456789\n")
    writer.close()
    AppendFile(str(existing), 10, 3).close()
    for p in [*files(path), existing]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_a_fifo_is_written_and_never_rotated_nor_chmodded(tmp_path: Path) -> None:
    """Not a regular file (a FIFO here; C{--log-file /dev/null} in use):
    written, never renamed away nor its mode changed (twisted's LogFile,
    run as root, rotated C{/dev/null} itself)."""
    path = tmp_path / "pipe"
    os.mkfifo(path)
    path.chmod(0o644)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        writer = AppendFile(str(path), 1, 3)
        writer.write("x\n")
        writer.write("y\n")
        writer.close()
        assert os.read(reader, 100) == b"x\ny\n"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(path.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


# -- LogFileService: two processes' services, and the end of a stop ---------


class SlowStop(Service):
    """A service whose stop takes C{seconds} on C{clock} (the gateway
    stopping its children), then logs what the gateway logs."""

    def __init__(self, clock: MemoryReactorClock, seconds: float) -> None:
        self.clock, self.seconds = clock, seconds

    def stopService(self) -> Deferred[None]:
        super().stopService()
        done: Deferred[None] = Deferred()

        def stopped() -> None:
            log.info("child demo exited")
            log.info("all children stopped in {s:.2f}s", s=self.seconds)
            done.callback(None)

        self.clock.callLater(self.seconds, stopped)
        return done


def runApplication(reactor: MemoryReactorClock, service: Service) -> None:
    """Start C{service} as twistd and twist do: then ask the reactor to
    stop it before it shuts down."""
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)


def shutDown(reactor: MemoryReactorClock) -> list[object]:
    """What C{reactor.stop()} (on SIGTERM) runs first: the C{before
    shutdown} triggers in their order; what each returned."""
    return [f(*args, **kw) for f, args, kw in reactor.triggers["before"]["shutdown"]]


@pytest.mark.parametrize("passed", [True, False], ids=["reactor-passed", "global-reactor"])
def test_the_log_file_gets_every_line_of_a_stop_that_takes_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passed: bool
) -> None:
    """On SIGTERM the reactor stops the tree: every service stops at once,
    and the gateway's stop ends seconds later. The file gets its lines,
    then the reactor's last one, and still is open after it."""
    reactor = MemoryReactorClock()
    if not passed:  # as preflight makes it: the global reactor, installed by twistd
        monkeypatch.setattr("twisted.internet.reactor", reactor)
    path = tmp_path / "gateway.log"
    top = MultiService()
    service = LogFileService(str(path), reactor=reactor if passed else None)
    service.setServiceParent(top)
    SlowStop(reactor, 2.5).setServiceParent(top)
    try:
        runApplication(reactor, top)
        log.info("serving")
        log.info("Received SIGTERM, shutting down.")
        stopping = shutDown(reactor)[-1]
        assert isinstance(stopping, Deferred) and not stopping.called
        reactor.advance(2.5)
        assert stopping.called
        log.info("Main loop terminated.")
        log.info("Server Shut Down.")
        text = path.read_text()
    finally:
        service.close()
    said = [line.split("] ", 1)[1] for line in text.splitlines()]
    assert said[said.index("serving") :] == [
        "serving",
        "Received SIGTERM, shutting down.",
        "child demo exited",
        "all children stopped in 2.50s",
        "Main loop terminated.",
        "Server Shut Down.",
    ], text


def test_stopped_with_no_shutdown_the_file_is_closed_at_once(tmp_path: Path) -> None:
    """Stopped with no shutdown begun (a test): closed at once, its
    trigger forgotten."""
    reactor = MemoryReactorClock()
    path = tmp_path / "gateway.log"
    service = LogFileService(str(path), reactor=reactor)
    service.startService()
    log.info("before the stop")
    service.stopService()
    log.info("after the stop")
    text = path.read_text()
    assert "before the stop" in text and "after the stop" not in text
    shutDown(reactor)  # a trigger left behind does nothing
    log.info("after the shutdown")
    assert path.read_text() == text


def test_a_predecessor_and_its_successor_both_write_whole_lines(tmp_path: Path) -> None:
    """Both processes' services on one file (in one process here, so each
    event reaches both): the predecessor's lines before the successor
    started once, each later one twice (once from each), none cut."""
    reactor = MemoryReactorClock()
    path = tmp_path / "gateway.log"
    old = LogFileService(str(path), reactor=reactor)
    old.startService()
    try:
        log.info("predecessor serving on {port}", port=9100)
        new = LogFileService(str(path), reactor=reactor)
        log.info("successor: twistd starting up")  # its early, buffered event
        try:
            new.startService()
            log.info("restored {n} sessions", n=3)
            log.info("GatewaySite starting on {port}", port=9100)
        finally:
            new.stopService()
    finally:
        old.stopService()
    text = path.read_text().splitlines()
    assert all(STAMP.match(line) for line in text), text
    said = [line.split("] ", 1)[1] for line in text]
    assert said.count("predecessor serving on 9100") == 1
    assert said.count("successor: twistd starting up") == 2
    assert said.count("restored 3 sessions") == 2
    assert said.count("GatewaySite starting on 9100") == 2
    assert len(said) == 7


# -- AuditLog: two processes' logs, and the records of a stop ---------------


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(0, 1), st.booleans()), max_size=40),
    rotateLength=st.sampled_from([150, 1000, 50_000_000]),
)
def test_two_audit_logs_on_one_file_lose_no_record(
    steps: list[tuple[int, bool]], rotateLength: int
) -> None:
    """A restart: the predecessor's audit log and the successor's write one
    file, each flushing on its own clock; every record is there once."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "audit.jsonl"
        clocks = [MemoryReactorClock(), MemoryReactorClock()]
        audits = [AuditLog(path, c, rotateLength=rotateLength, maxFiles=10_000) for c in clocks]
        for a in audits:
            a.startService()
        for n, (who, tick) in enumerate(steps):
            audits[who].record(record(method=f"m{n}", session=f"p{who}"))
            if tick:
                clocks[who].advance(1.0)
        for a in audits:
            a.stopService()
        written = requests(readAll(path))
        assert sorted(r["method"] for r in written) == sorted(f"m{n}" for n in range(len(steps)))
        for who in (0, 1):  # each writer's records in its order
            mine = [int(r["method"][1:]) for r in written if r["session"] == f"p{who}"]
            assert mine == sorted(mine)
        result = verify([str(p) for p in files(path)])  # both chains whole across the files
        assert result.intact, result.problem


def test_audit_records_of_requests_the_stop_ends_are_written(tmp_path: Path) -> None:
    """Stopped by the shutdown, the audit log writes what is buffered and
    each record that comes later at once (requests the stop ends)."""
    reactor = MemoryReactorClock()
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, reactor)
    runApplication(reactor, audit)
    try:
        audit.record(record(method="before"))
        shutDown(reactor)
        assert not audit.running
        audit.record(record(outcome="error", method="ended-by-the-stop"))
        written = [r["method"] for r in requests(path.read_bytes())]
    finally:
        audit.close()
    assert written == ["before", "ended-by-the-stop"]
    assert reactor.getDelayedCalls() == []


def test_audit_stopped_with_no_shutdown_closes(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, MemoryReactorClock())
    audit.startService()
    audit.record(record(method="kept"))
    audit.stopService()
    audit.record(record(method="after"))
    assert [r["method"] for r in requests(path.read_bytes())] == ["kept"]


def test_a_rotation_that_fails_is_tried_again_a_rotate_length_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that cannot be renamed (bind-mounted into a container) grows
    on, and the old files are not shifted away line after line."""
    path = tmp_path / "gateway.log"
    log = AppendFile(str(path), rotateLength=100, maxRotatedFiles=3)
    (tmp_path / "gateway.log.1").write_text("kept\n")
    renames: list[tuple[str, str]] = []
    real = os.rename

    def rename(src: str, dst: str) -> None:
        renames.append((os.path.basename(src), os.path.basename(dst)))
        if src == str(path):
            raise OSError(16, "Device or resource busy")
        real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    log.write("x" * 100 + "\n")
    log.write("a\n")  # due: tried once, fails
    tried = len(renames)
    for _ in range(40):
        log.write("b\n")  # 80 bytes more: under 100 past the failure, not tried
    assert len(renames) == tried
    log.write("c" * 30 + "\n")
    assert len(renames) == tried
    log.write("f\n")  # now 100 bytes past the failure: tried again
    assert len(renames) > tried
    monkeypatch.setattr(os, "rename", real)
    log.write("d" * 200 + "\n")
    log.write("e\n")  # the rename works again: rotated, and the next is due at 100 bytes
    assert path.read_text() == "e\n"
    log.close()
