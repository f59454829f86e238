"""The status page (web/pages/statuspage.py) and its stream (web/pages/statusfeed.py)
through the real C{Site} with fake children and a fake clock: the HTML of a
gateway with a failing server (its stderr lines), hostile names and lines
shown as text (hypothesis), the page's policy headers, the CSRF rule of the
API a browser calls (a cross-site form post fails), the team gate, and the
stream: one ticker while someone watches, none otherwise, a push soon after
a server's event, bounded watchers, a reader that does not read skipped."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.test.requesthelper import DummyRequest

from mcpgateway.core.status import Savings
from mcpgateway.web.app import makeSite
from mcpgateway.web.pages.consoleassets import SCRIPTS, STYLES, url
from mcpgateway.web.pages.consolepage import CONTENT_SECURITY_POLICY
from mcpgateway.web.pages.statusfeed import INTERVAL, NUDGE_DELAY, StatusFeed
from mcpgateway.web.pages.statuspage import (
    STDERR_LINES,
    StatusPage,
    clean,
    csrfRefusal,
    pageData,
    renderPage,
    restartData,
    stderrTails,
)
from tests.core.tasks.support import keptTasks, serveTasks
from tests.http import Harness, Response, initializeMessage, spec
from tests.support.web.api import TOKEN, ApiHarness
from tests.support.web.statuspage import (
    ALLOWED_TAGS,
    HTML,
    Page,
    _serverSavings,
    frames,
    statusPage,
)
from tests.support.web.team_web import TeamHarness

FORM = "application/x-www-form-urlencoded"


OWN_FILES = ["/favicon.svg"] + [url(name) for name in STYLES + SCRIPTS]
"""Every file the page loads: its icon, its style and its scripts, all the gateway's."""


def page(h: Harness, **kwargs: Any) -> tuple[Response, Page]:
    response = h.request("GET", "/", accept=HTML, **kwargs)
    assert response.status == 200, response.body
    return response, Page(response.body.decode("utf-8"))


def failed(h: Harness, server: str = "srv", lines: int = 3) -> None:
    """Open a session on C{server}; its child writes stderr lines and exits 1."""
    h.initialize(server)
    child = h.process()
    for n in range(lines):
        child.stderr(f"line {n}: \x1b[31mcannot open database\x1b[0m\n".encode())
    child.exit(1)


# -- the page ------------------------------------------------------------------


def test_the_page_shows_the_servers_and_a_failing_servers_last_stderr_lines() -> None:
    h = Harness({"srv": spec("srv"), "other": spec("other")})
    failed(h, lines=STDERR_LINES + 4)
    response, html = page(h)
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    rows = [attrs["data-server"] for tag, attrs in html.tags if attrs.get("class") == "server"]
    assert rows == ["srv", "other"]
    assert "restarting" in html.text("state restarting") or "degraded" in html.text(
        "state degraded"
    )
    stderr = html.text("stderr").splitlines()
    assert len(stderr) == STDERR_LINES
    assert stderr[-1] == f"line {STDERR_LINES + 3}: cannot open database"  # no escapes
    assert "exited with code 1" in response.body.decode()
    # The healthy server has no details row, and no stderr.
    details = [a["data-server"] for t, a in html.tags if a.get("class") == "details"]
    assert details == ["srv"]


def test_a_failing_servers_first_error_line_comes_before_its_last_lines() -> None:
    h = Harness({"srv": spec("srv")})
    h.initialize("srv")
    child = h.process()
    child.stderr(b"npm error code E404\nnpm error 404 Not Found - GET https://registry/x\n")
    for n in range(STDERR_LINES + 2):
        child.stderr(f"npm error 404 advice {n}\n".encode())
    child.exit(1)
    _, html = page(h)
    stderr = html.text("stderr").splitlines()
    assert stderr[:2] == ["npm error 404 Not Found - GET https://registry/x", "…"]
    assert stderr[2:] == [f"npm error 404 advice {n}" for n in range(2, STDERR_LINES + 2)]


