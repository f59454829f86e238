# -*- test-case-name: tests.cli.test_toolscli -*-
"""C{mcpgateway tools diff|approve|forget}: the servers' pinned tools
(docs/guide/trust.md).

C{diff [SERVER]} shows what changed since each server's tools were pinned:
a description word by word, a schema as the JSON paths that changed, the
tools added and removed, and whether the running gateway withholds each.
C{approve SERVER [TOOL...]} makes the changes of those tools (all of the
server's when none is named) the pins. C{forget SERVER} drops the pins of
a server no longer served (through a running gateway: of each definition
of it the gateway does not serve).

With a gateway running (and pinning: not C{--pins off}) both go through
its management API (C{/api/v1/pins}), so an approval takes effect at once;
without one they read and write C{<state-dir>/pins.json} themselves
(atomically). Also here: what C{mcpgateway status} and C{mcpgateway doctor}
say of the pins (L{pinsSummary}, L{checkPins}), read from the file.
"""

from __future__ import annotations

import argparse
import shlex
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcpgateway.cli.checks import Check, DoctorContext
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.health import healthServers
from mcpgateway.cli.http import TOKEN_HELP
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, plural
from mcpgateway.ops.gatewayprobe import GatewayProbe, resolveStateDir
from mcpgateway.trust.diff import approveCommand, printable, recordReport, renderRecords
from mcpgateway.trust.pins import OFF, PinBook, PinsFileError, ServerPins, filePath


def _livePins(found: GatewayProbe, ctx: CliContext, server: str | None) -> dict[str, Any] | None:
    """The running gateway's pins report (C{None}: no gateway runs, or it
    runs with C{--pins off})."""
    if not found.running:
        return None
    path = "/pins" if server is None else "/pins/" + urllib.parse.quote(server, safe="")
    answer = ctx.http.api(found, "GET", "/pins", timeout=ctx.timeouts.http)
    if not isinstance(answer, dict) or answer.get("policy") == OFF:
        return None
    if server is None:
        return answer
    report = ctx.http.api(found, "GET", path, timeout=ctx.timeouts.http)
    if not isinstance(report, dict):
        raise CliError(f"{found.baseUrl()}/api/v1{path} did not answer an object")
    return report


def _named(change: Any, tools: list[str]) -> bool:
    """Whether a reported C{change} is of one of C{tools} (none named: all)."""
    return isinstance(change, dict) and (not tools or change.get("tool") in tools)


def _book(stateDir: Path) -> PinBook:
    try:
        return PinBook.load(filePath(stateDir))
    except PinsFileError as e:
        raise CliError(str(e)) from None


def _fileReport(stateDir: Path, server: str | None) -> dict[str, Any]:
    book = _book(stateDir)
    records = book.ofServer(server) if server is not None else list(book.records.values())
    if server is not None and not records:
        raise CliError(f"no pins for server '{server}': no gateway has listed its tools yet")
    return {"policy": None, "servers": [recordReport(record) for record in records]}


