"""The policy on the aggregate endpoints (L{mcpgateway.governance.policymembers},
L{mcpgateway.core.aggregate.memberpolicy}): a request to C{/mcp} or
C{/mcp/search} is decided as the member request it resolves to, so a tool
forbidden on its own server is neither listed, found, described nor
callable through the aggregate, under C{--policy-default allow} too, for
both protocol revisions; and it is audited and logged as that member
request: a refusal, a hidden name's too (answered as an unknown one),
is recorded as denied by the policies that decided, its resource the
member's server and own name."""

from __future__ import annotations

import json
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.era2026 import AggregateEra2026
from mcpgateway.core.aggregate.memberpolicy import Asker, MemberCall
from mcpgateway.core.decision import Decision
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.governance.policy import Policy
from mcpgateway.governance.policymembers import PolicyMembers
from mcpgateway.web.app import makeSite
from mcpgateway.web.teamcluster import TeamServices
from tests.fakes import RecordingSink, capturedGatewayLogs
from tests.support.core.aggregate.era2026 import era2026
from tests.support.web.aggregate_era2026 import AggregateEra2026Harness
from tests.support.web.aggregate_web import AggregateHarness, fresh, messagesOf
from tests.support.web.fakeera2026 import body, headersFor
from tests.support.web.team_web import INITIALIZE, FakeGate, FakeQuota, RecordingAudit

RULES = """
@id("no-echo-on-alpha")
forbid(principal, action == Gateway::Action::"tools/call", resource)
when { resource.server == "alpha" && resource.name == "echo" };
@id("public-reads-only")
forbid(principal, action == Gateway::Action::"tools/call", resource)
when {
  resource.name == "read_file" &&
  !(context.arguments has path && context.arguments.path like "/data/public/*")
};
"""


def governed(agg: AggregateHarness) -> PolicyGate:
    policy = Policy(RULES, "allow")
    gate = PolicyGate(lambda: policy, agg.harness.reactor)
    agg.gateway.aggregateSide.aggregator.memberPolicy = PolicyMembers(gate, agg.gateway.pools)
    return gate


def sentCalls(agg: AggregateHarness) -> list[tuple[str, Any]]:
    return [
        (server, m["params"]["name"])
        for server, m in agg.children.seen
        if m.get("method") == "tools/call"
    ]


class SessionTests(SynchronousTestCase):
    """2025 sessions of C{/mcp} and C{/mcp/search}."""

    def setUp(self) -> None:
        self.agg = AggregateHarness(fresh())
        self.gate = governed(self.agg)

    def test_a_forbidden_member_tool_is_not_listed_and_is_unknown(self) -> None:
        session = self.agg.open()
        listed = self.agg.call(session, "tools/list", {})
        names = [t["name"] for t in listed["result"]["tools"]]
        self.assertEqual(names, ["alpha__read_file", "beta__echo"])
        refused = self.agg.call(session, "tools/call", {"name": "alpha__echo", "arguments": {}})
        unknown = self.agg.call(session, "tools/call", {"name": "gamma__echo", "arguments": {}})
        self.assertEqual(refused["error"]["code"], unknown["error"]["code"])
        self.assertEqual(refused["error"]["message"], "Unknown tool: alpha__echo")
        allowed = self.agg.call(
            session, "tools/call", {"name": "beta__echo", "arguments": {}}, requestId=8
        )
        self.assertIn("result", allowed)
        self.assertEqual(sentCalls(self.agg), [("beta", "echo")])

    def test_a_member_call_is_decided_with_its_arguments(self) -> None:
        session = self.agg.open()
        outside = {"name": "alpha__read_file", "arguments": {"path": "/etc/passwd"}}
        refused = self.agg.call(session, "tools/call", outside)
        self.assertEqual(refused["error"]["code"], -32602)
        self.assertIn("public-reads-only", refused["error"]["message"])
        self.assertNotIn("forbid", refused["error"]["message"])
        task = {**outside, "task": {"ttl": 60000}}
        self.assertEqual(self.agg.call(session, "tools/call", task, 8)["error"]["code"], -32602)
        inside = {"name": "alpha__read_file", "arguments": {"path": "/data/public/a"}}
        self.assertIn("result", self.agg.call(session, "tools/call", inside, 9))
        self.assertEqual(sentCalls(self.agg), [("alpha", "read_file")])
        self.assertEqual(self.gate.refused, 2)

    def test_search_describe_and_invoke_leave_out_what_may_not_be_called(self) -> None:
        session = self.agg.open("/mcp/search")

        def tool(name: str, arguments: dict[str, Any], requestId: int) -> dict[str, Any]:
            return self.agg.call(
                session,
                "tools/call",
                {"name": name, "arguments": arguments},
                requestId,
                path="/mcp/search",
            )

        found = tool("search", {"query": "echo"}, 2)["result"]["structuredContent"]["results"]
        self.assertNotIn("alpha__echo", [row["name"] for row in found])
        hidden = tool("describe", {"name": "alpha__echo"}, 3)
        unknown = tool("describe", {"name": "gamma__echo"}, 4)
        self.assertEqual(
            json.dumps(hidden["result"]).replace("alpha__echo", "X"),
            json.dumps(unknown["result"]).replace("gamma__echo", "X"),
        )
        invoked = tool("invoke", {"name": "alpha__echo", "arguments": {}}, 5)
        self.assertIn("no tool named", json.dumps(invoked))
        outside = tool(
            "invoke", {"name": "alpha__read_file", "arguments": {"path": "/etc/passwd"}}, 6
        )
        self.assertIn("public-reads-only", json.dumps(outside))
        inside = tool(
            "invoke", {"name": "alpha__read_file", "arguments": {"path": "/data/public/a"}}, 7
        )
        self.assertIn("alpha:read_file", json.dumps(inside))
        self.assertEqual(sentCalls(self.agg), [("alpha", "read_file")])


