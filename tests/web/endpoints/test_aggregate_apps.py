"""MCP Apps on C{/mcp} over a real Site with fake children: two servers'
apps of the same C{ui://} URI each under its own server, on tools, in
C{resources/list} and C{resources/read} (which reaches the right child
under the child's own URI), app-only tools listed to hosts of apps only
and called by the name their app knows, and the extension declared when
a member declares it."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.apps import EXTENSION, MIME_TYPE
from tests.core.aggregate.aggtools import Children
from tests.support.web.aggregate_apps import APP, CSP, HOST, appServers
from tests.support.web.aggregate_web import AggregateHarness


class DeclaringChildren(Children):
    """Fake children of which C{alpha} declares MCP Apps at C{initialize}."""

    def _answer(self, proc: Any, message: dict[str, Any]) -> None:
        if message.get("method") == "initialize" and self.serverOf(proc) == "alpha":
            self.seen.append(("alpha", message))
            extensions: dict[str, Any] = {EXTENSION: {}}
            capabilities = {"tools": {}, "resources": {}, "extensions": extensions}
            result = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": capabilities,
                "serverInfo": {"name": "alpha", "version": "1"},
            }
            proc.reply({"jsonrpc": "2.0", "id": message["id"], "result": result})
            return
        super()._answer(proc, message)


class AppsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.agg = AggregateHarness(appServers())

    def test_each_server_s_app_is_named_under_its_server(self) -> None:
        session = self.agg.open(capabilities=HOST)
        tools = {t["name"]: t for t in self.agg.call(session, "tools/list", {})["result"]["tools"]}
        for server in ("alpha", "beta"):
            meta = tools[f"{server}__get-time"]["_meta"]
            self.assertEqual(meta["ui"]["resourceUri"], f"ui://{server}/get-time/mcp-app.html")
            self.assertEqual(meta["ui/resourceUri"], f"ui://{server}/get-time/mcp-app.html")
        listed = self.agg.call(session, "resources/list", {}, requestId=8)["result"]["resources"]
        self.assertEqual(
            sorted(r["uri"] for r in listed),
            ["ui://alpha/get-time/mcp-app.html", "ui://beta/get-time/mcp-app.html"],
        )
        alpha = next(r for r in listed if r["uri"].startswith("ui://alpha/"))
        self.assertEqual(alpha["_meta"], CSP)
        self.assertEqual(alpha["mimeType"], MIME_TYPE)

    def test_a_read_reaches_its_server_under_the_server_s_own_uri(self) -> None:
        session = self.agg.open(capabilities=HOST)
        for server in ("beta", "alpha"):
            uri = f"ui://{server}/get-time/mcp-app.html"
            read = self.agg.call(session, "resources/read", {"uri": uri})
            (content,) = read["result"]["contents"]
            self.assertEqual(content["uri"], uri)
            self.assertEqual(content["text"], f"{server}:{APP}")
            sent = [m for s, m in self.agg.children.seen if m.get("method") == "resources/read"]
            self.assertEqual(sent[-1]["params"]["uri"], APP)

    def test_a_subscription_reaches_its_server_under_the_server_s_own_uri(self) -> None:
        session = self.agg.open(capabilities=HOST)
        uri = "ui://beta/get-time/mcp-app.html"
        answer = self.agg.call(session, "resources/subscribe", {"uri": uri})
        self.assertEqual(answer["result"], {})
        sent = [m for s, m in self.agg.children.seen if m.get("method") == "resources/subscribe"]
        self.assertEqual(sent[-1]["params"]["uri"], APP)

    def test_a_completion_of_an_app_reaches_its_server_under_its_own_uri(self) -> None:
        session = self.agg.open(capabilities=HOST)
        ref = {"type": "ref/resource", "uri": "ui://alpha/get-time/mcp-app.html"}
        params = {"ref": ref, "argument": {"name": "x", "value": ""}}
        self.assertIn("result", self.agg.call(session, "completion/complete", params))
        sent = [m for s, m in self.agg.children.seen if m.get("method") == "completion/complete"]
        self.assertEqual(sent[-1]["params"]["ref"], {"type": "ref/resource", "uri": APP})

    def test_the_server_s_own_uri_is_not_served_on_the_aggregate(self) -> None:
        session = self.agg.open(capabilities=HOST)
        answer = self.agg.call(session, "resources/read", {"uri": APP})
        self.assertEqual(answer["error"]["code"], -32602)

    def test_app_only_tools_are_listed_to_hosts_of_apps_only(self) -> None:
        plain = self.agg.open()
        names = [t["name"] for t in self.agg.call(plain, "tools/list", {})["result"]["tools"]]
        self.assertEqual(names, ["alpha__get-time", "beta__get-time"])
        host = self.agg.open(capabilities=HOST)
        names = [t["name"] for t in self.agg.call(host, "tools/list", {})["result"]["tools"]]
        self.assertEqual(names, ["alpha__get-time", "alpha__poll", "beta__get-time"])
        called = self.agg.call(plain, "tools/call", {"name": "alpha__poll", "arguments": {}})
        self.assertEqual(called["result"]["content"][0]["text"], "alpha:poll:{}")

    def test_an_app_calls_its_tool_by_its_own_name(self) -> None:
        host = self.agg.open(capabilities=HOST)
        called = self.agg.call(host, "tools/call", {"name": "poll", "arguments": {}})
        self.assertEqual(called["result"]["content"][0]["text"], "alpha:poll:{}")
        both = self.agg.call(host, "tools/call", {"name": "get-time", "arguments": {}})
        self.assertEqual(both["error"]["code"], -32602)
        self.assertIn("alpha, beta", both["error"]["message"])
        plain = self.agg.open()
        unknown = self.agg.call(plain, "tools/call", {"name": "poll", "arguments": {}})
        self.assertEqual(unknown["error"]["message"], "Unknown tool: poll")


class DeclarationTests(SynchronousTestCase):
    def test_the_aggregate_declares_the_extension_a_member_declares(self) -> None:
        agg = AggregateHarness(appServers())
        agg.children = DeclaringChildren(agg.harness.reactor, agg.children.servers)
        response = agg.harness.request("POST", "/mcp", _initialize(HOST))
        agg.children.pump()
        capabilities = response.json()["result"]["capabilities"]
        self.assertEqual(capabilities["extensions"], {EXTENSION: {}})

    def test_no_member_declaring_it_declares_nothing(self) -> None:
        agg = AggregateHarness(appServers())
        response = agg.harness.request("POST", "/mcp", _initialize(HOST))
        agg.children.pump()
        self.assertNotIn("extensions", response.json()["result"]["capabilities"])


def _initialize(capabilities: dict[str, Any]) -> dict[str, Any]:
    from tests.support.web.aggregate_web import initialize

    return initialize(capabilities)
