"""What tests/integration/serving/test_mcp_apps.py shares with the other tests:
HANDSHAKE, MUSIC_URI, routeFacts."""

from __future__ import annotations

from typing import Any

from mcp import Client
from mcp.client import advertise

UI = "io.modelcontextprotocol/ui"
MIME = "text/html;profile=mcp-app"


MUSIC_URI = "ui://sheet-music/mcp-app.html"


HANDSHAKE = "legacy"
"""The SDK's name for the revisions with the initialize handshake."""


def dumped(model: Any) -> dict[str, Any]:
    """What the client was given, as JSON (aliases: C{_meta})."""
    out: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    return out


async def readApp(client: Client, uri: str) -> dict[str, Any]:
    read = await client.read_resource(uri)
    (content,) = read.contents
    return dumped(content)


async def routeFacts(url: str, mode: str) -> dict[str, Any]:
    """A server route's tools and apps, as the server gives them."""
    out: dict[str, Any] = {}
    async with Client(url, mode=mode, extensions=[advertise(UI, {"mimeTypes": [MIME]})]) as client:
        out["tools"] = {tool.name: dumped(tool) for tool in (await client.list_tools()).tools}
        resources = (await client.list_resources()).resources
        out["resources"] = {r.uri: dumped(r) for r in resources}
        out["reads"] = {uri: await readApp(client, uri) for uri in out["resources"]}
    return out