class Era2026Tests(SynchronousTestCase):
    """2026-07-28 requests of C{/mcp}: the asker the web gives each request."""

    def setUp(self) -> None:
        self.agg = AggregateEra2026Harness(fresh())
        governed(self.agg)
        self.service = AggregateEra2026(self.agg.gateway)

    def ask(self, requestId: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request = era2026(requestId, method, params, asker=Asker(None, "127.0.0.1"))
        answered = self.service.era2026Call("/mcp", request, RecordingSink())
        self.agg.children.pump()
        return self.successResultOf(answered)

    def test_a_forbidden_member_tool_is_neither_listed_nor_callable(self) -> None:
        listed = self.ask(1, "tools/list", {})
        names = [t["name"] for t in listed["result"]["tools"]]
        self.assertEqual(names, ["alpha__read_file", "beta__echo"])
        refused = self.ask(2, "tools/call", {"name": "alpha__echo", "arguments": {}})
        self.assertEqual(refused["error"], {"code": -32602, "message": "Unknown tool: alpha__echo"})
        outside = self.ask(
            3, "tools/call", {"name": "alpha__read_file", "arguments": {"path": "/etc"}}
        )
        self.assertIn("public-reads-only", outside["error"]["message"])
        self.assertEqual(self.agg.sent("tools/call"), [])


class AuditedTests(SynchronousTestCase):
    """A team gateway's audit log and log of the aggregate's member
    requests: bob's, through the real site."""

    def setUp(self) -> None:
        self.agg = AggregateEra2026Harness(fresh())
        self.gate = governed(self.agg)
        self.audit = RecordingAudit()
        team = TeamServices(FakeGate(), FakeQuota(), self.audit)
        h = self.agg.harness
        h.site = makeSite(h.gateway, h.reactor, team=team)

    def open(self, path: str = "/mcp") -> str:
        opened = self.agg.harness.request("POST", path, INITIALIZE, headers=BOB)
        self.agg.children.pump()
        return str(opened.headers["mcp-session-id"])

    def call(
        self, session: str, name: str, arguments: dict[str, Any], path: str = "/mcp"
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Bob's call of C{name} in C{session}: its answer, and its audit line."""
        message = {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
        headers = {**BOB, "mcp-protocol-version": "2025-11-25"}
        response = self.agg.harness.request("POST", path, message, session=session, headers=headers)
        self.agg.children.pump()
        [answer] = [m for m in messagesOf(response) if m.get("id") == 5]
        return answer, self.audit.records[-1].line()

    def test_a_hidden_tools_call_is_audited_and_logged_as_its_members_refusal(self) -> None:
        session = self.open()
        with capturedGatewayLogs() as events:
            answer, line = self.call(session, "alpha__echo", {"text": "hi"})
        self.assertEqual(answer["error"], {"code": -32602, "message": "Unknown tool: alpha__echo"})
        self.assertEqual(
            (line["decision"], line["policies"], line["resource"]),
            ("denied", ["no-echo-on-alpha"], {"server": "alpha", "tool": "echo"}),
        )
        self.assertEqual((line["server"], line["tool"]), ("/mcp", "alpha__echo"))
        said = [e for e in events if e.get("policyRefused") == "tools/call"]
        self.assertEqual(
            [(e["server"], e["name"], e["policies"]) for e in said],
            [("alpha", "echo", "no-echo-on-alpha")],
        )
        self.assertIn("through the aggregate", said[0]["log_format"])
        self.assertEqual(self.gate.refused, 1)
        self.assertEqual(sentCalls(self.agg), [])

    def test_a_refused_and_an_allowed_call_name_their_member(self) -> None:
        session = self.open()
        answer, line = self.call(session, "alpha__read_file", {"path": "/etc/passwd"})
        self.assertIn("public-reads-only", answer["error"]["message"])
        self.assertEqual(
            (line["decision"], line["policies"], line["resource"]),
            ("denied", ["public-reads-only"], {"server": "alpha", "tool": "read_file"}),
        )
        answer, line = self.call(session, "beta__echo", {})
        self.assertIn("result", answer)
        self.assertEqual(
            (line["decision"], line["policies"], line["resource"]),
            ("allowed", [], {"server": "beta", "tool": "echo"}),
        )
        self.assertEqual(unknownTool(self, session), ("allowed", {"server": "/mcp", "tool": "x"}))

    def test_invoke_of_a_hidden_tool_is_audited_as_that_tools_refusal(self) -> None:
        session = self.open("/mcp/search")
        invoke = {"name": "alpha__echo", "arguments": json.dumps({"text": "hi"})}
        answer, line = self.call(session, "invoke", invoke, path="/mcp/search")
        self.assertIn("no tool named", json.dumps(answer))
        self.assertEqual(
            (line["decision"], line["policies"], line["resource"], line["tool"]),
            ("denied", ["no-echo-on-alpha"], {"server": "alpha", "tool": "echo"}, "invoke"),
        )
        self.assertEqual(sentCalls(self.agg), [])

    def test_a_2026_request_of_a_hidden_tool_is_audited_as_its_refusal(self) -> None:
        call = body("tools/call", 2, {"name": "alpha__echo", "arguments": {}})
        called = self.agg.harness.request("POST", "/mcp", call, headers={**headersFor(call), **BOB})
        self.agg.children.pump()
        self.assertEqual(called.json()["error"]["message"], "Unknown tool: alpha__echo")
        line = self.audit.records[-1].line()
        self.assertEqual(
            (line["decision"], line["policies"], line["resource"]),
            ("denied", ["no-echo-on-alpha"], {"server": "alpha", "tool": "echo"}),
        )


BOB = {"authorization": "Bearer bob"}


def unknownTool(case: AuditedTests, session: str) -> tuple[str, dict[str, Any]]:
    """The decision and resource of the audit line of a call of a name no
    member serves: nothing was decided, nothing resolved."""
    answer, line = case.call(session, "x", {})
    case.assertEqual(answer["error"]["message"], "Unknown tool: x")
    return line["decision"], line["resource"]


class NotedTests(SynchronousTestCase):
    """The decision of each member request, noted where its request's
    audit record is made (L{Asker.audit})."""

    def test_what_each_member_request_resolved_to_is_noted(self) -> None:
        agg = AggregateEra2026Harness(fresh())
        governed(agg)
        service = AggregateEra2026(agg.gateway)
        noted: list[tuple[MemberCall, Decision]] = []
        asker = Asker(None, "127.0.0.1", lambda call, decision: noted.append((call, decision)))
        for requestId, name in enumerate(["alpha__echo", "beta__echo", "gamma__echo"]):
            request = era2026(requestId, "tools/call", {"name": name, "arguments": {}}, asker=asker)
            service.era2026Call("/mcp", request, RecordingSink())
            agg.children.pump()
        seen = [(c.server, c.name, d.outcome, d.policies) for c, d in noted]
        self.assertEqual(
            seen,
            [("alpha", "echo", "denied", ("no-echo-on-alpha",)), ("beta", "echo", "allowed", ())],
        )
        self.assertEqual(Asker(None, "x", lambda call, decision: None), Asker(None, "x"))


class UngovernedTests(SynchronousTestCase):
    def test_without_a_policy_the_aggregate_is_unchanged(self) -> None:
        agg = AggregateHarness(fresh())
        session = agg.open()
        listed = agg.call(session, "tools/list", {})
        names = [t["name"] for t in listed["result"]["tools"]]
        self.assertEqual(names, ["alpha__echo", "alpha__read_file", "beta__echo"])
        self.assertIsNone(agg.gateway.aggregateSide.aggregator.memberPolicy)
