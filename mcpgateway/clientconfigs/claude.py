# -*- test-case-name: tests.clientconfigs.test_claude -*-
"""Adopt the stdio servers of a Claude Code config file, and give them back.

One job: the file side of adoption. L{ClaudeConfig.adopt} backs up every stdio
entry the gateway can serve (of the user scope and of every project) to the
state directory and rewrites it to C{{"type": "http", "url": <the gateway's
URL for it>}};
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
   L{mcpgateway.config.servers.parseEntry}, URL-safe name, C{${VAR}}s set:
   a project's also from the gateway's and its workspace's C{.env}, as
   L{mcpgateway.config.scopes} expands them); the rest are left alone and
   reach the gateway's warnings through L{servedDocument}.
 - Every servable stdio entry of every scope is adopted, each at its route:
   a top-level entry (the user scope of a C{.claude.json}, or a file of the
   gateway's own) at C{/<name>/mcp}; a project's entry
   (C{projects.<path>.mcpServers}) at C{/<name>/mcp} too when it is the same
   server as the top-level entry of that name (one child serves both), else
   at its workspace's route C{/<name>~<key>/mcp}, where the key is the
   workspace key of the project path (L{mcpgateway.config.workspaces}). So a
   name defined differently in several places is adopted in every one of
   them, and no project's server is reachable from another project's route.
   The caller's C{urlFor(name, None)} gives the global URL and
   C{urlFor(name, path)} the URL of the workspace C{path}. The routes of
   kept records follow the file: when the top-level entry changes, a
   project's entry moves between the global and its workspace route (the
   "now at" note), and so do the records of older versions, which gave a
   project's entry the global URL. The servers of a C{.mcp.json} opened as
   the config itself (its top level is a project's scope, without a
   workspace) are not adopted, nor is a project whose path cannot name a
   workspace (not absolute; Claude Code writes absolute paths).
 - A known project's C{.mcp.json} (under version control) is never written:
   each stdio server of it the user approved is shadowed by a local-scope
   entry of the same name in the C{.claude.json} (see L{ClaudeConfig.adopt}),
   recorded with C{"original": null}; restore removes exactly what was added.
 - Nothing is written outside the user's home or the state directory: the
   config (after symlinks) must be in one of them, and a project backup's file
   name is a sanitized label plus a hash of the path, never the raw path.
 - C{_mcp_gateway_ts} (ms since the epoch) is set whenever adoption changes
   entries, so Claude Code reloads; the backup records whether the key was
   there before and its value, and L{ClaudeConfig.restore} puts exactly that
   back: adopt then restore gives the file back byte for byte (indent, compact
   or not, key order, trailing newline) when nothing else changed it.
 - A restore keeps the backup, rotated into L{KEPT_GENERATIONS} kept copies
   (C{<backup>.1} newest): a client that read the file while it pointed at the
   gateway may write its copy back after the restore (Claude Code does
   unlocked read-modify-writes). An entry that is exactly a kept record's
   gateway entry while no gateway of this state directory serves it (at the
   next start, in C{mcpgateway restore}, or while a gateway on another port
   runs) gets its original back from the newest kept copy that has it.
 - L{ClaudeConfig.removeLeftovers} removes the temp files of writes a kill -9
   interrupted: only names of the exact shape this module's writer makes, next
   to the config or the backup, older than L{LEFTOVER_AGE}.

No logging: every method returns a report of human-readable strings.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcpgateway import paths
from mcpgateway.atomicfile import TEMP_SUFFIX, tempPrefix, writeFileAtomic
from mcpgateway.clientconfigs.jsonfile import (
    BACKUP_FORMAT,
    readJson,
    removeFile,
    renameFile,
    updateJson,
)
from mcpgateway.config.envfiles import (
    EnvFile,
    expansionEnvironment,
    readGatewayEnv,
    readWorkspaceEnv,
)
from mcpgateway.config.servers import ConfigError, LoadedConfig, parseConfig
from mcpgateway.config.workspaces import KEY_LENGTH, canonicalPath
from mcpgateway.core.spec import ServerSpec

GATEWAY_TS_KEY = "_mcp_gateway_ts"
BACKUP_VERSION = 1
USER_BACKUP = paths.USER_BACKUP
PROJECT_BACKUPS = paths.PROJECT_BACKUPS
KEPT_GENERATIONS = 3
"""How many restored backups are kept (C{<backup>.1} to C{<backup>.3})."""
RESTORE_FAILED = paths.RESTORE_FAILED
"""In the state directory while a restore at stop failed: C{{"config", "error", "time"}}."""
LEFTOVER_AGE = 30.0
"""Seconds after which a temp file of the gateway's writer is a leftover."""
_LOOPBACK = ("127.0.0.1", "localhost", "::1")

Scope = str | None
"""C{None}: the file's top-level C{mcpServers}; else a key of C{projects}."""
Refuse = Callable[[list[tuple[str, str]]], str | None]
"""Given the C{(name, url)} entries adoption would write, why the client
would refuse them, or C{None}."""
UrlFor = Callable[[str, Scope], str]
"""The URL clients should use for a server: C{urlFor(name, None)} is its
global route C{/<name>/mcp}, C{urlFor(name, path)} the route
C{/<name>~<key>/mcp} of the workspace C{path} (a key of C{projects})."""

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
    refused: str | None = None
    """Why nothing was written: the C{refuse} check of L{ClaudeConfig.adopt}
    said the client would refuse the gateway's entries."""

    @property
    def changed(self) -> bool:
        """Whether the set of served servers may have changed."""
        return bool(self.adopted or self.removed)


