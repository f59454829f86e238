# -*- test-case-name: tests.clientconfigs.test_claude,tests.clientconfigs.test_adoption_safety -*-
"""Giving a client's file its entries back.

L{restoreAll} (the engine's restore and recover) puts every backup in the
state directory back, with no adapter needed: a backup names its file,
format and blocks. The backup keeps, next to each entry's original and the
entry written, the exact text of the file before each of the gateway's
writes for as long as no one else wrote in between: when nothing else
changed the file, restore writes those bytes back, byte for byte; otherwise
each entry that still is the gateway's gets its original back, in place,
and the user's changes stay. An entry still exactly as the gateway wrote it
gets its original's own text back (L{putBackVerbatim}): its comments and
layout. A restored backup is kept, rotated into a few generations: a client
that read the file while it pointed at the gateway may write its copy back
after the restore, and such a stale copy's entries get their originals
back (L{staleFiles}, L{reviveStale}). Backups of version 1 (one location)
and of the gateway's earlier Claude-only adoption (C{config-backup.json})
are still read and restored.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.backups import (
    BACKUP_DIR,
    MISSING,
    VERBATIM_FORMATS,
    Backup,
    PriorStamp,
    Record,
    backupPaths,
    dropUnwritten,
    keptBackups,
    readBackup,
    readRestoreFailure,
    restoreFailurePath,
    rotate,
)
from mcpgateway.clientconfigs.documents import (
    Document,
    JsonDataDocument,
    JsonDocument,
    UnparsableError,
    confinedTarget,
    parseDocument,
    readFile,
    sha256,
    updateFile,
)
from mcpgateway.clientconfigs.jsonfile import (
    ConcurrentWriteError,
    removeFile,
)
from mcpgateway.clientconfigs.location import Location
from mcpgateway.clientconfigs.reports import EngineReport, FileReport
from mcpgateway.config.servers import ConfigError
from mcpgateway.runtime import paths

# -- restore ---------------------------------------------------------------------------


def restoreAll(stateDir: Path) -> EngineReport:
    """Put back every client file that has a backup in C{stateDir} (at stop,
    first thing at start after a crash, and C{mcpgateway restore})."""
    report = EngineReport()
    # Claude Code's backups keep the places they had before the engine.
    claude = [Path(stateDir) / paths.USER_BACKUP]
    claude += sorted((Path(stateDir) / paths.PROJECT_BACKUPS).glob("*.json"))
    for path in [*backupPaths(stateDir), *(p for p in claude if p.is_file())]:
        try:
            backup = readBackup(path)
        except ConfigError as e:
            report.warnings.append(str(e))
            continue
        if backup is None:
            continue
        try:
            report.files.append(restoreFile(path, backup, stateDir))
        except (ConfigError, ConcurrentWriteError, OSError) as e:
            report.warnings.append(
                f"could not restore {backup.configPath} ({e}); its backup {path} is kept:"
                " run `mcpgateway restore` once the file is quiet"
            )
    return report


@dataclass
class StaleFile:
    """A client file no gateway serves that holds entries a client wrote
    back from a copy it read while a gateway served them (see
    L{staleFiles}): C{entries} are C{(label, url)}, the URL each points at."""

    client: str
    path: str
    backup: Path
    entries: list[tuple[str, str]]


def staleFiles(stateDir: Path) -> list[StaleFile]:
    """The client files with no backup now (not adopted) whose entries are
    exactly what a kept backup (C{<backup>.1}...) says the gateway wrote:
    a client saved back a copy it had read while they were adopted, and
    they point at that gateway's address. What L{AdoptionEngine.adopt}
    revives at the next start, and L{reviveStale} now. A few small reads.

    Files are told apart by their real paths: a file adopted now under
    another name (it became a symlink, or was moved behind one, since the
    kept backup was made) is not stale, and a file known to several series
    of kept backups is reported once, from the newest series."""
    folder = Path(stateDir) / BACKUP_DIR
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    adoptedNow = set()
    for path in backupPaths(stateDir):
        try:
            current = readBackup(path)
        except ConfigError:
            continue
        if current is not None:
            adoptedNow.add(os.path.realpath(current.configPath))
    series = []
    for name in names:
        if not name.endswith(".json.1"):
            continue
        path = folder / name[: -len(".1")]
        if path.exists():
            continue  # adopted now: restore and the engine see to it
        try:
            keptAt = (folder / name).stat().st_mtime_ns
        except OSError:
            continue
        series.append((-keptAt, name, path))
    out = []
    seen = set(adoptedNow)
    for _, _, path in sorted(series):
        kept = keptBackups(path)
        if not kept:
            continue
        newest = kept[0]
        real = os.path.realpath(newest.configPath)
        if real in seen:
            continue  # adopted now under another name, or a newer series' file
        try:
            doc = parseDocument(
                Path(newest.configPath), newest.format, readFile(Path(newest.configPath))
            )
        except (ConfigError, ValueError):
            continue
        locations = dict.fromkeys(loc for k in kept for loc in k.blocks)
        entries = []
        for location in locations:
            for entryName, entry in doc.entries(location) or []:
                revived = revivable(kept, location, entryName, entry)
                if revived is not None:
                    entries.append((revived[1].label(location, entryName), revived[0].url))
        if entries:
            seen.add(real)
            out.append(StaleFile(newest.client, newest.configPath, path, entries))
    return sorted(out, key=lambda stale: stale.backup.name)


def reviveStale(stateDir: Path) -> EngineReport:
    """Put back the originals of the entries L{staleFiles} finds, from the
    kept backups (C{mcpgateway restore}, after L{restoreAll}); nothing is
    adopted."""
    report = EngineReport()
    for stale in staleFiles(stateDir):
        newest = keptBackups(stale.backup)[0]
        empty = Backup(newest.client, newest.configPath, newest.format)
        try:
            report.files.append(restoreFile(stale.backup, empty, stateDir))
        except (ConfigError, ConcurrentWriteError, OSError) as e:
            report.warnings.append(
                f"could not restore {stale.path} ({e}): its entries"
                f" {', '.join(label for label, _ in stale.entries)} still point at a"
                " stopped gateway; run `mcpgateway restore` once the file is quiet"
            )
    return report


def restoreFile(
    path: Path,
    backup: Backup,
    stateDir: Path | None = None,
    now: Callable[[], float] = time.time,
) -> FileReport:
    """Restore the file of C{backup} (whose backup is C{path}; when there is
    no such file, C{backup} is an empty one and only the entries pointing at
    a stopped gateway are put back, from the kept copies); then keep the
    backup as C{<path>.1} (L{rotate}) and remove the marker of a failed
    restore of that file from C{stateDir}. See the module docstring.

    @raise UnparsableError: the file cannot be parsed and is not the one the
        gateway last wrote (it is left untouched, the backup kept).
    """
    configPath = Path(backup.configPath)
    kept = keptBackups(path)
    report = FileReport(backup.client, backup.configPath)
    within = _projectFolder(backup)
    leftAlone = _leftAlone(configPath, within, path)
    if leftAlone is not None:
        report.notes.append(leftAlone)
        rotate(path)
        return report
    locations = list(dict.fromkeys([*backup.blocks, *(loc for k in kept for loc in k.blocks)]))

    def change(raw: bytes) -> bytes | None:
        nonlocal report
        report = FileReport(backup.client, backup.configPath)
        undo = list(backup.undo)
        dropUnwritten(undo, sha256(raw))
        exact = bool(undo) and undo[-1].after == sha256(raw)
        text = undo[0].before.encode("utf-8") if exact else raw
        current: Document | None
        try:
            current = parseDocument(configPath, backup.format, raw)
        except UnparsableError:
            if not exact:
                raise
            current = None
        doc = parseDocument(configPath, backup.format, text)
        changed = False
        source: Backup | None = backup if backup.records else None
        parsed: dict[str, Document | None] = {}
        for (location, name), record in backup.records.items():
            label = backup.label(location, name)
            now_ = record.written if current is None else entryOf(current, location, name)
            if ours(now_, record.written):
                report.restored.append(label)
                inDoc = entryOf(doc, location, name)
                if ours(inDoc, record.written):
                    doc = restoreEntry(
                        doc, backup, location, name, record, inDoc, configPath, parsed
                    )
                    changed = True
            elif now_ == record.original or (record.original is None and now_ is MISSING):
                continue  # never rewritten (a crash in between), or restored already
            elif revivable(kept, location, name, now_) is not None:
                continue  # a stale copy of an earlier run: put back below
            else:
                report.kept.append(label)
                report.notes.append(
                    f"{label} was {'removed from' if now_ is MISSING else 'changed in'}"
                    f" {configPath} while the gateway served it; "
                    + ("not restored" if now_ is MISSING else "kept the file's version")
                )
        for location in locations:
            for name, entry in doc.entries(location) or []:
                revived = revivable(kept, location, name, entry)
                if revived is None:
                    continue
                record, generation = revived
                doc = restoreEntry(
                    doc, generation, location, name, record, entry, configPath, parsed
                )
                label = generation.label(location, name)
                report.restored.append(label)
                report.revived.append(label)
                report.notes.append(
                    f"{label} pointed at a stopped gateway ({record.url}): a client wrote"
                    " back a copy it had read while the gateway served it; put its"
                    " original back from the kept backup"
                )
                source = source or generation
                changed = True
        stamp = source.stamp if source is not None else None
        # Unchanged, the text may still hold the stamp the gateway set: a
        # chain of undo steps that starts on a text a client wrote from the
        # adopted file carries it along (see L{stampLeft}).
        if not changed and (stamp is None or not stampLeft(doc, stamp)):
            return text
        if stamp is not None:
            restoreStamp(doc, stamp, now)
        return doc.text().encode("utf-8")

    updateFile(configPath, change, within=within)
    rotate(path)
    if stateDir is not None:
        _forgetFailedRestore(stateDir, configPath)
    return report


def _projectFolder(backup: Backup) -> str | None:
    """The folder a project's file must really be in to be written: the one
    its backup recorded, a real path (C{None}: a user's file, written
    through a symlink to its target)."""
    return os.path.dirname(backup.configPath) if backup.versionControlled else None


def _leftAlone(configPath: Path, within: str | None, path: Path) -> str | None:
    """Why the file C{configPath} (whose backup is C{path}) is not restored,
    its backup kept: it was removed, or it is a project's file that is no
    longer its own (a symlink, or really outside C{within}:
    L{confinedTarget}); C{None}: it is restored."""
    if not configPath.exists():
        return (
            f"{configPath} was removed while the gateway served it; its backup is kept as {path}.1"
        )
    if within is None:
        return None
    try:
        confinedTarget(configPath, within)
    except ConfigError as e:
        return f"{e}; not restored, its backup is kept as {path}.1"
    return None


def _forgetFailedRestore(stateDir: Path, configPath: Path) -> None:
    """Remove the marker of a failed restore of C{configPath}: it is restored now."""
    failure = readRestoreFailure(stateDir)
    config = failure.get("config") if failure is not None else None
    if isinstance(config, str) and os.path.realpath(config) == os.path.realpath(configPath):
        removeFile(restoreFailurePath(stateDir))


def restoreStamp(doc: Document, stamp: PriorStamp, now: Callable[[], float]) -> None:
    """The stamp key as it was before the adoption (unknown: a fresh time,
    so that clients reload at least)."""
    top = editable(doc).topLevel()
    if stamp.added:
        top.pop(stamp.key, None)
    elif stamp.before is not MISSING:
        top[stamp.key] = copy.deepcopy(stamp.before)
    else:
        top[stamp.key] = int(now() * 1000)


def preStartCopy(doc: Document, backup: Backup) -> bool:
    """Whether C{doc} is a copy of the file a client read before the
    gateway's first write of it (and writes back now): the stamp key is as
    it was before the adoption (the gateway sets it at every write, and a
    client carries it along) and no entry the gateway wrote is in it."""
    stamp = backup.stamp
    if stamp is None or not backup.records or not isinstance(doc, JsonDataDocument):
        return False
    top = doc.topLevel()
    if stamp.added:
        if stamp.key in top:
            return False
    elif stamp.before is MISSING or top.get(stamp.key, MISSING) != stamp.before:
        return False
    return not any(
        ours(entryOf(doc, location, name), record.written)
        for (location, name), record in backup.records.items()
    )


def stampLeft(doc: Document, stamp: PriorStamp) -> bool:
    """Whether C{doc} holds the stamp key other than as it was before the
    adoption (known: absent when the gateway C{added} it, else
    C{stamp.before}): a client that rewrote the file while the gateway
    served it carried the gateway's value along."""
    if not isinstance(doc, JsonDataDocument):
        return False
    top = doc.topLevel()
    if stamp.added:
        return stamp.key in top
    return stamp.before is not MISSING and top.get(stamp.key, MISSING) != stamp.before