def crashAtStart(h: Harness, times: int, server: str = "srv") -> None:
    """A client's C{initialize}, whose new child writes a line to stderr and
    exits before it answers its handshake; C{times} times, past each backoff."""
    for _ in range(times):
        response = h.request(
            "POST",
            f"/{server}/mcp",
            initializeMessage(clientInfo={"name": "claude-code", "version": "1"}),
        )
        child = h.process()
        child.stderr(b"ModuleNotFoundError: No module named 'srv_impl'\n")
        child.exit(1)
        assert response.status == 200 and response.json()["error"]["code"] == -32000
        h.reactor.advance(10)  # past its backoff, well within the breaker's window


def test_a_server_whose_child_dies_at_start_is_failing_before_its_circuit_opens(
    tmp_path: Path,
) -> None:
    """It showed C{stopped}, errors 0, circuit closed,
    and no last exit, until the circuit opened."""
    h = ApiHarness(tmp_path / "state")
    crashAtStart(h, 2)
    status = h.gateway.readModel.status()
    assert status.servers["srv"].circuit.value == "closed"  # two crashes: not open yet
    _, html = page(h)
    assert html.text("state stopped") == "stopped"
    assert html.text("sub bad") == "2 unexpected exits in 5 min"
    assert html.text("bad") == ""  # no forwarded request failed: a plain 0, not in red...
    assert "2 initialize failed" in html.text("sub")  # ...but two initialize did
    details = html.text("details")
    assert "last exit: exited with code 1" in details
    assert "No module named 'srv_impl'" in html.text("stderr")
    data = StatusPage(h.gateway, h.reactor).data()
    (srv,) = data["servers"]
    assert (srv["failing"], srv["recentExits"], srv["exitWindow"]) == (True, 2, 300.0)
    assert (srv["failedInitializes"], srv["errors"], srv["failures"]) == (2, 0, 2)
    # Reset circuit forgets the exits: no longer failing (the failed
    # initialize requests stay counted, as on /metrics).
    assert h.request("POST", "/api/v1/servers/srv/reset-circuit", body={}).status == 200
    _, html = page(h)
    assert "sub bad" not in html.texts and "details" not in html.texts
    assert "2 initialize failed" in html.text("sub")


def test_a_healthy_server_shows_no_exits_and_no_failed_initialize() -> None:
    h = Harness()
    h.initialize()
    (srv,) = StatusPage(h.gateway, h.reactor).data()["servers"]
    assert (srv["recentExits"], srv["failedInitializes"], srv["failing"]) == (0, 0, False)


def test_a_server_that_is_not_failing_shows_no_stderr() -> None:
    h = Harness()
    h.initialize()
    h.process().stderr(b"just chatty\n")
    response, html = page(h)
    assert b"just chatty" not in response.body
    assert html.text("state running") == "running"
    assert "stderr" not in html.texts


def test_the_page_reads_without_javascript_and_allows_nothing_but_its_own(
    tmp_path: Path,
) -> None:
    h = ApiHarness(tmp_path / "state")
    response, html = page(h)
    headers = response.headers
    policy = headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY.decode()
    assert "unsafe" not in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy and "form-action 'none'" in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
    # No inline script or style: the page's own files, which the policy allows.
    assert html.text("script") == "" and "style" not in {t for t, _ in html.tags}
    # Everything the stream would update is already in the HTML.
    assert "does not refresh" in html.text("p")
    assert html.text("feed") == "not live"
    buttons = [
        (a["data-action"], a["data-server"])
        for t, a in html.tags
        if t == "button" and "data-server" in a
    ]
    assert buttons == [
        ("logs", "srv"),
        ("try", "srv"),
        ("restart", "srv"),
        ("disable", "srv"),
        ("reset-circuit", "srv"),
    ]
    assert {t for t, _ in html.tags} <= ALLOWED_TAGS
    # The page fetches nothing but its own files, from the gateway.
    loaded = [a.get("src") or a.get("href") for t, a in html.tags if t in ("script", "link")]
    assert loaded == OWN_FILES
    assert [a["href"] for t, a in html.tags if t == "a"] == ["#live", "/", "/status/approvals"]


