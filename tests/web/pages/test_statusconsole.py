"""The console around the status page (web/pages/consolepage.py,
consoleassets.py, statusneeds.py) through the real C{Site} with fake
children and a fake clock: its own files served with their caching and
policy headers, the page that links them by digest, the series of its
plots (C{GET /status/series}) sampled on the clock, behind a team
gateway's admin door, and what needs a person at the top of the page."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from mcpgateway.config.problems import ConfigProblems, IgnoredKeys, InvalidEntry, RefusedFile
from mcpgateway.core.status import Circuit, ServerState
from mcpgateway.ops.timeseries import STEP
from mcpgateway.web.pages.consoleassets import DIGESTS, FILES, SCRIPTS, STYLES, url, weight
from mcpgateway.web.pages.statusneeds import fix, renderNeeds
from mcpgateway.web.pages.statuspage import StatusPage, pageData
from tests.http import Harness
from tests.support.web.statuspage import HTML, Page, statusPage
from tests.support.web.team_web import TeamHarness


def call(h: Harness, session: str, requestId: int = 2) -> None:
    """A C{tools/call} on C{srv} that its child answers."""
    response = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": requestId, "method": "tools/call", "params": {"name": "t"}},
        session=session,
        headers={"mcp-protocol-version": "2025-11-25"},
    )
    proc = h.process()
    sent = [m for m in proc.sentMessages() if m.get("method") == "tools/call"][-1]
    proc.reply({"jsonrpc": "2.0", "id": sent["id"], "result": {"content": []}})
    assert response.status == 200, response.body


# -- the files -------------------------------------------------------------------


def test_every_file_is_served_with_its_type_caching_and_policy() -> None:
    h = Harness()
    for name in STYLES + SCRIPTS:
        response = h.request("GET", url(name), accept="*/*")
        assert response.status == 200 and response.body == FILES[name]
        headers = response.headers
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        assert headers["content-type"] == f"{kind}; charset=utf-8"
        assert headers["cache-control"] == "public, max-age=31536000, immutable"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-security-policy"] == "default-src 'none'"
        assert headers["etag"] == f'"{DIGESTS[name]}"'


def test_a_file_the_browser_has_is_not_sent_again() -> None:
    h = Harness()
    name = SCRIPTS[0]
    response = h.request(
        "GET", url(name), accept="*/*", headers={"if-none-match": f'"{DIGESTS[name]}"'}
    )
    assert response.status == 304 and response.body == b""


def test_no_other_file_is_served() -> None:
    h = Harness()
    for path in ("/status/assets/nope.js", "/status/assets/../statuspage.py", "/status/other"):
        assert h.request("GET", path, accept="*/*").status == 404, path
    assert h.request("POST", url(SCRIPTS[0]), accept="*/*").status in (403, 405)


def test_the_page_links_its_files_by_digest_and_stays_small() -> None:
    h = Harness()
    response = h.request("GET", "/", accept=HTML)
    html = Page(response.body.decode())
    scripts = [a["src"] for t, a in html.tags if t == "script"]
    assert scripts == [url(name) for name in SCRIPTS]
    assert all(f"?v={DIGESTS[name]}" in url(name) for name in SCRIPTS)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    assert weight() + len(response.body) < 80_000  # the page's whole weight


# -- the series ------------------------------------------------------------------


def test_the_series_shows_the_calls_made_sampled_on_the_clock() -> None:
    h = Harness()
    assert h.request("GET", "/status/series", accept="application/json").status == 200
    session = h.initialize()
    for n in range(10):
        call(h, session, requestId=10 + n)
    h.reactor.advance(STEP)
    answer = h.request("GET", "/status/series", accept="application/json")
    assert answer.headers["cache-control"] == "no-store"
    series = json.loads(answer.body)
    assert series["span"] == "hour" and series["step"] == STEP
    assert len(series["t"]) == 2
    columns = series["columns"]
    assert columns["server.srv.calls"][-1] == 10 / STEP
    assert columns["server.srv.p50"][-1] is not None
    assert columns["gateway.sessions"][-1] == 1.0
    assert columns["client.test"][-1] == 1.0
    day = json.loads(h.request("GET", "/status/series?span=day", accept="*/*").body)
    assert day["span"] == "day" and day["step"] == 60.0


def test_the_series_is_sampled_once_whatever_the_pages_open() -> None:
    h = Harness()
    page = statusPage(h)
    for _ in range(3):
        h.request("GET", "/", accept=HTML)
    h.reactor.advance(STEP)
    assert len(page.series.book.hour) == 2
    page.series.stop()


def test_on_a_team_gateway_the_series_and_files_are_for_admins() -> None:
    h = TeamHarness()
    assert h.request("GET", "/status/series", accept="*/*").status == 401
    assert h.as_("alice", "GET", "/status/series", accept="*/*").status == 403
    assert h.as_("alice", "GET", url(SCRIPTS[0]), accept="*/*").status == 403
    assert h.as_("root", "GET", "/status/series", accept="*/*").status == 200
    assert h.as_("root", "GET", url(SCRIPTS[0]), accept="*/*").status == 200


# -- what needs a person ------------------------------------------------------------


def data(h: Harness, **server: Any) -> dict[str, Any]:
    status = h.gateway.readModel.status()
    srv = replace(status.servers["srv"], **server)
    return {**pageData(replace(status, servers={"srv": srv})), "pins": None}


def test_nothing_needs_a_person_says_so() -> None:
    h = Harness()
    html = renderNeeds(data(h))
    assert "calm" in html and "Nothing" in html


def test_a_failing_server_shows_its_cause_its_fix_and_its_buttons() -> None:
    h = Harness()
    html = renderNeeds(data(h, state=ServerState.ERROR, circuit=Circuit.OPEN, error="<b>boom</b>"))
    page = Page(html)
    assert "Needs a person (1)" in page.text("h2")
    assert "&lt;b&gt;boom&lt;/b&gt;" in html and "<b>boom" not in html
    actions = [a["data-action"] for t, a in page.tags if t == "button"]
    assert actions == ["logs", "restart", "reset-circuit"]
    assert "mcpgateway servers reset-circuit srv" in page.text("sub")
    # Without the management API: the cause and the fix, no buttons.
    assert "<button" not in renderNeeds(data(h, state=ServerState.ERROR, error="x"), False)


def test_each_kind_of_trouble_gets_its_own_fix() -> None:
    base = {"name": "s", "circuit": "closed", "state": "error"}
    assert "install its command" in fix({**base, "error": "command 'x' not found"})
    sandboxed = fix({**base, "lastExit": "exited 1 (sandbox: /x denied)"})
    assert '"sandbox": "learn" in its entry' in sandboxed
    assert "mcpgateway sandbox suggest s" in sandboxed and "sandbox learn s" not in sandboxed
    assert "Reset circuit" in fix({**base, "circuit": "open"})
    assert "next request starts it" in fix({**base, "lastExit": "exited 1"})


def test_every_command_a_sandbox_fix_names_exists() -> None:
    """The console's sandbox fix names only commands the CLI has."""
    from mcpgateway.cli.main import makeParser

    parser = makeParser()
    base = {"name": "s", "circuit": "closed", "state": "error", "lastExit": "the sandbox denied /x"}
    commands = re.findall(r"mcpgateway ([a-z-]+(?: [a-z-]+)?) s\b", fix(base))
    assert commands == ["sandbox suggest"]
    for command in commands:
        words = command.split()
        assert parser.parse_args([*words, "s"]).handler, command


