# -*- test-case-name: tests.web.admin.test_pinsapi -*-
"""The status page's pinned tools (docs/guide/trust.md, docs/guide/status-page.md):
each tool that changed, was added or was removed since its server's tools
were approved, whether the gateway withholds it, what changed (the
description word by word, the schema paths), and an Approve button per
tool (C{POST /api/v1/pins/<server>/approve}, under the page's CSRF rule:
L{mcpgateway.web.pages.statuspage.csrfRefusal}).

Every text a server wrote is escaped, its control characters shown as
escapes, and cut; the page shows at most L{MAX_CHANGES} changes.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.trust.diff import approveCommand, printable
from mcpgateway.trust.policy import policyOf

MAX_CHANGES = 50
"""Changes the page shows at most (C{mcpgateway tools diff} shows them all)."""
MAX_LINES = 20
"""Lines of one change's diff shown."""
MAX_TEXT = 300
"""Characters of one line (or name) shown."""


def _text(value: object) -> str:
    text = printable(str(value))
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "\u2026"


def pinsData(gateway: Gateway) -> dict[str, Any] | None:
    """The page's pins part, JSON-ready (C{None}: the gateway pins nothing)."""
    policy = policyOf(gateway)
    if policy is None:
        return None
    report = policy.report()
    changes = []
    for record in report["servers"]:
        for change in record["changes"]:
            changes.append(
                {
                    "server": record["server"],
                    "tool": change["tool"],
                    "change": change["change"],
                    "digest": change["digest"],
                    "withheld": bool(change["withheld"]),
                    "diff": [_text(line) for line in change["diff"][:MAX_LINES]],
                }
            )
    return {
        "policy": report["policy"],
        "quarantineNew": report["quarantineNew"],
        "pinned": sum(record["tools"] for record in report["servers"]),
        "changes": changes[:MAX_CHANGES],
        "more": max(0, len(changes) - MAX_CHANGES),
    }


def _esc(text: object) -> str:
    return html.escape(_text(text), quote=True)


def renderPins(data: Mapping[str, Any] | None, controls: bool = True) -> str:
    """The page's pins section (nothing when the gateway pins nothing)."""
    if not data:
        return ""
    mode = f"--pins {data['policy']}" + (" --quarantine-new" if data["quarantineNew"] else "")
    out = [f'<section class="pins"><h2>Pinned tools <span class="sub">{_esc(mode)}</span></h2>']
    if not data["changes"]:
        out.append(f'<p class="sub">{data["pinned"]} tool(s) pinned, every one as approved</p>')
        return "".join(out) + "</section>"
    heads = ["server", "tool", "change", "what changed"] + (["actions"] if controls else [])
    out.append('<table class="pins"><thead><tr>')
    out.append("".join(f'<th scope="col">{h}</th>' for h in heads) + "</tr></thead><tbody>")
    for change in data["changes"]:
        state = "withheld" if change["withheld"] else "served"
        cells = [
            f"<td>{_esc(change['server'])}</td>",
            f"<td>{_esc(change['tool'])}</td>",
            f'<td>{_esc(change["change"])}<span class="sub{" bad" if change["withheld"] else ""}">'
            f"{state}</span></td>",
            '<td><pre class="diff">' + "\n".join(_esc(line) for line in change["diff"]) + "</pre>"
            f'<span class="sub">{_esc(approveCommand(change["server"], [change["tool"]]))}'
            "</span></td>",
        ]
        if controls:
            cells.append(
                f'<td class="actions"><button type="button" data-action="approve"'
                f' data-server="{html.escape(change["server"], quote=True)}"'
                f' data-tool="{html.escape(change["tool"], quote=True)}"'
                f' data-digest="{html.escape(change["digest"] or "", quote=True)}">'
                "Approve</button></td>"
            )
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if data["more"]:
        out.append(f'<p class="sub">{data["more"]} more: <code>mcpgateway tools diff</code></p>')
    return "".join(out) + "</section>"
