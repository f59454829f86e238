# -*- test-case-name: tests.clientconfigs.test_claude,tests.clientconfigs.test_adoption_safety -*-
"""The backups of adopted entries, in the state directory.

Each adopted file has one backup (L{Backup}): the entries the gateway took
over, the stamp it left in the file, and how to undo each change. A backup
is written before the file is, so a crash at any point leaves what is
needed to put the file back; after a restore it is kept for a few
generations (L{keptBackups}), so a stale copy a client writes back later
can still be given its entries back.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.clients import EARLIER_BACKUPS
from mcpgateway.clientconfigs.clients.base import (
    Block,
)
from mcpgateway.clientconfigs.documents import FORMATS, sha256
from mcpgateway.clientconfigs.jsonfile import (
    BACKUP_FORMAT,
    removeFile,
    renameFile,
)
from mcpgateway.clientconfigs.location import Location
from mcpgateway.config.servers import ConfigError
from mcpgateway.runtime import paths
from mcpgateway.runtime.atomicfile import TEMP_SUFFIX, tempPrefix, writeFileAtomic
from mcpgateway.runtime.paths import fileLabel

BACKUP_DIR = "client-backups"
"""The state directory's folder of client backups, one file per client file."""
BACKUP_VERSION = 2
"""Version 1 had one location per file; it is still read, as is the format
of the gateway's earlier Claude-only adoption (see L{Backup.fromJson})."""
KEPT_GENERATIONS = 3
"""How many restored backups are kept (C{<backup>.1} to C{<backup>.3})."""
VERBATIM_FORMATS = ("json", "jsonc", "yaml")
"""The formats whose entries restore gives back as their own text
(L{putBackVerbatim}); the others get their original's value back."""
LEFTOVER_AGE = 30.0
"""Seconds after which a temp file of the gateway's writer is a leftover."""
MISSING: Any = object()
UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Record:
    """One adopted entry: what it was, what the gateway wrote, what it serves.

    @ivar original: the entry before adoption; C{None} for a shadow (an
        entry the gateway added: restore removes it).
    @ivar origin: the hash of the file's text before the write that adopted
        the entry (its text is in L{Backup.origins}), C{None} when not kept.
    """

    original: Any
    written: dict[str, Any]
    url: str
    served: dict[str, Any]
    origin: str | None = None

    def toJson(self) -> dict[str, Any]:
        out = {
            "original": self.original,
            "written": self.written,
            "url": self.url,
            "served": self.served,
        }
        if self.origin is not None:
            out["origin"] = self.origin
        return out


@dataclass
class BlockInfo:
    """What a backup knows of one container of entries."""

    workspace: str | None = None
    scope: str = ""
    created: bool = False
    """The gateway created the container for its shadows: removed once empty."""

    def label(self, name: str) -> str:
        return Block(Location(()), self.workspace, self.scope).label(name)


@dataclass
class PriorStamp:
    """The top-level key set at each change (the adapter's C{stampKey}), as
    it was before adoption: absent (C{added}), or C{before} (C{MISSING}:
    unknown, a backup of an older version)."""

    key: str
    added: bool
    before: Any = MISSING


@dataclass
class UndoStep:
    """The file's text before one of the gateway's writes, and the hash of
    what that write left."""

    before: str
    after: str


