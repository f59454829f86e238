"""The aggregate endpoint C{/mcp} end to end over a real Site with fake
children: one client session over every server, namespaced names routed
back to their owner, each child's requests answered by the session that
caused them and by no other, list changes told, the mode and the routes."""

from __future__ import annotations

import json
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.session import AggregateSession, MemberSession
from mcpgateway.protocol import jsonrpc
from tests.core.aggregate.aggtools import FakeServer, tool
from tests.support.web.aggregate_search import searchedNames
from tests.support.web.aggregate_web import (
    VERSION,
    AggregateHarness,
    fresh,
    initialize,
    messagesOf,
    serverSpec,
)


def echoCall(requestId: int, tool: str) -> dict[str, Any]:
    """A tools/call of C{tool} without arguments."""
    return jsonrpc.request(requestId, "tools/call", {"name": tool, "arguments": {}})


SAMPLED = {"role": "assistant", "content": {"type": "text", "text": "x"}, "model": "m"}
"""A client's answer to a sampling request."""


def samplingFor(callId: Any) -> dict[str, Any]:
    """A child's sampling request C{s1} made for its call C{callId}."""
    return jsonrpc.request(
        "s1",
        "sampling/createMessage",
        {"messages": [], "maxTokens": 5, "_meta": {"mcpgateway/relatedRequestId": callId}},
    )


class ListAndCallTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.agg = AggregateHarness(fresh())

    def test_initialize_answers_as_one_server(self) -> None:
        response = self.agg.harness.request("POST", "/mcp", initialize())
        self.agg.children.pump()
        body = response.json()
        self.assertEqual(body["result"]["serverInfo"]["name"], "mcpgateway")
        self.assertEqual(body["result"]["protocolVersion"], VERSION)
        self.assertTrue(body["result"]["capabilities"]["tools"]["listChanged"])
        session = self.agg.gateway.sessions.get(response.headers["mcp-session-id"])
        self.assertIsInstance(session, AggregateSession)
        self.assertEqual(session.server, "/mcp")

    def test_tools_list_merges_every_server_namespaced(self) -> None:
        session = self.agg.open()
        answer = self.agg.call(session, "tools/list", {})
        names = [t["name"] for t in answer["result"]["tools"]]
        self.assertEqual(names, ["alpha__echo", "alpha__read_file", "beta__echo"])
        described = {t["name"]: t for t in answer["result"]["tools"]}
        self.assertEqual(described["alpha__read_file"]["description"], "Read a file.")

    def test_call_reaches_the_owner_under_its_own_name(self) -> None:
        session = self.agg.open()
        answer = self.agg.call(
            session, "tools/call", {"name": "beta__echo", "arguments": {"x": "1"}}
        )
        self.assertEqual(answer["result"]["content"][0]["text"], "beta:echo:{'x': '1'}")
        answer = self.agg.call(
            session, "tools/call", {"name": "alpha__echo", "arguments": {}}, requestId=8
        )
        self.assertEqual(answer["result"]["content"][0]["text"], "alpha:echo:{}")

    def test_unknown_tool_is_invalid_params(self) -> None:
        session = self.agg.open()
        answer = self.agg.call(session, "tools/call", {"name": "gamma__echo", "arguments": {}})
        self.assertEqual(answer["error"]["code"], -32602)
        self.assertIn("Unknown tool", answer["error"]["message"])

    def test_prompts_are_namespaced_and_routed(self) -> None:
        session = self.agg.open()
        listed = self.agg.call(session, "prompts/list", {})
        self.assertEqual([p["name"] for p in listed["result"]["prompts"]], ["alpha__greet"])
        got = self.agg.call(session, "prompts/get", {"name": "alpha__greet"})
        self.assertEqual(got["result"]["messages"][0]["content"]["text"], "alpha")
        sent = [m for s, m in self.agg.children.seen if m.get("method") == "prompts/get"]
        self.assertEqual(sent[-1]["params"]["name"], "greet")

    def test_resources_keep_their_uri_and_go_to_their_owner(self) -> None:
        session = self.agg.open()
        listed = self.agg.call(session, "resources/list", {})
        self.assertEqual(
            sorted(r["uri"] for r in listed["result"]["resources"]),
            ["file:///a.txt", "file:///b.txt"],
        )
        read = self.agg.call(session, "resources/read", {"uri": "file:///b.txt"})
        self.assertEqual(read["result"]["contents"][0]["text"], "beta:file:///b.txt")
        templated = self.agg.call(session, "resources/read", {"uri": "alpha://42"})
        self.assertEqual(templated["result"]["contents"][0]["text"], "alpha:alpha://42")

    def test_a_uri_nobody_lists_is_refused_not_guessed(self) -> None:
        session = self.agg.open()
        answer = self.agg.call(session, "resources/read", {"uri": "file:///c.txt"})
        self.assertEqual(answer["error"]["code"], -32602)
        self.assertIn("no server", answer["error"]["message"])

    def test_a_uri_two_servers_list_is_refused(self) -> None:
        servers = fresh()
        servers["beta"].resources.append({"uri": "file:///a.txt", "name": "dup"})
        agg = AggregateHarness(servers)
        session = agg.open()
        answer = agg.call(session, "resources/read", {"uri": "file:///a.txt"})
        self.assertEqual(answer["error"]["code"], -32602)
        self.assertIn("more than one server", answer["error"]["message"])

    def test_members_open_lazily_one_per_server(self) -> None:
        session = self.agg.open()
        aggregate = self.agg.gateway.sessions.get(session)
        self.assertEqual(aggregate.members, {})
        self.agg.call(session, "tools/list", {})
        self.assertEqual(aggregate.members, {})
        self.agg.call(session, "tools/call", {"name": "beta__echo", "arguments": {}})
        self.agg.call(session, "tools/call", {"name": "beta__echo", "arguments": {}}, requestId=9)
        self.assertEqual(sorted(aggregate.members), ["beta"])
        self.assertIsInstance(aggregate.members["beta"], MemberSession)
        self.assertIsNone(self.agg.gateway.sessions.get(aggregate.members["beta"].id))

    def test_the_counted_status_adds_up_to_its_rows(self) -> None:
        """C{/health}'s snapshot counts the sessions without a row each: the
        same total, and the same aggregate members per server, as the rows."""
        first, second = self.agg.open(), self.agg.open()
        for session in (first, second):
            self.agg.call(session, "tools/call", {"name": "beta__echo", "arguments": {}})
        self.agg.call(first, "tools/call", {"name": "alpha__echo", "arguments": {}}, requestId=9)
        gateway = self.agg.gateway
        rows, counted = gateway.readModel.status(), gateway.readModel.status(rows=False)
        self.assertEqual(counted.sessions, ())
        self.assertEqual(counted.sessionCount, rows.sessionCount)
        self.assertEqual(counted.sessionCount, len(rows.sessions))
        self.assertEqual(counted.memberSessions(), rows.memberSessions())
        self.assertEqual(counted.memberSessions(), {"alpha": 1, "beta": 2})
        self.assertEqual(counted.visitingCount, 0)

    def test_a_session_of_mcp_is_not_found_on_a_server_endpoint(self) -> None:
        session = self.agg.open()
        response = self.agg.post(
            session,
            {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}},
            path="/alpha/mcp",
        )
        self.assertEqual(response.status, 404)
        direct = self.agg.harness.initialize("alpha", answerChild=False)
        self.agg.children.pump()
        response = self.agg.post(
            direct, {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}}
        )
        self.assertEqual(response.status, 404)

    def test_delete_ends_the_members(self) -> None:
        session = self.agg.open()
        self.agg.call(session, "tools/call", {"name": "alpha__echo", "arguments": {}})
        aggregate = self.agg.gateway.sessions.get(session)
        member = aggregate.members["alpha"]
        response = self.agg.harness.request(
            "DELETE", "/mcp", session=session, headers={"mcp-protocol-version": VERSION}
        )
        self.assertEqual(response.status, 200)
        self.assertIsNone(self.agg.gateway.sessions.get(session))
        self.assertEqual(aggregate.members, {})
        self.assertIsNone(self.agg.gateway.pools["alpha"].upstreamFor(member) if False else None)

    def test_unknown_endpoint_is_404(self) -> None:
        response = self.agg.harness.request("POST", "/mcp/nope", initialize())
        self.assertEqual(response.status, 404)
        response = self.agg.harness.request("POST", "/mcp/a/b", initialize())
        self.assertEqual(response.status, 404)
        response = self.agg.harness.request("POST", "/mcp~nokey", initialize())
        self.assertEqual(response.status, 404)


