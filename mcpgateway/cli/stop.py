# -*- test-case-name: tests.cli.test_stop -*-
"""C{mcpgateway stop}: SIGTERM to the gateway and wait until it has exited
(it restores the config itself), then check the config and every other
client's file: exit 1, naming the files and the way out, when an entry
still points at the stopped gateway (the Claude config's entries; another
client's backup still holding entries; C{restore-failed.json}). A stale
C{state.json} (the gateway died) is cleaned up after restoring the Claude
config and every other client's file, as C{mcpgateway restore} does.

A gateway that a restart started while its previous process still hands
over (C{state.json}'s C{handingOver}) tells that process to stop too and
waits for it (L{mcpgateway.ops.handover.Successor.stopService}); this
command waits for both, and stops the previous process itself if it is
still there once the gateway has exited: when C{stop} returns, nothing of
the gateway runs, holding children or the state directory's lock."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import struct
from pathlib import Path
from typing import Any

from mcpgateway.cli.clientconfig import (
    LOST_FIX,
    clientFilesProblem,
    readClientConfig,
    restoreCommand,
    restoreEverything,
)
from mcpgateway.cli.context import STOP_TIMEOUT, CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, plural
from mcpgateway.ops.gatewayprobe import (
    GatewayProbe,
    claudeConfigPath,
    removeStalePidFile,
    resolveStateDir,
    twistdPid,
    waitGone,
)
from mcpgateway.ops.statedir import isGatewayProcess, pidAlive, removeState
from mcpgateway.ops.wardenfiles import SOCKET, readKey, wardenWaits
from mcpgateway.ops.wardenrun import STOP
from mcpgateway.runtime.paths import LOG_FILE


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
    warden = stopWardenHeld(ctx, stateDir)
    if out.json:
        out.emit({"ok": True, "stopped": False, "stale": False, "pid": None, "warden": warden})
    else:
        out.line("mcpgateway is not running")
        _sayWarden(out, warden)
    return 0


def _sayWarden(out: Output, warden: int | None) -> None:
    """Say that the warden C{warden} stopped what it kept (C{None}: none did)."""
    if warden is not None:
        out.line(
            f"  the warden (pid {warden}) of the gateway that died stopped the children it"
            " kept for the next start"
        )


PREDECESSOR_STOP_WAIT = 15.0
"""Seconds more C{stop} waits for a gateway whose previous process still
hands over: it waits that long at most for that process to stop too
(L{mcpgateway.ops.handover.STOP_WAIT})."""


def _stopRunning(
    ctx: CliContext, out: Output, stateDir: Path, found: GatewayProbe, pid: int
) -> int:
    pending = found.handingOver
    _terminate(pid)
    timeout = ctx.timeouts.stop + (0.0 if pending is None else PREDECESSOR_STOP_WAIT)
    if not waitGone(pid, timeout, ctx.clock, ctx.sleep):
        raise CliError(
            f"the gateway (pid {pid}) is still running {timeout:.0f} s"
            f" after SIGTERM; see {stateDir / LOG_FILE}, or `kill -KILL {pid}`"
            " then `mcpgateway restore`"
        )
    previous = None if pending is None else pending[0]
    if previous is not None:
        _stopPredecessor(ctx, stateDir, previous)
    removeState(stateDir)  # normally gone already: the gateway removes it
    document: dict[str, Any] = {"ok": True, "stopped": True, "pid": pid}
    if previous is not None:
        document["previousPid"] = previous
    problems: list[str] = []
    if (found.state or {}).get("rewriteConfig"):
        problems = checkRestored(stateDir, found, document)
    if out.json:
        out.emit(document)
    else:
        also = (
            ""
            if previous is None
            else f", and pid {previous}, the previous process of a restart that was still"
            " handing over to it"
        )
        out.line(f"mcpgateway stopped (pid {pid}{also})")
        for problem in problems:
            out.note(f"mcpgateway: {problem}")
    return 1 if problems else 0


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except OSError as e:
        raise CliError(f"cannot stop pid {pid}: {e.strerror}") from None


def _stopPredecessor(ctx: CliContext, stateDir: Path, pid: int) -> None:
    """After the gateway exited: stop its restart's previous process
    C{pid}, which was still handing over to it (the gateway told it to
    stop and waited for it; one still there, an older version that was
    not told, is sent C{SIGTERM}), and wait for it to exit."""
    if not pidAlive(pid) or not isGatewayProcess(pid):
        return
    _terminate(pid)
    timeout = ctx.timeouts.stop
    if not waitGone(pid, timeout, ctx.clock, ctx.sleep):
        raise CliError(
            f"the gateway stopped, but pid {pid}, the previous process of a restart that was"
            f" still handing over to it, is still running {timeout:.0f} s after SIGTERM; see"
            f" {stateDir / LOG_FILE}, or `kill -KILL {pid}` then `mcpgateway restore`"
        )


def _cleanUpStale(ctx: CliContext, out: Output, stateDir: Path, found: GatewayProbe) -> int:
    """Restore what the dead gateway left adopted, as C{mcpgateway restore}
    does (the Claude config, then every other client's file, whatever the
    first did), check that nothing points at it any more, and remove its
    C{state.json} (kept when the Claude config could not be restored: it
    names that file)."""
    what = (
        f"pid {found.pid} is gone" if found.pid is not None else found.stateError or "no pid in it"
    )
    document: dict[str, Any] = {"ok": True, "stopped": False, "stale": True, "pid": found.pid}
    outcome = None
    problems: list[str] = []
    if (found.state or {}).get("rewriteConfig", True) is not False:
        outcome = restoreEverything(claudeConfigPath(found.state), stateDir, ctx.claudeConfigClass)
        document["restore"] = outcome.report
        document["clients"] = outcome.clientsJson()
        if outcome.error is not None:
            document.update(config=str(outcome.configPath))
        problems = checkRestored(
            stateDir,
            found,
            document,
            claude=outcome.error is None,
            others=not outcome.clients.warnings,
        )
        said = [w for w in [*outcome.clients.warnings, outcome.error] if w is not None]
        if said:
            document.update(ok=False, error=said[0], errors=[*said, *problems])
    kept = outcome is not None and outcome.error is not None
    if not kept:
        removeState(stateDir)
        removeStalePidFile(stateDir)
    document["warden"] = warden = stopWardenHeld(ctx, stateDir)
    if out.json:
        out.emit(document)
    else:
        done = "kept it: it names the config to restore" if kept else "removed it"
        out.line(f"mcpgateway was not running (stale state.json: {what}); {done}")
        _sayWarden(out, warden)
        if outcome is not None:
            outcome.print(out)
        for problem in problems:
            out.note(f"mcpgateway: {problem}")
    return 0 if outcome is None or (outcome.ok and not problems) else 1


def checkRestored(
    stateDir: Path,
    found: GatewayProbe,
    document: dict[str, Any],
    claude: bool = True,
    others: bool = True,
) -> list[str]:
    """After the gateway is gone (and its restore ran): what is left pointing
    at it, as error lines; empty when nothing is. C{claude}: check the
    Claude config (its entries pointing at the gateway, or that it cannot
    be read); C{others}: every other client's file (a backup in
    C{client-backups/} that still holds entries) and the marker of a
    failed restore (C{restore-failed.json}; not when it names the Claude
    config whose failure is said). Adds C{config},
    C{viaGateway} (and C{ok}, C{error}, C{errors}) to the JSON
    C{document}."""
    errors: list[str] = []
    claudePath = claudeConfigPath(found.state)
    said: Path | None = claudePath  # its failure is said already (not checked)
    if claude:
        error = _claudeLeft(stateDir, found, document)
        if error is not None:
            errors.append(error)
        else:
            said = None
    if others:
        left = clientFilesProblem(stateDir, said)
        if left is not None:
            errors.append(left)
    if errors:
        document.update(ok=False, error=errors[0], errors=errors)
    return errors


def _claudeLeft(stateDir: Path, found: GatewayProbe, document: dict[str, Any]) -> str | None:
    """What is left in the Claude config pointing at the stopped gateway."""
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
        " back); likewise for every other client's file. A stale state.json (the"
        " gateway died) is cleaned up after restoring the config and every other"
        " client's file. A restart's old process still handing over to the gateway"
        " is stopped too.",
    ).set_defaults(handler=cmdStop)


def stopWardenHeld(ctx: CliContext, stateDir: Path) -> int | None:
    """Have the warden of a gateway that died, which keeps its children on
    C{stateDir} for the next gateway (up to C{--adopt-grace}), stop them
    now: the pid of the warden that did, once it has exited (C{None}: none
    waits, it is another user's, or it did not take the secret). C{stop}
    leaves nothing of the gateway running."""
    secret = readKey(stateDir)
    if not secret or not wardenWaits(stateDir):
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(ctx.timeouts.stop)
        try:
            sock.connect(str(stateDir / SOCKET))
            size = struct.calcsize("3i")
            credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size)
            pid, uid, _ = (int(v) for v in struct.unpack("3i", credentials))
            if uid != os.getuid():
                return None
            sock.sendall(STOP + secret + b"\n")
            while sock.recv(64):  # it closes once it has taken the word
                pass
        except OSError:
            return None
    waitGone(pid, ctx.timeouts.stop, ctx.clock, ctx.sleep)
    return pid
