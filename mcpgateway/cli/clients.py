# -*- test-case-name: tests.cli.test_clients -*-
"""C{mcpgateway clients}: every MCP client found on this machine, its files,
which entries the gateway adopted, which it skipped and why, and how each
client picks a change up.

Claude Code comes first: its config (C{~/.claude.json}, or the running
gateway's), the entries adopted per its backup (user scope, local scope per
project, C{.mcp.json} shadows), the stdio entries not adopted and why, and
whether its policies block the rewrite
(L{mcpgateway.clientconfigs.clients.claudecode.claudeCodePolicy}).

An entry not adopted says why, as the engine decides it: its own checks
(a different server of that name adopted at the same route by a client
before it, in the engine's order), the client's policy, or the running
gateway's rewriting being off (no C{--rewrite-config}) or its C{--clients}
(read from its C{state.json}).

Read only: the files and the backups in the state directory are read with
the adoption engine's own readers (L{mcpgateway.clientconfigs.clients.detect},
L{mcpgateway.clientconfigs.backups.readBackup},
L{mcpgateway.clientconfigs.claude.readClaudeBackup}); nothing is written,
whether the gateway runs or not.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcpgateway.cli.clientconfig import entryLabel
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import Output, Parser, Subcommands, plural
from mcpgateway.clientconfigs.backups import Backup, backupPathFor, backupPaths, readBackup
from mcpgateway.clientconfigs.claude import backupPathFor as claudeBackupPathFor
from mcpgateway.clientconfigs.claude import readClaudeBackup
from mcpgateway.clientconfigs.clients import ADAPTERS, Found, detect, select
from mcpgateway.clientconfigs.clients.base import (
    Block,
    ClientFile,
    Host,
    Unservable,
    isBridgeEntry,
)
from mcpgateway.clientconfigs.clients.claudecode import claudeCodePolicy
from mcpgateway.clientconfigs.clientsource import claudeProjects
from mcpgateway.clientconfigs.documents import UnparsableError, parseDocument
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.clientconfigs.jsonfile import readJson
from mcpgateway.clientconfigs.passes import Claims
from mcpgateway.clientconfigs.restoring import staleFiles
from mcpgateway.config.envfiles import expansionEnvironment, readGatewayEnv, readWorkspaceEnv
from mcpgateway.config.servers import ConfigError, parseConfig
from mcpgateway.config.workspaces import canonicalPath
from mcpgateway.ops.gatewayprobe import GatewayProbe, claudeConfigPath, gatewayUrl, resolveStateDir
from mcpgateway.runtime.paths import DEFAULT_PORT

CLAUDE_RELOAD = "run /mcp in Claude Code and reconnect the server (or start a new session)"
DEFAULT_URL = gatewayUrl(DEFAULT_PORT)


class Routes:
    """The routes adopted, or to be adopted, C{(name, workspace)} -> who and
    what is served there, in the engine's order (Claude Code's first, then
    every client's, user files before project files), and the engine's
    own check of an entry against them
    (L{mcpgateway.clientconfigs.engine.AdoptionEngine._check}: a different
    server of that name at the same route is not adopted)."""

    def __init__(self, stateDir: Path, host: Host) -> None:
        self.engine = AdoptionEngine(stateDir, [], host, bridgeArgv=[], environ=host.environ)
        self.claims: Claims = {}

    def claim(self, name: str, workspace: str | None, who: str, served: dict[str, Any]) -> None:
        self.claims.setdefault((name, workspace), (who, dict(served)))

    def why(self, name: str, served: dict[str, Any], entry: Any, file: ClientFile) -> str | None:
        """Why the engine would not adopt this entry of C{file}, or C{None}."""
        block = Block(file.location, file.workspace)
        try:
            self.engine._check(name, served, entry, block, self.claims)
        except Unservable as e:
            return str(e)
        return None

    def fromBackups(self, stateDir: Path, claudePath: Path) -> None:
        """The routes the backups hold (what a running gateway adopted):
        Claude Code's first, as the engine reserves them."""
        backups: list[tuple[str | None, Backup | None]] = []
        with contextlib.suppress(ConfigError, OSError, ValueError, AttributeError):
            backups.append(("Claude Code", readClaudeBackup(stateDir, claudePath)))
        for path in backupPaths(stateDir):
            with contextlib.suppress(ConfigError):
                backups.append((None, readBackup(path)))
        for who, backup in backups:
            if backup is None:
                continue
            for (location, name), record in backup.records.items():
                workspace = backup.blocks[location].workspace
                by = who or f"{backup.client} ({backup.configPath})"
                self.claim(name, workspace, by, record.served)