class ChildRequestTests(SynchronousTestCase):
    """Sampling and elicitation from two members reach the one session that
    called, and each answer reaches the child that asked."""

    def setUp(self) -> None:
        servers = fresh()
        servers["alpha"].hold = True
        servers["beta"].hold = True
        self.agg = AggregateHarness(servers)

    def test_two_members_asking_request_one_get_distinct_ids(self) -> None:
        session = self.agg.open(capabilities={"sampling": {}})
        getStream = self.agg.get(session)
        first = self.agg.post(
            session,
            echoCall(10, "alpha__echo"),
        )
        second = self.agg.post(
            session,
            echoCall(11, "beta__echo"),
        )
        self.assertEqual(len(self.agg.children.held), 2)
        asked = {}
        for proc, call in self.agg.children.held:
            server = self.agg.children.serverOf(proc)
            proc.reply(samplingFor(call["id"]))
            asked[server] = proc
        requests = [
            m
            for r in (first, second)
            for m in messagesOf(r)
            if m.get("method") == "sampling/createMessage"
        ]
        self.assertEqual(len(requests), 2)
        ids = [m["id"] for m in requests]
        self.assertEqual(len(set(ids)), 2)
        # Answer them crosswise: each answer still reaches the child that asked.
        for message, server in zip(requests, ["alpha", "beta"], strict=True):
            del server
            self.agg.post(
                session,
                {
                    "jsonrpc": "2.0",
                    "id": message["id"],
                    "result": {
                        "role": "assistant",
                        "content": {"type": "text", "text": f"answer-{message['id']}"},
                        "model": "m",
                    },
                },
            )
        for server, proc in asked.items():
            answers = [m for m in proc.sentMessages() if m.get("id") == "s1" and "result" in m]
            self.assertEqual(len(answers), 1, server)
        del getStream

    def test_an_answer_from_another_aggregate_session_is_dropped(self) -> None:
        mine = self.agg.open(capabilities={"sampling": {}})
        theirs = self.agg.open(capabilities={"sampling": {}})
        call = self.agg.post(
            mine,
            echoCall(10, "alpha__echo"),
        )
        proc, held = self.agg.children.held[0]
        proc.reply(samplingFor(held["id"]))
        asked = [m for m in messagesOf(call) if m.get("method") == "sampling/createMessage"]
        self.assertEqual(len(asked), 1)
        before = len(proc.sentMessages())
        response = self.agg.post(
            theirs,
            jsonrpc.resultResponse(asked[0]["id"], SAMPLED),
        )
        self.assertEqual(response.status, 202)
        self.assertEqual(len(proc.sentMessages()), before)
        self.agg.post(
            mine,
            jsonrpc.resultResponse(asked[0]["id"], SAMPLED),
        )
        self.assertEqual(len([m for m in proc.sentMessages() if m.get("id") == "s1"]), 1)

    def test_cancel_reaches_the_member_the_call_went_to(self) -> None:
        session = self.agg.open()
        self.agg.post(
            session,
            echoCall(10, "beta__echo"),
        )
        proc, held = self.agg.children.held[0]
        self.assertEqual(self.agg.children.serverOf(proc), "beta")
        self.agg.post(
            session,
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 10}},
        )
        cancels = [m for m in proc.sentMessages() if m.get("method") == "notifications/cancelled"]
        self.assertEqual([c["params"]["requestId"] for c in cancels], [held["id"]])
        alpha = [
            p
            for p in self.agg.harness.reactor.processes
            if self.agg.children.serverOf(p) == "alpha"
        ]
        for other in alpha:
            self.assertFalse(
                [m for m in other.sentMessages() if m.get("method") == "notifications/cancelled"]
            )

    def test_progress_reaches_the_caller_with_its_token(self) -> None:
        session = self.agg.open()
        call = self.agg.post(
            session,
            {
                "jsonrpc": "2.0",
                "id": 10,
                "method": "tools/call",
                "params": {
                    "name": "alpha__echo",
                    "arguments": {},
                    "_meta": {"progressToken": "mine"},
                },
            },
        )
        proc, held = self.agg.children.held[0]
        token = held["params"]["_meta"]["progressToken"]
        proc.reply(
            {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": token, "progress": 1},
            }
        )
        proc.reply({"jsonrpc": "2.0", "id": held["id"], "result": {"content": []}})
        messages = messagesOf(call)
        progress = [m for m in messages if m.get("method") == "notifications/progress"]
        self.assertEqual([p["params"]["progressToken"] for p in progress], ["mine"])
        self.assertEqual(messages[-1]["id"], 10)


