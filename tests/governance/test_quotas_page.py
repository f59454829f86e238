"""The status page's rate limits (L{mcpgateway.governance.quotapage}): the
refusals by scope and the principals and servers that hit a limit lately,
the same figures as C{/health}'s C{limits} section; shown to the admins
who may see the page, carried and refreshed by its stream, and every name
from outside shown as text only (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mcpgateway.config.quotas import parseQuotas
from mcpgateway.governance.quotagate import QuotaGate, healthSection
from mcpgateway.governance.quotapage import (
    ANONYMOUS,
    MAX_ROWS,
    MAX_TEXT,
    quotasData,
    renderQuotas,
)
from mcpgateway.governance.quotas import CallFacts
from mcpgateway.web.pages.statusfeed import INTERVAL
from mcpgateway.web.pages.statuspage import renderPage
from mcpgateway.web.root import GatewayRoot
from tests.support.governance.quota_gate import limited, passed, toolCall
from tests.support.web.statuspage import ALLOWED_TAGS, HTML, Page, frames

PRINCIPAL_LIMIT = {"principal": {"calls": "30/min", "burst": 1}}


def refuse(gate: QuotaGate, principal: str, server: str = "srv", times: int = 2) -> None:
    """Call as C{principal} until a limit refused C{times - 1} calls."""
    gate.limits.configure(gate.gatewayQuotas())
    now = gate.clock.seconds()
    for _ in range(times):
        gate.limits.check(CallFacts(principal, server, "tools/call", "read"), now)


def gateOf(config: dict[str, Any]) -> QuotaGate:
    return QuotaGate(Clock(), lambda: parseQuotas(config))


def test_nothing_is_shown_without_limits() -> None:
    assert quotasData(None) is None
    assert quotasData(gateOf({})) is None
    assert renderQuotas(None) == ""


def test_the_section_has_the_figures_of_health() -> None:
    gate = gateOf(PRINCIPAL_LIMIT)
    refuse(gate, "key-alice", times=3)
    refuse(gate, "", "other")
    data = quotasData(gate)
    section = healthSection(gate)
    assert data is not None and section is not None
    assert data["refused"] == section["refused"]
    assert data["refused"]["principal"] == 3
    assert data["buckets"] == section["buckets"] == 2
    assert data["recentlyRefused"] == [
        {"principal": ANONYMOUS, "server": "other", "refused": 1, "remaining": {"principal": 0}},
        {"principal": "key-alice", "server": "srv", "refused": 2, "remaining": {"principal": 0}},
    ]
    html = Page(renderQuotas(data))
    assert html.text("limits").startswith("Rate limits")
    assert "key-alice" in html.text("limited") and "principal 0" in html.text("limited")
    assert json.loads(json.dumps(data)) == data


def test_the_rows_are_bounded() -> None:
    gate = gateOf(PRINCIPAL_LIMIT)
    for n in range(MAX_ROWS + 5):
        refuse(gate, f"key-{n}")
    data = quotasData(gate)
    assert data is not None
    assert len(data["recentlyRefused"]) == MAX_ROWS and data["more"] == 5
    assert data["recentlyRefused"][0]["principal"] == f"key-{MAX_ROWS + 4}"  # newest first
    assert "and 5 more" in renderQuotas(data)


_hostile = st.text(
    alphabet=st.sampled_from([*"<>&\"'`=/ \t\n\r\x00\x1b[31mab\u2028\u00e9/*-->!]]>", "\ud7ff"]),
    max_size=60,
) | st.text(max_size=200)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(principal=_hostile.filter(bool), server=_hostile)
@example(principal='"><b onmouseover=x>', server="<script>alert(1)</script>")
def test_hostile_principals_and_servers_are_only_text(principal: str, server: str) -> None:
    gate = gateOf(PRINCIPAL_LIMIT)
    refuse(gate, principal, server)
    data = quotasData(gate)
    assert data is not None
    (row,) = data["recentlyRefused"]
    for shown in (row["principal"], row["server"]):
        assert len(shown) <= MAX_TEXT
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
    html = Page(renderPage({**_emptyPage(), "limits": data}).decode("utf-8"))
    assert {tag for tag, _ in html.tags} <= ALLOWED_TAGS
    for _, attrs in html.tags:
        assert not any(key.startswith("on") for key in attrs)
    cells = html.text("limited")
    assert row["principal"] in cells and row["server"] in cells


def _emptyPage() -> dict[str, Any]:
    return {
        "version": "1",
        "pid": 1,
        "uptime": 1.0,
        "rssBytes": None,
        "sessions": 0,
        "savings": None,
        "servers": [],
        "clients": [],
        "aggregate": None,
        "tasks": None,
    }


def test_the_page_and_its_stream_show_the_refusals_live() -> None:
    h = limited(PRINCIPAL_LIMIT)
    sid = h.open("alice")
    page = h.as_("root", "GET", "/", accept=HTML)
    assert page.status == 200
    # Limits configured, nothing refused yet: the figures, no rows.
    assert b"no call refused by a limit" in page.body
    stream = h.as_("root", "GET", "/status/events", accept="text/event-stream")
    assert stream.status == 200
    assert frames(stream)[-1]["status"]["limits"]["recentlyRefused"] == []
    assert passed(h.as_("alice", "POST", "/srv/mcp", toolCall(2), session=sid))
    assert h.as_("alice", "POST", "/srv/mcp", toolCall(3), session=sid).status == 429
    h.reactor.advance(INTERVAL)
    latest = frames(stream)[-1]
    (row,) = latest["status"]["limits"]["recentlyRefused"]
    assert (row["server"], row["refused"]) == ("srv", 1)
    assert row["principal"] == "key-alice"
    assert latest["status"]["limits"]["refused"]["principal"] == 1
    shown = Page(latest["html"])
    assert row["principal"] in shown.text("limited")
    root = h.site.resource
    assert isinstance(root, GatewayRoot)
    assert root._statusPage().data()["limits"] == latest["status"]["limits"]


def test_a_gateway_without_limits_shows_no_section() -> None:
    h = limited({})
    h.team.callQuotas = None
    page = h.as_("root", "GET", "/", accept=HTML)
    assert page.status == 200 and b'class="limits"' not in page.body
