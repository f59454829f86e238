# -*- test-case-name: tests.web.pages.test_approvalspage -*-
"""The console's held calls (docs/guide/flow.md, "Approving a held call"):
C{GET /status/approvals}, the page a person decides them on, and C{GET
/status/approvals/list}, its list alone (what its script swaps in every
few seconds).

The page lists the calls waiting for a person's yes (L{mcpgateway.flow.held}),
oldest first: server, tool, client, when it was held, the time left before
it expires, the labels that met and the reason. Opening one shows its
exact arguments (pretty JSON) and what changed since the last call of that
tool by that client a person allowed (L{mcpgateway.flow.held.argumentsDiff}),
with an Allow button, and a Deny button with an optional reason. The buttons
call C{POST /api/v1/approvals/<id>/allow|deny} (C{approvals.js}, with the
console's API token and CSRF header: C{console.js}). The calls decided
lately follow, the latest first.

A call's arguments come from an agent, which may have read them off a page
someone else wrote: every text shown is escaped for HTML, its unprintable
characters (controls, bidirectional overrides, lone surrogates) shown as
escapes, and cut; the arguments are cut at L{MAX_ARGUMENTS} characters (the
CLI's C{mcpgateway approvals show ID} prints them whole).
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from twisted.web.iweb import IRequest

from mcpgateway.trust.diff import printable
from mcpgateway.web.pages.consoleassets import STYLES, url
from mcpgateway.web.pages.consolepage import APPROVALS_HREF, renderNav, setPageHeaders
from mcpgateway.web.pages.favicon import ICON_PATH
from mcpgateway.web.plumbing.replies import jsonReply

if TYPE_CHECKING:
    from mcpgateway.flow.held import HeldCall, HeldCalls

HeldCallsIfAny = Callable[[], "HeldCalls | None"]
"""Gives the gateway's held calls, or C{None} while nothing made them
(nothing was held, nobody asked): then none is held."""

APPROVALS_PATH = APPROVALS_HREF.encode()
LIST_PATH = b"/status/approvals/list"
SCRIPTS = ("console.js", "approvals.js")
"""The page's scripts: the console's shared part, then its own."""
MAX_DECIDED = 50
"""Decided calls the page shows at most (C{mcpgateway approvals list} shows them all)."""
MAX_TEXT = 300
"""Characters shown of one name, label, reason or diff value."""
MAX_ARGUMENTS = 64_000
"""Characters shown of a call's pretty-printed arguments."""


# -- the data -------------------------------------------------------------------


def heldCount(calls: HeldCalls | None) -> dict[str, int]:
    """What the console's status says of the held calls: how many wait."""
    return {"pending": 0 if calls is None else len(calls.pending())}


def approvalsData(calls: HeldCalls | None, now: float) -> dict[str, Any]:
    """The page's data, JSON-ready: the calls waiting and the decided ones
    (at most L{MAX_DECIDED}), each with its exact arguments and its diff
    against the last approved call of its client, server and tool."""
    if calls is None:
        return {"now": now, "pending": [], "decided": [], "more": 0}

    def detail(call: HeldCall) -> dict[str, Any]:
        return {**call.summary(), "arguments": call.arguments, "diff": calls.diff(call)}

    decided = calls.decided()
    return {
        "now": now,
        "pending": [detail(call) for call in calls.pending()],
        "decided": [detail(call) for call in decided[:MAX_DECIDED]],
        "more": max(0, len(decided) - MAX_DECIDED),
    }


# -- the text --------------------------------------------------------------------


def _text(value: object, limit: int = MAX_TEXT) -> str:
    text = printable(value if isinstance(value, str) else str(value))
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _esc(value: object, limit: int = MAX_TEXT) -> str:
    return html.escape(_text(value, limit), quote=True)


def _jsonEscape(char: str) -> str:
    """C{char} as a JSON string writes it escaped (C{\\u202e}; a pair of
    surrogates past the basic plane)."""
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _json(value: Any, indent: int | None = None) -> str:
    """C{value} as JSON text, its unprintable characters escaped as JSON
    escapes them: the text still reads as the same value."""
    text = json.dumps(value, indent=indent, ensure_ascii=False, sort_keys=True)
    return "".join(c if c.isprintable() or c == "\n" else _jsonEscape(c) for c in text)


