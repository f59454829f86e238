# -*- test-case-name: tests.clientconfigs.test_engine -*-
"""Adopt the stdio servers of every MCP client's config files, and give them back.

One job: the adoption of any client an adapter
(L{mcpgateway.clientconfigs.clients}) describes, Claude Code's included
(L{mcpgateway.clientconfigs.clients.claudecode}, driven for its file by
L{mcpgateway.clientconfigs.claude}).

 - L{AdoptionEngine.adopt} (and L{AdoptionEngine.sync}, the same, for the
   file watcher): for each file of each client found, every stdio entry the
   gateway can serve is backed up to the state directory and then
   rewritten to the client's own Streamable HTTP entry for the URL the
   caller's C{urlFor(name, workspace)} gives (a project's entries get their
   workspace's route, unless they are the server adopted at the global
   route of that name; a stdio-only client's entries run C{mcpgateway
   bridge}). A file has one block of entries or several (the adapter's
   L{ClientAdapter.blocks}: Claude Code's user scope and each project's
   local scope), each with its workspace; records are kept per block and
   name, and every file gets ONE read-modify-write for all its blocks. An
   adapter may also add entries in front of another file's servers (its
   L{ClientAdapter.shadowed}: Claude Code's local-scope entries shadowing a
   project's C{.mcp.json}); such a shadow is recorded with C{"original":
   null} (and the block it created), so restore removes exactly what was
   added. Entries added later are adopted on the next sync; an adopted
   entry the user changed or removed is dropped from the backup (the file
   wins; a removed shadow is not made again, unless the file is a copy a
   client read before the gateway's first write: L{_preStartCopy}); one the
   gateway can no longer serve gets its original back, and so does one
   whose route a different server of that name now holds (every pass checks
   the adopted entries against the routes taken before them, in
   L{AdoptionEngine.adopt}'s order, as a fresh start does). A client whose policy would refuse the
   rewritten entries is skipped whole, with the reason (L{ClientAdapter.policy},
   or per write L{ClientAdapter.refuse}: nothing is written, what was
   adopted before is put back). An adapter's C{stampKey} (Claude Code's
   C{_mcp_gateway_ts}) is set at each change and restored to what it was
   (also when restore writes back the exact text before the gateway's
   last write: a client's edit may have carried the key into that text).
 - L{AdoptionEngine.servedDocument}: the originals to serve, as a document
   L{mcpgateway.config.servers.parseConfig} reads (one server per route,
   the one that holds it in L{AdoptionEngine.adopt}'s order).
 - L{restoreAll} (and L{AdoptionEngine.restore}, L{AdoptionEngine.recover}):
   every backup in the state directory is put back, with no adapter needed
   (a backup names its file, format and blocks). The backup keeps, next
   to each entry's original and the entry written, the exact text of the
   file before each of the gateway's writes, for as long as no one else
   wrote in between: when nothing else changed the file, restore writes
   those bytes back, byte for byte; otherwise each entry that still is the
   gateway's gets its original back, in place, and the user's changes stay
   (a chain starts only on a text holding none of the gateway's entries).
   An entry still exactly as the gateway wrote it (a JSON/JSONC entry's
   text, a YAML entry's value) gets its original's own text back from the
   text before adoption (L{_putBackVerbatim}): its comments and layout.
   That text is kept per entry (L{Backup.origins}) for as long as the
   entry is adopted, past the end of the C{undo} chain; an entry handed
   back while the gateway runs gets its text back the same way.
   A restored backup is kept, rotated into L{KEPT_GENERATIONS} copies
   (C{<backup>.1} newest): a client that read the file while it pointed at
   the gateway may write its copy back after the restore; an entry that is
   exactly a kept record's written entry gets its original back from the
   newest kept copy that has it (at the next adoption, or restore; a file
   no longer adopted that holds such entries: L{staleFiles}, L{reviveStale}).
 - Backups of version 1 (one location) and of the gateway's earlier
   Claude-only adoption (C{config-backup.json}) are still read and restored.
 - Every write is a short read-modify-write of the file's latest bytes
   (L{mcpgateway.clientconfigs.documents.updateFile}), the backup is written
   before the file, a file that cannot be parsed is left untouched with one
   warning naming it, and the file's mode and every key the gateway does not
   own are kept.

No logging: every operation returns an L{EngineReport} of strings.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.clients.base import (
    Block,
    ClientAdapter,
    ClientFile,
    Host,
    Unservable,
    isBridgeEntry,
)
from mcpgateway.clientconfigs.clients.claudecode import (
    GATEWAY_TS_KEY,
    TOP,
    claudeScope,
    projectBlock,
)
from mcpgateway.clientconfigs.documents import (
    FORMATS,
    Document,
    JsonDataDocument,
    JsonDocument,
    Location,
    UnparsableError,
    parseDocument,
    readFile,
    sha256,
    updateFile,
)
from mcpgateway.clientconfigs.jsonfile import (
    BACKUP_FORMAT,
    ConcurrentWriteError,
    removeFile,
    renameFile,
)
from mcpgateway.config.envfiles import expansionEnvironment, readGatewayEnv, readWorkspaceEnv
from mcpgateway.config.servers import ConfigError, EntryError, parseEntry
from mcpgateway.runtime import paths
from mcpgateway.runtime.atomicfile import TEMP_SUFFIX, tempPrefix, writeFileAtomic

BACKUP_DIR = "client-backups"
"""The state directory's folder of client backups, one file per client file."""
BACKUP_VERSION = 2
"""Version 1 had one location per file; it is still read, as is the format
of the gateway's earlier Claude-only adoption (see L{Backup.fromJson})."""
KEPT_GENERATIONS = 3
"""How many restored backups are kept (C{<backup>.1} to C{<backup>.3})."""
VERBATIM_FORMATS = ("json", "jsonc", "yaml")
"""The formats whose entries restore gives back as their own text
(L{_putBackVerbatim}); the others get their original's value back."""
LEFTOVER_AGE = 30.0
"""Seconds after which a temp file of the gateway's writer is a leftover."""
UrlFor = Callable[[str, "str | None"], str]
"""C{urlFor(name, None)}: a user-scope server's URL; C{urlFor(name, path)}:
the URL of the route of the workspace C{path} (a project file's server)."""
Claims = dict[tuple[str, "str | None"], tuple[str, dict[str, Any]]]
"""The routes adopted so far, C{(name, workspace)}: who adopted it, and what
is served there."""
_MISSING: Any = object()
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


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
class Stamp:
    """The top-level key set at each change (the adapter's C{stampKey}), as
    it was before adoption: absent (C{added}), or C{before} (C{_MISSING}:
    unknown, a backup of an older version)."""

    key: str
    added: bool
    before: Any = _MISSING


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
    stamp: Stamp | None = None
    origins: dict[str, str] = field(default_factory=dict)
    """The texts before the writes that adopted the entries, by hash (a
    record's C{origin}): where an entry's own text comes back from
    (L{_putBackVerbatim}), also after the gateway wrote the file again
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
        _dropUnwritten(self.undo, current)
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
            if self.stamp.before is not _MISSING:
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
            return _fromClaudeJson(data, bad)
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
            backup.stamp = Stamp(
                stamp["key"], stamp.get("added") is True, stamp.get("before", _MISSING)
            )
        return backup


def _fromClaudeJson(data: dict[str, Any], bad: Callable[[str], ConfigError]) -> Backup:
    """A backup as the gateway's Claude-only adoption wrote it (version 1:
    C{mcpServers} and C{projects.<path>.mcpServers} of C{{"url", "original"}}
    records, C{timestampAdded}/C{timestampBefore}), in this version's terms."""
    if data.get("version") != 1:
        raise bad(f"version {data.get('version')!r}, expected 1")
    configPath = data.get("configPath")
    if not isinstance(configPath, str):
        raise bad("no configPath")
    backup = Backup("claude-code", configPath, "jsondata")
    backup.stamp = Stamp(
        GATEWAY_TS_KEY,
        data.get("timestampAdded") is True,
        data.get("timestampBefore", _MISSING),
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
    topScope = claudeScope(configPath)
    for scope, block, created in blocks:
        if not isinstance(block, dict):
            raise bad("an 'mcpServers' is not an object")
        if scope is None:
            location = TOP
            info = BlockInfo(None, f"{topScope} scope")
        else:
            location = projectBlock(scope)
            info = BlockInfo(scope, f"local scope of project {scope}", created)
        backup.blocks[location] = info
        for name, record in block.items():
            if not (
                isinstance(record, dict)
                and isinstance(record.get("url"), str)
                and (
                    isinstance(record.get("original"), dict)
                    or (scope is not None and record.get("original", _MISSING) is None)
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


@dataclass
class FileReport:
    """What happened to one client file; entries by their labels."""

    client: str
    path: str
    adopted: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    """Adopted entries the user changed or removed since, or the gateway can
    no longer serve: no longer served."""
    restored: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)
    """Entries put back from a kept backup: a client had written back a copy
    that pointed at a stopped gateway."""
    kept: list[str] = field(default_factory=list)
    """Entries the user changed since adoption: left as the user has them."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Stdio entries not adopted, and why."""
    said: frozenset[tuple[str, str]] = frozenset()
    """The C{skipped} already told by an earlier operation (not in L{messages})."""
    notes: list[str] = field(default_factory=list)
    versionControlled: bool = False
    refused: str | None = None
    """Why nothing was written: the client's policy would refuse the entries."""

    def messages(self) -> list[str]:
        out = []
        where = f"{self.path} ({self.client})"
        for verb, names in (
            ("adopted", self.adopted),
            ("restored", self.restored),
            ("no longer served (the file changed)", self.removed),
            ("left as the user changed them", self.kept),
        ):
            if names:
                out.append(f"{where}: {verb}: {', '.join(names)}")
        if self.adopted and self.versionControlled:
            out.append(
                f"{where} is a project file, usually under version control: it was"
                " rewritten (the client has no private file that overrides it) and is"
                " restored when the gateway stops"
            )
        out.extend(
            f"{where}: {name} not adopted: {why}"
            for name, why in self.skipped
            if (name, why) not in self.said
        )
        out.extend(self.notes)
        return out


@dataclass
class EngineReport:
    """What one engine operation did, per file, and what it could not do."""

    files: list[FileReport] = field(default_factory=list)
    skippedClients: list[tuple[str, str]] = field(default_factory=list)
    """Clients not adopted because of a policy, and why."""
    warnings: list[str] = field(default_factory=list)
    """Files left untouched (unparsable, unreadable, kept changing...)."""
    reloads: dict[str, str] = field(default_factory=dict)
    """For each client whose file changed: how it picks the change up."""

    @property
    def changed(self) -> bool:
        return any(f.adopted or f.removed or f.restored for f in self.files)

    def messages(self) -> list[str]:
        out = [m for f in self.files for m in f.messages()]
        out.extend(f"{client} skipped: {why}" for client, why in self.skippedClients)
        out.extend(f"{client}: {how}" for client, how in sorted(self.reloads.items()))
        return out


# -- the backups on disk -------------------------------------------------------------


def backupPathFor(stateDir: Path, client: str, configPath: Path) -> Path:
    """C{<stateDir>/client-backups/<client>-<label>-<hash>.json}: the label is
    the sanitized parent and file name, the hash of the real path."""
    safeClient = _UNSAFE.sub("_", client)[:32] or "client"
    return Path(os.path.abspath(stateDir)) / BACKUP_DIR / f"{safeClient}-{fileLabel(configPath)}"


def fileLabel(configPath: Path) -> str:
    """C{<label>-<hash>.json} for C{configPath}: its sanitized parent and
    file name (never the raw path), and a hash of its real path."""
    real = os.path.realpath(configPath)
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    label = _UNSAFE.sub("_", f"{Path(real).parent.name}_{Path(real).name}").strip("_")[:48]
    return f"{label or 'config'}-{digest}.json"


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
                revived = _revivable(kept, location, entryName, entry)
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
    if not configPath.exists():
        report.notes.append(
            f"{configPath} was removed while the gateway served it; its backup is kept as {path}.1"
        )
        rotate(path)
        return report
    locations = list(dict.fromkeys([*backup.blocks, *(loc for k in kept for loc in k.blocks)]))

    def change(raw: bytes) -> bytes | None:
        nonlocal report
        report = FileReport(backup.client, backup.configPath)
        undo = list(backup.undo)
        _dropUnwritten(undo, sha256(raw))
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
            now_ = record.written if current is None else _entry(current, location, name)
            if _ours(now_, record.written):
                report.restored.append(label)
                inDoc = _entry(doc, location, name)
                if _ours(inDoc, record.written):
                    doc = _restoreEntry(
                        doc, backup, location, name, record, inDoc, configPath, parsed
                    )
                    changed = True
            elif now_ == record.original or (record.original is None and now_ is _MISSING):
                continue  # never rewritten (a crash in between), or restored already
            elif _revivable(kept, location, name, now_) is not None:
                continue  # a stale copy of an earlier run: put back below
            else:
                report.kept.append(label)
                report.notes.append(
                    f"{label} was {'removed from' if now_ is _MISSING else 'changed in'}"
                    f" {configPath} while the gateway served it; "
                    + ("not restored" if now_ is _MISSING else "kept the file's version")
                )
        for location in locations:
            for name, entry in doc.entries(location) or []:
                revived = _revivable(kept, location, name, entry)
                if revived is None:
                    continue
                record, generation = revived
                doc = _restoreEntry(
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
        # adopted file carries it along (see L{_stampLeft}).
        if not changed and (stamp is None or not _stampLeft(doc, stamp)):
            return text
        if stamp is not None:
            _restoreStamp(doc, stamp, now)
        return doc.text().encode("utf-8")

    updateFile(configPath, change)
    rotate(path)
    if stateDir is not None:
        failure = readRestoreFailure(stateDir)
        config = failure.get("config") if failure is not None else None
        if isinstance(config, str) and os.path.realpath(config) == os.path.realpath(configPath):
            removeFile(restoreFailurePath(stateDir))
    return report


def _restoreStamp(doc: Document, stamp: Stamp, now: Callable[[], float]) -> None:
    """The stamp key as it was before the adoption (unknown: a fresh time,
    so that clients reload at least)."""
    top = _editable(doc).topLevel()
    if stamp.added:
        top.pop(stamp.key, None)
    elif stamp.before is not _MISSING:
        top[stamp.key] = copy.deepcopy(stamp.before)
    else:
        top[stamp.key] = int(now() * 1000)


def _preStartCopy(doc: Document, backup: Backup) -> bool:
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
    elif stamp.before is _MISSING or top.get(stamp.key, _MISSING) != stamp.before:
        return False
    return not any(
        _ours(_entry(doc, location, name), record.written)
        for (location, name), record in backup.records.items()
    )


def _stampLeft(doc: Document, stamp: Stamp) -> bool:
    """Whether C{doc} holds the stamp key other than as it was before the
    adoption (known: absent when the gateway C{added} it, else
    C{stamp.before}): a client that rewrote the file while the gateway
    served it carried the gateway's value along."""
    if not isinstance(doc, JsonDataDocument):
        return False
    top = doc.topLevel()
    if stamp.added:
        return stamp.key in top
    return stamp.before is not _MISSING and top.get(stamp.key, _MISSING) != stamp.before


def _dropUnwritten(undo: list[UndoStep], current: str) -> None:
    while undo and undo[-1].after != current and sha256(undo[-1].before.encode()) == current:
        undo.pop()


def _editable(doc: Document) -> JsonDataDocument:
    if not isinstance(doc, JsonDataDocument):
        raise ValueError("entries can be added and removed only in a 'jsondata' document")
    return doc


def _entry(doc: Document, location: Location, name: str) -> Any:
    """The entry C{name} at C{location}, or C{_MISSING}."""
    for key, value in doc.entries(location) or []:
        if key == name:
            return value
    return _MISSING


def _putBack(
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
        _editable(doc).removeEntry(location, name, dropEmpty=created)


def _restoreEntry(
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
    (L{_putBackVerbatim}), else the original's value (L{_putBack})."""
    verbatim = _putBackVerbatim(doc, backup, location, name, record, configPath, parsed)
    if verbatim is not None:
        return verbatim
    _putBack(doc, location, name, record, backup.blocks[location].created, entry)
    return doc


def _putBackVerbatim(
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
    (put the original's value back instead, L{_putBack}). C{parsed} caches
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
        or _entry(origin, location, name) != record.original
    ):
        return None
    return doc if doc.restoreEntry(location, name, record.written, origin) else None


def _ours(entry: Any, written: Any) -> bool:
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


def _revivable(
    kept: list[Backup], location: Location, name: str, entry: Any
) -> tuple[Record, Backup] | None:
    """The record (and its kept backup, the newest that has one) whose
    written entry C{entry} is, or C{None}."""
    if entry is _MISSING:
        return None
    for backup in kept:
        record = backup.records.get((location, name))
        if record is not None and _ours(entry, record.written):
            return record, backup
    return None


def defaultBridgeArgv(
    stateDir: Path | None = None, defaultStateDir: Path | None = None
) -> list[str]:
    """How a stdio-only client runs the bridge: the absolute path of the
    C{mcpgateway} executable next to this Python (else the one on C{PATH}),
    plus C{--state-dir} when the state directory is not C{defaultStateDir}.

    @param defaultStateDir: the state directory the bridge finds without
        C{--state-dir}; default C{~/.mcpgateway} itself, not
        C{$MCPGATEWAY_HOME}: a client launched from the desktop does not
        have the gateway's environment."""
    import shutil
    import sys

    candidate = Path(sys.executable).parent / "mcpgateway"
    exe = str(candidate) if candidate.is_file() else (shutil.which("mcpgateway") or str(candidate))
    argv = [os.path.abspath(exe)]
    if defaultStateDir is None:
        defaultStateDir = Path.home() / ".mcpgateway"
    if stateDir is not None and os.path.abspath(stateDir) != os.path.abspath(defaultStateDir):
        argv += ["--state-dir", os.path.abspath(stateDir)]
    return argv


def bridgeCommand(bridgeArgv: Sequence[str], port: int | None) -> list[str]:
    """The command line before the server of a bridge entry: C{bridgeArgv},
    and C{bridge --port N} when the gateway is not on the default port (a
    bridge that finds no gateway starts one, on that port)."""
    if port is None or port == paths.DEFAULT_PORT:
        return list(bridgeArgv)
    return [*bridgeArgv, "bridge", "--port", str(port)]


@dataclass
class FilePass:
    """One adoption pass over the latest content of a file: the backup and
    the document as they would be after it, and what it did."""

    backup: Backup
    doc: Document
    blocks: list[Block]
    report: FileReport
    out: bytes | None
    """The new content (C{None}: nothing to write)."""
    declined: set[tuple[Location, str]] = field(default_factory=set)
    onceNotes: list[str] = field(default_factory=list)
    claims: Claims = field(default_factory=dict)


class AdoptionEngine:
    """The adoption of every client an adapter describes (see the module
    docstring). Methods do short synchronous file work (a few reads and
    writes of small files) and never raise for one file's problem: it is in
    the report's warnings and the other files go on."""

    def __init__(
        self,
        stateDir: Path,
        adapters: Sequence[ClientAdapter],
        host: Host,
        projects: Iterable[Path] = (),
        bridgeArgv: Sequence[str] | None = None,
        environ: Mapping[str, str] | None = None,
        now: Callable[[], float] = time.time,
        bridgePort: int | None = None,
    ) -> None:
        """
        @param adapters: the clients to adopt, in order (a name two clients
            define differently for the same route goes to the first).
        @param projects: project directories whose project files are adopted.
        @param bridgeArgv: the command that runs C{mcpgateway} for stdio-only
            clients (default L{defaultBridgeArgv}).
        @param environ: the environment C{${VAR}}s expand from when deciding
            whether an entry can be served (default C{os.environ}).
        @param now: the clock of the adapters' C{stampKey}, in seconds.
        @param bridgePort: the gateway's port, written into bridge entries
            when it is not the default (L{bridgeCommand}); the config source
            sets it once the gateway listens.
        """
        self.stateDir = Path(os.path.abspath(stateDir))
        self.adapters = list(adapters)
        self.host = host
        self.projects = [Path(p) for p in projects]
        self.bridgeArgv = list(bridgeArgv) if bridgeArgv is not None else defaultBridgeArgv()
        self.bridgePort = bridgePort
        self._environ = os.environ if environ is None else environ
        self._now = now
        self._warned: set[str] = set()
        self._said: dict[str, set[tuple[str, str]]] = {}
        """Per file: the skipped entries last reported (told once, not at every sync)."""
        self._noted: set[str] = set()
        self._declined: set[tuple[str, Location, str]] = set()
        """Shadows the user removed or changed while served: not made again."""

    def _bridgeCommand(self) -> list[str]:
        return bridgeCommand(self.bridgeArgv, self.bridgePort)

    # -- what is there -----------------------------------------------------------

    def files(self) -> list[tuple[ClientAdapter, ClientFile]]:
        return [(a, f) for a in self.adapters for f in a.files(self.host, self.projects)]

    def watchedPaths(self) -> list[Path]:
        """The files to watch for L{sync}: every client file found."""
        return [f.path for _, f in self.files()]

    def awaitedPaths(self) -> list[Path]:
        """The user-scope files a client could write that are not there yet
        (a client installed after the start): one appearing is adopted at
        the reload its appearance brings."""
        return list(
            dict.fromkeys(
                path
                for adapter in self.adapters
                for path in adapter.userFiles(self.host)
                if not path.exists()
            )
        )

    def backupPathOf(self, adapter: ClientAdapter, path: Path) -> Path:
        return adapter.backupPath(self.stateDir, path) or backupPathFor(
            self.stateDir, adapter.id, path
        )

    # -- the operations --------------------------------------------------------------

    def recover(self) -> EngineReport:
        """At start, before L{adopt}: restore what an unclean stop left adopted."""
        return restoreAll(self.stateDir)

    def restore(self) -> EngineReport:
        """At stop (and by hand): put every adopted file back."""
        return restoreAll(self.stateDir)

    def adopt(
        self,
        urlFor: UrlFor,
        reserved: Mapping[tuple[str, str | None], dict[str, Any]] | None = None,
    ) -> EngineReport:
        """Adopt every servable stdio entry of every client file found.

        @param reserved: routes already served by another adoption (Claude
            Code's): C{(name, workspace)} to the entry served there, in the
            gateway's shape; a client's different server of that name and
            workspace is not adopted (the same server is).
        """
        report = EngineReport()
        claims: Claims = {
            key: ("Claude Code", dict(entry)) for key, entry in (reserved or {}).items()
        }
        byClient: dict[str, list[ClientFile]] = {}
        for adapter, file in self.files():
            byClient.setdefault(adapter.id, []).append(file)
        todo: list[tuple[ClientAdapter, ClientFile]] = []
        for adapter in self.adapters:
            files = byClient.get(adapter.id, [])
            if not files:
                continue
            why = adapter.policy(self.host, files)
            if why is not None:
                report.skippedClients.append((adapter.id, why))
                continue
            todo += [(adapter, file) for file in files]
        # Every user file first: a project's entry that is a user-scope server
        # is pointed at the global route, as the gateway serves it (see _url).
        todo.sort(key=lambda pair: pair[1].workspace is not None)
        # A file that cannot be read now keeps the routes its adopted entries
        # point at, even from a client before it: they cannot be given back.
        for adapter, file in todo:
            try:
                parseDocument(file.path, file.format, readFile(file.path))
            except (UnparsableError, ConfigError, OSError, ValueError):
                self._claimBackedUp(adapter, file, claims)
        for adapter, file in todo:
            try:
                fileReport = self.adoptFile(adapter, file, urlFor, claims)
                if fileReport.refused is not None:
                    report.skippedClients.append((adapter.id, fileReport.refused))
                    fileReport = self.restoreFile(adapter, file)
            except (ConfigError, ConcurrentWriteError, OSError, ValueError) as e:
                self._warn(
                    report, str(file.path), f"{file.path} ({adapter.id}) was not adopted: {e}"
                )
                self._claimBackedUp(adapter, file, claims)
                continue
            self._warned.discard(str(file.path))
            skips = set(fileReport.skipped)
            fileReport.said = frozenset(self._said.get(str(file.path), set()) & skips)
            self._said[str(file.path)] = skips
            report.files.append(fileReport)
            if fileReport.adopted or fileReport.removed or fileReport.restored:
                report.reloads[adapter.id] = adapter.reload
        return report

    def sync(
        self,
        urlFor: UrlFor,
        reserved: Mapping[tuple[str, str | None], dict[str, Any]] | None = None,
    ) -> EngineReport:
        """For the file watcher: the same as L{adopt} (cheap when nothing changed)."""
        return self.adopt(urlFor, reserved)

    def servedDocument(
        self, reserved: Mapping[tuple[str, str | None], dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The originals of every adopted entry, to serve: C{{"mcpServers":
        {...}, "projects": {workspace: {"mcpServers": {...}}}}} (what
        L{mcpgateway.config.servers.parseConfig} reads), from the backups.

        A route is served from the backups in L{adopt}'s order (C{reserved},
        Claude Code's routes, first): a record of a different server of that
        name at a route another one holds is left out, never served in its
        place (L{adopt} gives such an entry its original back; one left in a
        backup means its file could not be written, and the route keeps the
        server that holds it)."""
        document: dict[str, Any] = {"mcpServers": {}}
        claims: Claims = {
            key: ("Claude Code", dict(entry)) for key, entry in (reserved or {}).items()
        }
        for path in self._backupsInOrder():
            try:
                backup = readBackup(path)
            except ConfigError:
                continue
            for (location, name), record in backup.records.items() if backup else ():
                workspace = backup.blocks[location].workspace if backup else None
                if self._clash(name, record.served, workspace, claims) is not None:
                    continue
                claims.setdefault((name, workspace), ("", record.served))
                if workspace is None:
                    servers = document["mcpServers"]
                else:
                    project = document.setdefault("projects", {}).setdefault(workspace, {})
                    servers = project.setdefault("mcpServers", {})
                servers.setdefault(name, copy.deepcopy(record.served))
        return document

    def _backupsInOrder(self) -> list[Path]:
        """Every backup in the state directory (L{backupPaths}): those of the
        files found first, in L{adopt}'s order (the adapters', user files
        before project files), then the others."""
        found = sorted(self.files(), key=lambda pair: pair[1].workspace is not None)
        onDisk = backupPaths(self.stateDir)
        present = set(onDisk)
        ordered = [
            path
            for path in dict.fromkeys(self.backupPathOf(a, f.path) for a, f in found)
            if path in present
        ]
        return [*ordered, *(path for path in onDisk if path not in set(ordered))]

    def _claimBackedUp(self, adapter: ClientAdapter, file: ClientFile, claims: Claims) -> None:
        """Add to C{claims} the routes of a file that could not be adopted
        now: the entries its backup holds still point at them (a file that
        is gone points nowhere)."""
        if not os.path.exists(file.path):
            return
        try:
            backup = readBackupOf(self.backupPathOf(adapter, file.path), file.path)
        except (ConfigError, OSError, ValueError):
            return
        who = f"{adapter.id} ({file.path})"
        for (location, name), record in backup.records.items() if backup else ():
            info = backup.blocks.get(location) if backup else None
            workspace = info.workspace if info is not None else None
            claims.setdefault((name, workspace), (who, record.served))

    # -- one file -------------------------------------------------------------------

    def adoptFile(
        self,
        adapter: ClientAdapter,
        file: ClientFile,
        urlFor: UrlFor,
        claims: Claims | None = None,
        shadows: bool = True,
    ) -> FileReport:
        """Adopt one file (see L{adopt}): one read-modify-write for all its
        blocks, the backup written before the file. A file the client's
        L{ClientAdapter.refuse} refuses is not written (C{refused} says why).

        @param claims: the routes adopted so far; this file's are added.
        @param shadows: make the adapter's shadows (L{ClientAdapter.shadowed}).
        @raise ConfigError: the file or its backup cannot be used.
        @raise ConcurrentWriteError: the file kept changing.
        """
        backupPath = self.backupPathOf(adapter, file.path)
        loaded = readBackupOf(backupPath, file.path)
        kept = keptBackups(backupPath)
        onDisk = loaded.encode() if loaded is not None else None
        base = loaded or Backup(
            adapter.id, os.path.realpath(file.path), file.format, file.versionControlled
        )
        claims = {} if claims is None else claims
        result: FilePass | None = None

        def change(raw: bytes) -> bytes | None:
            nonlocal result, onDisk
            result = self._pass(adapter, file, raw, base, kept, urlFor, claims, shadows)
            if result.report.refused is not None:
                return None
            onDisk = self._saveBackup(backupPath, result.backup, onDisk)
            return result.out

        updateFile(file.path, change)
        assert result is not None
        if result.report.refused is None:
            real = os.path.realpath(file.path)
            self._declined |= {(real, loc, name) for loc, name in result.declined}
            result.report.notes.extend(self._once(result.onceNotes))
            claims.update(result.claims)
        return result.report

    def plan(self, adapter: ClientAdapter, file: ClientFile, shadows: bool = True) -> FilePass:
        """What L{adoptFile} would do to the file now (nothing is written).

        @raise ConfigError: the file or its backup cannot be used.
        """
        backupPath = self.backupPathOf(adapter, file.path)
        loaded = readBackupOf(backupPath, file.path)
        base = loaded or Backup(adapter.id, os.path.realpath(file.path), file.format)
        return self._pass(
            adapter,
            file,
            readFile(file.path),
            base,
            keptBackups(backupPath),
            lambda name, workspace: "",
            {},
            shadows,
            dry=True,
        )

    def restoreFile(self, adapter: ClientAdapter, file: ClientFile) -> FileReport:
        """Put one file back (its backup, and the stale entries its kept
        backups know); see L{restoreFile}.

        @raise ConfigError: the file or its backup cannot be used.
        @raise ConcurrentWriteError: the file kept changing.
        """
        backupPath = self.backupPathOf(adapter, file.path)
        backup = readBackupOf(backupPath, file.path)
        if backup is None:
            backup = Backup(adapter.id, os.path.realpath(file.path), file.format)
            if not keptBackups(backupPath):
                return FileReport(adapter.id, str(file.path))
        return restoreFile(backupPath, backup, self.stateDir, self._now)

    def _pass(
        self,
        adapter: ClientAdapter,
        file: ClientFile,
        raw: bytes,
        base: Backup,
        kept: list[Backup],
        urlFor: UrlFor,
        claims: Claims,
        shadows: bool,
        dry: bool = False,
    ) -> FilePass:
        """Adopt the file's content C{raw}, given its backup C{base}: a
        function of C{raw} (it may run again on newer content)."""
        doc = parseDocument(file.path, file.format, raw)
        report = FileReport(adapter.id, str(file.path), versionControlled=file.versionControlled)
        result = FilePass(Backup(base.client, base.configPath, base.format), doc, [], report, None)
        new = result.backup
        new.versionControlled, new.undo, new.stamp = (
            base.versionControlled,
            list(base.undo),
            base.stamp,
        )
        result.blocks = adapter.blocks(file, doc)
        candidates = adapter.shadowed(file, doc, result.onceNotes) if shadows else {}
        result.claims = local = dict(claims)
        who = f"{adapter.id} ({file.path})"
        created = {location for location, info in base.blocks.items() if info.created}
        revivedFrom: Backup | None = None
        changed = False
        pristine = True
        """C{raw} holds no entry the gateway wrote (see L{Backup.pushUndo})."""
        preStart = _preStartCopy(doc, base)
        """C{raw} is a copy a client read before the gateway's first write."""
        parsed: dict[str, Document | None] = {}
        texts = dict(base.origins)
        """The texts the records' C{origin}s name (see L{Backup.origins})."""
        rawOrigin: str | None = None
        if file.format in VERBATIM_FORMATS:
            rawOrigin = sha256(raw)
            texts.setdefault(rawOrigin, raw.decode("utf-8"))

        def handBack(loc: Location, name: str, record: Record, entry: Any) -> Document:
            """An adopted entry given back mid-run: as at a restore, its own
            text when it can be had (L{_restoreEntry}), else its value."""
            if record.original is None:
                _putBack(doc, loc, name, record, loc in created, entry)
                return doc
            return _restoreEntry(doc, base, loc, name, record, entry, file.path, parsed)

        known = {block.location for block in result.blocks}
        orphans = [
            Block(loc, i.workspace, i.scope) for loc, i in base.blocks.items() if loc not in known
        ]
        for block in [*result.blocks, *orphans]:
            loc = block.location
            blockFile = replace(file, location=loc, workspace=block.workspace)
            entries = dict(doc.entries(loc) or [])
            unadopted: dict[str, Record] = {}

            def adopted(name: str, record: Record, block: Block = block) -> None:
                new.records[(block.location, name)] = record
                local.setdefault((name, block.workspace), (who, record.served))

            for (recordLoc, name), record in base.records.items():
                if recordLoc != loc:
                    continue
                entry = entries.get(name, _MISSING)
                shadow = record.original is None
                label = block.label(name, adapter.shadowNote if shadow else "")
                if _ours(entry, record.written):
                    pristine = False
                    source = candidates.get((loc, name)) if shadow else record.original
                    try:
                        if source is None:
                            raise Unservable(
                                f"no longer an approved server of {block.workspace}/.mcp.json"
                            )
                        served = self._servedHere(adapter, name, source, blockFile, block)
                    except Unservable as e:
                        doc = handBack(loc, name, record, entry)
                        unadopted[name] = record
                        changed = True
                        report.removed.append(label)
                        report.notes.append(
                            f"{label}: not shadowed any more ({e}); removed"
                            if shadow
                            else f"{label}: the gateway cannot serve it any more ({e});"
                            " put its original entry back"
                        )
                        continue
                    clash = self._clash(name, served, block.workspace, local)
                    if clash is not None:
                        # Another client's server now holds the route (one
                        # adopted earlier in this pass changed): as at a fresh
                        # start, this entry is not served there; it gets its
                        # original back.
                        doc = handBack(loc, name, record, entry)
                        unadopted[name] = record
                        changed = True
                        report.restored.append(label)
                        report.skipped.append((label, clash))
                        continue
                    url = self._url(urlFor, name, served, block.workspace, local)
                    written = record.written
                    if url != record.url:
                        written = adapter.written(name, url, source, self._bridgeCommand())
                        doc.replaceEntry(loc, name, written)
                        where = label if block.scope else f"{file.path}: {name}"
                        report.notes.append(f"{where}: now at {url} (was {record.url})")
                        changed = True
                    adopted(name, replace(record, written=written, url=url, served=served))
                elif entry is not _MISSING and entry == record.original:
                    continue  # an ordinary stdio entry again: adopted below like any other
                elif not shadow and _revivable(kept, loc, name, entry) is not None:
                    report.removed.append(label)  # a stale copy of an earlier run: below
                elif shadow and entry is _MISSING and preStart:
                    # Written back from a copy read before the shadow was made
                    # (its stdio entries are adopted again below): not the
                    # user's removal, so the shadow is made again below.
                    report.notes.append(
                        f"{label}: {file.path} was written back from a copy read before"
                        " the gateway adopted it; shadowed again"
                    )
                else:
                    if shadow:
                        result.declined.add((loc, name))
                    report.removed.append(label)
                    report.notes.append(
                        f"{label} was {'removed from' if entry is _MISSING else 'changed in'}"
                        f" {file.path} while the gateway served it; the file wins:"
                        " dropped from the backup"
                    )
            for name, entry in entries.items():
                if (loc, name) in new.records or name in unadopted:
                    continue
                label = block.label(name)
                revived = _revivable(kept, loc, name, entry)
                if revived is not None:
                    pristine = False
                    revivedFrom = revivedFrom or revived[1]
                    stale = f"{label} pointed at a stopped gateway ({revived[0].url})"
                    if revived[0].original is None:
                        _putBack(doc, loc, name, revived[0], revived[1].blocks[loc].created)
                        unadopted[name] = revived[0]
                        changed = True
                        report.notes.append(
                            f"{stale}: a client wrote back a copy it had read while that"
                            " gateway served it; removed that shadow entry"
                        )
                        continue
                    entry = revived[0].original
                try:
                    found = adapter.served(name, entry, blockFile, self.host)
                    if found is None or isBridgeEntry(entry):
                        continue
                    served = found
                    if block.unroutable:
                        if block.workspace is not None and self._servable(name, served):
                            result.onceNotes.append(f"{label}: {block.unroutable}; left as it is")
                        continue
                    self._check(name, served, entry, block, local)
                except Unservable as e:
                    if revived is not None:
                        doc.replaceEntry(loc, name, copy.deepcopy(entry))
                        changed = True
                        report.notes.append(
                            f"{stale}; put its original back from the kept backup (not served: {e})"
                        )
                    else:
                        report.skipped.append((label, str(e)))
                    continue
                url = self._url(urlFor, name, served, block.workspace, local)
                written = adapter.written(name, url, entry, self._bridgeCommand())
                doc.replaceEntry(loc, name, written)
                origin = rawOrigin
                if revived is not None:
                    origin = revived[0].origin
                    texts.update(revived[1].origins)
                adopted(name, Record(copy.deepcopy(entry), written, url, served, origin))
                report.adopted.append(label)
                changed = True
                if revived is not None:
                    report.notes.append(
                        f"{stale}: a client wrote back a copy it had read while that gateway"
                        " served it; adopted again with its original from the kept backup"
                    )
            for (shadowLoc, name), source in candidates.items():
                if (
                    shadowLoc != loc
                    or (loc, name) in new.records
                    or (loc, name) in result.declined
                    or (base.configPath, loc, name) in self._declined
                ):
                    continue
                gone = unadopted.get(name)
                if (gone is not None and gone.original is not None) or (
                    name in entries and gone is None
                ):
                    continue  # a local entry of that name is the user's, and wins
                label = block.label(name, adapter.shadowNote)
                try:
                    found = adapter.served(name, source, blockFile, self.host)
                    if found is None:
                        continue
                    served = found
                    if block.unroutable:
                        raise Unservable(block.unroutable)
                    self._check(name, served, source, block, local)
                except Unservable as e:
                    if isinstance(source, dict) and "command" in source:
                        result.onceNotes.append(f"{label}: {e}; left to {adapter.title}")
                    continue
                url = self._url(urlFor, name, served, block.workspace, local)
                written = adapter.written(name, url, source, self._bridgeCommand())
                if _editable(doc).addEntry(loc, name, written):
                    created.add(loc)
                adopted(name, Record(None, written, url, served))
                report.adopted.append(label)
                changed = True
        if revivedFrom is not None:
            created |= {loc for loc, info in revivedFrom.blocks.items() if info.created}
        for block in [*result.blocks, *orphans]:
            records = [r for (loc, _), r in new.records.items() if loc == block.location]
            if records:
                new.blocks[block.location] = BlockInfo(
                    block.workspace,
                    block.scope,
                    block.location in created
                    and any(r.original is None for r in records)
                    and doc.entries(block.location) is not None,
                )
        new.records = {  # grouped by block, as the backup keeps them
            key: record
            for location in new.blocks
            for key, record in new.records.items()
            if key[0] == location
        }
        key = adapter.stampKey
        if key is not None and new.stamp is None:
            if revivedFrom is not None and revivedFrom.stamp is not None:
                new.stamp = replace(revivedFrom.stamp)
            else:
                top = _editable(doc).topLevel()
                before = copy.deepcopy(top[key]) if key in top else _MISSING
                new.stamp = Stamp(key, key not in top, before)
        if changed and key is not None:
            _editable(doc).topLevel()[key] = int(self._now() * 1000)
        new.origins = {
            r.origin: texts[r.origin]
            for r in new.records.values()
            if r.origin is not None and r.origin in texts
        }
        result.doc = doc
        result.out = doc.text().encode("utf-8") if changed else None
        if result.out is not None and result.out != raw:
            new.pushUndo(raw, result.out, pristine)
        wanted = [(name, record.url) for (_, name), record in new.records.items()]
        if not dry and wanted:
            why = adapter.refuse(self.host, wanted)
            if why is not None:
                result.report = FileReport(adapter.id, str(file.path), refused=why)
        return result

    def _servedHere(
        self, adapter: ClientAdapter, name: str, entry: Any, file: ClientFile, block: Block
    ) -> dict[str, Any]:
        """What the gateway serves for an adopted entry, checked again (the
        environment may have changed since).

        @raise Unservable: it cannot be served any more."""
        served = adapter.served(name, entry, file, self.host)
        if served is None:
            raise Unservable("not a stdio server")
        if block.unroutable:
            raise Unservable(block.unroutable)
        self._check(name, served, entry, block, None)
        return served

    def _url(
        self,
        urlFor: UrlFor,
        name: str,
        served: dict[str, Any],
        workspace: str | None,
        claims: Claims,
    ) -> str:
        """The URL of C{served}: a project's entry that is the server adopted
        at the global route of that name (the same spec once expanded, as
        L{mcpgateway.config.scopes} compares them) has no workspace route of
        its own, so it gets the global URL; else its workspace's."""
        if workspace is not None:
            claim = claims.get((name, None))
            if claim is not None and self._sameServer(name, claim[1], served):
                return urlFor(name, None)
        return urlFor(name, workspace)

    def _sameServer(self, name: str, a: dict[str, Any], b: dict[str, Any]) -> bool:
        if a == b:
            return True
        try:
            first = parseEntry(name, a, self._environ, "user")
            second = parseEntry(name, b, self._environ, "user")
        except EntryError:
            return False
        return replace(second, executable=first.executable) == first

    def _servable(self, name: str, served: dict[str, Any]) -> bool:
        try:
            parseEntry(name, served, self._environ, "user")
        except EntryError:
            return False
        return True

    def _check(
        self,
        name: str,
        served: dict[str, Any],
        entry: Any,
        block: Block,
        claims: Claims | None,
    ) -> None:
        """Raise L{Unservable} when the gateway would not serve C{served} in
        C{block} (C{claims}: the routes adopted so far, C{None}: not checked)."""
        environ: Mapping[str, str] = self._environ
        if block.workspace is not None:
            environ = expansionEnvironment(
                self._environ, readGatewayEnv(self.stateDir), readWorkspaceEnv(block.workspace)
            )
        try:
            parseEntry(name, served, environ, "user" if block.workspace is None else "local")
        except EntryError as e:
            raise Unservable(str(e)) from None
        try:
            json.dumps(entry, allow_nan=False)
        except (TypeError, ValueError):
            raise Unservable("it holds values the backup cannot keep (dates, NaN)") from None
        clash = self._clash(name, served, block.workspace, claims)
        if clash is not None:
            raise Unservable(clash)

    def _clash(
        self, name: str, served: dict[str, Any], workspace: str | None, claims: Claims | None
    ) -> str | None:
        """Why C{served} cannot be served at the route C{(name, workspace)}:
        C{claims} (C{None}: not checked) give it to a different server of
        that name; C{None} when it can."""
        claim = None if claims is None else claims.get((name, workspace))
        if claim is not None and not self._sameServer(name, claim[1], served):
            return f"{claim[0]} has a different server of that name, adopted at the same route"
        return None

    def _saveBackup(self, path: Path, backup: Backup, onDisk: bytes | None) -> bytes | None:
        """Write C{backup} if it differs from C{onDisk}, remove it when empty;
        what is on disk now. Never outside the state directory."""
        if not backup.records:
            if onDisk is not None:
                removeFile(path)
            return None
        out = backup.encode()
        if out != onDisk:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            root = os.path.realpath(self.stateDir)
            real = os.path.realpath(path.parent)
            if real != root and not real.startswith(root + os.sep):
                raise ValueError(
                    f"{path.parent} leads outside the state directory {root};"
                    " not writing a backup there"
                )
            writeFileAtomic(path, out, 0o600)
        return out

    def _warn(self, report: EngineReport, key: str, message: str) -> None:
        """One warning per file until it is adopted again."""
        if key not in self._warned:
            self._warned.add(key)
            report.warnings.append(message)

    def _once(self, notes: list[str]) -> list[str]:
        fresh = [note for note in dict.fromkeys(notes) if note not in self._noted]
        self._noted.update(fresh)
        return fresh