NOT_YET = "not adopted (yet): adopted when a gateway adopting it runs"
NO_REWRITE = (
    "not adopted: rewriting is off for the running gateway (it was started without"
    " --rewrite-config)"
)
"""Why a gateway whose C{state.json} says C{"rewriteConfig": false} adopts
nothing. Rewriting is off unless C{--rewrite-config} is given: C{twist} and
C{twistd} without it, and C{mcpgateway start --no-rewrite} (which passes
it otherwise), all look the same in C{state.json}."""


def leftOut(found: GatewayProbe, clientId: str) -> str | None:
    """Why the running gateway does not adopt this client's files: started
    without --rewrite-config, or its --clients (in its state.json) leaves it out;
    C{None} when it adopts them (or no gateway runs)."""
    if not found.running:
        return None
    state = found.state or {}
    if not state.get("rewriteConfig"):
        return NO_REWRITE
    if clientId == "claude-code":
        return None
    spec = state.get("clients", "all")
    if not isinstance(spec, str):
        return None
    try:
        chosen = {adapter.id for adapter in select(spec)}
    except KeyError:
        return None
    if clientId in chosen:
        return None
    which = (
        f"only the clients of --clients {spec}"
        if chosen
        else "no client but Claude Code (--clients none)"
    )
    return (
        f"not adopted: the running gateway adopts {which} (`mcpgateway stop`, then"
        " `mcpgateway start --clients all` adopts it)"
    )


