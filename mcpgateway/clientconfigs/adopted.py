# -*- test-case-name: tests.clientconfigs.test_adoption_safety -*-
"""A Claude config adopted by the gateway: its stdio entries backed up,
pointed at the gateway, served from the backup, restored on stop.

The URLs it writes: C{http://<host>:<port>/<name>/mcp} for the global route,
C{http://<host>:<port>/<name>~<key>/mcp} for the route of a workspace, where
the key is the state directory's key of the project path
(L{mcpgateway.config.workspaces.WorkspaceKeys}); which route an entry gets is
the adoption engine's decision (L{mcpgateway.clientconfigs.claude.ClaudeConfig}
drives it with the Claude Code adapter).

Before a C{.claude.json} is rewritten, Claude Code's MCP policies are asked
(L{mcpgateway.clientconfigs.clients.claudecode.claudeCodePolicy}: the user's
and the managed settings' C{allowedMcpServers}/C{deniedMcpServers}, a
C{managed-mcp.json}). When they would block an entry the gateway would
write, the file is not rewritten (entries adopted before are put back) and
is served as it is, as with C{--no-rewrite}, with one warning that says why
and how to let the gateway's URL through; the next change of the file asks
again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.ignoredkeys import ignoredKeys, ignoredLine
from mcpgateway.config.problems import IgnoredKeys
from mcpgateway.config.servers import ConfigError, LoadedConfig, isRemoteEntry
from mcpgateway.config.workspaces import WorkspaceKeyError, WorkspaceKeys

if TYPE_CHECKING:
    from mcpgateway.clientconfigs.claude import AdoptReport


class AdoptedClaudeConfig:
    """A Claude config whose stdio entries the gateway adopts: backed up,
    rewritten to point at the gateway, served from the backup, restored on stop."""

    def __init__(
        self,
        path: Path,
        stateDir: Path,
        host: str,
        environ: Mapping[str, str] | None = None,
        keys: WorkspaceKeys | None = None,
        policyHost: Host | None = None,
        remotes: bool = False,
        gatewayPort: int | None = None,
        ownerHeaders: Mapping[str, str] | None = None,
    ) -> None:
        """
        @param keys: the workspace keys of C{stateDir}; C{None}: made from
            C{stateDir} when a workspace route is first needed, one instance
            per L{load} or L{listening} (its secret file created on first use).
        @param policyHost: the machine whose Claude Code policies decide
            whether the file may be rewritten; C{None}: for a C{.claude.json},
            this machine with the file's directory as the home (the user's
            C{settings.json} in its C{.claude}, or in C{$CLAUDE_CONFIG_DIR});
            no policy for another file (Claude Code does not read it).
        @param remotes: adopt the user scope's remote entries too (C{--remote adopt}).
        @param gatewayPort: the port the gateway will listen on, when known
            before it listens (a remote entry at it is the gateway itself).
        @param ownerHeaders: the headers every entry written carries (see
            L{AdoptionEngine<mcpgateway.clientconfigs.engine.AdoptionEngine>}).
        """
        from mcpgateway.clientconfigs.claude import ClaudeConfig

        self.path = path
        self.stateDir = stateDir
        self._claude = ClaudeConfig(
            path, stateDir, environ=environ, remotes=remotes, ownerHeaders=ownerHeaders
        )
        self._claude.gatewayPort = gatewayPort
        self._host = host
        self._port: int | None = None
        self._recovered = False
        self._checked = False
        self._givenKeys = keys
        self._keys: WorkspaceKeys | None = keys
        if policyHost is None and Path(path).name == ".claude.json":
            policyHost = Host(
                home=Path(os.path.abspath(path)).parent,
                system=sys.platform,
                environ=os.environ if environ is None else environ,
            )
        self._policyHost = policyHost
        self._claude.refuse = self._refuse
        self._refused: str | None = None
        """Why the file is served as it is (a policy refuses the rewrite)."""
        self._warned: str | None = None
        """The last refusal a warning was given for."""
        self.ignoredKeys: tuple[IgnoredKeys, ...] = ()
        """The launch keys the user added next to the gateway's URLs in the
        file, as of the last adoption (L{mcpgateway.clientconfigs.ignoredkeys})."""

    def recover(self) -> list[str]:
        """At start, before adopting: put back the entries of an unclean stop,
        and the entries a client wrote back pointing at a stopped gateway (from
        the kept backups); remove leftovers of interrupted writes. Done once
        (by the first L{load} if not called before)."""
        from mcpgateway.clientconfigs.jsonfile import ConcurrentWriteError

        self._recovered = True
        try:
            report = self._claude.restore()
        except ConcurrentWriteError as e:
            return [
                f"could not restore {self.path} before adopting it ({e}); adopting"
                " merges the backup instead"
            ]
        if (
            not (report.restored or report.kept)
            and len(report.notes) == 1
            and "nothing to restore" in report.notes[0]
        ):
            return []
        unclean = [label for label in report.restored if label not in report.revived]
        return _notes("restored after an unclean stop", unclean, report.kept, report.notes)

    def continueAdoption(self) -> None:
        """This process takes over from a gateway that adopted the file and
        still runs (a restart): its backups are current, nothing is recovered."""
        self._recovered = True

    def watchedPaths(self) -> list[Path]:
        """The projects' C{.mcp.json} whose approved servers it shadows (as
        its last load found them, there or not): their changes reload it."""
        return self._claude.shadowedFiles

    def load(self) -> LoadedConfig:
        warnings: list[str] = []
        errors: list[str] = []
        if not self._recovered:
            warnings = self.recover()
        if not self._checked:  # at start: entries that point at a gateway, originals lost
            self._checked = True
            errors = self._stranded()
        notes = []
        if self._port is not None:
            from mcpgateway.clientconfigs.jsonfile import ConcurrentWriteError

            self._keys = self._givenKeys
            try:
                report = self._claude.sync(self._urlFor)
            except ConcurrentWriteError as e:
                # A writer that never pauses: serve what the file says now (a
                # new stdio entry is served as it is); adopt on a later change.
                warnings.append(f"{e}; the rewrite waits for the next change")
            else:
                notes = self._reported(report)
                if self._refused is not None and self._refused != self._warned:
                    self._warned = self._refused
                    warnings.append(self._refused)
        loaded = self._claude.loadServed()
        loaded.source = str(self.path)
        loaded.warnings[:0] = warnings + [ignoredLine(p) for p in self.ignoredKeys]
        loaded.errors.extend(errors)
        loaded.notes.extend(notes)
        return loaded

    def listening(self, port: int) -> list[str]:
        self._port = port
        self._claude.gatewayPort = port
        self._keys = self._givenKeys
        report = self._claude.adopt(self._urlFor)
        notes = self._reported(report)
        if self._refused is not None:
            self._warned = self._refused
            notes.append(f"warning: {self._refused}")
        return notes

    def _refuse(self, entries: list[tuple[str, str]]) -> str | None:
        """Why Claude Code's policies would block one of C{entries}, as the
        warning to give, or C{None}."""
        if self._policyHost is None:
            return None
        from mcpgateway.clientconfigs.clients.claudecode import claudeCodePolicy

        why = claudeCodePolicy(self._policyHost, entries)
        if why is None:
            return None
        return (
            f"{self.path} is not rewritten, its servers are served as they are (as with"
            f" --no-rewrite): Claude Code would refuse the gateway's entries: {why}"
        )

    def _reported(self, report: AdoptReport) -> list[str]:
        """The notes of an adoption C{report}; a refused one puts back what
        was adopted before and serves the file as it is."""
        self.ignoredKeys = tuple(
            ignoredKeys(name, str(self.path), keys) for name, keys in report.ignored
        )
        if report.refused is None:
            self._refused = None
            self._claude.shadowing = True
            return _notes("adopted", report.adopted, report.removed, report.notes)
        self._refused = report.refused
        self._claude.shadowing = False
        if not self._claude.backupPath.is_file():
            return []
        restored = self._claude.restore()
        return _notes("restored", restored.restored, restored.kept, restored.notes)

    def stopping(self) -> list[str]:
        if self._port is None:
            return []
        report = self._claude.restore()
        return _notes("restored", report.restored, report.kept, report.notes)

    def restoreFailed(self, reason: str) -> None:
        from mcpgateway.clientconfigs.backups import recordRestoreFailure

        recordRestoreFailure(self.stateDir, self.path, reason)

    def _stranded(self) -> list[str]:
        stranded = self._claude.strandedEntries()
        if not stranded:
            return []
        entries = ", ".join(f"{label} -> {url}" for label, url in stranded)
        return [
            f"{len(stranded)} entr{'y' if len(stranded) == 1 else 'ies'} in {self.path}"
            f" point at a gateway URL, and no backup in {self.stateDir} holds the"
            f" original command: {entries}. Clients cannot use them and the gateway"
            " cannot serve them. Way out: add each server again with its command"
            " (claude mcp remove NAME, then claude mcp add NAME -- COMMAND ARGS...), or"
            " put the entries back from a copy of the file; if another state directory"
            " holds their backup, run `mcpgateway restore --state-dir THAT_DIR`"
        ]

    def servedRoutes(self) -> dict[tuple[str, str | None], dict[str, Any]]:
        """The routes this adoption serves, C{(name, None)} for the global
        route and C{(name, project path)} for a project's entry, each with
        its entry (the original of an adopted one): what the other clients'
        adoption must not serve differently at the same route."""
        document = self._claude.servedDocument()
        out: dict[tuple[str, str | None], dict[str, Any]] = {}
        blocks: list[tuple[str | None, Any]] = [(None, document.get("mcpServers"))]
        projects = document.get("projects")
        if isinstance(projects, dict):
            blocks += [(str(path), p.get("mcpServers")) for path, p in projects.items()]
        for workspace, block in blocks:
            if isinstance(block, dict):
                for name, entry in block.items():
                    if not isinstance(entry, dict):
                        continue
                    if entry.get("type", "stdio") == "stdio" or (
                        self._claude.remotes and isRemoteEntry(entry)
                    ):
                        out[(name, workspace)] = entry
        return out

    def _urlFor(self, name: str, workspace: str | None) -> str:
        """The URL of C{name}'s global route (C{workspace} C{None}), or of
        its route for the project directory C{workspace}.

        @raise ConfigError: the state directory's workspace key file cannot
            be used (its message says what to do).
        """
        if workspace is None:
            return routeUrl(self._host, self._port, name)
        return routeUrl(self._host, self._port, name, self._workspaceKeys().key(workspace))

    def _workspaceKeys(self) -> WorkspaceKeys:
        if self._keys is None:
            self._keys = stateDirKeys(self.stateDir)
        return self._keys


def routeUrl(host: str, port: int | None, name: str, key: str | None = None) -> str:
    """The URL the gateway on C{host}:C{port} serves C{name} at: its global
    route C{/<name>/mcp}, or with C{key} its workspace route
    C{/<name>~<key>/mcp} (the one URL rule of every client's adoption)."""
    where = f"[{host}]" if ":" in host else host
    route = name if key is None else f"{name}~{key}"
    return f"http://{where}:{port}/{route}/mcp"


def stateDirKeys(stateDir: Path) -> WorkspaceKeys:
    """The workspace keys of C{stateDir} (its key file made on first use).

    @raise ConfigError: the key file cannot be used (the message says what to do).
    """
    try:
        return WorkspaceKeys.forStateDir(stateDir)
    except WorkspaceKeyError as e:
        raise ConfigError(str(e)) from None
    except OSError as e:
        raise ConfigError(
            f"cannot create the workspace key file in {stateDir}"
            f" ({e.strerror or e}); project entries need it for their routes"
        ) from None


def _notes(verb: str, done: list[str], other: list[str], notes: list[str]) -> list[str]:
    out = []
    if done:
        out.append(f"{verb} {len(done)} entr{'y' if len(done) == 1 else 'ies'}: " + ", ".join(done))
    if other:
        out.append(f"left as the user has them: {', '.join(other)}")
    return out + notes
