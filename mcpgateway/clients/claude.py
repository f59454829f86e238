"""Adopt the stdio servers of a Claude Code config file, and give them back.

One job: the file side of adoption. L{ClaudeConfig.adopt} backs up every stdio
entry the gateway can serve (user scope, every C{projects.<path>.mcpServers}
scope, or a C{.mcp.json}'s servers) to the state directory and rewrites it to
C{{"type": "http", "url": <the gateway's URL for it>}};
L{ClaudeConfig.servedDocument} is what the gateway serves (the originals, from
the backup); L{ClaudeConfig.sync} follows the user's later edits;
L{ClaudeConfig.restore} puts the originals back. Every change of the config is
an atomic read-modify-write of its latest content (L{updateJson}): keys the
gateway does not own come back untouched.

Rules:
 - An entry is the gateway's while it is exactly what adoption wrote (type
   C{http}, the recorded URL). Anything else in its place is the user's and
   wins: a changed or removed entry is dropped from the backup (and reported),
   never overwritten.
 - Only entries the gateway can serve are rewritten (valid per
   L{mcpgateway.config.parseEntry}, URL-safe name, C{${VAR}}s set); the rest
   are left alone and reach the gateway's warnings through L{servedDocument}.
 - The gateway serves one spec per name, at C{/<name>/mcp}. A name in several
   scopes with the same spec is adopted everywhere. With different specs, the
   spec already adopted wins; otherwise the first in the order user (the file's
   top level), then projects by path; every other spec of that name stays a
   stdio entry, so clients in those projects keep starting their own server,
   exactly as before (Claude Code resolves names per project, so rewriting them
   to one URL would hand them the wrong server). The top level goes first
   because it is in effect in every project that does not override it.
 - Nothing is written outside the user's home or the state directory: the
   config (after symlinks) must be in one of them, and a project backup's file
   name is a sanitized label plus a hash of the path, never the raw path.
 - C{_mcp_gateway_ts} (ms since the epoch) is set whenever entries change, so
   Claude Code reloads; restoring a file other than C{.claude.json} removes
   it again if adoption added it (a C{.mcp.json} is often under version
   control: the round trip leaves it byte for byte as it was).

No logging: every method returns a report of human-readable strings.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mcpgateway.clients.atomic import (
    BACKUP_FORMAT,
    readJson,
    removeFile,
    updateJson,
    writeFileAtomic,
)
from mcpgateway.config import ConfigError, LoadedConfig, ServerSpec, parseConfig

GATEWAY_TS_KEY = "_mcp_gateway_ts"
BACKUP_VERSION = 1
USER_BACKUP = "config-backup.json"
PROJECT_BACKUPS = "project-backups"

Scope = str | None
"""C{None}: the file's top-level C{mcpServers}; else a key of C{projects}."""

_MISSING: Any = object()
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass
class AdoptReport:
    """What L{ClaudeConfig.adopt} or L{ClaudeConfig.sync} changed; entries as
    C{"name (scope)"}."""

    adopted: list[str] = field(default_factory=list)
    """Entries backed up and rewritten to the gateway's URL."""
    removed: list[str] = field(default_factory=list)
    """Entries no longer served: the user changed or removed them, or the gateway
    can no longer serve them (their original was put back)."""
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the set of served servers may have changed."""
        return bool(self.adopted or self.removed)


@dataclass
class RestoreReport:
    """What L{ClaudeConfig.restore} did; entries as C{"name (scope)"}."""

    restored: list[str] = field(default_factory=list)
    """Entries put back as they were before adoption."""
    kept: list[str] = field(default_factory=list)
    """Entries the user changed or removed since: left as the user left them."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Record:
    original: dict[str, Any]
    url: str


