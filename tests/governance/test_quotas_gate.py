"""The rate limits in front of the MCP endpoints (L{mcpgateway.governance.quotagate}),
through the real site with fake children: a call over a limit is HTTP 429
with C{Retry-After} and a C{-32023} error naming the wait, never reaches a
child, and goes through once the wait is over."""

from __future__ import annotations

from typing import Any

from mcpgateway.governance.quotagate import factsOf, forGateway
from tests.support.governance.quota_gate import limited, passed, toolCall
from tests.support.web.api import initializeBody
from tests.support.web.team_web import TeamHarness


def test_a_call_over_the_limit_is_429_with_the_wait() -> None:
    h = limited({"principal": {"calls": "30/min", "burst": 1}})
    sid = h.open("alice")
    first = h.as_("alice", "POST", "/srv/mcp", toolCall(2), session=sid)
    assert passed(first)
    forwarded = len(h.reactor.processes[0].written)
    second = h.as_("alice", "POST", "/srv/mcp", toolCall(3), session=sid)
    assert second.status == 429
    assert second.transport.value().startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert second.headers["retry-after"] == "2"
    error = second.json()["error"]
    assert second.json()["id"] == 3
    assert error["code"] == -32023
    assert error["data"] == {
        "retryAfterMs": 2000,
        "limit": "limits.principal",
        "scope": "principal",
    }
    assert len(h.reactor.processes[0].written) == forwarded  # nothing reached the child
    record = h.audit.records[-1]
    assert (record.outcome, record.status) == ("refused", 429)
    # another principal has its own bucket; lists and pings are free
    bob = h.open("bob")
    assert passed(h.as_("bob", "POST", "/srv/mcp", toolCall(2), session=bob))
    listing = {"jsonrpc": "2.0", "id": 9, "method": "tools/list"}
    assert passed(h.as_("alice", "POST", "/srv/mcp", listing, session=sid))
    h.reactor.advance(2.0)
    assert passed(h.as_("alice", "POST", "/srv/mcp", toolCall(4), session=sid))


def test_a_batch_is_refused_at_its_first_call_over() -> None:
    h = limited({"tool": {"calls": "1/s", "burst": 1}})
    batch = [toolCall(1, "a"), toolCall(2, "a")]
    h.open("alice")
    gate = h.team.callQuotas
    assert gate is not None
    refused = gate.decide(batch, "key-alice", "srv")
    assert refused is not None and refused[1] == 2


