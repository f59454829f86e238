# -*- test-case-name: tests.web.pages.test_statusconsole -*-
"""The console's first section: what needs a person, each with its button.

Read off the page's data (L{mcpgateway.web.pages.statuspage.pageData}): the
calls held for a person's yes (with a link to the page that decides them,
L{mcpgateway.web.pages.approvalspage}), the tools waiting for approval
(the pinned tools' changes, with their diff and Approve button,
L{mcpgateway.web.pages.pinspage.renderPins}), the remote servers waiting
for a sign-in (with their Sign in button,
L{mcpgateway.web.pages.consolesignin}), the failing servers with their one-line cause and
the fix C{mcpgateway doctor} would print, a child its sandbox denied
something (its exit reason says what, and the profile key that allows it),
the tool calls its sandbox likely refused something (the server's
C{sandboxRefusals}: L{mcpgateway.core.refusals}), the servers promoted
to a child per session, and what the config holds that the gateway cannot
use (an invalid entry, a client file not adopted, a key added next to the
gateway's URL in a client's file: L{configItems}). A gateway with nothing
of the kind says so in one line.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from mcpgateway.web.pages.consolepage import APPROVALS_HREF
from mcpgateway.web.pages.pinspage import renderPins

SIGNIN_PATH = b"/status/signin/"
"""Where a "Sign in" button goes (L{mcpgateway.web.pages.consolesignin})."""


def signInPath(server: str) -> str:
    """The path of the "Sign in" button of remote server C{server}."""
    return SIGNIN_PATH.decode() + quote(server, safe="")


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def cause(server: Mapping[str, Any]) -> str:
    """A failing server's trouble in one line."""
    for field in ("error", "lastExit"):
        text = server.get(field)
        if text:
            return str(text)
    if server.get("circuit") == "open":
        return "kept crashing: its circuit is open"
    exits = server.get("recentExits") or 0
    if exits:
        return (
            f"{exits} unexpected exit(s) in the last {int(server.get('exitWindow') or 0) // 60} min"
        )
    return f"it is {server.get('state')}"


def kindOf(server: Mapping[str, Any]) -> str:
    """C{sandbox} (its sandbox denied it something), C{missing} (its
    command is not there), C{crash-loop} (circuit open), else C{failing}."""
    text = f"{server.get('error') or ''} {server.get('lastExit') or ''}"
    if "sandbox" in text:
        return "sandbox"
    if str(server.get("error") or "").startswith("command '"):
        return "missing"
    if server.get("circuit") == "open":
        return "crash-loop"
    return "failing"


def fix(server: Mapping[str, Any]) -> str:
    """What C{mcpgateway doctor} says to do about a failing server."""
    name = str(server["name"])
    kind = kindOf(server)
    if kind == "sandbox":
        return f"allow what its exit reason names in the server's {learnFix(name)}"
    if kind == "missing":
        where = server.get("configFile")
        return f"install its command or fix its entry in {where or 'its config file'}"
    if kind == "crash-loop":
        return (
            f"its log shows why (mcpgateway logs {name}); fix that, then Reset circuit"
            f" (mcpgateway servers reset-circuit {name})"
        )
    return f"its log shows why (mcpgateway logs {name}); fix that, and the next request starts it"


def learnFix(name: str) -> str:
    """The end of a sandbox fix: the key goes in the server's entry, or the
    server learns what it needs (C{"sandbox": "learn"}, then C{mcpgateway
    sandbox suggest}: the commands that exist)."""
    return (
        '"sandbox" entry (docs/guide/sandbox.md), or let it learn what it needs:'
        f' "sandbox": "learn" in its entry, use it, then mcpgateway sandbox suggest {name}'
    )


def _button(action: str, label: str, server: str, disabled: bool = False) -> str:
    return (
        f'<button type="button" data-action="{action}" data-server="{_esc(server)}"'
        f"{' disabled' if disabled else ''}>{label}</button>"
    )


def _signInButton(server: str) -> str:
    """The "Sign in" button of a remote server waiting for a sign-in: a
    link to C{GET /status/signin/<server>}
    (L{mcpgateway.web.pages.consolesignin}), which sends the browser on to
    the gateway's sign-in pages; it works without JavaScript too."""
    return (
        f'<a class="button" data-action="signin" data-server="{_esc(server)}"'
        f' href="{_esc(signInPath(server))}">Sign in</a>'
    )


def _item(kind: str, text: str, buttons: str = "") -> str:
    return f'<li class="need {kind}">{text}{" " + buttons if buttons else ""}</li>'


