# -*- test-case-name: tests.ops.test_sessionstore, tests.ops.test_sessionwrites -*-
"""The session registry in the state directory: C{sessions.json}, mode 0600.

L{SessionStore} is the file behind L{mcpgateway.core.sessions.SessionPersistence}:
L{SessionStore.load} reads and checks what a previous gateway process saved,
L{SessionStore.save} writes the records through
L{mcpgateway.runtime.atomicfile.writeFileAtomic}, and only when they changed.
Each record's line is kept once encoded (L{mcpgateway.ops.sessionlines}):
L{SessionStore.saveChanges} is given only the sessions that changed since
the last save, so what a save costs the reactor thread grows with the
changes, not with the sessions; the file's bytes are joined from the kept
lines, and checked against what the file holds, in the thread that writes. When it
saves is the gateway's business (L{mcpgateway.core.gateway.gateway.Gateway}: at most
once a second while the sessions change, further apart while a write takes long
(L{mcpgateway.core.gateway.continuity.SAVE_SPACING}), and once more at stop, before it ends
the sessions of its own process), which is why this is no Service of its own:
the last save must come after the drain and before the sessions are ended,
an order only the gateway knows. Both calls happen from
C{Gateway.start}/C{Gateway.stop}, that is after twistd daemonized: nothing is
opened or scheduled in C{makeService}.

The writes that wait for the disk (this file's, with their C{fsync}s, and
a new session's journal line, L{mcpgateway.ops.sessionjournal}) take
milliseconds on a real disk, so they run in the reactor's thread pool, one
at a time and in the order they were asked for
(L{mcpgateway.runtime.threads.SerialJobs}): the records that changed are
encoded on the reactor thread, from the sessions as they are then, and the
file is made and written in a worker thread. A save asked for while one
is being written waits, and stands for any save still waiting before it
(only the newest records are written).
Each returns a Deferred that fires once its write is done, and every write
asked for before it: the gateway answers an C{initialize} once the new
session's journal line is on the disk (L{SessionStore.remember}), and its
stop waits for the last save. An ended session's line, never flushed to
the disk, is written at once (L{SessionStore.forget}). A crash loses what
it lost when every write ran on the reactor thread: a session is in the
journal before its id is answered, its end before the end is answered, and
the journal is emptied only once a file holding its sessions has replaced
the old one (keeping the ends that came after that file's records were
taken). Without a thread runner (a tool, a test), each write runs at once,
on the caller's thread.

The file is one JSON document, written one session record a line::

    {"format": 1, "sessions": [
    {"id": ...},
    {"id": ...}
    ]}

so that one record that cannot be used costs that session only: a record
that is not what this module writes (or not JSON, or longer than
L{MAX_RECORD_BYTES}) is skipped, and the rest are restored, with one log
line saying how many were not. L{SessionStore.save} never writes a record
over L{MAX_RECORD_BYTES}, nor a file over L{MAX_BYTES} (it leaves out the
sessions idle longest), each with one log line, so the file it writes can
always be read back. A file in the one-line layout of earlier versions is
read whole, as before, its records each checked the same way.

A file that cannot be read at all, or is not a sessions file, is moved aside
(C{sessions.json.corrupt}) with one log line, and the gateway starts with no
sessions: never a crash.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import threading
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import IO, Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.backlog import checkedBacklog
from mcpgateway.ops.sessionjournal import JOURNAL_NAME, SessionJournal
from mcpgateway.ops.sessionlines import (
    FOOTER,
    HEADER,
    Entry,
    SessionLines,
    decodeLine,
    encodeLine,
    fileBytes,
    fit,
)
from mcpgateway.runtime import logs
from mcpgateway.runtime.atomicfile import writeFileAtomic
from mcpgateway.runtime.threads import RunInThread, SerialJobs, runInline

FORMAT = 1
"""The version of the file's layout."""
CORRUPT_SUFFIX = ".corrupt"
MAX_BYTES = 64 * 1024 * 1024
"""The file is read this far (a bigger one in the old one-line layout is
moved aside; of one in the line layout, the records beyond are skipped);
L{SessionStore.save} writes no more."""
MAX_RECORD_BYTES = 1024 * 1024
"""The longest session record saved or read (its JSON line). An
C{initialize} brings at most L{mcpgateway.protocol.bounds.MAX_SESSION_INFO} bytes of
its own (three times that once escaped to ASCII), so only a session with a
great many subscriptions comes near."""
_SKIP_CHUNK = 64 * 1024
"""Bytes read at a time while skipping a record line that is too long."""
__all__ = ["FOOTER", "HEADER", "SessionStore", "encode", "encodeBounded", "parse"]


