# -*- test-case-name: tests.cli.test_token_revoke,tests.cli.test_tokensedit -*-
"""Reading the entries of a tokens file (C{--auth-tokens}) as they are
written, adding one and removing some, for C{mcpgateway token new},
C{token list} and C{token revoke}.

An entry is read as the gateway reads it (L{mcpgateway.auth.tokenfile.parseTokens}:
a file the gateway would refuse is refused here, naming the entry and
field, never a hash), with what the gateway ignores but a person reads
(C{created}, C{comment}). Removing entries changes nothing else in the
file: each entry's characters are cut out of the text with the comma and
white space that joined it to its neighbour, so every other entry, key
and blank comes back byte for byte. Adding one writes it after the last,
laid out as that one is (a key a line, indented alike, or on one line),
and touches nothing else. The text either leaves is read back as the
gateway reads it, and must hold exactly the entries meant. The file
as it was is kept beside it (C{<file>.bak}, mode 0600) before the new one
is renamed over it (L{mcpgateway.clientconfigs.jsonfile.replaceIfUnchanged}:
written to a temp file with the file's mode and owner, fsynced, renamed
only if nobody wrote the file since it was read; else read and cut again).
A running gateway sees the change within 2 seconds. Never loads Twisted.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgateway.auth.tokenfile import FORMAT_VERSION, MAX_FILE, TokensFileError, parseTokens
from mcpgateway.clientconfigs.jsonc import JsonSyntaxError, Node, parse
from mcpgateway.clientconfigs.jsonfile import (
    BACKUP_FORMAT,
    Fingerprint,
    JsonFormat,
    replaceIfUnchanged,
)
from mcpgateway.runtime.atomicfile import writeFileAtomic

BACKUP_SUFFIX = ".bak"
"""The file as it was before the last removal: C{<file>.bak}."""
ATTEMPTS = 3
"""Reads, cuts and writes tried when another program keeps writing the file."""


class TokensEditError(Exception):
    """The file cannot be read or changed; one line saying why (never a hash)."""


@dataclass(frozen=True)
class TokensText:
    """A tokens file as read: its bytes, when they were read, and its entries."""

    path: Path
    raw: bytes
    fingerprint: Fingerprint
    mode: int
    owner: tuple[int, int]
    entries: list[dict[str, Any]]
    """Each entry's object, in the file's order (with its C{sha256}: never shown)."""


def backupPath(path: Path) -> Path:
    """Where the file is kept as it was before a removal."""
    return path.with_name(path.name + BACKUP_SUFFIX)


def readTokensText(path: Path) -> TokensText:
    """The file C{path} as the gateway would read it.

    @raise FileNotFoundError: there is no such file.
    @raise TokensEditError: it cannot be read, or the gateway would refuse it.
    """
    try:
        with path.open("rb") as f:
            info = os.fstat(f.fileno())
            raw = f.read(MAX_FILE + 1)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise TokensEditError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        parseTokens(raw, str(path))
    except TokensFileError as e:
        raise TokensEditError(str(e)) from None
    entries = json.loads(raw)["tokens"]
    return TokensText(
        path,
        raw,
        Fingerprint(info.st_mtime_ns, len(raw), hashlib.sha256(raw).hexdigest()),
        stat.S_IMODE(info.st_mode),
        (info.st_uid, info.st_gid),
        entries,
    )


def withoutEntries(text: str, remove: set[int]) -> str:
    """C{text}, a tokens file's, without the entries of index C{remove}
    of its C{tokens} list (see the module: nothing else moves).

    @raise TokensEditError: the text is not such a file's.
    """
    for index in sorted(remove, reverse=True):
        try:
            root = parse(text, jsonc=False)
        except JsonSyntaxError as e:
            raise TokensEditError(f"not JSON: {e}") from None
        tokens = root.member("tokens")
        if tokens is None or tokens.members is not None or index >= len(tokens.items):
            raise TokensEditError("its tokens list is not where it was read")
        text = _cut(text, tokens, index)
    return text


def _cut(text: str, tokens: Node, index: int) -> str:
    """C{text} without item C{index} of the list C{tokens}: with the comma
    and white space before it (after its predecessor), else after it (the
    first of several), else the list's whole inside (the only one)."""
    items = tokens.items
    if index > 0:
        start, end = items[index - 1].end, items[index].end
    elif len(items) > 1:
        start, end = items[0].start, items[1].start
    else:
        start, end = tokens.start + 1, tokens.end - 1
    return text[:start] + text[end:]