def configItems(config: Mapping[str, Any] | None) -> list[str]:
    """The items of what the config holds that the gateway cannot use
    (C{/health}'s C{config} line): each entry it does not serve, each
    client file it does not adopt, and each key added next to the
    gateway's URL in a client's file, with what to do."""
    if not config:
        return []
    items = [
        _item(
            "config",
            f"<b>{_esc(e['server'])}</b> (invalid entry in {_esc(e['file'])}): {_esc(e['why'])}"
            '<span class="sub">fix: correct the entry; the gateway reads it again when the'
            " file changes</span>",
        )
        for e in config.get("invalidEntries") or ()
    ]
    items += [
        _item(
            "config",
            f"<b>{_esc(f['file'])}</b> ({_esc(f['client'])}) is not adopted: {_esc(f['why'])}",
        )
        for f in config.get("refusedFiles") or ()
    ]
    items += [
        _item(
            "config",
            f"<b>{_esc(i['server'])}</b>: {_esc(', '.join(i['keys']))} added next to the"
            f" gateway's URL in {_esc(i['file'])} has no effect"
            f'<span class="sub">fix: {_esc(i["fix"])}</span>',
        )
        for i in config.get("ignoredKeys") or ()
    ]
    return items


def renderNeeds(data: Mapping[str, Any], controls: bool = True) -> str:
    """The section's HTML (at the top of the page's live part)."""
    items: list[str] = []
    held = (data.get("approvals") or {}).get("pending", 0)
    if held:
        items.append(
            _item(
                "held",
                f"<b>{held} tool call(s) wait for a person's yes</b>: each shows its labels,"
                " its exact arguments and what changed since the last one allowed",
                f'<a class="button" data-action="approvals" href="{APPROVALS_HREF}">Review</a>',
            )
        )
    pins = data.get("pins")
    waiting = len(pins["changes"]) if pins else 0
    if waiting:
        items.append(
            _item(
                "pins",
                f"<b>{waiting} tool change(s) wait for approval</b>: each is shown below with"
                " what changed and its Approve button",
            )
        )
    for server in data["servers"]:
        key, name = server["key"], _esc(server["name"])
        if server.get("login") == "needed":
            items.append(
                _item(
                    "login",
                    f"<b>{name}</b> waits for a sign-in"
                    f'<span class="sub">Sign in here, or run <code>mcpgateway login {name}</code>'
                    " on the gateway's machine</span>",
                    _signInButton(str(key)),
                )
            )
        if server.get("failing") and not server.get("disabled"):
            kind = kindOf(server)
            label = {"sandbox": "sandbox denial", "missing": "command missing"}.get(
                kind, "crash loop" if kind == "crash-loop" else "failing"
            )
            buttons = ""
            if controls:
                buttons += _button("logs", "Log", key) + _button("restart", "Restart", key)
                if server.get("circuit") != "closed":
                    buttons += _button("reset-circuit", "Reset circuit", key)
            items.append(
                _item(
                    kind,
                    f"<b>{name}</b> ({label}): {_esc(cause(server))}"
                    f'<span class="sub">fix: {_esc(fix(server))}</span>',
                    buttons,
                )
            )
        refusals = server.get("sandboxRefusals") or []
        if refusals and not server.get("disabled"):
            more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
            items.append(
                _item(
                    "sandbox",
                    f"<b>{name}</b> (sandbox refusal): {_esc(refusals[0])}{more}"
                    f'<span class="sub">fix: if it needs it, add what the line names to'
                    f" its {_esc(learnFix(str(server['name'])))}</span>",
                    _button("logs", "Log", key) if controls else "",
                )
            )
        if server.get("promoted"):
            items.append(
                _item(
                    "promotion",
                    f"<b>{name}</b> was promoted to a child per session: "
                    f"{_esc(server['promoted'])}"
                    '<span class="sub">keep it so, or set its "share" back in the'
                    " gateway's overrides (mcpgateway doctor prints the line)</span>",
                )
            )
    items.extend(configItems(data.get("config")))
    if not items:
        return (
            '<section class="needs calm" id="needs" aria-labelledby="needs-h">'
            '<h2 id="needs-h">Needs a person</h2><p>Nothing: every server is fine and no'
            " change waits for approval.</p></section>"
        )
    out = (
        '<section class="needs" id="needs" aria-labelledby="needs-h">'
        f'<h2 id="needs-h">Needs a person ({len(items)})</h2><ul>{"".join(items)}</ul>'
    )
    if waiting:
        out += renderPins(pins, controls)
    return out + "</section>"