def editable(doc: Document) -> JsonDataDocument:
    if not isinstance(doc, JsonDataDocument):
        raise ValueError("entries can be added and removed only in a 'jsondata' document")
    return doc


def entryOf(doc: Document, location: Location, name: str) -> Any:
    """The entry C{name} at C{location}, or C{MISSING}."""
    for key, value in doc.entries(location) or []:
        if key == name:
            return value
    return MISSING


def putBack(
    doc: Document,
    location: Location,
    name: str,
    record: Record,
    created: bool,
    current: Any = None,
) -> None:
    """Put the entry C{name} back as it was before adoption: its original,
    or, for a shadow, no entry (nor the container the gateway created).
    Keys a client or the user added to the written entry (C{current}, e.g.
    Cursor's C{"disabled": true}) are kept on the original."""
    if record.original is not None:
        original = copy.deepcopy(record.original)
        if isinstance(original, dict) and isinstance(current, dict):
            written = record.written if isinstance(record.written, dict) else {}
            original.update((k, copy.deepcopy(v)) for k, v in current.items() if k not in written)
        doc.replaceEntry(location, name, original)
    else:
        editable(doc).removeEntry(location, name, dropEmpty=created)


def restoreEntry(
    doc: Document,
    backup: Backup,
    location: Location,
    name: str,
    record: Record,
    entry: Any,
    configPath: Path,
    parsed: dict[str, Document | None],
) -> Document:
    """The document with the entry C{name} (now C{entry}) given back as
    C{backup} had it: its text before adoption where that can be had
    (L{putBackVerbatim}), else the original's value (L{putBack})."""
    verbatim = putBackVerbatim(doc, backup, location, name, record, configPath, parsed)
    if verbatim is not None:
        return verbatim
    putBack(doc, location, name, record, backup.blocks[location].created, entry)
    return doc


