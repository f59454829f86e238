"""The console's "Sign in" button in a real browser: headless Chromium
(Debian's package, driven by Playwright, skipped with a reason when either
is missing) against a real loopback gateway without authentication, a
remote server behind the OAuth fixture (tests/fixtures/oauth_server.py,
which approves at once) and its authorization server.

A call refuses for want of the gateway's login; the console shows the
server waiting for a sign-in at the top, with its button; the button takes
the browser to the gateway's sign-in page, its form to the authorization
server and back to the gateway's own C{/oauth/callback}; the item goes away
with the next event of the console's stream (in another tab that stayed
open), the audit trail records the sign-in started, and a call through the
gateway then works with the new token."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.audittrail import requestRecords
from tests.integration.gateway import RunningGateway, errorText, waitFor, writeConfig
from tests.support.integration.oauth_fixture import OAuthServer
from tests.support.integration.oauth_fixture import oauth as oauth  # the fixture
from tests.support.integration.remote_login_browser import call
from tests.support.integration.status_page import CHROMIUM, chromiumOrSkip

pytestmark = [pytest.mark.integration, pytest.mark.front]

SIGN_IN = 'a[data-action="signin"][data-server="guarded"]'


def refusedCall(gateway: RunningGateway) -> str:
    """The error of a call to C{guarded} without the gateway's login."""
    with pytest.raises(BaseException) as refused:
        anyio.run(call, gateway)
    return errorText(refused.value)


def test_the_console_signs_the_local_user_in_and_the_item_goes_away(
    start: Any, home: Path, oauth: Callable[..., OAuthServer]
) -> None:
    sync_playwright = chromiumOrSkip()
    server = oauth()
    config = writeConfig(
        home / "gateway.json", {"guarded": {"type": "http", "url": f"{server.base}/mcp"}}
    )
    audit = home / "audit.jsonl"
    gateway: RunningGateway = start("--config", str(config), "--audit-log", str(audit))
    assert waitFor(lambda: (home / "state" / "state.json").exists(), timeout=10)
    assert "mcpgateway login guarded" in refusedCall(gateway)  # calls still name the command
    base = f"http://127.0.0.1:{gateway.port}"
    problems: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = chromium.new_context()
            watching = context.new_page()

            def noted(message: Any) -> None:
                if message.type == "error":
                    problems.append(message.text)

            watching.on("console", noted)
            watching.goto(f"{base}/", timeout=15000)
            watching.wait_for_selector("#feed.live", timeout=15000)
            item = watching.locator("#needs li.login")
            assert "guarded waits for a sign-in" in item.inner_text()
            assert watching.locator(SIGN_IN).inner_text() == "Sign in"

            page = context.new_page()
            page.goto(f"{base}/", timeout=15000)
            page.click(SIGN_IN)
            page.wait_for_url("**/oauth/start/guarded?**", timeout=15000)
            assert "Sign in to guarded for the local user" in page.inner_text("body")
            page.click("button")
            page.wait_for_url("**/oauth/callback?**", timeout=15000)
            assert "can now call guarded" in page.inner_text("body")
            assert page.url.startswith(f"{base}/oauth/callback?")

            # The tab that stayed open loses the item with the stream's next event.
            watching.wait_for_selector(SIGN_IN, state="detached", timeout=15000)
            assert "waits for a sign-in" not in watching.inner_text("#needs-live")
        finally:
            chromium.close()
    assert problems == []
    echo, who = anyio.run(call, gateway)
    assert echo == "Echo: from the browser login"
    assert json.loads(who)["resource"] == f"{server.base}/mcp"
    assert gateway.health()["servers"]["guarded"]["remote"]["login"] == "ok"

    def started() -> list[str]:
        records = requestRecords(audit) if audit.exists() else []
        return [r["server"] for r in records if r.get("method") == "oauth/sign-in"]

    assert waitFor(lambda: started() == ["guarded"], timeout=10), started()
