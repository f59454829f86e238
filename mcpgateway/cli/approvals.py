# -*- test-case-name: tests.cli.test_approvals -*-
"""C{mcpgateway approvals list|show ID|allow ID|deny ID [--reason TEXT]}:
a person's yes or no to the calls the running gateway holds for it
(docs/guide/flow.md), through its management API (C{/api/v1/approvals}).

C{list} prints the calls waiting and those decided lately, one line each;
C{show ID} one call: its labels, the reason it was held, its exact
arguments (as pretty JSON) and what changed since the last call of that
tool by that client that a person allowed; C{allow ID} and C{deny ID}
decide it. Every value a client sent is printed with its unprintable
characters escaped: a call's arguments may come from a page someone else
wrote. C{--json} prints the API's answers. Never loads Twisted.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.parse
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import TOKEN_HELP
from mcpgateway.cli.output import (
    CliError,
    Output,
    Parser,
    Subcommands,
    formatDuration,
    plural,
    runningGateway,
)
from mcpgateway.ops.gatewayprobe import GatewayProbe, resolveStateDir
from mcpgateway.runtime.paths import API_PREFIX
from mcpgateway.trust.diff import printable

LIST_COLUMNS = ("ID", "STATE", "SERVER", "TOOL", "CLIENT", "WHEN")
VALUE_CHARS = 200
"""A value of the diff is cut to this many characters (C{show} prints all
of the arguments above it)."""


def _path(callId: str, action: str = "") -> str:
    return f"/approvals/{urllib.parse.quote(callId, safe='')}{action}"


def _answer(found: GatewayProbe, answer: Any, path: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise CliError(f"{found.baseUrl()}{API_PREFIX}{path} did not answer an object")
    return answer


def cmdApprovalsList(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    found = runningGateway(ctx.probe(resolveStateDir(args.state_dir)))
    answer = ctx.http.api(found, "GET", "/approvals", timeout=ctx.timeouts.http)
    answer = _answer(found, answer, "/approvals")
    if out.json:
        out.emit(answer)
        return 0
    for line in renderList(answer, time.time()):
        out.line(line)
    return 0


def cmdApprovalsShow(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    found = runningGateway(ctx.probe(resolveStateDir(args.state_dir)))
    path = _path(args.id)
    call = _answer(found, ctx.http.api(found, "GET", path, timeout=ctx.timeouts.http), path)
    if out.json:
        out.emit(call)
        return 0
    for line in renderCall(call, time.time()):
        out.line(line)
    return 0


def cmdApprovalsAllow(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    return _decide(args, out, ctx, "allow", None)


def cmdApprovalsDeny(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    return _decide(args, out, ctx, "deny", {"reason": args.reason} if args.reason else None)


def _decide(args: argparse.Namespace, out: Output, ctx: CliContext, action: str, body: Any) -> int:
    found = runningGateway(ctx.probe(resolveStateDir(args.state_dir)))
    path = _path(args.id, "/" + action)
    answer = ctx.http.api(found, "POST", path, body, timeout=ctx.timeouts.change)
    call = _answer(found, answer, path)
    if out.json:
        out.emit({"ok": True, **call})
        return 0
    what = f"{_text(call.get('server'))}/{_text(call.get('tool'))}"
    if action == "allow":
        out.line(
            f"allowed call {_text(call.get('id'))} of {what}: good for that exact call once,"
            f" until {_clock(call.get('expiry'))} ({_text(call.get('digest'))})"
        )
    else:
        out.line(f"denied call {_text(call.get('id'))} of {what}")
    return 0


# -- what is printed ---------------------------------------------------------------


def renderList(answer: dict[str, Any], now: float) -> list[str]:
    """The calls waiting, then those decided lately, as one table."""
    pending = [c for c in answer.get("pending") or [] if isinstance(c, dict)]
    decided = [c for c in answer.get("decided") or [] if isinstance(c, dict)]
    if not pending and not decided:
        return ["no call is held for a person's yes"]
    rows = [list(LIST_COLUMNS)]
    for call in [*pending, *decided]:
        rows.append(
            [
                _text(call.get("id")),
                _text(call.get("state")),
                _text(call.get("server")),
                _text(call.get("tool")),
                describeClient(call.get("client")),
                _when(call, now),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(LIST_COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if pending:
        lines.append(
            f"{plural(len(pending), 'call')} waiting: `mcpgateway approvals show ID` shows one"
        )
    return lines


def renderCall(call: dict[str, Any], now: float) -> list[str]:
    """One held call, for the person deciding it."""
    labels = call.get("labels")
    lines = [
        f"call {_text(call.get('id'))}: {_text(call.get('state'))}, {_when(call, now)}",
        f"  server: {_text(call.get('server'))}",
        f"  tool: {_text(call.get('tool'))}",
        f"  client: {describeClient(call.get('client'))}",
        "  labels: "
        + (", ".join(_text(w) for w in labels) if isinstance(labels, list) and labels else "none"),
        f"  reason: {_text(call.get('reason'))}",
        f"  policy version: {_text(call.get('policyVersion'))}",
        f"  digest: {_text(call.get('digest'))}",
    ]
    if call.get("decidedBy"):
        lines.append(f"  decided by: {_text(call.get('decidedBy'))}")
    if call.get("denyReason"):
        lines.append(f"  denied because: {_text(call.get('denyReason'))}")
    lines.append("  arguments:")
    pretty = json.dumps(call.get("arguments"), indent=2, ensure_ascii=False, sort_keys=True)
    lines += [f"    {printable(line)}" for line in pretty.splitlines()]
    lines += renderDiff(call.get("diff"))
    return lines


def renderDiff(diff: Any) -> list[str]:
    """What changed since the last call of the tool by the client a person
    allowed: C{~ key: old -> new}, C{+ key: new}, C{- key: old}."""
    if diff is None:
        return ["  no call of this tool by this client was allowed before"]
    if not isinstance(diff, list) or not diff:
        return ["  the same arguments as the last call of this tool by this client allowed"]
    lines = ["  since the last call of this tool by this client allowed:"]
    for change in diff:
        if not isinstance(change, dict):
            continue
        key = _text(change.get("key"))
        kind = change.get("change")
        if kind == "added":
            lines.append(f"    + {key}: {_value(change.get('new'))}")
        elif kind == "removed":
            lines.append(f"    - {key}: {_value(change.get('old'))}")
        else:
            old, new = _value(change.get("old")), _value(change.get("new"))
            lines.append(f"    ~ {key}: {old} -> {new}")
    return lines


def describeClient(client: Any) -> str:
    """C{pid 4242}, C{client claude-code}, C{session abc} (and the
    principal's key, when there is one)."""
    if not isinstance(client, dict):
        return "?"
    text = f"{_text(client.get('kind'))} {_text(client.get('id'))}"
    principal = client.get("principal")
    return f"{_text(principal)}: {text}" if principal else text


def _when(call: dict[str, Any], now: float) -> str:
    expiry, decidedAt = _number(call.get("expiry")), _number(call.get("decidedAt"))
    if call.get("state") == "pending" and expiry is not None:
        return f"expires in {formatDuration(expiry - now)}"
    if decidedAt is not None:
        return f"{formatDuration(now - decidedAt)} ago"
    return "-"


def _clock(value: Any) -> str:
    when = _number(value)
    try:
        return "?" if when is None else time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(when))
    except (OverflowError, OSError, ValueError):
        return "?"


