"""C{mcpgateway login SERVER --no-browser} finished in a real browser:
headless Chromium (driven by Playwright, skipped with a reason when either is
missing, as in test_status_page.py) opens the URL the CLI prints, follows
the authorization server's redirect (tests/fixtures/oauth_server.py approves
at once) to the CLI's loopback callback and shows its page; the CLI exits 0,
and a call through the running gateway then carries the new token. And a
team gateway's sign-in through the gateway's own pages, in the same real
browser: the page, its form, the redirects and the confirmation."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest

from tests.integration.gateway import RunningGateway, errorText, waitFor, writeConfig
from tests.support.integration.oauth_fixture import OAuthServer
from tests.support.integration.oauth_fixture import oauth as oauth  # the fixture
from tests.support.integration.per_user import tokens
from tests.support.integration.remote_login_browser import call
from tests.support.integration.remote_oauth import cli
from tests.support.integration.remote_team_login import call as team_call
from tests.support.integration.remote_team_login import linkOf, refusal
from tests.support.integration.status_page import CHROMIUM, chromiumOrSkip

pytestmark = pytest.mark.integration

AUTHORIZE = re.compile(r"(https?://\S+/authorize\?\S+)")


class Login:
    """C{mcpgateway login SERVER --no-browser}, running; its stderr read by
    one thread, which hands over the authorization URL when it is printed."""

    def __init__(self, home: Path, server: str) -> None:
        self.process = subprocess.Popen(
            cli(home, "login", server, "--no-browser", "--timeout", "30"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOME": str(home)},
        )
        self.stderr: list[str] = []
        self._urls: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)
            found = AUTHORIZE.search(line)
            if found:
                self._urls.put(found.group(1))

    def url(self, timeout: float = 20) -> str:
        try:
            return self._urls.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            raise AssertionError("no authorization URL:\n" + "".join(self.stderr)) from None

    def finish(self, timeout: float = 20) -> tuple[int, str]:
        """The exit code and stdout."""
        assert self.process.stdout is not None
        out = self.process.stdout.read()
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code, out


def test_the_login_url_completes_in_headless_chromium(
    start: Any, home: Path, oauth: Callable[..., OAuthServer]
) -> None:
    """The browser goes from the authorize URL to the CLI's loopback
    callback (with the code and the login's own state), shows the CLI's
    page; the CLI exits 0, and a call through the gateway then works with the
    token the browser's login gave (before it, the call is refused naming the
    login)."""
    sync_playwright = chromiumOrSkip()
    server = oauth()
    config = writeConfig(
        home / "gateway.json", {"guarded": {"type": "http", "url": f"{server.base}/mcp"}}
    )
    gateway: RunningGateway = start("--config", str(config))
    assert waitFor(lambda: (home / "state" / "state.json").exists(), timeout=10)
    with pytest.raises(BaseException) as refused:
        anyio.run(call, gateway)
    assert "mcpgateway login guarded" in errorText(refused.value)

    login = Login(home, "guarded")
    url = login.url()
    state = parse_qs(urlsplit(url).query)["state"][0]
    visited: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = chromium.new_page()
            page.on("request", lambda request: visited.append(request.url))
            page.goto(url, timeout=15000)
            shown = page.inner_text("body")
            landed = page.url
        finally:
            chromium.close()
    code, out = login.finish()

    assert code == 0, "".join(login.stderr)
    assert "logged in to guarded" in out
    assert "mcpgateway has the server's authorization" in shown
    callback = urlsplit(landed)
    assert (callback.hostname, callback.path) == ("127.0.0.1", "/callback")
    assert parse_qs(callback.query)["state"] == [state]
    assert "code" in parse_qs(callback.query)
    assert visited[0].startswith(f"{server.base}/authorize?")
    assert visited[-1] == landed

    echo, who = anyio.run(call, gateway)
    assert echo == "Echo: from the browser login"
    assert json.loads(who)["resource"] == f"{server.base}/mcp"


def outside(f: Callable[..., str], *args: Any) -> str:
    """C{f(*args)} in a thread of its own: an SDK client runs its own event
    loop, which Playwright's in this thread leaves no room for."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(f, *args).result(timeout=60)


def test_a_team_sign_in_in_headless_chromium_binds_only_from_the_browser_that_finished_it(
    start: Any, home: Path, oauth: Callable[..., OAuthServer]
) -> None:
    """On a team gateway (alice and bob), in a real browser: the link's page
    names alice, its button takes the browser to the authorization server
    and back (the form's Origin and the browser's cookie pass as a real
    browser sends them), the tokens are held; the confirmation link, opened
    in the same browser, binds them, and alice's calls work. Bob's link
    finished in alice's browser is refused when bob opens his confirmation
    in his own browser (another browser context), and bob's next call
    says so."""
    sync_playwright = chromiumOrSkip()
    server = oauth()
    config = writeConfig(
        home / "gateway.json", {"guarded": {"type": "http", "url": f"{server.base}/mcp"}}
    )
    path, headers = tokens(home, "alice", "bob")
    gateway: RunningGateway = start("--config", str(config), "--auth-tokens", str(path))
    url = gateway.url("guarded")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            alices = chromium.new_context().new_page()
            alices.goto(outside(linkOf, url, headers["alice"]), timeout=15000)
            assert "Sign in to guarded for alice" in alices.inner_text("body")
            alices.click("button")
            alices.wait_for_url("**/oauth/callback?**", timeout=15000)
            assert "Almost done" in alices.inner_text("body")
            alices.goto(outside(linkOf, url, headers["alice"]), timeout=15000)
            alices.click("button")
            alices.wait_for_load_state()
            assert "can now call guarded" in alices.inner_text("body")

            alices.goto(outside(linkOf, url, headers["bob"]), timeout=15000)
            assert "Sign in to guarded for bob" in alices.inner_text("body")
            alices.click("button")
            alices.wait_for_url("**/oauth/callback?**", timeout=15000)
            bobs = chromium.new_context().new_page()
            answer = bobs.goto(outside(linkOf, url, headers["bob"]), timeout=15000)
            assert answer is not None and answer.status == 403
            assert "finished in another browser" in bobs.inner_text("body")
        finally:
            chromium.close()
    assert team_call(url, headers["alice"], "alice") == "Echo: alice"
    assert "finished in another browser than yours" in refusal(url, headers["bob"])
