# -*- test-case-name: tests.cli.test_clients -*-
"""C{mcpgateway clients}: every MCP client found on this machine, its files,
which entries the gateway adopted, which it skipped and why, and how each
client picks a change up.

Claude Code comes first: its config (C{~/.claude.json}, or the running
gateway's), the entries adopted per its backup (user scope, local scope per
project, C{.mcp.json} shadows), the stdio entries not adopted and why, and
whether its policies block the rewrite
(L{mcpgateway.clientconfigs.clients.claudecode.claudeCodePolicy}).

Read only: the files and the backups in the state directory are read with
the adoption engine's own readers (L{mcpgateway.clientconfigs.clients.detect},
L{mcpgateway.clientconfigs.engine.readBackup},
L{mcpgateway.clientconfigs.claude.readClaudeBackup}); nothing is written,
whether the gateway runs or not.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcpgateway.cli.clientconfig import entryLabel
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import Output, Parser, Subcommands, plural
from mcpgateway.cli.probe import claudeConfigPath, gatewayUrl, resolveStateDir
from mcpgateway.clientconfigs.claude import backupPathFor as claudeBackupPathFor
from mcpgateway.clientconfigs.claude import readClaudeBackup
from mcpgateway.clientconfigs.clients import ADAPTERS, Found, detect
from mcpgateway.clientconfigs.clients.base import ClientFile, Host, Unservable, isBridgeEntry
from mcpgateway.clientconfigs.clients.claudecode import claudeCodePolicy
from mcpgateway.clientconfigs.clientsource import claudeProjects
from mcpgateway.clientconfigs.documents import UnparsableError, parseDocument
from mcpgateway.clientconfigs.engine import backupPathFor, readBackup
from mcpgateway.clientconfigs.jsonfile import readJson
from mcpgateway.config.envfiles import expansionEnvironment, readGatewayEnv, readWorkspaceEnv
from mcpgateway.config.servers import ConfigError, parseConfig
from mcpgateway.config.workspaces import canonicalPath
from mcpgateway.paths import DEFAULT_PORT

CLAUDE_RELOAD = "run /mcp in Claude Code and reconnect the server (or start a new session)"
DEFAULT_URL = gatewayUrl(DEFAULT_PORT)


def fileReport(stateDir: Path, found: Found, file: ClientFile, host: Host) -> dict[str, Any]:
    """One client file: its entries adopted (per its backup), skipped (and
    why), left alone (not stdio), and what is wrong with it or its backup."""
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
        try:
            served = adapter.served(name, entry, file, host)
        except Unservable as e:
            out["skipped"].append({"name": name, "why": str(e)})
            continue
        if served is None or isBridgeEntry(entry):
            out["other"].append(name)
        elif found.policy is not None:
            out["skipped"].append({"name": name, "why": found.policy})
        else:
            out["skipped"].append(
                {"name": name, "why": "not adopted (yet): adopted when a gateway adopting it runs"}
            )
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
    loaded = parseConfig({"mcpServers": {name: entry}}, "", environ)
    if name in loaded.servers:
        return None
    why = loaded.warnings[0] if loaded.warnings else "not a stdio server"
    return why.removeprefix(f"server '{name}' (gateway scope): ").removesuffix("; skipped")


def claudeReport(stateDir: Path, host: Host, claudePath: Path, gatewayUrl: str) -> dict[str, Any]:
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
    policy = claudeCodePolicy(host, candidates)
    for _, label in unadopted:
        file["skipped"].append(
            {
                "name": label,
                "why": policy or "not adopted (yet): adopted when a gateway adopting it runs",
            }
        )
    return {
        "id": "claude-code",
        "title": "Claude Code",
        "reload": CLAUDE_RELOAD,
        "policy": policy,
        "files": [file],
    }


def clientsReport(
    stateDir: Path, host: Host, claudePath: Path, gatewayUrl: str = DEFAULT_URL
) -> list[dict[str, Any]]:
    """Every client found: Claude Code first (its own adoption), then each
    adapter's."""
    out: list[dict[str, Any]] = []
    if claudePath.is_file():
        out.append(claudeReport(stateDir, host, claudePath, gatewayUrl))
    for found in detect(host, claudeProjects(claudePath), ADAPTERS):
        out.append(
            {
                "id": found.adapter.id,
                "title": found.adapter.title,
                "reload": found.adapter.reload,
                "policy": found.policy,
                "files": [fileReport(stateDir, found, f, host) for f in found.files],
            }
        )
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
    report = clientsReport(stateDir, host, claudeConfigPath(found.state), found.baseUrl())
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
        for f in client["files"]:
            where = f" (project {f['workspace']})" if f["workspace"] else ""
            adopted = f["adopted"]
            out.line(
                f"  {f['path']}{where}: {len(adopted)} adopted"
                + (f" ({', '.join(adopted)})" if adopted else "")
                + f", {len(f['skipped'])} skipped, {len(f['other'])} other"
            )
            if "adoptedCounts" in f:
                out.line(f"    adopted: {claudeCounts(f['adoptedCounts'])}")
            for skip in f["skipped"]:
                out.line(f"    {skip['name']}: {skip['why']}")
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
