"""The status page (C{GET /}) in a real browser: headless Chromium (Debian's
package, driven by Playwright for Python) loads the page of a real C{twist}
gateway, finds each server with its state, a broken server's stderr lines
and circuit, and a client's name (a hostile one: it must show as text, never
run); clicking Disable changes the row through the page's SSE stream (the
page is never reloaded), Reset circuit likewise; a form of another origin
that posts to the API is refused; the page's icon is the gateway's own
(C{/favicon.svg}, and C{/favicon.ico}), and its console shows no error. A
screenshot is saved under the test's tmp dir (one as loaded, one after the
buttons) and their paths printed (run with C{-s} to see them)."""

from __future__ import annotations

import contextlib
import http.server
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import REPO, RunningGateway, waitFor, writeConfig
from tests.support.integration.status_page import browser as browser  # the fixture
from tests.support.mcpclient import RpcError, initializeMessage, post

pytestmark = [pytest.mark.integration, pytest.mark.front]

BROKEN = REPO / "tests" / "fixtures" / "broken_server.py"
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"
"""A client name that would run script if the page did not escape it."""


def health(gateway: RunningGateway) -> dict[str, Any]:
    return gateway.health()


def openSession(gateway: RunningGateway, server: str, client: str) -> str:
    """Initialize a session with C{client} as its clientInfo name; left open."""
    reply = post(gateway.url(server), initializeMessage(1, "2025-06-18", name=client), timeout=10)
    if reply.status >= 400:
        raise RpcError(reply)
    return str(reply.headers.get("mcp-session-id"))


def breakCircuit(gateway: RunningGateway) -> None:
    """Start the broken server until its circuit opens (plain HTTP: the
    browser fixture's Playwright runs an event loop in this thread)."""
    for _ in range(8):
        with contextlib.suppress(RpcError):  # answered with why: expected
            openSession(gateway, "broken", "circuit-breaker")
        if health(gateway)["servers"]["broken"]["circuit"] == "open":
            return
        time.sleep(0.1)  # past the (tiny) backoff
    raise AssertionError(f"the circuit did not open: {health(gateway)['servers']['broken']}")


class _Form(http.server.BaseHTTPRequestHandler):
    """Serves a page that posts a form to the gateway's API (another origin)."""

    target = ""

    def do_GET(self) -> None:
        page = (
            f'<form id="f" method="POST" action="{self.target}"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_status_page_in_chromium(start: Any, home: Path, tmp_path: Path, browser: Any) -> None:
    config = writeConfig(
        home / "servers.json",
        {
            "demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]},
            "broken": {"command": sys.executable, "args": [str(BROKEN)]},
        },
    )
    gateway: RunningGateway = start(
        "--config", str(config), "--restart-backoff", "0.02", "--circuit-cool-down", "600"
    )
    base = f"http://127.0.0.1:{gateway.port}"
    openSession(gateway, "demo", HOSTILE)
    breakCircuit(gateway)
    demoPid = health(gateway)["servers"]["demo"]["pids"]

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []

    def dialog(shown: Any) -> None:
        dialogs.append(shown.message)
        shown.dismiss()

    page.on("dialog", dialog)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    consoleErrors: list[str] = []
    page.on("console", lambda m: consoleErrors.append(m.text) if m.type == "error" else None)
    refused: list[tuple[int, str]] = []
    page.on("response", lambda r: refused.append((r.status, r.url)) if r.status >= 400 else None)
    response = page.goto(base + "/")
    assert response is not None and response.status == 200

    # The content, rendered by the server.
    demo = page.locator('tr.server[data-server="demo"]')
    broken = page.locator('tr.server[data-server="broken"]')
    assert demo.locator(".state").inner_text() == "running"
    assert broken.locator(".state").inner_text() == "error"
    assert broken.locator(".circuit").inner_text() == "open"
    stderr = page.locator('tr.details[data-server="broken"] pre.stderr').inner_text()
    assert "fatal: MY_API_KEY is not set" in stderr
    # The hostile client name is text, and ran nothing.
    assert HOSTILE in page.locator("table.clients").inner_text()
    assert page.title() == "mcpgateway status"
    assert page.locator("table.clients img").count() == 0

    # The stream connects; nothing is fetched from anywhere but the gateway.
    page.locator("#feed.live").wait_for()
    assert page.locator("#feed").inner_text() == "live"

    # Its icon is the gateway's own, at the name the page links and at /favicon.ico.
    assert page.locator('link[rel="icon"]').get_attribute("href") == "/favicon.svg"
    for name in ("/favicon.svg", "/favicon.ico"):
        icon = page.request.get(base + name)
        assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
        assert icon.body().startswith(b"<svg ")
    shot = tmp_path / "status-page.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nstatus page screenshot: {shot}")
    assert shot.stat().st_size > 0

    # A form of another origin (loopback, other port: Origin passes the
    # gateway's loopback rule) posting to the API is refused.
    _Form.target = base + "/api/v1/servers/demo/restart"
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Form)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        attacker = browser.new_page()
        attacker.goto(f"http://localhost:{other.server_address[1]}/")
        attacker.wait_for_url(base + "/api/v1/servers/demo/restart")
        assert "X-Mcpgateway-Csrf" in attacker.content()
        attacker.close()
    finally:
        other.shutdown()
        other.server_close()
    assert health(gateway)["servers"]["demo"]["pids"] == demoPid  # not restarted

    # Disable: the row changes through the stream (the page is not reloaded).
    page.evaluate("window.notReloaded = true")
    demo.locator('button[data-action="disable"]').click()
    demo.locator(".state.disabled").wait_for(timeout=10_000)
    assert page.evaluate("window.notReloaded") is True
    assert "disable demo: done" in page.locator("#note").inner_text()
    assert health(gateway)["servers"]["demo"]["state"] == "disabled"
    assert demo.locator('button[data-action="enable"]').count() == 1

    # Reset circuit on the broken server: closed, through the stream too.
    broken.locator('button[data-action="reset-circuit"]').click()
    broken.locator(".circuit.closed").wait_for(timeout=10_000)
    assert health(gateway)["servers"]["broken"]["circuit"] == "closed"

    after = tmp_path / "status-page-after.png"
    page.screenshot(path=str(after), full_page=True)
    print(f"status page screenshot, after the buttons: {after}")

    assert dialogs == [] and page.title() == "mcpgateway status"
    assert all(url.startswith(base + "/") for url in requests), requests
    assert consoleErrors == [] and refused == []  # no 404 (an icon), no other refusal

    # Enable it again (and leave the page; the gateway's stream ends with it).
    page.locator('tr.server[data-server="demo"] button[data-action="enable"]').click()
    assert waitFor(lambda: health(gateway)["servers"]["demo"]["state"] != "disabled")
    page.close()


def test_without_javascript_the_page_reads_the_same(start: Any, home: Path, browser: Any) -> None:
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    gateway: RunningGateway = start("--config", str(config))
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{gateway.port}/")
    row = page.locator('tr.server[data-server="demo"]')
    assert row.locator("th").inner_text() == "demo"
    assert row.locator(".circuit").inner_text() == "closed"
    assert "does not refresh" in page.locator("body").inner_text()
    assert page.locator("#feed").inner_text() == "not live"
    context.close()
