"""A Cedar policy on a cluster, for real: two replicas
(tests/integration/cluster.py) with one policy file, each its own audit log,
and the bundled demo server shared, the client sending each request to the
replica it chooses (as round robin does).

A session opened on r1 and called through r2 (which forwards the call to
r1, its owner) runs a call the policy allows, as on a single gateway; a
call the policy forbids is refused naming the policy, wherever it is sent,
and r1 records it as denied by that policy and logs it. Through the
aggregate (C{/mcp}), a forbidden tool, hidden from its caller, is answered
as an unknown name, and recorded as denied by the policy with the member's
server and tool as its resource, on the replica that owns the session.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cluster import RunningCluster, callTool, initialize
from tests.integration.gateway import waitFor

pytestmark = pytest.mark.integration

POLICY = """
@id("everyone") permit(principal, action, resource);
@id("no-bob-add")
forbid(principal == Gateway::Principal::"bob", action == Gateway::Action::"tools/call", resource)
when { resource.server == "demo" && resource.name == "add" };
@id("no-secrets-to-the-test-client")
forbid(principal, action == Gateway::Action::"tools/call", resource)
when {
  context.client == "cluster-test" &&
  context.arguments has message && context.arguments.message == "secret"
};
"""
"""Bob may not add; nobody echoes a secret to the client the raw sessions
of tests/integration/cluster.py name themselves (C{cluster-test}): a rule
only the replica holding the session can apply, as only it knows the
session's client."""


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[RunningCluster]:
    base = tmp_path / "cluster"
    base.mkdir()
    policy = base / "team.cedar"
    policy.write_text(POLICY)
    demo = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"], "share": "global"}
    running = RunningCluster(
        base,
        {"demo": demo},
        replicas=2,
        classification={"demo": {"share": "global"}},
        extraArgs=["--policy", str(policy), "--audit-log", "audit.jsonl"],
    )
    yield running
    running.stop()


def records(cluster: RunningCluster, replica: str) -> list[dict[str, Any]]:
    """What C{replica}'s audit log holds now."""
    path = cluster.base / replica / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def audited(cluster: RunningCluster, replica: str, **fields: Any) -> dict[str, Any]:
    """The first record of C{replica}'s audit log with C{fields} (written
    once a second: waited for)."""

    def found() -> list[dict[str, Any]]:
        return [
            record
            for record in records(cluster, replica)
            if all(record.get(key) == value for key, value in fields.items())
        ]

    assert waitFor(lambda: found(), timeout=10), (fields, records(cluster, replica))
    return found()[0]


def textOf(answer: dict[str, Any]) -> str:
    result = answer["result"]
    assert not result.get("isError"), result
    return str(result["content"][0]["text"])


def test_a_forwarded_call_is_decided_as_on_a_single_gateway(replicas: RunningCluster) -> None:
    alice, bob = replicas.authorization["alice"], replicas.authorization["bob"]
    r1, r2 = replicas.replicaUrl("r1", "demo"), replicas.replicaUrl("r2", "demo")
    session = initialize(r1, alice)
    assert replicas.owner(session) == "r1"
    # Through r2, which forwards them to r1: run as if sent to r1.
    assert textOf(callTool(r2, alice, session, "echo", {"message": "hello"})) == "hello"
    assert textOf(callTool(r2, alice, session, "add", {"a": 2, "b": 3}, rid=2)) == "5"
    assert replicas.health("r2")["cluster"]["forwarded"] == 2
    allowed = audited(replicas, "r1", via="peer", tool="echo")
    assert (allowed["decision"], allowed["outcome"]) == ("allowed", "ok")

    # Refused whichever replica the call reaches, naming the policy.
    theirs = initialize(r1, bob)
    for url, rid in ((r2, 3), (r1, 4)):
        refused = callTool(url, bob, theirs, "add", {"a": 1, "b": 1}, rid=rid)
        assert refused["error"]["code"] == -32602, refused
        assert refused["error"]["data"] == {"policies": ["no-bob-add"]}
    for replica in ("r1", "r2"):
        record = audited(replicas, replica, tool="add", decision="denied")
        assert record["policies"] == ["no-bob-add"]

    # What only the session's owner knows (its client) decides there.
    refused = callTool(r2, bob, theirs, "echo", {"message": "secret"}, rid=5)
    assert refused["error"]["data"] == {"policies": ["no-secrets-to-the-test-client"]}
    assert textOf(callTool(r2, bob, theirs, "echo", {"message": "mine"}, rid=6)) == "mine"
    record = audited(replicas, "r1", via="peer", tool="echo", decision="denied")
    assert record["policies"] == ["no-secrets-to-the-test-client"]
    assert record["resource"] == {"server": "demo", "tool": "echo"}
    said = "policy refused tools/call of demo/echo: no-secrets-to-the-test-client"
    assert waitFor(lambda: said in text(replicas))
    # The replica that forwarded a request leaves its record to the owner.
    assert [r["tool"] for r in records(replicas, "r2") if r.get("method") == "tools/call"] == [
        "add"
    ]


def test_a_hidden_tool_through_the_aggregate_is_audited_as_denied(
    replicas: RunningCluster,
) -> None:
    bob = replicas.authorization["bob"]
    r1 = replicas.replicaUrl("r1", "demo").replace("/demo/mcp", "/mcp")
    r2 = replicas.replicaUrl("r2", "demo").replace("/demo/mcp", "/mcp")
    session = initialize(r1, bob)
    for url, rid in ((r1, 1), (r2, 2)):
        refused = callTool(url, bob, session, "demo__add", {"a": 1, "b": 1}, rid=rid)
        assert refused["error"] == {"code": -32602, "message": "Unknown tool: demo__add"}
    assert textOf(callTool(r2, bob, session, "demo__echo", {"message": "m"}, rid=3)) == "m"
    for via in ("token", "peer"):
        record = audited(replicas, "r1", server="/mcp", tool="demo__add", via=via)
        assert (record["decision"], record["policies"]) == ("denied", ["no-bob-add"])
        assert record["resource"] == {"server": "demo", "tool": "add"}
    allowed = audited(replicas, "r1", server="/mcp", tool="demo__echo")
    assert (allowed["decision"], allowed["resource"]) == (
        "allowed",
        {"server": "demo", "tool": "echo"},
    )
    said = "policy refused tools/call of demo/add through the aggregate: no-bob-add"
    assert waitFor(lambda: text(replicas).count(said) == 2)


def text(cluster: RunningCluster) -> str:
    """What r1 wrote to its log."""
    return cluster.replicas["r1"].text()
