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

SERVED: dict[str, Any] = {"tools": {}, "prompts": {}}
"""What the child of these tests declares it serves."""

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
    sid = h.open("alice", capabilities=SERVED)
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


def listingFirst(capabilities: Any = SERVED) -> tuple[TeamHarness, str]:
    """A team harness whose names are decided before their calls (a policy
    forbidding C{secret_tool}), and a session of alice that never listed;
    its child declares C{capabilities}."""
    h = TeamHarness()
    policy = Policy(FORBID_SECRET, "allow")
    h.team.requestPolicy = PolicyGate(lambda: policy, h.reactor)
    h.gateway.pools["srv"].namesDecided = True
    return h, h.open("alice", capabilities=capabilities)


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


LISTING_FAILURES = [
    pytest.param(
        {"error": {"code": -32603, "message": "database down"}},
        "its tools/list failed with error -32603: database down",
        id="errs",
    ),
    pytest.param(None, "its tools/list timed out", id="hangs"),
    pytest.param({"result": {"tools": "secret_tool"}}, "no list of tools", id="malformed"),
]


def failedListing(answer: dict[str, Any] | None) -> tuple[TeamHarness, str, Any]:
    """A session of alice whose call of C{SECRET_TOOL} waited for the
    gateway's own listing, which the child answered with C{answer}
    (C{None}: never, past the request timeout): the call's response."""
    h, sid = listingFirst()
    before = len(gatewayListings(h))
    waiting = h.as_(
        "alice", "POST", "/srv/mcp", request(9, "tools/call", "SECRET_TOOL"), session=sid
    )
    [listing] = gatewayListings(h)[before:]
    assert not waiting.complete
    if answer is None:
        h.reactor.advance(60.0)  # the server's request timeout
    else:
        h.process().reply({"jsonrpc": "2.0", "id": listing["id"], **answer})
    assert waiting.complete
    return h, sid, waiting


@pytest.mark.parametrize(("answer", "why"), LISTING_FAILURES)
def test_a_listing_that_fails_refuses_the_names_it_cannot_vouch_for(
    answer: dict[str, Any] | None, why: str
) -> None:
    """The policy forbids C{secret_tool}; the server folds case. Its listing
    failing, C{SECRET_TOOL} is refused, saying why, rather than forwarded."""
    h, _, refused = failedListing(answer)
    error = refused.events()[-1]["error"]  # after a hang, the answer of a stream
    assert error["code"] == jsonrpc.SERVER_UNAVAILABLE
    assert error["message"].startswith("tools/call of 'SECRET_TOOL' refused: server 'srv'")
    assert why in error["message"]
    assert "lists them again at the first call after 1 s" in error["message"]
    assert forwarded(h, "tools/call") == []
    record = h.audit.records[-1]
    assert record.outcome == "error"


@pytest.mark.parametrize(("answer", "why"), LISTING_FAILURES)
def test_a_server_whose_listing_failed_is_listed_again_and_served(
    answer: dict[str, Any] | None, why: str
) -> None:
    """Not silently unusable: within the wait a call is refused at once;
    after it, the next call lists the child again, and a whole listing
    serves the names it gave (and refuses the others as unknown)."""
    h, sid, _ = failedListing(answer)
    count = len(gatewayListings(h))
    again = h.as_("alice", "POST", "/srv/mcp", request(10, "tools/call", "echo"), session=sid)
    assert why in again.json()["error"]["message"]
    assert len(gatewayListings(h)) == count  # not listed again within the wait
    h.reactor.advance(1.0)
    served = h.as_("alice", "POST", "/srv/mcp", request(11, "tools/call", "echo"), session=sid)
    [listing] = gatewayListings(h)[count:]
    h.process().reply({"jsonrpc": "2.0", "id": listing["id"], "result": {"tools": LISTED_TOOLS}})
    assert not served.complete and forwarded(h, "tools/call") == ["echo"]
    unknown = h.as_(
        "alice", "POST", "/srv/mcp", request(12, "tools/call", "SECRET_TOOL"), session=sid
    )
    assert unknown.json()["error"]["message"] == "Unknown tool: SECRET_TOOL"


def test_a_prompt_of_a_server_that_declares_no_prompts_never_reaches_it() -> None:
    h, sid = listingFirst(capabilities={"tools": {}})
    before = len(gatewayListings(h, "prompts/list"))
    response = h.as_("alice", "POST", "/srv/mcp", request(9, "prompts/get", "SECRET"), session=sid)
    assert response.json()["error"] == {
        "code": jsonrpc.METHOD_NOT_FOUND,
        "message": "Method not found: prompts/get (server 'srv' does not declare the prompts"
        " capability)",
    }
    assert forwarded(h, "prompts/get") == []
    assert len(gatewayListings(h, "prompts/list")) == before  # nothing to list


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
