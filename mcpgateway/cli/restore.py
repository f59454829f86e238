# -*- test-case-name: tests.cli.test_restore -*-
"""C{mcpgateway restore}: put the stdio entries the gateway adopted back
into the config from the backup in the state directory (what C{stop} does
by itself; for after a crash). Refused while the gateway runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from mcpgateway.cli.clientconfig import printRestore, restoreConfig
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands
from mcpgateway.cli.probe import claudeConfigPath, resolveStateDir
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
    if found.stale:
        removeState(stateDir)
    if out.json:
        out.emit({"ok": True, **report})
    else:
        printRestore(out, report)
    return 0


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    restore = commands.add_parser(
        "restore",
        parents=common,
        help="put the backed-up stdio entries back (gateway stopped)",
        description="Put the stdio entries the gateway adopted back into the config, from"
        " the backup in the state directory (what `stop` does by itself; for"
        " after a crash). Entries changed since are kept as they are.",
    )
    restore.add_argument(
        "--config",
        metavar="PATH",
        help="the config to restore (default: the one the gateway served, else ~/.claude.json)",
    )
    restore.set_defaults(handler=cmdRestore)
