"""MCP Apps in a real browser: a host built from C{@modelcontextprotocol/ext-apps}'s
app bridge (C{tests/integration/apps_host/host.mjs}, bundled with esbuild) in
headless Chromium connects to the gateway's C{/mcp} as a host of apps,
renders two servers' apps (server-basic-vanillajs, server-sheet-music) from
the resources the gateway reads, each in a sandboxed frame under the CSP it
builds from the forwarded C{_meta.ui}, which is the CSP the server's own
C{_meta.ui} gives; the apps call their servers' tools through the gateway
by the names they know (server-system-monitor's app polls its app-only
tool)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.gateway import REPO, RunningGateway, npmServer, writeConfig
from tests.support.integration.mcp_apps import HANDSHAKE, MUSIC_URI, routeFacts
from tests.support.integration.status_page import browser as browser  # the fixture

pytestmark = pytest.mark.integration
HOST = REPO / "tests" / "integration" / "apps_host"
SONG = "X:1\nT:Scale\nM:4/4\nL:1/4\nK:C\nCDEF|GABc|]\n"


def bundledHost(tmp_path: Path) -> str:
    """The host page's script: host.mjs with the app bridge and the MCP
    client bundled in (esbuild from the test backends)."""
    node, esbuild = npmServer("APPS_ESBUILD")
    modules = Path(esbuild).parents[2]
    out = tmp_path / "host.js"
    subprocess.run(
        [node, esbuild, str(HOST / "host.mjs"), "--bundle", "--format=iife",
         "--platform=browser", f"--outfile={out}", "--log-level=warning"],
        check=True,
        env={**os.environ, "NODE_PATH": str(modules)},
        timeout=120,
    )  # fmt: skip
    return out.read_text()


def appConfig(home: Path) -> Path:
    entries: dict[str, Any] = {}
    for name, key in (
        ("vanilla", "APPS_BASIC_VANILLAJS_JS"),
        ("music", "APPS_SHEET_MUSIC_JS"),
        ("monitor", "APPS_SYSTEM_MONITOR_JS"),
    ):
        node, script = npmServer(key)
        entries[name] = {"command": node, "args": [script, "--stdio"]}
    return writeConfig(home / "servers.json", entries)


class HostPage:
    """The host page in a browser tab, on the gateway's origin (the gateway
    sends no CORS headers: the page asks the gateway for its endpoint
    itself), with what it posts to C{path} and its uncaught errors."""

    def __init__(self, browser: Any, origin: str, script: str, path: str) -> None:
        self.page = browser.new_page()
        self.errors: list[str] = []
        self.posted: list[dict[str, Any]] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", self._sent)
        self.url = origin + path
        pages = {"index.html": (HOST / "index.html").read_text(), "host.js": script}

        def serve(route: Any) -> None:
            name = route.request.url.rsplit("/", 1)[1]
            kind = "text/html" if name.endswith(".html") else "application/javascript"
            route.fulfill(status=200, body=pages[name], content_type=kind)

        self.page.route(f"{origin}/apps-host/*", serve)
        self.page.goto(f"{origin}/apps-host/index.html")
        self.page.wait_for_function("() => window.mcpHost !== undefined")
        self.tools: list[str] = self.page.evaluate(
            "url => mcpHost.connect(url).then(t => t.map(x => x.name))", path
        )

    def _sent(self, request: Any) -> None:
        if request.url == self.url and request.method == "POST" and request.post_data:
            self.posted.append(json.loads(request.post_data))

    def render(self, name: str, arguments: dict[str, Any], how: str = "render") -> Any:
        return self.page.evaluate(f"([n, a]) => mcpHost.{how}(n, a)", [name, arguments])

    def calls(self) -> list[dict[str, Any]]:
        return [m for m in self.posted if m.get("method") == "tools/call"]


def clickedTime(host: HostPage, rendered: dict[str, Any]) -> dict[str, Any]:
    """server-basic-vanillajs's app shows the time its tool result gave;
    its button makes it call C{get-time} itself (through the host, so
    through the gateway): the call it sent, once it showed a new time."""
    frame = host.page.frame_locator(f"#{rendered['frame']}")
    shown = frame.locator("#server-time")
    shown.wait_for()
    first = _waitForText(host.page, shown, lambda text: text not in ("", "Loading..."))
    before = len(host.calls())
    frame.locator("#get-time-btn").click()
    _waitFor(host.page, lambda: len(host.calls()) > before)
    second = _waitForText(host.page, shown, lambda text: text not in (first, "[ERROR]"))
    assert second.startswith("20"), second
    return host.calls()[-1]


def test_an_ext_apps_host_renders_each_app_from_the_gateway(
    start: Any, home: Path, tmp_path: Path, browser: Any
) -> None:
    script = bundledHost(tmp_path)
    gateway: RunningGateway = start("--config", str(appConfig(home)))
    origin = f"http://127.0.0.1:{gateway.port}"
    # Playwright's sync API runs a loop in this thread: the SDK client gets its own.
    with ThreadPoolExecutor(1) as thread:
        direct = thread.submit(anyio.run, routeFacts, f"{origin}/music/mcp", HANDSHAKE).result()
    serverMeta = direct["reads"][MUSIC_URI]["_meta"]
    host = HostPage(browser, origin, script, "/mcp")
    wanted = {"vanilla__get-time", "music__play-sheet-music", "monitor__poll-system-stats"}
    assert wanted <= set(host.tools), host.tools

    # The vanilla app: rendered from the gateway, then it calls get-time itself.
    vanilla = host.render("vanilla__get-time", {})
    assert vanilla["uri"] == "ui://vanilla/get-time/mcp-app.html", vanilla["uri"]
    assert vanilla["mimeType"] == "text/html;profile=mcp-app"
    assert clickedTime(host, vanilla)["params"]["name"] == "get-time"

    # The sheet-music app: its CSP is the server's, through the gateway.
    music = host.render("music__play-sheet-music", {"abcNotation": SONG})
    assert music["uri"] == "ui://music/sheet-music/mcp-app.html"
    assert json.dumps(music["meta"]) == json.dumps(serverMeta)
    expected = host.page.evaluate("meta => mcpHost.buildCsp(meta.ui.csp)", serverMeta)
    assert music["csp"] == expected
    assert "connect-src 'self' https://paulrosen.github.io" in music["csp"], music["csp"]
    host.page.frame_locator(f"#{music['frame']}").locator("body").wait_for()

    # The system monitor's app polls its app-only tool by the name it knows.
    monitor = host.render("monitor__get-system-info", {})
    assert monitor["uri"] == "ui://monitor/system-monitor/mcp-app.html"
    _waitFor(
        host.page,
        lambda: any(m["params"]["name"] == "poll-system-stats" for m in host.calls()),
    )
    assert not host.errors, host.errors


@pytest.mark.parametrize(
    ("path", "tool", "how"),
    [("/vanilla/mcp", "get-time", "render"), ("/mcp/search", "vanilla__get-time", "renderInvoked")],
)
def test_the_same_app_through_its_route_and_through_search(
    start: Any, home: Path, tmp_path: Path, browser: Any, path: str, tool: str, how: str
) -> None:
    """The server's own route gives the app as the server names it; search
    mode's C{invoke} names the app as C{/mcp} does, and the app's call of
    its tool reaches it there too."""
    script = bundledHost(tmp_path)
    gateway: RunningGateway = start("--config", str(appConfig(home)))
    host = HostPage(browser, f"http://127.0.0.1:{gateway.port}", script, path)
    rendered = host.render(tool, {}, how)
    shown = (
        "ui://get-time/mcp-app.html"
        if path == "/vanilla/mcp"
        else ("ui://vanilla/get-time/mcp-app.html")
    )
    assert rendered["uri"] == shown, rendered["uri"]
    assert rendered["mimeType"] == "text/html;profile=mcp-app"
    assert clickedTime(host, rendered)["params"]["name"] == "get-time"
    assert not host.errors, host.errors


def _waitFor(page: Any, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for C{condition}, letting Playwright deliver the page's events."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(100)


def _waitForText(page: Any, locator: Any, good: Callable[[str], bool]) -> str:
    deadline = time.monotonic() + 20.0
    while True:
        text = str(locator.text_content() or "")
        if good(text):
            return text
        assert time.monotonic() < deadline, f"timed out; the text is {text!r}"
        page.wait_for_timeout(100)