def test_without_the_api_the_page_has_no_buttons() -> None:
    _, html = page(Harness())
    assert not any(t == "button" and "data-action" in a for t, a in html.tags)
    assert 'id="logs"' not in str(html.tags) and 'id="tryout"' not in str(html.tags)
    assert "actions" not in html.text("th")


def test_only_get_and_head() -> None:
    h = Harness()
    response = h.request("POST", "/", {})
    assert response.status == 405 and response.headers["allow"] == "GET, HEAD"
    head = h.request("HEAD", "/", accept=HTML)
    assert head.status == 200 and head.body == b""
    # Other paths under /status are not the page's.
    assert h.request("GET", "/status/other").status == 404


def test_the_page_counts_the_sessions_as_their_rows_would() -> None:
    """The page's data comes from the counted snapshot (no row per session):
    the same sessions by client, by server and their client pids as from the
    rows."""
    h = Harness()
    for name, pid in (("claude-code", "41"), ("claude-code", "42"), ("cursor", None)):
        headers = {} if pid is None else {"X-Client-Pid": pid}
        response = h.request(
            "POST",
            "/srv/mcp",
            initializeMessage(clientInfo={"name": name, "version": "1"}),
            headers=headers,
        )
        if not response.complete:
            h.answerHandshake()
    rows = pageData(h.gateway.readModel.status())
    counted = pageData(h.gateway.readModel.status(rows=False, byClient=True))
    # The gateway's own memory is read anew for each snapshot; the rest is the sessions'.
    assert {**counted, "rssBytes": None} == {**rows, "rssBytes": None}
    assert counted["sessions"] == 3
    assert [(c["client"], c["sessions"], c["pids"]) for c in counted["clients"]] == [
        ("claude-code", 2, [41, 42]),
        ("cursor", 1, []),
    ]


def test_sessions_by_client_and_errors() -> None:
    h = Harness()
    for name in ("claude-code", "claude-code", "cursor"):
        response = h.request(
            "POST", "/srv/mcp", initializeMessage(clientInfo={"name": name, "version": "1"})
        )
        if not response.complete:
            h.answerHandshake()
    data = pageData(h.gateway.readModel.status())
    (srv,) = data["servers"]
    assert srv["sessions"] == 3 and srv["clients"] == {"claude-code": 2, "cursor": 1}
    assert [(c["client"], c["sessions"]) for c in data["clients"]] == [
        ("claude-code", 2),
        ("cursor", 1),
    ]
    status = h.gateway.readModel.status()
    snapshot = status.servers["srv"].requests
    counted = replace(
        snapshot,
        requests={("tools/call", "ok"): 5, ("tools/call", "timeout"): 2, ("ping", "error"): 1},
        count=8,
    )
    status = replace(status, servers={"srv": replace(status.servers["srv"], requests=counted)})
    (srv,) = pageData(status)["servers"]
    assert (srv["requests"], srv["errors"]) == (8, 3)


def test_savings_are_shown_when_the_status_has_them() -> None:
    h = Harness({"srv": spec("srv"), "other": spec("other")})
    status = h.gateway.readModel.status()
    assert pageData(status)["savings"] is None
    savings = Savings(
        sampledAt=status.now,
        measure="pss",
        processesAvoided=9,
        memoryAvoidedBytes=120 << 20,
        wrappersAvoided=3,
        wrappersCounted=False,
        gatewayBytes=30 << 20,
        servers={"srv": _serverSavings(), "other": _serverSavings(processesAvoided=-1)},
    )
    data = pageData(replace(status, savings=savings))
    assert data["savings"]["processesAvoided"] == 9 and "servers" not in data["savings"]
    srv, other = data["servers"]
    assert srv["savings"]["wrapper"] == "npx" and other["savings"]["processesAvoided"] == -1
    html = Page(renderPage(data).decode())
    said = "9 processes and 120.0 MiB (PSS), 3 npx/uvx wrappers among them (their memory not"
    assert html.text("saved").startswith("saved" + said)
    cells = renderPage(data).decode()
    assert cells.count(said) == 2  # the gateway's line, and srv's cell; other's is empty
    nothing = replace(savings, processesAvoided=0, memoryAvoidedBytes=0, servers={})
    html = Page(renderPage(pageData(replace(status, savings=nothing))).decode())
    assert "nothing yet" in html.text("saved")
    unmeasured = replace(nothing, sampledAt=None)
    html = Page(renderPage(pageData(replace(status, savings=unmeasured))).decode())
    assert html.text("saved") == "savednot measured yet"