def prettyArguments(arguments: Any) -> str:
    """A call's arguments as pretty JSON, escaped for HTML and cut at
    L{MAX_ARGUMENTS} characters."""
    text = _json(arguments, indent=2)
    if len(text) <= MAX_ARGUMENTS:
        return html.escape(text, quote=True)
    return html.escape(text[:MAX_ARGUMENTS], quote=True) + (
        f"\n\u2026 ({len(text) - MAX_ARGUMENTS} more characters:"
        " mcpgateway approvals show ID prints them all)"
    )


def left(seconds: float) -> str:
    """The time left as a person reads it: C{14 min 05 s}, C{45 s}."""
    s = max(0, int(seconds))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def clock(when: object) -> str:
    """C{when} (seconds since the epoch) as C{2026-11-27 19:45:37 UTC}."""
    if not isinstance(when, (int, float)) or isinstance(when, bool):
        return "?"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when))
    except (OverflowError, OSError, ValueError):
        return "?"


def describeClient(client: Mapping[str, Any]) -> str:
    """C{pid 4242}, C{client claude-code}, C{session abc}, after the
    principal's key when there is one."""
    text = f"{_text(client.get('kind'))} {_text(client.get('id'))}"
    principal = client.get("principal")
    return f"{_text(principal)}: {text}" if principal else text


# -- the HTML --------------------------------------------------------------------


def _labels(call: Mapping[str, Any]) -> str:
    words = call.get("labels") or []
    if not words:
        return '<span class="sub">no labels</span>'
    return "".join(f'<span class="flow-label">{_esc(word)}</span>' for word in words)


