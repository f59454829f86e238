"""A cluster replica's web side (web/app.py, web/endpoints/mcp.py) with a fake router
and a fake forwarder: a request for another replica's session is forwarded
and never reaches a local pool (POST, GET and DELETE), an owner that cannot
be reached is looked at again here, a peer's header stands for the token
(no gate, no quota) and an invalid one is 401, the audit record is the
owner's to write, and /health and /metrics say what the replica did.

With a policy, the owner decides a forwarded request as a single gateway
decides one (web/endpoints/admission.py): a tool's call the policy allows
runs (the flow step that asks the policy again finds the decision), one it
refuses is refused, audited as denied and logged; the caller is the one the
peer header carries, as the replica it reached proved it, and the source the
address the request came from there."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred

from mcpgateway.cluster.routing import Forward, Local, Where
from mcpgateway.flow.held import HeldCalls
from mcpgateway.flow.rule import FlowSettings
from mcpgateway.flow.step import DENIAL_KEY, FlowStep
from mcpgateway.governance.flowpolicy import wireFlowPolicy
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.governance.policy import Policy
from mcpgateway.httpbase.principal import VIA_PEER, Principal
from tests.fakes import capturedGatewayLogs
from tests.http import Harness
from tests.support.report.healthkeys import HEALTH_HEAD
from tests.support.web.cluster_web import PEER, SOURCE, ClusterHarness
from tests.support.web.mcp import childRequests
from tests.support.web.team_web import PRINCIPALS, ping

OTHERS = "r2.sealed-by-another-replica"


def call(requestId: int = 2) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": requestId, "method": "tools/call", "params": {"name": "x"}}


def test_a_forwarded_request_never_reaches_a_local_pool() -> None:
    h = ClusterHarness()
    response = h.as_("alice", "POST", "/srv/mcp", call(), session=OTHERS)
    [(_request, owner, principal, body, _)] = h.forwarder.calls
    assert owner == PEER and principal == PRINCIPALS["alice"]
    assert body == b'{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "x"}}'
    assert h.router.calls == [(OTHERS, "srv", "", "key-alice", False)]
    assert h.reactor.processes == [] and len(h.gateway.sessions) == 0
    assert h.gateway.pools["srv"].status(0).requests.count == 0
    assert not response.complete
    h.forwarder.answer(body=b'{"ok": true}')
    assert response.status == 200 and response.json() == {"ok": True}


def test_get_streams_and_deletes_are_forwarded_too() -> None:
    h = ClusterHarness()
    h.as_("alice", "GET", "/srv/mcp", session=OTHERS, headers={"last-event-id": "g1-3"})
    h.as_("alice", "DELETE", "/srv/mcp", session=OTHERS)
    methods = [(request.method, owner, body) for request, owner, _, body, _ in h.forwarder.calls]
    assert methods == [(b"GET", PEER, b""), (b"DELETE", PEER, b"")]
    assert h.reactor.processes == [] and len(h.gateway.sessions) == 0


def test_an_owner_that_cannot_be_reached_is_looked_at_again_here() -> None:
    h = ClusterHarness()
    response = h.as_("alice", "POST", "/srv/mcp", call(), session=OTHERS)
    h.forwarder.calls[0][4].callback(False)  # refused: nothing was written
    # Looked at again, never forwarded twice: here the fake says 404 (an owned child).
    assert [c[-1] for c in h.router.calls] == [False, True]
    assert len(h.forwarder.calls) == 1
    assert response.status == 404
    assert response.json()["error"]["message"] == "Session not found"


def test_the_fallback_serves_a_visiting_session_here() -> None:
    h = ClusterHarness()
    sid = h.initializeAs("alice")
    visiting = h.gateway.sessions.get(sid)
    assert visiting is not None
    h.gateway.sessions.remove(visiting)  # as if another replica owned it

    def resolve(
        sessionId: str, server: str, scope: str, principal: Principal, fromPeer: bool
    ) -> Where:
        h.router.calls.append((sessionId, server, scope, principal.key, fromPeer))
        if not fromPeer:
            return Forward(PEER)
        h.gateway.sessions.add(visiting)
        return Local(visiting)

    h.router.resolve = resolve  # type: ignore[method-assign]
    response = h.as_("alice", "POST", "/srv/mcp", ping(), session=sid)
    h.forwarder.calls[0][4].callback(False)
    assert response.status == 200 and response.json()["result"] == {}


def test_the_quota_is_counted_once_by_the_replica_the_client_reached() -> None:
    h = ClusterHarness()
    assert h.quota is not None
    h.as_("alice", "POST", "/srv/mcp", call(), session=OTHERS)
    assert h.quota.admitted == [("key-alice", 1)]
    h.forwarder.answer()
    assert h.quota.released == [("key-alice", 1)]


def test_a_peer_header_stands_for_the_token_and_skips_the_quota() -> None:
    h = ClusterHarness()
    assert h.gate is not None and h.quota is not None
    sid = h.initializeAs("bob")
    h.gate.checked.clear()
    h.quota.admitted.clear()
    response = h.request(
        "POST", "/srv/mcp", ping(7), session=sid, headers={"mcp-gateway-peer": "ok:bob"}
    )
    assert response.status == 200 and response.json()["result"] == {}
    assert h.gate.checked == []  # no Authorization needed, none looked for
    assert h.quota.admitted == []  # counted where the client sent it
    [(value, method, path, sessionId, body)] = h.peers.opened
    assert (value, method, path, sessionId) == ("ok:bob", b"POST", b"/srv/mcp", sid)
    assert b'"id": 7' in body
    assert h.forwarder.calls == []


def test_a_peer_request_for_an_unknown_session_is_never_forwarded_again() -> None:
    h = ClusterHarness()
    response = h.request(
        "POST", "/srv/mcp", call(), session=OTHERS, headers={"mcp-gateway-peer": "ok:bob"}
    )
    assert response.status == 404
    assert h.router.calls == [(OTHERS, "srv", "", "key-bob", True)]
    assert h.forwarder.calls == []


def test_an_invalid_peer_header_is_401_and_reaches_nothing() -> None:
    h = ClusterHarness()
    assert h.gate is not None and h.quota is not None
    for headers in (
        {"mcp-gateway-peer": "forged"},
        {"mcp-gateway-peer": "forged", "authorization": "Bearer alice"},  # no way around it
    ):
        response = h.request("POST", "/srv/mcp", call(), session=OTHERS, headers=headers)
        assert response.status == 401, headers
        assert "Mcp-Gateway-Peer" in response.json()["error"]["message"]
    assert h.gate.checked == [] and h.quota.admitted == []
    assert h.router.calls == [] and h.forwarder.calls == []
    assert h.reactor.processes == []
    assert [r.outcome for r in h.audit.records] == ["refused", "refused"]


def test_a_peer_header_without_a_gate_still_needs_to_open() -> None:
    h = ClusterHarness(gate=False)
    response = h.request("POST", "/srv/mcp", ping(), headers={"mcp-gateway-peer": "x"})
    assert response.status == 401


def test_the_audit_record_of_a_forwarded_request_is_the_owners() -> None:
    h = ClusterHarness()
    h.as_("alice", "POST", "/srv/mcp", call(), session=OTHERS)
    h.forwarder.answer()
    assert h.audit.records == []  # the owner writes it
    sid = h.initializeAs("bob")
    h.audit.records.clear()
    h.request("POST", "/srv/mcp", ping(), session=sid, headers={"mcp-gateway-peer": "ok:bob"})
    [record] = h.audit.records
    assert (record.principal, record.via, record.method, record.outcome) == (
        "key-bob",
        VIA_PEER,
        "ping",
        "ok",
    )


def test_a_single_gateway_ignores_the_peer_header() -> None:
    h = Harness()
    sid = h.initialize()
    response = h.request(
        "POST", "/srv/mcp", ping(), session=sid, headers={"mcp-gateway-peer": "anything"}
    )
    assert response.status == 200
    assert h.request("POST", "/srv/mcp", ping(), session="unknown").status == 404


def test_health_and_metrics_of_a_replica() -> None:
    h = ClusterHarness()
    h.as_("alice", "POST", "/srv/mcp", call(), session=OTHERS)
    h.forwarder.answer()
    h.router.failedOver = 2
    assert "cluster" not in h.request("GET", "/health").json()  # liveness only
    health = h.as_("root", "GET", "/health").json()
    assert health["cluster"] == {
        "replica": "r1",
        "advertise": "http://10.0.0.1:9100",
        "visiting": 0,
        "forwarded": 1,
        "failedOver": 2,
        "ownersDown": 0,
    }
    assert list(health)[:8] == [*HEALTH_HEAD, "auth", "cluster"]
    metrics = h.as_("root", "GET", "/metrics")
    assert metrics.status == 200
    text = metrics.body.decode()
    assert 'mcpgateway_forwarded_requests_total{outcome="ok"} 1' in text
    assert 'mcpgateway_forwarded_requests_total{outcome="unreachable"} 0' in text
    assert "mcpgateway_visiting_sessions 0" in text
    assert "mcpgateway_auth_refusals_total" in text  # the team's families stay
    assert "mcpgateway_sessions" in text


def test_a_single_gateways_health_has_no_cluster_line() -> None:
    h = Harness()
    assert "cluster" not in h.request("GET", "/health").json()


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=300).filter(lambda b: b"\r" not in b and b"\n" not in b))
def test_any_peer_header_value_is_refused_never_a_failure(value: bytes) -> None:
    h = ClusterHarness()
    value = value.strip() or b"x"
    response = h.request(
        "POST",
        "/srv/mcp",
        call(),
        session=OTHERS,
        headers={"mcp-gateway-peer": value.decode("latin-1")},
    )
    # 400: a header HTTP itself refuses (a NUL, say), before the gateway sees it.
    assert response.status in (400, 401)
    assert h.forwarder.calls == [] and h.reactor.processes == []


def test_during_a_restart_another_replicas_session_is_forwarded_at_once() -> None:
    """A restart's successor holds a request for a session it does not know
    until its predecessor exits (it may be one the predecessor opened in its
    last moments); one sealed by another replica cannot be, and is forwarded
    at once (a USR2 handover held them up to 30 s)."""
    h = ClusterHarness()
    predecessor: Deferred[None] = Deferred()
    h.gateway.continuity.waitFor = lambda *_: predecessor  # type: ignore[method-assign]
    h.as_("alice", "POST", "/srv/mcp", call(), session=OTHERS)
    assert len(h.forwarder.calls) == 1
    mine = h.as_("alice", "POST", "/srv/mcp", call(3), session="r1.sealed-here-earlier")
    assert len(h.forwarder.calls) == 1 and not mine.complete  # waits for the predecessor


# -- the policy on the owner ----------------------------------------------------------

POLICY = """
@id("everyone") permit(principal, action, resource);
@id("no-bob-write")
forbid(principal == Gateway::Principal::"bob", action == Gateway::Action::"tools/call", resource)
when { resource.name == "write_file" };
@id("tokens-only") forbid(principal, action, resource) unless { principal.via == "token" };
@id("nothing-deleted-from-the-lab")
forbid(principal, action == Gateway::Action::"tools/call", resource)
when {
  resource.name == "delete_file" &&
  context has source && context.source.isInRange(ip("192.0.2.0/24"))
};
"""
"""Bob may not write; a caller proven any other way than with a token is
refused everything; nothing is deleted by a request from 192.0.2.0/24
(where L{SOURCE} is)."""

PEERED = {"mcp-gateway-peer": "ok:bob"}
"""Bob's request, forwarded by the replica it reached (from L{SOURCE})."""