def test_the_gateways_line_shows_its_tasks_when_it_serves_them() -> None:
    h = Harness()
    assert pageData(h.gateway.readModel.status())["tasks"] is None
    _, html = page(h)
    assert "tasks" not in html.texts  # no line for a gateway that serves none
    serveTasks(h.gateway, keptTasks(working=2, input_required=1, completed=5, failed=1))
    _, html = page(h)
    assert html.text("tasks") == "tasks2 running, 1 input required, 5 done, 1 failed"
    assert html.text("bad") == "1 failed"  # in red, as the errors are
    # The stream carries them too: in its data and in the part it swaps in.
    (frame,) = frames(watch(h))
    assert frame["status"]["tasks"] == {
        "working": 2,
        "input_required": 1,
        "completed": 5,
        "failed": 1,
        "cancelled": 0,
    }
    assert Page(frame["html"]).text("tasks") == html.text("tasks")
    serveTasks(h.gateway, keptTasks(completed=1, cancelled=2))
    _, html = page(h)
    assert html.text("tasks") == "tasks0 running, 0 input required, 1 done, 0 failed, 2 cancelled"
    assert "bad" not in html.texts


class Kept:
    """A restart's hand-over of the children (an L{AdoptionGate} that reports)."""

    def __init__(self, report: dict[str, Any]) -> None:
        self._report = report

    def pending(self, server: str) -> None:
        return None

    def report(self) -> dict[str, Any]:
        return self._report


def test_the_gateways_line_says_what_the_restart_that_started_it_kept() -> None:
    """Kept with their memory, started anew, and the hand-over's time, as
    C{/health}'s C{restart} and C{mcpgateway status} say; in the page, and
    in the stream's data and the part it swaps in."""
    h = Harness()
    assert StatusPage(h.gateway, h.reactor).data()["restart"] is None
    _, html = page(h)
    assert "restart" not in html.texts  # no restart started this process
    kept = Kept({"kept": 2, "started": 1, "seconds": 1.234})
    h.gateway.spawner = replace(h.gateway.spawner, adoptions=kept)
    data = StatusPage(h.gateway, h.reactor).data()
    assert data["restart"] == {"kept": 2, "started": 1, "seconds": 1.23, "anew": []}
    _, html = page(h)
    assert html.text("restart") == (
        "restartkept 2 running children, 1 started anew, handed over in 1.2 s"
    )
    (frame,) = frames(watch(h))
    assert frame["status"]["restart"] == data["restart"]
    assert Page(frame["html"]).text("restart") == html.text("restart")
    h.gateway.spawner = replace(h.gateway.spawner, adoptions=Kept({"kept": 1, "started": 0}))
    _, html = page(h)
    assert html.text("restart") == "restartkept 1 running child, 0 started anew"


ANEW = {"server": "files", "pid": 4711, "why": "its warden was gone <too>"}


@pytest.mark.parametrize(
    ("report", "shown"),
    [
        (None, None),
        ({}, {"kept": 0, "started": 0, "seconds": None, "anew": []}),
        (
            {"kept": True, "started": "3", "seconds": "soon", "anew": "all"},
            {"kept": 0, "started": 0, "seconds": None, "anew": []},
        ),
        (
            {"kept": 3, "started": 0, "seconds": 0},
            {"kept": 3, "started": 0, "seconds": 0, "anew": []},
        ),
        (
            {"kept": 0, "started": 2, "seconds": 1, "anew": [ANEW, {"server": 1}]},
            {"kept": 0, "started": 2, "seconds": 1, "anew": [ANEW]},
        ),
    ],
)
def test_restart_data_takes_only_counts_a_time_and_the_children_started_anew(
    report: dict[str, Any] | None, shown: dict[str, Any] | None
) -> None:
    assert restartData(report) == shown


