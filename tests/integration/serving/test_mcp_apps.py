"""MCP Apps (the C{io.modelcontextprotocol/ui} extension) end to end, with
real app servers from the npm registry behind a real gateway and the real
Python SDK client, in both protocol revisions:

  - C{/mcp}: two servers that both serve C{ui://get-time/mcp-app.html}
    (server-basic-vanillajs and server-basic-preact) at once, each app under
    its own server (C{ui://<server>/...}) on the tools and in
    C{resources/read}, which returns the HTML, the C{text/html;profile=mcp-app}
    type and the resource's C{_meta.ui} (server-sheet-music's CSP) exactly as
    a direct read on the server's own route does; an app-only tool
    (server-system-monitor's C{poll-system-stats}) listed to a host of apps,
    not to a client that renders none, and callable by the name its app
    calls it by;
  - C{/<server>/mcp}: everything as the server gives it, for a shared child
    and a child per session;
  - C{/mcp/search}: C{describe} and C{invoke} carry the same C{_meta}, and
    C{search} never offers an app-only tool to the model.

The browser half (an ext-apps host rendering each app from the gateway) is
L{tests.integration.serving.test_mcp_apps_browser}."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client import advertise
from mcp.shared.exceptions import MCPError

from tests.integration.gateway import RunningGateway, freePort, npmServer, writeConfig
from tests.support.integration.mcp_apps import (
    HANDSHAKE,
    MIME,
    MUSIC_URI,
    UI,
    dumped,
    readApp,
    routeFacts,
)

pytestmark = pytest.mark.integration
APP_URI = "ui://get-time/mcp-app.html"
MONITOR_URI = "ui://system-monitor/mcp-app.html"
ERA2026 = "2026-07-28"


def appServers() -> dict[str, Any]:
    """The npm app servers over stdio, shared by every client."""
    entries: dict[str, Any] = {}
    for name, key in (
        ("vanilla", "APPS_BASIC_VANILLAJS_JS"),
        ("preact", "APPS_BASIC_PREACT_JS"),
        ("music", "APPS_SHEET_MUSIC_JS"),
        ("monitor", "APPS_SYSTEM_MONITOR_JS"),
    ):
        node, script = npmServer(key)
        entries[name] = {"command": node, "args": [script, "--stdio"]}
    node, script = npmServer("APPS_BASIC_VANILLAJS_JS")
    entries["own"] = {
        "command": node,
        "args": [script, "--stdio"],
        "share": "session",
        "aggregate": False,
    }
    return entries


async def aggregateFacts(url: str, mode: str, host: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    extensions = [advertise(UI, {"mimeTypes": [MIME]})] if host else None
    async with Client(url, mode=mode, extensions=extensions) as client:
        out["tools"] = {tool.name: dumped(tool) for tool in (await client.list_tools()).tools}
        resources = (await client.list_resources()).resources
        out["resources"] = {r.uri: dumped(r) for r in resources}
        out["reads"] = {}
        for name in ("vanilla__get-time", "preact__get-time", "music__play-sheet-music"):
            uri = out["tools"][name]["_meta"]["ui"]["resourceUri"]
            out["reads"][name] = await readApp(client, uri)
        called = await client.call_tool("vanilla__get-time", {})
        out["called"] = dumped(called)
        try:
            await client.call_tool("get-time", {})
        except MCPError as error:
            out["ambiguous"] = error.error.message
        else:
            out["ambiguous"] = None
        try:
            polled = await client.call_tool("poll-system-stats", {})
            out["app call"] = dumped(polled)
        except MCPError as error:
            out["app call"] = error.error.message
    return out


def gatewayWithApps(start: Any, home: Path) -> RunningGateway:
    config = writeConfig(home / "servers.json", appServers())
    gateway: RunningGateway = start("--config", str(config))
    return gateway


@pytest.mark.parametrize("mode", [HANDSHAKE, ERA2026])
def test_two_app_servers_at_once_on_the_aggregate(start: Any, home: Path, mode: str) -> None:
    gateway = gatewayWithApps(start, home)
    base = f"http://127.0.0.1:{gateway.port}"

    async def main() -> dict[str, Any]:
        with anyio.fail_after(180):
            return {
                "vanilla": await routeFacts(f"{base}/vanilla/mcp", mode),
                "music": await routeFacts(f"{base}/music/mcp", mode),
                "host": await aggregateFacts(f"{base}/mcp", mode, host=True),
                "plain": await aggregateFacts(f"{base}/mcp", mode, host=False),
            }

    facts = anyio.run(main)
    host, plain = facts["host"], facts["plain"]
    # Each server's app under its own server, the scheme kept, both references.
    for server in ("vanilla", "preact"):
        meta = host["tools"][f"{server}__get-time"]["_meta"]
        assert meta["ui"]["resourceUri"] == f"ui://{server}/get-time/mcp-app.html", meta
        assert meta["ui/resourceUri"] == f"ui://{server}/get-time/mcp-app.html", meta
        assert f"ui://{server}/get-time/mcp-app.html" in host["resources"], host["resources"]
    # The server's route: untouched.
    direct = facts["vanilla"]
    assert direct["tools"]["get-time"]["_meta"]["ui"]["resourceUri"] == APP_URI, direct
    # resources/read through /mcp is the direct read, byte for byte but its URI.
    for name, uri, route in (
        ("vanilla__get-time", APP_URI, "vanilla"),
        ("music__play-sheet-music", MUSIC_URI, "music"),
    ):
        through = dict(host["reads"][name])
        straight = dict(facts[route]["reads"][uri])
        assert through.pop("uri") == uri.replace("ui://", f"ui://{route}/", 1)
        assert straight.pop("uri") == uri
        assert json.dumps(through, sort_keys=False) == json.dumps(straight, sort_keys=False)
        assert through["mimeType"] == MIME
    music = host["reads"]["music__play-sheet-music"]
    assert music["_meta"]["ui"]["csp"] == {"connectDomains": ["https://paulrosen.github.io"]}
    # Two servers' apps of the same URI are two apps.
    assert host["reads"]["vanilla__get-time"]["text"] != host["reads"]["preact__get-time"]["text"]
    # An app-only tool: listed to a host of apps (whose model it is kept
    # from), not to a client that renders none; callable by its app's name.
    assert host["tools"]["monitor__poll-system-stats"]["_meta"]["ui"]["visibility"] == ["app"]
    assert "monitor__poll-system-stats" not in plain["tools"]
    assert "monitor__get-system-info" in plain["tools"]
    assert isinstance(host["app call"], dict) and "structuredContent" in host["app call"]
    assert "preact, vanilla" in str(host["ambiguous"]), host["ambiguous"]
    assert "time" in host["called"]["structuredContent"], host["called"]


LOOPBACK_ONLY = """
import net from "node:net";
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (port, ...rest) {
  const callback = rest.find((arg) => typeof arg === "function");
  return listen.call(this, port, "127.0.0.1", callback);
};
"""
"""Preloaded into a remote app server (which listens on every address):
it listens on loopback only."""


@pytest.fixture
def remoteApp(tmp_path: Path) -> Iterator[str]:
    """server-basic-vanillajs over Streamable HTTP on a loopback port: its
    URL."""
    node, script = npmServer("APPS_BASIC_VANILLAJS_JS")
    preload = tmp_path / "loopback.mjs"
    preload.write_text(LOOPBACK_ONLY)
    port = freePort()
    process = subprocess.Popen(
        [node, "--import", preload.as_uri(), script],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        said = [process.stdout.readline().decode("utf-8", "replace")]
        while "listening on" not in said[-1] and said[-1] and len(said) < 10:
            said.append(process.stdout.readline().decode("utf-8", "replace"))
        assert "listening on" in said[-1], said
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()  # it waits for open connections: then it is killed
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.parametrize("mode", [HANDSHAKE, ERA2026])
def test_server_routes_pass_everything_through(
    start: Any, home: Path, remoteApp: str, mode: str
) -> None:
    """A shared child, a child per session and a remote server (shared, and
    per session) of the same app server: the same tools, resources and
    reads, with their own URIs."""
    entries = appServers()
    entries["remote"] = {"type": "http", "url": remoteApp}
    entries["remoteshared"] = {"type": "http", "url": remoteApp, "share": "global"}
    gateway: RunningGateway = start("--config", str(writeConfig(home / "servers.json", entries)))
    base = f"http://127.0.0.1:{gateway.port}"

    async def main() -> dict[str, Any]:
        with anyio.fail_after(120):
            facts = {
                "shared": await routeFacts(f"{base}/vanilla/mcp", mode),
                "remote shared": await routeFacts(f"{base}/remoteshared/mcp", mode),
            }
            if mode == HANDSHAKE:  # a child per session serves the handshake revisions
                facts["own"] = await routeFacts(f"{base}/own/mcp", mode)
                facts["remote"] = await routeFacts(f"{base}/remote/mcp", mode)
            return facts

    facts = anyio.run(main)
    for route in facts:
        assert facts[route] == facts["shared"], route
    assert list(facts["shared"]["resources"]) == [APP_URI]
    tool = facts["shared"]["tools"]["get-time"]
    assert tool["_meta"] == {"ui": {"resourceUri": APP_URI}, "ui/resourceUri": APP_URI}
    read = facts["shared"]["reads"][APP_URI]
    assert read["mimeType"] == MIME and read["text"].lstrip().lower().startswith("<!doctype html")


@pytest.mark.parametrize("mode", [HANDSHAKE, ERA2026])
def test_search_describes_and_invokes_with_the_same_meta(start: Any, home: Path, mode: str) -> None:
    gateway = gatewayWithApps(start, home)
    url = f"http://127.0.0.1:{gateway.port}/mcp/search"

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        with anyio.fail_after(180):
            async with Client(
                url, mode=mode, extensions=[advertise(UI, {"mimeTypes": [MIME]})]
            ) as client:
                found = await client.call_tool("search", {"query": "system stats", "limit": 50})
                out["found"] = [
                    hit["name"] for hit in dumped(found)["structuredContent"]["results"]
                ]
                described = await client.call_tool("describe", {"name": "vanilla__get-time"})
                out["described"] = dumped(described)["structuredContent"]
                invoked = await client.call_tool(
                    "invoke", {"name": "vanilla__get-time", "arguments": {}}
                )
                out["invoked"] = dumped(invoked)
                uri = out["described"]["_meta"]["ui"]["resourceUri"]
                out["read"] = await readApp(client, uri)
        return out

    out = anyio.run(main)
    assert "monitor__get-system-info" in out["found"], out["found"]
    assert "monitor__poll-system-stats" not in out["found"], out["found"]
    assert out["described"]["_meta"]["ui"]["resourceUri"] == "ui://vanilla/get-time/mcp-app.html"
    assert out["invoked"]["_meta"]["ui"]["resourceUri"] == "ui://vanilla/get-time/mcp-app.html"
    assert out["read"]["mimeType"] == MIME
    assert isinstance(out["invoked"]["structuredContent"]["time"], str)
