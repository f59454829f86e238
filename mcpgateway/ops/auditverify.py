# -*- test-case-name: tests.ops.test_auditverify, tests.ops.test_auditverify_head -*-
"""Verifying an audit trail (C{mcpgateway audit verify}): its files, oldest
first, read line by line (a large file in constant memory), each line's
hash checked against its content and each segment's chain followed
(L{mcpgateway.ops.auditchain}). The first bad record is named: its file,
its line, and what is wrong with it.

What it finds:
 - C{edited}: a line whose hash does not match its content, that is not a
   sealed record, or not in canonical form; or a record whose successor
   names another hash (edited and sealed again);
 - C{removed}: a segment's record that is missing (its successor's number
   skips it, and it is nowhere later), a segment whose start is missing, a
   file of the rotation missing (a record names a last hash no file given
   before holds), a trail cut at its head (its first record neither the
   start of the trail nor a rotation's);
 - C{reordered}: a record that comes before one of its segment it follows,
   or a missing record found later in the trail;
 - C{truncated}: a last line without its line end.

The head of a trail is sealed (L{mcpgateway.ops.auditchain}), so its
first record says where it stands (L{Result.begins}):
 - the start of a segment written to an empty file (C{prev} C{null}): the
   trail is whole from its start, nothing before it may be missing;
 - a C{rotated} record: the file begins after the file it names, which
   was not given (rotated away, or removed). Its records of segments that
   started before it are taken as they are (the result says how many),
   and nothing before it can be checked: the head is not proven
   (L{Result.headProven}), which the caller reports;
 - anything else: the records before it were cut off (C{removed}, naming
   the record found and what was expected), or the files before it were
   not given (a file another tool rotated begins with no record of it).
What no chain can show is the end of a trail cut off: a segment without
its C{end} record is reported as open (a process killed, or its last
records removed), not as an error.

Keyed segments (L{mcpgateway.ops.auditchain}: C{"mac": "hmac-sha256"} in
each record) are checked with the audit key: a line whose MAC does not
match is C{edited} (edited, or sealed again by someone without the key),
and so is a segment that starts unkeyed after a keyed one (a keyed
segment sealed again as unkeyed). Without the key a keyed segment's lines
are followed for their structure only (numbers, order, C{prev}); the
result counts them as C{unchecked}. Unkeyed segments (a log older than the
key) are checked as before and counted: their hashes show an accident,
not someone who can write the log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from mcpgateway.ops.auditchain import MAC, canonical, mac, unseal

RECENT = 1 << 16
"""How many recent hashes a segment's start or a rotation may name."""


@dataclass(frozen=True)
class Problem:
    """The first bad record of a trail."""

    file: str
    line: int
    kind: str
    """C{edited}, C{removed}, C{reordered}, C{truncated}."""
    detail: str

    def text(self) -> str:
        """One line for a person."""
        return f"{self.file}:{self.line}: {self.kind}: {self.detail}"


@dataclass
class Result:
    """What verifying a trail found."""

    files: int = 0
    records: int = 0
    segments: int = 0
    anchored: int = 0
    """Segments of the first file that started in a file not given."""
    begins: str | None = None
    """How the trail's first record begins it: C{start} (a segment's start
    on an empty file) or C{rotated} (a file rotated after one not given,
    L{after}); C{None}: no record."""
    after: dict[str, Any] | None = None
    """For a trail that begins C{rotated}: the file its first record is in
    (C{in}), the file before it that was not given (C{file}, its name then),
    the hash of that file's last record (C{last}) and the first file's place
    in the trail (C{seq}, C{None} when its record does not say)."""
    open: list[str] = field(default_factory=list)
    """Segments without their C{end} record."""
    keyed: int = 0
    """Segments sealed with the audit key."""
    unkeyed: int = 0
    """Segments sealed without a key (older logs)."""
    unchecked: int = 0
    """Records of keyed segments whose MAC was not checked: no key given."""
    problem: Problem | None = None

    @property
    def intact(self) -> bool:
        """Whether no record is bad (of those whose MAC is unchecked: their
        structure)."""
        return self.problem is None

    @property
    def headProven(self) -> bool:
        """Whether nothing can be missing before the first record: the trail
        begins with its start (or holds no record)."""
        return self.begins != "rotated"

    @property
    def integrity(self) -> str:
        """C{checked}: every keyed record's MAC matched (and there is one);
        C{structure}: keyed records were not checked (no key); C{unkeyed}:
        no keyed segment, hashes only."""
        if self.unchecked:
            return "structure"
        return "checked" if self.keyed else "unkeyed"

    def json(self) -> dict[str, Any]:
        """The result as C{--json} prints it."""
        out: dict[str, Any] = {
            "intact": self.intact,
            "files": self.files,
            "records": self.records,
            "segments": self.segments,
            "anchored": self.anchored,
            "begins": self.begins,
            "headProven": self.headProven,
            "after": self.after,
            "open": self.open,
            "keyed": self.keyed,
            "unkeyed": self.unkeyed,
            "unchecked": self.unchecked,
            "integrity": self.integrity,
        }
        if self.problem is not None:
            out["problem"] = {
                "file": self.problem.file,
                "line": self.problem.line,
                "kind": self.problem.kind,
                "detail": self.problem.detail,
            }
        return out