def cmdToolsDiff(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    server = args.server
    report = _livePins(ctx.probe(stateDir), ctx, server)
    if report is None:
        report = _fileReport(stateDir, server)
    records = [r for r in report.get("servers") or [] if isinstance(r, dict)]
    if out.json:
        out.emit(report)
        return 0
    lines = renderRecords(records)
    if not lines:
        pinned = sum(int(r.get("tools") or 0) for r in records)
        what = f"server '{server}'" if server is not None else plural(len(records), "definition")
        lines = [f"no changes: {what} pinned ({plural(pinned, 'tool')}), as approved"]
    elif report.get("policy"):
        lines.append(f"(the gateway runs with --pins {report['policy']})")
    for line in lines:
        out.line(line)
    return 0


def cmdToolsApprove(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = ctx.probe(stateDir)
    server, tools = args.server, list(args.tool)
    report = _livePins(found, ctx, server)
    live = report is not None
    if report is not None:
        # Approved as shown here: a change the server makes meanwhile is not.
        records = [r for r in report.get("servers") or [] if isinstance(r, dict)]
        shown = [
            {**record, "changes": [c for c in record.get("changes") or [] if _named(c, tools)]}
            for record in records
        ]
        reviewed = {
            str(change["tool"]): change.get("digest")
            for record in shown
            for change in record["changes"]
        }
        result = {"server": server, "approved": [], "unchanged": sorted(set(tools))}
        if reviewed:
            if not out.json:
                for line in renderRecords(shown):
                    out.line(line)
            path = "/pins/" + urllib.parse.quote(server, safe="") + "/approve"
            body = {"tools": reviewed}
            answer = ctx.http.api(found, "POST", path, body, timeout=ctx.timeouts.change)
            result = answer if isinstance(answer, dict) else {}
    else:
        book = _book(stateDir)
        try:
            approved = book.approve(server, tools or None, time.time())
        except KeyError:
            raise CliError(
                f"no pins for server '{server}': no gateway has listed its tools yet"
            ) from None
        if book.dirty:
            try:
                book.save(filePath(stateDir))
            except OSError as e:
                raise CliError(f"{filePath(stateDir)} was not written: {e}") from None
        names = sorted({name for _, name, _ in approved})
        result = {"server": server, "approved": names, "unchanged": sorted(set(tools) - set(names))}
    if out.json:
        out.emit({"ok": True, **result, "live": live})
        return 0
    approvedNames = [printable(str(n)) for n in result.get("approved") or []]
    unchanged = [printable(str(n)) for n in result.get("unchanged") or []]
    if approvedNames:
        where = "the running gateway serves them now" if live else f"in {filePath(stateDir)}"
        out.line(f"approved {', '.join(approvedNames)} of server '{server}' ({where})")
    else:
        out.line(f"nothing to approve for server '{server}': no change is pending")
    if unchanged:
        out.line(f"  no pending change: {', '.join(unchanged)}")
    return 0


def cmdToolsForget(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = ctx.probe(stateDir)
    server = args.server
    live = _livePins(found, ctx, None) is not None
    if live:
        path = "/pins/" + urllib.parse.quote(server, safe="") + "/forget"
        answer = ctx.http.api(found, "POST", path, timeout=ctx.timeouts.change)
        forgotten = answer.get("forgotten") if isinstance(answer, dict) else None
        count = len(forgotten) if isinstance(forgotten, list) else 0
        where = "the running gateway's"
    else:
        book = _book(stateDir)
        gone = book.forget(server)
        if not gone:
            raise CliError(f"no pins for server '{server}'")
        try:
            book.save(filePath(stateDir))
        except OSError as e:
            raise CliError(f"{filePath(stateDir)} was not written: {e}") from None
        count = len(gone)
        where = str(filePath(stateDir))
    if out.json:
        out.emit({"ok": True, "server": server, "forgotten": count, "live": live})
        return 0
    out.line(
        f"forgot the pins of server '{printable(server)}'"
        f" ({plural(count, 'definition')}, in {where})"
    )
    return 0


# -- what status and doctor say ---------------------------------------------------


def pinsSummary(stateDir: Path) -> dict[str, Any] | None:
    """The pending changes in the pins file of C{stateDir}, by server:
    C{{"servers": {name: {"changed": [...], "added": [...], "removed":
    [...]}}, "pending": N, "error": None}} (C{None}: no file)."""
    path = filePath(stateDir)
    if not path.exists():
        return None
    try:
        book = PinBook.load(path)
    except PinsFileError as e:
        return {"servers": {}, "pending": 0, "error": str(e)}
    servers: dict[str, dict[str, list[str]]] = {}
    for record in book.records.values():
        for name, change in sorted(record.pending.items()):
            kinds = servers.setdefault(record.server, {"changed": [], "added": [], "removed": []})
            kinds[change.kind].append(name)
    pending = sum(len(names) for kinds in servers.values() for names in kinds.values())
    return {"servers": servers, "pending": pending, "error": None}


def summaryLines(summary: dict[str, Any] | None) -> list[str]:
    """The lines C{mcpgateway status} shows for L{pinsSummary}."""
    if summary is None:
        return []
    if summary.get("error"):
        return [f"  ! pins: {summary['error']}"]
    lines = []
    for server, kinds in sorted(summary.get("servers", {}).items()):
        said = [
            f"{kind} {', '.join(printable(n) for n in names)}"
            for kind, names in kinds.items()
            if names
        ]
        lines.append(
            f"  ! pins: server {printable(server)}: tools {'; '.join(said)} since approved"
            f" (`mcpgateway tools diff {shlex.quote(server)}`, then `{approveCommand(server)}`)"
        )
    return lines


def checkPins(ctx: DoctorContext) -> Check:
    """Whether the tools of every server the gateway serves are as approved
    (C{pins.json}). The pins of a server it no longer serves (or of a
    definition of it it no longer serves) are a note, with the command that
    forgets them, whatever changes they hold."""
    path = filePath(ctx.stateDir)
    if not path.exists():
        return Check("info", "pins: no tools pinned yet (the gateway pins them as it lists them)")
    try:
        book = PinBook.load(path)
    except PinsFileError as e:
        return Check(
            "fail",
            f"pins: {e}",
            f"fix it, or move it away to pin every server's tools afresh ({path})",
        )
    served = _served(ctx, book)
    details = []
    servers = set()
    pending = 0
    stale: dict[str, list[ServerPins]] = {}
    for record in sorted(book.records.values(), key=lambda r: (r.server, r.pinnedAt)):
        if not served(record):
            stale.setdefault(record.server, []).append(record)
            continue
        report = recordReport(record)
        if report["changes"]:
            servers.add(record.server)
            pending += len(record.pending)
        details += renderRecords([report])
    notes = [_staleLine(server, records) for server, records in sorted(stale.items())]
    pinned = sum(len(record.tools) for record in book.records.values())
    if not servers and not stale:
        return Check(
            "pass",
            f"pins: {plural(pinned, 'tool')} of {plural(len(book.servers()), 'server')}"
            " pinned, all as approved",
        )
    if not servers:
        return Check(
            "info",
            "pins: the tools of every server served are as approved; the pins of"
            f" {plural(len(stale), 'server')} no longer served are kept"
            f" ({', '.join(printable(name) for name in sorted(stale))})",
            None,
            tuple(notes),
        )
    return Check(
        "fail",
        f"pins: {plural(pending, 'tool change')} of {plural(len(servers), 'server')} not"
        f" approved ({', '.join(sorted(servers))})",
        "review them with `mcpgateway tools diff`, accept them with"
        " `mcpgateway tools approve SERVER [TOOL...]`",
        tuple(details + notes),
    )


def _staleLine(server: str, records: list[ServerPins]) -> str:
    """The note of the pins of C{server} no longer served (C{records})."""
    tools = sum(len(record.tools) for record in records)
    changes = sum(len(record.pending) for record in records)
    what = plural(tools, "tool")
    if changes:
        what += f", {plural(changes, 'pending change')}"
    if len(records) > 1:
        what += f", {len(records)} definitions"
    command = shlex.join(["mcpgateway", "tools", "forget", server])
    return f"○ {printable(server)}: no longer served ({what}); forget them with `{command}`"


def _served(ctx: DoctorContext, book: PinBook) -> Callable[[ServerPins], bool]:
    """Whether the gateway serves a record's definition, as far as is
    known: the running gateway's pins report says (C{served}, C{current}),
    else its C{/health} names the servers; without either every record is
    taken as served."""
    if book.records and ctx.found.running:
        try:
            report = _livePins(ctx.found, ctx.cli, None)
        except CliError:
            report = None
        lines = report.get("servers") if isinstance(report, dict) else None
        if isinstance(lines, list):
            known = {
                (line.get("server"), line.get("launch")): line
                for line in lines
                if isinstance(line, dict) and isinstance(line.get("served"), bool)
            }
            if known:

                def live(record: ServerPins) -> bool:
                    line = known.get((record.server, record.launch))
                    return line is None or line.get("current") is not False

                return live
    if ctx.health is not None:
        names = set(healthServers(ctx.health))
        return lambda record: record.server in names
    return lambda record: True


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    tools = commands.add_parser(
        "tools",
        parents=common,
        help="pinned tools: what changed since approved, approve it, forget a server's",
        description="The gateway pins each server's tools the first time it lists them;"
        " a later difference is withheld (--pins enforce) or served and flagged (--pins"
        " warn) until approved. With a gateway running these go through its management"
        f" API; without one they read and edit the pins file. {TOKEN_HELP}",
    )
    actions = tools.add_subparsers(dest="action", metavar="ACTION", required=True)
    diff = actions.add_parser(
        "diff",
        parents=common,
        help="what changed since the tools were approved",
        description="Each server's tools that changed, were added or were removed since"
        " they were approved: descriptions word by word ([-removed-] {+added+}), schemas"
        " and annotations as the JSON paths that changed.",
    )
    diff.add_argument("server", nargs="?", metavar="SERVER", help="only this server")
    diff.set_defaults(handler=cmdToolsDiff)
    approve = actions.add_parser(
        "approve",
        parents=common,
        help="accept the changes of a server's tools",
        description="Make the current definitions of the named tools (every changed,"
        " added or removed tool of SERVER when none is named) its pins: the running"
        " gateway serves them at once.",
    )
    approve.add_argument("server", metavar="SERVER")
    approve.add_argument("tool", nargs="*", metavar="TOOL")
    approve.set_defaults(handler=cmdToolsApprove)
    forget = actions.add_parser(
        "forget",
        parents=common,
        help="drop the pins of a server no longer served",
        description="Forget the pins of SERVER's definitions the running gateway does not"
        " serve (every one of them when no gateway runs): a server configured again is"
        " pinned afresh when it is next listed. The gateway refuses to forget the pins of"
        " the definition it serves.",
    )
    forget.add_argument("server", metavar="SERVER")
    forget.set_defaults(handler=cmdToolsForget)