@dataclass
class _Backup:
    """The originals of adopted entries, per scope, and the URL each got."""

    records: dict[Scope, dict[str, _Record]] = field(default_factory=dict)
    timestampAdded: bool = False

    def items(self) -> list[tuple[Scope, str, _Record]]:
        scopes = sorted(self.records, key=lambda s: (s is not None, s or ""))
        return [(scope, name, record) for scope in scopes
                for name, record in self.records[scope].items()]

    def get(self, scope: Scope, name: str) -> _Record | None:
        return self.records.get(scope, {}).get(name)

    def add(self, scope: Scope, name: str, record: _Record) -> None:
        self.records.setdefault(scope, {})[name] = record

    def __len__(self) -> int:
        return sum(len(block) for block in self.records.values())

    def toJson(self, configPath: str) -> dict[str, Any]:
        def block(records: dict[str, _Record]) -> dict[str, Any]:
            return {name: {"url": r.url, "original": r.original} for name, r in records.items()}

        document: dict[str, Any] = {"version": BACKUP_VERSION, "configPath": configPath,
                                    "timestampAdded": self.timestampAdded}
        if self.records.get(None):
            document["mcpServers"] = block(self.records[None])
        projects = {scope: {"mcpServers": block(records)}
                    for scope, records in sorted(self.records.items(), key=lambda i: i[0] or "")
                    if scope is not None and records}
        if projects:
            document["projects"] = projects
        return document

    @classmethod
    def fromJson(cls, data: dict[str, Any], where: Path, configPath: str) -> _Backup:
        def bad(why: str) -> ConfigError:
            return ConfigError(f"{where} is not a usable gateway backup ({why}); it was left"
                               " as it is: move it away once the entries it holds are back")

        if data.get("version") != BACKUP_VERSION:
            raise bad(f"version {data.get('version')!r}, expected {BACKUP_VERSION}")
        if data.get("configPath") != configPath:
            raise ConfigError(
                f"{where} is the backup of {data.get('configPath')!r}, not of {configPath}:"
                f" restore that file first (mcpgateway restore --config"
                f" {data.get('configPath')})")
        backup = cls(timestampAdded=data.get("timestampAdded") is True)
        blocks: list[tuple[Scope, Any]] = []
        if "mcpServers" in data:
            blocks.append((None, data["mcpServers"]))
        projects = data.get("projects", {})
        if not isinstance(projects, dict):
            raise bad("'projects' is not an object")
        for scope, project in projects.items():
            if not isinstance(project, dict):
                raise bad(f"project {scope!r} is not an object")
            blocks.append((scope, project.get("mcpServers", {})))
        for scope, block in blocks:
            if not isinstance(block, dict):
                raise bad("an 'mcpServers' is not an object")
            for name, record in block.items():
                if not (isinstance(record, dict) and isinstance(record.get("url"), str)
                        and isinstance(record.get("original"), dict)):
                    raise bad(f"the record of {name!r} has no 'url' and 'original'")
                backup.add(scope, name, _Record(record["original"], record["url"]))
        return backup


@dataclass
class _Plan:
    """How the backup and the file's current content fit together."""

    kept: _Backup
    """Records whose entry still is the gateway's and can be served."""
    adopt: list[tuple[Scope, str, dict[str, Any]]] = field(default_factory=list)
    """Servable stdio entries to adopt now."""
    unadopt: dict[tuple[Scope, str], _Record] = field(default_factory=dict)
    """Gateway entries the gateway can no longer serve: to be put back."""
    losers: set[tuple[Scope, str]] = field(default_factory=set)
    """Servable stdio entries whose name is served with another spec."""
    removed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    clashNotes: list[str] = field(default_factory=list)


def backupPathFor(stateDir: Path, configPath: Path) -> Path:
    """Where the backup of C{configPath} lives: C{<stateDir>/config-backup.json}
    for a C{.claude.json}, else C{<stateDir>/project-backups/<label>-<hash>.json},
    where the label is the sanitized parent and file name and the hash is of the
    absolute path with symlinks resolved."""
    stateDir = Path(os.path.abspath(stateDir))
    if Path(configPath).name == ".claude.json":
        return stateDir / USER_BACKUP
    real = os.path.realpath(configPath)
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    realPath = Path(real)
    label = _UNSAFE.sub("_", f"{realPath.parent.name}_{realPath.name}").strip("_")[:48]
    return stateDir / PROJECT_BACKUPS / f"{label or 'config'}-{digest}.json"


def hasBackup(stateDir: Path, configPath: Path) -> bool:
    """Whether a backup of C{configPath} is in C{stateDir} (adopted entries
    that were not restored: the gateway stopped uncleanly, or a restore failed)."""
    return backupPathFor(stateDir, configPath).is_file()


