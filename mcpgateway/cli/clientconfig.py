# -*- test-case-name: tests.cli.test_status,tests.cli.test_stop,tests.cli.test_restore -*-
"""The client config of a gateway, as C{status}, C{stop}, C{restore} and
C{doctor} look at it: which of its entries point at the gateway, whether a
backup holds their originals, what is wrong and how to fix it; and putting
the backed-up entries back.

The config and its backup are read with the library's readers
(L{mcpgateway.clientconfigs.jsonfile.readJson},
L{mcpgateway.clientconfigs.claude.inspectBackup}, the reader C{restore}
uses); the restore is the library's (C{ClaudeConfig.restore}, then
L{mcpgateway.clientconfigs.restoring.restoreAll} for every other client's
file, whatever the first did: L{restoreEverything}).

The other clients' files are judged by their backups
(C{client-backups/}: one holding entries while no gateway runs means the
file still points at a stopped gateway, L{strandedClientFiles}) and by the
marker a failed restore at stop leaves (C{restore-failed.json},
L{restoreFailureNote}).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcpgateway.cli.output import CliError, Output, plural
from mcpgateway.clientconfigs.backups import (
    Backup,
    backupPaths,
    keptBackups,
    readBackup,
    readRestoreFailure,
)
from mcpgateway.clientconfigs.claude import backupPathFor, readClaudeBackup
from mcpgateway.clientconfigs.clients.claudecode import TOP, projectBlock
from mcpgateway.clientconfigs.jsonfile import readJson
from mcpgateway.clientconfigs.reports import EngineReport
from mcpgateway.clientconfigs.restoring import restoreAll, revivable
from mcpgateway.config.servers import ConfigError
from mcpgateway.ops.gatewayprobe import GatewayProbe, claudeConfigPath, gatewayUrl
from mcpgateway.runtime.paths import DEFAULT_PORT

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _ports(port: int | Collection[int]) -> Collection[int]:
    return (port,) if isinstance(port, int) else port


def _gatewayPort(entry: dict[str, Any], ports: Collection[int]) -> int | None:
    """The port of C{ports} the http entry C{entry} points at on a loopback
    host, or C{None}."""
    if entry.get("type") not in ("http", "streamable-http"):
        return None
    url = entry.get("url", entry.get("serverUrl"))
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    return port if parts.hostname in LOOPBACK and port in ports else None


def _viaGateway(entry: dict[str, Any], port: int | Collection[int]) -> bool:
    return _gatewayPort(entry, _ports(port)) is not None


def _entries(data: dict[str, Any]) -> Iterator[tuple[str, str | None, Any]]:
    """Every C{mcpServers} entry (user scope, then every project) as
    C{(name, project or None, entry)}."""
    blocks: list[tuple[str | None, Any]] = [(None, data.get("mcpServers"))]
    projects = data.get("projects")
    if isinstance(projects, dict):
        blocks += [
            (str(path), project.get("mcpServers"))
            for path, project in projects.items()
            if isinstance(project, dict)
        ]
    for scope, block in blocks:
        if isinstance(block, dict):
            for name, entry in block.items():
                yield str(name), scope, entry


def entryLabel(name: str, scope: str | None) -> str:
    return name if scope is None else f"{name} (project {scope})"


def classifyEntries(data: dict[str, Any], port: int | Collection[int]) -> dict[str, int]:
    """Counts of C{mcpServers} entries (user scope and every project): via
    the gateway on C{port} (or on any of these ports), stdio, other."""
    counts = {"gateway": 0, "stdio": 0, "other": 0}
    for _, _, entry in _entries(data):
        if isinstance(entry, dict) and _viaGateway(entry, port):
            counts["gateway"] += 1
        elif (
            isinstance(entry, dict) and entry.get("type", "stdio") == "stdio" and "command" in entry
        ):
            counts["stdio"] += 1
        else:
            counts["other"] += 1
    return counts


def gatewayEntries(data: dict[str, Any], port: int | Collection[int]) -> list[str]:
    """The entries pointing at the gateway on C{port} (or on any of these
    ports), as C{name} or C{name (project P)}."""
    return [
        entryLabel(name, scope)
        for name, scope, entry in _entries(data)
        if isinstance(entry, dict) and _viaGateway(entry, port)
    ]


@dataclass
class ClientConfig:
    """The client config of a gateway (the one in its C{state.json}, else
    C{~/.claude.json}): its entries pointing at the gateway, and its backup
    as the library's reader (the one C{restore} uses) sees it."""

    path: Path
    url: str
    """The gateway the entries point at: the first of L{urls} that an entry
    points at (the first of L{urls} when none does)."""
    backupPath: Path
    urls: list[str] = field(default_factory=list)
    """The gateways the entries are checked against: the one of
    C{state.json}; without one, those the backups of the config record
    having written (where this state directory's gateway last listened,
    newest first) and the default port's."""
    exists: bool = False
    error: str | None = None
    """Why the config cannot be read (it exists)."""
    counts: dict[str, int] = field(default_factory=lambda: {"gateway": 0, "stdio": 0, "other": 0})
    viaGateway: list[str] = field(default_factory=list)
    keptKnows: list[str] = field(default_factory=list)
    """The entries of L{viaGateway} a kept backup (C{config-backup.json.1}...)
    holds the original of: C{restore} puts them back even with no backup."""
    backupServers: int | None = None
    """Servers in the backup; C{None}: no usable backup."""
    backupError: str | None = None
    """Why C{restore} would reject the backup."""

    @property
    def lost(self) -> list[str]:
        """The entries of L{viaGateway} whose original neither the backup
        nor a kept one holds (none when the backup is usable: it is taken to
        hold them, as before)."""
        if self.backupServers is not None:
            return []
        return [e for e in self.viaGateway if e not in self.keptKnows]

    @property
    def noBackup(self) -> str | None:
        """Why no usable backup holds the originals, or C{None} if one does
        (the backup, or for every entry pointing at the gateway, a kept one)."""
        if self.backupServers is not None or (self.viaGateway and not self.lost):
            return None
        return self.backupError or f"there is no {self.backupPath}"

    def toJson(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "url": self.url,
            "urls": self.urls,
            "keptKnows": self.keptKnows,
            "exists": self.exists,
            "error": self.error,
            "counts": self.counts,
            "viaGateway": self.viaGateway,
            "backup": {
                "path": str(self.backupPath),
                "servers": self.backupServers,
                "error": self.backupError,
            },
        }


