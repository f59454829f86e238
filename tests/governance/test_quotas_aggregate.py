"""Rate limits through the aggregate endpoint C{/mcp}: a call is counted
against the member server it reaches and that server's own name for the
tool (a server entry's C{limits} apply there as on C{/<server>/mcp}), the
gateway's C{invoke} counts as the tool it names, and the gateway's other
tools count as the endpoint's. Over a real Site with fake children, both
protocol revisions."""

from __future__ import annotations

from typing import Any, cast

from twisted.web.iweb import IRequest

from mcpgateway.config.quotas import NO_QUOTAS, QuotaSet, parseQuotas
from mcpgateway.governance.quotagate import QuotaGate, healthSection
from mcpgateway.web.endpoints.aggregate import AggregatePath
from mcpgateway.web.plumbing.requestcontext import contextOf
from mcpgateway.web.root import GatewayRoot
from tests.core.aggregate.aggtools import FakeServer, tool
from tests.http import Response
from tests.support.web.aggregate_era2026 import AggregateEra2026Harness
from tests.support.web.aggregate_web import TWO, AggregateHarness
from tests.support.web.contextrequest import ContextRequest

ALPHA_TOOL = {"tool": {"calls": "1/min", "burst": 1}}


def withLimits(h: AggregateHarness, own: dict[str, dict[str, Any]]) -> QuotaGate:
    """Give C{h}'s gateway the call limits of the server entries C{own}."""

    def serverQuotas(server: str) -> QuotaSet:
        return parseQuotas(own[server]) if server in own else NO_QUOTAS

    gate = QuotaGate(h.harness.reactor, serverQuotas=serverQuotas)
    root = h.harness.site.resource
    assert isinstance(root, GatewayRoot)
    root.team.callQuotas = gate
    return gate


def call(
    h: AggregateHarness, session: str, name: str, requestId: int, path: str = "/mcp"
) -> Response:
    message = {
        "jsonrpc": "2.0",
        "id": requestId,
        "method": "tools/call",
        "params": {"name": name, "arguments": {}},
    }
    return h.post(session, message, path)


def test_a_member_servers_own_limits_apply_through_the_aggregate() -> None:
    h = AggregateHarness(dict(TWO))
    gate = withLimits(h, {"alpha": ALPHA_TOOL})
    session = h.open()
    assert call(h, session, "alpha__echo", 2).status == 200
    refused = call(h, session, "alpha__echo", 3)
    assert refused.status == 429
    error = refused.json()["error"]
    assert error["code"] == -32023
    assert error["data"]["limit"] == "mcpServers.alpha.limits.tool"
    assert error["data"]["scope"] == "tool"
    # Another tool of that server, and the same name on another server: their own buckets.
    assert call(h, session, "alpha__read_file", 4).status == 200
    assert call(h, session, "beta__echo", 5).status == 200
    section = healthSection(gate)
    assert section is not None
    assert [row["server"] for row in section["recentlyRefused"]] == ["alpha"]


def test_invoke_counts_as_the_tool_it_names() -> None:
    h = AggregateHarness(dict(TWO))
    withLimits(h, {"alpha": ALPHA_TOOL})
    full = h.open()
    assert call(h, full, "alpha__echo", 2).status == 200
    search = h.open("/mcp/search")
    invoke = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "invoke", "arguments": {"name": "alpha__echo", "arguments": {}}},
    }
    refused = h.post(search, invoke, "/mcp/search")
    assert refused.status == 429
    assert refused.json()["error"]["data"]["limit"] == "mcpServers.alpha.limits.tool"
    # The gateway's own search is no member's call: alpha's limit is not asked.
    searching = {
        "jsonrpc": "2.0",
        "id": 4,
        "method": "tools/call",
        "params": {"name": "search", "arguments": {"query": "echo"}},
    }
    assert h.post(search, searching, "/mcp/search").status == 200


def test_prompts_and_resources_count_against_their_member() -> None:
    h = AggregateHarness(dict(TWO))
    withLimits(h, {"alpha": {"server": {"calls": "1/min", "burst": 1}}})
    session = h.open()
    prompt = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "prompts/get",
        "params": {"name": "alpha__greet"},
    }
    assert h.post(session, prompt).status == 200
    read = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "resources/read",
        "params": {"uri": "file:///a.txt"},
    }
    refused = h.post(session, read)
    assert refused.status == 429
    assert refused.json()["error"]["data"]["limit"] == "mcpServers.alpha.limits.server"
    other = dict(read, id=4, params={"uri": "file:///b.txt"})
    assert h.post(session, other).status == 200


def test_another_principals_session_is_not_read() -> None:
    """A session id that is not the caller's own resolves nothing: the call
    is keyed by the endpoint (and refused further on, as it always was)."""
    h = AggregateHarness(dict(TWO))
    session = h.open()
    root = h.harness.site.resource
    assert isinstance(root, GatewayRoot)
    endpoint = root._aggregate(AggregatePath("default", ""))
    assert endpoint is not None
    dummy = ContextRequest([b"mcp"])
    dummy.requestHeaders.setRawHeaders(b"mcp-session-id", [session.encode()])
    request = cast(IRequest, dummy)
    message = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "alpha__echo"}}
    assert endpoint.callTarget(request, message) == ("alpha", "echo")
    contextOf(request).principal = Caller("key-mallory")
    assert endpoint.callTarget(request, message) is None
    assert endpoint.callTarget(request, {"method": "tools/call", "params": 3}) is None


class Caller:
    def __init__(self, key: str) -> None:
        self.key = key


def test_a_2026_call_through_the_aggregate_counts_against_its_member() -> None:
    h = AggregateEra2026Harness(
        {"alpha": FakeServer(tools=[tool("echo")]), "beta": FakeServer(tools=[tool("echo")])}
    )
    withLimits(h, {"alpha": ALPHA_TOOL})
    assert h.era2026("tools/list").status == 200
    h.children.pump()
    first = h.era2026("tools/call", 2, {"name": "alpha__echo", "arguments": {}})
    h.children.pump()
    assert first.status == 200, first.body
    refused = h.era2026("tools/call", 3, {"name": "alpha__echo", "arguments": {}})
    assert refused.status == 429
    assert refused.json()["error"]["data"]["limit"] == "mcpServers.alpha.limits.tool"
    assert h.era2026("tools/call", 4, {"name": "beta__echo", "arguments": {}}).status != 429