def test_the_page_names_each_child_started_anew_with_why() -> None:
    from mcpgateway.web.pages.statuspage import _restartItem

    shown = restartData({"kept": 1, "started": 1, "seconds": 0.5, "anew": [ANEW]})
    assert shown is not None
    item = _restartItem(shown)
    assert "kept 1 running child, 1 started anew" in item
    assert "<li>files (pid 4711): its warden was gone &lt;too&gt;</li>" in item


# -- hostile input -------------------------------------------------------------

_hostile = st.text(
    alphabet=st.sampled_from([*"<>&\"'`=/ \t\n\r\x00\x1b[31mab\u2028\u00e9/*-->!]]>", "\ud7ff"]),
    max_size=60,
) | st.text(max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=_hostile.filter(lambda n: n.strip() != ""),
    client=_hostile | st.integers() | st.none() | st.lists(st.text(max_size=5), max_size=3),
    lines=st.lists(_hostile, min_size=1, max_size=5),
)
@example(
    name='"><b onmouseover=x>',
    client="<img src=x onerror=alert(1)>",
    lines=["</pre><script>alert(1)</script>", "<a href=x>", "\x1b[31m<!--\x1b[0m"],
)
def test_hostile_names_and_stderr_lines_are_only_text(
    name: str, client: object, lines: list[str]
) -> None:
    h = _hostileHarness()
    status = h.gateway.readModel.status()
    server = replace(status.servers["srv"], name=name, error="<script>alert(1)</script>")
    session = replace(status.sessions[0], server=name, client=client)
    status = replace(status, servers={name: server}, sessions=(session,))
    data = pageData(status, {"endpoints": ["<i>x</i>"]}, {name: [clean(line) for line in lines]})
    text = renderPage(data).decode("utf-8")
    html = Page(text)
    assert {tag for tag, _ in html.tags} <= ALLOWED_TAGS
    loaded = [a.get("src") or a.get("href") for t, a in html.tags if t in ("script", "link")]
    assert loaded == OWN_FILES  # the page's own, and no other
    for _, attrs in html.tags:
        assert not any(key.startswith("on") for key in attrs)
    # The buttons and the row carry the name itself (the API's), shown cleaned.
    servers = [a["data-server"] for t, a in html.tags if t == "button" and "data-server" in a]
    assert servers and set(servers) == {name}
    assert html.text("server").startswith(clean(name, 120))
    assert html.text("stderr") == "\n".join(clean(line) for line in lines)
    row = [a for t, a in html.tags if a.get("class") == "server"]
    assert row == [{"class": "server", "data-server": name}]
    # The data the stream carries round-trips as JSON.
    assert json.loads(json.dumps(data)) == data


_HARNESS: list[Harness] = []


def _hostileHarness() -> Harness:
    """One gateway with a failing server and a session (built once)."""
    if not _HARNESS:
        h = Harness({"srv": spec("srv"), "other": spec("other")})
        h.initialize("other")
        failed(h, "srv")
        _HARNESS.append(h)
    return _HARNESS[0]


def test_clean_makes_one_bounded_line() -> None:
    assert clean("\x1b[1;31merror\x1b[0m: a\tb\nc\x00") == "error: a b\ufffdc\ufffd"
    assert clean("\x1b]0;title\x07ok") == "ok"
    assert clean("x" * 400) == "x" * 299 + "\u2026"
    assert clean({"name": "<b>"}) == '{"name":"<b>"}'
    assert clean(None) == "(no name)"


# -- stderr and the API's token -------------------------------------------------