SAVE = "save"
"""The key of the saves among the jobs: a save stands for the one still waiting."""


class CorruptSessions(ValueError):
    """The sessions file is not what L{SessionStore.save} writes; says why."""


class SessionStore:
    """The sessions of the gateway, in one file of its state directory."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        path: Path,
        maxBytes: int = MAX_BYTES,
        maxRecordBytes: int = MAX_RECORD_BYTES,
        runInThread: RunInThread = runInline,
    ) -> None:
        """
        @param maxBytes: the file's size bound (L{MAX_BYTES}; smaller in tests).
        @param maxRecordBytes: one record's (L{MAX_RECORD_BYTES}).
        @param runInThread: where the writes run (the reactor's thread pool;
            by default at once, on the caller's thread).
        """
        self.path = path
        self.maxBytes = maxBytes
        self.maxRecordBytes = maxRecordBytes
        self._written: bytes | None = None
        """The SHA-256 of what the file holds (not a copy of it); read and
        set by L{load} and by the writes, one at a time."""
        self.lines = SessionLines(maxBytes, maxRecordBytes)
        """The records to save, each encoded once (L{saveChanges})."""
        self._handed = False
        """The last save's lines were handed to the writes, and no line
        changed since (a failed write clears it: the next save writes)."""
        self._journaled = False
        """A journal line was asked for since the last save was handed over
        (that save empties the journal)."""
        self._leftOut: frozenset[str] = frozenset()
        """The ids of the sessions the last save left out (logged when it changes)."""
        self.writes = 0
        """How many times the file was written (for tests and curiosity)."""
        self.lastWriteSeconds = 0.0
        """How long the last save's write took, in its thread (made, hashed,
        written): the gateway spaces its saves by it
        (L{mcpgateway.core.gateway.continuity.SAVE_SPACING})."""
        self.journal = SessionJournal(path.with_name(JOURNAL_NAME), maxRecordBytes, maxBytes)
        """The new sessions the file does not hold yet (L{remember})."""
        self._jobs = SerialJobs(runInThread)
        self._batch: _Lines | None = None
        """The journal lines of the write still waiting to start, which a
        new session's line may join (L{remember}); C{None} after a save
        was handed over."""

    def remember(self, record: dict[str, Any]) -> Deferred[None] | None:
        """Keep a new session's C{record} on the disk, before its id leaves
        the gateway (the file itself is written at most once a second): a
        Deferred that fires once it is there, or once keeping it failed
        (logged: the session lives on until the next save). C{None}: a
        record too long for the journal, left to the next save.

        The line joins the lines of the journal write still waiting to
        start, if there is one and no save was handed over since (that
        save empties the journal, and its records do not hold the new
        session): sessions opened together cost one C{fdatasync}, not one
        each."""
        line = self.journal.recordLine(record)
        if line is None:
            return None
        self._journaled = True
        kept: Deferred[None] = Deferred()
        batch = self._batch
        if batch is not None and batch.join(line, kept):
            return kept
        batch = self._batch = _Lines(line, kept)
        written = self._jobs.run(lambda: self.journal.write(*batch.take()))
        written.addCallbacks(lambda _: None, self._keepingFailed).addCallback(batch.written)
        return kept

    def _keepingFailed(self, reason: Failure) -> None:
        self.log.failure(
            "session journal {path}: keeping a new session failed",
            reason,
            path=str(self.journal.path),
        )

    def forget(self, sessionId: str) -> None:
        """The session C{sessionId} ended: a previous save or L{remember}
        must not bring it back after a crash before the next save. Its line
        is written now, on this thread (no C{fsync}: see
        L{mcpgateway.ops.sessionjournal})."""
        if self.journal.writeEnded(sessionId):
            self._journaled = True

    def load(self) -> list[dict[str, Any]]:
        """The checked records of the file and, after them, those of the
        journal the file does not hold (sessions opened in the last second
        before the previous process ended), less the sessions the journal
        says ended."""
        fromFile = self._loadFile()
        fromJournal, ended = self.journal.read(_checked)
        self._journaled = bool(self.journal.appended)  # the next save empties it
        records = [record for record in fromFile if record["id"] not in ended]
        known = {record["id"] for record in fromFile}
        journaled = [
            record
            for record in fromJournal
            if record["id"] not in known and record["id"] not in ended
        ]
        if journaled:
            self.log.info(
                "restored {count} session(s) opened just before the previous gateway ended"
                " (from {path})",
                count=len(journaled),
                path=str(self.journal.path),
            )
        return records + journaled

    def _loadFile(self) -> list[dict[str, Any]]:
        """The checked records of the file; none if there is no file, and
        none (the file moved aside, one log line) if it is unreadable or not
        a sessions file. Records that cannot be used are skipped (one log
        line) and the others restored."""
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return []
        except OSError as e:
            return self._setAside(f"cannot be read ({e.strerror or e})")
        try:
            with f:
                reader = _Reader(f, self.maxBytes, self.maxRecordBytes)
                records = reader.read()
        except OSError as e:
            return self._setAside(f"cannot be read ({e.strerror or e})")
        except CorruptSessions as e:
            return self._setAside(f"is corrupt ({e})")
        if reader.skipped:
            self.log.warn(
                "the sessions file {path}: {count} session(s) not restored ({why});"
                " restored the other {restored}",
                path=str(self.path),
                count=sum(reader.skipped.values()),
                why="; ".join(f"{n}: {why}" for why, n in reader.skipped.items()),
                restored=len(records),
            )
            self._written = None  # the next save writes what is restored
        else:
            self._written = reader.digest.digest()
        return records

    def _setAside(self, why: str) -> list[dict[str, Any]]:
        aside = self.path.with_name(self.path.name + CORRUPT_SUFFIX)
        try:
            os.replace(self.path, aside)
            where = f"moved to {aside}"
        except OSError as e:
            where = f"could not be moved aside: {e.strerror or e}"
        self.log.warn(
            "the sessions file {path} {why}; starting with no sessions (it was {where})",
            path=str(self.path),
            why=why,
            where=where,
        )
        return []

    def save(self, records: list[dict[str, Any]]) -> Deferred[None]:
        """Write C{records}, every session's, (atomically, mode 0600) unless
        the file already holds them, then empty the journal; a Deferred
        that fires once that is done, and every write asked for before (it
        fails if the write did: the next save writes again). A record over
        C{maxRecordBytes} is left out, and so are the sessions idle longest
        while the file would be over C{maxBytes}; one log line when the
        sessions left out change. Every record is encoded again: the
        gateway's saves are L{saveChanges}."""
        self.lines.replace(records)
        return self._handOver()

    def saveChanges(
        self, changed: Iterable[dict[str, Any]], ended: Collection[str]
    ) -> Deferred[None]:
        """As L{save}, given only what changed since the last save: the
        records of the sessions that changed or are new (C{changed}), and
        the ids of those no longer saved (C{ended}; an id in both is
        saved). Only the records C{changed} are encoded."""
        for sessionId in ended:
            self.lines.drop(sessionId)
        for record in changed:
            self.lines.put(record)
        return self._handOver()

    def _handOver(self) -> Deferred[None]:
        """Hand the kept lines to the writes, unless they were already and
        no journal line came since."""
        lines = self.lines
        if not lines.changed and self._handed and not self._journaled:
            return self._jobs.idle()  # handed over already: nothing new to write
        order, entries, leftOut = lines.snapshot()
        self._logLeftOut(leftOut)
        self._handed, self._journaled = True, False
        self._batch = None  # a line from now on is written after this save
        mark = self.journal.mark()
        saved = self._jobs.run(lambda: self._write(order, entries, mark), key=SAVE)
        return saved.addErrback(self._saveFailed)

    def _logLeftOut(self, leftOut: dict[str, str]) -> None:
        ids = frozenset(leftOut)
        if ids != self._leftOut:
            self._leftOut = ids
            if leftOut:
                self.log.warn(
                    "the sessions file {path}: {count} session(s) left out, they would"
                    " not survive a restart ({why})",
                    path=str(self.path),
                    count=len(leftOut),
                    why=_counted(leftOut.values()),
                )

    def _write(self, order: list[str], entries: dict[str, Entry], mark: int) -> None:
        """The save's job, in the writes' thread: the file made of the
        lines C{entries} in C{order}, written unless it holds those bytes
        already, then the journal emptied of all the file holds (the
        sessions as they were at the journal's C{mark})."""
        started = time.monotonic()
        data = fileBytes([entries[sessionId][1] for sessionId in order])
        digest = hashlib.sha256(data).digest()
        if digest != self._written:
            writeFileAtomic(self.path, data, 0o600)
            self._written = digest
            self.writes += 1
        self.journal.clear(mark)
        self.lastWriteSeconds = time.monotonic() - started

    def _saveFailed(self, reason: Failure) -> Failure:
        self._handed = False  # the next save writes again, even the same records
        return reason

    def idle(self) -> Deferred[None]:
        """A Deferred that fires once every write asked for so far is done."""
        return self._jobs.idle()


