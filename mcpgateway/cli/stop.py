# -*- test-case-name: tests.cli.test_stop -*-
"""C{mcpgateway stop}: SIGTERM to the gateway and wait until it has exited
(it restores the config itself), then check the config: exit 1, naming the
file and the way out, when an entry still points at the stopped gateway. A
stale C{state.json} (the gateway died) is cleaned up after restoring the
config."""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path
from typing import Any

from mcpgateway.cli.clientconfig import (
    LOST_FIX,
    printRestore,
    readClientConfig,
    restoreCommand,
    restoreConfig,
)
from mcpgateway.cli.context import STOP_TIMEOUT, CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, plural
from mcpgateway.cli.probe import (
    GatewayProbe,
    claudeConfigPath,
    removeStalePidFile,
    resolveStateDir,
    twistdPid,
    waitGone,
)
from mcpgateway.ops.statedir import removeState
from mcpgateway.paths import LOG_FILE


def cmdStop(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = ctx.probe(stateDir)
    pid = found.pid if found.running else None
    if pid is None and found.state is None and found.stateError is None:
        pid = twistdPid(stateDir)
    if pid is not None:
        return _stopRunning(ctx, out, stateDir, found, pid)
    if found.stale:
        return _cleanUpStale(ctx, out, stateDir, found)
    if out.json:
        out.emit({"ok": True, "stopped": False, "stale": False, "pid": None})
    else:
        out.line("mcpgateway is not running")
    return 0


def _stopRunning(
    ctx: CliContext, out: Output, stateDir: Path, found: GatewayProbe, pid: int
) -> int:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except OSError as e:
        raise CliError(f"cannot stop pid {pid}: {e.strerror}") from None
    timeout = ctx.timeouts.stop
    if not waitGone(pid, timeout, ctx.clock, ctx.sleep):
        raise CliError(
            f"the gateway (pid {pid}) is still running {timeout:.0f} s"
            f" after SIGTERM; see {stateDir / LOG_FILE}, or `kill -KILL {pid}`"
            " then `mcpgateway restore`"
        )
    removeState(stateDir)  # normally gone already: the gateway removes it
    document: dict[str, Any] = {"ok": True, "stopped": True, "pid": pid}
    leftover = None
    if (found.state or {}).get("rewriteConfig"):
        leftover = checkRestored(stateDir, found, document)
    if out.json:
        out.emit(document)
    else:
        out.line(f"mcpgateway stopped (pid {pid})")
        if leftover:
            out.note(f"mcpgateway: {leftover}")
    return 0 if leftover is None else 1


def _cleanUpStale(ctx: CliContext, out: Output, stateDir: Path, found: GatewayProbe) -> int:
    what = (
        f"pid {found.pid} is gone" if found.pid is not None else found.stateError or "no pid in it"
    )
    document: dict[str, Any] = {"ok": True, "stopped": False, "stale": True, "pid": found.pid}
    report = None
    leftover = None
    if (found.state or {}).get("rewriteConfig", True) is not False:
        report = restoreConfig(claudeConfigPath(found.state), stateDir, ctx.claudeConfigClass)
        document["restore"] = report
        leftover = checkRestored(stateDir, found, document)
    removeState(stateDir)
    removeStalePidFile(stateDir)
    if out.json:
        out.emit(document)
    else:
        out.line(f"mcpgateway was not running (stale state.json: {what}); removed it")
        if report is not None:
            printRestore(out, report)
        if leftover:
            out.note(f"mcpgateway: {leftover}")
    return 0 if leftover is None else 1


def checkRestored(stateDir: Path, found: GatewayProbe, document: dict[str, Any]) -> str | None:
    """After the gateway is gone (and its restore ran): what is left in the
    config pointing at it, as an error line; C{None} when nothing is. Adds
    C{config}, C{viaGateway} (and C{ok}, C{error}) to the JSON C{document}."""
    config = readClientConfig(stateDir, found)
    document.update(config=str(config.path), viaGateway=config.viaGateway)
    error = None
    if config.error is not None:
        error = (
            f"cannot check that {config.path} was restored: {config.error}; fix it, then"
            f" {restoreCommand(config)}"
        )
    elif config.viaGateway:
        entries = plural(len(config.viaGateway), "entry", "entries")
        error = (
            f"{config.path} still has {entries} pointing at the stopped gateway"
            f" {config.url}: {', '.join(config.viaGateway)}; "
        )
        lost = config.noBackup
        if lost is None:
            error += (
                f"{restoreCommand(config)} puts the stdio entries back (the log,"
                f" {stateDir / LOG_FILE}, says why the gateway did not)"
            )
        else:
            error += (
                f"no usable backup holds their originals ({lost}), so"
                " `mcpgateway restore` cannot put them back: "
                + LOST_FIX.format(entries="them", path=config.path)
            )
    if error is not None:
        document.update(ok=False, error=error)
    return error


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    commands.add_parser(
        "stop",
        parents=common,
        help="stop the gateway (it restores the config)",
        description="Send the gateway SIGTERM and wait until it has exited (at most"
        f" {STOP_TIMEOUT:.0f} s); it puts the config's stdio entries back"
        " itself. Then check the config: exit 1, naming the file, if an entry"
        " still points at the stopped gateway (`mcpgateway restore` puts them"
        " back). A stale state.json (the gateway died) is cleaned up after"
        " restoring the config.",
    ).set_defaults(handler=cmdStop)