class ListChangedTests(SynchronousTestCase):
    def test_a_server_added_is_told_and_callable(self) -> None:
        servers = fresh()
        servers["gamma"] = FakeServer(tools=[tool("ping_me")])
        agg = AggregateHarness({k: v for k, v in servers.items() if k != "gamma"})
        agg.children.servers["gamma"] = servers["gamma"]
        session = agg.open()
        stream = agg.get(session)
        agg.call(session, "tools/list", {})
        specs = {name: pool.spec for name, pool in agg.gateway.pools.items()}
        specs["gamma"] = serverSpec("gamma")
        agg.gateway.reconfigurer.reconfigure(specs)
        agg.harness.reactor.advance(0.3)
        agg.children.pump()
        # The new server's catalog is probed, then the session is told, once.
        agg.harness.reactor.advance(0.3)
        told = [
            e for e in messagesOf(stream) if e.get("method") == "notifications/tools/list_changed"
        ]
        self.assertEqual(len(told), 1)
        listed = agg.call(session, "tools/list", {}, requestId=20)
        self.assertIn("gamma__ping_me", [t["name"] for t in listed["result"]["tools"]])
        answer = agg.call(
            session, "tools/call", {"name": "gamma__ping_me", "arguments": {}}, requestId=21
        )
        self.assertEqual(answer["result"]["content"][0]["text"], "gamma:ping_me:{}")

    def test_a_server_removed_is_told(self) -> None:
        agg = AggregateHarness(fresh())
        session = agg.open()
        stream = agg.get(session)
        agg.call(session, "tools/list", {})
        specs = {name: pool.spec for name, pool in agg.gateway.pools.items() if name != "beta"}
        agg.gateway.reconfigurer.reconfigure(specs)
        agg.harness.reactor.advance(0.3)
        told = [
            e for e in messagesOf(stream) if e.get("method") == "notifications/tools/list_changed"
        ]
        self.assertEqual(len(told), 1)
        listed = agg.call(session, "tools/list", {}, requestId=20)
        self.assertEqual(
            [t["name"] for t in listed["result"]["tools"]], ["alpha__echo", "alpha__read_file"]
        )

    def test_nothing_changed_says_nothing(self) -> None:
        agg = AggregateHarness(fresh())
        session = agg.open()
        stream = agg.get(session)
        agg.call(session, "tools/list", {})
        agg.gateway.aggregateSide.aggregator.membersChanged()
        agg.harness.reactor.advance(0.3)
        self.assertEqual(
            [e for e in messagesOf(stream) if "list_changed" in str(e.get("method"))], []
        )


