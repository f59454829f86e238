# -*- test-case-name: tests.cli.test_serversshow -*-
"""C{mcpgateway servers show NAME}: one server of the running gateway, from
its management API (C{GET /api/v1/servers/<name>}): what it runs, its
state, and the data-origin labels of the server and of each tool it lists,
with where each came from (its entry's C{"labels"}, the shipped table's
row, or the tool's annotations: docs/guide/flow.md)."""

from __future__ import annotations

import argparse
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import TOKEN_HELP, serverPath
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, runningGateway
from mcpgateway.ops.gatewayprobe import resolveStateDir

SERVER_SOURCES = {
    "entry": 'from its entry\'s "labels"',
    "table": "from the shipped table",
    "annotations": "from its tools' annotations",
}
"""What the server's labels line says of where they come from."""
REFRESH = "`mcpgateway catalog refresh --server NAME`"


def cmdServersShow(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    found = runningGateway(ctx.probe(resolveStateDir(args.state_dir)))
    server = ctx.http.api(found, "GET", serverPath(args.name), timeout=ctx.timeouts.http)
    if not isinstance(server, dict):
        raise CliError(f"the gateway did not describe server {args.name!r}")
    if out.json:
        out.emit(server)
        return 0
    for line in renderServer(server):
        out.line(line)
    return 0


def renderServer(server: dict[str, Any]) -> list[str]:
    """C{servers show}: the server's line, its command, then its labels."""
    given = server.get("config")
    config: dict[str, Any] = given if isinstance(given, dict) else {}
    share = server.get("share") or config.get("share") or "?"
    lines = [
        f"{server.get('name', '?')}: {server.get('state', '?')}, share {share},"
        f" from {server.get('origin', '?')}"
    ]
    command = [config.get("command"), *(config.get("args") or [])]
    if command[0]:
        lines.append("  runs: " + " ".join(str(word) for word in command))
    labels = server.get("labels")
    if isinstance(labels, dict):
        lines += renderLabels(labels)
    return lines


def _words(labels: Any) -> str:
    return ", ".join(str(word) for word in labels) if labels else "(none)"


def _source(source: Any, row: Any) -> str:
    return f"table ({row})" if source == "table" and row else str(source)


def renderLabels(labels: dict[str, Any]) -> list[str]:
    """The labels part of C{servers show}: the server's, then a table of its
    tools' with where each came from."""
    source = labels.get("source")
    where = SERVER_SOURCES.get(str(source), str(source))
    if source == "table" and labels.get("row"):
        where += f" (row {labels['row']})"
    lines = [f"  labels: {_words(labels.get('labels'))}, {where}"]
    tools = labels.get("tools")
    if not isinstance(tools, dict):
        return [*lines, f"  tools: not listed yet ({REFRESH} lists them)"]
    if not tools:
        return [*lines, "  tools: none listed"]
    rows = [["TOOL", "LABELS", "FROM"]]
    for name, tool in tools.items():
        tool = tool if isinstance(tool, dict) else {}
        rows.append(
            [str(name), _words(tool.get("labels")), _source(tool.get("source"), tool.get("row"))]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append(f"  {cells}".rstrip())
    return lines


def addShowParser(actions: Subcommands[Parser], common: list[Parser]) -> None:
    """C{servers show NAME}."""
    show = actions.add_parser(
        "show",
        parents=common,
        help="one server: what it runs, its state, its tools' data-origin labels",
        description="One server of the running gateway: what it runs, its state, and the"
        " data-origin labels (untrusted, private, egress) of the server and of each tool"
        ' it lists, with where each came from: its entry\'s "labels", the shipped table'
        f" of well-known servers, or the tool's annotations. {TOKEN_HELP}",
    )
    show.add_argument("name", metavar="NAME")
    show.set_defaults(handler=cmdServersShow)