def putBackVerbatim(
    doc: Document,
    backup: Backup,
    location: Location,
    name: str,
    record: Record,
    configPath: Path,
    parsed: dict[str, Document | None],
) -> Document | None:
    """The document with the entry C{name} put back as the text before
    adoption (the record's C{origin} text, else C{backup.undo[0].before})
    has it, character for character in JSON/JSONC, as its YAML node in
    YAML (comments inside it, layout, quoting): when that text holds the
    record's original and the entry in C{doc} is still exactly what the
    gateway wrote. C{None}: not possible
    (put the original's value back instead, L{putBack}). C{parsed} caches
    the parsed texts before adoption.
    """
    if record.original is None or backup.format not in VERBATIM_FORMATS:
        return None
    before = backup.origins.get(record.origin) if record.origin is not None else None
    if before is None and backup.undo:
        before = backup.undo[0].before
    if before is None:
        return None
    if backup.format in ("json", "jsonc"):
        isJsonc = backup.format == "jsonc"
        text = jsonc.restoreEntry(
            doc.text(),
            isJsonc,
            (location.path, location.listKey, name),
            record.written,
            before,
            record.original,
        )
        return None if text is None else JsonDocument(text, isJsonc)
    from mcpgateway.clientconfigs.yamldoc import YamlDocument

    if before not in parsed:
        try:
            parsed[before] = parseDocument(configPath, backup.format, before.encode("utf-8"))
        except UnparsableError:
            parsed[before] = None
    origin = parsed[before]
    if (
        not isinstance(doc, YamlDocument)
        or not isinstance(origin, YamlDocument)
        or entryOf(origin, location, name) != record.original
    ):
        return None
    return doc if doc.restoreEntry(location, name, record.written, origin) else None


def ours(entry: Any, written: Any) -> bool:
    """Whether C{entry} still is the entry the gateway wrote: the same, or
    the same with keys added (a client that normalises the entries it saves,
    such as Claude Code adding its defaults, has not made it the user's: it
    still points at the gateway, and its original must come back)."""
    if entry == written:
        return True
    return (
        isinstance(entry, dict)
        and isinstance(written, dict)
        and all(k in entry and entry[k] == v for k, v in written.items())
    )


def revivable(
    kept: list[Backup], location: Location, name: str, entry: Any
) -> tuple[Record, Backup] | None:
    """The record (and its kept backup, the newest that has one) whose
    written entry C{entry} is, or C{None}."""
    if entry is MISSING:
        return None
    for backup in kept:
        record = backup.records.get((location, name))
        if record is not None and ours(entry, record.written):
            return record, backup
    return None
