"""MCP Apps on C{/mcp} for 2026-07-28 requests: the same URIs under their
servers, reads routed to the server's own URI, app-only tools listed to
hosts of apps only and called by the name their app knows."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.era2026 import AggregateEra2026
from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.protocol import jsonrpc
from tests.fakes import RecordingSink
from tests.support.web.aggregate_apps import APP, HOST, appServers
from tests.support.web.aggregate_era2026 import AggregateEra2026Harness


class AppsEra2026Tests(SynchronousTestCase):
    def setUp(self) -> None:
        self.agg = AggregateEra2026Harness(appServers())
        self.service = AggregateEra2026(self.agg.gateway)

    def call(
        self, method: str, params: dict[str, Any], capabilities: dict[str, Any] | None = None
    ) -> jsonrpc.Message:
        request = Era2026Request(
            clientId=1, method=method, params=params, capabilities=capabilities or {}
        )
        answered = self.service.era2026Call("/mcp", request, RecordingSink())
        self.agg.children.pump()
        return self.successResultOf(answered)

    def test_lists_name_each_app_under_its_server(self) -> None:
        plain = self.call("tools/list", {})["result"]["tools"]
        self.assertEqual([t["name"] for t in plain], ["alpha__get-time", "beta__get-time"])
        host = {t["name"]: t for t in self.call("tools/list", {}, HOST)["result"]["tools"]}
        self.assertEqual(sorted(host), ["alpha__get-time", "alpha__poll", "beta__get-time"])
        self.assertEqual(
            host["beta__get-time"]["_meta"]["ui"]["resourceUri"],
            "ui://beta/get-time/mcp-app.html",
        )

    def test_a_read_reaches_its_server_under_the_server_s_own_uri(self) -> None:
        uri = "ui://beta/get-time/mcp-app.html"
        read = self.call("resources/read", {"uri": uri}, HOST)
        (content,) = read["result"]["contents"]
        self.assertEqual(content["uri"], uri)
        self.assertEqual(content["text"], f"beta:{APP}")

    def test_an_app_calls_its_tool_by_its_own_name(self) -> None:
        called = self.call("tools/call", {"name": "poll", "arguments": {}}, HOST)
        self.assertEqual(called["result"]["content"][0]["text"], "alpha:poll:{}")
        both = self.call("tools/call", {"name": "get-time", "arguments": {}}, HOST)
        self.assertEqual(both["error"]["code"], -32602)
        self.assertIn("alpha, beta", both["error"]["message"])
        plain = self.call("tools/call", {"name": "poll", "arguments": {}})
        self.assertEqual(plain["error"]["message"], "Unknown tool: poll")
