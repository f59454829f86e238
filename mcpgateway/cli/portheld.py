"""The port C{mcpgateway start} would listen on, held by another socket
(L{portInUse}); held by another account, the user's clients would be
talking to that account (L{putBack}).

A gateway that did not stop cleanly (a crash, a kill, a reboot) leaves
every client entry it adopted pointing at C{127.0.0.1:<port>}, and its
port free for any account on the machine to listen on. The door keeps
other accounts out of the gateway; nothing keeps the user's clients out
of another account's listener. So when C{mcpgateway start} finds the port
held by another account's process (L{mcpgateway.runtime.portuse.listenerUid}),
it puts the adopted entries back as they were (as C{mcpgateway restore}
does) before it refuses (L{putBack}); C{status} and C{doctor} say, for an
entry pointing at a gateway that is not running, which account listens
there instead (L{mcpgateway.cli.clientconfig.clientConfigProblem}), and
C{doctor} advises a start on a port of the user's own (L{startAdvice}).

Standard library only (the command imports no Twisted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcpgateway.cli.clientconfig import restoreEverything
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import Output
from mcpgateway.ops.gatewayprobe import claudeConfigPath
from mcpgateway.runtime import portuse
from mcpgateway.runtime.portuse import PortInUse


def portInUse(out: Output, taken: PortInUse) -> int:
    """Say, in one line (C{--json}: one object), that another socket holds
    the port and whose it is; exit 1."""
    if out.json:
        out.emit(taken.toJson())
    else:
        out.note(f"mcpgateway: {taken.message}")
    return 1


def putBack(out: Output, ctx: CliContext, stateDir: Path, state: dict[str, Any] | None) -> None:
    """Another account holds the port the adopted entries point at: put them
    back (the Claude config, then every other client's file), and say so."""
    outcome = restoreEverything(claudeConfigPath(state), stateDir, ctx.claudeConfigClass)
    if not out.json:
        out.note(
            "mcpgateway: your clients' entries pointed at that port: put back as they were"
            " (as `mcpgateway restore` does), so none of them talks to that account's process"
        )
        outcome.print(out)


def startAdvice(port: int) -> str:
    """The start to advise when no gateway runs: C{`mcpgateway start`},
    or, when another account's process listens on C{port} (where it would
    listen, and C{start} would refuse), a start on another port."""
    foreign = portuse.foreignListener(port)
    if foreign is None:
        return "`mcpgateway start`"
    return (
        f"`mcpgateway start --port PORT` with another port (another account's process"
        f" ({foreign}) listens on {port})"
    )
