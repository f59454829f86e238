# -*- test-case-name: tests.ops.test_sessionlines, tests.ops.test_sessionstore_bounds -*-
"""The lines of C{sessions.json}, each session's record encoded once: L{SessionLines}.

The gateway saves its sessions every second in which one of them changed
(L{mcpgateway.core.gateway.continuity.SessionContinuity.save}). Encoding every
session's record for each save made that second cost grow with the number
of sessions (about a second of the reactor thread at 100,000 sessions), so
each record's line is kept once encoded, by session id, and only the
records of the sessions that changed are encoded again: a save takes the
kept lines as they are, and the file's bytes are joined from them in the
thread that writes it (L{SessionLines.snapshot}, L{fileBytes}).

The bytes are the ones L{mcpgateway.ops.sessionstore.encodeBounded} makes of
the same records: one record a line, sorted by session id, within the
file's size bound (the sessions idle longest left out first, L{fit}), no
record over its own bound.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from mcpgateway.protocol import jsonrpc

HEADER = b'{"format": 1, "sessions": [\n'
"""The first line of a file in the line layout."""
FOOTER = b"]}"
"""Its last line."""
_encoder = json.JSONEncoder(sort_keys=True, allow_nan=False, ensure_ascii=True)
_fast: Callable[[dict[str, Any]], bytes] | None = None
"""orjson's C{dumps} with sorted keys, once the first line imported it."""

Entry = tuple[float, bytes]
"""A kept line: its session's last activity (which sessions the size bound
leaves out first) and the record's line."""


def encodeLine(record: dict[str, Any]) -> bytes:
    """One record's line in the file (without its comma and newline): its
    keys sorted, by orjson (compact, UTF-8), which a new session's record
    takes a few microseconds of, where the standard library's encoder takes
    tens (each session is encoded for the journal, then for the file);
    by the standard library's (ASCII) where orjson refuses (a lone
    surrogate, an integer beyond 64 bits) or cannot be imported. Either
    reads back as the same record."""
    global _fast
    if _fast is None:
        _fast = _orjsonSorted()
    try:
        return _fast(record)
    except TypeError:  # orjson's JSONEncodeError
        return _encoder.encode(record).encode("ascii")


_LONG_NUMBER = re.compile(rb"\d{19}")
"""A run of digits that may be an integer beyond 64 bits, which orjson reads
as a float: such a line is read by the standard library, exactly."""
_reader: Callable[[bytes], Any] | None = None
"""orjson's C{loads}, once the first line read imported it."""


def decodeLine(text: bytes, parseConstant: Callable[[str], Any]) -> Any:
    """The JSON value of one record's line: by orjson, which reads strict
    JSON only, else (what it refuses: an integer beyond 64 bits, a lone
    surrogate's escape, deep nesting, C{NaN}; or no orjson) by the
    standard library's C{json}, C{parseConstant} given C{NaN} and the
    infinities: a file of 100,000 sessions is read at start in a fraction
    of the time.

    @raise ValueError: not JSON.
    @raise RecursionError: nested too deep for the standard library.
    """
    global _reader
    if _reader is None:
        try:
            if not jsonrpc.fastOn():
                raise ImportError("MCPGATEWAY_JSON=stdlib")
            import orjson

            _reader = orjson.loads
        except ImportError:
            _reader = json.loads
    if _LONG_NUMBER.search(text) is None:  # orjson reads a longer one as a float
        try:
            return _reader(text)
        except ValueError:  # orjson's JSONDecodeError
            pass
    return json.loads(text, parse_constant=parseConstant)


def _orjsonSorted() -> Callable[[dict[str, Any]], bytes]:
    """orjson's C{dumps} with sorted keys; one that refuses everything
    (C{TypeError}) when orjson cannot be imported or the gateway's JSON
    switch rules it out (L{mcpgateway.protocol.jsonrpc.fastOn})."""
    try:
        if not jsonrpc.fastOn():
            raise ImportError("MCPGATEWAY_JSON=stdlib")
        import orjson
    except ImportError:

        def refused(record: dict[str, Any]) -> bytes:
            raise TypeError("orjson cannot be imported")

        return refused
    sort = orjson.OPT_SORT_KEYS

    def dumps(record: dict[str, Any]) -> bytes:
        # Copied: the bytes orjson returns keep the whole buffer it wrote
        # into (4 KiB for a line of 300 bytes), and a line is kept per session.
        return bytes(memoryview(orjson.dumps(record, option=sort)))

    return dumps


def fileBytes(lines: Iterable[bytes]) -> bytes:
    """The file made of C{lines}, in the order given."""
    body = b",\n".join(lines)
    return b"".join((HEADER, body, b"\n" if body else b"", FOOTER, b"\n"))