def test_what_counts() -> None:
    assert factsOf(toolCall(1), "p", "s") is not None
    retry = factsOf(toolCall(1, requestState="abc"), "p", "s")
    assert retry is not None and retry.continued
    read = {"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": "file:///x"}}
    facts = factsOf(read, "p", "s")
    assert facts is not None and facts.name == "file:///x"
    for method in ("tasks/get", "tools/list", "ping"):
        assert (
            factsOf({"jsonrpc": "2.0", "id": 1, "method": method, "params": {}}, "p", "s") is None
        )
    assert (
        factsOf({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "x"}}, "p", "s")
        is None
    )
    assert (
        factsOf({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": 3}, "p", "s") is None
    )
    assert factsOf([], "p", "s") is None


def test_a_server_entry_limits_its_calls() -> None:
    h = TeamHarness()
    h.gateway.pools["srv"].spec = h.gateway.pools["srv"].spec.__class__(
        **{**vars_of(h.gateway.pools["srv"].spec), "limits": '{"server":{"burst":1,"calls":"1/h"}}'}
    )
    h.team.callQuotas = forGateway(h.reactor, h.gateway, lambda: "")
    sid = h.open("alice")
    assert passed(h.as_("alice", "POST", "/srv/mcp", toolCall(2), session=sid))
    refused = h.as_("alice", "POST", "/srv/mcp", toolCall(3), session=sid)
    assert refused.status == 429 and refused.headers["retry-after"] == "3600"
    assert refused.json()["error"]["data"]["limit"] == "mcpServers.srv.limits.server"
    other = h.open("alice", "other")
    assert passed(h.as_("alice", "POST", "/other/mcp", toolCall(2), session=other))


def vars_of(spec: Any) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}


def test_metrics_count_refusals_by_scope() -> None:
    h = limited({"principal": {"daily": 1}})
    sid = h.open("alice")
    h.as_("alice", "POST", "/srv/mcp", toolCall(2), session=sid)
    assert h.as_("alice", "POST", "/srv/mcp", toolCall(3), session=sid).status == 429
    body = h.as_("root", "GET", "/metrics").body.decode()
    assert 'mcpgateway_limit_refused_total{scope="daily"} 1\n' in body
    assert 'mcpgateway_limit_refused_total{scope="principal"} 0\n' in body


def test_health_shows_refusals_and_what_is_left_to_admins_only() -> None:
    h = limited({"principal": {"calls": "1/s", "burst": 2}})
    assert "limits" in h.as_("root", "GET", "/health").json()  # configured: shown, all zero
    sid = h.open("alice")
    for n in range(3):
        h.as_("alice", "POST", "/srv/mcp", toolCall(n + 2), session=sid)
    section = h.as_("root", "GET", "/health").json()["limits"]
    assert section["refused"]["principal"] == 1
    assert section["recentlyRefused"] == [
        {"principal": "key-alice", "server": "srv", "refused": 1, "remaining": {"principal": 0}}
    ]
    assert "limits" not in h.request("GET", "/health").json()


def test_health_says_nothing_of_limits_when_none_are_configured() -> None:
    h = limited({})
    assert "limits" not in h.as_("root", "GET", "/health").json()


def test_a_gateway_that_sets_no_limits_decides_no_call_of_a_servers_endpoint() -> None:
    """Nothing to decide: no limit applies, so a server's endpoint does not
    ask the gate (nor count the call) until the config sets one."""
    h = TeamHarness()
    gatewayLimits = [""]
    gate = forGateway(h.reactor, h.gateway, lambda: gatewayLimits[0])
    h.team.callQuotas = gate
    decided: list[Any] = []
    decide = gate.decide

    def recorded(payload: Any, *args: Any, **kw: Any) -> Any:
        decided.append(payload)
        return decide(payload, *args, **kw)

    gate.decide = recorded  # type: ignore[method-assign]
    sid = h.open("alice")
    assert gate.unlimited("srv")
    assert passed(h.as_("alice", "POST", "/srv/mcp", toolCall(2), session=sid))
    assert decided == []
    gatewayLimits[0] = '{"principal":{"burst":1,"calls":"1/h"}}'  # a reload sets one
    assert not gate.unlimited("srv")
    assert passed(h.as_("alice", "POST", "/srv/mcp", toolCall(3), session=sid))
    refused = h.as_("alice", "POST", "/srv/mcp", toolCall(4), session=sid)
    assert refused.status == 429
    assert [call["id"] for call in decided] == [3, 4]


def test_a_server_entrys_limits_make_it_limited() -> None:
    h = TeamHarness()
    gate = forGateway(h.reactor, h.gateway, lambda: "")
    assert gate.unlimited("srv") and gate.unlimited("not-configured")
    h.gateway.pools["srv"].spec = h.gateway.pools["srv"].spec.__class__(
        **{**vars_of(h.gateway.pools["srv"].spec), "limits": '{"server":{"burst":1,"calls":"1/h"}}'}
    )
    assert not gate.unlimited("srv")
    assert gate.unlimited("other")


def test_a_batch_refused_whole_answers_each_of_its_requests() -> None:
    """JSON-RPC 2.0 answers a batch with an array: the call over the limit
    gets its error, each other request an error saying it did not run."""
    h = limited({"tool": {"calls": "1/s", "burst": 1}})
    response = h.as_("alice", "POST", "/srv/mcp", initializeBody({}, version="2025-03-26"))
    if not response.complete:
        h.answerHandshake()
    sid = response.headers["mcp-session-id"]
    batch = [toolCall(1, "a"), {"jsonrpc": "2.0", "method": "notifications/x"}, toolCall(2, "a")]
    response = h.as_("alice", "POST", "/srv/mcp", batch, session=sid)
    assert response.status == 429
    first, second = response.json()
    assert (first["id"], second["id"]) == (1, 2)
    assert second["error"]["code"] == -32023 and "retryAfterMs" in second["error"]["data"]
    assert first["error"]["code"] == -32023 and "not run: request 2" in first["error"]["message"]
