# -*- test-case-name: tests.cli.test_status -*-
"""C{mcpgateway status}: one screen. The gateway (version, pid, port, uptime,
memory), one line per server with what is wrong with it, the sessions by
client pid, and config entries pointing at a gateway that is not running or
that no backup can restore. Exit 1 when the gateway is not running or does
not answer."""

from __future__ import annotations

import argparse
import time
from typing import Any

from mcpgateway.cli.clientconfig import clientConfigProblem, readClientConfig
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.health import count, healthServers, resolutionOf
from mcpgateway.cli.http import fetchHealth, fetchSessions
from mcpgateway.cli.output import (
    LEGEND,
    CliError,
    Output,
    Parser,
    Subcommands,
    formatBytes,
    formatDuration,
    modeMark,
    plural,
)
from mcpgateway.cli.probe import GatewayProbe, resolveStateDir


def cmdStatus(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = ctx.probe(stateDir)
    config = readClientConfig(stateDir, found)
    problem = clientConfigProblem(config, found)
    document: dict[str, Any] = {
        "running": found.running,
        "stale": found.stale,
        "pid": found.pid,
        "port": found.port,
        "stateDir": str(stateDir),
        "state": found.state,
        "health": None,
        "sessions": None,
        "clientConfig": {
            **config.toJson(),
            "problem": None if problem is None else {"message": problem[0], "fix": problem[1]},
        },
    }
    warning = [] if problem is None else [f"  ! {problem[0]}", f"    → {problem[1]}"]
    if not found.running:
        if found.stale:
            message = (
                f"mcpgateway is not running (stale state.json from pid {found.pid};"
                " `mcpgateway stop` cleans up and restores the config)"
            )
        else:
            message = "mcpgateway is not running"
        if out.json:
            out.emit({**document, "error": message})
        else:
            for line in [message, *warning]:
                out.line(line)
        return 1
    try:
        health = fetchHealth(ctx.http, found, ctx.timeouts.http)
        sessions = fetchSessions(ctx.http, found, ctx.timeouts.http)
    except CliError as e:
        if out.json:
            out.emit({**document, "error": e.message})
        else:
            for line in [
                f"mcpgateway is running (pid {found.pid}, port {found.port}) but {e.message}",
                *warning,
            ]:
                out.line(line)
        return 1
    document.update(health=health, sessions=sessions)
    if out.json:
        out.emit(document)
    else:
        lines = renderStatus(found, health, sessions)
        if warning:  # under the config line, where it cannot be missed
            at = next(
                (i + 1 for i, line in enumerate(lines) if line.startswith("  config ")), len(lines)
            )
            lines[at:at] = warning
        for line in lines:
            out.line(line)
    return 0


def serverNotes(server: dict[str, Any]) -> list[str]:
    """The lines under a server in C{status}: its warning, refused
    server-to-client requests, an npx/uvx resolution not done."""
    notes = []
    ambiguous = count(server.get("ambiguousServerRequests"))
    if server.get("warning"):
        notes.append(f"! {server['warning']}")
    elif ambiguous:
        notes.append(
            f"! {plural(ambiguous, 'server-to-client request')} refused: no way to"
            ' tell which session they belong to; run it per session ("mode":'
            ' "stateful")'
        )
    resolution = resolutionOf(server)
    if resolution is not None and resolution[0] != "resolved":
        state, detail = resolution
        what = {
            "failed": "! npx/uvx resolution failed",
            "pending": "… npx/uvx resolution under way",
        }.get(state, f"! npx/uvx resolution {state}")
        notes.append(f"{what}: {detail}" if detail else what)
    return notes


def renderStatus(
    found: GatewayProbe, health: dict[str, Any], sessions: list[dict[str, Any]]
) -> list[str]:
    """One screen: the gateway, then one line per server, then the sessions."""
    state = found.state or {}
    uptime = health.get("uptime")
    if not isinstance(uptime, (int, float)) and isinstance(state.get("startTime"), (int, float)):
        uptime = time.time() - state["startTime"]
    version = health.get("version") or state.get("version") or "?"
    head = f"mcpgateway {version} running: pid {found.pid}, port {found.port}"
    if isinstance(uptime, (int, float)):
        head += f", up {formatDuration(uptime)}"
    servers = healthServers(health)
    children = sum(count(s.get("children")) for s in servers.values())
    requests = sum(count(s.get("requests")) for s in servers.values())
    facts = [
        plural(len(servers), "server"),
        plural(children, "child", "children"),
        plural(requests, "request"),
        plural(len(sessions), "session"),
    ]
    if isinstance(health.get("rssBytes"), (int, float)):
        facts.append(formatBytes(health["rssBytes"]))
    lines = [head, "  " + ", ".join(facts)]
    config = state.get("config") or "the bundled demo"
    rewritten = " (rewritten to point at the gateway)" if state.get("rewriteConfig") else ""
    lines.append(f"  config {config}{rewritten}")
    lines.append(f"  {found.baseUrl()}/<server>/mcp    state {found.stateDir}")
    lines.append("")
    lines += _serverLines(servers, sessions)
    lines.append("")
    lines.append(_sessionLine(sessions))
    lines.append(f"  {LEGEND}")
    return lines


def _serverLines(servers: dict[str, dict[str, Any]], sessions: list[dict[str, Any]]) -> list[str]:
    """One line per server, and its notes under it."""
    if not servers:
        return ["  (no servers configured)"]
    width = max(len(name) for name in servers)
    perServer: dict[str, int] = {}
    for session in sessions:
        perServer[str(session.get("server"))] = perServer.get(str(session.get("server")), 0) + 1
    lines = []
    for name in sorted(servers):
        server = servers[name]
        mode = server.get("mode", "?")
        children = count(server.get("children"))
        cells = [
            f"{modeMark(mode)} {name.ljust(width)}",
            f"{mode!s:9}",
            f"{server.get('state', '?')!s:11}",
            f"{plural(children, 'child', 'children'):11}",
            f"{count(server.get('requests')):>5} reqs",
            plural(count(server.get("sessions", perServer.get(name, 0))), "session"),
        ]
        extra = []
        if count(server.get("inFlight")):
            extra.append(f"{server['inFlight']} in flight")
        if count(server.get("restarts")):
            extra.append(plural(server["restarts"], "restart"))
        if server.get("error"):
            extra.append(str(server["error"]))
        elif server.get("lastExit") and not children:
            extra.append(f"last exit: {server['lastExit']}")
        lines.append("  " + "  ".join(cells) + ("  · " + "; ".join(extra) if extra else ""))
        lines += [f"      {line}" for line in serverNotes(server)]
    return lines


def _sessionLine(sessions: list[dict[str, Any]]) -> str:
    """The sessions, counted by client pid."""
    clients: dict[str, int] = {}
    for session in sessions:
        pid = session.get("clientPid")
        key = f"pid {pid}" if pid else "unknown pid"
        clients[key] = clients.get(key, 0) + 1
    if not clients:
        return "  no sessions"
    return (
        f"  {plural(len(sessions), 'session')} from {plural(len(clients), 'client')}: "
        + ", ".join(f"{key} ({n})" for key, n in sorted(clients.items()))
    )


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    commands.add_parser(
        "status",
        parents=common,
        help="pid, port, uptime, servers, children, requests",
        description="One screen: the gateway's version, pid, port, uptime and memory; each"
        " server with its mode (◆ stateful, ○ stateless), state, children,"
        " requests and sessions, and what is wrong with it; the sessions by"
        " client pid; and config entries pointing at a gateway that is not"
        " running or that no backup can restore. Exit 1 when the gateway is"
        " not running or does not answer.",
    ).set_defaults(handler=cmdStatus)