def toolCall(requestId: int, name: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": requestId,
        "method": "tools/call",
        "params": {"name": name, "arguments": {"path": "/srv/a.txt"}},
    }


def owner() -> tuple[ClusterHarness, PolicyGate]:
    """A replica with the policy and the flow step that asks it again (as
    C{--policy} wires them), owning a session of bob's."""
    h = ClusterHarness()
    policy = Policy(POLICY)
    gate = h.team.requestPolicy = PolicyGate(lambda: policy, h.reactor)
    store = HeldCalls(h.reactor)
    step = FlowStep(h.reactor, lambda: store)
    step.use({name: pool.spec for name, pool in h.gateway.pools.items()}, FlowSettings(False))
    h.gateway.flow = step
    wireFlowPolicy(gate, step)
    return h, gate


def answer(h: ClusterHarness, text: str = "done") -> None:
    """The child answers the last call it was sent."""
    sent = childRequests(h)[-1]
    result = {"content": [{"type": "text", "text": text}]}
    h.process().reply({"jsonrpc": "2.0", "id": sent["id"], "result": result})


def test_a_forwarded_call_the_policy_allows_runs_on_the_owner() -> None:
    h, gate = owner()
    sid = h.initializeAs("bob")
    forwarded = h.request(
        "POST", "/srv/mcp", toolCall(2, "read_file"), session=sid, headers=PEERED, peer=PEER.host
    )
    assert [m["params"]["name"] for m in childRequests(h)] == ["read_file"]
    answer(h, "hello")
    result = forwarded.json()["result"]
    assert DENIAL_KEY not in result.get("_meta", {}), result
    assert result["content"][0]["text"] == "hello"
    assert gate.refused == 0
    record = h.audit.records[-1]
    assert (record.via, record.outcome, record.decision) == (VIA_PEER, "ok", None)