def fileReport(
    stateDir: Path,
    found: Found,
    file: ClientFile,
    host: Host,
    routes: Routes | None = None,
    excluded: str | None = None,
    stale: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One client file: its entries adopted (per its backup), skipped (and
    why: the engine's own checks against C{routes}, the running gateway's
    C{--clients} as C{excluded}), left alone (not stdio), pointing at a
    stopped gateway (C{stale}: name to URL, see L{staleEntries}), and what
    is wrong with it or its backup."""
    adapter = found.adapter
    backupPath = backupPathFor(stateDir, adapter.id, file.path)
    out: dict[str, Any] = {
        "path": str(file.path),
        "scope": file.scope,
        "workspace": file.workspace,
        "versionControlled": file.versionControlled,
        "backup": str(backupPath),
        "adopted": [],
        "skipped": [],
        "other": [],
        "stale": [],
        "error": None,
    }
    records: set[str] = set()
    try:
        backup = readBackup(backupPath)
    except ConfigError as e:
        out["error"] = str(e)
    else:
        if backup is not None:
            records = {name for _, name in backup.records}
    try:
        doc = parseDocument(file.path, file.format, file.path.read_bytes())
        entries = doc.entries(file.location) or []
    except (OSError, UnparsableError, ValueError) as e:
        out["error"] = out["error"] or f"cannot read {file.path}: {e}"
        entries = []
    for name, entry in entries:
        if name in records:
            out["adopted"].append(name)
            continue
        if stale is not None and name in stale:
            out["stale"].append({"name": name, "url": stale[name]})
            continue
        try:
            served = adapter.served(name, entry, file, host)
        except Unservable as e:
            out["skipped"].append({"name": name, "why": str(e)})
            continue
        if served is None or isBridgeEntry(entry):
            out["other"].append(name)
        elif excluded is not None:
            out["skipped"].append({"name": name, "why": excluded})
        elif found.policy is not None:
            out["skipped"].append({"name": name, "why": found.policy})
        else:
            why = None if routes is None else routes.why(name, served, entry, file)
            if why is None and routes is not None:  # would be adopted: its route is taken
                routes.claim(name, file.workspace, f"{adapter.id} ({file.path})", served)
            out["skipped"].append({"name": name, "why": why or NOT_YET})
    return out


def _claudeRecords(stateDir: Path, claudePath: Path) -> dict[tuple[str | None, str], bool]:
    """The entries the backup of C{claudePath} holds, as C{(project or None,
    name)} -> whether the record is a shadow (a local-scope entry the gateway
    added in front of a C{.mcp.json} server), read with the reader C{restore}
    and C{doctor} use (L{readClaudeBackup}, which raises L{ConfigError} for a
    backup restore would reject); empty when there is no backup."""
    backup = readClaudeBackup(stateDir, claudePath)
    if backup is None:
        return {}
    return {
        (backup.blocks[location].workspace, name): record.original is None
        for (location, name), record in backup.records.items()
    }


def _claudeBlocks(data: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """The C{mcpServers} of the user scope, then of each project (local scope)."""
    blocks: list[tuple[str | None, Any]] = [(None, data.get("mcpServers"))]
    projects = data.get("projects")
    if isinstance(projects, dict):
        blocks += [
            (str(p), b.get("mcpServers")) for p, b in projects.items() if isinstance(b, dict)
        ]
    return [(scope, block) for scope, block in blocks if isinstance(block, dict)]


def _notServable(
    stateDir: Path, scope: str | None, name: str, entry: Any, environ: Mapping[str, str]
) -> str | None:
    """Why the gateway cannot serve this stdio entry (as adoption decides:
    a route for its project, L{parseConfig} with the environment and the
    C{.env} files its C{${VAR}}s expand from), or C{None}."""
    if scope is not None:
        try:
            canonicalPath(scope)
        except ValueError as e:
            return f"the project path cannot name a workspace ({e})"
        environ = expansionEnvironment(environ, readGatewayEnv(stateDir), readWorkspaceEnv(scope))
    # A user-scope entry is parsed as one (a relative cwd is the client's own);
    # a project's is checked as a global one: its cwd is the project's.
    kind = "user" if scope is None else "gateway"
    loaded = parseConfig({"mcpServers": {name: entry}}, "", environ, kind)
    if name in loaded.servers:
        return None
    why = loaded.warnings[0] if loaded.warnings else "not a stdio server"
    return why.removeprefix(f"server '{name}' ({kind} scope): ").removesuffix("; skipped")


def claudeReport(
    stateDir: Path,
    host: Host,
    claudePath: Path,
    gatewayUrl: str,
    routes: Routes | None = None,
    excluded: str | None = None,
) -> dict[str, Any]:
    """Claude Code's config (C{~/.claude.json}, or the running gateway's):
    its entries adopted per the backup (user scope, local scope per project,
    C{.mcp.json} shadows), its stdio entries not adopted and why, and
    whether Claude Code's policies block the rewrite; the keys of the other
    clients' reports."""
    file: dict[str, Any] = {
        "path": str(claudePath),
        "scope": "user",
        "workspace": None,
        "versionControlled": False,
        "backup": str(claudeBackupPathFor(stateDir, claudePath)),
        "adopted": [],
        "adoptedCounts": {"user": 0, "local": {}, "shadow": 0},
        "skipped": [],
        "other": [],
        "stale": [],  # Claude Code's own check says (doctor's Claude config line)
        "error": None,
    }
    records: dict[tuple[str | None, str], bool] = {}
    try:
        records = _claudeRecords(stateDir, claudePath)
    except (ConfigError, OSError, ValueError, AttributeError) as e:
        file["error"] = str(e)
    counts = file["adoptedCounts"]
    for (scope, name), shadow in sorted(records.items(), key=lambda i: (i[0][0] or "", i[0][1])):
        if scope is None:
            file["adopted"].append(name)
            counts["user"] += 1
        elif shadow:
            file["adopted"].append(f"{name} (shadow of {Path(scope) / '.mcp.json'})")
            counts["shadow"] += 1
        else:
            file["adopted"].append(entryLabel(name, scope))
            counts["local"][scope] = counts["local"].get(scope, 0) + 1
    try:
        data, _ = readJson(claudePath)
    except ConfigError as e:
        file["error"] = file["error"] or str(e)
        data = {}
    candidates: list[tuple[str, str]] = [(name, f"{gatewayUrl}/{name}/mcp") for _, name in records]
    unadopted: list[tuple[str, str]] = []
    for scope, block in _claudeBlocks(data):
        for name, entry in block.items():
            if (scope, name) in records:
                continue
            label = entryLabel(name, scope)
            stdio = isinstance(entry, dict) and entry.get("type", "stdio") == "stdio"
            if not stdio or "command" not in entry or isBridgeEntry(entry):
                file["other"].append(label)
                continue
            why = _notServable(stateDir, scope, name, entry, host.environ)
            if why is not None:
                file["skipped"].append({"name": label, "why": why})
            else:
                unadopted.append((name, label))
                candidates.append((name, f"{gatewayUrl}/{name}/mcp"))
                if routes is not None and excluded is None:  # served by Claude Code's adoption
                    routes.claim(name, scope, "Claude Code", entry)
    policy = claudeCodePolicy(host, candidates)
    for _, label in unadopted:
        file["skipped"].append({"name": label, "why": excluded or policy or NOT_YET})
    return {
        "id": "claude-code",
        "title": "Claude Code",
        "reload": CLAUDE_RELOAD,
        "policy": policy,
        "files": [file],
    }