def readClientConfig(stateDir: Path, found: GatewayProbe) -> ClientConfig:
    """Read the client config and its backups with the library's readers.

    With no port in C{state.json} (a gateway stopped cleanly removes it),
    the entries are checked against every gateway the backup and its kept
    copies record having written (L{recordedGateways}) as well as the
    default port's: a copy of the config written back after the stop points
    at the port the gateway last listened on, whichever it was."""
    path = claudeConfigPath(found.state)
    backupPath = backupPathFor(stateDir, path)
    backup: Backup | None = None
    backupError: str | None = None
    try:
        backup = readClaudeBackup(stateDir, path)
    except (ConfigError, OSError, ValueError) as e:
        backupError = str(e)
    kept = keptBackups(backupPath)
    gateways: dict[int, str] = {}
    if found.port is None:
        gateways.update(recordedGateways([b for b in (backup,) if b is not None] + kept))
    gateways.setdefault(found.port or DEFAULT_PORT, found.baseUrl())
    report = ClientConfig(path, next(iter(gateways.values())), backupPath, list(gateways.values()))
    report.backupError = backupError
    report.backupServers = None if backup is None else len(backup.records)
    if path.exists():
        report.exists = True
        try:
            data, _ = readJson(path)
        except ConfigError as e:
            report.error = str(e)
        else:
            report.counts = classifyEntries(data, gateways)
            hits: list[int] = []
            for name, scope, entry in _entries(data):
                port = _gatewayPort(entry, gateways) if isinstance(entry, dict) else None
                if port is None:
                    continue
                hits.append(port)
                label = entryLabel(name, scope)
                report.viaGateway.append(label)
                location = TOP if scope is None else projectBlock(scope)
                if revivable(kept, location, name, entry) is not None:
                    report.keptKnows.append(label)
            if hits:
                report.url = gateways[min(hits, key=list(gateways).index)]
    return report


def recordedGateways(backups: list[Backup]) -> dict[int, str]:
    """The loopback gateways (by port: C{http://127.0.0.1:PORT}) the
    records of C{backups} point at, in their order, each once."""
    out: dict[int, str] = {}
    for backup in backups:
        for record in backup.records.values():
            try:
                parts = urlsplit(record.url)
                port = parts.port
            except ValueError:
                continue
            if parts.hostname in LOOPBACK and port is not None and port not in out:
                out[port] = gatewayUrl(port, parts.hostname, parts.scheme == "https")
    return out


