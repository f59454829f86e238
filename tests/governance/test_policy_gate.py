"""The policy in front of the MCP endpoints (L{mcpgateway.governance.gate},
L{mcpgateway.web.endpoints.policystep}), through the real site with fake children: a
call the policy refuses is one C{-32602} error naming the policy and never
reaches the child; a listing shows only what the caller may call; the
policy file reloads and keeps its last good policy."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from twisted.internet.task import Clock

from mcpgateway.flow.held import HeldCalls
from mcpgateway.flow.rule import FlowSettings
from mcpgateway.flow.step import FlowStep
from mcpgateway.governance.flowpolicy import wireFlowPolicy
from mcpgateway.governance.gate import PolicyGate, RequestGate, Where, factsOf
from mcpgateway.governance.policy import Caller, Policy, TargetServer
from mcpgateway.governance.policyfile import PolicyFile
from tests.support.governance.policy import ASK_AFTER_UNTRUSTED, TEAM
from tests.support.web.mcp import childRequests
from tests.support.web.team_web import PRINCIPALS, TeamHarness

FILES_TEAM = TEAM.replace('resource.server == "files"', 'resource.server == "srv"')


def toolCall(requestId: int, name: str, **arguments: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": requestId,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def governed(monkeypatch: Any) -> TeamHarness:
    monkeypatch.setitem(
        PRINCIPALS, "alice", replace(PRINCIPALS["alice"], groups=frozenset({"analysts"}))
    )
    monkeypatch.setitem(
        PRINCIPALS, "root", replace(PRINCIPALS["root"], groups=frozenset({"admins"}))
    )
    h = TeamHarness()
    policy = Policy(FILES_TEAM)
    h.team.requestPolicy = PolicyGate(lambda: policy, h.reactor)
    return h


def test_a_refused_call_never_reaches_the_child(monkeypatch: Any) -> None:
    h = governed(monkeypatch)
    sid = h.open("alice")
    refused = h.as_("alice", "POST", "/srv/mcp", toolCall(2, "write_file"), session=sid)
    assert refused.status == 200
    error = refused.json()["error"]
    assert refused.json()["id"] == 2
    assert error["code"] == -32602
    assert error["data"] == {"policies": ["default-deny"]}
    outside = h.as_("alice", "POST", "/srv/mcp", toolCall(3, "read_file", path="/etc"), session=sid)
    assert outside.json()["error"]["code"] == -32602
    assert childRequests(h) == []
    record = h.audit.records[-1]
    assert record.outcome == "refused"
    allowed = toolCall(4, "read_file", path="/data/public/x")
    h.as_("alice", "POST", "/srv/mcp", allowed, session=sid)
    assert [m["params"]["name"] for m in childRequests(h)] == ["read_file"]
    root = h.open("root")
    h.as_("root", "POST", "/srv/mcp", toolCall(5, "write_file"), session=root)
    assert len(childRequests(h)) == 2


def test_a_listing_shows_only_what_may_be_called(monkeypatch: Any) -> None:
    h = governed(monkeypatch)
    sid = h.open("alice")
    listing = h.as_(
        "alice",
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 7, "method": "tools/list"},
        session=sid,
    )
    [sent] = childRequests(h, "tools/list")
    tools = [{"name": n, "inputSchema": {"type": "object"}} for n in ("read_file", "write_file")]
    h.process().reply({"jsonrpc": "2.0", "id": sent["id"], "result": {"tools": tools}})
    assert [t["name"] for t in listing.json()["result"]["tools"]] == ["read_file"]


def test_a_batch_and_a_2026_request_are_decided() -> None:
    policy = Policy(FILES_TEAM)
    gate = PolicyGate(lambda: policy, Clock())
    where = Where(TargetServer("srv"))
    batch = [{"jsonrpc": "2.0", "method": "notifications/x"}, toolCall(1, "a"), toolCall(2, "b")]
    refused = gate.decide(batch, PRINCIPALS["bob"], where)
    assert refused is not None and refused[1] == 1
    era2026 = toolCall(3, "read_file", path="/data/public/a")
    era2026["params"]["_meta"] = {"io.modelcontextprotocol/clientInfo": {"name": "cli"}}
    analyst = replace(PRINCIPALS["bob"], groups=frozenset({"analysts"}))
    assert gate.decide(era2026, analyst, where) is None
    facts = factsOf(era2026, Caller("bob"), where, 0.0)
    assert facts is not None and facts.client == "cli"
    task = toolCall(4, "write_file")
    task["params"]["task"] = {"ttl": 1000}
    assert gate.decide(task, analyst, where) is not None
    read = {"jsonrpc": "2.0", "id": 5, "method": "resources/read", "params": {"uri": "file:///x"}}
    facts = factsOf(read, Caller(), where, 0.0)
    assert facts is not None and facts.name == "file:///x"
    assert factsOf({"jsonrpc": "2.0", "id": 6, "method": "ping"}, Caller(), where, 0.0) is None


def test_no_policy_loaded_refuses_everything() -> None:
    gate = PolicyGate(lambda: None, Clock())
    refused = gate.decide(toolCall(1, "x"), None, Where(TargetServer("srv")))
    assert refused is not None and refused[0].policies == ("no-policy",)
    assert (
        RequestGate(gate, None).decide(toolCall(1, "x"), None, Where(TargetServer("s")), "")[1] == 1
    )
    assert (
        RequestGate(None, None)
        .decide(toolCall(1, "x"), None, Where(TargetServer("s")), "")[0]
        .allowed
    )


def test_the_policy_file_reloads_and_keeps_the_last_good(tmp_path: Path) -> None:
    path = tmp_path / "policy.cedar"
    path.write_text('@id("all") permit(principal, action, resource);')
    clock = Clock()
    watched = PolicyFile(path, "deny", clock)
    watched.load()
    watched.startService()
    first = watched()
    assert first is not None and first.ids == {"policy0": "all"}
    path.write_text("permit(principal, action resource);  ")
    clock.advance(2.0)
    assert watched() is first
    assert watched.error is not None and "unexpected token" in watched.error
    assert watched.health()["error"] == watched.error
    path.write_text('@id("none") forbid(principal, action, resource);')
    clock.advance(2.0)
    now = watched()
    assert now is not None and now is not first and watched.error is None
    watched.stopService()
    now = watched()
    assert now is not None and now is not first and watched.error is None
    watched.stopService()


def test_a_team_principals_call_is_held_by_the_policys_labels() -> None:
    """On a team gateway the facts the gate kept are found by the
    principal's key where the call meets its client."""
    h = TeamHarness()
    policy = Policy(ASK_AFTER_UNTRUSTED)
    gate = h.team.requestPolicy = PolicyGate(lambda: policy, h.reactor)
    store = HeldCalls(h.reactor)
    step = FlowStep(h.reactor, lambda: store)
    step.use({name: pool.spec for name, pool in h.gateway.pools.items()}, FlowSettings(False))
    h.gateway.flow = step
    wireFlowPolicy(gate, step)
    sid = h.open("alice")
    # The server's tools, unlisted and unannotated, are untrusted and egress.
    first = h.as_("alice", "POST", "/srv/mcp", toolCall(2, "fetch", url="x"), session=sid)
    [sent] = childRequests(h)
    h.process().reply({"jsonrpc": "2.0", "id": sent["id"], "result": {"content": []}})
    assert first.complete and "error" not in first.json()
    held = h.as_("alice", "POST", "/srv/mcp", toolCall(3, "fetch", url="y"), session=sid)
    assert not held.complete and len(childRequests(h)) == 1
    [call] = store.pending()
    assert call.principal == PRINCIPALS["alice"].key and "by policy ask" in call.reason
    store.allow(call.id, "root")
    assert len(childRequests(h)) == 2


