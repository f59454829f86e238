# -*- test-case-name: tests.config.test_configservice_clients -*-
"""The config source of an adopting gateway: Claude Code's adoption and
every other client's, served as one config.

L{ClientsSource} composes a base source (the adopted Claude config,
L{mcpgateway.clientconfigs.adopted.AdoptedClaudeConfig}, or the bundled demo
when there is no C{~/.claude.json}) with the
L{mcpgateway.clientconfigs.engine.AdoptionEngine} of the other clients:

 - once the gateway listens, the base adopts first, then the engine adopts
   every client file found, with the same URL rule
   (L{mcpgateway.clientconfigs.adopted.routeUrl}) and the routes the base
   serves reserved (a client's different server of a name Claude Code
   serves at the same route is not adopted);
 - while the base is the bundled demo, the Claude config it stands in for
   (C{~/.claude.json}) is watched although it is missing: once it appears
   (Claude Code installed after the start), the next L{ClientsSource.load}
   adopts it as a start would have, and it becomes the base (the demo is
   no longer served);
 - L{ClientsSource.load} serves the base's servers plus the originals of
   the engine's backups (a project file's entries at their workspace's
   routes; never a different server at a route the base serves, and the
   same one there with the longest of the clients' timeouts); after
   C{listening} it also syncs the engine (a file the watcher saw change: new
   entries adopted, the user's edits win, an adopted entry whose route the
   base now serves differently gets its original back);
 - L{ClientsSource.stopping} restores the base, then every client file,
   even when the base could not be restored (an unparsable
   C{~/.claude.json} does not leave the other clients pointed at a stopped
   gateway); a file that cannot be restored raises afterwards (the config
   service retries what is left, then leaves the C{restore-failed.json}
   marker).

Synchronous file work only (the config service calls it at start or in a
thread); no logging: notes and warnings are returned. Imports no Twisted
(the CLI uses L{claudeProjects}).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpgateway.clientconfigs.adopted import routeUrl, stateDirKeys
from mcpgateway.clientconfigs.clients.claudecode import trustAccepted
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.clientconfigs.ignoredkeys import ignoredLine
from mcpgateway.clientconfigs.reports import EngineReport
from mcpgateway.config.origins import withOrigins
from mcpgateway.config.problems import IgnoredKeys, RefusedFile
from mcpgateway.config.scopes import longerTimeout
from mcpgateway.config.servers import LoadedConfig, parseConfig
from mcpgateway.config.workspaces import WorkspaceKeys

if TYPE_CHECKING:  # the CLI imports this module (claudeProjects): no Twisted
    from mcpgateway.config.watched import ConfigSource

WARNING = "warning: "
"""A note of C{listening} that is a warning (as the config service tells them)."""
SOURCE = "client configs"
"""The source name of the engine's served document (in warnings)."""


class RestoreIncomplete(Exception):
    """Some client file could not be given back; the message says which."""


def claudeProjects(path: Path | None) -> list[Path]:
    """The project directories of a Claude config whose project files
    (C{.cursor/mcp.json}, C{.vscode/mcp.json}...) are adopted: the keys of
    its C{projects} that are absolute paths of existing directories whose
    trust the user accepted (L{trustAccepted}). Claude Code lists a
    folder as soon as it runs there, before its trust dialog: a checkout the
    user declined is not the gateway's to rewrite and serve. Empty when the
    file is missing or unreadable."""
    if path is None:
        return []
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return []
    projects = data.get("projects") if isinstance(data, dict) else None
    if not isinstance(projects, dict):
        return []
    return [
        Path(key)
        for key in sorted(projects)
        if isinstance(key, str)
        and os.path.isabs(key)
        and isinstance(projects[key], dict)
        and trustAccepted(projects, key)
        and os.path.isdir(key)
    ]


