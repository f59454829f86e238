"""The console's held calls' page (C{GET /status/approvals}), through the
real C{Site} with a store of held calls the test fills: what it lists of
each call waiting and each decided, the exact arguments and the diff a
call shows when opened, its buttons, its count in the console's
navigation and needs, and that nothing an agent sent ever becomes HTML."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.web.pages.approvalspage import MAX_ARGUMENTS, prettyArguments
from mcpgateway.web.pages.consolepage import CONTENT_SECURITY_POLICY
from tests.http import Response
from tests.support.web.approvals import ARGS, REASON, ApprovalsSite
from tests.support.web.statuspage import ALLOWED_TAGS, Page
from tests.support.web.team_web import TeamHarness

PAGE_TAGS = ALLOWED_TAGS | {"details", "summary", "h3", "caption"}
"""The tags of the console's pages, with those the held calls' page adds."""


def approvals(h: ApprovalsSite, path: str = "/status/approvals") -> tuple[Response, Page]:
    response = h.request("GET", path, accept="text/html")
    assert response.status == 200, response.body
    return response, Page(response.body.decode("utf-8"))


def calls(page: Page) -> list[dict[str, str | None]]:
    return [attrs for tag, attrs in page.tags if tag == "li" and "data-call" in attrs]


def argumentsShown(body: str) -> list[str]:
    """The text of each call's arguments, unescaped."""
    return [html.unescape(m) for m in re.findall(r'<pre class="arguments">(.*?)</pre>', body, re.S)]


def test_the_page_lists_each_call_waiting_with_what_a_person_needs() -> None:
    h = ApprovalsSite()
    call = h.hold()
    h.reactor.advance(5 * 60)
    response, page = approvals(h)
    assert [c["data-call"] for c in calls(page)] == [call.id]
    assert page.text("server") == "github" and page.text("tool") == "create_issue"
    assert page.text("client") == "pid 4242"
    assert page.text("left") == "10 min 00 s left"
    assert "held 2027-01-15 08:00:00 UTC" in page.text("sub")
    assert [t for t in page.texts["flow-label"]] == ["untrusted", "private", "egress"]
    assert page.text("reason") == REASON
    assert "Waiting for a person (1)" in page.text("h2")
    headers = response.headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY.decode()
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
    assert {t for t, _ in page.tags} <= PAGE_TAGS
    assert page.text("script") == ""  # the page's own files only
    [nav] = [a for t, a in page.tags if t == "a" and a.get("aria-current") == "page"]
    assert nav["href"] == "/status/approvals" and page.text("count") == "1"


def test_opening_a_call_shows_its_exact_arguments_and_what_changed() -> None:
    h = ApprovalsSite()
    first = h.hold()
    response, page = approvals(h)
    assert [json.loads(text) for text in argumentsShown(response.body.decode())] == [ARGS]
    assert "No call of this tool by this client was allowed before" in page.text("diff none")
    h.store.allow(first.id, "owner")
    h.hold({"repo": "me/site", "title": "bye", "labels": ["bug"]})
    h.hold({"repo": "me/site", "title": "hello"})
    _, page = approvals(h)
    rows = [a.get("class") for t, a in page.tags if t == "tr" and a.get("class")]
    assert rows == ["added", "changed"]  # the second waits with the same arguments
    assert "The same arguments as the last call" in page.text("diff same")
    assert '"hello"' in page.text("changed") and '"bye"' in page.text("changed")
    assert '["bug"]' in page.text("added")


def test_the_decided_calls_follow_the_latest_first() -> None:
    h = ApprovalsSite()
    allowed, denied, expiring = h.hold(), h.hold({"n": 1}), h.hold({"n": 2})
    h.store.allow(allowed.id, "owner")
    h.reactor.advance(1)
    h.store.deny(denied.id, "alice", "not to <that> repository")
    h.reactor.advance(15 * 60)
    _, page = approvals(h)
    assert [c["data-call"] for c in calls(page)] == [expiring.id, denied.id, allowed.id]
    assert page.texts["state expired"] == ["expired", "expired"]  # the yes unused expired too
    assert "Decided lately (3)" in page.text("h2")
    assert "No call waits" in page.text("p")
    assert page.text("denied") == "Denied because: not to <that> repository"
    assert not [t for t, a in page.tags if t == "button"]  # nothing left to decide


def test_the_buttons_name_the_call_and_without_the_api_the_page_says_the_command() -> None:
    h = ApprovalsSite()
    call = h.hold()
    _, page = approvals(h)
    buttons = [(a["data-approval"], a["data-id"]) for t, a in page.tags if t == "button"]
    assert buttons == [("allow", call.id), ("deny", call.id)]
    assert [a["name"] for t, a in page.tags if t == "input"] == ["reason"]
    bare = ApprovalsSite(api=False)
    bare.hold()
    _, page = approvals(bare)
    assert not [t for t, a in page.tags if t in ("button", "input")]
    assert "mcpgateway approvals allow" in page.text("sub")


