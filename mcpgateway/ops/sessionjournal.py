# -*- test-case-name: tests.ops.test_sessionjournal -*-
"""The new sessions not yet in C{sessions.json}: C{sessions.journal}, mode 0600.

C{sessions.json} is rewritten at most once a second
(L{mcpgateway.ops.sessionstore.SessionStore}), so a gateway killed within a
second of an C{initialize} would lose that session, and its client, holding
the id, would get 404 from the next gateway. The journal closes that window:
each new session's record is appended to it, one JSON line, and flushed to
the disk (C{fdatasync}) before the C{initialize} is answered
(L{SessionJournal.append}); the next write of C{sessions.json}, which holds
them all, empties it (L{SessionJournal.clear}). At start the records it holds
are restored beside the file's.

Only a session's existence is kept this way, and its end: a session ended
(its client's C{DELETE}, the reaper) gets a line C{{"ended": id}}
(L{SessionJournal.appendEnded}), so the next gateway does not bring back,
from the journal or from a C{sessions.json} written before the end, a
session its client was told is over. What changes in between (its log
level, its subscriptions) waits for the next write of C{sessions.json}, and
calls pay nothing. An append costs one C{write} and one C{fdatasync} of a
few hundred bytes on the reactor thread (about 0.1 ms on this project's test
machine; docs/continuity.md).

A line that is not a whole record (a crash while appending) is skipped, with
one log line; a record is never over C{maxRecordBytes}.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.logger import Logger

from mcpgateway.runtime import logs

JOURNAL_NAME = "sessions.journal"
"""Its name, beside C{sessions.json}."""
_encoder = json.JSONEncoder(sort_keys=True, allow_nan=False, ensure_ascii=True)


class SessionJournal:
    """Appends new session records durably; reads them back; is emptied
    once C{sessions.json} holds them."""

    log = Logger(observer=logs.observer)

    def __init__(self, path: Path, maxRecordBytes: int, maxBytes: int) -> None:
        self.path = path
        self.maxRecordBytes = maxRecordBytes
        self.maxBytes = maxBytes
        self.appended = 0
        """Records appended since the last L{clear} (nothing to clear at 0)."""

    def append(self, record: dict[str, Any]) -> bool:
        """Add C{record} and flush it to the disk; whether it was kept (a
        failure is logged, and the session lives on until the next write of
        C{sessions.json})."""
        line = _encoder.encode(record).encode("ascii") + b"\n"
        if len(line) > self.maxRecordBytes:
            return False
        return self._write(line, durable=True, what="the new session survives")

    def appendEnded(self, sessionId: str) -> bool:
        """Note that the session C{sessionId} ended; whether it was written.
        The line reaches the kernel, not the disk: a killed gateway keeps
        it, and only a machine that loses power before its next save could
        bring the session back (its client then meets it ended at its next
        look by the reaper), which is not worth an C{fdatasync} per end."""
        line = _encoder.encode({"ended": sessionId}).encode("ascii") + b"\n"
        if len(line) > self.maxRecordBytes:
            return False
        return self._write(line, durable=False, what="the ended session is forgotten")

    def _write(self, line: bytes, durable: bool, what: str) -> bool:
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
        self.appended += 1
        return True

    def read(self, check: Callable[[Any], dict[str, Any]]) -> tuple[list[dict[str, Any]], set[str]]:
        """The records it holds, each passed through C{check} (which raises
        C{ValueError} for a record that cannot be used: skipped), and the ids
        of the sessions it says ended (L{appendEnded}); a torn or unreadable
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
        self.appended = len(records) + len(ended) + skipped
        return records, ended

    def clear(self) -> None:
        """Empty it: C{sessions.json} now holds every session it held."""
        if not self.appended:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as e:
            self.log.warn(
                "session journal {path}: cannot be removed ({why})",
                path=str(self.path),
                why=e.strerror or str(e),
            )
            return
        self.appended = 0
