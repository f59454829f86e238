# -*- test-case-name: tests.web.pages.test_statusconsole -*-
"""The console's page around its live part: the plots, the log tail and the
"try a tool" panel, and the policy that lets it load its own files only.

The live part (L{mcpgateway.web.pages.statuspage.renderLive}) is what the stream
replaces every few seconds; the panels here stay, filled by the page's
scripts (L{mcpgateway.web.pages.consoleassets}): the plots from
C{GET /status/series}, the log tail from C{GET /api/v1/servers/<name>/logs},
the try-out over MCP from the page's own session with the server.
Each panel has a fixed height before its data arrives (no layout shift).
"""

from __future__ import annotations

from twisted.web.iweb import IRequest

from mcpgateway.web.pages.consoleassets import SCRIPTS, STYLES, url
from mcpgateway.web.pages.favicon import ICON_PATH

CONTENT_SECURITY_POLICY = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
    b" img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The page's own files and requests to the gateway; images of a tool's
result as C{data:} URLs; nothing inline, nothing from elsewhere."""
APPROVALS_HREF = "/status/approvals"
"""The held calls' page (L{mcpgateway.web.pages.approvalspage})."""
CURRENT = ' aria-current="page"'


def setPageHeaders(request: IRequest) -> None:
    """What every page of the console answers with: HTML never kept,
    L{CONTENT_SECURITY_POLICY}, never in a frame, never sniffed, no referrer."""
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"content-security-policy", CONTENT_SECURITY_POLICY)
    request.setHeader(b"x-frame-options", b"DENY")
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"referrer-policy", b"no-referrer")


def renderNav(held: int, here: str = "/") -> str:
    """The console's links between its pages: the status page and the
    held calls' page with how many calls wait (C{#held-count}, which
    C{console.js} keeps current); C{here}, the page's own path."""
    count = f' <span class="count" id="held-count">{held}</span>'
    links = [("/", "Status"), (APPROVALS_HREF, "Held calls" + count)]
    return (
        '<nav aria-label="console">'
        + "".join(
            f'<a href="{href}"{CURRENT if href == here else ""}>{text}</a>' for href, text in links
        )
        + "</nav>"
    )


PLOTS = (
    ("processes", "Processes: with the gateway and without it"),
    ("memory", "Memory: with the gateway and without it"),
    ("calls", "Calls per second by server (errors and restarts marked)"),
    ("latency", "Latency by server, p50 and p99"),
    ("clients", "Sessions by client"),
)


def _figure(key: str, caption: str) -> str:
    return (
        f'<figure data-plot="{key}"><figcaption id="plot-{key}">{caption}</figcaption>'
        f'<svg class="plot" role="img" aria-labelledby="plot-{key}"></svg>'
        '<ul class="legend"></ul><p class="now" aria-live="off">no data yet</p></figure>'
    )


def renderPlots() -> str:
    """The plots' section (drawn by C{plots.js})."""
    return (
        '<section id="plots-section" aria-labelledby="plots-h"><h2 id="plots-h">Over time</h2>'
        '<p class="controls" role="group" aria-label="time span">'
        '<button type="button" data-span="hour" aria-pressed="true">Last hour</button>'
        '<button type="button" data-span="day" aria-pressed="false">Last day</button></p>'
        '<div class="plots" id="plots">'
        + "".join(_figure(key, caption) for key, caption in PLOTS)
        + "</div></section>"
    )


def renderLogs() -> str:
    """The log tail's panel (C{logtail.js})."""
    return (
        '<section id="logs" class="panel" aria-labelledby="logs-h"><h2 id="logs-h">Server log</h2>'
        '<div class="controls"><label>server<select name="server">'
        '<option value="">(choose)</option></select></label>'
        '<label>filter<input name="filter" type="search" placeholder="text or kind"></label>'
        '</div><p class="now" role="status">pick a server</p>'
        '<ol class="log" tabindex="0" aria-label="the server\'s events, newest last"></ol>'
        "</section>"
    )


def renderTryout() -> str:
    """The "try a tool" panel (C{tryout.js})."""
    return (
        '<section id="tryout" class="panel" aria-labelledby="tryout-h">'
        '<h2 id="tryout-h">Try a tool</h2>'
        '<div class="controls"><label>server<select name="server">'
        '<option value="">(choose)</option></select></label>'
        '<label>tool<select name="tool"><option value="">(choose)</option></select></label>'
        '<label class="field check"><input type="checkbox" name="raw"> arguments as JSON</label>'
        '</div><p class="about"></p><div class="form"></div>'
        '<textarea name="arguments" aria-label="arguments as JSON" hidden>{}</textarea>'
        '<p class="controls"><button type="button" name="call" disabled>Call</button>'
        '<button type="button" name="cancel" disabled>Cancel</button>'
        '<progress hidden aria-label="progress"></progress></p>'
        '<p class="now" role="status"></p><div class="result" aria-live="polite"></div></section>'
    )


def renderPage(needs: str, live: str, stream: str, controls: bool = True, held: int = 0) -> bytes:
    """The whole page: C{needs} (what needs a person) at the top, the plots,
    then C{live} (the servers and the rest), both replaced by each event of
    C{stream}, then the log tail and the try-out. C{controls} says whether
    it has buttons and the panels that use the management API (it is
    mounted); C{held}, how many calls wait for a person's yes (its
    navigation shows it)."""
    noscript = (
        "<noscript><p>Without JavaScript this page does not refresh (reload it)"
        + (
            " and its buttons do nothing: use <code>mcpgateway servers"
            " restart|enable|disable|reset-circuit NAME</code>"
            if controls
            else ""
        )
        + ".</p></noscript>"
    )
    styles = "".join(f'<link rel="stylesheet" href="{url(name)}">' for name in STYLES)
    scripts = "".join(f'<script src="{url(name)}" defer></script>' for name in SCRIPTS)
    panels = renderLogs() + renderTryout() if controls else ""
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>mcpgateway status</title><link rel="icon" href="{ICON_PATH}"'
        f' type="image/svg+xml">{styles}</head>'
        f'<body data-stream="{stream}"><a class="skip" href="#live">Skip to the servers</a>'
        f"<header><h1>mcpgateway</h1>{renderNav(held)}"
        '<span id="feed" class="feed">not live</span></header>'
        f"{noscript}"
        f'<main><div id="needs-live">{needs}</div>{renderPlots()}'
        f'<div id="live">{live}</div>'
        '<p id="note" role="status" aria-live="polite"></p>'
        f"{panels}</main>{scripts}</body></html>"
    )
    return page.encode("utf-8", "replace")
