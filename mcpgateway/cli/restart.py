# -*- test-case-name: tests.cli.test_restart -*-
"""C{mcpgateway restart}: the running gateway hands over to a fresh process
of itself, refusing no connection and keeping every session (an upgrade:
C{pip install -U mcpgateway}, then this).

It records this command's C{PATH} in the state directory (the successor
runs with it first: L{mcpgateway.ops.handover.Predecessor}), sends the
gateway C{SIGUSR2} and waits until C{state.json} names the
successor (written once that listens), or the gateway's log says why it did
not take over (the old process then goes on serving). How the hand-over
works: L{mcpgateway.ops.handover}.

A gateway that a restart started and whose previous process still hands
its children over (C{state.json}'s C{handingOver}) restarts once that is
done (L{mcpgateway.startup.handoverwiring.RestartOnSignal}): this command
says so and waits that much longer.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, runningGateway
from mcpgateway.ops.gatewayprobe import resolveStateDir
from mcpgateway.runtime.pathrecord import recordPath
from mcpgateway.runtime.paths import LOG_FILE

FAILED = "restart failed"
"""What the gateway's log says when a successor did not take over."""


def cmdRestart(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = runningGateway(ctx.probe(stateDir))
    old = found.pid
    assert old is not None
    log = stateDir / LOG_FILE
    logStart = _size(log)
    # The successor runs with this command's PATH first (a program installed
    # since the start is found): the gateway reads the record at the signal.
    recordPath(stateDir, os.environ.get("PATH", ""), "restart")
    try:
        os.kill(old, signal.SIGUSR2)
    except ProcessLookupError:
        raise CliError(
            f"the gateway (pid {old}) exited meanwhile; `mcpgateway start` starts it"
        ) from None
    except OSError as e:
        raise CliError(f"cannot signal pid {old}: {e.strerror}") from None
    timeout = ctx.timeouts.start
    pending = found.handingOver
    if pending is not None:
        timeout += pending[1]
        if not out.json:
            out.note(
                f"mcpgateway: the previous restart is still handing over (pid {pending[0]} ->"
                f" {old}): this restart follows once pid {pending[0]} has handed its children"
                f" over and stopped (within {timeout:.0f} s)"
            )
    deadline = ctx.clock() + timeout
    while True:
        now = ctx.probe(stateDir)
        if now.running and now.pid is not None and now.pid != old:
            return _restarted(out, old, now.pid, now.baseUrl(), pending)
        failure = _failureSince(log, logStart)
        if failure is not None:
            raise CliError(f"the gateway did not restart: {failure}")
        if ctx.clock() >= deadline:
            waited = (
                ""
                if pending is None
                else f" (it restarts once pid {pending[0]}, the previous restart's old"
                " process, has stopped)"
            )
            raise CliError(
                f"no successor of the gateway (pid {old}) listened within {timeout:.0f} s"
                f"{waited}; see {log}"
            )
        ctx.sleep(0.05)


def _restarted(
    out: Output, old: int, new: int, url: str, pending: tuple[int, float] | None = None
) -> int:
    if out.json:
        document = {"ok": True, "restarted": True, "pid": new, "previousPid": old, "url": url}
        if pending is not None:
            document["waitedFor"] = pending[0]
        out.emit(document)
    else:
        after = "" if pending is None else f", after pid {pending[0]} had handed over"
        out.line(
            f"mcpgateway restarted: pid {old} -> {new} at {url} (sessions kept{after}; the old"
            " process finishes its open requests, then hands its running children over and"
            " exits)"
        )
    return 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _failureSince(log: Path, offset: int) -> str | None:
    """The first C{restart failed} line the log got after C{offset}, without
    its timestamp and namespace; C{None} if there is none."""
    try:
        with log.open("rb") as f:
            if f.seek(0, os.SEEK_END) < offset:
                offset = 0  # rotated meanwhile
            f.seek(offset)
            text = f.read(1024 * 1024).decode("utf-8", "replace")
    except OSError:
        return None
    for line in text.splitlines():
        at = line.find(FAILED)
        if at >= 0:
            return line[at:]
    return None


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    commands.add_parser(
        "restart",
        parents=common,
        help="restart the gateway without refusing a connection (sessions kept)",
        description="Have the running gateway start a fresh process of itself (same"
        " options, same environment, the code installed now) and hand it the"
        " listening socket: no connection is refused, every session goes on, the"
        " old process finishes the requests it has, then exits. Waits until the new"
        " process listens (while a previous restart still hands over, the gateway"
        " restarts once that one is done, and this waits for it). Under systemd,"
        " `systemctl --user restart mcpgateway` does the same through the socket unit.",
    ).set_defaults(handler=cmdRestart)
