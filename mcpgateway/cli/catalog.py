# -*- test-case-name: tests.cli.test_catalog -*-
"""C{mcpgateway catalog refresh|show}: what the servers of the running
gateway list (tools, prompts, resources), through its management API.

C{refresh} (C{POST /api/v1/catalog/refresh}) lists every enabled server
again, or those named with C{--server}, starting each once when it does not
run, and keeps the catalog of each route of a server whose start-ups are
answered from the catalogs of their scope (a per-session, workspace,
credential or per-user server: L{mcpgateway.ops.catalogrefresh}), saying
which scopes it cannot keep one for, and why; it exits 1 when any server or
route could not be listed. C{show} (C{GET
/api/v1/catalog}) prints what the gateway knows now and where it comes from
(C{live}: a child of this gateway process, C{snapshot}: saved by an earlier
one, C{probe}: a transient session), without starting anything."""

from __future__ import annotations

import argparse
import time
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import TOKEN_HELP
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, plural, runningGateway
from mcpgateway.ops.gatewayprobe import resolveStateDir
from mcpgateway.runtime.paths import API_PREFIX

REFRESH_TIMEOUT = 30.0
"""Seconds C{refresh} waits for the gateway (each server is given 10 s, all at once)."""


def cmdCatalogRefresh(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    found = runningGateway(ctx.probe(resolveStateDir(args.state_dir)))
    body = {"servers": list(args.server)} if args.server else None
    timeout = max(ctx.timeouts.change, REFRESH_TIMEOUT)
    answer = ctx.http.api(found, "POST", "/catalog/refresh", body, timeout=timeout)
    servers = answer.get("servers") if isinstance(answer, dict) else None
    if not isinstance(servers, dict):
        raise CliError(f"{found.baseUrl()}{API_PREFIX}/catalog/refresh did not answer servers")
    lines = {name: line for name, line in servers.items() if isinstance(line, dict)}
    failed = any(line.get("error") or _scopeErrors(line) for line in lines.values())
    if out.json:
        out.emit({"ok": not failed, "servers": lines})
    else:
        for text in renderRefresh(lines):
            out.line(text)
    return 1 if failed else 0


def renderRefresh(servers: dict[str, dict[str, Any]]) -> list[str]:
    """One line per server: what it listed and how long it took, or why
    not; below it, for a server whose start-ups are answered from the
    catalogs of their scope, the route catalogs kept (or why not) and the
    scopes no catalog could be kept for, and why."""
    if not servers:
        return ["(no enabled servers to list)"]
    width = max(len(name) for name in servers)
    lines = []
    for name in sorted(servers):
        line = servers[name]
        ms = line.get("ms")
        took = f" in {ms:g} ms" if isinstance(ms, (int, float)) else ""
        if line.get("error"):
            lines.append(f"{name.ljust(width)}  failed{took}: {line['error']}")
        elif line.get("globalRoute") is False:
            lines.append(f"{name.ljust(width)}  no route /{name}/mcp: listed by route{took}")
        else:
            lines.append(f"{name.ljust(width)}  {_counts(line)}{took}")
        lines += _scopeLines(line)
    return lines


def _scopeLines(line: dict[str, Any]) -> list[str]:
    scopes = line.get("scopes")
    lines = []
    for path, scope in sorted(scopes.items()) if isinstance(scopes, dict) else ():
        if not isinstance(scope, dict):
            continue
        if scope.get("error"):
            lines.append(f"  {path}: its catalog was not kept: {scope['error']}")
        else:
            lines.append(f"  {path}: catalog kept for its start-ups ({_counts(scope)})")
    unsaved = line.get("unsaved")
    for why in unsaved if isinstance(unsaved, list) else ():
        lines.append(f"  not kept: {why}")
    return lines


def _scopeErrors(line: dict[str, Any]) -> bool:
    """Whether a route of the server could not be listed."""
    scopes = line.get("scopes")
    values = scopes.values() if isinstance(scopes, dict) else ()
    return any(isinstance(scope, dict) and scope.get("error") for scope in values)


def _counts(line: dict[str, Any]) -> str:
    def count(key: str) -> int:
        value = line.get(key)
        return value if isinstance(value, int) else 0

    return ", ".join(
        [
            plural(count("tools"), "tool"),
            plural(count("prompts"), "prompt"),
            plural(count("resources"), "resource"),
        ]
    )


def cmdCatalogShow(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    found = runningGateway(ctx.probe(resolveStateDir(args.state_dir)))
    answer = ctx.http.api(found, "GET", "/catalog", timeout=ctx.timeouts.http)
    servers = answer.get("servers") if isinstance(answer, dict) else None
    if not isinstance(servers, dict):
        raise CliError(f"{found.baseUrl()}{API_PREFIX}/catalog did not answer servers")
    lines = {name: line for name, line in servers.items() if isinstance(line, dict)}
    if out.json:
        out.emit({"servers": lines})
        return 0
    for text in renderShow(lines):
        out.line(text)
    return 0


SHOW_COLUMNS = ("NAME", "SOURCE", "TOOLS", "PROMPTS", "RESOURCES", "TAKEN")


def renderShow(servers: dict[str, dict[str, Any]]) -> list[str]:
    """The catalogs as a table, one row per server, problems below it."""
    if not servers:
        return ["(no servers)"]
    rows = [list(SHOW_COLUMNS)]
    for name in sorted(servers):
        line = servers[name]
        source = line.get("source")
        rows.append(
            [
                name,
                (str(source) + (" (stale)" if line.get("stale") else "")) if source else "unknown",
                str(line.get("tools", 0)),
                str(line.get("prompts", 0)),
                str(line.get("resources", 0)),
                _taken(line.get("taken")),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(SHOW_COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    for name in sorted(servers):
        error = servers[name].get("error")
        if error:
            lines.append(f"  ! {name}: {error}")
    if any(not servers[name].get("source") for name in servers):
        lines.append("unknown: never listed yet; `mcpgateway catalog refresh` lists them now")
    return lines


def _taken(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(value))


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    catalog = commands.add_parser(
        "catalog",
        parents=common,
        help="what the servers list: refresh it, show it",
        description="The tools, prompts and resources each server of the running gateway"
        f" lists, through its management API ({API_PREFIX}/catalog). {TOKEN_HELP}",
    )
    actions = catalog.add_subparsers(dest="action", metavar="ACTION", required=True)
    refresh = actions.add_parser(
        "refresh",
        parents=common,
        help="list every enabled server again (starting it once if needed)",
        description="List every enabled server again, or those named with --server,"
        " starting each once when it does not run (at most 10 s each, all at once),"
        " and keep the catalog of each route of a per-session, workspace, credential"
        " or per-user server, so that its sessions' start-ups start no child after a"
        " restart; say which scopes no catalog can be kept for, and why."
        " Exit 1 when any server or route could not be listed.",
    )
    refresh.add_argument(
        "--server",
        action="append",
        metavar="NAME",
        help="list only this server (repeatable)",
    )
    refresh.set_defaults(handler=cmdCatalogRefresh)
    actions.add_parser(
        "show",
        parents=common,
        help="what the gateway knows each server lists, and from where",
        description="A table of each server's catalog: its source (live: a child of this"
        " gateway; snapshot: saved by an earlier gateway process, stale when its command"
        " changed since; probe: a transient session), its counts and when it was taken."
        " Starts nothing.",
    ).set_defaults(handler=cmdCatalogShow)