def fit(
    entries: Iterable[tuple[str, Entry]], maxBytes: float
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Which of C{entries} (id, entry) a file of at most C{maxBytes} holds,
    as (id, line) sorted, and the ids it leaves out: while the file would
    be too big, the sessions idle longest (the same last activity: the
    greater id first)."""
    room = maxBytes - len(HEADER) - len(FOOTER) - 1
    kept: list[tuple[str, bytes]] = []
    leftOut: list[str] = []
    for sessionId, (_, line) in sorted(entries, key=lambda pair: (-pair[1][0], pair[0])):
        room -= len(line) + 2
        if room < 0:
            leftOut.append(sessionId)
        else:
            kept.append((sessionId, line))
    kept.sort()
    return kept, leftOut


class SessionLines:
    """The encoded lines of the sessions to save, by id, changed one at a
    time (L{put}, L{drop}) or all at once (L{replace}); L{snapshot} gives
    what a file made now holds. Used on one thread (the reactor's): a
    snapshot hands immutable values to the thread that writes the file."""

    def __init__(self, maxBytes: float, maxRecordBytes: float) -> None:
        self.maxBytes = maxBytes
        self.maxRecordBytes = maxRecordBytes
        self._lines: dict[str, Entry] = {}
        self._tooLong: dict[str, str] = {}
        """The sessions whose record is over C{maxRecordBytes}: never written."""
        self._size = 0
        """The bytes of the kept lines (without their commas and newlines)."""
        self._order: list[str] = []
        """The ids of the lines sorted, as of the last L{snapshot} (never
        changed in place: a snapshot may hold it)."""
        self._added: set[str] = set()
        """Ids of lines put since, not in L{_order}."""
        self._removed: set[str] = set()
        """Ids in L{_order} whose lines were dropped since."""
        self.changed = False
        """A line was put, changed or dropped since the last L{snapshot}."""
        self.encoded = 0
        """How many records were encoded (for tests and the benchmarks)."""

    def __len__(self) -> int:
        return len(self._lines) + len(self._tooLong)

    def put(self, record: dict[str, Any]) -> None:
        """Keep C{record}'s line (encoded now), in place of its session's previous one."""
        sessionId = str(record["id"])
        line = encodeLine(record)
        self.encoded += 1
        if len(line) > self.maxRecordBytes:
            self.drop(sessionId)
            self._tooLong[sessionId] = f"a record over {self.maxRecordBytes} bytes"
            self.changed = True
            return
        self._tooLong.pop(sessionId, None)
        entry = (float(record["lastActivity"]), line)
        previous = self._lines.get(sessionId)
        if previous == entry:
            return
        self._lines[sessionId] = entry
        self.changed = True
        if previous is not None:
            self._size -= len(previous[1])
        elif sessionId in self._removed:
            self._removed.discard(sessionId)  # still in the order
        else:
            self._added.add(sessionId)
        self._size += len(line)

    def drop(self, sessionId: str) -> None:
        """Forget the line of C{sessionId} (a session that ended), if kept."""
        if self._tooLong.pop(sessionId, None) is not None:
            self.changed = True
        previous = self._lines.pop(sessionId, None)
        if previous is None:
            return
        self.changed = True
        self._size -= len(previous[1])
        if sessionId in self._added:
            self._added.discard(sessionId)
        else:
            self._removed.add(sessionId)

    def replace(self, records: Iterable[dict[str, Any]]) -> None:
        """Keep the lines of C{records}, and of no other session."""
        before = (self._lines, self._tooLong)
        self._lines, self._tooLong, self._size = {}, {}, 0
        self._order, self._added, self._removed = [], set(), set()
        for record in records:
            self.put(record)
        self.changed = (self._lines, self._tooLong) != before

    def snapshot(self) -> tuple[list[str], dict[str, Entry], dict[str, str]]:
        """What a file written now holds: the ids of its lines, in their
        order, the lines (a copy, by id) and the sessions left out (id:
        why). The work here grows with the changes since the last one, not
        with the sessions, while the file stays within its bound."""
        order = self._order
        if self._removed:
            removed = self._removed
            order = [sessionId for sessionId in order if sessionId not in removed]
            self._removed = set()
        if self._added:
            order = order + sorted(self._added)
            order.sort()  # two sorted runs: merged
            self._added = set()
        self._order = order
        self.changed = False
        leftOut = dict(self._tooLong)
        lines = dict(self._lines)
        room = self.maxBytes - len(HEADER) - len(FOOTER) - 1
        if self._size + 2 * len(lines) > room:
            kept, dropped = fit(lines.items(), self.maxBytes)
            why = f"the file would be over {self.maxBytes} bytes"
            leftOut.update((sessionId, why) for sessionId in dropped)
            order = [sessionId for sessionId, _ in kept]
        return order, lines, leftOut