def restoreCommand(config: ClientConfig) -> str:
    """C{mcpgateway restore}, with C{--config} unless it is the default file."""
    if config.path == claudeConfigPath(None):
        return "`mcpgateway restore`"
    return f"`mcpgateway restore --config {config.path}`"


LOST_FIX = (
    "re-add {entries} with `claude mcp add NAME -- COMMAND [ARGS...]`, or copy their"
    " stdio entries from your own copy of {path} over the gateway's"
)


def foreignAt(url: str) -> str | None:
    """Who listens at the gateway URL C{url} when it is another account
    (C{"uid 1002, bob"}: L{mcpgateway.runtime.portuse.foreignListener});
    C{None} when it is this one, nobody, or not known."""
    from mcpgateway.runtime.portuse import foreignListener

    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return foreignListener(port, parts.hostname or "127.0.0.1")


def clientConfigProblem(config: ClientConfig, found: GatewayProbe) -> tuple[str, str] | None:
    """What is wrong with the config's entries pointing at the gateway, as
    C{(message, fix)}; C{None} when nothing is."""
    count = len(config.viaGateway)
    if not count:
        return None
    entries = plural(count, "entry points", "entries point")
    stopped = "" if found.running else ", where the gateway is not running"
    foreign = None if found.running else foreignAt(config.url)
    if foreign is not None:
        return (
            f"{entries} at {config.url}{stopped}, and another account's process ({foreign})"
            " listens there: your clients talk to it",
            f"{restoreCommand(config)} now, to put the stdio entries back; then"
            " `mcpgateway start --port PORT` with another port",
        )
    if (found.state or {}).get("rewriteConfig", True) is False:
        # A gateway that does not adopt: the user pointed them at it.
        if found.running:
            return None
        option = "" if config.path == claudeConfigPath(None) else f" --config {config.path}"
        return (
            f"{entries} at {config.url}{stopped}",
            f"start it again as before: `mcpgateway start --no-rewrite{option}`",
        )
    lost = config.noBackup
    if lost is None:
        if found.running:
            return None
        return (
            f"{entries} at {config.url}{stopped}",
            f"run `mcpgateway start` to serve them again, or {restoreCommand(config)} to"
            " put the stdio entries back",
        )
    fix = LOST_FIX.format(entries=", ".join(config.lost), path=config.path)
    if config.keptKnows:
        # A kept backup knows some of them: restore puts those back.
        fix += f"; {restoreCommand(config)} puts back {', '.join(config.keptKnows)}"
    if not found.running:
        fix += (
            "; entries you pointed at the gateway yourself work again once it runs"
            " (`mcpgateway start`)"
        )
    whose = f"the originals of {', '.join(config.lost)}" if config.keptKnows else "their originals"
    return (
        f"{entries} at {config.url}{stopped}, and no usable backup holds"
        f" {whose} ({lost}): `mcpgateway restore` cannot put them back",
        fix,
    )


def restoreConfig(
    configPath: Path, stateDir: Path, configClass: Callable[[], Any]
) -> dict[str, Any]:
    """Put the backed-up stdio entries back into C{configPath}, with the
    class C{configClass()} returns (C{ClaudeConfig})."""
    try:
        report = configClass()(configPath, stateDir).restore()
    except CliError:
        raise
    except Exception as e:
        raise CliError(f"cannot restore {configPath}: {e}") from None
    return {
        "config": str(configPath),
        "restored": list(getattr(report, "restored", [])),
        "kept": list(getattr(report, "kept", [])),
        "notes": list(getattr(report, "notes", [])),
    }


def printRestore(out: Output, report: dict[str, Any]) -> None:
    restored, kept = report["restored"], report["kept"]
    if restored:
        out.line(
            f"restored {plural(len(restored), 'server')} in {report['config']}:"
            f" {', '.join(restored)}"
        )
    elif not report["notes"]:
        out.line(f"nothing to restore in {report['config']}")
    if kept:
        out.line(f"kept as they are: {', '.join(kept)}")
    for note in report["notes"]:
        out.line(f"  {note}")