@dataclass
class Backup:
    """The backup of one client file (see the module docstring)."""

    client: str
    configPath: str
    format: str
    versionControlled: bool = False
    records: dict[tuple[Location, str], Record] = field(default_factory=dict)
    blocks: dict[Location, BlockInfo] = field(default_factory=dict)
    undo: list[UndoStep] = field(default_factory=list)
    stamp: PriorStamp | None = None
    origins: dict[str, str] = field(default_factory=dict)
    """The texts before the writes that adopted the entries, by hash (a
    record's C{origin}): where an entry's own text comes back from
    (L{putBackVerbatim}), also after the gateway wrote the file again
    following someone else's write (which ends the C{undo} chain)."""

    def record(self, name: str, location: Location | None = None) -> Record | None:
        """The record of C{name} in C{location} (default: the first block's)."""
        if location is None:
            location = next(iter(self.blocks), Location(()))
        return self.records.get((location, name))

    def names(self) -> list[str]:
        return [self.label(location, name) for location, name in self.records]

    def label(self, location: Location, name: str) -> str:
        return self.blocks.get(location, BlockInfo()).label(name)

    def pushUndo(self, before: bytes, after: bytes, pristine: bool = True) -> None:
        """Record a write of C{after} over C{before}: appended to the chain of
        the gateway's writes when C{before} is what the last one left, else the
        chain starts again (someone else wrote in between) if C{before} is
        C{pristine} (holds no entry the gateway wrote: restoring it must not
        bring one back), or is dropped. Steps of writes that never happened
        (C{before} is still their before) are dropped first."""
        current = sha256(before)
        dropUnwritten(self.undo, current)
        if not self.undo or self.undo[-1].after != current:
            self.undo.clear()
            if not pristine:
                return
        self.undo.append(UndoStep(before.decode("utf-8"), sha256(after)))

    def toJson(self) -> dict[str, Any]:
        blocks = []
        for location, info in self.blocks.items():
            entries = {n: r.toJson() for (loc, n), r in self.records.items() if loc == location}
            if entries:
                blocks.append(
                    {
                        "location": location.toJson(),
                        "workspace": info.workspace,
                        "scope": info.scope,
                        "createdBlock": info.created,
                        "entries": entries,
                    }
                )
        out: dict[str, Any] = {
            "version": BACKUP_VERSION,
            "client": self.client,
            "configPath": self.configPath,
            "format": self.format,
            "versionControlled": self.versionControlled,
            "blocks": blocks,
            "undo": [{"before": s.before, "after": s.after} for s in self.undo],
        }
        # The text the undo chain starts on is not kept twice (see fromJson).
        first = sha256(self.undo[0].before.encode("utf-8")) if self.undo else None
        origins = {h: t for h, t in self.origins.items() if h != first}
        if origins:
            out["origins"] = origins
        if self.stamp is not None:
            out["stamp"] = {"key": self.stamp.key, "added": self.stamp.added}
            if self.stamp.before is not MISSING:
                out["stamp"]["before"] = self.stamp.before
        return out

    def encode(self) -> bytes:
        return BACKUP_FORMAT.encode(self.toJson())

    @classmethod
    def fromJson(cls, data: Any, where: Path) -> Backup:
        """Read a backup of this version, of version 1 (one location), or of
        the gateway's earlier Claude-only adoption (C{config-backup.json}).

        @raise ConfigError: it is not a usable backup (one line saying why).
        """

        def bad(why: str) -> ConfigError:
            return ConfigError(
                f"{where} is not a usable gateway backup ({why}); left as it is:"
                " move it away once the entries it holds are back"
            )

        if not isinstance(data, dict):
            raise bad("it must hold a JSON object")
        if "blocks" not in data and "entries" not in data:
            return fromEarlierJson(data, bad)
        if data.get("version") not in (1, BACKUP_VERSION):
            raise bad(f"version {data.get('version')!r}")
        if not isinstance(data.get("configPath"), str) or data.get("format") not in FORMATS:
            raise bad("no configPath or format")
        backup = cls(
            str(data.get("client", "")),
            data["configPath"],
            data["format"],
            data.get("versionControlled") is True,
        )
        blocks = data.get("blocks")
        if "entries" in data:  # version 1: one location
            blocks = [{k: data.get(k) for k in ("location", "workspace", "entries")}]
        if not isinstance(blocks, list):
            raise bad("no blocks")
        for block in blocks:
            if not isinstance(block, dict) or not isinstance(block.get("entries"), dict):
                raise bad("no entries")
            try:
                location = Location.fromJson(block.get("location"))
            except ValueError:
                raise bad("no location") from None
            workspace = block.get("workspace")
            backup.blocks[location] = BlockInfo(
                workspace if isinstance(workspace, str) else None,
                str(block.get("scope") or ""),
                block.get("createdBlock") is True,
            )
            for name, record in block["entries"].items():
                if not (
                    isinstance(record, dict)
                    and isinstance(record.get("written"), dict)
                    and isinstance(record.get("url"), str)
                    and isinstance(record.get("served"), dict)
                    and "original" in record
                ):
                    raise bad(f"the record of {name!r} is incomplete")
                origin = record.get("origin")
                backup.records[(location, name)] = Record(
                    record["original"],
                    record["written"],
                    record["url"],
                    record["served"],
                    origin if isinstance(origin, str) else None,
                )
        undo = data.get("undo", [])
        if not isinstance(undo, list):
            raise bad("no undo")
        for step in undo:
            if not (
                isinstance(step, dict)
                and isinstance(step.get("before"), str)
                and isinstance(step.get("after"), str)
            ):
                raise bad("an undo step is incomplete")
            backup.undo.append(UndoStep(step["before"], step["after"]))
        origins = data.get("origins", {})
        if not isinstance(origins, dict) or not all(isinstance(t, str) for t in origins.values()):
            raise bad("an origin text is not a string")
        backup.origins = {str(h): t for h, t in origins.items()}
        if backup.undo:
            first = backup.undo[0].before
            backup.origins.setdefault(sha256(first.encode("utf-8")), first)
        wanted = {r.origin for r in backup.records.values()}
        backup.origins = {h: t for h, t in backup.origins.items() if h in wanted}
        stamp = data.get("stamp")
        if stamp is not None:
            if not isinstance(stamp, dict) or not isinstance(stamp.get("key"), str):
                raise bad("a stamp without a key")
            backup.stamp = PriorStamp(
                stamp["key"], stamp.get("added") is True, stamp.get("before", MISSING)
            )
        return backup