class _Lines:
    """New sessions' journal lines written together: joined on the reactor
    thread while their write waits, taken by the write in a worker thread
    (a lock says which came first)."""

    __slots__ = ("_lines", "_lock", "_taken", "_waiting")

    def __init__(self, line: bytes, kept: Deferred[None]) -> None:
        self._lines = [line]
        self._waiting = [kept]
        self._taken = False
        self._lock = threading.Lock()

    def join(self, line: bytes, kept: Deferred[None]) -> bool:
        """Add C{line} (its session's C{kept} fires once it is written);
        C{False} when the write took its lines already."""
        with self._lock:
            if self._taken:
                return False
            self._lines.append(line)
            self._waiting.append(kept)
            return True

    def take(self) -> tuple[bytes, int]:
        """The lines to write now (none join afterwards), and how many."""
        with self._lock:
            self._taken = True
            return b"".join(self._lines), len(self._lines)

    def written(self, _: object) -> None:
        """The write is done (or failed, logged): every line's session is told."""
        waiting, self._waiting = self._waiting, []
        for kept in waiting:
            kept.callback(None)


def encode(records: list[dict[str, Any]]) -> bytes:
    """The file's bytes for C{records}, every one of them."""
    return encodeBounded(records, math.inf, math.inf)[0]


def encodeBounded(
    records: list[dict[str, Any]], maxBytes: float, maxRecordBytes: float
) -> tuple[bytes, dict[str, str]]:
    """The file's bytes for C{records}, at most C{maxBytes} of them, and
    the records left out (id: why): those longer than C{maxRecordBytes}
    and, while the file would be too big, the ones idle longest."""
    leftOut: dict[str, str] = {}
    entries: list[tuple[str, Entry]] = []
    for record in records:
        line = encodeLine(record)
        if len(line) > maxRecordBytes:
            leftOut[str(record["id"])] = f"a record over {maxRecordBytes} bytes"
        else:
            entries.append((str(record["id"]), (float(record["lastActivity"]), line)))
    kept, dropped = fit(entries, maxBytes)
    why = f"the file would be over {maxBytes} bytes"
    leftOut.update((sessionId, why) for sessionId in dropped)
    return fileBytes(line for _, line in kept), leftOut


