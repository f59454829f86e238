# -*- test-case-name: tests.cli.test_childexits,tests.cli.test_cli_properties -*-
"""C{doctor}'s check of the servers whose children exited unexpectedly and
run again (L{checkChildExits}): a server C{/health} says is C{degraded} (a
child failed within the last 5 minutes, one runs again) or C{restarting}
(a shared child died and is being started again) is a ✗, with how many
exits and restarts, the last exit the gateway recorded (C{lastExit}: why
it killed a child, or how the child ended and the last lines it wrote to
stderr) and C{mcpgateway logs NAME} to read the rest; one whose children
failed earlier and runs well since is a ○ with the same line.

A server the health check fails already (its C{error}, or a last child
that failed with none running since: L{mcpgateway.cli.checks.lastFailure})
is left to that check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcpgateway.cli.checks import Check, DoctorContext, lastFailure, notChecked
from mcpgateway.cli.health import count, healthServers
from mcpgateway.cli.output import plural

RECENT_STATES = ("degraded", "restarting")
"""The states of a server whose child failed lately (docs/guide/operations.md,
"Server states and self-healing")."""
NAMED = 3
"""Servers whose C{mcpgateway logs} the fix names at most."""
LONG_LINE = "stdout line of"
"""In a C{lastExit}: the gateway killed the child for a line over C{--max-line}."""


def exitLine(name: str, server: Mapping[str, Any]) -> str:
    """One server under the check: C{filesystem: degraded, 5 unexpected
    exits, 5 restarts; last: killed by the gateway: it wrote ...}."""
    parts = [str(server.get("state") or "?")]
    failures, restarts = count(server.get("failures")), count(server.get("restarts"))
    if failures:
        parts.append(plural(failures, "unexpected exit"))
    if restarts:
        parts.append(plural(restarts, "restart"))
    line = f"{name}: {', '.join(parts)}"
    lastExit = server.get("lastExit")
    if isinstance(lastExit, str) and lastExit:
        line += f"; last: {lastExit}"
    return line


def exitsFix(names: list[str], servers: Mapping[str, Mapping[str, Any]]) -> str:
    """What to do: read why in each server's log; for a child killed for a
    long stdout line, the bound that did it."""
    logs = " and ".join(f"`mcpgateway logs {name} --no-follow`" for name in names[:NAMED])
    more = f" (and the same for {', '.join(names[NAMED:])})" if len(names) > NAMED else ""
    shows = "shows" if len(names) == 1 else "show"
    fix = (
        f"{logs} {shows} each exit and what the child wrote before it{more}; the gateway starts"
        " a child again on its own, and the server is running again 5 minutes after its last"
        " failure"
    )
    long = [n for n in names if LONG_LINE in str(servers[n].get("lastExit") or "")]
    if long:
        fix += (
            f"; {', '.join(long)} wrote a stdout line over the gateway's --max-line: a tool"
            " that answers this much needs a larger one (docs/guide/limits.md)"
        )
    return fix


def checkChildExits(ctx: DoctorContext) -> Check:
    """Servers whose children exited unexpectedly (see the module)."""
    if ctx.health is None:
        return notChecked(ctx, "Child exits")
    servers = healthServers(ctx.health)
    failing = {name for name, s in servers.items() if s.get("error") or lastFailure(s) is not None}
    recent = sorted(
        name
        for name, server in servers.items()
        if name not in failing and server.get("state") in RECENT_STATES
    )
    earlier = sorted(
        name
        for name, server in servers.items()
        if name not in failing and name not in recent and count(server.get("failures"))
    )
    if recent:
        return Check(
            "fail",
            "Children exited unexpectedly within the last 5 minutes and were started again: "
            + ", ".join(recent),
            exitsFix(recent, servers),
            tuple(exitLine(name, servers[name]) for name in [*recent, *earlier]),
        )
    if earlier:
        return Check(
            "info",
            "Children exited unexpectedly earlier, and run again since: " + ", ".join(earlier),
            None,
            tuple(exitLine(name, servers[name]) for name in earlier),
        )
    return Check("pass", "Child exits: none unexpected")
