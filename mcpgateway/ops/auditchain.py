# -*- test-case-name: tests.ops.test_auditverify, tests.ops.test_auditverify_head -*-
"""The audit trail's hash chain: how a record is sealed into its line.

Each line of the audit log is one JSON object in canonical form (sorted
keys, no white space, strings escaped as Python's C{json} escapes them,
every character past ASCII as its C{\\uXXXX} escape: for ASCII strings,
integers and the millisecond-rounded floats a record holds, the RFC 8785
(JCS) form; a line is ASCII, one line for any tool that splits lines) followed by one more member,
C{"hash"}: the SHA-256, in hex, of the line without that member (the
canonical JSON of the record without C{hash}). Editing one byte of a line
changes its hash or breaks it; a verifier needs nothing but the line.

The records are chained by segments. A process that writes the log is one
segment (C{seg}: its process id and a random part); its first record, of
C{kind} C{segment}, names the process (C{pid}) and, as C{prev}, the last
hash it found in the file when it started (C{None}: an empty file). Every
later record of the segment carries its number in the segment (C{n}) and,
as C{prev}, the hash of the segment's previous record. During a restart's
hand-over the old and the new process both append to the file: their
segments interleave, each chained on its own, and the new one is anchored
to what was in the file before it. A record removed, edited or moved
breaks its segment's chain (L{mcpgateway.ops.auditverify}).

When a writer rotates the file, its next record, the new file's first
line, is of C{kind} C{rotated}: the previous file's name at the time
(C{file}), the hash of that file's last line (C{last}), so a missing file
of the rotation shows, and the new file's place in the trail (C{seq}: 1
for the file after the first; absent when the file before did not say
its own, L{fileSeq}).

So the head of a trail is sealed: its first record is the start of a
segment written to an empty file (C{kind} C{segment}, C{n} 0, C{prev}
C{None}: nothing can come before it), and every later file begins with
its C{rotated} record. A file that begins with anything else lost its
first records (L{mcpgateway.ops.auditverify} says so).
A process that closes the log ends its segment with a record of C{kind}
C{end} (C{records}: how many it wrote); a segment without one was cut short
(a process killed) or lost its last records.

A keyed segment (each of its records says C{"mac": "hmac-sha256"}, so a
record whose segment began in a file no longer there still says how it
was sealed) seals each line
with HMAC-SHA256 under the audit key (L{mcpgateway.ops.auditkey}) of the
previous hash, a line end and the line without its C{hash} (L{mac}), not
with a bare SHA-256: whoever can write the log but not read the key cannot
seal a line again, so a removed record shows even after the rest of the
chain is rewritten. A segment without C{mac} is unkeyed (a log written
before the key, or by a writer given none).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from typing import Any

HASH_SUFFIX = re.compile(rb',"hash":"([0-9a-f]{64})"\}$')
"""Where a sealed line's hash is: its last member."""

KINDS = ("request", "segment", "rotated", "end", "change")
"""What a record may be: a request's, a segment's start, a rotation, a
segment's end, a change made through the management API."""

CHAIN_KINDS = frozenset(("segment", "rotated", "end"))
"""The kinds of the chain's own records: they carry no request's members
(no C{method}); a reader of the requests leaves them out."""

MAC = "hmac-sha256"
"""The C{mac} a keyed segment's start names."""

TAIL_BYTES = 1 << 20
"""How much of a file's end L{lastHash} reads for its last line."""

HEAD_BYTES = 1 << 16
"""How much of a file's first line L{fileSeq} reads."""


def canonical(value: Any) -> bytes:
    """The canonical JSON of C{value}: sorted keys, no white space, ASCII
    (any other character as its C{\\uXXXX} escape), no NaN or infinity
    (C{ValueError})."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def digest(value: Any) -> str:
    """C{sha256:<hex>} of the canonical JSON of C{value} (a value that is not
    strict JSON is digested as its strict form: non-finite floats as
    C{null}, other objects as their C{str})."""
    try:
        data = canonical(value)
    except (TypeError, ValueError):
        data = canonical(strict(value))
    return "sha256:" + hashlib.sha256(data).hexdigest()


def strict(value: Any) -> Any:
    """C{value} as strict JSON: non-finite floats as C{None}, keys as
    strings, anything else that is not JSON as its C{str}."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def mac(key: bytes, prev: str | None, body: bytes) -> str:
    """The hash of a keyed segment's line whose canonical C{body} (without
    C{hash}) follows the hash C{prev}: HMAC-SHA256 under C{key}, in hex."""
    message = (prev or "").encode("ascii") + b"\n" + body
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal(record: dict[str, Any], key: bytes | None = None) -> tuple[bytes, str]:
    """The line of C{record} (without its newline) and its hash (with
    C{key}: its L{mac} after the record's C{prev})."""
    try:
        body = canonical(record)
    except (TypeError, ValueError):
        body = canonical(strict(record))
    if key is None:
        hexed = hashlib.sha256(body).hexdigest()
    else:
        prev = record.get("prev")
        hexed = mac(key, prev if isinstance(prev, str) else None, body)
    return body[:-1] + b',"hash":"' + hexed.encode("ascii") + b'"}', hexed