class ClientsSource:
    """A L{ConfigSource}: the base source's servers and the engine's (see the
    module docstring)."""

    def __init__(
        self,
        base: ConfigSource,
        engine: AdoptionEngine,
        stateDir: Path,
        host: str,
        environ: Mapping[str, str] | None = None,
        projectsFrom: Path | None = None,
    ) -> None:
        """
        @param host: the address clients reach the gateway at.
        @param projectsFrom: the Claude config whose projects' files the
            engine adopts (read again at each load).
        """
        self.base = base
        self.engine = engine
        self.stateDir = stateDir
        self._host = host
        self._environ = os.environ if environ is None else environ
        self._projectsFrom = projectsFrom
        self._port: int | None = None
        self._keys: WorkspaceKeys | None = None
        self._baseRestored = False
        self._engineRestored = False
        self._notes: list[str] = []
        """What L{stopping} restored, told once it has all succeeded."""
        self._failedPath: str | None = None
        self.reloadNeeded = False
        """Set by L{listening} when the engine adopted entries: they are
        served only once the config is loaded again."""

    @property
    def path(self) -> Path | None:
        return self.base.path

    def watchedPaths(self) -> list[Path]:
        """Every client file to watch besides L{path}: the other clients'
        files, and the base's own (the projects' C{.mcp.json} it shadows)."""
        own = getattr(self.base, "watchedPaths", None)
        return [*self.engine.watchedPaths(), *(own() if own is not None else ())]

    @property
    def refusedFiles(self) -> tuple[RefusedFile, ...]:
        """The client files the engine's last pass did not adopt, and why."""
        return self.engine.refused

    @property
    def ignoredKeys(self) -> tuple[IgnoredKeys, ...]:
        """The launch keys users added next to the gateway's URLs: in the
        Claude config (the base's) and every other client's file."""
        own: tuple[IgnoredKeys, ...] = getattr(self.base, "ignoredKeys", ())
        return own + self.engine.ignored

    def awaitedPaths(self) -> list[Path]:
        """Files not there yet whose appearance reloads: the Claude config
        while the base is the bundled demo (see L{load}), and every other
        client's user file not written yet (adopted once it is)."""
        awaited = self.engine.awaitedPaths()
        if self.base.path is None and self._projectsFrom is not None:
            return [self._projectsFrom, *(p for p in awaited if p != self._projectsFrom)]
        return awaited

    def load(self) -> LoadedConfig:
        notes: list[str] = []
        warnings: list[str] = []
        claude = self._projectsFrom
        if self._port is not None and self.base.path is None and claude and claude.is_file():
            notes, warnings = self._adoptClaude(claude, self._port)
        loaded = self.base.load()
        reserved = self.reserved()
        if self._port is not None:
            self._refreshProjects()
            self._keys = None
            report = self.engine.sync(self.urlFor, reserved)
            more, warned = _split(report)
            ignored = [ignoredLine(problem) for problem in self.engine.ignored]
            notes, warnings = [*notes, *more], [*warnings, *warned, *ignored]
        document, origins = self.engine.served(reserved)
        served = withOrigins(
            parseConfig(document, SOURCE, self._environ, "user", self.engine.remotes), origins
        )
        files = self.engine.servedFiles
        served.servers = {
            name: replace(spec, configFile=files.get(name)) for name, spec in served.servers.items()
        }
        merged = replace(
            loaded,
            servers=dict(loaded.servers),
            projects=[*loaded.projects, *served.projects],
            warnings=[*loaded.warnings, *warnings, *served.warnings],
            notes=[*loaded.notes, *notes],
            invalid=[*loaded.invalid, *served.invalid],
        )
        demo = self.base.path is None  # the bundled demo yields to the user's own servers
        for name, spec in served.servers.items():
            if demo or name not in merged.servers:
                merged.servers[name] = spec
            elif (name, None) in reserved:  # the same server: the longest timeout wins
                merged.servers[name] = longerTimeout(merged.servers[name], spec)
        if served.servers or served.projects:
            merged.source = f"{loaded.source} and {SOURCE}"
        return merged

    def listening(self, port: int) -> list[str]:
        notes = self.base.listening(port)
        self._port = port
        self.engine.bridgePort = port  # bridge entries start a gateway on this port
        self.engine.gatewayPort = port  # a remote entry at it is the gateway itself
        self._refreshProjects()
        self._keys = None
        report = self.engine.adopt(self.urlFor, self.reserved())
        self.reloadNeeded = report.changed
        more, warnings = _split(report)
        return [*notes, *more, *(f"warning: {w}" for w in warnings)]

    def _adoptClaude(self, path: Path, port: int) -> tuple[list[str], list[str]]:
        """The Claude config C{path} appeared while the bundled demo was
        served: adopt it as a start would (what an unclean stop left
        adopted is put back first) and make it the base. Notes and
        warnings; a file that cannot be adopted yet (half written, say)
        leaves the demo in place, with a warning, until its next change."""
        from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
        from mcpgateway.clientconfigs.jsonfile import ConcurrentWriteError
        from mcpgateway.config.servers import ConfigError

        adopted: AdoptedClaudeConfig | None = None
        try:
            adopted = AdoptedClaudeConfig(
                path,
                self.stateDir,
                self._host,
                self._environ,
                remotes=self.engine.remotes,
                gatewayPort=port,
                ownerHeaders=self.engine.ownerHeaders,
            )
            recovered = adopted.recover()
            notes = adopted.listening(port)
        except (ConfigError, ConcurrentWriteError, ValueError, OSError) as e:
            undone = ""
            if adopted is not None:
                # Whatever the failed adoption wrote is put back: the demo
                # stays the base, so nothing else would restore it at stop.
                try:
                    adopted.stopping()
                except Exception as again:  # (a file gone, unreadable)
                    undone = f"; putting it back failed too: {_oneLine(again)}"
            return [], [
                f"{path} appeared but cannot be adopted yet ({_oneLine(e)}{undone}); it is"
                " tried again at its next change (or `mcpgateway restart`)"
            ]
        self.base = adopted
        told = [f"{path} appeared: adopting it (the bundled demo is no longer served)"]
        told += [n for n in notes if not n.startswith(WARNING)]
        warned = [n.removeprefix(WARNING) for n in notes if n.startswith(WARNING)]
        return told, [*recovered, *warned]

    def stopping(self) -> list[str]:
        """Restore the base, then every other client's file, whatever the
        base did: a Claude config that cannot be restored (unparsable, say)
        does not keep the other clients pointed at a stopped gateway. Then
        raise L{RestoreIncomplete} if anything could not be given back (the
        config service retries: only what is still adopted is tried again).
        """
        baseError: Exception | None = None
        if not self._baseRestored:
            try:
                self._notes += self.base.stopping()
            except Exception as e:
                baseError = e
            else:
                self._baseRestored = True
        engineWarnings: list[str] = []
        if self._port is not None and not self._engineRestored:
            report = self.engine.restore()
            self._notes += report.messages()
            # The engine restores Claude Code's backups too: the base's own
            # failure is said once, by the base.
            basePath = str(self.base.path)
            engineWarnings = [w for w in report.warnings if _pathOf(w) != basePath]
            if engineWarnings:
                self._failedPath = _pathOf(engineWarnings[0])
            elif not report.warnings:
                self._engineRestored = True
        if baseError is not None:
            done = "; the other clients' files were restored" if not engineWarnings else ""
            raise RestoreIncomplete(
                "; ".join([_oneLine(baseError) + done, *engineWarnings])
            ) from baseError
        if engineWarnings:
            raise RestoreIncomplete("; ".join(engineWarnings))
        notes, self._notes = self._notes, []
        return notes

    def restoreFailed(self, reason: str) -> None:
        if not self._baseRestored:
            self.base.restoreFailed(reason)
            return
        from mcpgateway.clientconfigs.backups import recordRestoreFailure

        recordRestoreFailure(self.stateDir, Path(self._failedPath or self.stateDir), reason)

    # -- what the engine is given ------------------------------------------------

    def urlFor(self, name: str, workspace: str | None) -> str:
        """The URL rule of every adoption (L{routeUrl}) on this gateway's port.

        @raise mcpgateway.config.servers.ConfigError: the workspace key file
            cannot be used.
        """
        if workspace is None:
            return routeUrl(self._host, self._port, name)
        if self._keys is None:
            self._keys = stateDirKeys(self.stateDir)
        return routeUrl(self._host, self._port, name, self._keys.key(workspace))

    def reserved(self) -> dict[tuple[str, str | None], dict[str, Any]]:
        """The routes the base serves, with their entries."""
        routes = getattr(self.base, "servedRoutes", None)
        if routes is not None:
            served: dict[tuple[str, str | None], dict[str, Any]] = routes()
            return served
        # The bundled demo reserves nothing: a client's server of its name wins.
        return {}

    def _refreshProjects(self) -> None:
        if self._projectsFrom is not None:
            self.engine.projects = claudeProjects(self._projectsFrom)


def _split(report: EngineReport) -> tuple[list[str], list[str]]:
    return report.messages(), list(report.warnings)


def _oneLine(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _pathOf(warning: str) -> str | None:
    """The client file a warning of L{AdoptionEngine.restore} names."""
    if warning.startswith("could not restore "):
        return warning[len("could not restore ") :].split(" (", 1)[0]
    return None