class SearchModeTests(SynchronousTestCase):
    """C{?mode=search} and C{/mcp/search}: the gateway's four tools instead
    of every schema, reaching every member's tools."""

    def setUp(self) -> None:
        servers = fresh()
        servers["beta"].tools.append(
            tool("create_entities", "Create entities in the knowledge graph.", names="names")
        )
        self.agg = AggregateHarness(servers)

    def listed(self, path: str) -> list[str]:
        session = self.agg.open(path)
        answer = self.agg.call(session, "tools/list", {}, path=path.split("?")[0])
        return [t["name"] for t in answer["result"]["tools"]]

    def test_mode_search_lists_the_gateway_tools(self) -> None:
        self.assertEqual(
            self.listed("/mcp?mode=search"), ["search", "describe", "invoke", "get_result"]
        )
        self.assertEqual(self.listed("/mcp/search"), ["search", "describe", "invoke", "get_result"])

    def test_mode_full_on_the_search_endpoint_lists_every_tool(self) -> None:
        self.assertIn("beta__create_entities", self.listed("/mcp/search?mode=full"))

    def test_search_describe_invoke(self) -> None:
        session = self.agg.open("/mcp?mode=search")
        found = self.agg.call(
            session,
            "tools/call",
            {"name": "search", "arguments": {"query": "knowledge graph entities"}},
        )
        results = found["result"]["structuredContent"]["results"]
        self.assertEqual(results[0]["name"], "beta__create_entities")
        described = self.agg.call(
            session,
            "tools/call",
            {"name": "describe", "arguments": {"name": "beta__create_entities"}},
            8,
        )
        self.assertIn("names", json.dumps(described["result"]["structuredContent"]))
        invoked = self.agg.call(
            session,
            "tools/call",
            {
                "name": "invoke",
                "arguments": {"name": "beta__create_entities", "arguments": {"names": "x"}},
            },
            9,
        )
        self.assertIn("beta:create_entities:{'names': 'x'}", json.dumps(invoked["result"]))
        sent = [m for s, m in self.agg.children.seen if m.get("method") == "tools/call"]
        self.assertEqual(sent[-1]["params"]["name"], "create_entities")

    def test_invoke_with_bad_arguments_is_an_error_result_naming_them(self) -> None:
        servers = fresh()
        strict = tool("strict")
        strict["inputSchema"]["required"] = ["path"]
        servers["alpha"].tools.append(strict)
        agg = AggregateHarness(servers)
        session = agg.open("/mcp?mode=search")
        answer = agg.call(
            session,
            "tools/call",
            {"name": "invoke", "arguments": {"name": "alpha__strict", "arguments": {}}},
        )
        self.assertTrue(answer["result"]["isError"])
        self.assertIn("path", json.dumps(answer["result"]["content"]))
        self.assertFalse([m for s, m in agg.children.seen if m.get("method") == "tools/call"])


