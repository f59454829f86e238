# -*- test-case-name: tests.cli.test_restore -*-
"""C{mcpgateway restore}: put the stdio entries the gateway adopted back
into the config from the backup in the state directory, and every other
client's file from its backup (L{mcpgateway.clientconfigs.restoring.restoreAll})
(what C{stop} does by itself; for after a crash). Refused while the gateway
runs. The other clients' files are restored even when the Claude config
cannot be (L{mcpgateway.cli.clientconfig.restoreEverything}); any failure
is said, and the exit status is 1. A client file no longer adopted whose
entries a client wrote back from a copy it read while a gateway served
them (they point at a stopped gateway) gets their originals back from the
kept backups (L{mcpgateway.clientconfigs.restoring.reviveStale}), as the next
C{start} would."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mcpgateway.cli.clientconfig import restoreEverything
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands
from mcpgateway.clientconfigs.restoring import reviveStale
from mcpgateway.ops.gatewayprobe import claudeConfigPath, resolveStateDir
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
    # Every other client's file is restored even when the Claude config
    # cannot be (unparsable, say); then the failure is said, exit 1.
    outcome = restoreEverything(configPath, stateDir, ctx.claudeConfigClass)
    stale = reviveStale(stateDir)  # the stale copies of files no longer adopted
    outcome.clients.files += stale.files
    outcome.clients.warnings += stale.warnings
    if found.stale and outcome.error is None:
        removeState(stateDir)  # kept otherwise: it names the config still to restore
    if out.json:
        document: dict[str, Any] = {"ok": outcome.ok}
        if outcome.report is not None:
            document.update(outcome.report)
        else:
            document.update(config=str(configPath), error=outcome.error)
        document["clients"] = outcome.clientsJson()
        out.emit(document)
    else:
        outcome.print(out)
    return 0 if outcome.ok else 1


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
