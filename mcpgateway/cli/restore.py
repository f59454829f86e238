# -*- test-case-name: tests.cli.test_restore -*-
"""C{mcpgateway restore}: put the stdio entries the gateway adopted back
into the config from the backup in the state directory, and every other
client's file from its backup (L{mcpgateway.clientconfigs.engine.restoreAll})
(what C{stop} does by itself; for after a crash). Refused while the gateway
runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from mcpgateway.cli.clientconfig import printRestore, restoreConfig
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands
from mcpgateway.cli.probe import claudeConfigPath, resolveStateDir
from mcpgateway.clientconfigs.engine import restoreAll
from mcpgateway.ops.statedir import removeState


def cmdRestore(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = ctx.probe(stateDir)
    if found.running:
        raise CliError(
            f"the gateway is running (pid {found.pid}): `mcpgateway stop` stops it"
            " and restores the config"
        )
    configPath = (
        Path(args.config).expanduser().absolute() if args.config else claudeConfigPath(found.state)
    )
    report = restoreConfig(configPath, stateDir, ctx.claudeConfigClass)
    clients = restoreAll(stateDir)
    if found.stale:
        removeState(stateDir)
    ok = not clients.warnings
    if out.json:
        out.emit(
            {
                "ok": ok,
                **report,
                "clients": {
                    "files": [
                        {
                            "client": f.client,
                            "path": f.path,
                            "restored": f.restored,
                            "kept": f.kept,
                            "notes": f.notes,
                        }
                        for f in clients.files
                    ],
                    "warnings": clients.warnings,
                },
            }
        )
    else:
        printRestore(out, report)
        for message in clients.messages():
            out.line(message)
        for warning in clients.warnings:
            out.note(f"mcpgateway: {warning}")
    return 0 if ok else 1


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    restore = commands.add_parser(
        "restore",
        parents=common,
        help="put the backed-up stdio entries back (gateway stopped)",
        description="Put the stdio entries the gateway adopted back into the config, and"
        " into every other client's file, from the backups in the state directory"
        " (what `stop` does by itself; for after a crash). Entries changed since are"
        " kept as they are.",
    )
    restore.add_argument(
        "--config",
        metavar="PATH",
        help="the config to restore (default: the one the gateway served, else ~/.claude.json)",
    )
    restore.set_defaults(handler=cmdRestore)
