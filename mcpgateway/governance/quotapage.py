# -*- test-case-name: tests.governance.test_quotas_page -*-
"""The status page's rate limits (docs/guide/limits.md, docs/guide/status-page.md): the
calls refused by scope, and the principals and servers that hit a limit
most recently, with the calls each has left now: the figures of
C{/health}'s C{limits} section (L{mcpgateway.governance.quotagate.healthSection}),
as data the page's stream carries (L{quotasData}) and as its HTML
(L{renderQuotas}).

A principal's key and a server's name come from outside: each is shown
as text (escaped, control characters replaced, cut to L{MAX_TEXT}
characters), and at most L{MAX_ROWS} rows are shown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from mcpgateway.governance.quotagate import REFUSED_SCOPES, QuotaGate, healthSection

MAX_ROWS = 20
"""Rows of (principal, server) shown at most (C{/health} shows 50)."""
MAX_TEXT = 120
"""Characters of a principal's key or a server's name shown."""
ANONYMOUS = "(anonymous)"
"""How the principal of a gateway without authentication is shown."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _text(value: object) -> str:
    text = _CONTROL.sub("\ufffd", str(value))
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "\u2026"


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def quotasData(gate: QuotaGate | None) -> dict[str, Any] | None:
    """The page's limits part, JSON-ready (C{None}: no limits configured
    and nothing refused, as C{/health} says)."""
    section = None if gate is None else healthSection(gate)
    if section is None:
        return None
    refused = section["refused"]
    rows = section["recentlyRefused"]
    return {
        "refused": {scope: _count(refused.get(scope)) for scope in REFUSED_SCOPES},
        "buckets": _count(section["buckets"]),
        "recentlyRefused": [
            {
                "principal": _text(row["principal"]) if row["principal"] else ANONYMOUS,
                "server": _text(row["server"]),
                "refused": _count(row["refused"]),
                "remaining": {
                    scope: _count(left)
                    for scope, left in sorted(row["remaining"].items())
                    if scope in REFUSED_SCOPES
                },
            }
            for row in rows[:MAX_ROWS]
        ],
        "more": max(0, len(rows) - MAX_ROWS),
    }


def _esc(text: object) -> str:
    return html.escape(_text(text), quote=True)


def _remaining(left: Mapping[str, int]) -> str:
    if not left:
        return "\u2013"
    return ", ".join(f"{_esc(scope)} {count}" for scope, count in left.items())


def renderQuotas(data: Mapping[str, Any] | None) -> str:
    """The page's limits section (nothing when L{quotasData} had none)."""
    if not data:
        return ""
    total = sum(data["refused"].values())
    out = ['<section class="limits"><h2>Rate limits</h2><dl class="refused">']
    out.append(f"<div><dt>refused</dt><dd>{total}</dd></div>")
    for scope, count in data["refused"].items():
        out.append(f"<div><dt>{_esc(scope)}</dt><dd>{count}</dd></div>")
    out.append(f"<div><dt>buckets</dt><dd>{data['buckets']}</dd></div></dl>")
    rows = data["recentlyRefused"]
    if not rows:
        out.append('<p class="sub">no call refused by a limit</p></section>')
        return "".join(out)
    out.append(
        '<table class="limited"><thead><tr><th scope="col">principal</th>'
        '<th scope="col">server</th><th scope="col">refused</th>'
        '<th scope="col">calls left now</th></tr></thead><tbody>'
    )
    for row in rows:
        out.append(
            f"<tr><td>{_esc(row['principal'])}</td><td>{_esc(row['server'])}</td>"
            f"<td>{row['refused']}</td><td>{_remaining(row['remaining'])}</td></tr>"
        )
    out.append("</tbody></table>")
    if data["more"]:
        out.append(f'<p class="sub">and {data["more"]} more refused recently (see /health)</p>')
    out.append("</section>")
    return "".join(out)
