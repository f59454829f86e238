"""What tests/web/endpoints/test_aggregate_apps.py shares with the other tests: APP,
HOST, appServers."""

from __future__ import annotations

from typing import Any

from mcpgateway.core.aggregate.apps import EXTENSION, MIME_TYPE
from tests.core.aggregate.aggtools import FakeServer, tool

APP = "ui://get-time/mcp-app.html"
HOST = {"extensions": {EXTENSION: {"mimeTypes": [MIME_TYPE]}}}
CSP = {"ui": {"csp": {"connectDomains": ["https://api.example.com"]}, "prefersBorder": True}}


def appTool(name: str, **ui: Any) -> dict[str, Any]:
    return {**tool(name), "_meta": {"ui": ui, "ui/resourceUri": ui.get("resourceUri", APP)}}


def appServers() -> dict[str, FakeServer]:
    return {
        "alpha": FakeServer(
            tools=[appTool("get-time", resourceUri=APP), appTool("poll", visibility=["app"])],
            resources=[{"uri": APP, "name": "app", "mimeType": MIME_TYPE, "_meta": CSP}],
        ),
        "beta": FakeServer(
            tools=[appTool("get-time", resourceUri=APP)],
            resources=[{"uri": APP, "name": "app", "mimeType": MIME_TYPE}],
        ),
    }
