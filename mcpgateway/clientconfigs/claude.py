# -*- test-case-name: tests.clientconfigs.test_claude -*-
"""One Claude Code config file adopted through the adoption engine.

L{ClaudeConfig} is the engine (L{mcpgateway.clientconfigs.engine}) driving
one file with the L{mcpgateway.clientconfigs.clients.claudecode.ClaudeCode}
adapter: L{ClaudeConfig.adopt} (and L{ClaudeConfig.sync}) backs up and
rewrites every servable stdio entry of the user scope and of every project
(and shadows the approved servers of the projects' C{.mcp.json}),
L{ClaudeConfig.servedDocument} is what the gateway serves (the file with
each adopted entry replaced by its original), L{ClaudeConfig.restore} puts
the originals back, L{ClaudeConfig.strandedEntries} finds entries that
point at a gateway with no backup, L{ClaudeConfig.removeLeftovers} removes
the temp files of killed writes. The rules (the file wins over the backup,
kept backups and stale copies, byte-for-byte restore) are the engine's.

The backup keeps its place (C{<state-dir>/config-backup.json} for a
C{.claude.json}, C{project-backups/} for another file) and is written in the
engine's format; one written by the gateway's earlier Claude-only adoption
is still read (and restored).

No logging: every method returns a report of human-readable strings.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcpgateway.clientconfigs.backups import (
    KEPT_GENERATIONS,
    LEFTOVER_AGE,
    Backup,
    keptBackups,
    readBackupOf,
    readRestoreFailure,
    recordRestoreFailure,
    removeLeftovers,
    restoreFailurePath,
)
from mcpgateway.clientconfigs.backups import keptBackupPaths as _keptPaths
from mcpgateway.clientconfigs.clients.base import ClientFile, Host
from mcpgateway.clientconfigs.clients.claudecode import (
    GATEWAY_TS_KEY,
    TOP,
    ClaudeCode,
    claudeScope,
    looksLikeGatewayEntry,
)
from mcpgateway.clientconfigs.documents import parseDocument, readFile
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.clientconfigs.restoring import restoreFile, revivable
from mcpgateway.config.bundleddemo import DEMO_ROUTE
from mcpgateway.config.origins import withOrigins
from mcpgateway.config.servers import LoadedConfig, isRemoteEntry, parseConfig
from mcpgateway.runtime import paths

__all__ = [
    "GATEWAY_TS_KEY",
    "KEPT_GENERATIONS",
    "LEFTOVER_AGE",
    "readRestoreFailure",
    "recordRestoreFailure",
    "restoreFailurePath",
]

USER_BACKUP = paths.USER_BACKUP
PROJECT_BACKUPS = paths.PROJECT_BACKUPS
RESTORE_FAILED = paths.RESTORE_FAILED
UrlFor = Callable[[str, "str | None"], str]
"""C{urlFor(name, None)}: a server's global route URL; C{urlFor(name,
path)}: the URL of the route of the workspace C{path} (a key of C{projects})."""
Refuse = Callable[[list[tuple[str, str]]], "str | None"]
"""Given the C{(name, url)} entries adoption would write, why the client
would refuse them, or C{None}."""


@dataclass
class AdoptReport:
    """What L{ClaudeConfig.adopt} or L{ClaudeConfig.sync} changed; entries as
    C{"name (scope)"}."""

    adopted: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: str | None = None
    """Why nothing was written: the C{refuse} check said the client would
    refuse the gateway's entries."""
    ignored: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    """Adopted entries with launch keys the user added next to the
    gateway's URL (L{mcpgateway.clientconfigs.ignoredkeys})."""

    @property
    def changed(self) -> bool:
        """Whether the set of served servers may have changed."""
        return bool(self.adopted or self.removed)


@dataclass
class RestoreReport:
    """What L{ClaudeConfig.restore} did; entries as C{"name (scope)"}."""

    restored: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def backupPathFor(stateDir: Path, configPath: Path) -> Path:
    """Where the backup of C{configPath} lives: C{<stateDir>/config-backup.json}
    for a C{.claude.json}, else C{<stateDir>/project-backups/<label>-<hash>.json},
    where the label is the sanitized parent and file name and the hash is of the
    absolute path with symlinks resolved."""
    return ClaudeCode().backupPath(stateDir, configPath)


def hasBackup(stateDir: Path, configPath: Path) -> bool:
    """Whether a backup of C{configPath} is in C{stateDir} (adopted entries
    that were not restored: the gateway stopped uncleanly, or a restore failed)."""
    return backupPathFor(stateDir, configPath).is_file()


def keptBackupPaths(stateDir: Path, configPath: Path) -> list[Path]:
    """The kept copies of restored backups of C{configPath}, newest first."""
    return _keptPaths(backupPathFor(stateDir, configPath))


