"""A server withheld from a principal (the gateway's own C{gateway} server,
to one that is no admin) is withheld on every path of C{/mcp}: neither
listed nor callable in a 2025 session, nor in an MCP 2026-07-28 request,
whatever the principal's servers say."""

from __future__ import annotations

import pytest

from mcpgateway.httpbase.principal import VIA_TOKEN, Principal
from mcpgateway.web.app import makeSite
from mcpgateway.web.teamcluster import TeamServices
from tests.support.web import team_web
from tests.support.web.aggregate_era2026 import AggregateEra2026Harness
from tests.support.web.aggregate_web import fresh, messagesOf
from tests.support.web.fakeera2026 import body, headersFor
from tests.support.web.team_web import INITIALIZE, FakeGate, FakeQuota, RecordingAudit

AUTH = {"authorization": "Bearer dana"}


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> AggregateEra2026Harness:
    """An aggregate over servers alpha and beta; dana may use every server
    but beta (withheld, as the gateway server is from a principal that is
    no admin)."""
    dana = Principal("dana", "key-dana", VIA_TOKEN, withheld=frozenset({"beta"}))
    monkeypatch.setitem(team_web.PRINCIPALS, "dana", dana)
    made = AggregateEra2026Harness(fresh())
    team = TeamServices(FakeGate(), FakeQuota(), RecordingAudit())
    made.harness.site = makeSite(made.harness.gateway, made.harness.reactor, team=team)
    return made


def test_a_2025_session_neither_lists_nor_calls_it(harness: AggregateEra2026Harness) -> None:
    h = harness.harness
    opened = h.request("POST", "/mcp", INITIALIZE, headers=AUTH)
    harness.children.pump()
    sid = opened.headers["mcp-session-id"]
    headers = {**AUTH, "mcp-protocol-version": "2025-11-25"}
    listing = h.request(
        "POST",
        "/mcp",
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        session=sid,
        headers=headers,
    )
    harness.children.pump()
    [answer] = [m for m in messagesOf(listing) if m.get("id") == 3]
    names = [tool["name"] for tool in answer["result"]["tools"]]
    assert names and not any(name.startswith("beta__") for name in names)


def test_a_2026_request_neither_lists_nor_calls_it(harness: AggregateEra2026Harness) -> None:
    h = harness.harness
    listing = body("tools/list", 1, None)
    listed = h.request("POST", "/mcp", listing, headers={**headersFor(listing), **AUTH})
    harness.children.pump()
    names = [tool["name"] for tool in listed.json()["result"]["tools"]]
    assert "alpha__echo" in names and not any(name.startswith("beta__") for name in names)
    call = body("tools/call", 2, {"name": "beta__echo", "arguments": {}})
    called = h.request("POST", "/mcp", call, headers={**headersFor(call), **AUTH})
    harness.children.pump()
    assert called.json()["error"]["message"] == "Unknown tool: beta__echo"
    assert [name for name, _ in harness.sent("tools/call")] == []
