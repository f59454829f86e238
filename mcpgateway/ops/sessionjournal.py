# -*- test-case-name: tests.ops.test_sessionjournal, tests.ops.test_sessionwrites -*-
"""The new sessions not yet in C{sessions.json}: C{sessions.journal}, mode 0600.

C{sessions.json} is rewritten at most once a second
(L{mcpgateway.ops.sessionstore.SessionStore}), so a gateway killed within a
second of an C{initialize} would lose that session, and its client, holding
the id, would get 404 from the next gateway. The journal closes that window:
each new session's record is appended to it, one JSON line, and flushed to
the disk (C{fdatasync}) before the C{initialize} is answered
(L{SessionJournal.write}); the next write of C{sessions.json}, which holds
them all, empties it (L{SessionJournal.clear}). At start the records it holds
are restored beside the file's.

Only a session's existence is kept this way, and its end: a session ended
(its client's C{DELETE}, the reaper) gets a line C{{"ended": id}}
(L{SessionJournal.writeEnded}), so the next gateway does not bring back,
from the journal or from a C{sessions.json} written before the end, a
session its client was told is over. What changes in between (its log
level, its subscriptions) waits for the next write of C{sessions.json}, and
calls pay nothing.

A new session's line is one C{write} and one C{fdatasync}: milliseconds on
a real disk, so the gateway runs it in the reactor's thread pool, in order
with the writes of C{sessions.json} (the C{initialize} waits for its line
to be on the disk, the reactor does not). An ended session's line reaches
the kernel, not the disk, and is written at once, on the caller's thread,
before its end is answered, as cheap as any small write: a killed gateway
keeps it, and only a machine that loses power before the next save could
bring the session back (its client then meets it ended at the reaper's next
look), which is not worth an C{fdatasync} per end. A save that empties the
journal puts back the ended lines written after it took its records
(L{SessionJournal.mark}): those sessions are in the file it wrote.

A line that is not a whole record (a crash while appending) is skipped, with
one log line; a record is never over C{maxRecordBytes}.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.logger import Logger

from mcpgateway.ops.sessionlines import encodeLine
from mcpgateway.runtime import logs
from mcpgateway.runtime.atomicfile import TEMP_SUFFIX, tempPrefix

JOURNAL_NAME = "sessions.journal"
"""Its name, beside C{sessions.json}."""
_encoder = json.JSONEncoder(sort_keys=True, allow_nan=False, ensure_ascii=True)


class SessionJournal:
    """Appends new session records durably and ended sessions' ids; reads
    them back; is emptied once C{sessions.json} holds them.

    L{write} and L{clear} run one at a time (on the caller's thread, or as
    the jobs of a L{mcpgateway.runtime.threads.SerialJobs}), L{writeEnded}
    and L{mark} on the reactor thread while they may run, L{read} at start:
    a lock orders L{writeEnded} and L{clear}, and guards the counts."""

    log = Logger(observer=logs.observer)

    def __init__(self, path: Path, maxRecordBytes: int, maxBytes: int) -> None:
        self.path = path
        self.maxRecordBytes = maxRecordBytes
        self.maxBytes = maxBytes
        self.appended = 0
        """Lines appended since the last L{clear} (nothing to clear at 0)."""
        self._lock = threading.Lock()
        self._endedCount = 0
        """Ended lines written so far (what L{mark} says)."""
        self._ended: list[tuple[int, bytes]] = []
        """The ended lines written since the last L{clear}, each with its
        count: the ones after a save's L{mark} are put back by its clear."""

    def recordLine(self, record: dict[str, Any]) -> bytes | None:
        """The line of a new session's C{record}; C{None} when it is over
        C{maxRecordBytes} (never journaled: the next save keeps it, or
        leaves it out, as it does any record that long)."""
        line = encodeLine(record) + b"\n"
        return None if len(line) > self.maxRecordBytes else line

    def append(self, record: dict[str, Any]) -> bool:
        """Add C{record} and flush it to the disk, on this thread; whether
        it was kept (L{write})."""
        line = self.recordLine(record)
        return line is not None and self.write(line)

    def write(self, lines: bytes, count: int = 1) -> bool:
        """Append C{count} L{recordLine}s (joined in C{lines}) and flush them
        to the disk, with one C{fdatasync} for all; whether they were kept
        (a failure is logged, and the sessions live on until the next write
        of C{sessions.json})."""
        if not self._append(lines, durable=True, what="the new session survives"):
            return False
        with self._lock:
            self.appended += count
        return True

    def writeEnded(self, sessionId: str) -> bool:
        """Note that the session C{sessionId} ended (not flushed to the
        disk: see the module docstring); whether it was written."""
        line = _encoder.encode({"ended": sessionId}).encode("ascii") + b"\n"
        if len(line) > self.maxRecordBytes:
            return False
        with self._lock:
            if not self._append(line, durable=False, what="the ended session is forgotten"):
                return False
            self.appended += 1
            self._endedCount += 1
            self._ended.append((self._endedCount, line))
        return True

    def mark(self) -> int:
        """Where the journal's ended lines stand now: a save takes it with
        its records, and hands it to its L{clear}."""
        with self._lock:
            return self._endedCount

    def _append(self, line: bytes, durable: bool, what: str) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                if durable:
                    os.fdatasync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            self.log.warn(
                "session journal {path}: cannot append ({why}); {what} only after the next save",
                path=str(self.path),
                why=e.strerror or str(e),
                what=what,
            )
            return False
        return True

    def read(self, check: Callable[[Any], dict[str, Any]]) -> tuple[list[dict[str, Any]], set[str]]:
        """The records it holds, each passed through C{check} (which raises
        C{ValueError} for a record that cannot be used: skipped), and the ids
        of the sessions it says ended (L{writeEnded}); a torn or unreadable
        line is skipped, with one log line for all."""
        try:
            with self.path.open("rb") as f:
                data = f.read(self.maxBytes + 1)
        except FileNotFoundError:
            return [], set()
        except OSError as e:
            self.log.warn(
                "session journal {path}: cannot be read ({why}); its sessions are not restored",
                path=str(self.path),
                why=e.strerror or str(e),
            )
            return [], set()
        records: list[dict[str, Any]] = []
        ended: set[str] = set()
        skipped = 0
        for line in data[: self.maxBytes].split(b"\n"):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if isinstance(entry, dict) and set(entry) == {"ended"}:
                    if not isinstance(entry["ended"], str):
                        raise ValueError("an ended session's id is not a string")
                    ended.add(entry["ended"])
                else:
                    records.append(check(entry))
            except (ValueError, RecursionError):
                skipped += 1
        if skipped:
            self.log.warn(
                "session journal {path}: {count} line(s) skipped (not a whole session"
                " record: a crash while writing it)",
                path=str(self.path),
                count=skipped,
            )
        with self._lock:
            self.appended = len(records) + len(ended) + skipped
        return records, ended

    def clear(self, mark: int | None = None) -> None:
        """Empty it: C{sessions.json} now holds every session it held, as
        they were at C{mark} (L{mark}; C{None}: now). The ended lines
        written after C{mark} stay (their sessions are in the file): the
        journal is replaced with them at once."""
        with self._lock:
            if not self.appended:
                return
            since = [] if mark is None else [(n, line) for n, line in self._ended if n > mark]
            try:
                if since:
                    self._replace(b"".join(line for _, line in since))
                else:
                    os.unlink(self.path)
            except FileNotFoundError:
                pass
            except OSError as e:
                self.log.warn(
                    "session journal {path}: cannot be emptied ({why})",
                    path=str(self.path),
                    why=e.strerror or str(e),
                )
                return
            self._ended, self.appended = since, len(since)

    def _replace(self, data: bytes) -> None:
        """The journal replaced with C{data}, atomically (not flushed to the
        disk, as the ended lines it holds never are)."""
        fd, tmp = tempfile.mkstemp(
            dir=self.path.parent, prefix=tempPrefix(self.path.name), suffix=TEMP_SUFFIX
        )
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
