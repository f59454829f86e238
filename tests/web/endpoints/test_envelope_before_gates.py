"""Every gate in front of the MCP endpoints (the principal's quota, the
policy, the rate limits) reads a message only once its JSON-RPC envelope
holds: a C{method}, an C{id} or C{params} of any JSON shape, alone or in a
batch, with or without a session, on a server's route or C{/mcp}, is
answered with a clear refusal or served, never HTTP 500, and nothing is
logged as a failure. The rate limits are wired as a laptop gateway wires
them (no limits configured: C{forGateway}) and with limits configured."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.config.quotas import parseQuotas
from mcpgateway.governance.quotagate import QuotaGate, factsOf, forGateway
from tests.fakes import capturedGatewayLogs
from tests.support.web.team_web import TeamHarness

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
METHODS = st.sampled_from(["tools/call", "resources/read", "prompts/get", "ping"]) | JSON_VALUES
MESSAGES = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "2.0", "2.0", "1.0"]) | JSON_VALUES},
    optional={"id": JSON_VALUES, "method": METHODS, "params": JSON_VALUES},
)
BODIES = MESSAGES | st.lists(MESSAGES, min_size=1, max_size=3)


def laptop(configured: bool) -> TeamHarness:
    """A team harness whose rate limits are wired as the gateway wires
    them: for every gateway, limits configured or not."""
    h = TeamHarness()
    if configured:
        limits = {"principal": {"calls": "1000/min", "burst": 100}}
        h.team.callQuotas = QuotaGate(h.reactor, lambda: parseQuotas(limits))
    else:
        h.team.callQuotas = forGateway(h.reactor, h.gateway, lambda: "")
    return h


@pytest.mark.parametrize("configured", [False, True])
@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "id": 7, "method": {}},
        {"jsonrpc": "2.0", "id": 7, "method": []},
        [{"jsonrpc": "2.0", "id": 7, "method": {}}],
        {"jsonrpc": "2.0", "id": {}, "method": "tools/call"},
    ],
)
def test_a_malformed_envelope_is_a_clear_refusal(configured: bool, body: Any) -> None:
    h = laptop(configured)
    sid = h.open("alice")
    with capturedGatewayLogs() as events:
        for path in ("/srv/mcp", "/mcp"):
            for session in (sid, None):
                response = h.as_("alice", "POST", path, body, session=session)
                assert response.complete and 400 <= response.status < 500, (
                    path,
                    response.status,
                    response.body,
                )
                if isinstance(body, dict):  # a batch may answer each message in its body
                    assert "error" in json.loads(response.body), response.body
    assert not [e for e in events if "log_failure" in e]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES, configured=st.booleans(), sessioned=st.booleans(), aggregate=st.booleans())
def test_no_body_meets_a_500_or_a_logged_failure(
    body: Any, configured: bool, sessioned: bool, aggregate: bool
) -> None:
    h = laptop(configured)
    sid = h.open("alice") if sessioned else None
    with capturedGatewayLogs() as events:
        response = h.as_("alice", "POST", "/mcp" if aggregate else "/srv/mcp", body, session=sid)
        if not response.complete:
            h.reactor.advance(120)  # a call forwarded to the fake child times out
    assert not response.complete or response.status != 500, response.body
    failures = [e for e in events if "log_failure" in e]
    assert not failures, [e.get("log_format") for e in failures]


@given(message=JSON_VALUES | MESSAGES)
def test_the_limits_read_only_a_call_and_never_raise(message: Any) -> None:
    facts = factsOf(message, "alice", "srv")
    if facts is not None:
        assert isinstance(message, dict) and isinstance(message["method"], str)
        assert "id" in message and isinstance(facts.name, str)