def fromEarlierJson(data: dict[str, Any], bad: Callable[[str], ConfigError]) -> Backup:
    """A backup in the layout of the adoption of L{EARLIER_BACKUPS}'s client
    alone (version 1: C{mcpServers} and C{projects.<path>.mcpServers} of
    C{{"url", "original"}} records, C{timestampAdded}/C{timestampBefore}), in
    this version's terms: that adapter names the blocks and the stamp key."""
    adapter = EARLIER_BACKUPS
    if data.get("version") != 1:
        raise bad(f"version {data.get('version')!r}, expected 1")
    configPath = data.get("configPath")
    if not isinstance(configPath, str):
        raise bad("no configPath")
    backup = Backup(adapter.id, configPath, adapter.format)
    if adapter.stampKey is not None:
        backup.stamp = PriorStamp(
            adapter.stampKey,
            data.get("timestampAdded") is True,
            data.get("timestampBefore", MISSING),
        )
    blocks: list[tuple[str | None, Any, bool]] = []
    if "mcpServers" in data:
        blocks.append((None, data["mcpServers"], False))
    projects = data.get("projects", {})
    if not isinstance(projects, dict):
        raise bad("'projects' is not an object")
    for path, project in projects.items():
        if not isinstance(project, dict):
            raise bad(f"project {path!r} is not an object")
        blocks.append((path, project.get("mcpServers", {}), project.get("createdBlock") is True))
    for scope, block, created in blocks:
        if not isinstance(block, dict):
            raise bad("an 'mcpServers' is not an object")
        found = adapter.topBlock(configPath) if scope is None else adapter.workspaceBlock(scope)
        if found is None:
            raise bad(f"{adapter.title} keeps no entries for project {scope!r}")
        location = found.location
        backup.blocks[location] = BlockInfo(scope, found.scope, scope is not None and created)
        for name, record in block.items():
            if not (
                isinstance(record, dict)
                and isinstance(record.get("url"), str)
                and (
                    isinstance(record.get("original"), dict)
                    or (scope is not None and record.get("original", MISSING) is None)
                )
            ):
                raise bad(f"the record of {name!r} has no 'url' and 'original'")
            original = record["original"]
            backup.records[(location, name)] = Record(
                original,
                {"type": "http", "url": record["url"]},
                record["url"],
                original if original is not None else {},
            )
    return backup


# -- the backups on disk -------------------------------------------------------------


def backupPathFor(stateDir: Path, client: str, configPath: Path) -> Path:
    """C{<stateDir>/client-backups/<client>-<label>-<hash>.json}: the label is
    the sanitized parent and file name, the hash of the real path."""
    safeClient = UNSAFE.sub("_", client)[:32] or "client"
    return Path(os.path.abspath(stateDir)) / BACKUP_DIR / f"{safeClient}-{fileLabel(configPath)}"


def backupPaths(stateDir: Path) -> list[Path]:
    """Every backup in the state directory (entries adopted, not yet restored)."""
    folder = Path(stateDir) / BACKUP_DIR
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [folder / name for name in names if name.endswith(".json")]


def keptBackupPaths(backupPath: Path) -> list[Path]:
    """Where the kept copies of the restored backups of C{backupPath} live,
    newest first: C{<backup>.1} to C{<backup>.}L{KEPT_GENERATIONS}."""
    return [backupPath.with_name(f"{backupPath.name}.{n}") for n in range(1, KEPT_GENERATIONS + 1)]


