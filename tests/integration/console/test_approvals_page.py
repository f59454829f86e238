"""The console's held calls' page (C{/status/approvals}) in headless
Chromium: a person follows the console's navigation to it, opens a held
call, sees its exact arguments and what changed since the last call
allowed, allows it, opens another and denies it with a reason, and the
management API reports each decision so.

The gateway's site is built in this process around a store of held calls
the test fills (L{tests.support.web.approvals.ApprovalsSite}); every
request of the browser is handed to that site, with its method, path,
headers and body, so the page, its scripts, the CSRF rule and the
management API's guard answer as a running gateway's do. The arguments
carry markup and a script: nothing of them runs."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.http import sendLines
from tests.support.integration.status_page import browser, chromiumOrSkip  # noqa: F401
from tests.support.web.approvals import ARGS, ApprovalsSite

pytestmark = pytest.mark.integration

ORIGIN = "http://127.0.0.1:9100"
HOSTILE = {
    "repo": "me/private",
    "title": "</pre><script>alert('title')</script>",
    "body": "<img src=x onerror=alert('body')>",
}
DROPPED = {"content-length", "transfer-encoding", "connection"}
"""Headers of the site's answer that Playwright sets itself."""


def forward(h: ApprovalsSite, route: Any) -> None:
    """Hand the browser's request to the site; answer with the site's answer."""
    request = route.request
    parts = urlsplit(request.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.path == "/status/events":  # the stream never ends in-process: no live updates
        route.fulfill(status=204, body="")
        return
    headers = {k: v for k, v in request.all_headers().items() if not k.startswith(":")}
    headers["host"] = parts.netloc
    data = request.post_data_buffer or b""
    headers["content-length"] = str(len(data))
    lines = [f"{request.method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    answer = sendLines(h.site, lines, data)
    kept = {k: v for k, v in answer.headers.items() if k not in DROPPED}
    route.fulfill(status=answer.status, headers=kept, body=answer.body)


def reported(h: ApprovalsSite, callId: str) -> dict[str, Any]:
    """The call as C{GET /api/v1/approvals/<id>} reports it."""
    response = h.request("GET", f"/api/v1/approvals/{callId}")
    assert response.status == 200, response.body
    answer: dict[str, Any] = json.loads(response.body)
    return answer


def test_a_person_allows_one_held_call_and_denies_another(browser: Any) -> None:  # noqa: F811
    chromiumOrSkip()
    h = ApprovalsSite()
    h.store.allow(h.hold().id, "owner")  # the last call allowed: what the next is compared with
    first = h.hold(HOSTILE)
    second = h.hold({"repo": "me/site", "title": "again"})
    dialogs: list[str] = []
    errors: list[str] = []

    def dialog(shown: Any) -> None:
        dialogs.append(shown.message)
        shown.dismiss()

    page = browser.new_page()
    try:
        page.on("dialog", dialog)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route(f"{ORIGIN}/**", lambda route: forward(h, route))
        page.goto(f"{ORIGIN}/")
        # The console's navigation counts the calls waiting, and its needs list them.
        assert page.locator("#held-count").inner_text() == "2"
        assert "2 tool call(s) wait" in page.locator("#needs").inner_text()
        page.get_by_role("link", name="Held calls").click()
        page.wait_for_url(f"{ORIGIN}/status/approvals")
        item = page.locator(f'li[data-call="{first.id}"]')
        assert "me/private" not in item.inner_text()  # the arguments show once opened
        summary = item.locator("summary")
        assert "github" in summary.inner_text() and "create_issue" in summary.inner_text()
        assert "untrusted" in summary.inner_text() and "left" in summary.inner_text()
        # The time left counts down while the page is open.
        left = item.locator(".left")
        assert re.fullmatch(r"1[45] min \d\d s left", left.inner_text()), left.inner_text()
        page.wait_for_function(
            "(t) => document.querySelector('li[data-call] .left').textContent !== t",
            arg=left.inner_text(),
        )
        summary.click()
        shown = item.locator("pre.arguments").inner_text()
        assert json.loads(shown) == HOSTILE
        changes = item.locator("table.diff tbody tr")
        assert changes.count() == 3  # body added, repo and title changed
        assert ARGS["title"] in item.locator("tr.changed").nth(1).inner_text()
        item.get_by_role("button", name="Allow").click()
        page.wait_for_function(
            "() => document.getElementById('note').textContent.startsWith('allowed')"
        )
        allowed = reported(h, first.id)
        assert (allowed["state"], allowed["decidedBy"]) == ("allowed", "owner")
        # Deny the other, with a reason.
        other = page.locator(f'li[data-call="{second.id}"]')
        other.locator("summary").click()
        other.get_by_label("reason").fill("not to that repository")
        other.get_by_role("button", name="Deny").click()
        page.wait_for_function(
            "() => document.getElementById('note').textContent.startsWith('denied')"
        )
        denied = reported(h, second.id)
        assert (denied["state"], denied["denyReason"]) == ("denied", "not to that repository")
        # The list, fetched again, shows both decided and none waiting.
        page.wait_for_function(
            "() => document.getElementById('held-h').textContent.includes('(0)')"
        )
        assert page.locator("#decided-h").inner_text() == "Decided lately (3)"
        assert dialogs == [] and errors == []
    finally:
        page.close()
