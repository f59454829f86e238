"""Tests for L{mcpgateway.core.aggregate.tools}: the aggregate endpoint's
search, describe, invoke and get_result tools, over a fake L{ToolContext}."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from twisted.internet.defer import Deferred, fail
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.naming import Namer
from mcpgateway.core.aggregate.results import ResultBudget
from mcpgateway.core.aggregate.schemas import Schemas
from mcpgateway.core.aggregate.search import ThreadedSearch
from mcpgateway.core.aggregate.shield import META, size
from mcpgateway.core.aggregate.toolargs import BadInput
from mcpgateway.core.aggregate.tools import (
    GATEWAY_TOOLS,
    NOT_KEPT,
    SEARCH_MAX,
    THREAD_BYTES,
    GatewayTools,
    ToolCallError,
    ToolContext,
    decodeArguments,
)
from mcpgateway.core.aggregate.types import NameSettings, ShieldSpec
from tests.core.aggregate import searchtools
from tests.core.aggregate.toolcontext import (
    SHIELD,
    FakeContext,
    errorOf,
    makeTools,
    matchesOutputSchema,
    runNow,
    structuredOf,
)
from tests.support.json_values import jsonScalars, jsonValues

JSON = jsonValues(
    jsonScalars(20, integers=st.integers(min_value=-(10**6), max_value=10**6)),
    items=4,
    entries=4,
    leaves=20,
)


class DefinitionTests(SynchronousTestCase):
    def test_names(self) -> None:
        tools = makeTools()
        self.assertEqual(
            [d["name"] for d in tools.definitions(False)], ["search", "describe", "invoke"]
        )
        names = [d["name"] for d in tools.definitions(True)]
        self.assertEqual(names, ["search", "describe", "invoke", "get_result"])
        self.assertEqual(set(names), GATEWAY_TOOLS)

    def test_every_definition_is_complete_and_valid(self) -> None:
        for definition in makeTools().definitions(True):
            Draft202012Validator.check_schema(definition["inputSchema"])
            Draft202012Validator.check_schema(definition["outputSchema"])
            self.assertEqual(definition["inputSchema"]["type"], "object")
            self.assertEqual(definition["outputSchema"]["type"], "object")
            self.assertTrue(2 <= len(definition["description"].splitlines()) <= 3)
            self.assertIn("title", definition)

    def test_the_schemas_admit_exactly_what_the_tools_accept(self) -> None:
        """A client that validates its arguments against a tool's inputSchema
        can send what the tool takes, and nothing the tool refuses (search's
        limit outside 1..50, either side). invoke's arguments stay "object"
        in the schema (a type list makes Gemini refuse the whole request);
        a string of their JSON is taken beside it, for strict-mode clients."""
        schemas = {d["name"]: d["inputSchema"] for d in makeTools().definitions(True)}
        invoke = Draft202012Validator(schemas["invoke"])
        self.assertEqual(schemas["invoke"]["properties"]["arguments"]["type"], "object")
        self.assertTrue(invoke.is_valid({"name": "fs__read_text_file", "arguments": {"p": 1}}))
        self.assertFalse(invoke.is_valid({"name": "x", "arguments": 5}))
        search = Draft202012Validator(schemas["search"])
        for limit in (0, 1, SEARCH_MAX, SEARCH_MAX + 1):
            result = self.successResultOf(
                makeTools().call("search", {"query": "", "limit": limit}, FakeContext())
            )
            accepted = not result.get("isError", False)
            self.assertEqual(search.is_valid({"query": "", "limit": limit}), accepted, limit)

    def test_copies(self) -> None:
        tools = makeTools()
        tools.definitions(True)[0]["inputSchema"]["properties"].clear()
        self.assertIn("query", tools.definitions(True)[0]["inputSchema"]["properties"])

    def test_the_namer_never_gives_a_member_tool_a_gateway_name(self) -> None:
        namer = Namer(NameSettings(separator="_"), reserved=GATEWAY_TOOLS)
        # "get" + "_" + "result" would be get_result: the namer hashes it instead.
        name = namer.name("get", "result")
        self.assertNotIn(name, GATEWAY_TOOLS)
        self.assertTrue(name.startswith("get_result-"))

    def test_instructions_search_mode(self) -> None:
        text = makeTools().instructions({"fs": 14, "memory": 9}, "search")
        self.assertLessEqual(len(text.splitlines()), 3)
        for word in ("`search`", "`describe`", "`invoke`", "`get_result`"):
            self.assertIn(word, text)
        self.assertIn("2 MCP servers with 23 tools", text)
        self.assertIn("fs (14), memory (9)", text)

    def test_instructions_full_and_hybrid(self) -> None:
        tools = makeTools()
        full = tools.instructions({"fs": 1}, "full")
        self.assertIn("1 MCP server with 1 tools", full)
        self.assertNotIn("`invoke`", full)
        self.assertIn("`invoke`", tools.instructions({"fs": 1}, "hybrid"))
        self.assertIn("Servers (tools): none.", tools.instructions({}, "full"))

    def test_instructions_name_the_servers_left_out_and_why(self) -> None:
        text = makeTools().instructions(
            {"fs": 2},
            "full",
            {"bogus": "is not available (exited with code 3); it is probed again"},
        )
        self.assertIn("1 MCP server with 2 tools", text)
        self.assertIn("Servers (tools): fs (2).", text)
        self.assertIn(
            "Left out for now: bogus is not available (exited with code 3); it is probed again.",
            text,
        )

    def test_instructions_list_at_most_40_members(self) -> None:
        text = makeTools().instructions({f"s{i:03d}": 1 for i in range(100)}, "search")
        self.assertIn("s039 (1), and 60 more.", text)
        self.assertNotIn("s040", text)


class SearchTests(SynchronousTestCase):
    def search(self, context: FakeContext | None = None, **args: Any) -> dict[str, Any]:
        tools = makeTools()
        result = self.successResultOf(tools.call("search", args, context or FakeContext()))
        self.assertTrue(matchesOutputSchema(tools, "search", result), result)
        return result

    def test_a_server_whose_tools_are_not_known_is_named_with_why(self) -> None:
        context = FakeContext(unavailable={"fs": "is still starting"})
        result = self.search(context, query="", server="fs")
        structured = result["structuredContent"]
        self.assertEqual(structured["unavailable"], {"fs": "fs is still starting"})
        # Only the servers searched are named.
        context = FakeContext(unavailable={"fs": "is still starting"})
        other = sorted(context.servers - {"fs"})[0]
        result = self.search(context, query="", server=other)
        self.assertNotIn("unavailable", result["structuredContent"])

    def test_describe_of_a_tool_of_a_server_not_listed_yet_says_so(self) -> None:
        context = FakeContext(unavailable={"late": "is still starting"})
        tools = makeTools()
        result = self.successResultOf(tools.call("describe", {"name": "late__x"}, context))
        self.assertTrue(result["isError"])
        self.assertIn("server 'late' is still starting", result["content"][0]["text"])

    def test_finds_and_ranks(self) -> None:
        found = structuredOf(self.search(query="read a file"))
        names = [r["name"] for r in found["results"]]
        self.assertIn("fs__read_text_file", names[:3])
        self.assertEqual(len(names), 10)
        self.assertGreaterEqual(found["total"], 10)
        first = found["results"][0]
        self.assertEqual(set(first), {"name", "server", "description", "score", "running"})
        scores = [r["score"] for r in found["results"]]
        self.assertEqual(scores, sorted(scores, reverse=True))

    def test_description_is_the_first_sentence(self) -> None:
        found = structuredOf(self.search(query="weather forecast", limit=1))
        (hit,) = found["results"]
        self.assertEqual(hit["name"], "util__get_weather_forecast")
        self.assertNotIn("\n", hit["description"])
        self.assertLessEqual(len(hit["description"]), 160)

    def test_running(self) -> None:
        found = structuredOf(self.search(query="file", limit=50))
        running = {r["server"]: r["running"] for r in found["results"]}
        self.assertTrue(running.pop("fs"))
        self.assertFalse(any(running.values()))

    def test_hidden_tools_are_neither_listed_nor_counted(self) -> None:
        context = FakeContext(hidden={"fs__read_text_file"})
        found = structuredOf(self.search(context, query="read a file", limit=50))
        names = [r["name"] for r in found["results"]]
        self.assertNotIn("fs__read_text_file", names)
        everything = structuredOf(self.search(query="read a file", limit=50))
        self.assertEqual(found["total"], everything["total"] - 1)

    def test_server_filter(self) -> None:
        found = structuredOf(self.search(query="search", server="jira", limit=50))
        self.assertTrue(found["results"])
        self.assertEqual({r["server"] for r in found["results"]}, {"jira"})

    def test_server_not_in_the_view(self) -> None:
        context = FakeContext()
        context.servers = frozenset({"fs", "git"})
        text = errorOf(
            self.successResultOf(
                makeTools().call("search", {"query": "x", "server": "jira"}, context)
            )
        )
        self.assertIn("no server 'jira' here; the servers are: fs, git", text)

    def test_only_the_view_servers_are_searched(self) -> None:
        context = FakeContext()
        context.servers = frozenset({"git"})
        found = structuredOf(self.search(context, query="read a file", limit=50))
        self.assertEqual({r["server"] for r in found["results"]}, {"git"})

    def test_empty_query_lists_by_name(self) -> None:
        found = structuredOf(self.search(query="", limit=5))
        names = [r["name"] for r in found["results"]]
        self.assertEqual(names, sorted(names))
        self.assertEqual(found["total"], 120)
        self.assertEqual({r["score"] for r in found["results"]}, {0.0})
        self.assertNotIn("-0.0", json.dumps(found))
        self.assertEqual(structuredOf(self.search())["total"], 120)  # no query at all

    def test_limit(self) -> None:
        found = structuredOf(self.search(query="", limit=SEARCH_MAX))["results"]
        self.assertEqual(len(found), SEARCH_MAX)
        self.assertEqual(len(structuredOf(self.search(query="", limit=3.0))["results"]), 3)
        for bad, why in [
            ("ten", "limit must be an integer, not a string"),
            (True, "limit must be an integer, not a boolean"),
            (0, "limit must be at least 1, not 0"),
            (51, "limit must be at most 50, not 51"),
            (500, "limit must be at most 50, not 500"),
            (2.5, "limit must be an integer, not a number"),
        ]:
            result = self.successResultOf(
                makeTools().call("search", {"query": "x", "limit": bad}, FakeContext())
            )
            self.assertEqual(errorOf(result), f"search: {why}")

    def test_query_must_be_text(self) -> None:
        result = self.successResultOf(makeTools().call("search", {"query": 3}, FakeContext()))
        self.assertEqual(errorOf(result), "search: query must be a string, not a number")

    def test_a_failed_search_is_an_error_result(self) -> None:
        tools = GatewayTools(ThreadedSearch(runNow), Schemas(), runNow)

        def broken() -> list[Any]:
            raise RuntimeError("catalogs broke")

        tools.rowsChanged(broken)
        result = self.successResultOf(tools.call("search", {"query": "x"}, FakeContext()))
        self.assertIn("search failed inside the gateway", errorOf(result))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class CallTests(SynchronousTestCase):
    def test_unknown_tool_and_bad_arguments(self) -> None:
        tools = makeTools()
        result = self.successResultOf(tools.call("nope", {}, FakeContext()))
        self.assertEqual(errorOf(result), "'nope' is not one of the gateway's tools")
        result = self.successResultOf(tools.call("describe", [1], FakeContext()))
        self.assertEqual(errorOf(result), "describe: arguments must be an object, not an array")
        result = self.successResultOf(tools.call("describe", None, FakeContext()))
        self.assertEqual(errorOf(result), "describe: name is required (a string)")


class DescribeTests(SynchronousTestCase):
    def test_definition_and_server(self) -> None:
        tools = makeTools()
        result = self.successResultOf(
            tools.call("describe", {"name": "memory__create_entities"}, FakeContext())
        )
        described = structuredOf(result)
        self.assertEqual(described["name"], "memory__create_entities")
        self.assertEqual(described["server"], "memory")
        self.assertIn("entities", described["inputSchema"]["properties"])
        self.assertTrue(matchesOutputSchema(tools, "describe", result))

    def test_unknown_hidden_and_gateway_names(self) -> None:
        tools = makeTools()
        context = FakeContext(hidden={"fs__write_file"})
        for name, why in [
            ("fs__nothing", "no tool named 'fs__nothing' here"),
            ("fs__write_file", "no tool named 'fs__write_file' here"),
            ("invoke", "'invoke' is one of the gateway's own tools: call it directly"),
        ]:
            result = self.successResultOf(tools.call("describe", {"name": name}, context))
            self.assertIn(why, errorOf(result))

    def test_malformed_fields_are_left_out(self) -> None:
        context = FakeContext()
        context.definitions["fs__odd"] = {"name": "fs__odd", "description": 7, "icons": []}
        context.owners["fs__odd"] = "fs"
        tools = makeTools()
        result = self.successResultOf(tools.call("describe", {"name": "fs__odd"}, context))
        described = structuredOf(result)
        self.assertNotIn("description", described)
        self.assertEqual(described["icons"], [])
        self.assertEqual(described["inputSchema"], {"type": "object"})
        self.assertTrue(matchesOutputSchema(tools, "describe", result))


class InvokeTests(SynchronousTestCase):
    def invoke(self, context: FakeContext, name: str, arguments: Any = None) -> dict[str, Any]:
        args: dict[str, Any] = {"name": name}
        if arguments is not None:
            args["arguments"] = arguments
        tools = makeTools()
        result = self.successResultOf(tools.call("invoke", args, context))
        if result.get("isError") is not True:
            self.assertTrue(matchesOutputSchema(tools, "invoke", result), result)
        return result

    def test_object_arguments(self) -> None:
        context = FakeContext()
        result = self.invoke(context, "fs__read_text_file", {"path": "/etc/hostname"})
        self.assertEqual(context.calls, [("fs__read_text_file", {"path": "/etc/hostname"})])
        self.assertEqual(result["content"], [{"type": "text", "text": "done"}])
        self.assertEqual(result["structuredContent"], {})

    def test_string_arguments_are_decoded(self) -> None:
        context = FakeContext()
        self.invoke(context, "fs__read_text_file", '{"path": "/a"}')
        self.invoke(context, "fs__read_text_file", json.dumps(json.dumps({"path": "/b"})))
        self.invoke(context, "fs__list_directory", "")
        self.assertEqual(
            context.calls,
            [
                ("fs__read_text_file", {"path": "/a"}),
                ("fs__read_text_file", {"path": "/b"}),
                ("fs__list_directory", {}),
            ],
        )

    def test_undecodable_arguments(self) -> None:
        context = FakeContext()
        for arguments, why in [
            ("{not json", "arguments is a string but not JSON"),
            ("[1, 2]", "arguments must be a JSON object, not an array"),
            ('{"x": NaN}', "arguments is a string but not JSON: NaN is not JSON"),
            (5, "arguments must be an object (or a string of its JSON), not a number"),
            ([], "arguments must be an object (or a string of its JSON), not an array"),
        ]:
            self.assertIn(
                f"invoke: {why}", errorOf(self.invoke(context, "fs__move_file", arguments))
            )
        self.assertEqual(context.calls, [])

    def test_arguments_are_checked_against_the_input_schema(self) -> None:
        context = FakeContext()
        context.definitions["fs__read_text_file"]["inputSchema"] = {
            "type": "object",
            "properties": {"path": {"type": "string"}, "head": {"type": "integer"}},
            "required": ["path"],
        }
        text = errorOf(self.invoke(context, "fs__read_text_file", {"head": "ten"}))
        self.assertEqual(
            text,
            "The arguments for fs__read_text_file do not match its inputSchema:\n"
            "- arguments: 'path' is a required property\n"
            "- head: 'ten' is not of type 'integer'\n"
            "Fix them and call invoke again (describe fs__read_text_file shows the schema).",
        )
        self.assertEqual(context.calls, [])

    def test_unusable_input_schema_lets_the_member_decide(self) -> None:
        context = FakeContext()
        context.definitions["fs__move_file"]["inputSchema"] = {"type": "objekt"}
        self.invoke(context, "fs__move_file", {"x": 1})
        self.assertEqual(context.calls, [("fs__move_file", {"x": 1})])

    def test_unknown_or_hidden_tool_is_never_called(self) -> None:
        context = FakeContext(hidden={"fs__move_file"})
        self.assertIn("no tool named", errorOf(self.invoke(context, "fs__move_file", {})))
        self.assertIn("gateway's own tools", errorOf(self.invoke(context, "search", {})))
        self.assertEqual(context.calls, [])

    def test_member_results_pass_through(self) -> None:
        context = FakeContext()
        structured = {
            "content": [{"type": "text", "text": '{"n": 1}'}],
            "structuredContent": {"n": 1},
            "_meta": {"x": 1},
        }
        failed = {"content": [{"type": "text", "text": "no such file"}], "isError": True}
        context.answers = {
            "fs__write_file": structured,
            "fs__move_file": failed,
            "fs__edit_file": {"content": [], "structuredContent": [1, 2]},
        }
        self.assertEqual(self.invoke(context, "fs__write_file", {}), structured)
        self.assertEqual(self.invoke(context, "fs__move_file", {}), failed)
        odd = self.invoke(context, "fs__edit_file", {})
        self.assertEqual(odd["structuredContent"], {"value": [1, 2]})

    def test_a_json_rpc_error_becomes_an_error_result(self) -> None:
        context = FakeContext()
        context.answers["fs__move_file"] = ToolCallError(-32602, "Invalid params: source")
        text = errorOf(self.invoke(context, "fs__move_file", {}))
        self.assertEqual(
            text, "fs__move_file failed: Invalid params: source (JSON-RPC error -32602)"
        )

    def test_other_failures_propagate(self) -> None:
        context = FakeContext()
        context.answers["fs__move_file"] = RuntimeError("member gone")
        d = makeTools().call("invoke", {"name": "fs__move_file"}, context)
        self.failureResultOf(d, RuntimeError)

    def test_waits_for_the_member(self) -> None:
        context = FakeContext()
        pending: Deferred[dict[str, Any]] = Deferred()
        context.answers["fs__move_file"] = pending
        d = makeTools().call("invoke", {"name": "fs__move_file"}, context)
        self.assertNoResult(d)
        pending.callback({"content": [{"type": "text", "text": "moved"}]})
        self.assertEqual(self.successResultOf(d)["content"][0]["text"], "moved")

    def test_a_large_result_is_shielded_and_kept(self) -> None:
        context = FakeContext()
        text = "".join(f"line {i}\n" for i in range(5000))
        context.answers["fs__read_text_file"] = {"content": [{"type": "text", "text": text}]}
        result = self.invoke(context, "fs__read_text_file", {"path": "/big"})
        self.assertLessEqual(size(result), SHIELD.budget)
        ref = result["_meta"][META]["ref"]
        self.assertEqual(len(context.store), 1)
        self.assertEqual(context.store.get(ref), {"content": [{"type": "text", "text": text}]})
        self.assertIn(f'ref="{ref}"', result["content"][-1]["text"])
        self.assertEqual(result["structuredContent"], {})

    def test_without_the_shield_a_large_result_passes_whole(self) -> None:
        context = FakeContext(shieldSpec=ShieldSpec(enabled=False, budget=100))
        big = {"content": [{"type": "text", "text": "x" * 1000}]}
        context.answers["fs__read_text_file"] = big
        result = self.invoke(context, "fs__read_text_file", {"path": "/big"})
        self.assertEqual(result["content"], big["content"])
        self.assertEqual(len(context.store), 0)


@settings(max_examples=100, deadline=None)
@given(value=JSON | st.text(max_size=40) | st.from_regex(r'\s*[\[{"].*', fullmatch=True))
def test_decode_arguments_gives_an_object_or_says_why(value: Any) -> None:
    try:
        decoded = decodeArguments(value)
    except BadInput as e:
        assert str(e).startswith("arguments ")
    else:
        assert isinstance(decoded, dict)


@settings(max_examples=50, deadline=None)
@given(value=st.dictionaries(st.text(max_size=8), JSON, max_size=5))
def test_decode_arguments_round_trips_objects(value: dict[str, Any]) -> None:
    assert decodeArguments(value) is value
    assert decodeArguments(json.dumps(value)) == value
    assert decodeArguments(json.dumps(json.dumps(value))) == value


@settings(max_examples=100, deadline=None)
@given(arguments=JSON | st.text(max_size=40))
def test_invoke_never_raises(arguments: Any) -> None:
    context = FakeContext()
    context.definitions["fs__move_file"]["inputSchema"] = {
        "type": "object",
        "properties": {"source": {"type": "string"}},
        "required": ["source"],
    }
    results: list[dict[str, Any]] = []
    d = makeTools().call("invoke", {"name": "fs__move_file", "arguments": arguments}, context)
    d.addCallback(results.append)
    (result,) = results
    assert isinstance(result["content"][0]["text"], str)
    if result.get("isError"):
        assert context.calls == []
    else:
        ((_name, called),) = context.calls
        assert isinstance(called, dict) and isinstance(called.get("source"), str)


class ShieldTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.threaded: list[Callable[..., Any]] = []

    def runInThread(self, f: Callable[..., Any], *args: Any) -> Deferred[Any]:
        self.threaded.append(f)
        return runNow(f, *args)

    def test_under_budget_or_disabled_is_untouched(self) -> None:
        tools = makeTools(self.runInThread)
        small = {"content": [{"type": "text", "text": "hi"}]}
        self.assertIs(self.successResultOf(tools.shieldResult(small, None, FakeContext())), small)
        off = FakeContext(shieldSpec=ShieldSpec(enabled=False, budget=10))
        big = {"content": [{"type": "text", "text": "x" * 100}]}
        self.assertIs(self.successResultOf(tools.shieldResult(big, None, off)), big)
        self.assertEqual(self.threaded, [])
        self.assertEqual(tools.shielded, 0)

    def test_structured_shrunk_only_while_valid(self) -> None:
        tools = makeTools(self.runInThread)
        items = [{"id": i, "body": "x" * 100} for i in range(200)]
        result = {
            "content": [{"type": "text", "text": json.dumps({"items": items})}],
            "structuredContent": {"items": items},
        }
        loose = {"type": "object", "properties": {"items": {"type": "array"}}}
        strict = {**loose, "properties": {"items": {"type": "array", "minItems": 200}}}
        shrunk = self.successResultOf(tools.shieldResult(result, loose, FakeContext()))
        self.assertLess(len(shrunk["structuredContent"]["items"]), 200)
        kept = self.successResultOf(tools.shieldResult(result, strict, FakeContext()))
        self.assertEqual(kept["structuredContent"], {"items": items})
        self.assertIn("would break the tool's outputSchema", kept["content"][-1]["text"])
        free = self.successResultOf(tools.shieldResult(result, None, FakeContext()))
        self.assertLess(len(free["structuredContent"]["items"]), 200)
        self.assertEqual(tools.shielded, 3)

    def test_large_results_are_copied_and_shrunk_in_threads_and_kept_between(self) -> None:
        tools = makeTools(self.runInThread)
        context = FakeContext()
        text = "y" * (THREAD_BYTES + 10)
        result = {"content": [{"type": "text", "text": text}]}
        held: list[tuple[Deferred[Any], Callable[[], Any]]] = []

        def hold(f: Callable[..., Any], *args: Any) -> Deferred[Any]:
            d: Deferred[Any] = Deferred()
            held.append((d, lambda: f(*args)))
            return d

        tools = GatewayTools(ThreadedSearch(runNow), Schemas(), hold)
        d = tools.shieldResult(result, None, context)
        self.assertNoResult(d)
        self.assertEqual(len(context.store), 0)  # nothing encoded on the calling thread
        (pending, work) = held.pop()
        pending.callback(work())  # the copy, made in a thread
        self.assertEqual(len(context.store), 1)  # kept on the calling thread, then
        self.assertNoResult(d)
        (pending, work) = held.pop()
        pending.callback(work())  # the shrinking, in a thread
        out = self.successResultOf(d)
        self.assertLessEqual(size(out), SHIELD.budget)
        self.assertEqual(result["content"][0]["text"], text)  # the original is untouched

    def test_a_failure_in_the_thread_sends_the_result_whole(self) -> None:
        def broken(f: Callable[..., Any], *args: Any) -> Deferred[Any]:
            return fail(RuntimeError("thread pool stopped"))

        tools = GatewayTools(ThreadedSearch(runNow), Schemas(), broken)
        result = {"content": [{"type": "text", "text": "z" * (THREAD_BYTES + 10)}]}
        self.assertIs(self.successResultOf(tools.shieldResult(result, None, FakeContext())), result)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_too_large_to_keep_is_shrunk_anyway(self) -> None:
        tools = makeTools(self.runInThread)
        context = FakeContext(budget=ResultBudget(maxBytes=1000))
        result = {"content": [{"type": "text", "text": "q" * 20_000}]}
        out = self.successResultOf(tools.shieldResult(result, None, context))
        self.assertLessEqual(size(out), SHIELD.budget)
        self.assertEqual(out["_meta"][META]["ref"], NOT_KEPT)
        self.assertEqual(len(context.store), 0)


class GetResultTests(SynchronousTestCase):
    def keep(self, context: FakeContext, result: dict[str, Any]) -> str:
        shielded = self.successResultOf(makeTools().shieldResult(result, None, context))
        return str(shielded["_meta"][META]["ref"])

    def page(self, context: FakeContext, **args: Any) -> dict[str, Any]:
        tools = makeTools()
        result = self.successResultOf(tools.call("get_result", args, context))
        if result.get("isError") is not True:
            self.assertTrue(matchesOutputSchema(tools, "get_result", result), result)
            self.assertLessEqual(size(result), context.shieldSpec.budget)
        return result

    def test_pages_rebuild_the_whole_text(self) -> None:
        context = FakeContext(shieldSpec=ShieldSpec(enabled=True))  # a 64 KiB budget
        text = "".join(f"{i:06d} ünïcode line\n" for i in range(20_000))
        ref = self.keep(context, {"content": [{"type": "text", "text": text}]})
        pieces, offset, pages = [], 0, 0
        while offset is not None:
            page = structuredOf(self.page(context, ref=ref, offset=offset))
            self.assertEqual(page["path"], "content.0.text")
            pieces.append(page["text"])
            offset = page["next"]
            pages += 1
        self.assertEqual(
            hashlib.sha256("".join(pieces).encode()).hexdigest(),
            hashlib.sha256(text.encode()).hexdigest(),
        )
        self.assertGreater(pages, 1)

    def test_a_page_over_the_budget_is_cut_to_fit(self) -> None:
        context = FakeContext()
        items = [{"id": i, "body": "b" * 300} for i in range(100)]
        ref = self.keep(context, {"content": [], "structuredContent": {"items": items}})
        page = structuredOf(self.page(context, ref=ref, limit=100))
        self.assertEqual(page["path"], "structuredContent.items")
        self.assertLess(page["returned"], 100)
        self.assertEqual(page["items"], items[: page["returned"]])
        self.assertEqual(page["next"], page["returned"])
        rest = structuredOf(self.page(context, ref=ref, offset=page["next"], fields=["id"]))
        self.assertEqual(rest["items"][0], {"id": page["returned"]})
        found = structuredOf(self.page(context, ref=ref, query='"id": 42,'))
        self.assertEqual((found["total"], found["items"]), (1, [items[42]]))

    def test_one_item_over_the_budget_is_shrunk(self) -> None:
        context = FakeContext()
        items = [{"id": 1, "body": "b" * 50_000}, {"id": 2, "body": "c"}]
        ref = self.keep(context, {"content": [], "structuredContent": {"items": items}})
        result = self.page(context, ref=ref, path="structuredContent.items")
        self.assertEqual(result["structuredContent"]["returned"], 1)
        self.assertIn(ref, result["content"][-1]["text"])
        self.assertEqual(len(context.store), 1)  # pages are never kept

    def test_errors(self) -> None:
        context = FakeContext()
        ref = self.keep(context, {"content": [{"type": "text", "text": "x" * 20_000}]})
        self.assertIn("unknown ref", errorOf(self.page(context, ref="r.nothing")))
        self.assertIn(
            f"get_result: {ref}: no 'nope'", errorOf(self.page(context, ref=ref, path="nope"))
        )
        self.assertIn("give either ref", errorOf(self.page(context)))
        self.assertIn("give either ref", errorOf(self.page(context, ref=ref, taskId="t")))
        self.assertIn("offset must be at least 0", errorOf(self.page(context, ref=ref, offset=-1)))
        self.assertIn("limit must be at least 1", errorOf(self.page(context, ref=ref, limit=0)))
        self.assertIn(
            "fields must be an array of strings", errorOf(self.page(context, ref=ref, fields="id"))
        )
        context.store.clear()
        self.assertIn("Call the tool again", errorOf(self.page(context, ref=ref)))

    def test_another_store_never_has_the_ref(self) -> None:
        mine, theirs = FakeContext(), FakeContext()
        ref = self.keep(mine, {"content": [{"type": "text", "text": "x" * 20_000}]})
        self.assertIn("unknown ref", errorOf(self.page(theirs, ref=ref)))


def test_contexts_satisfy_the_protocol() -> None:
    context: ToolContext = FakeContext()
    assert context.servers


class FixtureTests(SynchronousTestCase):
    """The big-result fixture server's tools, shielded in process."""

    def setUp(self) -> None:
        from tests.fixtures import big_result_server

        self.server = big_result_server
        self.schemas: dict[str, Any] = {
            tool["name"]: tool.get("outputSchema") for tool in big_result_server.TOOLS
        }

    def test_results_match_their_output_schemas(self) -> None:
        for name in ("many_records", "exact_records"):
            result = self.server.call(name, {"count": 20})
            self.assertEqual(json.loads(result["content"][0]["text"]), result["structuredContent"])
        result = self.server.call("many_records", {"count": 20})
        self.assertTrue(
            Schemas().structured(self.schemas["many_records"], result["structuredContent"])
        )
        self.assertEqual(len(self.server.bigText(1_000_003)), 1_000_003)
        self.assertTrue(self.server.png(4).startswith(b"\x89PNG\r\n\x1a\n"))

    def test_structured_results_stay_valid_or_whole(self) -> None:
        tools = makeTools()
        for name in ("many_records", "exact_records"):
            context = FakeContext(shieldSpec=ShieldSpec(enabled=True))
            result = self.server.call(name, {"count": 2000})
            out = self.successResultOf(tools.shieldResult(result, self.schemas[name], context))
            structured = out["structuredContent"]
            self.assertTrue(
                structured == result["structuredContent"]
                or Schemas().structured(self.schemas[name], structured),
                name,
            )
            self.assertEqual(len(context.store), 1)

    def test_a_picture_becomes_a_marker(self) -> None:
        context = FakeContext(shieldSpec=ShieldSpec(enabled=True))
        result = self.server.call("picture", {"kbytes": 128})
        out = self.successResultOf(makeTools().shieldResult(result, None, context))
        self.assertIn("[image omitted", out["content"][0]["text"])
        self.assertEqual(out["content"][1], {"type": "text", "text": "A square of noise."})

    def test_many_tools_server_lists_120_tools_or_some_domains(self) -> None:
        from tests.fixtures import many_tools_server

        everything = many_tools_server.definitions([])
        self.assertEqual(len(everything), 120)
        self.assertEqual(len({tool["name"] for tool in everything}), 120)
        for tool in everything:
            schema = tool["inputSchema"]
            self.assertEqual(schema.get("required", []), list(schema["properties"])[:1])
        two = many_tools_server.definitions(["fs", "jira"])
        self.assertEqual(len(two), 20)
        self.assertIn("read_text_file", {tool["name"] for tool in two})


def test_rows_may_be_search_rows() -> None:
    tools = GatewayTools(ThreadedSearch(runNow), Schemas(), runNow)
    tools.rowsChanged(searchtools.rows)
    results: list[dict[str, Any]] = []
    tools.call("search", {"query": "pod logs", "limit": 1}, FakeContext()).addCallback(
        results.append
    )
    assert results[0]["structuredContent"]["results"][0]["name"] == "k8s__kubectl_logs"


def test_a_typed_array_in_structured_content_is_cut() -> None:
    from tests.fixtures import big_result_server

    schema = big_result_server.TOOLS[1]["outputSchema"]
    result = big_result_server.call("many_records", {"count": 2000})
    context = FakeContext(shieldSpec=ShieldSpec(enabled=True))
    out: list[dict[str, Any]] = []
    makeTools().shieldResult(result, schema, context).addCallback(out.append)
    structured = out[0]["structuredContent"]
    assert len(structured["records"]) < 2000
    assert Schemas().structured(schema, structured) is True
    assert size(out[0]) <= context.shieldSpec.budget