def test_with_an_api_token_the_page_hides_stderr(tmp_path: Path) -> None:
    """The stderr lines are the API's (its logs route) when it has a token;
    the last exit's reason, which /health shows too, stays."""
    h = ApiHarness(tmp_path / "state", token=TOKEN)
    failed(h, lines=6)
    response, html = page(h)
    assert "stderr" not in html.texts and b"line 0:" not in response.body
    assert "mcpgateway logs srv" in html.text("code")
    assert "line 5: cannot open database" in html.text("details")
    (tmp_path / "open").mkdir()
    open_ = ApiHarness(tmp_path / "open" / "state")
    failed(open_, lines=6)
    _, html = page(open_)
    assert html.text("stderr").splitlines()[0] == "line 0: cannot open database"


@pytest.mark.parametrize("hasToken", [True, False])
def test_the_page_knows_the_apis_token_without_making_the_api(hasToken: bool) -> None:
    """Told whether the API has a token, the page hides or shows the stderr
    lines as that API would, and never makes the API (Klein) to ask it."""
    made: list[bool] = []

    def api() -> Any:
        made.append(True)
        raise AssertionError("the API is made")

    h = Harness()
    h.site = makeSite(h.gateway, h.reactor, maxBody=4096, api=api, apiHasToken=hasToken)
    failed(h, lines=6)
    response, html = page(h)
    assert (b"line 0:" in response.body) is not hasToken
    assert ("stderr" in html.texts) is not hasToken
    assert made == []


def test_stderr_tails_only_for_failing_servers() -> None:
    h = Harness({"srv": spec("srv"), "other": spec("other")})
    failed(h, "srv")
    h.initialize("other")
    h.process().stderr(b"fine\n")
    assert stderrTails(h.gateway, h.gateway.readModel.status()) == {
        "srv": [f"line {n}: cannot open database" for n in range(3)]
    }


# -- CSRF ----------------------------------------------------------------------


def test_a_cross_site_form_post_to_the_api_fails(tmp_path: Path) -> None:
    """A page on another loopback port (its Origin passes the loopback rule)
    posts a form to restart a server: refused, the child untouched."""
    h = ApiHarness(tmp_path / "state")
    _, proc = h.running()
    for headers in (
        {"origin": "http://localhost:3000"},
        {"origin": "http://127.0.0.1:9100", "sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"},
    ):
        response = h.api(
            "POST", "/servers/srv/restart", raw=b"a=1", headers=headers, contentType=FORM
        )
        assert response.status == 403, (headers, response.body)
        assert "X-Mcpgateway-Csrf" in response.json()["error"]
        assert not proc.stdinClosed and not proc.signals
    # Another site's page (and a sandboxed one) is refused by the Origin rule already.
    for origin in ("https://evil.example", "null"):
        response = h.api(
            "POST", "/servers/srv/restart", raw=b"", headers={"origin": origin}, contentType=FORM
        )
        assert response.status == 403 and not proc.stdinClosed
    refused = h.api(
        "PATCH", "/servers/srv", {"enabled": False}, headers={"origin": "http://localhost:3000"}
    )
    assert refused.status == 403
    assert "X-Mcpgateway-Csrf" in refused.json()["error"]
    assert h.gateway.readModel.status().servers["srv"].disabled is False


def test_the_pages_buttons_pass(tmp_path: Path) -> None:
    h = ApiHarness(tmp_path / "state")
    _, proc = h.running()
    browser = {"origin": "http://127.0.0.1:9100", "x-mcpgateway-csrf": "1"}
    response = h.api("POST", "/servers/srv/restart", headers=browser, contentType=None)
    proc.exit(0)
    assert response.status == 200, response.body
    patched = h.api("PATCH", "/servers/srv", {"enabled": False}, headers=browser)
    assert patched.status == 200 and patched.json()["state"] == "disabled"
    # Reading needs no header; a client that is not a browser needs none.
    assert h.api("GET", "/servers", headers={"origin": "http://localhost:3000"}).status == 200
    assert h.api("PATCH", "/servers/srv", {"enabled": True}).status == 200


