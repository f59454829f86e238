# -*- test-case-name: tests.clientconfigs.test_engine -*-
"""Adopt the stdio servers of every MCP client's config files, and give them back.

One job: what L{mcpgateway.clientconfigs.claude} does for Claude Code, for
any client an adapter (L{mcpgateway.clientconfigs.clients}) describes.

 - L{AdoptionEngine.adopt} (and L{AdoptionEngine.sync}, the same, for the
   file watcher): for each file of each client found, every stdio entry the
   gateway can serve is backed up to C{<state-dir>/client-backups/} and then
   rewritten to the client's own Streamable HTTP entry for the URL the
   caller's C{urlFor(name, workspace)} gives (a project file's entries get
   their workspace's route; a stdio-only client's entries run
   C{mcpgateway bridge}). Entries added later are adopted on the next sync;
   an adopted entry the user changed or removed is dropped from the backup
   (the file wins). A client whose policy would refuse the rewritten entry
   is skipped whole, with the reason.
 - L{AdoptionEngine.servedDocument}: the originals to serve, as a document
   L{mcpgateway.config.servers.parseConfig} reads.
 - L{restoreAll} (and L{AdoptionEngine.restore}, L{AdoptionEngine.recover}):
   every backup in the state directory is put back, with no adapter needed
   (a backup names its file, format and location). The backup keeps, next
   to each entry's original and the entry written, the exact text of the
   file before each of the gateway's writes, for as long as no one else
   wrote in between: when nothing else changed the file, restore writes
   those bytes back, byte for byte; otherwise each entry that still is the
   gateway's gets its original back, in place, and the user's changes stay.
   A restored backup is kept as C{<backup>.1}.
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mcpgateway.atomicfile import writeFileAtomic
from mcpgateway.clientconfigs.clients.base import (
    ClientAdapter,
    ClientFile,
    Host,
    Unservable,
    isBridgeEntry,
)
from mcpgateway.clientconfigs.documents import (
    FORMATS,
    Location,
    UnparsableError,
    parseDocument,
    sha256,
    updateFile,
)
from mcpgateway.clientconfigs.jsonfile import BACKUP_FORMAT, ConcurrentWriteError, removeFile
from mcpgateway.config.envfiles import expansionEnvironment, readGatewayEnv, readWorkspaceEnv
from mcpgateway.config.servers import ConfigError, EntryError, parseEntry

BACKUP_DIR = "client-backups"
"""The state directory's folder of client backups, one file per client file."""
BACKUP_VERSION = 1
UrlFor = Callable[[str, "str | None"], str]
"""C{urlFor(name, None)}: a user-scope server's URL; C{urlFor(name, path)}:
the URL of the route of the workspace C{path} (a project file's server)."""
_MISSING: Any = object()
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Record:
    """One adopted entry: what it was, what the gateway wrote, what it serves."""

    original: Any
    written: dict[str, Any]
    url: str
    served: dict[str, Any]

    def toJson(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "written": self.written,
            "url": self.url,
            "served": self.served,
        }


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
    location: Location
    workspace: str | None
    versionControlled: bool = False
    records: dict[str, Record] = field(default_factory=dict)
    undo: list[UndoStep] = field(default_factory=list)

    def pushUndo(self, before: bytes, after: bytes) -> None:
        """Record a write of C{after} over C{before}: appended to the chain of
        the gateway's writes when C{before} is what the last one left, else the
        chain starts again (someone else wrote in between). Steps of writes that
        never happened (C{before} is still their before) are dropped first."""
        current = sha256(before)
        _dropUnwritten(self.undo, current)
        if self.undo and self.undo[-1].after != current:
            self.undo.clear()
        self.undo.append(UndoStep(before.decode("utf-8"), sha256(after)))

    def toJson(self) -> dict[str, Any]:
        return {
            "version": BACKUP_VERSION,
            "client": self.client,
            "configPath": self.configPath,
            "format": self.format,
            "location": self.location.toJson(),
            "workspace": self.workspace,
            "versionControlled": self.versionControlled,
            "entries": {name: record.toJson() for name, record in self.records.items()},
            "undo": [{"before": s.before, "after": s.after} for s in self.undo],
        }

    def encode(self) -> bytes:
        return BACKUP_FORMAT.encode(self.toJson())

    @classmethod
    def fromJson(cls, data: Any, where: Path) -> Backup:
        def bad(why: str) -> ConfigError:
            return ConfigError(
                f"{where} is not a usable gateway backup ({why}); left as it is:"
                " move it away once the entries it holds are back"
            )

        if not isinstance(data, dict) or data.get("version") != BACKUP_VERSION:
            raise bad(f"version {data.get('version') if isinstance(data, dict) else None!r}")
        try:
            location = Location.fromJson(data.get("location"))
        except ValueError:
            raise bad("no location") from None
        if not isinstance(data.get("configPath"), str) or data.get("format") not in FORMATS:
            raise bad("no configPath or format")
        workspace = data.get("workspace")
        backup = cls(
            client=str(data.get("client", "")),
            configPath=data["configPath"],
            format=data["format"],
            location=location,
            workspace=workspace if isinstance(workspace, str) else None,
            versionControlled=data.get("versionControlled") is True,
        )
        entries = data.get("entries")
        undo = data.get("undo", [])
        if not isinstance(entries, dict) or not isinstance(undo, list):
            raise bad("no entries")
        for name, record in entries.items():
            if not (
                isinstance(record, dict)
                and isinstance(record.get("written"), dict)
                and isinstance(record.get("url"), str)
                and isinstance(record.get("served"), dict)
                and "original" in record
            ):
                raise bad(f"the record of {name!r} is incomplete")
            backup.records[name] = Record(
                record["original"], record["written"], record["url"], record["served"]
            )
        for step in undo:
            if not (
                isinstance(step, dict)
                and isinstance(step.get("before"), str)
                and isinstance(step.get("after"), str)
            ):
                raise bad("an undo step is incomplete")
            backup.undo.append(UndoStep(step["before"], step["after"]))
        return backup