def parse(data: bytes) -> list[dict[str, Any]]:
    """The records in C{data}, each checked; strict: any record that
    L{SessionStore.load} would skip is an error here.

    @raise CorruptSessions: C{data} is not what L{encode} writes.
    """
    reader = _Reader(io.BytesIO(data), MAX_BYTES, MAX_RECORD_BYTES)
    records = reader.read()
    if reader.skipped:
        raise CorruptSessions(next(iter(reader.skipped)))
    return records


def _counted(reasons: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for why in reasons:
        counts[why] = counts.get(why, 0) + 1
    return "; ".join(f"{n}: {why}" for why, n in counts.items())


class _Reader:
    """Reads one sessions file: the records it can use, and why it skipped
    the others (L{skipped}: reason, how many)."""

    def __init__(self, f: IO[bytes], maxBytes: int, maxRecordBytes: int) -> None:
        self._f = f
        self._maxBytes = maxBytes
        self._maxRecordBytes = maxRecordBytes
        self._size = 0
        self.digest = hashlib.sha256()
        self.skipped: dict[str, int] = {}
        self._ids: set[str] = set()
        self._records: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        """The usable records.

        @raise CorruptSessions: not a sessions file at all.
        @raise OSError: reading failed.
        """
        head = self._line(self._maxBytes + 1)
        if head != HEADER:
            self._whole(head)
        else:
            self._lines()
        return self._records

    def _line(self, limit: int) -> bytes:
        line = self._f.readline(limit)
        self._size += len(line)
        self.digest.update(line)
        return line

    def _skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def _whole(self, head: bytes) -> None:
        """A file in the one-line layout (of earlier versions), read whole."""
        if self._size <= self._maxBytes:
            rest = self._f.read(self._maxBytes + 1 - self._size)
            self._size += len(rest)
            self.digest.update(rest)
            head += rest
        if self._size > self._maxBytes:
            raise CorruptSessions(f"larger than {self._maxBytes} bytes")
        try:
            body = json.loads(head, parse_constant=_refuseConstant)
        except (ValueError, RecursionError) as e:
            raise CorruptSessions(f"not JSON: {e}") from None
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise CorruptSessions(f"not a format-{FORMAT} sessions file")
        sessions = body.get("sessions")
        if not isinstance(sessions, list):
            raise CorruptSessions("no list of sessions")
        for record in sessions:
            self._add(record)

    def _lines(self) -> None:
        """A file in the line layout: one record a line, each on its own. A
        closing line is the end only where nothing follows it: one that a
        broken write left in a record's place costs that record alone."""
        limit = self._maxRecordBytes + 2  # the record, its comma and newline
        pending: bytes | None = None
        while True:
            line, pending = (self._line(limit), None) if pending is None else (pending, None)
            if self._size > self._maxBytes:
                self._skip(f"the rest of the file, beyond {self._maxBytes} bytes")
                return
            if not line:
                self._skip("the file ends early (no closing line)")
                return
            if not line.endswith(b"\n") and len(line) == limit:
                self._skipLine()
                self._skip(f"a record over {self._maxRecordBytes} bytes")
                continue
            text = line.rstrip(b"\n")
            if text == FOOTER:
                pending = self._line(limit)
                if not pending.strip():
                    return
                self._skip("a closing line before the last record")
                continue
            self._add(_decoded(text.removesuffix(b",")))

    def _skipLine(self) -> None:
        """Read past the rest of a line too long to keep, a chunk at a time."""
        while self._size <= self._maxBytes:
            chunk = self._line(_SKIP_CHUNK)
            if not chunk or chunk.endswith(b"\n"):
                return

    def _add(self, record: Any) -> None:
        try:
            checked = _checked(record)
        except CorruptSessions as e:
            self._skip(str(e))
            return
        if checked["id"] in self._ids:
            self._skip("a session id appears twice")
            return
        self._ids.add(checked["id"])
        self._records.append(checked)


_UNREADABLE = object()
_KEY = re.compile(r"[A-Za-z0-9_-]{0,64}")
"""A record's C{scope}, C{credential} and C{principal}: ASCII letters,
digits, C{-} and C{_}, at most 64."""


def _decoded(text: bytes) -> Any:
    """The JSON value of one record line (a marker L{_checked} refuses if it is not JSON)."""
    try:
        return decodeLine(text, _refuseConstant)
    except (ValueError, RecursionError):
        return _UNREADABLE


def _refuseConstant(name: str) -> Any:
    raise CorruptSessions(f"{name} is not JSON")


MAX_MEMBERS = 1024
"""Members an aggregate session's record may name."""


def _members(members: Any) -> list[dict[str, Any]]:
    """The checked members of an aggregate session's record: each its
    server, id, route, negotiated version, log level, subscriptions, time
    opened and whether a child served it; one server once."""
    if not isinstance(members, list) or len(members) > MAX_MEMBERS:
        raise CorruptSessions("session aggregate members are not a list")
    checked: list[dict[str, Any]] = []
    servers: set[str] = set()
    for member in members:
        if not isinstance(member, dict):
            raise CorruptSessions("a session aggregate member is not an object")
        server, memberId = member.get("server"), member.get("id")
        if not (isinstance(server, str) and server and server not in servers):
            raise CorruptSessions("a session aggregate member's server is not one of its own")
        if not (_visible(memberId) and isinstance(member.get("protocolVersion"), str)):
            raise CorruptSessions("a session aggregate member's id or version is not a string")
        scope, level = member.get("scope", ""), member.get("logLevel")
        if not (isinstance(scope, str) and _KEY.fullmatch(scope)):
            raise CorruptSessions("a session aggregate member's scope is not a key")
        if not (level is None or isinstance(level, str)):
            raise CorruptSessions("a session aggregate member's logLevel is not a string")
        subscriptions = member.get("subscriptions")
        if not isinstance(subscriptions, list) or not all(
            isinstance(u, str) for u in subscriptions
        ):
            raise CorruptSessions("a session aggregate member's subscriptions are not strings")
        created = member.get("created")
        if isinstance(created, bool) or not isinstance(created, int | float):
            raise CorruptSessions("a session aggregate member's created is not a time")
        if not math.isfinite(created):
            raise CorruptSessions("a session aggregate member's created is not a time")
        servers.add(server)
        checked.append(
            {
                "server": server,
                "id": memberId,
                "scope": scope,
                "protocolVersion": member["protocolVersion"],
                "logLevel": level,
                "subscriptions": list(subscriptions),
                "created": float(created),
                **({"called": True} if member.get("called") is True else {}),
            }
        )
    return checked


def _visible(sessionId: Any) -> bool:
    """Whether C{sessionId} is a session id: visible ASCII, 1 to 256 characters."""
    return (
        isinstance(sessionId, str)
        and 0 < len(sessionId) <= 256
        and sessionId.isascii()
        and sessionId.isprintable()
        and " " not in sessionId
    )


def _checked(record: Any) -> dict[str, Any]:
    if record is _UNREADABLE:
        raise CorruptSessions("a session record is not JSON")
    if not isinstance(record, dict):
        raise CorruptSessions("a session is not an object")
    sessionId = record.get("id")
    if not _visible(sessionId):
        raise CorruptSessions("a session id is not visible ASCII")
    for key in ("server", "protocolVersion"):
        if not isinstance(record.get(key), str):
            raise CorruptSessions(f"session {key} is not a string")
    for key in ("capabilities", "clientInfo"):
        if not isinstance(record.get(key), dict):
            raise CorruptSessions(f"session {key} is not an object")
    if not (record.get("logLevel") is None or isinstance(record.get("logLevel"), str)):
        raise CorruptSessions("session logLevel is not a string")
    subscriptions = record.get("subscriptions")
    if not isinstance(subscriptions, list) or not all(isinstance(u, str) for u in subscriptions):
        raise CorruptSessions("session subscriptions are not a list of strings")
    pid = record.get("clientPid")
    if pid is not None and not (
        isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid < 2**31
    ):
        raise CorruptSessions("session clientPid is not a pid")
    for key in ("created", "lastActivity"):
        value = record.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise CorruptSessions(f"session {key} is not a time")
    keys = {}
    for key in ("scope", "credential", "principal"):
        value = record.get(key, "")
        if not (isinstance(value, str) and _KEY.fullmatch(value)):
            raise CorruptSessions(f"session {key} is not a key")
        keys[key] = value
    extra: dict[str, Any] = {}
    aggregate = record.get("aggregate")
    if aggregate is not None:
        # An aggregate session's (/mcp): its endpoint's name and its mode.
        if not (
            isinstance(aggregate, dict)
            and isinstance(aggregate.get("endpoint"), str)
            and len(aggregate["endpoint"]) <= 32
            and aggregate.get("mode") in ("full", "search")
        ):
            raise CorruptSessions("session aggregate is not an endpoint and a mode")
        extra["aggregate"] = {"endpoint": aggregate["endpoint"], "mode": aggregate["mode"]}
        members = aggregate.get("members")
        if members is not None:
            extra["aggregate"]["members"] = _members(members)
    if pid is not None and record.get("pidFromSocket") is True:
        extra["pidFromSocket"] = True  # found by the gateway, not the client's word
    if record.get("called") is True:
        extra["called"] = True  # a child served it: one started anew is told so
    if record.get("listens") is True:
        extra["listens"] = True  # its client opens GET streams: what waits goes out on the next
        if "backlog" in record:
            try:
                extra["backlog"] = checkedBacklog(record["backlog"])
            except ValueError as e:
                raise CorruptSessions(str(e)) from None
    return {
        **keys,
        **extra,
        "id": sessionId,
        "server": record["server"],
        "protocolVersion": record["protocolVersion"],
        "capabilities": record["capabilities"],
        "clientInfo": record["clientInfo"],
        "logLevel": record.get("logLevel"),
        "subscriptions": list(subscriptions),
        "clientPid": pid,
        "created": float(record["created"]),
        "lastActivity": float(record["lastActivity"]),
    }