def readClaudeBackup(stateDir: Path, configPath: Path) -> Backup | None:
    """The backup of C{configPath}, read exactly as L{ClaudeConfig.restore}
    reads it (the one reader, for C{doctor}, C{clients} and C{restore}).

    @raise mcpgateway.config.servers.ConfigError: with a one-line reason,
        when restore would reject the backup.
    """
    return readBackupOf(backupPathFor(stateDir, configPath), configPath)


def inspectBackup(stateDir: Path, configPath: Path) -> int | None:
    """C{None} when there is no backup of C{configPath} in C{stateDir}
    (entries not yet restored; kept copies do not count); else the number
    of backed-up servers.

    @raise mcpgateway.config.servers.ConfigError: see L{readClaudeBackup}.
    """
    backup = readClaudeBackup(stateDir, configPath)
    return None if backup is None else len(backup.records)


class ClaudeConfig:
    """One Claude config file (C{~/.claude.json}, a C{.mcp.json}, or any file
    of that shape) and its backup in the state directory.

    Methods raise L{mcpgateway.config.servers.ConfigError} when the config or
    the backup cannot be read or parsed (nothing is written then), and
    L{mcpgateway.clientconfigs.jsonfile.ConcurrentWriteError} when the
    config kept changing during every attempt to write it.
    """

    def __init__(
        self,
        configPath: Path,
        stateDir: Path,
        home: Path | None = None,
        now: Callable[[], float] = time.time,
        environ: Mapping[str, str] | None = None,
        remotes: bool = False,
        ownerHeaders: Mapping[str, str] | None = None,
    ) -> None:
        """
        @param home: the user's home (default C{Path.home()}).
        @param now: the clock for C{_mcp_gateway_ts}, in seconds.
        @param environ: the environment C{${VAR}}s are expanded from when deciding
            whether an entry can be served; must be the one the gateway parses
            L{servedDocument} with (default C{os.environ}).
        @param remotes: adopt the user scope's remote entries too
            (C{--remote adopt}); a remote entry not adopted is then not
            served either (it stays with the client, with a warning).
        @param ownerHeaders: the headers every entry written carries (the
            owner token where the gateway cannot name a connection's account).
        @raise ValueError: C{configPath}, with symlinks resolved, is neither in
            C{home} nor in C{stateDir}, or is not a file name.
        """
        self.configPath = Path(os.path.abspath(configPath))
        self.stateDir = Path(os.path.abspath(stateDir))
        real = Path(os.path.realpath(configPath))
        roots = [
            Path(os.path.realpath(home if home is not None else Path.home())),
            Path(os.path.realpath(stateDir)),
        ]
        if not any(root in real.parents for root in roots):
            raise ValueError(
                f"{configPath} (resolved: {real}) is outside the home"
                f" directory {roots[0]} and the state directory {roots[1]};"
                " the gateway only rewrites files in those"
            )
        self._now = now
        self._environ = os.environ if environ is None else environ
        self.remotes = remotes
        self._adapter = ClaudeCode(self.configPath, checkPolicy=False)
        self._file = ClientFile(self._adapter.id, self.configPath, "jsondata", TOP)
        self._engine = AdoptionEngine(
            self.stateDir,
            [self._adapter],
            Host(roots[0]),
            (),
            ["mcpgateway"],
            environ,
            now,
            remotes=remotes,
            ownerHeaders=ownerHeaders,
        )
        self.shadowing = True
        """Whether the approved servers of the projects' C{.mcp.json} are
        shadowed (and served)."""
        self.refuse: Refuse | None = None
        """The check L{adopt} and L{sync} make when not given one."""

    @property
    def backupPath(self) -> Path:
        return backupPathFor(self.stateDir, self.configPath)

    @property
    def gatewayPort(self) -> int | None:
        """The port the gateway listens on (see L{AdoptionEngine.gatewayPort})."""
        return self._engine.gatewayPort

    @gatewayPort.setter
    def gatewayPort(self, port: int | None) -> None:
        self._engine.gatewayPort = port

    @property
    def defaultScope(self) -> str:
        """C{user} (C{.claude.json}), C{project} (C{.mcp.json}) or C{gateway}."""
        return claudeScope(self.configPath)

    def adopt(self, urlFor: UrlFor, refuse: Refuse | None = None) -> AdoptReport:
        """Back up and rewrite every servable stdio entry, each to its route;
        shadow the approved servers of the projects' C{.mcp.json} (while
        L{shadowing}). Merges into an existing backup; idempotent. When
        C{refuse} (default L{refuse}) says the client would refuse the
        entries, nothing is written and the report's C{refused} says why."""
        self._adapter.refusal = refuse or self.refuse
        report = self._engine.adoptFile(self._adapter, self._file, urlFor, {}, self.shadowing)
        return AdoptReport(
            report.adopted, report.removed, report.notes, report.refused, report.ignored
        )

    def sync(self, urlFor: UrlFor, refuse: Refuse | None = None) -> AdoptReport:
        """For the config watcher: the same as L{adopt}."""
        return self.adopt(urlFor, refuse)

    def restore(self) -> RestoreReport:
        """Put back the original of every entry that still is the gateway's,
        and of every entry pointing at a stopped gateway that a kept backup
        knows; rotate the backup, remove the marker of a failed restore of
        this file and the leftovers of interrupted writes. Call it only while
        no gateway of this state directory runs."""
        backup = readBackupOf(self.backupPath, self.configPath)
        leftovers = self.removeLeftovers()
        if backup is None and not keptBackups(self.backupPath):
            return RestoreReport(
                notes=[f"no backup of {self.configPath}; nothing to restore", *leftovers]
            )
        if backup is None:
            backup = Backup(self._adapter.id, os.path.realpath(self.configPath), "jsondata")
        report = restoreFile(self.backupPath, backup, self.stateDir, self._now)
        return RestoreReport(report.restored, report.revived, report.kept, report.notes + leftovers)

    def servedDocument(self) -> dict[str, Any]:
        """The servers to serve, as a document L{parseConfig} understands:
        C{{"mcpServers": {...}, "projects": {path: {"mcpServers": {...}}}}},
        the file as adoption leaves it, each adopted entry replaced by its
        original (a shadow by its C{.mcp.json} entry); entries not adopted
        are as they are (parseConfig warns about the ones it cannot serve),
        except, with L{remotes}, a remote entry adoption leaves to the client.
        Projects without servers are left out."""
        return self._served()[0]

    def _served(self) -> tuple[dict[str, Any], list[str], dict[tuple[str, str], str]]:
        """L{servedDocument}, a warning for each remote entry left out, and
        the project's file of each shadow (its C{.mcp.json}: a repository's,
        L{mcpgateway.config.origins}) by C{(workspace, name)}."""
        plan = self._engine.plan(self._adapter, self._file, self.shadowing)
        skipped = dict(plan.report.skipped)
        document: dict[str, Any] = {}
        warnings = []
        origins: dict[tuple[str, str], str] = {}
        for block in plan.blocks:
            entries = plan.doc.entries(block.location)
            if entries is None:
                continue
            servers = {}
            for name, entry in entries:
                record = plan.backup.records.get((block.location, name))
                if record is None and self.remotes and isRemoteEntry(entry):
                    why = skipped.get(block.label(name)) or block.unroutable or "not adopted"
                    warnings.append(f"server '{name}' ({block.scope}): {why}; skipped")
                    continue
                servers[name] = copy.deepcopy(record.served if record is not None else entry)
                if record is not None and record.original is None and block.workspace:
                    origins[(block.workspace, name)] = os.path.join(block.workspace, ".mcp.json")
            if block.location == TOP:
                document["mcpServers"] = servers
            elif servers:
                document.setdefault("projects", {})[block.workspace] = {"mcpServers": servers}
        return document, warnings, origins

    @property
    def shadowedFiles(self) -> list[Path]:
        """The projects' C{.mcp.json} whose approved servers it shadows, as
        its last load found them (there or not): watched, so that an edit or
        a C{git pull} of one is served within seconds."""
        return list(self._adapter.shadowedFiles)

    def loadServed(self) -> LoadedConfig:
        """L{servedDocument} parsed into specs and warnings."""
        document, warnings, origins = self._served()
        loaded = parseConfig(
            document, str(self.configPath), self._environ, self.defaultScope, self.remotes
        )
        loaded.warnings.extend(warnings)
        return withOrigins(loaded, origins)

    def strandedEntries(self) -> list[tuple[str, str]]:
        """Entries shaped as adoption writes them (a loopback gateway route)
        that no backup in the state directory knows: their original command
        is lost to the gateway. As C{(label, url)}; call it while no gateway
        of this state directory serves the file."""
        doc = parseDocument(self.configPath, "jsondata", readFile(self.configPath))
        backup = readBackupOf(self.backupPath, self.configPath)
        kept = keptBackups(self.backupPath)
        out = []
        for block in self._adapter.blocks(self._file, doc):
            for name, entry in doc.entries(block.location) or []:
                record = None if backup is None else backup.records.get((block.location, name))
                if (
                    not looksLikeGatewayEntry(name, entry)
                    or (record is not None and entry == record.written)
                    or revivable(kept, block.location, name, entry) is not None
                    or urlsplit(entry["url"]).path.rstrip("/") == DEMO_ROUTE
                ):
                    continue  # (the bundled demo's route: served for it, nothing lost)
                out.append((block.label(name), str(entry["url"])))
        return out

    def removeLeftovers(self, minAge: float = LEFTOVER_AGE) -> list[str]:
        """Remove the temp files a killed write left next to the config, its
        backup or the restore-failure marker (see
        L{mcpgateway.clientconfigs.backups.removeLeftovers})."""
        targets = [
            Path(os.path.realpath(self.configPath)),
            self.backupPath,
            restoreFailurePath(self.stateDir),
        ]
        return removeLeftovers(targets, self._now, minAge)