def clientsReport(
    stateDir: Path,
    host: Host,
    claudePath: Path,
    gatewayUrl: str = DEFAULT_URL,
    gateway: GatewayProbe | None = None,
) -> list[dict[str, Any]]:
    """Every client found: Claude Code first (its own adoption), then each
    adapter's. An entry not adopted gets the engine's reason, checked in the
    engine's order against the routes adopted (the backups) and to be
    adopted (L{Routes}); a client the running C{gateway} leaves out
    (no C{--rewrite-config}, its C{--clients}) says so (C{"excluded"})."""
    gateway = gateway or GatewayProbe(stateDir)
    routes = Routes(stateDir, host)
    routes.fromBackups(stateDir, claudePath)
    out: list[dict[str, Any]] = []
    if claudePath.is_file():
        excluded = leftOut(gateway, "claude-code")
        claude = claudeReport(stateDir, host, claudePath, gatewayUrl, routes, excluded)
        out.append({**claude, "excluded": excluded})
    detected = detect(host, claudeProjects(claudePath), ADAPTERS)
    stale = staleEntries(stateDir, gateway)
    files: dict[tuple[str, Path], dict[str, Any]] = {}
    # The engine's order: every user file first, then the project files.
    pairs = [(found, file) for found in detected for file in found.files]
    for found, file in sorted(pairs, key=lambda pair: pair[1].workspace is not None):
        excluded = leftOut(gateway, found.adapter.id)
        files[(found.adapter.id, file.path)] = fileReport(
            stateDir,
            found,
            file,
            host,
            routes,
            excluded,
            stale.get(os.path.realpath(file.path), {}),
        )
    for found in detected:
        out.append(
            {
                "id": found.adapter.id,
                "title": found.adapter.title,
                "reload": found.adapter.reload,
                "policy": found.policy,
                "excluded": leftOut(gateway, found.adapter.id),
                "files": [files[(found.adapter.id, f.path)] for f in found.files],
            }
        )
    return out


def staleEntries(stateDir: Path, gateway: GatewayProbe) -> dict[str, dict[str, str]]:
    """Per client file (its real path), the entries a client wrote back from
    a copy it read while a gateway served them, by name, with the URL each
    points at (L{mcpgateway.clientconfigs.restoring.staleFiles}); not those at
    the running gateway's address (it adopts them again)."""
    live = gateway.baseUrl() + "/" if gateway.running else None
    out: dict[str, dict[str, str]] = {}
    for stale in staleFiles(stateDir):
        entries = {
            label: url for label, url in stale.entries if live is None or not url.startswith(live)
        }
        if entries:
            out[os.path.realpath(stale.path)] = entries
    return out


def claudeCounts(counts: dict[str, Any]) -> str:
    """C{N user-scope, N local-scope (in N projects), N .mcp.json shadows}."""
    local: dict[str, int] = counts["local"]
    return (
        f"{counts['user']} user-scope, {sum(local.values())} local-scope"
        f" (in {plural(len(local), 'project')}), {plural(counts['shadow'], '.mcp.json shadow')}"
    )


def cmdClients(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = ctx.probe(stateDir)
    host = Host(Path.home(), sys.platform, os.environ)
    report = clientsReport(stateDir, host, claudeConfigPath(found.state), found.baseUrl(), found)
    if out.json:
        out.emit({"ok": True, "running": found.running, "clients": report})
        return 0
    if not report:
        out.line("no MCP client config found on this machine")
        return 0
    for client in report:
        out.line(f"{client['title']} ({client['id']})")
        if client["policy"]:
            out.line(f"  skipped: {client['policy']}")
        if client.get("excluded"):
            out.line(f"  {client['excluded']}")
        for f in client["files"]:
            where = f" (project {f['workspace']})" if f["workspace"] else ""
            adopted = f["adopted"]
            out.line(
                f"  {f['path']}{where}: {len(adopted)} adopted"
                + (f" ({', '.join(adopted)})" if adopted else "")
                + f", {len(f['skipped'])} skipped, {len(f['other'])} other"
                + (f", {len(f['stale'])} pointing at a stopped gateway" if f.get("stale") else "")
            )
            if "adoptedCounts" in f:
                out.line(f"    adopted: {claudeCounts(f['adoptedCounts'])}")
            for skip in f["skipped"]:
                out.line(f"    {skip['name']}: {skip['why']}")
            for entry in f.get("stale", []):
                out.line(
                    f"    ✗ {entry['name']}: points at {entry['url']}, where no gateway runs (a"
                    " client wrote back a copy it read while the gateway served it):"
                    " `mcpgateway restore` puts its original back (the next start does too)"
                )
            if adopted and f["versionControlled"]:
                out.line(
                    "    a project file, usually under version control: rewritten while"
                    " the gateway runs, restored when it stops"
                )
            if f.get("error"):
                out.line(f"    ✗ {f['error']}")
        out.line(f"  reload: {client['reload']}")
    return 0


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    commands.add_parser(
        "clients",
        parents=common,
        help="list the MCP clients found, their files, and what is adopted",
        description="List every MCP client found on this machine (Claude Code, Cursor,"
        " VS Code, Codex, Gemini CLI, Windsurf, Claude Desktop...), its config files,"
        " the entries the gateway adopted, the ones it skipped and why, and how the"
        " client picks a change up. Reads only.",
    ).set_defaults(handler=cmdClients)
