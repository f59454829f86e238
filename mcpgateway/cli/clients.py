# -*- test-case-name: tests.cli.test_clients -*-
"""C{mcpgateway clients}: every MCP client found on this machine, its files,
which entries the gateway adopted, which it skipped and why, and how each
client picks a change up.

Read only: the files and the backups in the state directory are read with
the adoption engine's own readers (L{mcpgateway.clientconfigs.clients.detect},
L{mcpgateway.clientconfigs.engine.readBackup}); nothing is written, whether
the gateway runs or not.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import Output, Parser, Subcommands, plural
from mcpgateway.cli.probe import claudeConfigPath, resolveStateDir
from mcpgateway.clientconfigs.claude import inspectBackup
from mcpgateway.clientconfigs.clients import ADAPTERS, Found, detect
from mcpgateway.clientconfigs.clients.base import ClientFile, Host, Unservable, isBridgeEntry
from mcpgateway.clientconfigs.clientsource import claudeProjects
from mcpgateway.clientconfigs.documents import UnparsableError, parseDocument
from mcpgateway.clientconfigs.engine import backupPathFor, readBackup
from mcpgateway.config.servers import ConfigError

CLAUDE_RELOAD = "run /mcp in Claude Code and reconnect the server (or start a new session)"


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
    records: dict[str, Any] = {}
    try:
        backup = readBackup(backupPath)
    except ConfigError as e:
        out["error"] = str(e)
    else:
        if backup is not None:
            records = backup.records
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


def clientsReport(stateDir: Path, host: Host, claudePath: Path) -> list[dict[str, Any]]:
    """Every client found: Claude Code first (its own adoption), then each
    adapter's."""
    out: list[dict[str, Any]] = []
    if claudePath.is_file():
        try:
            backedUp: int | None = inspectBackup(stateDir, claudePath)
            error = None
        except (ConfigError, OSError, ValueError) as e:
            backedUp, error = None, str(e)
        out.append(
            {
                "id": "claude-code",
                "title": "Claude Code",
                "reload": CLAUDE_RELOAD,
                "policy": None,
                "files": [
                    {
                        "path": str(claudePath),
                        "scope": "user",
                        "backedUp": backedUp or 0,
                        "error": error,
                    }
                ],
            }
        )
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


def cmdClients(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = ctx.probe(stateDir)
    host = Host(Path.home(), sys.platform, os.environ)
    report = clientsReport(stateDir, host, claudeConfigPath(found.state))
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
            if client["id"] == "claude-code":
                out.line(f"  {f['path']}: {plural(f['backedUp'], 'server')} backed up")
            else:
                where = f" (project {f['workspace']})" if f["workspace"] else ""
                adopted = f["adopted"]
                out.line(
                    f"  {f['path']}{where}: {len(adopted)} adopted"
                    + (f" ({', '.join(adopted)})" if adopted else "")
                    + f", {len(f['skipped'])} skipped, {len(f['other'])} other"
                )
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