def test_the_list_alone_and_nothing_else_under_the_path() -> None:
    h = ApprovalsSite()
    call = h.hold()
    _, page = approvals(h, "/status/approvals/list")
    assert [c["data-call"] for c in calls(page)] == [call.id]
    assert not [t for t, _ in page.tags if t in ("html", "script", "header")]
    assert h.request("GET", "/status/approvals/other", accept="text/html").status == 404
    assert h.request("POST", "/status/approvals", contentType=None).status == 405


def test_no_store_means_nothing_held() -> None:
    h = ApprovalsSite(wired=False)
    _, page = approvals(h)
    assert calls(page) == [] and "No call waits" in page.text("p")


def test_the_console_counts_the_calls_waiting_and_links_the_page() -> None:
    h = ApprovalsSite()
    _, page = approvals(h, "/")
    assert page.text("count") == "0" and "held" not in page.text("need held")
    h.hold()
    h.hold({"n": 1})
    _, page = approvals(h, "/")
    assert page.text("count") == "2"
    links = [a["href"] for t, a in page.tags if t == "a"]
    assert links.count("/status/approvals") == 2  # the navigation and the need's button
    assert "2 tool call(s) wait for a person's yes" in page.text("need held")
    assert "Needs a person (1)" in page.text("h2")


# -- what an agent sent ----------------------------------------------------------

HOSTILE = {
    "</pre><script>alert(1)</script>": "<img src=x onerror=alert(1)>",
    "title": "\u202eevil\u202c & \"quoted\" 'single' \x1b[31m\x7f",
    "nested": [{"<b>": None, "n": 1.5}],
}


def test_hostile_arguments_are_only_text() -> None:
    h = ApprovalsSite()
    first = h.hold(HOSTILE)
    h.store.allow(first.id, "<owner>")
    h.hold({**HOSTILE, "title": "<svg onload=alert(1)>"})
    response, page = approvals(h)
    body = response.body.decode()
    assert {t for t, _ in page.tags} <= PAGE_TAGS
    assert not [a for _, attrs in page.tags for a in attrs if a.startswith("on")]
    assert "\u202e" not in body and "\x1b" not in body and "\x7f" not in body
    # What is shown reads back as the exact arguments (the escapes are JSON's).
    assert [json.loads(text) for text in argumentsShown(body)] == [
        {**HOSTILE, "title": "<svg onload=alert(1)>"},
        HOSTILE,
    ]
    assert "by &lt;owner&gt;" in body


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ARGUMENTS = st.dictionaries(st.text(max_size=8), JSON, max_size=5)
MARK = "\ue000"
"""What replaces each C{<} of the arguments in the page compared with."""


def noAngles(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("<", MARK)
    if isinstance(value, list):
        return [noAngles(v) for v in value]
    if isinstance(value, dict):
        return {noAngles(k): noAngles(v) for k, v in value.items()}
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=ARGUMENTS.filter(lambda a: MARK not in json.dumps(a, ensure_ascii=False)),
    after=ARGUMENTS.filter(lambda a: MARK not in json.dumps(a, ensure_ascii=False)),
)
def test_no_argument_ever_adds_a_tag(before: dict[str, Any], after: dict[str, Any]) -> None:
    """The page of a call (and its diff against the last one allowed) has
    as many C{<} as the page of the same call with every C{<} of the
    arguments replaced: none of theirs reaches the HTML unescaped."""

    def page(args: tuple[dict[str, Any], dict[str, Any]]) -> str:
        h = ApprovalsSite()
        h.store.allow(h.hold(args[0]).id, "owner")
        h.hold(args[1])
        return h.request("GET", "/status/approvals").body.decode()

    shown = page((before, after))
    assert shown.count("<") == page((noAngles(before), noAngles(after))).count("<")
    assert [json.loads(text) for text in argumentsShown(shown)] == [after, before]


def test_long_arguments_are_cut_and_say_so() -> None:
    text = prettyArguments({"body": "x" * (MAX_ARGUMENTS + 10)})
    assert len(text) < MAX_ARGUMENTS + 200
    assert text.endswith("mcpgateway approvals show ID prints them all)")


def test_on_a_team_gateway_the_page_is_for_admins() -> None:
    h = TeamHarness()
    for path in ("/status/approvals", "/status/approvals/list"):
        assert h.request("GET", path, accept="text/html").status == 401
        assert h.as_("alice", "GET", path, accept="text/html").status == 403
        assert h.as_("root", "GET", path, accept="text/html").status == 200
