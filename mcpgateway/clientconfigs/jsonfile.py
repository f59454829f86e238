# -*- test-case-name: tests.clientconfigs.test_adoption_safety,tests.clientconfigs.test_claude -*-
"""Atomic read-modify-write of JSON files that other programs write too.

One job: change a JSON file (Claude Code's C{~/.claude.json}, a C{.mcp.json})
without ever losing a write of its owner and without ever leaving half a file.

 - L{readJson} parses strictly (no C{NaN}/C{Infinity}) and names the file,
   line and column of an error; it retries a read that raced an in-place writer.
 - L{replaceIfUnchanged} writes new content to a temp file in the same
   directory (fsync, the file's mode and owner), then, just before the
   rename, checks the file's L{Fingerprint} (mtime, size, sha256) again: if
   someone wrote in between, nothing is replaced and the caller
   (L{mcpgateway.clientconfigs.documents.updateFile}) redoes its whole cycle
   on their content. The directory is fsynced after the rename.
 - L{JsonFormat} writes the document the way the original was written (indent,
   separators, ASCII escaping, trailing newline, CRLF), so a key the caller
   did not touch comes back byte for byte when the original was machine-written
   (C{JSON.stringify(obj, null, 2)} in Claude Code's case).
 - The write itself is L{mcpgateway.runtime.atomicfile}'s (temp, fsync, rename, fsync
   of the directory), the one the gateway uses for every file.

There is no lock the other writers honour, so a write landing between the last
check and the rename (microseconds) can still be lost; every wider window is
detected and retried.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from mcpgateway.config.servers import ConfigError
from mcpgateway.runtime.atomicfile import (
    fsyncDirectory,
    writeTemp,
)

_READ_ATTEMPTS = 3
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON string, or a non-JSON constant that Python's json module would accept.
_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)', re.DOTALL)
_FIRST_INDENT = re.compile(r"\n([ \t]+)\S")


class ConcurrentWriteError(Exception):
    """Another program kept writing the file between our read and our rename."""


class Fingerprint(NamedTuple):
    """What a file looked like when it was read."""

    mtimeNs: int
    size: int
    sha256: str


@dataclass(frozen=True)
class JsonFormat:
    """How a JSON document is laid out, so it can be written back the same way.

    @ivar indent: C{json.dumps}'s indent (spaces count or a string); C{None}
        for a one-line document.
    @ivar compact: for a one-line document, C{,}/C{:} separators (JavaScript's)
        rather than Python's C{, }/C{: }.
    @ivar ensureAscii: non-ASCII characters as C{\\uXXXX} escapes.
    @ivar tail: the whitespace after the document (a trailing newline, or none).
    @ivar crlf: lines end with CRLF.
    """

    indent: int | str | None = 2
    compact: bool = False
    ensureAscii: bool = False
    tail: str = ""
    crlf: bool = False

    def dumps(self, data: Any) -> str:
        """C{data} as text in this format."""
        if self.indent is not None:
            separators = (",", ": ")
        else:
            separators = (",", ":") if self.compact else (", ", ": ")
        text = json.dumps(
            data,
            indent=self.indent,
            separators=separators,
            ensure_ascii=self.ensureAscii,
            allow_nan=False,
        )
        if not self.ensureAscii:
            # A lone surrogate (from a "\ud800" escape) cannot be encoded as
            # UTF-8; JavaScript writes it as an escape, and so do we.
            text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        text += self.tail
        return text.replace("\n", "\r\n") if self.crlf else text

    def encode(self, data: Any) -> bytes:
        """C{data} as UTF-8 bytes in this format."""
        return self.dumps(data).encode("utf-8")

    @classmethod
    def detect(cls, text: str, data: Any) -> JsonFormat:
        """The format of C{text}, whose parsed value is C{data}: the first
        candidate that reproduces C{text} exactly, else the best guess (same
        indent unit, trailing whitespace and line ends)."""
        crlf = "\r\n" in text
        body = text.replace("\r\n", "\n") if crlf else text
        stripped = body.rstrip()
        tail = body[len(stripped) :]
        match = _FIRST_INDENT.search(stripped)
        candidates: list[JsonFormat]
        if match is not None:
            unit = match.group(1)
            indent: int | str = len(unit) if unit.strip(" ") == "" else unit
            candidates = [cls(indent, False, ascii, tail, crlf) for ascii in (False, True)]
        elif "\n" in stripped:
            candidates = [cls(0, False, ascii, tail, crlf) for ascii in (False, True)]
        else:
            compactFirst = '": ' not in stripped
            candidates = [
                cls(None, compact, ascii, tail, crlf)
                for compact in (compactFirst, not compactFirst)
                for ascii in (False, True)
            ]
        for candidate in candidates:
            if candidate.dumps(data) == text:
                return candidate
        return candidates[0]


BACKUP_FORMAT = JsonFormat(indent=2, tail="\n")
"""How the gateway writes its own JSON files."""


@dataclass
class _Snapshot:
    raw: bytes
    text: str
    data: dict[str, Any]
    fingerprint: Fingerprint
    mode: int
    uid: int
    gid: int


def readJson(path: Path) -> tuple[dict[str, Any], Fingerprint]:
    """Read and parse the JSON object in C{path}.

    @raise ConfigError: the file cannot be read, is not UTF-8, is not valid
        JSON (the message names the file, line and column), or does not hold
        an object.
    """
    snapshot = _read(Path(path))
    return snapshot.data, snapshot.fingerprint


def removeFile(path: Path) -> bool:
    """Remove C{path} (and fsync its directory); C{False} if it was not there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsyncDirectory(path.parent)
    return True


def renameFile(source: Path, target: Path) -> None:
    """Rename C{source} over C{target} (atomic) and fsync the directory."""
    os.replace(source, target)
    fsyncDirectory(Path(target).parent)


def _read(path: Path) -> _Snapshot:
    for attempt in range(_READ_ATTEMPTS):
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                raw = f.read()
        except OSError as e:
            raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
        try:
            data = _parse(path, raw)
        except ConfigError:
            # An in-place writer may have been half-way through: read again if
            # the file changed under us, else the file really is broken.
            if attempt + 1 < _READ_ATTEMPTS and _statKey(path) != (st.st_mtime_ns, st.st_size):
                continue
            raise
        return _Snapshot(
            raw=raw,
            text=raw.decode("utf-8"),
            data=data,
            fingerprint=Fingerprint(st.st_mtime_ns, len(raw), hashlib.sha256(raw).hexdigest()),
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
        )
    raise AssertionError("unreachable")  # pragma: no cover


def parseJsonObject(path: Path, raw: bytes) -> dict[str, Any]:
    """The JSON object in C{raw}, the content of C{path}.

    @raise ConfigError: not UTF-8, not strict JSON (C{NaN}...), or not an
        object; the message names the file, line and column.
    """
    return _parse(path, raw)


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = _position(raw.decode("latin-1"), e.start)
        raise ConfigError(
            f"{path} is not UTF-8 text: invalid byte at line {line} column {column}"
        ) from None
    try:
        data = json.loads(text, parse_constant=_rejectConstant)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{path} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except _NotJson:
        line, column = _position(text, _constantOffset(text))
        raise ConfigError(
            f"{path} is not valid JSON: NaN and Infinity are not JSON values"
            f" (line {line} column {column})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


class _NotJson(Exception):
    pass


def _rejectConstant(name: str) -> Any:
    raise _NotJson(name)


def _constantOffset(text: str) -> int:
    for match in _CONSTANT.finditer(text):
        if match.group(1):
            return match.start(1)
    return 0


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of C{offset}, like C{json.JSONDecodeError}'s."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)


def _statKey(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def replaceIfUnchanged(
    target: Path, data: bytes, mode: int, owner: tuple[int, int], fingerprint: Fingerprint
) -> bool:
    """Write C{data} to a temp file beside C{target} (with C{mode} and
    C{owner}) and rename it over C{target} if C{target} still is what
    C{fingerprint} says (then fsync the directory); C{False}, and no trace of
    the temp file, when someone wrote it meanwhile."""
    tmp = writeTemp(target, data, mode, owner)
    written = False
    try:
        if _unchanged(target, fingerprint):
            os.replace(tmp, target)
            written = True
    finally:
        if not written:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    if written:
        fsyncDirectory(target.parent)
    return written


def _unchanged(path: Path, fingerprint: Fingerprint) -> bool:
    """Whether C{path} still is what was read: cheap mtime/size first, then the
    content hash (mtime granularity can hide a quick same-size rewrite)."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if (st.st_mtime_ns, st.st_size) != (fingerprint.mtimeNs, fingerprint.size):
                return False
            raw = f.read()
    except OSError:
        return False
    return len(raw) == fingerprint.size and hashlib.sha256(raw).hexdigest() == fingerprint.sha256