def _number(value: Any) -> float | None:
    """C{value} when it is a number (not a boolean), else C{None}."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _text(value: Any) -> str:
    return printable(value if isinstance(value, str) else str(value))


def _value(value: Any) -> str:
    """A value of the diff as compact JSON, escaped and cut."""
    text = printable(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "\u2026"


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    approvals = commands.add_parser(
        "approvals",
        parents=common,
        help="the calls held for a person's yes: list, show, allow, deny",
        description="A call the flow rule holds (docs/guide/flow.md) waits for a person's yes."
        " List the calls waiting, show one (its labels, why it was held, its exact arguments"
        " and what changed since the last call of that tool by that client was allowed),"
        " allow it (good for that exact call once, until it expires) or deny it, through the"
        f" running gateway's management API ({API_PREFIX}/approvals). {TOKEN_HELP}",
    )
    actions = approvals.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser(
        "list",
        parents=common,
        help="the calls waiting, and those decided lately",
        description="The calls waiting for a person's yes (oldest first), then those decided"
        " lately (the latest first).",
    ).set_defaults(handler=cmdApprovalsList)
    show = actions.add_parser(
        "show",
        parents=common,
        help="one held call: labels, reason, exact arguments, what changed",
        description="One held call: its labels, why it was held, its exact arguments (pretty"
        " JSON) and what changed since the last call of that tool by that client a person"
        " allowed.",
    )
    show.add_argument("id", metavar="ID")
    show.set_defaults(handler=cmdApprovalsShow)
    allow = actions.add_parser(
        "allow",
        parents=common,
        help="say yes to a held call",
        description="Say yes to the held call ID: good for that exact call (the same"
        " arguments) once, until it expires. Read it first with `approvals show ID`.",
    )
    allow.add_argument("id", metavar="ID")
    allow.set_defaults(handler=cmdApprovalsAllow)
    deny = actions.add_parser(
        "deny",
        parents=common,
        help="say no to a held call",
        description="Say no to the held call ID.",
    )
    deny.add_argument("id", metavar="ID")
    deny.add_argument("--reason", metavar="TEXT", help="why not (kept with the call)")
    deny.set_defaults(handler=cmdApprovalsDeny)