class ShieldTests(SynchronousTestCase):
    def test_a_large_result_is_shrunk_and_paged_back_by_its_own_session_only(self) -> None:
        servers = fresh()
        agg = AggregateHarness(servers)
        big = "x" * 200_000
        session = agg.open("/mcp/search")
        other = agg.open("/mcp/search")
        # The child answers one call with a large text.
        servers["alpha"].hold = True
        call = agg.post(
            session,
            {
                "jsonrpc": "2.0",
                "id": 30,
                "method": "tools/call",
                "params": {"name": "invoke", "arguments": {"name": "alpha__echo", "arguments": {}}},
            },
            path="/mcp/search",
        )
        proc, held = agg.children.held[0]
        proc.reply(
            {
                "jsonrpc": "2.0",
                "id": held["id"],
                "result": {"content": [{"type": "text", "text": big}]},
            }
        )
        (answer,) = [m for m in messagesOf(call) if m.get("id") == 30]
        self.assertLessEqual(len(json.dumps(answer["result"])), 65536)
        shielded = answer["result"]["_meta"]["mcpgateway/shielded"]
        servers["alpha"].hold = False
        page = agg.call(
            session,
            "tools/call",
            {"name": "get_result", "arguments": {"ref": "nope"}},
            31,
            path="/mcp/search",
        )
        self.assertTrue(page["result"]["isError"])
        aggregate = agg.gateway.sessions.get(session)
        self.assertIsNotNone(aggregate.results)
        ref = shielded["ref"]
        self.assertIn(ref, list(aggregate.results._entries))
        whole = ""
        offset = 0
        while True:
            got = agg.call(
                session,
                "tools/call",
                {
                    "name": "get_result",
                    "arguments": {"ref": ref, "offset": offset, "limit": 50_000},
                },
                32 + offset,
                path="/mcp/search",
            )
            data = got["result"]["structuredContent"]
            whole += data["text"]
            if data["next"] is None:
                break
            offset = data["next"]
        self.assertEqual(whole, big)
        theirs = agg.call(
            other,
            "tools/call",
            {"name": "get_result", "arguments": {"ref": ref}},
            99,
            path="/mcp/search",
        )
        self.assertTrue(theirs["result"]["isError"])


class RestoreTests(SynchronousTestCase):
    def test_an_aggregate_session_outlives_the_process(self) -> None:
        agg = AggregateHarness(fresh())
        session = agg.open("/mcp?mode=search")
        aggregate = agg.gateway.sessions.get(session)
        record = aggregate.record()
        from mcpgateway.ops.sessionstore import encode, parse

        (back,) = parse(encode([record]))
        restored = AggregateSession.fromRecord(back)
        self.assertEqual(
            (restored.endpoint, restored.mode, restored.server), ("default", "search", "/mcp")
        )
        self.assertEqual(restored.id, session)
        self.assertTrue(restored.restored)


class HealthTests(SynchronousTestCase):
    def test_health_shows_the_aggregate_and_the_catalogs(self) -> None:
        agg = AggregateHarness(fresh())
        session = agg.open()
        agg.call(session, "tools/call", {"name": "alpha__echo", "arguments": {}})
        body = agg.harness.request("GET", "/health").json()
        line = body["aggregate"]
        self.assertEqual((line["sessions"], line["members"]), (1, 1))
        self.assertEqual(line["catalogs"]["alpha"]["tools"], 2)
        self.assertEqual(line["catalogs"]["beta"]["source"], "probe")
        rows = agg.harness.request("GET", "/sessions").json()["sessions"]
        (row,) = [r for r in rows if r["server"] == "/mcp"]
        self.assertEqual((row["mode"], row["members"]), ("aggregate", ["alpha"]))


class InstructionsTests(SynchronousTestCase):
    def test_full_mode_gives_the_members_instructions_search_mode_does_not(self) -> None:
        agg = AggregateHarness(fresh())
        original = agg.children._answer

        def withInstructions(proc: Any, message: dict[str, Any]) -> None:
            if message.get("method") == "initialize" and agg.children.serverOf(proc) == "beta":
                proc.reply(
                    jsonrpc.resultResponse(
                        message["id"],
                        {
                            "protocolVersion": VERSION,
                            "capabilities": {"tools": {}},
                            "serverInfo": {"name": "beta", "version": "1"},
                            "instructions": "Call beta__echo before anything else.",
                        },
                    )
                )
                agg.children.seen.append(("beta", message))
                return
            original(proc, message)

        agg.children._answer = withInstructions  # type: ignore[method-assign]
        response = agg.harness.request("POST", "/mcp", initialize())
        agg.children.pump()
        text = response.json()["result"]["instructions"]
        self.assertIn("## beta\nCall beta__echo before anything else.", text)
        self.assertIn("alpha (2)", text)
        response = agg.harness.request("POST", "/mcp/search", initialize())
        agg.children.pump()
        self.assertNotIn("beta__echo before", response.json()["result"]["instructions"])