@dataclass
class RestoreReport:
    """What L{ClaudeConfig.restore} did; entries as C{"name (scope)"}."""

    restored: list[str] = field(default_factory=list)
    """Entries put back as they were before adoption (including C{revived})."""
    revived: list[str] = field(default_factory=list)
    """Entries put back from a kept backup: a client had written back a copy
    that pointed at a stopped gateway."""
    kept: list[str] = field(default_factory=list)
    """Entries the user changed or removed since: left as the user left them."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Record:
    original: dict[str, Any] | None
    """The entry before adoption; C{None} for a shadow (an entry the gateway
    added in front of a project's C{.mcp.json} server: restore removes it)."""
    url: str


@dataclass
class _Backup:
    """The originals of adopted entries, per scope, and the URL each got."""

    records: dict[Scope, dict[str, _Record]] = field(default_factory=dict)
    timestampAdded: bool = False
    """C{_mcp_gateway_ts} was not in the file before adoption."""
    timestampBefore: Any = _MISSING
    """Its value before adoption, when it was there (C{_MISSING}: unknown, a
    backup of an older version)."""
    createdBlocks: set[str] = field(default_factory=set)
    """Projects whose C{mcpServers} object the gateway created for its
    shadows: removed again once the last entry in it is."""

    def items(self) -> list[tuple[Scope, str, _Record]]:
        scopes = sorted(self.records, key=lambda s: (s is not None, s or ""))
        return [
            (scope, name, record)
            for scope in scopes
            for name, record in self.records[scope].items()
        ]

    def get(self, scope: Scope, name: str) -> _Record | None:
        return self.records.get(scope, {}).get(name)

    def add(self, scope: Scope, name: str, record: _Record) -> None:
        self.records.setdefault(scope, {})[name] = record

    def __len__(self) -> int:
        return sum(len(block) for block in self.records.values())

    def toJson(self, configPath: str) -> dict[str, Any]:
        def block(records: dict[str, _Record]) -> dict[str, Any]:
            return {name: {"url": r.url, "original": r.original} for name, r in records.items()}

        document: dict[str, Any] = {
            "version": BACKUP_VERSION,
            "configPath": configPath,
            "timestampAdded": self.timestampAdded,
        }
        if self.timestampBefore is not _MISSING and not self.timestampAdded:
            document["timestampBefore"] = self.timestampBefore
        if self.records.get(None):
            document["mcpServers"] = block(self.records[None])
        projects: dict[str, Any] = {}
        for scope, records in sorted(self.records.items(), key=lambda i: i[0] or ""):
            if scope is not None and records:
                projects[scope] = {"mcpServers": block(records)}
                if scope in self.createdBlocks:
                    projects[scope]["createdBlock"] = True
        if projects:
            document["projects"] = projects
        return document

    @classmethod
    def fromJson(cls, data: dict[str, Any], where: Path, configPath: str) -> _Backup:
        def bad(why: str) -> ConfigError:
            return ConfigError(
                f"{where} is not a usable gateway backup ({why}); it was left"
                " as it is: move it away once the entries it holds are back"
            )

        if data.get("version") != BACKUP_VERSION:
            raise bad(f"version {data.get('version')!r}, expected {BACKUP_VERSION}")
        if data.get("configPath") != configPath:
            raise ConfigError(
                f"{where} is the backup of {data.get('configPath')!r}, not of {configPath}:"
                f" restore that file first (mcpgateway restore --config"
                f" {data.get('configPath')})"
            )
        backup = cls(
            timestampAdded=data.get("timestampAdded") is True,
            timestampBefore=data.get("timestampBefore", _MISSING),
        )
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
            if project.get("createdBlock") is True:
                backup.createdBlocks.add(scope)
        for scope, block in blocks:
            if not isinstance(block, dict):
                raise bad("an 'mcpServers' is not an object")
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
    routes: dict[tuple[Scope, str], Scope] = field(default_factory=dict)
    """The route of each entry in C{kept} and C{adopt}: C{None} for the
    global one, else the project path whose workspace route it gets."""
    revived: dict[tuple[Scope, str], _Record] = field(default_factory=dict)
    """Entries pointing at a stopped gateway, with their original from a kept
    backup (adopted again, or in C{unadopt} when they cannot be served)."""
    revivedFrom: _Backup | None = None
    """The kept backup the first of them came from."""
    shadow: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    """Approved C{.mcp.json} servers to shadow now: (project, name, the
    C{.mcp.json} entry)."""
    shadows: dict[tuple[str, str], Any] = field(default_factory=dict)
    """The C{.mcp.json} entry of every shadow kept or made now: what is served."""
    removed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    onceNotes: list[str] = field(default_factory=list)
    """Notes about entries left alone, said once per instance."""


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


def keptBackupPaths(stateDir: Path, configPath: Path) -> list[Path]:
    """Where the kept copies of restored backups of C{configPath} live, newest
    first: C{<backup>.1} to C{<backup>.}L{KEPT_GENERATIONS}."""
    active = backupPathFor(stateDir, configPath)
    return [active.with_name(f"{active.name}.{n}") for n in range(1, KEPT_GENERATIONS + 1)]


def restoreFailurePath(stateDir: Path) -> Path:
    """The marker a failed restore at stop leaves (see L{recordRestoreFailure})."""
    return Path(os.path.abspath(stateDir)) / RESTORE_FAILED


def recordRestoreFailure(
    stateDir: Path, configPath: Path, reason: str, now: Callable[[], float] = time.time
) -> None:
    """Leave C{<stateDir>/restore-failed.json}: C{{"config": path, "error":
    reason, "time": seconds}}, for C{mcpgateway stop} and C{doctor}. A
    successful L{ClaudeConfig.restore} of that config removes it."""
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


def inspectBackup(stateDir: Path, configPath: Path) -> int | None:
    """Read the backup of C{configPath} exactly as L{ClaudeConfig.restore} does.

    The one reader of the backup format, for C{doctor} and C{restore} alike.

    @return: C{None} when there is no backup of C{configPath} in C{stateDir}
        (entries not yet restored; the kept copies of restored backups,
        L{keptBackupPaths}, do not count); else the number of backed-up servers.
    @raise ConfigError: with a one-line reason, when restore would reject the
        backup (unreadable, not JSON, wrong version, of another file, a bad record).
    """
    loaded = _readBackup(backupPathFor(stateDir, configPath), configPath)
    return None if loaded is None else len(loaded)


def _readBackup(path: Path, configPath: Path) -> _Backup | None:
    """The backup in C{path} of C{configPath}, or C{None} if there is no file."""
    if not path.exists():
        return None
    data, _ = readJson(path)
    return _Backup.fromJson(data, path, os.path.realpath(configPath))


class ClaudeConfig:
    """One client config file (C{~/.claude.json}, a C{.mcp.json}, or any file
    of that shape) and its backup in the state directory.

    Methods raise L{ConfigError} when the config or the backup cannot be read
    or parsed (nothing is written then), and
    L{mcpgateway.clientconfigs.jsonfile.ConcurrentWriteError} when the config kept
    changing during every attempt to write it.
    """

    def __init__(
        self,
        configPath: Path,
        stateDir: Path,
        home: Path | None = None,
        now: Callable[[], float] = time.time,
        environ: Mapping[str, str] | None = None,
    ) -> None:
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
        roots = [
            Path(os.path.realpath(home if home is not None else Path.home())),
            Path(os.path.realpath(stateDir)),
        ]
        if not any(_inside(self._real, root) and self._real != root for root in roots):
            raise ValueError(
                f"{configPath} (resolved: {self._real}) is outside the home"
                f" directory {roots[0]} and the state directory {roots[1]};"
                " the gateway only rewrites files in those"
            )
        self._now = now
        self._environ = os.environ if environ is None else environ
        self._noted: set[str] = set()
        self._declined: set[tuple[str, str]] = set()
        """Shadows the user removed or changed while served: not made again
        by this instance."""
        self.shadowing = True
        """Whether the approved servers of the projects' C{.mcp.json} are
        shadowed (and served); see L{adopt}."""
        self.refuse: Refuse | None = None
        """The check L{adopt} and L{sync} make when not given one."""

    @property
    def backupPath(self) -> Path:
        """C{<stateDir>/config-backup.json} for a C{.claude.json}, else
        C{<stateDir>/project-backups/<safe-name>.json}."""
        return backupPathFor(self.stateDir, self.configPath)

    @property
    def defaultScope(self) -> str:
        """The scope of the file's top-level servers, as L{mcpgateway.config.servers.loadConfig}
        names it: C{user} (C{.claude.json}), C{project} (C{.mcp.json}) or C{gateway}."""
        name = self.configPath.name
        return (
            "project" if name == ".mcp.json" else ("user" if name == ".claude.json" else "gateway")
        )

    # -- the public operations --------------------------------------------------

    def adopt(self, urlFor: UrlFor, refuse: Refuse | None = None) -> AdoptReport:
        """Back up and rewrite every servable stdio entry, each to its route.

        In a C{.claude.json}, also shadow the approved stdio servers of each
        known project's C{.mcp.json} (while L{shadowing}): a project's
        C{.mcp.json} is usually under version control, so it is never written;
        instead a local-scope entry of the same name,
        C{projects.<path>.mcpServers.<name>}, points at the workspace route
        (Claude Code prefers the local scope to the project scope, by name).
        A server is approved when the project's block has
        C{enableAllProjectMcpServers: true} or lists it in
        C{enabledMcpjsonServers}, and does not list it in
        C{disabledMcpjsonServers}. A local entry of that name that is there
        already is the user's and is never replaced. The backup records a
        shadow with C{"original": null} (and C{"createdBlock": true} on the
        project when the gateway created its C{mcpServers}), so L{restore}
        removes exactly what was added.

        Merges into an existing backup (after a crash): records whose entry the
        user changed or removed since are dropped (reported in C{removed} and
        C{notes}); entries already the gateway's stay, re-pointed if their
        URL changed (a new port, a project's entry that now differs from the
        top-level one or is now the same, a record of an older version). An
        entry that points at a stopped gateway and is in a kept backup is
        adopted with its original. Idempotent:
        a second call changes nothing. Sets C{_mcp_gateway_ts} when it rewrote
        anything. The backup (mode 0600) is written before the config, so a
        crash between the two leaves a backup that knows every rewritten entry.

        @param urlFor: the URL clients should use for a server name and
            route (see L{UrlFor}).
        @param refuse: given every C{(name, url)} the file would point at
            the gateway, why the client would refuse them (C{None}: it would
            not); when it refuses, nothing is written and the report's
            C{refused} says why. Default: L{refuse}.
        """
        refuse = refuse or self.refuse
        loaded = self._loadBackup()
        backup, onDisk = loaded if loaded is not None else (_Backup(), None)
        kept = self._loadKept()
        report = AdoptReport()

        def mutate(data: dict[str, Any]) -> bool:
            nonlocal report, onDisk
            plan = self._plan(data, backup, kept)
            report = AdoptReport(removed=list(plan.removed), notes=list(plan.notes))
            if refuse is not None:
                wanted = [
                    (name, urlFor(name, plan.routes[(scope, name)]))
                    for scope, name in [
                        *((s, n) for s, n, _ in plan.kept.items()),
                        *((s, n) for s, n, _ in plan.adopt),
                        *((s, n) for s, n, _ in plan.shadow),
                    ]
                ]
                why = refuse(wanted) if wanted else None
                if why is not None:
                    report = AdoptReport(refused=why)
                    return False
            new = plan.kept
            created = set(backup.createdBlocks)
            if plan.revivedFrom is not None:
                created |= plan.revivedFrom.createdBlocks
            if loaded is None:  # the key as it is before this adoption
                source = plan.revivedFrom
                if source is not None:  # a client's stale copy: as before that adoption
                    new.timestampAdded = source.timestampAdded
                    new.timestampBefore = source.timestampBefore
                else:
                    new.timestampAdded = GATEWAY_TS_KEY not in data
                    new.timestampBefore = copy.deepcopy(data.get(GATEWAY_TS_KEY, _MISSING))
            changed = False
            for (scope, name), record in plan.unadopt.items():
                _putBack(data, scope, name, record, created)
                changed = True
            for scope, name, record in new.items():
                url = urlFor(name, plan.routes[(scope, name)])
                if url != record.url:
                    _block(data, scope)[name]["url"] = url
                    new.add(scope, name, replace(record, url=url))
                    report.notes.append(
                        f"{self._label(name, scope)}: now at {url} (was {record.url})"
                    )
                    changed = True
            for scope, name, entry in plan.adopt:
                url = urlFor(name, plan.routes[(scope, name)])
                new.add(scope, name, _Record(copy.deepcopy(entry), url))
                _block(data, scope)[name] = {"type": "http", "url": url}
                report.adopted.append(self._label(name, scope))
                changed = True
            for project, name, _ in plan.shadow:
                url = urlFor(name, plan.routes[(project, name)])
                block = data["projects"][project].get("mcpServers")
                if block is None:
                    block = data["projects"][project]["mcpServers"] = {}
                    created.add(project)
                block[name] = {"type": "http", "url": url}
                new.add(project, name, _Record(None, url))
                report.adopted.append(self._shadowLabel(name, project))
                changed = True
            new.createdBlocks = {
                project
                for project in created
                if any(r.original is None for r in new.records.get(project, {}).values())
                and isinstance(_projectBlock(data, project), dict)
            }
            report.notes.extend(self._once(plan.onceNotes))
            if changed:
                data[GATEWAY_TS_KEY] = self._stamp()
            onDisk = self._saveBackup(new, onDisk)
            return changed

        updateJson(self.configPath, mutate)
        return report

    def sync(self, urlFor: UrlFor, refuse: Refuse | None = None) -> AdoptReport:
        """For the config watcher: adopt stdio entries added since (C{claude mcp
        add}), drop from the backup the entries the user removed or changed
        (their gateway entry is gone), keep the rest. Cheap when nothing
        changed: a few reads, no write. Same rules and report as L{adopt}."""
        return self.adopt(urlFor, refuse)

    def restore(self) -> RestoreReport:
        """Put back the original of every entry that still is the gateway's.

        An entry the user changed or removed since adoption stays as the user
        left it (in C{kept}, with a note). An entry pointing at a stopped
        gateway that a kept backup knows (a client wrote back a stale copy)
        gets its original back too (in C{restored} and C{revived}).
        C{_mcp_gateway_ts} goes back to what it was before adoption. Once the
        config is written, the backup is rotated into the kept copies
        (L{keptBackupPaths}), the marker of a failed restore is removed, and so
        are the leftovers of interrupted writes (L{removeLeftovers}).

        Call it only while no gateway of this state directory runs (at start
        before adopting, at stop, or from C{mcpgateway restore}).
        """
        loaded = self._loadBackup()
        kept = self._loadKept()
        leftovers = self.removeLeftovers()
        if loaded is None and not kept:
            return RestoreReport(
                notes=[f"no backup of {self.configPath}; nothing to restore", *leftovers]
            )
        backup = loaded[0] if loaded is not None else _Backup()
        report = RestoreReport()

        def mutate(data: dict[str, Any]) -> bool:
            nonlocal report
            report = RestoreReport()
            source = backup if loaded is not None else None
            changed = False
            for scope, name, record in backup.items():
                entry = _entry(data, scope, name)
                label = self._label(name, scope)
                if _isOurs(entry, record):
                    _putBack(data, scope, name, record, backup.createdBlocks)
                    report.restored.append(label)
                    changed = True
                elif entry == record.original or (record.original is None and entry is _MISSING):
                    continue  # never rewritten (a crash in between), or restored already
                elif _revivable(kept, scope, name, entry) is not None:
                    continue  # a stale copy of an earlier run: put back below
                elif entry is _MISSING:
                    report.kept.append(label)
                    report.notes.append(
                        f"{label} was removed from {self.configPath} while"
                        " the gateway served it; not restored"
                    )
                else:
                    report.kept.append(label)
                    report.notes.append(
                        f"{label} was changed in {self.configPath} while"
                        " the gateway served it; kept the file's version"
                    )
            for scope, block in list(_scopes(data)):
                for name, entry in list(block.items()):
                    revived = _revivable(kept, scope, name, entry)
                    if revived is None:
                        continue
                    record, generation = revived
                    _putBack(data, scope, name, record, generation.createdBlocks)
                    label = self._label(name, scope)
                    report.restored.append(label)
                    report.revived.append(label)
                    report.notes.append(
                        f"{label} pointed at a stopped gateway ({record.url}): a client wrote"
                        " back a copy it had read while the gateway served it; put its"
                        " original back from the kept backup"
                    )
                    source = source or generation
                    changed = True
            if changed:
                self._restoreTimestamp(data, source)
            return changed

        updateJson(self.configPath, mutate)
        if loaded is not None:
            self._rotate()
        failure = readRestoreFailure(self.stateDir)
        if failure is not None and failure.get("config") == str(self.configPath):
            removeFile(restoreFailurePath(self.stateDir))
        report.notes.extend(leftovers)
        return report

    def servedDocument(self) -> dict[str, Any]:
        """The servers to serve, as a document L{parseConfig} understands:
        C{{"mcpServers": {...}, "projects": {path: {"mcpServers": {...}}}}},
        in the file's order, where each gateway entry is replaced by its
        original from the backup (or a kept backup). Entries not adopted (yet)
        are included as they are, so that the gateway serves a stdio entry added
        since the last L{sync} and warns about the ones it cannot serve. A
        project's adopted entry is its original at its project path (the
        gateway builds that workspace's route from it), and so is the
        C{.mcp.json} original of each shadow (made or to be made). Projects
        without servers are left out."""
        data, _ = readJson(self.configPath)
        loaded = self._loadBackup()
        plan = self._plan(data, loaded[0] if loaded is not None else _Backup(), self._loadKept())
        document: dict[str, Any] = {}
        for scope, block in _scopes(data):
            servers: dict[str, Any] = {}
            for name, entry in block.items():
                record = (
                    plan.kept.get(scope, name)
                    or plan.unadopt.get((scope, name))
                    or plan.revived.get((scope, name))
                )
                if record is not None and record.original is None:  # a shadow
                    served = plan.shadows.get((scope or "", name))
                    if served is not None:
                        servers[name] = copy.deepcopy(served)
                    continue
                servers[name] = copy.deepcopy(record.original if record is not None else entry)
            if scope is None:
                document["mcpServers"] = servers
            elif servers:
                document.setdefault("projects", {})[scope] = {"mcpServers": servers}
        for project, name, entry in plan.shadow:  # not written yet: served all the same
            projects = document.setdefault("projects", {})
            projects.setdefault(project, {"mcpServers": {}})["mcpServers"][name] = copy.deepcopy(
                entry
            )
        return document

    def strandedEntries(self) -> list[tuple[str, str]]:
        """Entries that look like a gateway's (exactly C{{"type": "http",
        "url": "http://<loopback>:<port>/<name>/mcp"}}, or the workspace route
        C{/<name>~<key>/mcp}) that no backup in the
        state directory knows: their original command is lost to the gateway.
        As C{(label, url)}; call it while no gateway of this state directory
        serves the file (at start, before adopting)."""
        data, _ = readJson(self.configPath)
        loaded = self._loadBackup()
        backup = loaded[0] if loaded is not None else _Backup()
        kept = self._loadKept()
        out = []
        for scope, block in _scopes(data):
            for name, entry in block.items():
                if not _looksLikeGatewayEntry(name, entry):
                    continue
                record = backup.get(scope, name)
                if record is not None and _isOurs(entry, record):
                    continue
                if _revivable(kept, scope, name, entry) is not None:
                    continue
                out.append((self._label(name, scope), str(entry["url"])))
        return out

    def removeLeftovers(self, minAge: float = LEFTOVER_AGE) -> list[str]:
        """Remove the temp files a killed write of this module left next to the
        config, its backup or the restore-failure marker: regular files of
        ours named exactly C{.<name>.<8 random characters>.tmp}, not modified
        for C{minAge} seconds (a write in progress takes milliseconds).
        Nothing else is touched. Notes of what was removed (or could not be)."""
        notes = []
        for target in (self._real, self.backupPath, restoreFailurePath(self.stateDir)):
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
                    or self._now() - st.st_mtime < minAge
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

    def loadServed(self) -> LoadedConfig:
        """L{servedDocument} parsed into specs and warnings (with this instance's
        environment and the file's default scope)."""
        return parseConfig(
            self.servedDocument(), str(self.configPath), self._environ, self.defaultScope
        )

    # -- the plan -----------------------------------------------------------------

    def _plan(self, data: dict[str, Any], backup: _Backup, kept: list[_Backup]) -> _Plan:
        plan = _Plan(
            kept=_Backup(
                timestampAdded=backup.timestampAdded, timestampBefore=backup.timestampBefore
            )
        )
        shared = self._sharedSpecs(data, backup, kept)
        envFiles: dict[str, EnvFile] = {}

        def check(scope: Scope, name: str, entry: Any) -> tuple[str, Scope]:
            """Why C{entry} is not adopted (C{""}: it is) and its route:
            C{None} (the global route) for a top-level entry and for a
            project's entry that is the same server as the top-level one
            (expanded from the gateway's environment, as config compares
            them), else the project's workspace route."""
            unroutable = self._unroutable(scope)
            if unroutable:
                return unroutable, None
            if scope is None:
                return self._servable(name, entry)[1], None
            spec, why = self._servable(name, entry, self._expansion(scope, envFiles))
            if spec is None:
                return why, None
            same = name in shared and self._servable(name, entry)[0] == shared[name]
            return "", None if same else scope

        shadowable = self._shadowable(data, plan.onceNotes)
        for scope, name, record in backup.items():
            entry = _entry(data, scope, name)
            if record.original is None and scope is not None:  # a shadow
                label = self._shadowLabel(name, scope)
                original = shadowable.get((scope, name))
                if _isOurs(entry, record):
                    if original is None:
                        why, route = f"no longer an approved server of {scope}/.mcp.json", None
                    else:
                        why, route = check(scope, name, original)
                    if why:
                        plan.unadopt[(scope, name)] = record
                        plan.removed.append(label)
                        plan.notes.append(f"{label}: not shadowed any more ({why}); removed")
                    else:
                        plan.kept.add(scope, name, record)
                        plan.routes[(scope, name)] = route
                        plan.shadows[(scope, name)] = original
                else:
                    self._declined.add((scope, name))  # not shadowed again by this process
                    plan.removed.append(label)
                    plan.notes.append(
                        f"{label} was {'removed from' if entry is _MISSING else 'changed in'}"
                        f" {self.configPath} while the gateway served it; the file wins:"
                        " dropped from the backup"
                    )
                continue
            label = self._label(name, scope)
            if _isOurs(entry, record):
                why, route = check(scope, name, record.original)
                if why:
                    plan.unadopt[(scope, name)] = record
                    plan.removed.append(label)
                    plan.notes.append(
                        f"{label}: the gateway cannot serve it any more ({why});"
                        " put its original entry back"
                    )
                else:
                    plan.kept.add(scope, name, record)
                    plan.routes[(scope, name)] = route
            elif entry is not _MISSING and entry == record.original:
                continue  # an ordinary stdio entry again: adopted below like any other
            elif _revivable(kept, scope, name, entry) is not None:
                plan.removed.append(label)  # a stale copy of an earlier run: revived below
            else:
                plan.removed.append(label)
                plan.notes.append(
                    f"{label} was {'removed from' if entry is _MISSING else 'changed in'}"
                    f" {self.configPath} while the gateway served it; the file wins:"
                    " dropped from the backup"
                )
        for scope, block in _scopes(data):
            for name, entry in block.items():
                if plan.kept.get(scope, name) is not None or (scope, name) in plan.unadopt:
                    continue
                label = self._label(name, scope)
                revived = _revivable(kept, scope, name, entry)
                if revived is not None and revived[0].original is None:
                    plan.unadopt[(scope, name)] = revived[0]  # a stale shadow: removed
                    plan.revivedFrom = plan.revivedFrom or revived[1]
                    plan.notes.append(
                        f"{label} pointed at a stopped gateway ({revived[0].url}): a client"
                        " wrote back a copy it had read while that gateway served it;"
                        " removed that shadow entry"
                    )
                    continue
                if revived is not None:
                    record, generation = revived
                    entry = record.original
                    plan.revived[(scope, name)] = record
                    plan.revivedFrom = plan.revivedFrom or generation
                why, route = check(scope, name, entry)
                if not why:
                    plan.adopt.append((scope, name, entry))
                    plan.routes[(scope, name)] = route
                    if revived is not None:
                        plan.notes.append(
                            f"{label} pointed at a stopped gateway ({revived[0].url}): a"
                            " client wrote back a copy it had read while that gateway served"
                            " it; adopted again with its original from the kept backup"
                        )
                elif revived is not None:
                    plan.unadopt[(scope, name)] = revived[0]
                    plan.notes.append(
                        f"{label} pointed at a stopped gateway ({revived[0].url}); put its"
                        f" original back from the kept backup (not served: {why})"
                    )
                elif (
                    scope is not None
                    and self._unroutable(scope)
                    and self._servable(name, entry)[0] is not None
                ):
                    plan.onceNotes.append(f"{label}: {why}; left as it is")
                # else not stdio, or not servable: left alone (parseConfig warns)
        if self.shadowing:
            self._planShadows(data, plan, shadowable, check)
        return plan

    def _planShadows(
        self,
        data: dict[str, Any],
        plan: _Plan,
        shadowable: dict[tuple[str, str], Any],
        check: Callable[[Scope, str, Any], tuple[str, Scope]],
    ) -> None:
        """Add to C{plan} the approved C{.mcp.json} servers to shadow now."""
        for (project, name), entry in shadowable.items():
            key = (project, name)
            if plan.kept.get(project, name) is not None or key in self._declined:
                continue
            gone = plan.unadopt.get(key)
            if gone is not None and gone.original is not None:
                continue  # an ordinary local entry put back: the user's
            if _entry(data, project, name) is not _MISSING and gone is None:
                continue  # a local entry of that name is the user's, and wins
            why, route = check(project, name, entry)
            if why:
                if isinstance(entry, dict) and "command" in entry:
                    plan.onceNotes.append(
                        f"{self._shadowLabel(name, project)}: {why}; left to Claude Code"
                    )
                continue
            plan.shadow.append((project, name, entry))
            plan.routes[key] = route
            plan.shadows[key] = entry

    def _shadowable(self, data: dict[str, Any], notes: list[str]) -> dict[tuple[str, str], Any]:
        """The approved servers of the known projects' C{.mcp.json} (a
        C{.claude.json} only), by (project, name): the servers a shadow may
        stand in front of. A C{.mcp.json} that cannot be read is left alone,
        with a note."""
        projects = data.get("projects")
        if self.defaultScope != "user" or not isinstance(projects, dict):
            return {}
        out: dict[tuple[str, str], Any] = {}
        for project in sorted(projects):
            block = projects[project]
            if (
                not isinstance(block, dict)
                or not _approvesAny(block)
                or not isinstance(block.get("mcpServers", {}), dict)
                or self._unroutable(project)
            ):
                continue
            path = Path(project) / ".mcp.json"
            if not path.is_file():
                continue
            try:
                mcpJson, _ = readJson(path)
            except ConfigError as e:
                notes.append(f"{e}; its servers are not shadowed")
                continue
            servers = mcpJson.get("mcpServers")
            if isinstance(servers, dict):
                for name, entry in servers.items():
                    if _approved(block, name):
                        out[(project, name)] = entry
        return out

    def _unroutable(self, scope: Scope) -> str:
        """Why a servable entry of C{scope} has no route (C{""}: it has one)."""
        if scope is None:
            if self.defaultScope != "project":
                return ""
            return "a .mcp.json is not rewritten (it is often part of a repository)"
        try:
            canonicalPath(scope)
        except ValueError as e:
            return f"the project path cannot name a workspace ({e})"
        return ""

    def _sharedSpecs(
        self, data: dict[str, Any], backup: _Backup, kept: list[_Backup]
    ) -> dict[str, ServerSpec]:
        """The servers the file's user scope serves to everyone, by name (none
        for a C{.mcp.json}): each top-level entry as the gateway would serve it
        (its original when it is the gateway's entry)."""
        servers = data.get("mcpServers")
        if self.defaultScope == "project" or not isinstance(servers, dict):
            return {}
        specs = {}
        for name, entry in servers.items():
            record = backup.get(None, name)
            if record is not None and _isOurs(entry, record):
                entry = record.original
            else:
                revived = _revivable(kept, None, name, entry)
                if revived is not None:
                    entry = revived[0].original
            spec, _ = self._servable(name, entry)
            if spec is not None:
                specs[name] = spec
        return specs

    def _expansion(self, workspace: str, envFiles: dict[str, EnvFile]) -> Mapping[str, str]:
        """What a project's C{${VAR}}s expand from, as config expands them:
        the environment under the gateway's and the workspace's C{.env}
        (read once per plan, in C{envFiles})."""
        if "" not in envFiles:
            envFiles[""] = readGatewayEnv(self.stateDir)
        if workspace not in envFiles:
            envFiles[workspace] = readWorkspaceEnv(workspace)
        return expansionEnvironment(self._environ, envFiles[""], envFiles[workspace])

    def _servable(
        self, name: str, entry: Any, environ: Mapping[str, str] | None = None
    ) -> tuple[ServerSpec | None, str]:
        """The spec the gateway would serve for this entry (scope-independent,
        for comparing; C{${VAR}}s from C{environ}, default this instance's
        environment), or C{None} and why not."""
        loaded = parseConfig(
            {"mcpServers": {name: entry}}, "", self._environ if environ is None else environ
        )
        spec = loaded.servers.get(name)
        if spec is None:
            why = loaded.warnings[0] if loaded.warnings else "not a stdio server"
            prefix = f"server '{name}' (gateway scope): "
            return None, why.removeprefix(prefix).removesuffix("; skipped")
        return replace(spec, scope="gateway"), ""

    # -- the backup -----------------------------------------------------------------

    def _loadBackup(self) -> tuple[_Backup, bytes] | None:
        backup = _readBackup(self.backupPath, self.configPath)
        if backup is None:
            return None
        return backup, BACKUP_FORMAT.encode(backup.toJson(str(self._real)))

    def _loadKept(self) -> list[_Backup]:
        """The kept copies of restored backups, newest first (unusable ones skipped)."""
        kept = []
        for path in keptBackupPaths(self.stateDir, self.configPath):
            try:
                backup = _readBackup(path, self.configPath)
            except ConfigError:
                continue
            if backup is not None:
                kept.append(backup)
        return kept

    def _rotate(self) -> None:
        """Move the (restored) backup to C{<backup>.1}, shifting older copies up
        and dropping the oldest; just drop it when C{.1} holds the same."""
        active = self.backupPath
        try:
            raw = active.read_bytes()
        except FileNotFoundError:
            return
        paths = keptBackupPaths(self.stateDir, self.configPath)
        try:
            same = paths[0].read_bytes() == raw
        except OSError:
            same = False
        if same:
            removeFile(active)
            return
        for older, newer in reversed(list(zip(paths[1:], paths[:-1], strict=True))):
            if newer.exists():
                renameFile(newer, older)
        renameFile(active, paths[0])

    def _restoreTimestamp(self, data: dict[str, Any], backup: _Backup | None) -> None:
        """C{_mcp_gateway_ts} as it was before the adoption C{backup} records."""
        if backup is not None and backup.timestampAdded:
            data.pop(GATEWAY_TS_KEY, None)
        elif backup is not None and backup.timestampBefore is not _MISSING:
            data[GATEWAY_TS_KEY] = copy.deepcopy(backup.timestampBefore)
        else:  # a backup of an older version: unknown, so at least make clients reload
            data[GATEWAY_TS_KEY] = self._stamp()

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
            raise ValueError(
                f"{path.parent} leads outside the state directory {stateRoot};"
                " not writing a backup there"
            )
        writeFileAtomic(path, out, 0o600)
        return out

    # -- small things -----------------------------------------------------------------

    def _label(self, name: str, scope: Scope) -> str:
        where = f"{self.defaultScope} scope" if scope is None else f"local scope of project {scope}"
        return f"{name} ({where})"

    def _shadowLabel(self, name: str, project: str) -> str:
        return f"{name} (local scope of project {project}, shadowing its .mcp.json)"

    def _stamp(self) -> int:
        return int(self._now() * 1000)

    def _once(self, notes: list[str]) -> list[str]:
        fresh = [note for note in notes if note not in self._noted]
        self._noted.update(fresh)
        return fresh


def _approvesAny(project: dict[str, Any]) -> bool:
    """Whether a project's block approves any C{.mcp.json} server."""
    enabled = project.get("enabledMcpjsonServers")
    return project.get("enableAllProjectMcpServers") is True or (
        isinstance(enabled, list) and bool(enabled)
    )


def _approved(project: dict[str, Any], name: str) -> bool:
    """Whether the user approved the C{.mcp.json} server C{name} in the
    project's block: C{enableAllProjectMcpServers: true} or C{name} in
    C{enabledMcpjsonServers}, and C{name} not in C{disabledMcpjsonServers}."""
    enabled = project.get("enabledMcpjsonServers")
    disabled = project.get("disabledMcpjsonServers")
    if isinstance(disabled, list) and name in disabled:
        return False
    return project.get("enableAllProjectMcpServers") is True or (
        isinstance(enabled, list) and name in enabled
    )


def _projectBlock(data: dict[str, Any], project: str) -> Any:
    """The C{mcpServers} of C{project}, or C{None}."""
    projects = data.get("projects")
    block = projects.get(project) if isinstance(projects, dict) else None
    return block.get("mcpServers") if isinstance(block, dict) else None


def _putBack(
    data: dict[str, Any], scope: Scope, name: str, record: _Record, createdBlocks: set[str]
) -> None:
    """Put the entry C{name} of C{scope} back as it was before adoption: its
    original, or, for a shadow, no entry (and no C{mcpServers} when the
    gateway created it and it is empty now)."""
    if record.original is not None:
        _block(data, scope)[name] = copy.deepcopy(record.original)
        return
    assert scope is not None
    block = _projectBlock(data, scope)
    if isinstance(block, dict):
        block.pop(name, None)
        if not block and scope in createdBlocks:
            del data["projects"][scope]["mcpServers"]


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


def _revivable(
    kept: list[_Backup], scope: Scope, name: str, entry: Any
) -> tuple[_Record, _Backup] | None:
    """The record (and its kept backup, the newest that has one) whose gateway
    entry C{entry} is, or C{None}."""
    if not (isinstance(entry, dict) and entry.get("type") == "http"):
        return None
    for backup in kept:
        record = backup.get(scope, name)
        if record is not None and _isOurs(entry, record):
            return record, backup
    return None


def _looksLikeGatewayEntry(name: str, entry: Any) -> bool:
    """Whether C{entry} is shaped exactly as adoption writes it for C{name}:
    its global route C{/<name>/mcp} or a workspace route C{/<name>~<key>/mcp}
    on a loopback host."""
    if not (
        isinstance(entry, dict)
        and set(entry) == {"type", "url"}
        and entry["type"] == "http"
        and isinstance(entry["url"], str)
    ):
        return False
    try:
        parts = urlsplit(entry["url"])
        port = parts.port
    except ValueError:
        return False
    host = parts.hostname or ""
    return (
        parts.scheme == "http"
        and port is not None
        and _isRoutePath(parts.path, name)
        and (host in _LOOPBACK or host.startswith("127."))
    )


_ROUTE_PATH = re.compile(rf"/(?P<name>[^/~]+)(?:~[a-z2-7]{{{KEY_LENGTH}}})?/mcp")


def _isRoutePath(path: str, name: str) -> bool:
    """Whether C{path} is a route of the server C{name}: C{/<name>/mcp} or
    C{/<name>~<key>/mcp} (a key: 16 characters C{[a-z2-7]})."""
    match = _ROUTE_PATH.fullmatch(path)
    return match is not None and match.group("name") == name


def _isOurs(entry: Any, record: _Record) -> bool:
    """Whether C{entry} still is the one adoption wrote."""
    return (
        isinstance(entry, dict) and entry.get("type") == "http" and entry.get("url") == record.url
    )