def readBackup(path: Path) -> Backup | None:
    """The backup in C{path}, C{None} if there is none.

    @raise ConfigError: it is unreadable or not a usable backup.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"{path} is not valid JSON ({e}); left as it is") from None
    return Backup.fromJson(data, path)


def everyBackup(stateDir: Path) -> Iterator[tuple[Path, Backup]]:
    """Every adoption backup kept in C{stateDir} that can be read (Claude
    Code's user backup, its projects' backups, every other client's), with
    its path; one that cannot be read is passed over."""
    candidates = [stateDir / paths.USER_BACKUP]
    for folder in (stateDir / paths.PROJECT_BACKUPS, stateDir / BACKUP_DIR):
        if folder.is_dir():
            candidates += sorted(p for p in folder.iterdir() if p.name.endswith(".json"))
    for path in candidates:
        try:
            backup = readBackup(path)
        except (ConfigError, OSError):
            continue
        if backup is not None:
            yield path, backup


def readBackupOf(path: Path, configPath: Path) -> Backup | None:
    """L{readBackup}, checked to be the backup of C{configPath}.

    @raise ConfigError: unusable, or the backup of another file.
    """
    backup = readBackup(path)
    real = os.path.realpath(configPath)
    if backup is not None and backup.configPath != real:
        raise ConfigError(
            f"{path} is the backup of {backup.configPath!r}, not of {real}: restore"
            f" that file first (mcpgateway restore --config {backup.configPath})"
        )
    return backup


def keptBackups(backupPath: Path) -> list[Backup]:
    """The kept copies of restored backups, newest first (unusable ones skipped)."""
    out = []
    for path in keptBackupPaths(backupPath):
        try:
            backup = readBackup(path)
        except ConfigError:
            continue
        if backup is not None:
            out.append(backup)
    return out


def rotate(backupPath: Path) -> None:
    """Keep a restored backup as C{<backup>.1}, shifting older copies up and
    dropping the oldest; just drop it when C{.1} holds the same."""
    try:
        raw = backupPath.read_bytes()
    except FileNotFoundError:
        return
    kept = keptBackupPaths(backupPath)
    try:
        same = kept[0].read_bytes() == raw
    except OSError:
        same = False
    if same:
        removeFile(backupPath)
        return
    for older, newer in reversed(list(zip(kept[1:], kept[:-1], strict=True))):
        if newer.exists():
            renameFile(newer, older)
    renameFile(backupPath, kept[0])


def restoreFailurePath(stateDir: Path) -> Path:
    """The marker a failed restore at stop leaves (see L{recordRestoreFailure})."""
    return Path(os.path.abspath(stateDir)) / paths.RESTORE_FAILED


def recordRestoreFailure(
    stateDir: Path, configPath: Path, reason: str, now: Callable[[], float] = time.time
) -> None:
    """Leave C{<stateDir>/restore-failed.json}: C{{"config": path, "error":
    reason, "time": seconds}}, for C{mcpgateway stop} and C{doctor}. A
    successful restore of that file removes it."""
    document = {"config": os.path.abspath(configPath), "error": reason, "time": now()}
    writeFileAtomic(restoreFailurePath(stateDir), BACKUP_FORMAT.encode(document), 0o600)


def readRestoreFailure(stateDir: Path) -> dict[str, Any] | None:
    """The marker of a failed restore (C{config}, C{error}, C{time}), or C{None}
    when there is none or it is unreadable."""
    try:
        data = json.loads(restoreFailurePath(stateDir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def removeLeftovers(
    targets: Iterable[Path], now: Callable[[], float] = time.time, minAge: float = LEFTOVER_AGE
) -> list[str]:
    """Remove the temp files a killed write left next to C{targets}: regular
    files of ours named exactly as L{mcpgateway.runtime.atomicfile} names them
    (C{.<name>.<8 random characters>.tmp}), not modified for C{minAge}
    seconds (a write in progress takes milliseconds). Nothing else is
    touched. Notes of what was removed (or could not be)."""
    notes = []
    for target in targets:
        pattern = re.compile(
            re.escape(tempPrefix(target.name)) + r"[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX)
        )
        try:
            names = os.listdir(target.parent)
        except OSError:
            continue
        for name in sorted(names):
            if not pattern.fullmatch(name):
                continue
            path = target.parent / name
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if (
                not stat.S_ISREG(st.st_mode)
                or st.st_uid != os.geteuid()
                or now() - st.st_mtime < minAge
            ):
                continue
            try:
                removeFile(path)
            except OSError as e:
                notes.append(
                    f"could not remove {path}, left by an interrupted write: {e.strerror or e}"
                )
            else:
                notes.append(f"removed {path}, left by an interrupted write")
    return notes


def dropUnwritten(undo: list[UndoStep], current: str) -> None:
    while undo and undo[-1].after != current and sha256(undo[-1].before.encode()) == current:
        undo.pop()
