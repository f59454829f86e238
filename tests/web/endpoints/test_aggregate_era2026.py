"""MCP 2026-07-28 on the aggregate endpoint C{/mcp}, over a real Site with
fake children: C{server/discover} as the aggregate's C{initialize} answer,
the merged lists in the 2026 shape, calls routed to their member under its
own name, an C{input_required} round whose retry names the aggregate name
again, the C{Mcp-Param-*} check from the catalog, search mode's own tools, a
member that does not serve the revision answered 404 so clients fall
back, and never a session."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.types import EndpointSpec, NameSettings
from mcpgateway.protocol import era2026form
from mcpgateway.web.app import endEra2026Streams
from tests.core.aggregate.aggtools import tool
from tests.fakes import FakeProcess
from tests.http import Response
from tests.support.core.aggregate.elicitation import whoQuestion
from tests.support.core.aggregate.who_round import WHO_ACCEPTED, checkAskedWho, checkWhoAnswered
from tests.support.web.aggregate_era2026 import ELICIT, TASKS, AggregateEra2026Harness
from tests.support.web.aggregate_web import AggregateHarness, fresh

SERVER_INFO = {"name": "mcpgateway", "title": "mcpgateway (all servers)"}


def sessionsOf(agg: AggregateHarness) -> tuple[int, int]:
    """(gateway sessions, aggregate sessions) registered now."""
    aggregator = agg.gateway.aggregateSide.aggregator
    return len(agg.gateway.sessions), len(aggregator.sessions)


class DiscoverAndListTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.agg = AggregateEra2026Harness(fresh())

    def test_discover_is_the_aggregates_initialize_answer_in_the_2026_shape(self) -> None:
        response = self.agg.era2026("server/discover")
        self.assertEqual(response.status, 200)
        result = response.json()["result"]
        self.assertEqual(result["resultType"], "complete")
        self.assertEqual(result["supportedVersions"], ["2026-07-28"])
        self.assertEqual((result["ttlMs"], result["cacheScope"]), (0, "public"))
        info = result["_meta"][era2026form.SERVER_INFO_KEY]
        self.assertEqual({k: info[k] for k in SERVER_INFO}, SERVER_INFO)
        self.assertEqual(
            result["capabilities"]["resources"], {"subscribe": True, "listChanged": True}
        )
        self.assertTrue(result["capabilities"]["tools"]["listChanged"])
        self.assertNotIn("tasks", result["capabilities"])
        self.assertNotIn("extensions", result["capabilities"])  # no task manager here
        self.assertIn("alpha (2), beta (1)", result["instructions"])
        self.assertEqual(sessionsOf(self.agg), (0, 0))

    def test_discover_names_the_tasks_extension_when_the_gateway_serves_tasks(self) -> None:
        agg = AggregateEra2026Harness(fresh(), tasks=True)
        result = agg.era2026("server/discover").json()["result"]
        self.assertEqual(result["capabilities"]["extensions"], {TASKS: {}})

    def test_the_lists_are_the_views_in_the_2026_shape(self) -> None:
        servers = fresh()
        servers["alpha"].tools[0] = {**tool("echo"), "execution": {"taskSupport": "optional"}}
        agg = AggregateEra2026Harness(servers)
        tools = agg.era2026("tools/list").json()["result"]
        self.assertEqual(
            [t["name"] for t in tools["tools"]], ["alpha__echo", "alpha__read_file", "beta__echo"]
        )
        self.assertNotIn("execution", tools["tools"][0])
        self.assertEqual(tools["resultType"], "complete")
        self.assertEqual((tools["ttlMs"], tools["cacheScope"]), (0, "public"))
        self.assertEqual(tools["_meta"][era2026form.SERVER_INFO_KEY]["name"], "mcpgateway")
        prompts = agg.era2026("prompts/list", 2).json()["result"]
        self.assertEqual([p["name"] for p in prompts["prompts"]], ["alpha__greet"])
        resources = agg.era2026("resources/list", 3).json()["result"]
        self.assertEqual(
            sorted(r["uri"] for r in resources["resources"]), ["file:///a.txt", "file:///b.txt"]
        )
        templates = agg.era2026("resources/templates/list", 4).json()["result"]
        self.assertEqual(
            [t["uriTemplate"] for t in templates["resourceTemplates"]], ["alpha://{id}"]
        )
        self.assertEqual(agg.sent("tools/call"), [])
        self.assertEqual(sessionsOf(agg), (0, 0))

    def test_a_cursor_is_invalid_params(self) -> None:
        response = self.agg.era2026("tools/list", 5, {"cursor": "next"})
        self.assertEqual(response.status, 400)
        self.assertEqual(response.json()["error"]["code"], -32602)
        self.assertIn("invalid cursor", response.json()["error"]["message"])


class CallTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.agg = AggregateEra2026Harness(fresh())

    def test_a_call_reaches_its_member_under_its_own_name(self) -> None:
        response = self.agg.era2026(
            "tools/call", 7, {"name": "beta__echo", "arguments": {"x": "1"}}
        )
        self.assertEqual(response.status, 200)
        result = response.json()["result"]
        self.assertEqual(result["content"][0]["text"], "beta:echo:{'x': '1'}")
        self.assertEqual(result["resultType"], "complete")
        self.assertEqual(result["_meta"][era2026form.SERVER_INFO_KEY]["name"], "mcpgateway")
        [(server, call)] = self.agg.sent("tools/call")
        self.assertEqual((server, call["params"]["name"]), ("beta", "echo"))
        # The envelope is stripped, as for /<server>/mcp.
        self.assertNotIn(era2026form.PROTOCOL_VERSION_KEY, call["params"].get("_meta", {}))
        self.assertEqual(sessionsOf(self.agg), (0, 0))

    def test_an_unknown_tool_is_invalid_params_and_reaches_nobody(self) -> None:
        response = self.agg.era2026("tools/call", 8, {"name": "gamma__echo", "arguments": {}})
        self.assertEqual(response.status, 400)
        self.assertEqual(
            response.json()["error"], {"code": -32602, "message": "Unknown tool: gamma__echo"}
        )
        self.assertEqual(self.agg.sent("tools/call"), [])

    def test_a_prompt_is_routed_by_its_aggregate_name(self) -> None:
        response = self.agg.era2026("prompts/get", 9, {"name": "alpha__greet"})
        self.assertEqual(response.json()["result"]["messages"][0]["content"]["text"], "alpha")
        self.assertEqual(self.agg.sent("prompts/get")[-1][1]["params"]["name"], "greet")
        unknown = self.agg.era2026("prompts/get", 10, {"name": "greet"})
        self.assertEqual(unknown.json()["error"]["code"], -32602)
        self.assertIn("Unknown prompt", unknown.json()["error"]["message"])

    def test_a_resource_goes_to_the_member_that_lists_it_or_whose_template_matches(self) -> None:
        listed = self.agg.era2026("resources/read", 11, {"uri": "file:///b.txt"})
        self.assertEqual(listed.json()["result"]["contents"][0]["text"], "beta:file:///b.txt")
        templated = self.agg.era2026("resources/read", 12, {"uri": "alpha://42"})
        result = templated.json()["result"]
        self.assertEqual(result["contents"][0]["text"], "alpha:alpha://42")
        self.assertEqual((result["ttlMs"], result["cacheScope"]), (0, "public"))
        nobody = self.agg.era2026("resources/read", 13, {"uri": "file:///c.txt"})
        self.assertEqual(nobody.status, 400)
        self.assertIn("no server of this endpoint", nobody.json()["error"]["message"])

    def test_a_completion_of_a_prompt_names_the_members_prompt(self) -> None:
        params = {"ref": {"type": "ref/prompt", "name": "alpha__greet"}, "argument": {}}
        response = self.agg.era2026("completion/complete", 14, params)
        self.assertEqual(response.json()["result"]["completion"]["values"], ["greet"])
        byUri = {"ref": {"type": "ref/resource", "uri": "alpha://{id}"}, "argument": {}}
        response = self.agg.era2026("completion/complete", 15, byUri)
        self.assertEqual(response.json()["result"]["completion"]["values"], ["alpha://{id}"])
        self.assertEqual([s for s, _ in self.agg.sent("completion/complete")], ["alpha", "alpha"])

    def test_param_headers_are_checked_against_the_catalogs_definition(self) -> None:
        servers = fresh()
        annotated = tool("where", region="the region")
        annotated["inputSchema"]["properties"]["region"]["x-mcp-header"] = "Region"
        servers["alpha"].tools.append(annotated)
        agg = AggregateEra2026Harness(servers)
        agg.era2026("tools/list")  # the catalogs are listed
        params = {"name": "alpha__where", "arguments": {"region": "eu"}}
        wrong = agg.era2026("tools/call", 16, params, headers={"mcp-param-region": "us"})
        self.assertEqual(wrong.status, 400)
        self.assertEqual(wrong.json()["error"]["code"], -32020)
        self.assertEqual(agg.sent("tools/call"), [])
        right = agg.era2026("tools/call", 17, params, headers={"mcp-param-region": "eu"})
        self.assertEqual(right.status, 200)
        self.assertEqual(agg.sent("tools/call")[-1][1]["params"]["name"], "where")


class InputRoundTests(SynchronousTestCase):
    """A member's question comes back as the aggregate's C{input_required};
    the retry, which names the aggregate name, reaches the same call."""

    def setUp(self) -> None:
        servers = fresh()
        servers["alpha"].hold = True
        self.agg = AggregateEra2026Harness(servers)

    def ask(self) -> tuple[FakeProcess, dict[str, Any], dict[str, Any]]:
        """Call alpha__echo; its child asks an elicitation: (the child, its
        call, the input_required result)."""
        response = self.agg.era2026(
            "tools/call", 20, {"name": "alpha__echo", "arguments": {"q": 1}}, capabilities=ELICIT
        )
        [(proc, call)] = self.agg.children.held
        proc.reply(whoQuestion(call["id"]))
        self.agg.harness.reactor.advance(0.1)  # the round's gathering
        result = self.agg.answer(response, 20)["result"]
        return proc, call, result

    def retry(self, requestId: int, name: str, result: dict[str, Any]) -> Response:
        """Call C{name} again, accepting the question asked in C{result}
        under its state: the response."""
        return self.agg.era2026(
            "tools/call",
            requestId,
            {
                "name": name,
                "arguments": {"q": 1},
                "inputResponses": WHO_ACCEPTED,
                "requestState": result["requestState"],
            },
            capabilities=ELICIT,
        )

    def test_the_retry_with_the_aggregate_name_answers_the_members_child(self) -> None:
        proc, call, result = self.ask()
        checkAskedWho(self, result)
        retry = self.retry(21, "alpha__echo", result)
        checkWhoAnswered(self, proc)
        proc.reply(
            {
                "jsonrpc": "2.0",
                "id": call["id"],
                "result": {"content": [{"type": "text", "text": "ok"}]},
            }
        )
        final = self.agg.answer(retry, 21)["result"]
        self.assertEqual((final["resultType"], final["content"][0]["text"]), ("complete", "ok"))
        self.assertEqual(len(self.agg.sent("tools/call")), 1)  # one child call, both rounds

    def test_a_state_retried_under_another_tool_is_refused(self) -> None:
        _, _, result = self.ask()
        retry = self.retry(22, "alpha__read_file", result)
        self.assertEqual(retry.status, 400)
        self.assertEqual(retry.json()["error"]["code"], -32602)
        self.assertIn("requestState", retry.json()["error"]["message"])


class WhoIsServedTests(SynchronousTestCase):
    def test_search_mode_is_served_with_the_gateways_tools(self) -> None:
        agg = AggregateEra2026Harness(fresh())
        for path in ("/mcp/search", "/mcp?mode=search"):
            response = agg.era2026("tools/list", 1, path=path)
            self.assertEqual(response.status, 200, path)
            self.assertEqual(
                [t["name"] for t in response.json()["result"]["tools"]],
                ["search", "describe", "invoke", "get_result"],
            )
            invoked = agg.era2026(
                "tools/call",
                2,
                {"name": "invoke", "arguments": {"name": "beta__echo", "arguments": {}}},
                path=path,
            )
            self.assertEqual(invoked.json()["result"]["content"][0]["text"], "beta:echo:{}")
        self.assertEqual(sessionsOf(agg), (0, 0))
        # ?mode=full on the search endpoint: its servers, in full.
        listed = agg.era2026("tools/list", 3, path="/mcp/search?mode=full")
        self.assertEqual(len(listed.json()["result"]["tools"]), 3)

    def test_search_mode_with_a_child_per_session_falls_back(self) -> None:
        agg = AggregateEra2026Harness(fresh(), modes={"beta": "stateful"})
        response = agg.era2026("server/discover", 1, path="/mcp/search")
        self.assertEqual(response.status, 404)
        self.assertEqual(response.json()["error"]["code"], -32601)
        self.assertIn("(beta;", response.json()["error"]["message"])

    def test_a_member_with_a_child_per_session_makes_the_endpoint_fall_back(self) -> None:
        agg = AggregateEra2026Harness(fresh(), modes={"beta": "stateful"})
        response = agg.era2026("tools/list")
        self.assertEqual(response.status, 404)
        message = response.json()["error"]["message"]
        self.assertIn("(beta;", message)
        self.assertIn("child per session", message)
        # An endpoint that leaves it out serves the revision.
        agg.gateway.aggregateSide.aggregator.useEndpoints(
            {"era2026": EndpointSpec(name="era2026", exclude=("beta",))}, NameSettings()
        )
        listed = agg.era2026("tools/list", 2, path="/mcp/era2026")
        self.assertEqual(
            [t["name"] for t in listed.json()["result"]["tools"]],
            ["alpha__echo", "alpha__read_file"],
        )


class ListenStreamTests(SynchronousTestCase):
    def test_a_listen_stream_is_acknowledged_and_ended_by_a_stop(self) -> None:
        agg = AggregateEra2026Harness(fresh())
        params = {
            "notifications": {"toolsListChanged": True, "resourceSubscriptions": ["alpha://7"]}
        }
        response = agg.era2026("subscriptions/listen", "l-1", params)
        [ack] = response.events()
        self.assertEqual(ack["method"], "notifications/subscriptions/acknowledged")
        self.assertEqual(
            ack["params"]["notifications"],
            {"toolsListChanged": True, "resourceSubscriptions": ["alpha://7"]},
        )
        self.assertEqual(
            [m["params"]["uri"] for _, m in agg.sent("resources/subscribe")], ["alpha://7"]
        )
        self.assertEqual(endEra2026Streams(agg.harness.site, "gateway stopping"), 1)
        last = response.events()[-1]
        self.assertEqual((last["id"], last["result"]["resultType"]), ("l-1", "complete"))
        self.assertTrue(response.complete)
        self.assertEqual(agg.gateway.aggregateSide.aggregator.watchers, set())
