"""Search mode served to MCP 2026-07-28 requests (L{AggregateEra2026} on
C{/mcp/search}, L{mcpgateway.core.aggregate.era2026search}), on a gateway
with fake children: the gateway's own tools listed and answered per
request, results kept per (endpoint, route, principal) and paged by
C{get_result} in later requests (and never by another principal or
route), C{invoke}'s member call and its C{input_required} round, and
C{invoke}'s C{async} task read by C{get_result}."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.era2026 import AggregateEra2026
from mcpgateway.core.aggregate.era2026search import ASKED_IN_TASK, Era2026Context
from mcpgateway.core.aggregate.results import CallerResults, ResultBudget, ResultGone
from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.protocol import era2026form, jsonrpc
from tests.fakes import FakeProcess, RecordingSink
from tests.support.core.aggregate.elicitation import whoQuestion
from tests.support.core.aggregate.era2026_case import AggregateEra2026Case
from tests.support.core.aggregate.who_round import WHO_ACCEPTED, checkAskedWho, checkWhoAnswered
from tests.support.web.aggregate_era2026 import ELICIT

BIG = list(range(30000))
"""A result's array far over the shield's budget (64 KiB)."""


def era2026(
    clientId: Any, method: str, params: dict[str, Any] | None = None, **fields: Any
) -> Era2026Request:
    return Era2026Request(clientId=clientId, method=method, params=params or {}, **fields)


def toolCall(clientId: Any, name: str, arguments: dict[str, Any], **fields: Any) -> Era2026Request:
    return era2026(clientId, "tools/call", {"name": name, "arguments": arguments}, **fields)


class Case(AggregateEra2026Case):
    endpoint = "search"

    def call(
        self, request: Era2026Request, service: AggregateEra2026 | None = None
    ) -> Deferred[jsonrpc.Message]:
        answered = (service or self.service).era2026Call("/mcp/search", request, RecordingSink())
        self.agg.children.pump()
        return answered

    def result(self, request: Era2026Request) -> dict[str, Any]:
        answer = self.successResultOf(self.call(request))
        assert "result" in answer, answer
        result: dict[str, Any] = answer["result"]
        return result

    def held(self) -> tuple[FakeProcess, dict[str, Any]]:
        [(proc, call)] = self.agg.children.held
        self.agg.children.held.clear()
        return proc, call


class ListTests(Case):
    def test_the_endpoint_serves_the_revision_in_search_mode(self) -> None:
        self.assertIsNone(self.service.era2026Refusal("/mcp/search"))
        default = AggregateEra2026(self.agg.gateway)
        self.assertIsNone(default.withMode("search").era2026Refusal("/mcp"))

    def test_discover_tells_how_to_use_the_four_tools(self) -> None:
        result = self.result(era2026(1, "server/discover"))
        self.assertIn("reached through four tools", result["instructions"])
        self.assertIn("alpha (2), beta (1)", result["instructions"])

    def test_tools_are_the_gateways_own_as_a_2025_search_session_lists_them(self) -> None:
        result = self.result(era2026(2, "tools/list"))
        self.assertEqual(
            [t["name"] for t in result["tools"]], ["search", "describe", "invoke", "get_result"]
        )
        tools = self.agg.gateway.aggregateSide.aggregator.ownTools
        assert tools is not None
        self.assertEqual(result["tools"], tools.definitions(True))
        self.assertEqual(result["resultType"], "complete")
        self.assertEqual(self.agg.sent("tools/call"), [])

    def test_prompts_and_resources_are_the_members(self) -> None:
        prompts = self.result(era2026(3, "prompts/list"))["prompts"]
        self.assertEqual([p["name"] for p in prompts], ["alpha__greet"])
        resources = self.result(era2026(4, "resources/list"))["resources"]
        self.assertEqual(sorted(r["uri"] for r in resources), ["file:///a.txt", "file:///b.txt"])

    def test_full_mode_neither_lists_nor_answers_the_gateways_tools(self) -> None:
        full = AggregateEra2026(self.agg.gateway)
        listed = self.successResultOf(self.call(era2026(5, "tools/list"), full))
        self.assertNotIn("invoke", [t["name"] for t in listed["result"]["tools"]])
        refused = self.successResultOf(
            self.call(toolCall(6, "invoke", {"name": "alpha__echo"}), full)
        )
        self.assertEqual(refused["error"]["message"], "Unknown tool: invoke")
        self.assertEqual(self.agg.sent("tools/call"), [])


class ToolTests(Case):
    def test_search_describe_invoke(self) -> None:
        found = self.result(toolCall(1, "search", {"query": "read a file"}))
        self.assertEqual(found["resultType"], "complete")
        self.assertEqual(found["_meta"][era2026form.SERVER_INFO_KEY]["name"], "mcpgateway")
        names = [hit["name"] for hit in found["structuredContent"]["results"]]
        self.assertEqual(names[0], "alpha__read_file")
        described = self.result(toolCall(2, "describe", {"name": "alpha__read_file"}))
        self.assertEqual(
            described["structuredContent"]["inputSchema"]["properties"]["path"]["type"], "string"
        )
        invoked = self.result(
            toolCall(3, "invoke", {"name": "beta__echo", "arguments": {"x": "1"}})
        )
        self.assertEqual(invoked["content"][0]["text"], "beta:echo:{'x': '1'}")
        self.assertEqual(invoked["resultType"], "complete")
        [(server, sent)] = self.agg.sent("tools/call")
        self.assertEqual((server, sent["params"]["name"]), ("beta", "echo"))
        self.assertEqual(len(self.agg.gateway.aggregateSide.aggregator.sessions), 0)

    def test_a_principal_searches_only_its_servers(self) -> None:
        mine = frozenset({"beta"})
        found = self.result(toolCall(1, "search", {"query": "echo"}, principal="p", servers=mine))
        self.assertEqual([h["name"] for h in found["structuredContent"]["results"]], ["beta__echo"])
        refused = self.result(
            toolCall(2, "invoke", {"name": "alpha__echo"}, principal="p", servers=mine)
        )
        self.assertTrue(refused["isError"])
        self.assertEqual(self.agg.sent("tools/call"), [])

    def test_bad_arguments_are_a_tool_error(self) -> None:
        answer = self.result(toolCall(1, "invoke", {"name": "alpha__read_file", "arguments": 3}))
        self.assertTrue(answer["isError"])
        self.assertEqual(answer["resultType"], "complete")


class ResultTests(Case):
    holdAlpha = True

    def shortened(self, **fields: Any) -> str:
        """Invoke alpha__echo, whose child answers a large result: its ref."""
        answered = self.call(toolCall(1, "invoke", {"name": "alpha__echo"}, **fields))
        proc, call = self.held()
        proc.reply(jsonrpc.resultResponse(call["id"], {"content": [], "structuredContent": BIG}))
        self.agg.children.pump()
        result = self.successResultOf(answered)["result"]
        self.assertLess(len(json.dumps(result)), 70000)
        ref = result["_meta"]["mcpgateway/shielded"]["ref"]
        assert isinstance(ref, str)
        return ref

    def page(self, ref: str, offset: int, **fields: Any) -> dict[str, Any]:
        return self.result(toolCall(9, "get_result", {"ref": ref, "offset": offset}, **fields))

    def test_a_ref_pages_in_later_requests(self) -> None:
        ref = self.shortened(principal="p", scope="ws")
        first = self.page(ref, 0, principal="p", scope="ws")["structuredContent"]
        self.assertEqual((first["total"], first["items"][0]), (len(BIG), 0))
        later = self.page(ref, 29990, principal="p", scope="ws")["structuredContent"]
        self.assertEqual(later["items"], BIG[29990:])

    def test_a_ref_is_never_read_by_another_principal_or_route(self) -> None:
        ref = self.shortened(principal="p", scope="ws")
        for fields in ({"principal": "q", "scope": "ws"}, {"principal": "p", "scope": ""}):
            refused = self.page(ref, 0, **fields)
            self.assertTrue(refused["isError"], fields)
            self.assertIn("get_result", refused["content"][0]["text"])
        other = AggregateEra2026(self.agg.gateway).withMode("search")  # /mcp?mode=search
        answer = self.successResultOf(
            self.call(toolCall(9, "get_result", {"ref": ref}, principal="p", scope="ws"), other)
        )
        self.assertTrue(answer["result"]["isError"])
        self.assertFalse(self.page(ref, 0, principal="p", scope="ws").get("isError", False))


class CallerResultsTests(SynchronousTestCase):
    def test_one_store_per_endpoint_route_and_principal_and_at_most_so_many(self) -> None:
        callers = CallerResults(Clock(), ResultBudget(), maxCallers=2)
        mine = callers.storeFor("search", "ws", "p")
        self.assertIs(callers.storeFor("search", "ws", "p"), mine)
        self.assertIsNot(callers.storeFor("search", "", "p"), mine)
        ref = mine.put({"a": 1})
        callers.storeFor("search", "ws", "p")  # most recently used again
        callers.storeFor("default", "ws", "p")  # the ("search", "", "p") store goes
        self.assertEqual(len(callers), 2)
        self.assertEqual(mine.get(ref), {"a": 1})
        callers.storeFor("x", "", "")
        callers.storeFor("y", "", "")
        gone = self.assertRaises(ResultGone, mine.get, ref)  # cleared when dropped
        self.assertIn("more recent callers", str(gone))

    def test_the_gateways_budget_bounds_every_caller(self) -> None:
        budget = ResultBudget(maxBytes=100)
        callers = CallerResults(Clock(), budget)
        first = callers.storeFor("search", "", "p").put({"x": "a" * 60})
        callers.storeFor("search", "", "q").put({"x": "b" * 60})
        self.assertRaises(ResultGone, callers.storeFor("search", "", "p").get, first)
        self.assertLessEqual(budget.used, 100)


class InputRoundTests(Case):
    holdAlpha = True

    def ask(self) -> tuple[FakeProcess, dict[str, Any], Deferred[jsonrpc.Message]]:
        """Invoke alpha__echo, whose child asks an elicitation."""
        answered = self.call(
            toolCall(
                20, "invoke", {"name": "alpha__echo", "arguments": {"q": "1"}}, **ELICIT_FIELDS
            )
        )
        proc, call = self.held()
        proc.reply(whoQuestion(call["id"]))
        self.agg.harness.reactor.advance(0.1)  # the round's gathering
        return proc, call, answered

    def retry(self, requestId: int, q: str, result: dict[str, Any]) -> Deferred[jsonrpc.Message]:
        """Invoke alpha__echo again with argument C{q}, accepting the
        question asked in C{result} under its state."""
        return self.call(
            toolCall(
                requestId,
                "invoke",
                {"name": "alpha__echo", "arguments": {"q": q}},
                inputResponses=WHO_ACCEPTED,
                requestState=result["requestState"],
                **ELICIT_FIELDS,
            )
        )

    def test_a_members_question_is_a_round_of_invoke_whose_retry_reaches_it(self) -> None:
        proc, call, answered = self.ask()
        result = self.successResultOf(answered)["result"]
        checkAskedWho(self, result)
        retry = self.retry(21, "1", result)
        checkWhoAnswered(self, proc)
        proc.reply(
            jsonrpc.resultResponse(call["id"], {"content": [{"type": "text", "text": "ok"}]})
        )
        final = self.successResultOf(retry)["result"]
        self.assertEqual((final["resultType"], final["content"][0]["text"]), ("complete", "ok"))
        self.assertEqual(len(self.agg.sent("tools/call")), 1)  # one child call, both rounds

    def test_a_state_retried_with_other_arguments_is_refused(self) -> None:
        _, _, answered = self.ask()
        result = self.successResultOf(answered)["result"]
        retry = self.successResultOf(self.retry(22, "2", result))
        # The member's -32602, as invoke gives any member error: a tool error.
        self.assertTrue(retry["result"]["isError"], retry)
        self.assertIn("requestState", retry["result"]["content"][0]["text"])
        self.assertIn("-32602", retry["result"]["content"][0]["text"])


ELICIT_FIELDS: dict[str, Any] = {"capabilities": ELICIT}


class AsyncTests(Case):
    holdAlpha = True
    withTasks = True

    def begun(self, **fields: Any) -> str:
        handle = self.result(
            toolCall(30, "invoke", {"name": "alpha__echo", "async": True}, **fields)
        )["structuredContent"]
        self.assertEqual(handle["status"], "working")
        return str(handle["taskId"])

    def read(self, taskId: str, **fields: Any) -> dict[str, Any]:
        return self.result(toolCall(31, "get_result", {"taskId": taskId}, **fields))

    def test_an_async_invoke_is_a_task_that_get_result_reads_later(self) -> None:
        taskId = self.begun(principal="p", scope="ws")
        self.assertEqual(
            self.read(taskId, principal="p", scope="ws")["structuredContent"]["status"], "working"
        )
        proc, call = self.held()
        self.assertEqual(call["params"]["name"], "echo")
        proc.reply(jsonrpc.resultResponse(call["id"], {"content": [{"type": "text", "text": "x"}]}))
        done = self.read(taskId, principal="p", scope="ws")["structuredContent"]
        self.assertEqual(done["status"], "completed")
        self.assertEqual(done["result"]["content"][0]["text"], "x")
        for fields in ({"principal": "q", "scope": "ws"}, {"principal": "p", "scope": ""}):
            self.assertTrue(self.read(taskId, **fields)["isError"])

    def test_a_question_during_an_async_invoke_fails_its_task_saying_so(self) -> None:
        taskId = self.begun(**ELICIT_FIELDS)
        proc, call = self.held()
        proc.reply(
            jsonrpc.request(
                "e-2",
                "elicitation/create",
                {
                    "message": "name?",
                    "requestedSchema": {"type": "object", "properties": {}},
                    "_meta": {"mcpgateway/relatedRequestId": call["id"]},
                },
            )
        )
        self.agg.harness.reactor.advance(0.1)
        self.agg.children.pump()
        shown = self.read(taskId)["structuredContent"]
        self.assertEqual(shown["status"], "failed", shown)
        self.assertEqual(shown["error"]["message"], ASKED_IN_TASK)
        # The child was answered at once (nobody waits for a client).
        refusals = [m for m in proc.sentMessages() if m.get("id") == "e-2" and "error" in m]
        self.assertEqual(len(refusals), 1)


class ContextTests(Case):
    def test_a_childs_stderr_is_never_quoted(self) -> None:
        session = self.service.session(era2026(1, "tools/call"))
        view = self.agg.gateway.aggregateSide.aggregator.viewNow(session)
        context = Era2026Context(
            self.agg.gateway.aggregateSide.aggregator,
            self.agg.gateway.pools,
            session,
            view,
            era2026(1, "tools/call"),
            RecordingSink(),
        )
        shown = context.shownError(
            {"code": jsonrpc.CHILD_EXITED, "message": "alpha exited; last stderr: secret"}
        )
        self.assertNotIn("secret", shown["message"])
        own = {"code": -32602, "message": "bad x"}
        self.assertEqual(context.shownError(own), own)
