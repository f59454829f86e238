"""What the governance of a server's own endpoint decided is what reaches
the server and the audit trail: a call of a name the server did not list
(another case, an invisible character) is refused with C{-32602} naming it
and never reaches the child, so a policy's C{forbid} cannot be passed by a
spelling the server folds; a request the principal's limits refuse (429) is
recorded as C{limited}, with the limit's reason."""

from __future__ import annotations

from typing import Any

import pytest

from mcpgateway.auth.quota import PrincipalQuota
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.governance.policy import Policy
from mcpgateway.protocol import jsonrpc
from tests.support.web.team_web import TeamHarness

FORBID_SECRET = """
@id("no-secret")
forbid(principal, action, resource is Gateway::Tool) when { resource.name == "secret_tool" };
@id("no-secret-prompt")
forbid(principal, action, resource is Gateway::Prompt) when { resource.name == "secret" };
"""

LISTED_TOOLS = [{"name": "secret_tool", "inputSchema": {"type": "object"}}, {"name": "echo"}]


def request(requestId: int, method: str, name: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": requestId, "method": method, "params": {"name": name}}


def governed() -> tuple[TeamHarness, str]:
    """A team harness with a policy that forbids C{secret_tool} and the
    prompt C{secret}, everything else allowed; a session of alice whose
    child listed its tools and prompts."""
    h = TeamHarness()
    policy = Policy(FORBID_SECRET, "allow")
    h.team.requestPolicy = PolicyGate(lambda: policy, h.reactor)
    sid = h.open("alice")
    for requestId, method, listed in (
        (2, "tools/list", {"tools": LISTED_TOOLS}),
        (3, "prompts/list", {"prompts": [{"name": "secret"}, {"name": "hello"}]}),
    ):
        answer = h.as_("alice", "POST", "/srv/mcp", request(requestId, method, ""), session=sid)
        sent = [m for m in h.process().sentMessages() if m.get("method") == method][-1]
        h.process().reply({"jsonrpc": "2.0", "id": sent["id"], "result": listed})
        assert answer.complete and "result" in answer.json(), answer.body
    return h, sid


def forwarded(h: TeamHarness, method: str) -> list[str]:
    return [m["params"]["name"] for m in h.process().sentMessages() if m.get("method") == method]


@pytest.mark.parametrize(
    ("method", "name", "unknown"),
    [
        ("tools/call", "SECRET_TOOL", "Unknown tool"),
        ("tools/call", "secret\u200btool", "Unknown tool"),
        ("tools/call", "Secret_Tool", "Unknown tool"),
        ("prompts/get", "SECRET", "Unknown prompt"),
    ],
)
def test_a_name_the_server_did_not_list_never_reaches_it(
    method: str, name: str, unknown: str
) -> None:
    h, sid = governed()
    response = h.as_("alice", "POST", "/srv/mcp", request(9, method, name), session=sid)
    assert response.complete and response.status == 200
    error = response.json()["error"]
    assert error == {"code": jsonrpc.INVALID_PARAMS, "message": f"{unknown}: {name}"}
    assert forwarded(h, method) == []


def test_the_listed_spelling_is_decided_and_the_others_served() -> None:
    h, sid = governed()
    refused = h.as_(
        "alice", "POST", "/srv/mcp", request(9, "tools/call", "secret_tool"), session=sid
    )
    assert "no-secret" in refused.json()["error"]["message"]
    served = h.as_("alice", "POST", "/srv/mcp", request(10, "tools/call", "echo"), session=sid)
    assert not served.complete  # forwarded: the child answers it
    assert forwarded(h, "tools/call") == ["echo"]


def test_a_listing_that_changed_is_listed_again_before_names_are_refused() -> None:
    h, sid = governed()
    h.process().reply({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    h.as_("alice", "POST", "/srv/mcp", request(9, "tools/call", "new_tool"), session=sid)
    assert forwarded(h, "tools/call") == ["new_tool"]


@pytest.mark.parametrize(
    ("perSecond", "maxConcurrent", "policy", "reason"),
    [
        (1.0, 0, "principal.rate", "over this caller's rate of requests"),
        (0.0, 1, "principal.concurrency", "over this caller's limit of requests in flight"),
    ],
)
def test_a_request_the_principals_limits_refuse_is_audited_as_limited(
    perSecond: float, maxConcurrent: int, policy: str, reason: str
) -> None:
    h = TeamHarness()
    quota = PrincipalQuota(h.reactor, maxConcurrent, perSecond, burst=2.0)
    h.team.quota = quota
    sid = h.open("alice")
    h.as_("alice", "POST", "/srv/mcp", request(2, "tools/call", "echo"), session=sid)
    refused = h.as_("alice", "POST", "/srv/mcp", request(3, "tools/call", "echo"), session=sid)
    assert refused.status == 429
    record = h.audit.records[-1]
    assert (record.outcome, record.status) == ("refused", 429)
    line = record.line()
    assert line["decision"] == "limited"
    assert line["policies"] == [policy]
    assert reason in line["reason"]
    assert line["retryAfter"] >= 1


def listingFirst() -> tuple[TeamHarness, str]:
    """A team harness whose names are decided before their calls (a policy
    forbidding C{secret_tool}), and a session of alice that never listed."""
    h = TeamHarness()
    policy = Policy(FORBID_SECRET, "allow")
    h.team.requestPolicy = PolicyGate(lambda: policy, h.reactor)
    h.gateway.pools["srv"].listFirst = lambda: True
    return h, h.open("alice")


def gatewayListings(h: TeamHarness, method: str = "tools/list") -> list[dict[str, Any]]:
    """The listings the gateway itself sent the child (no client asked)."""
    return [m for m in h.process().sentMessages() if m.get("method") == method]


def test_a_call_before_any_listing_waits_for_the_gateways_own_listing() -> None:
    h, sid = listingFirst()
    before = len(gatewayListings(h))
    response = h.as_(
        "alice", "POST", "/srv/mcp", request(9, "tools/call", "SECRET_TOOL"), session=sid
    )
    assert not response.complete  # waiting for the listing, not forwarded
    assert forwarded(h, "tools/call") == []
    [listing] = gatewayListings(h)[before:]
    h.process().reply({"jsonrpc": "2.0", "id": listing["id"], "result": {"tools": LISTED_TOOLS}})
    assert response.complete
    error = response.json()["error"]
    assert error == {"code": jsonrpc.INVALID_PARAMS, "message": "Unknown tool: SECRET_TOOL"}
    assert forwarded(h, "tools/call") == []
    served = h.as_("alice", "POST", "/srv/mcp", request(10, "tools/call", "echo"), session=sid)
    assert not served.complete and forwarded(h, "tools/call") == ["echo"]
    assert len(gatewayListings(h)) == before + 1  # listed once, then known


def test_every_page_is_followed_and_one_listing_serves_every_waiting_call() -> None:
    h, sid = listingFirst()
    before = len(gatewayListings(h, "prompts/list"))
    first = h.as_("alice", "POST", "/srv/mcp", request(9, "prompts/get", "SECRET"), session=sid)
    second = h.as_("alice", "POST", "/srv/mcp", request(10, "prompts/get", "hello"), session=sid)
    [page1] = gatewayListings(h, "prompts/list")[before:]
    assert "params" not in page1 or "cursor" not in page1["params"]
    h.process().reply(
        {
            "jsonrpc": "2.0",
            "id": page1["id"],
            "result": {"prompts": [{"name": "secret"}], "nextCursor": "p2"},
        }
    )
    assert not first.complete and not second.complete
    page2 = gatewayListings(h, "prompts/list")[-1]
    assert page2["params"] == {"cursor": "p2"}
    h.process().reply(
        {"jsonrpc": "2.0", "id": page2["id"], "result": {"prompts": [{"name": "hello"}]}}
    )
    assert first.json()["error"]["message"] == "Unknown prompt: SECRET"
    assert not second.complete and forwarded(h, "prompts/get") == ["hello"]


def test_a_child_that_cannot_list_is_listed_once_and_its_calls_go_as_sent() -> None:
    h, sid = listingFirst()
    before = len(gatewayListings(h))
    h.as_("alice", "POST", "/srv/mcp", request(9, "tools/call", "Echo"), session=sid)
    [listing] = gatewayListings(h)[before:]
    h.process().reply(
        {"jsonrpc": "2.0", "id": listing["id"], "error": {"code": -32603, "message": "down"}}
    )
    assert forwarded(h, "tools/call") == ["Echo"]
    h.as_("alice", "POST", "/srv/mcp", request(10, "tools/call", "Echo"), session=sid)
    assert forwarded(h, "tools/call") == ["Echo", "Echo"]
    assert len(gatewayListings(h)) == before + 1  # not again until the list changes


def test_a_changed_list_is_listed_again_before_the_next_call() -> None:
    h, sid = listingFirst()
    h.as_("alice", "POST", "/srv/mcp", request(9, "tools/call", "echo"), session=sid)
    h.process().reply(
        {"jsonrpc": "2.0", "id": gatewayListings(h)[-1]["id"], "result": {"tools": LISTED_TOOLS}}
    )
    h.process().reply({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    count = len(gatewayListings(h))
    waiting = h.as_("alice", "POST", "/srv/mcp", request(10, "tools/call", "new_tool"), session=sid)
    assert len(gatewayListings(h)) == count + 1 and not waiting.complete
    h.process().reply(
        {"jsonrpc": "2.0", "id": gatewayListings(h)[-1]["id"], "result": {"tools": LISTED_TOOLS}}
    )
    assert waiting.json()["error"]["message"] == "Unknown tool: new_tool"


def test_a_gateway_that_decides_no_name_forwards_a_first_call_as_sent() -> None:
    h = TeamHarness()
    sid = h.open("alice")
    before = len(gatewayListings(h))
    h.as_("alice", "POST", "/srv/mcp", request(9, "tools/call", "SECRET_TOOL"), session=sid)
    assert forwarded(h, "tools/call") == ["SECRET_TOOL"]
    assert len(gatewayListings(h)) == before
