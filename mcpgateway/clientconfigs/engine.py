# -*- test-case-name: tests.clientconfigs.test_engine -*-
"""Adopt the stdio servers of every MCP client's config files, and give them back.

One job: the adoption of any client an adapter
(L{mcpgateway.clientconfigs.clients}) describes, Claude Code's included.
L{AdoptionEngine.adopt} (and L{AdoptionEngine.sync}, the same, for the file
watcher) backs up every stdio entry the gateway can serve
(L{mcpgateway.clientconfigs.backups}) and then rewrites it to the client's
own Streamable HTTP entry for the URL C{urlFor(name, workspace)} gives (a
project's entries get their workspace's route; a stdio-only client's entries
run C{mcpgateway bridge}). A file has one block of entries or several (the
adapter's L{ClientAdapter.blocks}: Claude Code's user scope and each
project's local scope), and gets one read-modify-write for all of them; an
adapter may add entries in front of another file's servers
(L{ClientAdapter.shadowed}), recorded so that restore removes exactly what
was added. Entries added later are adopted at the next sync; an adopted
entry the user changed or removed is dropped from the backup (the file
wins); one the gateway can no longer serve, or whose route another server
of that name now holds, gets its original back. A client whose policy
would refuse the rewritten entries is skipped whole, with the reason. An
adapter's C{stampKey} is set at each change and restored to what it was.
L{AdoptionEngine.servedDocument} gives the originals to serve, one server
per route. Restoring is L{mcpgateway.clientconfigs.restoring}. With
C{remotes} (C{--remote adopt}) the remote entries of user files are adopted
the same way (the gateway serves the original's URL with its headers; the
client's entry points at the gateway, without them), except one that points
at this gateway itself. Where the gateway cannot name the account of a
connection, every HTTP entry it writes carries the owner token
(C{ownerHeaders}, in the client's own header key: L{ClientAdapter.withHeaders});
the restore takes it out with the rest of the entry.

Every write is a short read-modify-write of the file's latest bytes
(L{mcpgateway.clientconfigs.documents.updateFile}), the backup is written
before the file, a file that cannot be parsed is left untouched with one
warning naming it, and the file's mode and every key the gateway does not
own are kept. No logging: every operation returns an
L{mcpgateway.clientconfigs.reports.EngineReport} of strings.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcpgateway.clientconfigs.backups import (
    Backup,
    backupPathFor,
    backupPaths,
    keptBackups,
    readBackup,
    readBackupOf,
)
from mcpgateway.clientconfigs.bridgecommand import bridgeCommand, defaultBridgeArgv
from mcpgateway.clientconfigs.clients.base import (
    Block,
    ClientAdapter,
    ClientFile,
    Host,
    Unservable,
)
from mcpgateway.clientconfigs.documents import (
    UnparsableError,
    parseDocument,
    readFile,
    updateFile,
)
from mcpgateway.clientconfigs.ignoredkeys import ignoredKeys
from mcpgateway.clientconfigs.jsonfile import (
    ConcurrentWriteError,
    removeFile,
)
from mcpgateway.clientconfigs.location import Location
from mcpgateway.clientconfigs.passes import AdoptionPass, Claims, FilePass, UrlFor
from mcpgateway.clientconfigs.reports import EngineReport, FileReport
from mcpgateway.clientconfigs.restoring import (
    restoreAll,
    restoreFile,
)
from mcpgateway.clientconfigs.timeouts import longest, withClientTimeout, withoutTimeout
from mcpgateway.config.envfiles import expansionEnvironment, readGatewayEnv, readWorkspaceEnv
from mcpgateway.config.problems import IgnoredKeys, RefusedFile
from mcpgateway.config.servers import ConfigError, EntryError, parseEntry
from mcpgateway.runtime.atomicfile import writeFileAtomic


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
        remotes: bool = False,
        gatewayPort: int | None = None,
        ownerHeaders: Mapping[str, str] | None = None,
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
        @param remotes: adopt the remote entries of user files too
            (C{--remote adopt}).
        @param gatewayPort: the port the gateway listens on (C{None}: not
            known yet): a remote entry on a loopback address and this port is
            the gateway itself, never adopted.
        @param ownerHeaders: the headers every HTTP entry written carries
            (the owner token, where the gateway cannot name the account of
            a connection: L{mcpgateway.runtime.ownertoken}); a bridge entry
            carries none (the bridge reads the token itself).
        """
        self.stateDir = Path(os.path.abspath(stateDir))
        self.adapters = list(adapters)
        self.ignored: tuple[IgnoredKeys, ...] = ()
        """The launch keys users added to the gateway's entries, as of the
        last L{adopt} (L{mcpgateway.clientconfigs.ignoredkeys})."""
        self.servedFiles: dict[str, str] = {}
        """The client's file of each entry of the last L{served} document's
        C{mcpServers}, by name: where the user knows it from."""
        self.host = host
        self.projects = [Path(p) for p in projects]
        self.bridgeArgv = list(bridgeArgv) if bridgeArgv is not None else defaultBridgeArgv()
        self.bridgePort = bridgePort
        self.remotes = remotes
        self.gatewayPort = gatewayPort
        self.ownerHeaders = dict(ownerHeaders or {})
        self._environ = os.environ if environ is None else environ
        self._now = now
        self._warned: set[str] = set()
        self._said: dict[str, set[tuple[str, str]]] = {}
        """Per file: the skipped entries last reported (told once, not at every sync)."""
        self._noted: set[str] = set()
        self._declined: set[tuple[str, Location, str]] = set()
        """Shadows the user removed or changed while served: not made again."""
        self.refused: tuple[RefusedFile, ...] = ()
        """The files the last L{adopt} did not adopt, and why (replaced
        whole at the end of each: read from another thread as it is)."""

    def _bridgeCommand(self) -> list[str]:
        return bridgeCommand(self.bridgeArgv, self.bridgePort)

    def _written(
        self, adapter: ClientAdapter, name: str, url: str, original: Any
    ) -> dict[str, Any]:
        """The entry C{adapter}'s client gets in place of C{original}, at
        C{url}: carrying the owner headers, unless it runs the bridge."""
        out = adapter.written(name, url, original, self._bridgeCommand())
        if self.ownerHeaders and not adapter.bridge:
            adapter.withHeaders(out, self.ownerHeaders)
        return out

    # -- what is there -----------------------------------------------------------

    def files(self) -> list[tuple[ClientAdapter, ClientFile]]:
        return [(a, f) for a in self.adapters for f in a.files(self.host, self.projects)]

    def watchedPaths(self) -> list[Path]:
        """The files to watch for L{sync}: every client file found, and the
        project files left out for not being their project's own (one made
        a file of the project is adopted at the reload its change brings)."""
        refused = [p for a in self.adapters for p, _ in a.refusedProjectFiles(self.projects)]
        return list(dict.fromkeys([*(f.path for _, f in self.files()), *refused]))

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
        refused: list[RefusedFile] = []
        ignored: list[IgnoredKeys] = []
        for adapter in self.adapters:
            files = byClient.get(adapter.id, [])
            if not files:
                continue
            why = adapter.policy(self.host, files)
            if why is not None:
                report.skippedClients.append((adapter.id, why))
                refused += [RefusedFile(str(file.path), adapter.id, why) for file in files]
                continue
            todo += [(adapter, file) for file in files]
        for adapter in self.adapters:
            for path, why in adapter.refusedProjectFiles(self.projects):
                self._warn(report, str(path), f"{path} ({adapter.id}) was not adopted: {why}")
                refused.append(RefusedFile(str(path), adapter.id, why))
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
                    refused.append(RefusedFile(str(file.path), adapter.id, fileReport.refused))
                    fileReport = self.restoreFile(adapter, file)
            except (ConfigError, ConcurrentWriteError, OSError, ValueError) as e:
                self._warn(
                    report, str(file.path), f"{file.path} ({adapter.id}) was not adopted: {e}"
                )
                refused.append(RefusedFile(str(file.path), adapter.id, " ".join(str(e).split())))
                self._claimBackedUp(adapter, file, claims)
                continue
            self._warned.discard(str(file.path))
            skips = set(fileReport.skipped)
            fileReport.said = frozenset(self._said.get(str(file.path), set()) & skips)
            self._said[str(file.path)] = skips
            report.files.append(fileReport)
            ignored += [ignoredKeys(n, str(file.path), keys) for n, keys in fileReport.ignored]
            if fileReport.adopted or fileReport.removed or fileReport.restored:
                report.reloads[adapter.id] = adapter.reload
        self.refused = tuple(refused)
        self.ignored = tuple(ignored)
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
        server that holds it). Records of the same server at one route give
        it the longest of their clients' timeouts
        (L{mcpgateway.clientconfigs.timeouts})."""
        return self.served(reserved)[0]

    def served(
        self, reserved: Mapping[tuple[str, str | None], dict[str, Any]] | None = None
    ) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
        """L{servedDocument}, and the file of each entry that comes from a
        project's own file (a version-controlled one: a repository's,
        L{mcpgateway.config.origins}) by C{(workspace, name)}."""
        origins: dict[tuple[str, str], str] = {}
        files: dict[str, str] = {}
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
                if name in servers:  # the same server: the longest timeout wins
                    servers[name] = longest(servers[name], record.served)
                    continue
                servers[name] = copy.deepcopy(record.served)
                if workspace is None and backup is not None:
                    files[name] = backup.configPath
                if workspace is not None and backup is not None and backup.versionControlled:
                    origins[(workspace, name)] = backup.configPath
        self.servedFiles = files
        return document, origins

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

        # A project's file is written only while it is the project's own.
        within = None if file.workspace is None else os.path.realpath(file.workspace)
        updateFile(file.path, change, within=within)
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
        function of C{raw} (it may run again on newer content); see
        L{mcpgateway.clientconfigs.passes}."""
        return AdoptionPass(self, adapter, file, raw, base, kept, urlFor, claims, shadows).run(dry)

    def _served(
        self, adapter: ClientAdapter, name: str, entry: Any, file: ClientFile
    ) -> dict[str, Any] | None:
        """What the gateway serves for C{entry}: a stdio entry, or with
        L{remotes} a remote one (L{ClientAdapter.servedRemote}); C{None}
        when it is neither (left alone without a word). The client's own
        timeout of C{entry} is its request timeout when longer than the
        gateway's (L{withClientTimeout}).

        @raise Unservable: an entry the gateway does not take over."""
        served = adapter.served(name, entry, file, self.host)
        if served is None and self.remotes:
            served = adapter.servedRemote(name, entry, file, self.host)
            if served is not None and pointsAtGateway(str(served["url"]), self.gatewayPort):
                raise Unservable(f"its URL {served['url']} is a gateway's own")
        if served is None:
            return None
        return withClientTimeout(served, adapter.toolTimeout, entry)

    def _servedHere(
        self, adapter: ClientAdapter, name: str, entry: Any, file: ClientFile, block: Block
    ) -> dict[str, Any]:
        """What the gateway serves for an adopted entry, checked again (the
        environment may have changed since).

        @raise Unservable: it cannot be served any more."""
        served = self._served(adapter, name, entry, file)
        if served is None:
            raise Unservable("not a stdio server" if not self.remotes else "not a server")
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
        """Whether C{a} and C{b} are one server: the same once expanded, but
        for their request timeouts (the longest serves both)."""
        a, b = withoutTimeout(a), withoutTimeout(b)
        if a == b:
            return True
        try:
            first = parseEntry(name, a, self._environ, "user", remotes=self.remotes)
            second = parseEntry(name, b, self._environ, "user", remotes=self.remotes)
        except EntryError:
            return False
        return replace(second, executable=first.executable) == first

    def _servable(self, name: str, served: dict[str, Any]) -> bool:
        try:
            parseEntry(name, served, self._environ, "user", remotes=self.remotes)
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
            scope = "user" if block.workspace is None else "local"
            parseEntry(name, served, environ, scope, remotes=self.remotes)
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


_GATEWAY_ROUTE = re.compile(r"/[^/]+/mcp")
_LOOPBACK_NAMES = ("localhost", "::1", "0.0.0.0")


def pointsAtGateway(url: str, port: int | None) -> bool:
    """Whether the remote URL C{url} is a gateway's own: a loopback address
    with the path of a gateway's server route (C{/<name>/mcp}, what
    adoption writes, whichever gateway wrote it), or any path at this
    gateway's C{port} (C{None}: not known yet). Served, such an entry would
    have the gateway call itself, or a gateway that is gone."""
    try:
        parts = urlsplit(url)
        given = parts.port
    except ValueError:
        return False
    host = parts.hostname or ""
    if not (host in _LOOPBACK_NAMES or host.startswith("127.")):
        return False
    if _GATEWAY_ROUTE.fullmatch(parts.path.rstrip("/")) is not None:
        return True
    default = 443 if parts.scheme == "https" else 80
    return port is not None and (default if given is None else given) == port