class EdgePathTests(SynchronousTestCase):
    """Paths off the common one: a member that cannot open, a URI that a
    server's own resource and another's template both match, the names of
    search hits, the shield budget in search mode."""

    def test_a_member_that_cannot_open_leaves_no_child(self) -> None:
        servers = fresh()
        agg = AggregateHarness(servers, modes={"beta": "stateful"})
        session = agg.open()
        original = agg.children._answer

        def refuse(proc: Any, message: dict[str, Any]) -> None:
            if message.get("method") == "initialize" and agg.children.serverOf(proc) == "beta":
                proc.reply(jsonrpc.errorResponse(message["id"], -32600, "no"))
                return
            original(proc, message)

        agg.children._answer = refuse  # type: ignore[method-assign]
        for n in range(3):
            answer = agg.call(
                session, "tools/call", {"name": "beta__echo", "arguments": {}}, 40 + n
            )
            self.assertEqual(answer["error"]["code"], -32000)
        beta = [p for p in agg.harness.reactor.processes if agg.children.serverOf(p) == "beta"]
        self.assertTrue(beta)
        self.assertTrue(all(p.stdinClosed for p in beta))  # every one is being stopped
        aggregate = agg.gateway.sessions.get(session)
        self.assertEqual(aggregate.members, {})

    def test_a_uri_a_server_returned_is_its_own_before_any_template(self) -> None:
        servers = fresh()
        servers["beta"].templates.append({"uriTemplate": "file:///{+path}", "name": "any"})
        servers["alpha"].tools.append(tool("report"))
        agg = AggregateHarness(servers)
        session = agg.open()
        aggregate = agg.gateway.sessions.get(session)
        aggregate.learn(
            "alpha",
            {"content": [{"type": "resource_link", "uri": "file:///tmp/r.csv", "name": "r"}]},
        )
        read = agg.call(session, "resources/read", {"uri": "file:///tmp/r.csv"})
        self.assertEqual(read["result"]["contents"][0]["text"], "alpha:file:///tmp/r.csv")
        # A URI nobody returned still goes to the template's server.
        read = agg.call(session, "resources/read", {"uri": "file:///etc/x"}, 8)
        self.assertEqual(read["result"]["contents"][0]["text"], "beta:file:///etc/x")

    def test_search_names_hits_as_the_endpoint_names_them(self) -> None:
        from mcpgateway.core.aggregate.types import EndpointSpec, NameSettings, ShieldSpec

        servers = fresh()
        servers["beta"].tools.append(tool("create_entities", "Create entities in the graph."))
        agg = AggregateHarness(servers)
        agg.gateway.aggregateSide.aggregator.useEndpoints(
            {
                "bare": EndpointSpec(
                    name="bare", mode="search", namespace="never", shield=ShieldSpec(enabled=True)
                )
            },
            NameSettings(),
        )
        names = searchedNames(agg, "/mcp/bare", "create entities graph")
        self.assertEqual(names[0], "create_entities")

    def test_mode_search_keeps_the_endpoints_shield_budget(self) -> None:
        from mcpgateway.core.aggregate.calls import withMode as _withMode
        from mcpgateway.core.aggregate.types import EndpointSpec, ShieldSpec

        spec = EndpointSpec(shield=ShieldSpec(enabled=False, budget=32768, maxItems=20))
        searching = _withMode(spec, "search")
        self.assertEqual(
            (searching.shield.enabled, searching.shield.budget, searching.shield.maxItems),
            (True, 32768, 20),
        )
        kept = _withMode(
            EndpointSpec(name="s", mode="search", shield=ShieldSpec(enabled=True)), "full"
        )
        self.assertTrue(kept.shield.enabled)