@dataclass
class _Segment:
    n: int
    hash: str
    file: str
    line: int
    keyed: bool = False


class _Bad(Exception):
    def __init__(self, kind: str, detail: str, where: tuple[str, int] | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.where = where
        """The bad record, when not the line being read."""


def _lines(f: BinaryIO) -> Iterator[tuple[int, bytes, bool]]:
    """Each line of C{f}: its number, its bytes, whether it had its end."""
    for number, raw in enumerate(f, 1):
        ended = raw.endswith(b"\n")
        yield number, raw[:-1] if ended else raw, ended


class Verifier:
    """Follows the chain over the files of one trail (see the module)."""

    def __init__(self, paths: Sequence[str], key: bytes | None = None) -> None:
        self.paths = list(paths)
        self.key = key
        """The audit key (C{None}: keyed segments are checked for structure only)."""
        self.result = Result()
        self._segments: dict[str, _Segment] = {}
        self._recent: deque[str] = deque(maxlen=RECENT)
        self._recentSet: dict[str, int] = {}
        self._headIndex = -1
        """The file the trail's first record is in, when it begins rotated."""

    def run(self) -> Result:
        """Verify every file; the result (stops at the first bad record)."""
        for index, path in enumerate(self.paths):
            self.result.files += 1
            try:
                with open(path, "rb") as f:
                    for number, line, ended in _lines(f):
                        try:
                            if not ended:
                                raise _Bad("truncated", "the last line has no line end")
                            self._record(index, number, line)
                        except _Bad as bad:
                            where = bad.where or (path, number)
                            self.result.problem = Problem(*where, bad.kind, bad.detail)
                            return self.result
            except OSError as e:
                self.result.problem = Problem(path, 0, "removed", f"cannot read it: {e.strerror}")
                return self.result
        self.result.open = sorted(self._segments)
        return self.result

    def _remember(self, hexed: str) -> None:
        if len(self._recent) == self._recent.maxlen:
            old = self._recent[0]
            count = self._recentSet.get(old, 0) - 1
            if count <= 0:
                self._recentSet.pop(old, None)
            else:
                self._recentSet[old] = count
        self._recent.append(hexed)
        self._recentSet[hexed] = self._recentSet.get(hexed, 0) + 1

    def _record(self, index: int, number: int, line: bytes) -> None:
        sealed = unseal(line)
        if sealed is None:
            raise _Bad("edited", "not a sealed audit record (no hash at its end)")
        body, claimed = sealed
        plain = hashlib.sha256(body).hexdigest() == claimed
        try:
            record = json.loads(body)
            if not isinstance(record, dict) or canonical(record) != body:
                raise ValueError
        except ValueError:
            if not plain:
                raise _Bad("edited", "its hash does not match its content") from None
            raise _Bad("edited", "its content is not in canonical form") from None
        seg, n, prev = record.get("seg"), record.get("n"), record.get("prev")
        if (
            not isinstance(seg, str)
            or type(n) is not int
            or not (prev is None or isinstance(prev, str))
        ):
            if not plain:
                raise _Bad("edited", "its hash does not match its content")
            raise _Bad("edited", "it has no segment, number or previous hash")
        keyed = self._checkSeal(record, seg, body, claimed, plain)
        if self.result.records == 0:
            self._head(index, record, seg, n, prev)
        self.result.records += 1
        path = self.paths[index]
        kind = record.get("kind")
        if kind == "segment":
            self._started(index, seg, n, prev)
        else:
            self._follows(index, number, seg, n, prev)
        if kind == "rotated":
            last = record.get("last")
            if isinstance(last, str) and last not in self._recentSet and not self._mayAnchor(index):
                raise _Bad(
                    "removed",
                    f"it follows the file {record.get('file')!r}, whose last record"
                    f" (hash {last[:12]}) is in no file given before it: a file of the"
                    " rotation is missing",
                )
        self._remember(claimed)
        if kind == "end":
            self._segments.pop(seg, None)
        else:
            self._segments[seg] = _Segment(n, claimed, path, number, keyed)

    def _checkSeal(
        self, record: dict[str, Any], seg: str, body: bytes, claimed: str, plain: bool
    ) -> bool:
        """Check the line's hash, or its MAC with the key; whether its
        segment is keyed (each of a keyed segment's records says so)."""
        named = record.get("mac")
        if named is not None and named != MAC:
            raise _Bad("edited", f"it names an unknown MAC {str(named)[:32]!r}")
        keyed = named == MAC
        state = self._segments.get(seg)
        if record.get("kind") == "segment" or state is None:  # a start, or begun before
            if keyed:
                self.result.keyed += 1
            elif self.result.keyed and record.get("kind") == "segment":
                raise _Bad(
                    "edited",
                    f"segment {seg} starts unkeyed after keyed segments: a keyed segment"
                    " sealed again without the key",
                )
            else:
                self.result.unkeyed += 1
        elif state.keyed != keyed:
            raise _Bad(
                "edited",
                f"segment {seg} is {'' if state.keyed else 'un'}keyed and this record of it"
                f" is {'' if keyed else 'un'}keyed: sealed again without the key",
            )
        if not keyed:
            if not plain:
                raise _Bad("edited", "its hash does not match its content")
            return False
        if self.key is None:
            self.result.unchecked += 1
            return True
        prev = record.get("prev")
        if not hmac.compare_digest(mac(self.key, prev, body), claimed):
            raise _Bad(
                "edited",
                "its MAC does not match its content under the audit key: edited, or sealed"
                " again by someone without the key (or the key is not this trail's)",
            )
        return True

    def _head(self, index: int, record: dict[str, Any], seg: str, n: int, prev: str | None) -> None:
        """The trail's first C{record}: where it stands (see the module)."""
        kind = record.get("kind")
        if kind == "segment" and prev is None:
            self.result.begins = "start"
            return
        if kind == "rotated":
            seq = record.get("seq")
            last = record.get("last")
            self.result.begins = "rotated"
            self.result.after = {
                "in": self.paths[index],
                "file": str(record.get("file")),
                "last": last if isinstance(last, str) else None,
                "seq": seq if type(seq) is int else None,
            }
            self._headIndex = index
            return
        found = f"record {n} of segment {seg} (kind {kind!r}"
        found += f", after hash {prev[:12]})" if isinstance(prev, str) else ")"
        raise _Bad(
            "removed",
            f"the trail begins with {found}, not where a trail or a file of it begins: the"
            " start of a segment on an empty file (record 0, kind 'segment', no previous"
            " hash) or a rotation (kind 'rotated', naming the file before it). Its head was"
            " cut off, or the files before it are not given",
        )

    def _mayAnchor(self, index: int) -> bool:
        """Whether a record may name what no file given holds: in the file
        a trail that begins rotated begins in."""
        return index == self._headIndex

    def _started(self, index: int, seg: str, n: int, prev: str | None) -> None:
        self.result.segments += 1
        if n != 0:
            raise _Bad("edited", "a segment's start that is not its first record")
        if seg in self._segments:
            raise _Bad("reordered", f"segment {seg} starts again (a copied record)")
        if prev is None:
            if self.result.records > 1:
                raise _Bad(
                    "removed",
                    "a segment that says it started on an empty file, after other records",
                )
            return
        if prev not in self._recentSet and not self._mayAnchor(index):
            raise _Bad(
                "removed",
                f"segment {seg} started after a record (hash {prev[:12]}) that is in no"
                " file given: records before it were removed, or a file is missing",
            )

    def _follows(self, index: int, number: int, seg: str, n: int, prev: str | None) -> None:
        state = self._segments.get(seg)
        if state is None:
            if self._mayAnchor(index):
                self.result.anchored += 1
                self.result.segments += 1
                return
            raise _Bad(
                "removed",
                f"record {n} of segment {seg}: the segment's earlier records are in no"
                " file given (removed, or a file of the rotation is missing)",
            )
        expected = state.n + 1
        if n < expected:
            raise _Bad(
                "reordered",
                f"record {n} of segment {seg} comes after its record {state.n}"
                f" ({state.file}:{state.line})",
            )
        if n > expected:
            found = self._lookAhead(index, number, seg, expected)
            if found is not None:
                raise _Bad(
                    "reordered",
                    f"record {n} of segment {seg} comes before its record {expected},"
                    f" which is at {found}",
                )
            missing = f"record {expected}" if n == expected + 1 else f"records {expected}-{n - 1}"
            raise _Bad(
                "removed",
                f"{missing} of segment {seg} (after {state.file}:{state.line}) are missing",
            )
        if prev != state.hash:
            raise _Bad(
                "edited",
                f"edited and sealed again: record {n} of segment {seg}"
                f" ({self.paths[index]}:{number}) names another hash for it",
                (state.file, state.line),
            )

    def _lookAhead(self, index: int, number: int, seg: str, n: int) -> str | None:
        """Where record C{n} of segment C{seg} is after this line, if anywhere."""
        needle = b'"seg":' + json.dumps(seg).encode()
        for later in range(index, len(self.paths)):
            try:
                with open(self.paths[later], "rb") as f:
                    for lineNumber, line, _ in _lines(f):
                        if (later == index and lineNumber <= number) or needle not in line:
                            continue
                        sealed = unseal(line)
                        if sealed is None:
                            continue
                        try:
                            record = json.loads(sealed[0])
                        except ValueError:
                            continue
                        if record.get("seg") == seg and record.get("n") == n:
                            return f"{self.paths[later]}:{lineNumber}"
            except OSError:
                continue
        return None


def verify(paths: Sequence[str], key: bytes | None = None) -> Result:
    """Verify the trail of C{paths}, oldest first (keyed segments with
    C{key}, the audit key: without it, their structure only)."""
    return Verifier(paths, key).run()