def test_a_browser_cannot_end_sessions_without_the_header(tmp_path: Path) -> None:
    h = ApiHarness(tmp_path / "state")
    sid, _ = h.running()
    refused = h.request("DELETE", f"/sessions/{sid}", headers={"origin": "http://localhost:1"})
    assert refused.status == 403
    assert h.gateway.sessions.get(sid) is not None


_methods = st.sampled_from([b"POST", b"PUT", b"PATCH", b"DELETE", b"FOO"])
_browser = st.dictionaries(
    st.sampled_from(["origin", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest"]),
    st.text(alphabet="abcdefghijklmnop:/.-", max_size=20),
    min_size=1,
)


@settings(max_examples=50, deadline=None)
@given(method=_methods, headers=_browser, token=st.sampled_from([None, "", "1", "anything"]))
def test_the_csrf_rule(method: bytes, headers: dict[str, str], token: str | None) -> None:
    request = DummyRequest([b""])
    request.method = method
    for name, value in headers.items():
        request.requestHeaders.addRawHeader(name, value)
    if token is not None:
        request.requestHeaders.addRawHeader("x-mcpgateway-csrf", token)
    refusal = csrfRefusal(cast(IRequest, request))
    assert (refusal is None) == bool(token)
    for safe in (b"GET", b"HEAD", b"OPTIONS"):
        request.method = safe
        assert csrfRefusal(cast(IRequest, request)) is None
    plain = DummyRequest([b""])
    plain.method = method
    assert csrfRefusal(cast(IRequest, plain)) is None  # the CLI: no browser headers


# -- the team gate -------------------------------------------------------------


def test_on_a_team_gateway_the_page_and_its_stream_are_for_admins() -> None:
    h = TeamHarness()
    assert h.request("GET", "/", accept=HTML).status == 401
    assert h.as_("alice", "GET", "/", accept=HTML).status == 403
    assert h.as_("alice", "GET", "/status/events", accept="text/event-stream").status == 403
    admin = h.as_("root", "GET", "/", accept=HTML)
    assert admin.status == 200 and b'data-server="srv"' in admin.body
    stream = h.as_("root", "GET", "/status/events", accept="text/event-stream")
    assert stream.status == 200 and stream.body.startswith(b"retry: ")
    # /health stays open.
    assert h.request("GET", "/health").status == 200


# -- the stream ----------------------------------------------------------------


def watch(h: Harness, peer: str = "127.0.0.1") -> Response:
    response = h.request("GET", "/status/events", accept="text/event-stream", peer=peer)
    assert response.status == 200, response.body
    assert response.headers["content-type"] == "text/event-stream"
    return response


def test_the_stream_pushes_the_page_every_two_seconds_while_watched() -> None:
    h = Harness()
    feed = statusPage(h).feed
    assert not feed.running and h.reactor.getDelayedCalls() == []
    stream = watch(h)
    assert stream.body.startswith(b"retry: 2000\n\n")
    (first,) = frames(stream)
    assert first["status"]["servers"][0]["name"] == "srv"
    assert 'data-server="srv"' in first["html"] and "<script" not in first["html"]
    h.reactor.advance(INTERVAL)
    h.reactor.advance(INTERVAL)
    assert len(frames(stream)) == 3
    # The client leaves: no watcher, no ticker, no timer left behind.
    events = h.gateway.pools["srv"].events
    assert events.listeners == 1  # the feed follows the server's events
    stream.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
    assert not feed.watchers and not feed.running and events.listeners == 0
    pushes = feed.pushes
    h.reactor.advance(10 * INTERVAL)
    assert feed.pushes == pushes
    # Only the plots' sampler goes on (it keeps the last hour whoever watches).
    series = statusPage(h).series
    assert series.running
    series.stop()
    assert [c for c in h.reactor.getDelayedCalls() if c.active()] == []


def test_one_snapshot_for_every_watcher() -> None:
    h = Harness()
    feed = statusPage(h).feed
    streams = [watch(h, peer=f"127.0.0.{n}") for n in range(1, 4)]
    pushes = feed.pushes
    h.reactor.advance(INTERVAL)
    assert feed.pushes == pushes + 1
    assert all(len(frames(s)) == 2 for s in streams)
    assert frames(streams[0])[-1] == frames(streams[2])[-1]


def test_a_servers_event_brings_a_push_soon() -> None:
    h = Harness()
    stream = watch(h)
    h.initialize()
    h.reactor.advance(NUDGE_DELAY)  # the child's start: pushed
    before = len(frames(stream))
    assert before == 2
    h.process().stderr(b"stderr waits for the tick\n")
    h.reactor.advance(NUDGE_DELAY)
    assert len(frames(stream)) == before
    h.process().exit(1)  # an exit: pushed soon
    h.reactor.advance(NUDGE_DELAY)
    assert len(frames(stream)) == before + 1
    assert frames(stream)[-1]["status"]["servers"][0]["failing"] is True


def test_watchers_are_bounded() -> None:
    h = Harness()
    page_ = statusPage(h)
    page_.feed._maxWatchers = 2
    watch(h, "127.0.0.1")
    watch(h, "127.0.0.2")
    refused = h.request("GET", "/status/events", accept="text/event-stream", peer="127.0.0.3")
    assert refused.status == 503 and refused.headers["retry-after"] == "10"
    assert "too many status streams" in refused.json()["error"]
    assert len(page_.feed.watchers) == 2


def test_a_watcher_that_does_not_read_is_skipped_not_buffered() -> None:
    h = Harness()
    feed = statusPage(h).feed
    stream = watch(h)
    (watcher,) = feed.watchers
    watcher.pauseProducing()  # what its channel does when the send buffer is full
    size = len(stream.transport.value())
    h.reactor.advance(5 * INTERVAL)
    assert len(stream.transport.value()) == size
    watcher.resumeProducing()
    h.reactor.advance(INTERVAL)
    assert len(frames(stream)) == 2  # the newest only


def test_a_hand_over_ends_the_streams() -> None:
    h = Harness()
    feed = statusPage(h).feed
    stream = watch(h)
    h.site.handingOver = True
    h.reactor.advance(INTERVAL)
    assert stream.complete and not feed.watchers and not feed.running


def test_head_opens_no_stream() -> None:
    h = Harness()
    response = h.request("HEAD", "/status/events", accept="text/event-stream")
    assert response.status == 200 and response.headers["content-type"] == "text/event-stream"
    assert not statusPage(h).feed.watchers


class _StreamRequest(DummyRequest):
    """A DummyRequest that takes a push producer (its own loops on it)."""

    def registerProducer(self, producer: object, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None


def test_a_failing_snapshot_keeps_the_feed() -> None:
    h = Harness()
    calls: list[int] = []

    def snapshot() -> dict[str, int]:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return {"n": len(calls)}

    feed = StatusFeed(h.reactor, snapshot)
    request = _StreamRequest([b""])
    feed.watch(request)  # type: ignore[arg-type]
    h.reactor.advance(INTERVAL)  # fails: logged, the ticker goes on
    h.reactor.advance(INTERVAL)
    assert feed.running
    assert b"".join(request.written).count(b"data: ") == 2


@pytest.mark.parametrize("path", ["/", "/status/events"])
def test_a_foreign_origin_is_refused(path: str) -> None:
    h = Harness()
    response = h.request("GET", path, headers={"origin": "https://evil.example"})
    assert response.status == 403


def test_the_gateways_line_says_a_hand_over_is_pending_not_that_children_were_lost() -> None:
    """Until the previous process has handed its children over, every
    server shows no child: the restart item says why."""
    h = Harness()
    pending = {"kept": 0, "started": 0, "seconds": None, "pending": True, "from": 4242}
    h.gateway.spawner = replace(h.gateway.spawner, adoptions=Kept(pending))
    data = StatusPage(h.gateway, h.reactor).data()
    assert data["restart"]["pending"] is True and data["restart"]["from"] == 4242
    _, html = page(h)
    assert html.text("restart").startswith("restarthanding over from pid 4242:")
    assert "started anew" not in html.text("restart")
