# -*- test-case-name: tests.startup.test_pidfile -*-
"""A second C{twistd mcpgateway} where one already runs, said in the gateway's words.

C{twistd} writes its pid file (C{twistd.pid} in the current directory unless
C{--pidfile} names another) and refuses to start over one whose process
lives, with a message about "another twistd server" that names neither the
gateway nor what to do. L{refuseTakenPidfile} runs while the gateway's
options are checked (L{mcpgateway.startup.options.Options.postOptions}),
which C{twistd} does before its own check (C{checkPID}, when its runner
prepares the application): when the pid file's process lives, it stops the
start with one line saying that a gateway already runs there (its pid, and
its port when the state directory's C{state.json} names that process), and
what to do: C{mcpgateway status}, C{mcpgateway stop}, or another pid file or
directory.

A pid file whose process is gone, a zombie (left where nothing reaps it) or
this very process (a container's PID 1 started again over the file its last
run left) is removed here: C{twistd} would remove only the first kind, and
refuse to start over the other two.

Only files are read (C{/proc} and C{state.json}): nothing here spawns,
listens or opens a file for later, before C{twistd} daemonizes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcpgateway.ops.statedir import isGatewayProcess, pidAlive, readState
from mcpgateway.runtime.paths import defaultStateDir
from mcpgateway.startup.process import refuse


def twistdPidfile(options: Any) -> str | None:
    """The pid file C{twistd} is about to check, as an absolute path:
    C{--pidfile} of the runner whose subcommand C{options} are (C{None}
    under C{twist}, the C{.tac} or a test, which have none, and for
    C{--pidfile=}, which asks for none)."""
    parent = getattr(options, "parent", None)
    if parent is None:
        return None
    try:
        pidfile = parent["pidfile"]
    except KeyError:
        return None
    return os.path.abspath(pidfile) if isinstance(pidfile, str) and pidfile else None


def pidfileRefusal(
    pidfile: str,
    stateDir: Path,
    ownPid: int,
    alive: Callable[[int], bool] = pidAlive,
    isGateway: Callable[[int], bool] = isGatewayProcess,
) -> str | None:
    """Why this gateway may not start over C{pidfile}: its process lives
    (C{None}: it may). A pid file of a process that is gone, a zombie or
    this process itself is removed.

    @param stateDir: this gateway's state directory: when its C{state.json}
        names the pid file's process, the message gives that gateway's port.
    """
    try:
        with open(pidfile) as f:
            pid = int(f.read())
    except (OSError, ValueError):
        return None  # none, or twistd's own message (a value that is no pid)
    if pid == ownPid or not alive(pid):
        with contextlib.suppress(OSError):
            os.remove(pidfile)
        return None
    state = readState(stateDir) or {}
    same = state.get("pid") == pid
    if not (same or isGateway(pid)):
        return (
            f"the pid file {pidfile} belongs to pid {pid}, a running program that is not a"
            " gateway: give this gateway a pid file of its own (twistd --pidfile=mcpgateway.pid"
            " ...) or start it from another directory"
        )
    port = state.get("port") if same else None
    where = f"pid {pid}" + (f", port {port}" if isinstance(port, int) else "")
    if not same:
        return (
            f"a gateway is already running here ({where}; its pid file is {pidfile}):"
            " `mcpgateway status` (with its --state-dir, if it has one) shows it and"
            " `mcpgateway stop` stops it; to run another one as well, give that one a pid"
            " file of its own (twistd --pidfile=other.pid ...) or start it from another"
            " directory"
        )
    default = Path(defaultStateDir()).expanduser().absolute()
    named = "" if stateDir == default else f" --state-dir {stateDir}"
    return (
        f"a gateway is already running here ({where}; its pid file is {pidfile}):"
        f" `mcpgateway status{named}` shows it and `mcpgateway stop{named}` stops it;"
        " to run another one as well, give that one its own --state-dir and --port, and"
        " a pid file of its own (twistd --pidfile=other.pid ...) or another directory"
    )


def refuseTakenPidfile(options: Any) -> None:
    """Stop the start, in one line with exit status 1, when the pid file
    C{twistd} is about to check belongs to a process that runs
    (L{pidfileRefusal}); C{options} are the gateway's, checked."""
    pidfile = twistdPidfile(options)
    if pidfile is None:
        return
    stateDir = Path(options["state-dir"]).expanduser().absolute()
    refusal = pidfileRefusal(pidfile, stateDir, os.getpid())
    if refusal is not None:
        refuse(refusal)