@dataclass
class FileReport:
    """What happened to one client file."""

    client: str
    path: str
    adopted: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    """Adopted entries the user changed or removed since: no longer served."""
    restored: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Entries the user changed since adoption: left as the user has them."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Stdio entries not adopted, and why."""
    notes: list[str] = field(default_factory=list)
    versionControlled: bool = False

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
        out.extend(f"{where}: {name} not adopted: {why}" for name, why in self.skipped)
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


def backupPathFor(stateDir: Path, client: str, configPath: Path) -> Path:
    """C{<stateDir>/client-backups/<client>-<label>-<hash>.json}: the label is
    the sanitized parent and file name, the hash of the real path."""
    real = os.path.realpath(configPath)
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    label = _UNSAFE.sub("_", f"{Path(real).parent.name}_{Path(real).name}").strip("_")[:48]
    safeClient = _UNSAFE.sub("_", client)[:32] or "client"
    return Path(os.path.abspath(stateDir)) / BACKUP_DIR / f"{safeClient}-{label}-{digest}.json"


def backupPaths(stateDir: Path) -> list[Path]:
    """Every backup in the state directory (entries adopted, not yet restored)."""
    folder = Path(stateDir) / BACKUP_DIR
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [folder / name for name in names if name.endswith(".json")]


def readBackup(path: Path) -> Backup | None:
    """The backup in C{path}, C{None} if there is none.

    @raise ConfigError: it is unreadable or not a backup of this version.
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


def restoreAll(stateDir: Path) -> EngineReport:
    """Put back every client file that has a backup in C{stateDir} (at stop,
    first thing at start after a crash, and C{mcpgateway restore})."""
    report = EngineReport()
    for path in backupPaths(stateDir):
        try:
            backup = readBackup(path)
        except ConfigError as e:
            report.warnings.append(str(e))
            continue
        if backup is None:
            continue
        try:
            report.files.append(restoreFile(path, backup))
        except (ConfigError, ConcurrentWriteError, OSError) as e:
            report.warnings.append(
                f"could not restore {backup.configPath} ({e}); its backup {path} is kept:"
                " run `mcpgateway restore` once the file is quiet"
            )
    return report


def restoreFile(path: Path, backup: Backup) -> FileReport:
    """Restore the file of C{backup} (whose backup is C{path}); then keep the
    backup as C{<path>.1}. See the module docstring.

    @raise UnparsableError: the file cannot be parsed and is not the one the
        gateway last wrote (it is left untouched, the backup kept).
    """
    configPath = Path(backup.configPath)
    report = FileReport(backup.client, backup.configPath)
    if not configPath.exists():
        report.notes.append(
            f"{configPath} was removed while the gateway served it; its backup is kept as {path}.1"
        )
        _keep(path)
        return report

    def change(raw: bytes) -> bytes | None:
        nonlocal report
        report = FileReport(backup.client, backup.configPath)
        undo = list(backup.undo)
        _dropUnwritten(undo, sha256(raw))
        text = undo[0].before.encode("utf-8") if undo and undo[-1].after == sha256(raw) else raw
        try:
            current = dict(
                parseDocument(configPath, backup.format, raw).entries(backup.location) or []
            )
        except UnparsableError:
            if text is raw:
                raise
            current = {name: r.written for name, r in backup.records.items()}
        doc = parseDocument(configPath, backup.format, text)
        entries = dict(doc.entries(backup.location) or [])
        replaced = False
        for name, record in backup.records.items():
            now = current.get(name, _MISSING)
            if now == record.written:
                report.restored.append(name)
                if entries.get(name, _MISSING) == record.written:
                    doc.replaceEntry(backup.location, name, copy.deepcopy(record.original))
                    replaced = True
            elif now is _MISSING or now != record.original:
                report.kept.append(name)
                report.notes.append(
                    f"{name} was {'removed from' if now is _MISSING else 'changed in'}"
                    f" {configPath} while the gateway served it; kept the file's version"
                )
        return doc.text().encode("utf-8") if replaced else text

    updateFile(configPath, change)
    _keep(path)
    return report


def _keep(path: Path) -> None:
    """Keep a restored backup as C{<path>.1} (the one before is dropped)."""
    if path.exists():
        os.replace(path, path.with_name(path.name + ".1"))


def _dropUnwritten(undo: list[UndoStep], current: str) -> None:
    while undo and undo[-1].after != current and sha256(undo[-1].before.encode()) == current:
        undo.pop()


def defaultBridgeArgv(
    stateDir: Path | None = None, defaultStateDir: Path | None = None
) -> list[str]:
    """How a stdio-only client runs the bridge: the absolute path of the
    C{mcpgateway} executable next to this Python (else the one on C{PATH}),
    plus C{--state-dir} when the state directory is not the default one."""
    import shutil
    import sys

    candidate = Path(sys.executable).parent / "mcpgateway"
    exe = str(candidate) if candidate.is_file() else (shutil.which("mcpgateway") or str(candidate))
    argv = [os.path.abspath(exe)]
    if stateDir is not None and (
        defaultStateDir is None or os.path.abspath(stateDir) != os.path.abspath(defaultStateDir)
    ):
        argv += ["--state-dir", os.path.abspath(stateDir)]
    return argv


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
    ) -> None:
        """
        @param adapters: the clients to adopt, in order (a name two clients
            define differently for the same route goes to the first).
        @param projects: project directories whose project files are adopted.
        @param bridgeArgv: the command that runs C{mcpgateway} for stdio-only
            clients (default L{defaultBridgeArgv}).
        @param environ: the environment C{${VAR}}s expand from when deciding
            whether an entry can be served (default C{os.environ}).
        """
        self.stateDir = Path(os.path.abspath(stateDir))
        self.adapters = list(adapters)
        self.host = host
        self.projects = [Path(p) for p in projects]
        self.bridgeArgv = list(bridgeArgv) if bridgeArgv is not None else defaultBridgeArgv()
        self._environ = os.environ if environ is None else environ
        self._warned: set[str] = set()

    # -- what is there -----------------------------------------------------------

    def files(self) -> list[tuple[ClientAdapter, ClientFile]]:
        return [(a, f) for a in self.adapters for f in a.files(self.host, self.projects)]

    def watchedPaths(self) -> list[Path]:
        """The files to watch for L{sync}: every client file found."""
        return [f.path for _, f in self.files()]

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
        claims: dict[tuple[str, str | None], tuple[str, dict[str, Any]]] = {
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
        for adapter, file in todo:
            try:
                fileReport = self._adoptFile(adapter, file, urlFor, claims)
            except (ConfigError, ConcurrentWriteError, OSError, ValueError) as e:
                self._warn(
                    report, str(file.path), f"{file.path} ({adapter.id}) was not adopted: {e}"
                )
                continue
            self._warned.discard(str(file.path))
            report.files.append(fileReport)
            if fileReport.adopted or fileReport.removed:
                report.reloads[adapter.id] = adapter.reload
        return report

    def sync(
        self,
        urlFor: UrlFor,
        reserved: Mapping[tuple[str, str | None], dict[str, Any]] | None = None,
    ) -> EngineReport:
        """For the file watcher: the same as L{adopt} (cheap when nothing changed)."""
        return self.adopt(urlFor, reserved)

    def servedDocument(self) -> dict[str, Any]:
        """The originals of every adopted entry, to serve: C{{"mcpServers":
        {...}, "projects": {workspace: {"mcpServers": {...}}}}} (what
        L{mcpgateway.config.servers.parseConfig} reads), from the backups."""
        document: dict[str, Any] = {"mcpServers": {}}
        for path in backupPaths(self.stateDir):
            try:
                backup = readBackup(path)
            except ConfigError:
                continue
            if backup is None:
                continue
            for name, record in backup.records.items():
                if backup.workspace is None:
                    document["mcpServers"].setdefault(name, copy.deepcopy(record.served))
                else:
                    project = document.setdefault("projects", {}).setdefault(
                        backup.workspace, {"mcpServers": {}}
                    )
                    project["mcpServers"].setdefault(name, copy.deepcopy(record.served))
        return document

    # -- one file -------------------------------------------------------------------

    def _adoptFile(
        self,
        adapter: ClientAdapter,
        file: ClientFile,
        urlFor: UrlFor,
        claims: dict[tuple[str, str | None], tuple[str, dict[str, Any]]],
    ) -> FileReport:
        backupPath = backupPathFor(self.stateDir, adapter.id, file.path)
        loaded = readBackup(backupPath)
        real = os.path.realpath(file.path)
        if loaded is not None and loaded.configPath != real:
            raise ConfigError(f"{backupPath} is the backup of {loaded.configPath}, not of {real}")
        onDisk = loaded.encode() if loaded is not None else None
        base = loaded or Backup(
            adapter.id, real, file.format, file.location, file.workspace, file.versionControlled
        )
        report = FileReport(adapter.id, str(file.path), versionControlled=file.versionControlled)
        final = base

        def change(raw: bytes) -> bytes | None:
            nonlocal report, final, onDisk
            report = FileReport(
                adapter.id, str(file.path), versionControlled=file.versionControlled
            )
            doc = parseDocument(file.path, file.format, raw)
            entries = doc.entries(file.location) or []
            current = dict(entries)
            new = replace(base, records={}, undo=list(base.undo))
            changes: list[tuple[str, dict[str, Any]]] = []
            for name, record in base.records.items():
                entry = current.get(name, _MISSING)
                if entry == record.written:
                    url = self._url(urlFor, name, record.served, file.workspace, claims)
                    if url != record.url:
                        written = adapter.written(name, url, record.original, self.bridgeArgv)
                        record = replace(record, url=url, written=written)
                        changes.append((name, written))
                        report.notes.append(f"{file.path}: {name} now at {url}")
                    new.records[name] = record
                elif entry is _MISSING or entry != record.original:
                    report.removed.append(name)
                    report.notes.append(
                        f"{file.path}: {name} was"
                        f" {'removed' if entry is _MISSING else 'changed'} while the gateway"
                        " served it; the file wins: dropped from the backup"
                    )
            for name, entry in entries:
                if name in new.records:
                    continue
                try:
                    served = adapter.served(name, entry, file, self.host)
                    if served is None or isBridgeEntry(entry):
                        continue
                    self._check(name, served, entry, file, claims)
                except Unservable as e:
                    report.skipped.append((name, str(e)))
                    continue
                url = self._url(urlFor, name, served, file.workspace, claims)
                written = adapter.written(name, url, entry, self.bridgeArgv)
                new.records[name] = Record(copy.deepcopy(entry), written, url, served)
                changes.append((name, written))
                report.adopted.append(name)
            for name, value in changes:
                doc.replaceEntry(file.location, name, value)
            out = doc.text().encode("utf-8") if changes else None
            if out is not None and out != raw:
                new.pushUndo(raw, out)
            onDisk = self._saveBackup(backupPath, new, onDisk)
            final = new
            return out

        updateFile(file.path, change)
        for name, record in final.records.items():
            claims.setdefault(
                (name, file.workspace), (f"{adapter.id} ({file.path})", record.served)
            )
        return report

    def _url(
        self,
        urlFor: UrlFor,
        name: str,
        served: dict[str, Any],
        workspace: str | None,
        claims: dict[tuple[str, str | None], tuple[str, dict[str, Any]]],
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

    def _check(
        self,
        name: str,
        served: dict[str, Any],
        entry: Any,
        file: ClientFile,
        claims: dict[tuple[str, str | None], tuple[str, dict[str, Any]]],
    ) -> None:
        """Raise L{Unservable} when the gateway would not serve C{served}."""
        environ: Mapping[str, str] = self._environ
        if file.workspace is not None:
            environ = expansionEnvironment(
                self._environ, readGatewayEnv(self.stateDir), readWorkspaceEnv(file.workspace)
            )
        try:
            parseEntry(name, served, environ, "user" if file.workspace is None else "local")
        except EntryError as e:
            raise Unservable(str(e)) from None
        try:
            json.dumps(entry, allow_nan=False)
        except (TypeError, ValueError):
            raise Unservable("it holds values the backup cannot keep (dates, NaN)") from None
        claim = claims.get((name, file.workspace))
        if claim is not None and claim[1] != served:
            raise Unservable(
                f"{claim[0]} has a different server of that name, adopted at the same route"
            )

    def _saveBackup(self, path: Path, backup: Backup, onDisk: bytes | None) -> bytes | None:
        if not backup.records:
            if onDisk is not None:
                removeFile(path)
            return None
        out = backup.encode()
        if out != onDisk:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            writeFileAtomic(path, out, 0o600)
        return out

    def _warn(self, report: EngineReport, key: str, message: str) -> None:
        """One warning per file until it is adopted again."""
        if key not in self._warned:
            self._warned.add(key)
            report.warnings.append(message)
