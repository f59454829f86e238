"""The C{cacheScope} of what the gateway answers a 2026-07-28 client: a
server's own C{private} is kept whatever the gateway would say of it, and
with a policy (which screens listings per caller and decides who may read)
every cacheable answer is C{private}, on a server's endpoint and on
C{/mcp}. A real Site, fake children."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.core.cachehints import perCaller
from mcpgateway.core.decision import ALLOWED, Decision
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.governance.policy import RequestFacts
from mcpgateway.protocol import era2026form
from mcpgateway.web.root import GatewayRoot
from tests.core.aggregate.aggtools import FakeServer, tool
from tests.support.core.aggregate.aggregate_cachescope import _Hinted
from tests.support.web.aggregate_era2026 import AggregateEra2026Harness


class EveryonePolicy:
    """A policy that lets everyone see and call everything, except the tool
    C{hidden} (which it hides from every listing)."""

    def decide(self, facts: RequestFacts) -> Decision:
        return ALLOWED

    def visible(self, facts: RequestFacts) -> bool:
        return facts.name != "hidden"


def harness(hints: dict[str, Any] | None = None, policy: bool = False) -> AggregateEra2026Harness:
    h = AggregateEra2026Harness(
        {
            "alpha": FakeServer(
                tools=[tool("echo"), tool("hidden")],
                resources=[{"uri": "file:///a.txt", "name": "a"}],
            )
        }
    )
    h.children = _Hinted(h.harness.reactor, h.children.servers, hints={"alpha": hints or {}})
    if policy:
        root = h.harness.site.resource
        assert isinstance(root, GatewayRoot)
        root.team.requestPolicy = PolicyGate(EveryonePolicy, h.harness.reactor)  # type: ignore[arg-type]
    return h


def listed(h: AggregateEra2026Harness, path: str, method: str = "tools/list") -> dict[str, Any]:
    params = {"uri": "file:///a.txt"} if method == "resources/read" else None
    response = h.era2026(method, params=params, path=path)
    assert response.status == 200, response.body
    result: dict[str, Any] = response.json()["result"]
    return result


def test_a_shared_servers_list_is_public_without_a_policy() -> None:
    h = harness()
    assert listed(h, "/alpha/mcp")["cacheScope"] == "public"
    assert listed(h, "/mcp")["cacheScope"] == "public"


def test_a_servers_own_private_is_kept() -> None:
    h = harness({"cacheScope": "private"})
    result = listed(h, "/alpha/mcp")
    assert result["cacheScope"] == "private"
    assert result["ttlMs"] == 0


def test_with_a_policy_every_cacheable_answer_is_private() -> None:
    h = harness(policy=True)
    direct = listed(h, "/alpha/mcp")
    assert direct["cacheScope"] == "private"
    assert [t["name"] for t in direct["tools"]] == ["echo"]  # screened
    assert listed(h, "/mcp")["cacheScope"] == "private"
    assert listed(h, "/alpha/mcp", "resources/list")["cacheScope"] == "private"
    assert listed(h, "/alpha/mcp", "resources/read")["cacheScope"] == "private"
    assert (
        "cacheScope"
        not in h.era2026("tools/call", 3, {"name": "echo"}, path="/alpha/mcp").json()["result"]
    )


def test_per_caller_marks_only_cache_hints() -> None:
    public: dict[str, Any] = {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"tools": [], "cacheScope": "public"},
    }
    assert perCaller(public)["result"]["cacheScope"] == "private"
    assert public["result"]["cacheScope"] == "public"  # a copy
    for unchanged in (
        {"jsonrpc": "2.0", "id": 1, "result": {"content": []}},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "no"}},
        {"jsonrpc": "2.0", "id": 1, "result": {"cacheScope": "private", "ttlMs": 5}},
    ):
        assert perCaller(unchanged) is unchanged


@given(st.sampled_from(sorted(era2026form.CACHEABLE)), st.sampled_from(["public", "private"]))
def test_the_childs_private_wins_over_the_gateways_public(method: str, child: str) -> None:
    done = era2026form.completeResult(method, {"cacheScope": child}, None, "public")
    assert done["cacheScope"] == child
    assert (
        era2026form.completeResult(method, {"cacheScope": child}, None, "private")["cacheScope"]
        == "private"
    )