class ClaudeConfig:
    """One client config file (C{~/.claude.json}, a C{.mcp.json}, or any file
    of that shape) and its backup in the state directory.

    Methods raise L{ConfigError} when the config or the backup cannot be read
    or parsed (nothing is written then), and
    L{mcpgateway.clients.atomic.ConcurrentWriteError} when the config kept
    changing during every attempt to write it.
    """

    def __init__(self, configPath: Path, stateDir: Path, home: Path | None = None,
                 now: Callable[[], float] = time.time,
                 environ: Mapping[str, str] | None = None) -> None:
        """
        @param configPath: the client config.
        @param stateDir: the gateway's state directory.
        @param home: the user's home (default C{Path.home()}).
        @param now: the clock for C{_mcp_gateway_ts}, in seconds.
        @param environ: the environment C{${VAR}}s are expanded from when deciding
            whether an entry can be served; must be the one the gateway parses
            L{servedDocument} with (default C{os.environ}).
        @raise ValueError: C{configPath}, with symlinks resolved, is neither in
            C{home} nor in C{stateDir}, or is not a file name.
        """
        self.configPath = Path(os.path.abspath(configPath))
        self.stateDir = Path(os.path.abspath(stateDir))
        self._real = Path(os.path.realpath(configPath))
        roots = [Path(os.path.realpath(home if home is not None else Path.home())),
                 Path(os.path.realpath(stateDir))]
        if not any(_inside(self._real, root) and self._real != root for root in roots):
            raise ValueError(f"{configPath} (resolved: {self._real}) is outside the home"
                             f" directory {roots[0]} and the state directory {roots[1]};"
                             " the gateway only rewrites files in those")
        self._now = now
        self._environ = os.environ if environ is None else environ
        self._noted: set[str] = set()

    @property
    def backupPath(self) -> Path:
        """C{<stateDir>/config-backup.json} for a C{.claude.json}, else
        C{<stateDir>/project-backups/<safe-name>.json}."""
        return backupPathFor(self.stateDir, self.configPath)

    @property
    def defaultScope(self) -> str:
        """The scope of the file's top-level servers, as L{mcpgateway.config.loadConfig}
        names it: C{user} (C{.claude.json}), C{project} (C{.mcp.json}) or C{gateway}."""
        name = self.configPath.name
        return "project" if name == ".mcp.json" else (
            "user" if name == ".claude.json" else "gateway")

    # -- the public operations --------------------------------------------------

    def adopt(self, urlFor: Callable[[str], str]) -> AdoptReport:
        """Back up and rewrite every servable stdio entry.

        Merges into an existing backup (after a crash): records whose entry the
        user changed or removed since are dropped (reported in C{removed} and
        C{notes}); entries already the gateway's stay, re-pointed if
        C{urlFor(name)} changed (a new port). Idempotent: a second call changes
        nothing. Sets C{_mcp_gateway_ts} when it rewrote anything. The backup
        (mode 0600) is written before the config, so a crash between the two
        leaves a backup that knows every rewritten entry.

        @param urlFor: the URL clients should use for a server name.
        """
        loaded = self._loadBackup()
        backup, onDisk = loaded if loaded is not None else (_Backup(), None)
        report = AdoptReport()

        def mutate(data: dict[str, Any]) -> bool:
            nonlocal report, onDisk
            plan = self._plan(data, backup)
            report = AdoptReport(removed=list(plan.removed), notes=list(plan.notes))
            new = plan.kept
            new.timestampAdded = backup.timestampAdded if loaded is not None \
                else GATEWAY_TS_KEY not in data
            changed = False
            for (scope, name), record in plan.unadopt.items():
                _block(data, scope)[name] = copy.deepcopy(record.original)
                changed = True
            for scope, name, record in new.items():
                url = urlFor(name)
                if url != record.url:
                    _block(data, scope)[name]["url"] = url
                    new.add(scope, name, replace(record, url=url))
                    report.notes.append(f"{self._label(name, scope)}: now at {url}"
                                        f" (was {record.url})")
                    changed = True
            for scope, name, entry in plan.adopt:
                url = urlFor(name)
                new.add(scope, name, _Record(copy.deepcopy(entry), url))
                _block(data, scope)[name] = {"type": "http", "url": url}
                report.adopted.append(self._label(name, scope))
                changed = True
            report.notes.extend(self._once(plan.clashNotes))
            if changed:
                data[GATEWAY_TS_KEY] = self._stamp()
            onDisk = self._saveBackup(new, onDisk)
            return changed

        updateJson(self.configPath, mutate)
        return report

    def sync(self, urlFor: Callable[[str], str]) -> AdoptReport:
        """For the config watcher: adopt stdio entries added since (C{claude mcp
        add}), drop from the backup the entries the user removed or changed
        (their gateway entry is gone), keep the rest. Cheap when nothing
        changed: one read, no write. Same rules and report as L{adopt}."""
        return self.adopt(urlFor)

    def restore(self) -> RestoreReport:
        """Put back the original of every entry that still is the gateway's.

        An entry the user changed or removed since adoption stays as the user
        left it (in C{kept}, with a note). Sets C{_mcp_gateway_ts} when it
        restored anything (removes it instead from a file other than a
        C{.claude.json} that did not have it before adoption). Removes the
        backup once the config is written: every record is then resolved.
        """
        loaded = self._loadBackup()
        if loaded is None:
            return RestoreReport(notes=[f"no backup of {self.configPath}; nothing to restore"])
        backup, _ = loaded
        report = RestoreReport()

        def mutate(data: dict[str, Any]) -> bool:
            nonlocal report
            report = RestoreReport()
            changed = False
            for scope, name, record in backup.items():
                entry = _entry(data, scope, name)
                label = self._label(name, scope)
                if _isOurs(entry, record):
                    _block(data, scope)[name] = copy.deepcopy(record.original)
                    report.restored.append(label)
                    changed = True
                elif entry == record.original:
                    continue  # never rewritten (a crash in between), or restored already
                elif entry is _MISSING:
                    report.kept.append(label)
                    report.notes.append(f"{label} was removed from {self.configPath} while"
                                        " the gateway served it; not restored")
                else:
                    report.kept.append(label)
                    report.notes.append(f"{label} was changed in {self.configPath} while"
                                        " the gateway served it; kept the file's version")
            if changed:
                if backup.timestampAdded and self.defaultScope != "user":
                    data.pop(GATEWAY_TS_KEY, None)
                else:
                    data[GATEWAY_TS_KEY] = self._stamp()
            return changed

        updateJson(self.configPath, mutate)
        removeFile(self.backupPath)
        return report

    def servedDocument(self) -> dict[str, Any]:
        """The servers to serve, as a document L{parseConfig} understands:
        C{{"mcpServers": {...}, "projects": {path: {"mcpServers": {...}}}}},
        in the file's order, where each gateway entry is replaced by its
        original from the backup. Entries not adopted (yet) are included as
        they are, so that the gateway serves a stdio entry added since the last
        L{sync} and warns about the ones it cannot serve, except a stdio entry
        whose name is served with another spec (it stays the client's own).
        Projects without servers are left out."""
        data, _ = readJson(self.configPath)
        loaded = self._loadBackup()
        plan = self._plan(data, loaded[0] if loaded is not None else _Backup())
        document: dict[str, Any] = {}
        for scope, block in _scopes(data):
            servers: dict[str, Any] = {}
            for name, entry in block.items():
                record = plan.kept.get(scope, name) or plan.unadopt.get((scope, name))
                if record is not None:
                    servers[name] = copy.deepcopy(record.original)
                elif (scope, name) not in plan.losers:
                    servers[name] = copy.deepcopy(entry)
            if scope is None:
                document["mcpServers"] = servers
            elif servers:
                document.setdefault("projects", {})[scope] = {"mcpServers": servers}
        return document

    def loadServed(self) -> LoadedConfig:
        """L{servedDocument} parsed into specs and warnings (with this instance's
        environment and the file's default scope)."""
        return parseConfig(self.servedDocument(), str(self.configPath), self._environ,
                           self.defaultScope)

    # -- the plan -----------------------------------------------------------------

    def _plan(self, data: dict[str, Any], backup: _Backup) -> _Plan:
        plan = _Plan(kept=_Backup(timestampAdded=backup.timestampAdded))
        served: dict[str, tuple[ServerSpec, str]] = {}
        for scope, name, record in backup.items():
            entry = _entry(data, scope, name)
            label = self._label(name, scope)
            if _isOurs(entry, record):
                spec, why = self._servable(name, record.original)
                winner = served.get(name)
                if spec is None:
                    plan.unadopt[(scope, name)] = record
                    plan.removed.append(label)
                    plan.notes.append(f"{label}: the gateway cannot serve it any more ({why});"
                                      " put its original entry back")
                elif winner is not None and winner[0] != spec:
                    plan.unadopt[(scope, name)] = record
                    plan.removed.append(label)
                    plan.notes.append(f"{label}: '{name}' is served from {winner[1]} with"
                                      " another command; put its original entry back")
                else:
                    served.setdefault(name, (spec, label))
                    plan.kept.add(scope, name, record)
            elif entry is not _MISSING and entry == record.original:
                continue  # an ordinary stdio entry again: adopted below like any other
            else:
                plan.removed.append(label)
                plan.notes.append(
                    f"{label} was {'removed from' if entry is _MISSING else 'changed in'}"
                    f" {self.configPath} while the gateway served it; the file wins:"
                    " dropped from the backup")
        for scope, block in _scopes(data):
            for name, entry in block.items():
                if plan.kept.get(scope, name) is not None or (scope, name) in plan.unadopt:
                    continue
                spec, _ = self._servable(name, entry)
                if spec is None:
                    continue  # not stdio, or not servable: left alone (parseConfig warns)
                label = self._label(name, scope)
                winner = served.get(name)
                if winner is not None and winner[0] != spec:
                    plan.losers.add((scope, name))
                    plan.clashNotes.append(
                        f"{label} differs from the '{name}' served from {winner[1]}; left as"
                        " a stdio entry (clients there start it themselves)")
                    continue
                served.setdefault(name, (spec, label))
                plan.adopt.append((scope, name, entry))
        return plan

    def _servable(self, name: str, entry: Any) -> tuple[ServerSpec | None, str]:
        """The spec the gateway would serve for this entry (scope-independent,
        for comparing), or C{None} and why not."""
        loaded = parseConfig({"mcpServers": {name: entry}}, "", self._environ)
        spec = loaded.servers.get(name)
        if spec is None:
            why = loaded.warnings[0] if loaded.warnings else "not a stdio server"
            prefix = f"server '{name}' (gateway scope): "
            return None, why.removeprefix(prefix).removesuffix("; skipped")
        return replace(spec, scope="gateway"), ""

    # -- the backup -----------------------------------------------------------------

    def _loadBackup(self) -> tuple[_Backup, bytes] | None:
        path = self.backupPath
        if not path.exists():
            return None
        data, _ = readJson(path)
        backup = _Backup.fromJson(data, path, str(self._real))
        return backup, BACKUP_FORMAT.encode(backup.toJson(str(self._real)))

    def _saveBackup(self, backup: _Backup, onDisk: bytes | None) -> bytes | None:
        """Write C{backup} if it differs from C{onDisk}, remove it when empty;
        what is on disk now."""
        path = self.backupPath
        if not len(backup):
            if onDisk is not None:
                removeFile(path)
            return None
        out = BACKUP_FORMAT.encode(backup.toJson(str(self._real)))
        if out == onDisk:
            return onDisk
        stateRoot = Path(os.path.realpath(self.stateDir))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _inside(Path(os.path.realpath(path.parent)), stateRoot):
            raise ValueError(f"{path.parent} leads outside the state directory {stateRoot};"
                             " not writing a backup there")
        writeFileAtomic(path, out, 0o600)
        return out

    # -- small things -----------------------------------------------------------------

    def _label(self, name: str, scope: Scope) -> str:
        where = f"{self.defaultScope} scope" if scope is None \
            else f"local scope of project {scope}"
        return f"{name} ({where})"

    def _stamp(self) -> int:
        return int(self._now() * 1000)

    def _once(self, notes: list[str]) -> list[str]:
        fresh = [note for note in notes if note not in self._noted]
        self._noted.update(fresh)
        return fresh


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _scopes(data: dict[str, Any]) -> Iterator[tuple[Scope, dict[str, Any]]]:
    """Every C{mcpServers} object: the top level, then projects by path."""
    servers = data.get("mcpServers")
    if isinstance(servers, dict):
        yield None, servers
    projects = data.get("projects")
    if isinstance(projects, dict):
        for path in sorted(projects):
            project = projects[path]
            if isinstance(project, dict) and isinstance(project.get("mcpServers"), dict):
                yield path, project["mcpServers"]


def _block(data: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """The C{mcpServers} object of C{scope} (which exists: callers looked first)."""
    if scope is None:
        block: dict[str, Any] = data["mcpServers"]
    else:
        block = data["projects"][scope]["mcpServers"]
    return block


def _entry(data: dict[str, Any], scope: Scope, name: str) -> Any:
    """The entry C{name} of C{scope}, or C{_MISSING}."""
    if scope is None:
        block = data.get("mcpServers")
    else:
        projects = data.get("projects")
        project = projects.get(scope) if isinstance(projects, dict) else None
        block = project.get("mcpServers") if isinstance(project, dict) else None
    return block.get(name, _MISSING) if isinstance(block, dict) else _MISSING


def _isOurs(entry: Any, record: _Record) -> bool:
    """Whether C{entry} still is the one adoption wrote."""
    return isinstance(entry, dict) and entry.get("type") == "http" \
        and entry.get("url") == record.url