def test_a_batch_the_policy_refuses_answers_each_of_its_requests() -> None:
    """JSON-RPC 2.0 answers a batch with an array: the refused call its
    policy's error, the call that did not run one saying why."""
    from twisted.web.iweb import IRequest
    from twisted.web.test.requesthelper import DummyRequest

    from mcpgateway.core.decision import Decision

    gate = PolicyGate(lambda: Policy(FILES_TEAM), Clock())
    batch = [toolCall(1, "a"), {"jsonrpc": "2.0", "method": "notifications/x"}, toolCall(2, "b")]
    request = cast(IRequest, DummyRequest([b""]))
    body = gate.refuse(request, Decision("denied", ("no-b",), "refused by no-b"), 2, batch)
    first, second = json.loads(body)
    assert (first["id"], second["id"]) == (1, 2)
    assert second["error"]["message"] == "refused by no-b"
    assert second["error"]["data"] == {"policies": ["no-b"]}
    assert "not run: request 2 of this batch is refused" in first["error"]["message"]
    single = json.loads(gate.refuse(request, Decision("denied", (), "no"), 2))
    assert single["id"] == 2 and single["error"]["message"] == "no"


def test_a_policy_file_with_a_mistake_the_schema_finds_is_warned_of(tmp_path: Path) -> None:
    """A misspelt attribute fails to evaluate and refuses every request in
    its scope: the load and each reload say so, and C{/health} shows it."""
    from twisted.logger import formatEvent

    from tests.fakes import capturedGatewayLogs

    path = tmp_path / "policy.cedar"
    path.write_text(
        '@id("all") permit(principal, action, resource);\n'
        '@id("typo") forbid(principal, action, resource) when { resource.tool == "x" };\n'
    )
    clock = Clock()
    watched = PolicyFile(path, "deny", clock)
    with capturedGatewayLogs() as events:
        watched.load()
    said = [formatEvent(e) for e in events]
    assert any("typo: attribute `tool`" in line and "fails to evaluate" in line for line in said)
    assert (
        "typo: attribute `tool` on entity type `Gateway::Tool` not found"
        in (watched.health()["warnings"])
    )
    path.write_text('@id("all") permit(principal, action, resource);')
    watched.startService()
    clock.advance(2.0)
    assert watched.health()["warnings"] == []
    watched.stopService()


def test_a_refused_call_is_audited_in_its_session_and_a_claim_of_anothers_is_not(
    monkeypatch: Any,
) -> None:
    """A refusal comes before the session is looked up: the record names
    the session the caller's request claims when it is the caller's own,
    and no session when it is someone else's."""
    from twisted.logger import formatEvent

    from mcpgateway.web.endpoints.auditnote import shortName
    from tests.fakes import capturedGatewayLogs

    h = governed(monkeypatch)
    sid = h.open("alice")
    with capturedGatewayLogs() as events:
        h.as_("alice", "POST", "/srv/mcp", toolCall(2, "write_file"), session=sid)
    said = [formatEvent(e) for e in events if "policy refused" in str(e.get("log_format"))]
    assert said == [
        "policy refused tools/call of srv/write_file: default-deny (principal key-alice)"
    ]
    session = h.gateway.sessions.get(sid)
    assert session is not None
    assert h.audit.records[-1].session == shortName(session)
    bobs = h.open("bob")
    h.as_("alice", "POST", "/srv/mcp", toolCall(3, "write_file"), session=bobs)
    assert h.audit.records[-1].outcome == "refused" and h.audit.records[-1].session is None
