# -*- test-case-name: tests.cli.test_serversedit -*-
"""C{mcpgateway servers edit NAME --set KEY=JSON --unset KEY}: change a
server's entry where the gateway keeps it, and apply it at once.

Every server is edited in the gateway's own file, C{<state-dir>/servers.json}
(L{mcpgateway.config.serversedit} says what can change): a server of its
own, its entry; an adopted one (or one of a C{--config} file), its override
there (C{env}, C{disabled}, the aggregate filter keys). With a running
gateway the edit goes through its management API (C{PATCH
/api/v1/servers/<name>} with C{set}/C{unset}), which writes the file
atomically and reloads, so a changed server's children restart with it;
without one, the file is written here and the next start serves it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import TOKEN_HELP, serverPath
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands
from mcpgateway.config import serversedit
from mcpgateway.config.serversfile import ServersFile
from mcpgateway.ops.gatewayprobe import GatewayProbe, resolveStateDir
from mcpgateway.ops.statedir import unsafeStateDir


def cmdServersEdit(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    try:
        edit = serversedit.editOf(args.set, args.unset)
    except serversedit.EditError as e:
        raise CliError(str(e), code=2) from None
    if not edit:
        raise CliError(
            "nothing to change: give --set KEY=JSON and/or --unset KEY"
            f' (mcpgateway servers edit {args.name} --set env=\'{{"DEBUG": "1"}}\')',
            code=2,
        )
    found = ctx.probe(resolveStateDir(args.state_dir))
    if found.running:
        answer = _editLive(args, ctx, found, edit)
        kind, changes = str(answer.get("edited", "entry")), list(answer.get("changes", []))
        where = str(ServersFile(found.stateDir).path)
        applied = "applied: the gateway reloaded it"
    else:
        kind, changes, path = _editFile(args.name, found.stateDir, edit)
        where = str(path)
        applied = "the gateway is not running: `mcpgateway start` serves it"
    if out.json:
        out.emit({"ok": True, "name": args.name, "edited": kind, "file": where, "changes": changes})
        return 0
    what = "its entry" if kind == "entry" else "its override"
    out.line(f"edited {args.name} ({what} in {where}):")
    for line in changes:
        out.line(f"  {line}")
    out.line(applied)
    return 0


def _editLive(
    args: argparse.Namespace, ctx: CliContext, found: GatewayProbe, edit: serversedit.Edit
) -> dict[str, Any]:
    """The edit through the running gateway's API; an unknown name is an
    error listing the servers it has."""
    listed = ctx.http.api(found, "GET", "/servers", timeout=ctx.timeouts.http)
    servers = listed.get("servers") if isinstance(listed, dict) else None
    names = sorted(
        str(s.get("name")) for s in servers or [] if isinstance(s, dict) and s.get("name")
    )
    if args.name not in names:
        raise CliError(unknown(args.name, names))
    body = {"set": dict(edit.sets), "unset": list(edit.unsets)}
    answer = ctx.http.api(found, "PATCH", serverPath(args.name), body, timeout=ctx.timeouts.change)
    return answer if isinstance(answer, dict) else {}


def _editFile(name: str, stateDir: Path, edit: serversedit.Edit) -> tuple[str, list[str], Path]:
    """The edit of the gateway's file itself (no gateway runs): only its own
    servers and the overrides it has are known without one."""
    unsafe = unsafeStateDir(stateDir)
    if unsafe is not None:
        raise CliError(unsafe)
    managed = ServersFile(stateDir)
    try:
        data = managed.read()
    except ValueError as e:
        raise CliError(str(e)) from None
    names = sorted({*data["mcpServers"], *data["overrides"]})
    if name not in names:
        raise CliError(
            unknown(name, names)
            + "; the gateway is not running, so its adopted servers are not known:"
            " start it to edit one of those"
        )
    try:
        kind, changes = serversedit.apply(data, name, edit, dict(os.environ))
    except serversedit.EditError as e:
        raise CliError(str(e)) from None
    managed.write(data)
    return kind, changes, managed.path


def unknown(name: str, names: list[str]) -> str:
    """The error for a server C{name} that is not among C{names}."""
    listed = ", ".join(names) if names else "none"
    return f"no server named '{name}' (servers: {listed})"


def addEditParser(actions: Subcommands[Parser], common: list[Parser]) -> None:
    """C{servers edit NAME --set KEY=JSON --unset KEY}."""
    edit = actions.add_parser(
        "edit",
        parents=common,
        help="change a server's entry (adopted ones too) and apply it at once",
        description="Change server NAME's entry in the gateway's own file,"
        " <state-dir>/servers.json: a server added with `servers add` or `add`, its entry"
        " (any key); an adopted server (or one of --config), its override there (env,"
        " merged over the entry's, disabled, includeTools, excludeTools, toolBudget,"
        " alias, aggregate). The running gateway reloads it at once: its children"
        " restart with the change. Keys of an adopted entry in a client's file next to"
        " the gateway's URL have no effect: edit them here."
        f" {TOKEN_HELP}",
    )
    edit.add_argument("name", metavar="NAME")
    edit.add_argument(
        "--set",
        action="append",
        metavar="KEY=JSON",
        help='set KEY to the JSON value (repeatable): env=\'{"DEBUG": "1"}\','
        " env.TOKEN='\"x\"' (one key of env), toolBudget=20",
    )
    edit.add_argument(
        "--unset", action="append", metavar="KEY", help="take KEY out (repeatable): env.TOKEN"
    )
    edit.set_defaults(handler=cmdServersEdit)