def test_a_forwarded_call_the_policy_refuses_is_refused_audited_and_logged() -> None:
    h, gate = owner()
    sid = h.initializeAs("bob")
    with capturedGatewayLogs() as events:
        refused = h.request(
            "POST",
            "/srv/mcp",
            toolCall(3, "write_file"),
            session=sid,
            headers=PEERED,
            peer=PEER.host,
        )
    error = refused.json()["error"]
    assert error["code"] == -32602 and error["data"] == {"policies": ["no-bob-write"]}
    assert childRequests(h) == [] and gate.refused == 1
    record = h.audit.records[-1]
    assert record.via == VIA_PEER and record.outcome == "refused"
    assert record.decision is not None and record.decision.policies == ("no-bob-write",)
    said = [e for e in events if e.get("policyRefused") == "tools/call"]
    assert [(e["server"], e["name"], e["policies"]) for e in said] == [
        ("srv", "write_file", "no-bob-write")
    ]


def test_the_owner_decides_with_the_caller_and_source_the_peer_sealed() -> None:
    """The caller is decided as proven where the request arrived (with a
    token: not refused by C{tokens-only}), and from where it came there
    (L{SOURCE}, not the forwarding replica's own address)."""
    h, _ = owner()
    sid = h.initializeAs("bob")
    forwarded = h.request(
        "POST", "/srv/mcp", toolCall(4, "delete_file"), session=sid, headers=PEERED, peer=PEER.host
    )
    assert "nothing-deleted-from-the-lab" in forwarded.json()["error"]["message"]
    assert childRequests(h) == []
    direct = h.as_("bob", "POST", "/srv/mcp", toolCall(5, "delete_file"), session=sid)
    assert [m["params"]["name"] for m in childRequests(h)] == ["delete_file"]
    answer(h)
    assert "result" in direct.json()
    assert SOURCE.startswith("192.0.2.")


def test_a_forwarded_request_of_a_non_admin_never_reaches_an_admin_only_server() -> None:
    """The owner keeps the admin-only servers (the self-service C{gateway})
    from a non-admin whose request another replica's door let in, as its
    own door does: the peer header says whether the caller is an admin."""
    h = ClusterHarness()
    assert h.gate is not None
    h.gate.adminOnly = frozenset({"srv"})
    response = h.request("POST", "/srv/mcp", ping(7), headers={"mcp-gateway-peer": "ok:bob"})
    assert response.status == 401
    assert h.router.calls == [] and h.reactor.processes == []