def renderDiff(diff: Any) -> str:
    """The arguments against the last approved call: a table of the keys
    changed, added and removed, or a sentence when there is none."""
    if diff is None:
        return (
            '<p class="diff none">No call of this tool by this client was allowed before:'
            " nothing to compare with.</p>"
        )
    if not diff:
        return (
            '<p class="diff same">The same arguments as the last call of this tool by this'
            " client a person allowed.</p>"
        )
    rows = []
    for change in diff:
        kind = str(change.get("change"))
        old = _esc(_json(change["old"])) if "old" in change else "\u2013"
        new = _esc(_json(change["new"])) if "new" in change else "\u2013"
        rows.append(
            f'<tr class="{_esc(kind)}"><td><code>{_esc(change.get("key"))}</code></td>'
            f"<td>{_esc(kind)}</td><td><code>{old}</code></td><td><code>{new}</code></td></tr>"
        )
    return (
        '<table class="diff"><caption>Since the last call of this tool by this client a person'
        ' allowed</caption><thead><tr><th scope="col">key</th><th scope="col">change</th>'
        '<th scope="col">allowed then</th><th scope="col">now</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _controls(call: Mapping[str, Any]) -> str:
    callId = _esc(call["id"])
    return (
        '<p class="controls" role="group" aria-label="decide">'
        f'<button type="button" data-approval="allow" data-id="{callId}">Allow</button>'
        '<label>reason <input name="reason" type="text" maxlength="500"'
        ' placeholder="optional, for a no"></label>'
        f'<button type="button" data-approval="deny" data-id="{callId}">Deny</button></p>'
    )


def _call(call: Mapping[str, Any], now: float, controls: bool) -> str:
    """One call: the line that says what it is, and once opened its
    arguments, its diff and (waiting) its buttons."""
    pending = call.get("state") == "pending"
    if pending:
        remaining = float(call["expiry"]) - now
        when = (
            f'<span class="left" data-left="{remaining:.0f}">{left(remaining)} left</span>'
            f'<span class="sub">held {_esc(clock(call["created"]))}</span>'
        )
    else:
        by = f" by {_esc(call['decidedBy'])}" if call.get("decidedBy") else ""
        when = (
            f'<span class="state {_esc(call["state"])}">{_esc(call["state"])}</span>{by}'
            f'<span class="sub">decided {_esc(clock(call.get("decidedAt")))},'
            f" held {_esc(clock(call['created']))}</span>"
        )
    denied = (
        f'<p class="denied">Denied because: {_esc(call["denyReason"])}</p>'
        if call.get("denyReason")
        else ""
    )
    if pending and controls:
        decide = _controls(call)
    elif pending:
        decide = (
            f'<p class="sub">mcpgateway approvals allow {_esc(call["id"])}'
            f" (or deny {_esc(call['id'])} --reason TEXT)</p>"
        )
    else:
        decide = ""
    return (
        f'<li class="call" data-call="{_esc(call["id"])}"><details><summary>'
        f'<b class="server">{_esc(call["server"])}</b> \u00b7 '
        f'<b class="tool">{_esc(call["tool"])}</b> \u00b7 '
        f'<span class="client">{_esc(describeClient(call.get("client") or {}))}</span> '
        f'<span class="when">{when}</span> <span class="labels">{_labels(call)}</span>'
        f'<span class="reason">{_esc(call.get("reason") or "")}</span></summary>'
        f"{denied}"
        '<h3>Arguments</h3><pre class="arguments">'
        f"{prettyArguments(call.get('arguments'))}</pre>"
        f"{renderDiff(call.get('diff'))}"
        f'<p class="sub">call {_esc(call["id"])}, digest {_esc(call.get("digest"))},'
        f" policy {_esc(call.get('policyVersion'))}</p>"
        f"{decide}</details></li>"
    )


def renderApprovals(data: Mapping[str, Any], controls: bool = True) -> str:
    """The page's list: the calls waiting, then those decided lately."""
    now = float(data["now"])
    pending, decided = data["pending"], data["decided"]
    out = [
        f'<section class="held" aria-labelledby="held-h"><h2 id="held-h">'
        f"Waiting for a person ({len(pending)})</h2>"
    ]
    if pending:
        out.append(
            '<p class="sub">A yes is good for that exact call, once, before it expires.'
            " Open a call to see its exact arguments.</p>"
        )
        out.append('<ol class="calls">')
        out += [_call(call, now, controls) for call in pending]
        out.append("</ol>")
    else:
        out.append("<p>No call waits for a person's yes.</p>")
    out.append('</section><section class="held" aria-labelledby="decided-h">')
    out.append(f'<h2 id="decided-h">Decided lately ({len(decided) + data["more"]})</h2>')
    if decided:
        out.append('<ol class="calls">')
        out += [_call(call, now, controls) for call in decided]
        out.append("</ol>")
    else:
        out.append('<p class="sub">None yet.</p>')
    if data["more"]:
        out.append(
            f'<p class="sub">{data["more"]} more: <code>mcpgateway approvals list</code></p>'
        )
    return "".join(out) + "</section>"


def renderApprovalsPage(data: Mapping[str, Any], controls: bool = True) -> bytes:
    """The whole page; C{controls} says whether it has buttons (the
    management API is mounted)."""
    styles = "".join(f'<link rel="stylesheet" href="{url(name)}">' for name in STYLES)
    scripts = "".join(f'<script src="{url(name)}" defer></script>' for name in SCRIPTS)
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>mcpgateway: held calls</title><link rel="icon" href="{ICON_PATH}"'
        f' type="image/svg+xml">{styles}</head>'
        f'<body data-list="{LIST_PATH.decode()}">'
        '<a class="skip" href="#approvals">Skip to the held calls</a>'
        f"<header><h1>mcpgateway</h1>{renderNav(len(data['pending']), APPROVALS_HREF)}</header>"
        "<noscript><p>Without JavaScript this page does not refresh (reload it) and its"
        " buttons do nothing: use <code>mcpgateway approvals allow|deny ID</code>.</p></noscript>"
        f'<main><div id="approvals">{renderApprovals(data, controls)}</div>'
        '<p id="note" role="status" aria-live="polite"></p></main>'
        f"{scripts}</body></html>"
    )
    return page.encode("utf-8", "replace")


def serveApprovals(request: IRequest, calls: HeldCalls | None, now: float, controls: bool) -> bytes:
    """Answer C{GET /status/approvals} (the page) and C{GET
    /status/approvals/list} (its list)."""
    path = request.path
    if path not in (APPROVALS_PATH, LIST_PATH):
        return jsonReply(request, 404, {"error": "not found"})
    data = approvalsData(calls, now)
    setPageHeaders(request)
    if path == LIST_PATH:
        return renderApprovals(data, controls).encode("utf-8", "replace")
    return renderApprovalsPage(data, controls)