def unseal(line: bytes) -> tuple[bytes, str] | None:
    """The canonical body of a sealed C{line} and the hash it claims
    (C{None}: not a sealed line)."""
    match = HASH_SUFFIX.search(line)
    if match is None or match.start() == 0:
        return None
    body = line[: match.start()] + b"}"
    return body, match.group(1).decode("ascii")


def lastHash(path: str) -> str | None:
    """The hash of the last sealed line of the file at C{path} (C{None}: no
    file, or none in its last L{TAIL_BYTES}). Blocking: run it in a thread."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read()
    except OSError:
        return None
    for line in reversed(tail.split(b"\n")):
        sealed = unseal(line)
        if sealed is not None:
            return sealed[1]
    return None


def fileSeq(path: str) -> int | None:
    """The place in its trail of the audit file at C{path}, read from its
    first line: 0 for the file a trail began in (its first record a
    segment's start on an empty file), the C{seq} of its C{rotated} record
    for a later one; C{None}: not known (no file, a first line of another
    kind, longer than L{HEAD_BYTES}, or a rotation that did not say).
    Blocking: it reads at most L{HEAD_BYTES}."""
    try:
        with open(path, "rb") as f:
            head = f.readline(HEAD_BYTES)
    except OSError:
        return None
    sealed = unseal(head.rstrip(b"\n"))
    if sealed is None:
        return None
    try:
        record = json.loads(sealed[0])
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    if record.get("kind") == "segment" and record.get("n") == 0 and record.get("prev") is None:
        return 0
    seq = record.get("seq")
    return seq if record.get("kind") == "rotated" and type(seq) is int and seq > 0 else None


class Chain:
    """One writer's segment: seals its records in order (keyed with C{key},
    the audit key, when given)."""

    def __init__(self, pid: int | None = None, key: bytes | None = None) -> None:
        self.pid = os.getpid() if pid is None else pid
        self._key = key
        self.seg = f"{self.pid}.{secrets.token_hex(4)}"
        """The segment's id: the process's id and a random part."""
        self.n = -1
        """The number of the last record sealed (C{-1}: none yet)."""
        self.prev: str | None = None
        """The hash of the last record sealed."""

    @property
    def started(self) -> bool:
        """Whether the segment's first record is sealed."""
        return self.n >= 0

    def start(self, ts: float, after: str | None) -> bytes:
        """The segment's first line: the process, and C{after}, the last hash
        the file held when it started."""
        assert self.n < 0
        self.prev = after
        return self.next({"ts": round(ts, 3), "kind": "segment", "pid": self.pid})

    def next(self, record: dict[str, Any]) -> bytes:
        """The line of C{record}, the segment's next (C{kind} C{request}
        unless it says otherwise)."""
        record.setdefault("kind", "request")
        record["seg"] = self.seg
        record["n"] = self.n + 1
        record["prev"] = self.prev
        if self._key is not None:
            record["mac"] = MAC
        line, self.prev = seal(record, self._key)
        self.n += 1
        return line

    def rotated(self, ts: float, name: str, last: str | None, seq: int | None = None) -> bytes:
        """The line that opens a new file after this writer rotated it:
        the previous file's C{name}, the hash of its last line, and the new
        file's place in the trail (C{None}: not known)."""
        record: dict[str, Any] = {"ts": round(ts, 3), "kind": "rotated", "file": name, "last": last}
        if seq is not None:
            record["seq"] = seq
        return self.next(record)

    def end(self, ts: float) -> bytes:
        """The segment's last line: how many records it wrote."""
        return self.next({"ts": round(ts, 3), "kind": "end", "records": self.n + 2})