def withEntry(text: str, entry: dict[str, Any]) -> str:
    """C{text}, a tokens file's, with C{entry} after the last of its
    C{tokens} list, laid out as that one is (see the module).

    @raise TokensEditError: the text is not such a file's.
    """
    try:
        root = parse(text, jsonc=False)
    except JsonSyntaxError as e:
        raise TokensEditError(f"not JSON: {e}") from None
    tokens = root.member("tokens")
    if tokens is None or tokens.members is not None:
        raise TokensEditError("it has no tokens list")
    newline = "\r\n" if "\r\n" in text else "\n"
    unit = JsonFormat.detect(text, root.value).indent or 2
    if tokens.items:
        first, last = tokens.items[0], tokens.items[-1]
        if len(tokens.items) > 1:
            before = text[tokens.items[-2].end : last.start]
        else:
            before = "," + (text[tokens.start + 1 : first.start] or " ")
        lines = text[last.start + 1 : last.end].lstrip(" \t").startswith(("\n", "\r\n"))
        indent = before.rsplit("\n", 1)[1] if "\n" in before else ""
        compact = '": ' not in text[last.start : last.end]
        insert, at = before + _laidOut(entry, lines, unit, indent, compact, newline), last.end
    else:
        inner = text[tokens.start + 1 : tokens.end - 1]
        if inner.strip():  # a comment: not JSON, refused by the parse above
            raise TokensEditError("its tokens list is not where it was read")
        lineStart = text.rfind("\n", 0, tokens.start) + 1
        outer = text[lineStart : lineStart + _leading(text[lineStart:])]
        if "\n" in text.strip():
            inside = outer + (" " * unit if isinstance(unit, int) else unit)
            laid = _laidOut(entry, True, unit, inside, False, newline)
            insert = f"{newline}{inside}{laid}{newline}{outer}"
        else:
            insert = _laidOut(entry, False, unit, "", '": ' not in text, newline)
        text = text[: tokens.start + 1] + text[tokens.end - 1 :]
        at = tokens.start + 1
    return text[:at] + insert + text[at:]


def _leading(line: str) -> int:
    """How many spaces and tabs C{line} starts with."""
    return len(line) - len(line.lstrip(" \t"))


def _laidOut(
    entry: dict[str, Any],
    lines: bool,
    unit: int | str,
    indent: str,
    compact: bool,
    newline: str,
) -> str:
    """C{entry} as JSON text: on lines indented by C{unit} under
    C{indent}, else on one line (C{compact}: without spaces)."""
    if lines:
        text = json.dumps(entry, indent=unit)
        return text.replace("\n", newline + indent)
    return json.dumps(entry, separators=(",", ":") if compact else (", ", ": "))


def addEntry(path: Path, entry: dict[str, Any]) -> None:
    """Add C{entry} to the file C{path} (made, mode 0600, when there is
    none), keeping the file as it was in L{backupPath}.

    @raise TokensEditError: it cannot be read or written, or the text it
        would leave is not its entries and C{entry}.
    """
    for _ in range(ATTEMPTS):
        try:
            read = readTokensText(path)
        except FileNotFoundError:
            document = {"version": FORMAT_VERSION, "tokens": [entry]}
            try:
                writeFileAtomic(path, BACKUP_FORMAT.encode(document), mode=0o600)
            except OSError as e:
                raise TokensEditError(f"cannot write {path}: {e.strerror or e}") from None
            return
        try:
            text = read.raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TokensEditError(f"{path} is not UTF-8 text") from None
        data = withEntry(text, entry).encode("utf-8")
        _check(path, read, data, [*read.entries, entry])
        try:
            writeFileAtomic(backupPath(path), read.raw, mode=0o600, owner=read.owner)
            if replaceIfUnchanged(path, data, read.mode, read.owner, read.fingerprint):
                return
        except OSError as e:
            raise TokensEditError(f"cannot write {path}: {e.strerror or e}") from None
    raise TokensEditError(f"{path} kept changing while it was written: nothing was added")


def _check(path: Path, read: TokensText, data: bytes, meant: list[dict[str, Any]]) -> None:
    """Refuse C{data}, the file's new text, unless the gateway reads it
    as C{meant}, every other key as it was."""
    try:
        before, after = json.loads(read.raw), json.loads(data)
        parseTokens(data, str(path))
    except (ValueError, TokensFileError):
        after = None
    if (
        not isinstance(after, dict)
        or after.get("tokens") != meant
        or {**after, "tokens": None} != {**before, "tokens": None}
    ):
        raise TokensEditError(f"{path} could not be changed without changing other entries")


def removeEntries(
    path: Path, choose: Callable[[list[dict[str, Any]]], set[int]]
) -> tuple[TokensText, set[int]]:
    """Remove from the file C{path} the entries C{choose} picks (indices of
    the entries it is given), keeping the file as it was in
    L{backupPath}; the file as read and what was removed. Nothing is
    written when C{choose} picks none.

    @raise FileNotFoundError: there is no such file.
    @raise TokensEditError: it cannot be read or written, or the text left
        would not be the other entries.
    """
    for _ in range(ATTEMPTS):
        read = readTokensText(path)
        remove = choose(read.entries)
        if not remove:
            return read, remove
        try:
            text = read.raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TokensEditError(f"{path} is not UTF-8 text") from None
        data = withoutEntries(text, remove).encode("utf-8")
        _check(path, read, data, [e for i, e in enumerate(read.entries) if i not in remove])
        try:
            writeFileAtomic(backupPath(path), read.raw, mode=0o600, owner=read.owner)
            if replaceIfUnchanged(path, data, read.mode, read.owner, read.fingerprint):
                return read, remove
        except OSError as e:
            raise TokensEditError(f"cannot write {path}: {e.strerror or e}") from None
    raise TokensEditError(f"{path} kept changing while it was written: nothing was removed")