def test_a_tool_call_its_sandbox_likely_refused_waits_for_a_person() -> None:
    h = Harness()
    told = (
        "a tool call failed, likely because of the sandbox: the sandbox denied writing <x>:"
        ' allow it with "sandbox": {"filesystem": {"allowWrite": ["/x"]}}'
    )
    status = h.gateway.readModel.status()
    srv = status.servers["srv"]
    srv = replace(srv, requests=replace(srv.requests, sandboxRefusals=(told, "another")))
    html = renderNeeds({**pageData(replace(status, servers={"srv": srv})), "pins": None})
    page = Page(html)
    assert "Needs a person (1)" in page.text("h2")
    assert "(sandbox refusal)" in html and "&lt;x&gt;" in html and "<x>" not in html
    assert "(and 1 more)" in html
    assert "mcpgateway sandbox suggest srv" in page.text("sub")
    assert [a["data-action"] for t, a in page.tags if t == "button"] == ["logs"]


def test_a_sign_in_and_a_promotion_wait_for_a_person() -> None:
    h = Harness()
    html = renderNeeds(data(h, login="needed", promoted="its child asked <i>roots</i>"))
    page = Page(html)
    assert "Needs a person (2)" in page.text("h2")
    assert "mcpgateway login srv" in html
    assert "promoted to a child per session" in html and "<i>" not in html


def test_tool_changes_waiting_are_shown_at_the_top_with_their_approve_button() -> None:
    h = Harness()
    pins = {
        "policy": "warn",
        "quarantineNew": False,
        "pinned": 1,
        "changes": [
            {
                "server": "srv",
                "tool": "t",
                "change": "changed",
                "digest": "d1",
                "withheld": False,
                "diff": ["description: {+evil+}"],
            }
        ],
        "more": 0,
    }
    html = renderNeeds({**data(h), "pins": pins})
    page = Page(html)
    assert "1 tool change(s) wait for approval" in html
    approve = [a for t, a in page.tags if t == "button" and a.get("data-action") == "approve"]
    assert approve and approve[0]["data-tool"] == "t" and approve[0]["data-digest"] == "d1"


def test_each_frame_of_the_stream_carries_what_needs_a_person() -> None:
    h = Harness()
    response = h.request("GET", "/status/events", accept="text/event-stream")
    frame = response.events()[0]
    assert "Needs a person" in frame["needs"] and 'data-server="srv"' in frame["html"]
    statusPage(h).feed.closeAll()
    statusPage(h).series.stop()


def test_what_the_config_holds_that_the_gateway_cannot_use_waits_for_a_person() -> None:
    """An invalid entry, a client file not adopted and a key added next to
    the gateway's URL each get an item, with the file they are in and the
    fix, from the page's data as C{/health} has them; the user's words
    escaped."""
    problems = ConfigProblems(
        invalidEntries=(InvalidEntry("bad", "/h/.claude.json", "user", "no <command>"),),
        refusedFiles=(RefusedFile("/h/.cursor/mcp.json", "cursor", "it has comments"),),
        ignoredKeys=(
            IgnoredKeys(
                "notes",
                "/h/.claude.json",
                ("env",),
                "mcpgateway servers edit notes --set env.K=...",
            ),
        ),
    )
    h = Harness()
    page = StatusPage(h.gateway, h.reactor, config=lambda: problems)
    html = renderNeeds({**page.data(), "pins": None})
    assert "Needs a person (3)" in Page(html).text("h2")
    assert "invalid entry in /h/.claude.json" in html and "no &lt;command&gt;" in html
    assert "/h/.cursor/mcp.json</b> (cursor) is not adopted: it has comments" in html
    assert "env added next to the gateway's URL in /h/.claude.json has no effect" in html
    assert "mcpgateway servers edit notes --set env.K=..." in html
    assert StatusPage(h.gateway, h.reactor).data()["config"] is None