@dataclass
class RestoreOutcome:
    """What L{restoreEverything} did: the Claude config's restore report (or
    why it failed), and the other clients' files."""

    configPath: Path
    report: dict[str, Any] | None
    """L{restoreConfig}'s report; C{None} when it failed (L{error})."""
    error: str | None
    clients: EngineReport

    @property
    def ok(self) -> bool:
        return self.error is None and not self.clients.warnings

    def clientsJson(self) -> dict[str, Any]:
        return {
            "files": [
                {
                    "client": f.client,
                    "path": f.path,
                    "restored": f.restored,
                    "kept": f.kept,
                    "notes": f.notes,
                }
                for f in self.clients.files
            ],
            "warnings": self.clients.warnings,
        }

    def print(self, out: Output) -> None:
        """The Claude config's lines, then the other clients' (their
        failures as notes on stderr, the Claude config's last)."""
        if self.report is not None:
            printRestore(out, self.report)
        for message in self.clients.messages():
            out.line(message)
        for warning in self.clients.warnings:
            out.note(f"mcpgateway: {warning}")
        if self.error is not None:
            out.note(f"mcpgateway: {self.error}")


def restoreEverything(
    configPath: Path, stateDir: Path, configClass: Callable[[], Any]
) -> RestoreOutcome:
    """Restore the Claude config (L{restoreConfig}), then every other
    client's file (L{restoreAll}) even when the first failed: an unparsable
    C{~/.claude.json} must not leave Cursor, VS Code... pointed at a stopped
    gateway. The Claude config's failure is said once (the engine's own
    warning about that file is dropped), with the way out."""
    report: dict[str, Any] | None = None
    error: str | None = None
    library = configClass()  # no library to restore with: one line, as before
    try:
        report = restoreConfig(configPath, stateDir, lambda: library)
    except CliError as e:
        error = e.message
    clients = restoreAll(stateDir)
    if error is not None:
        same = {str(configPath), os.path.realpath(configPath)}
        clients.warnings = [w for w in clients.warnings if _warningPath(w) not in same]
        done = (
            "; the other clients' files were restored"
            if not clients.warnings
            else "; the other clients' files were tried"
        )
        error += f" (fix it, then run `mcpgateway restore` again{done})"
    return RestoreOutcome(configPath, report, error, clients)


def _warningPath(warning: str) -> str | None:
    """The client file a warning of L{restoreAll} names."""
    prefix = "could not restore "
    if warning.startswith(prefix):
        return warning[len(prefix) :].split(" (", 1)[0]
    return None


def strandedClientFiles(stateDir: Path) -> list[str]:
    """The other clients' files whose backup (C{client-backups/}) still
    holds adopted entries, as C{path (client): names}, and the backups
    C{restore} could not read (their reason). While no gateway runs, each
    of these files points at a stopped gateway. A few small reads: fast."""
    out: list[str] = []
    for path in backupPaths(stateDir):
        try:
            backup = readBackup(path)
        except ConfigError as e:
            out.append(str(e))
            continue
        if backup is not None and backup.records:
            out.append(f"{backup.configPath} ({backup.client}): {', '.join(backup.names())}")
    return out


def restoreFailureNote(stateDir: Path) -> str | None:
    """What C{restore-failed.json} says (a restore at stop that failed), as
    C{the gateway could not restore PATH (why)}, or C{None}."""
    failure = readRestoreFailure(stateDir)
    if failure is None:
        return None
    config = failure.get("config")
    error = failure.get("error")
    what = config if isinstance(config, str) and config else "a client file"
    why = f" ({' '.join(str(error).split())[:300]})" if error else ""
    return f"the gateway could not restore {what}{why}"


def clientFilesProblem(stateDir: Path, said: Path | None = None) -> str | None:
    """The other clients' files left pointing at a stopped gateway
    (L{strandedClientFiles}) and the marker of a failed restore
    (L{restoreFailureNote}; not when it names C{said}, a file whose failure
    was said already), as one error line with the way out; C{None} when
    neither is there."""
    stranded = strandedClientFiles(stateDir)
    failure = restoreFailureNote(stateDir)
    marker = readRestoreFailure(stateDir) or {}
    named = marker.get("config")
    if (
        said is not None
        and isinstance(named, str)
        and os.path.realpath(named) == os.path.realpath(said)
    ):
        failure = None
    if not stranded and failure is None:
        return None
    if not stranded:
        return (
            f"{failure}; its entries may still point at the stopped gateway:"
            " `mcpgateway restore` puts them back once the file is quiet"
        )
    files = plural(len(stranded), "client file still points", "client files still point")
    message = (
        f"{files} at the stopped gateway: {'; '.join(stranded)};"
        " `mcpgateway restore` puts their stdio entries back"
    )
    if failure is not None:
        message += f" ({failure})"
    return message
