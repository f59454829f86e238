"""A team gateway's edges (docs/guide/team.md): a child's stderr reaches no
caller without an admin's token, on the 2026-07-28 path and through the
aggregate; a loopback gateway that requires tokens takes a same-host
proxy's public C{Host}; the aggregate's instructions count only the tools
a C{toolBudget} shows; a batch refused for its size uses up none of the
principal's rate."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from mcpgateway.core.pools.pool import ServerUnavailable
from mcpgateway.core.spec import ToolFilter
from mcpgateway.protocol import jsonrpc
from mcpgateway.web.app import makeSite
from mcpgateway.web.endpoints.guard import STDERR_MARK, forCaller
from mcpgateway.web.teamcluster import TeamServices
from tests.core.aggregate.aggtools import Children, FakeServer, tool
from tests.http import Harness, Response
from tests.support.web.aggregate_web import AggregateHarness, fresh, messagesOf, serverSpec
from tests.support.web.fakeera2026 import FakeEra2026, headersFor, meta
from tests.support.web.team_web import (
    INITIALIZE,
    LEAK,
    FakeGate,
    FakeQuota,
    RecordingAudit,
    TeamHarness,
    ping,
)

STDERR = f"server 'srv' exited with code 3{STDERR_MARK}fatal: token={LEAK.decode()}"
"""The gateway's words for a child that wrote a secret and exited 3."""
PUBLIC = "server 'srv' exited with code 3"


# -- D1: the 2026-07-28 path ------------------------------------------------------


class Era2026TeamHarness(TeamHarness):
    """A team gateway whose 2026-07-28 requests go to a L{FakeEra2026}."""

    def __init__(self, loopbackOnly: bool = False) -> None:
        super().__init__(loopbackOnly=loopbackOnly)
        self.era2026 = FakeEra2026()
        self.site = makeSite(
            self.gateway,
            self.reactor,
            loopbackOnly=loopbackOnly,
            team=self.team,
            era2026=self.era2026,
        )

    def era2026Post(self, who: str, message: dict[str, Any], **headers: str) -> Response:
        return self.as_(
            who, "POST", "/srv/mcp", message, headers={**headersFor(message), **headers}
        )


def toolsCall(requestId: Any = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": requestId,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {}, "_meta": meta()},
    }


def listen() -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": "l",
        "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": True}, "_meta": meta()},
    }


@pytest.mark.parametrize("how", ["failure", "child-exited", "listen"])
def test_a_2026_request_shows_no_stderr_to_a_caller_without_an_admin_token(how: str) -> None:
    # Era2026Endpoint._errorFor passed the whole message
    # (the child's last stderr lines) to any caller.
    for who, shown in (("alice", False), ("root", True)):
        h = Era2026TeamHarness()
        if how == "listen":
            response = h.era2026Post(who, listen())
            h.era2026.listens[0].opened.errback(ServerUnavailable(STDERR))
        else:
            response = h.era2026Post(who, toolsCall())
            call = h.era2026.calls[0]
            if how == "failure":
                call.answer.errback(ServerUnavailable(STDERR))
            else:
                call.error(jsonrpc.CHILD_EXITED, STDERR)
        assert response.complete, (how, who)
        error = response.json()["error"]
        assert error["message"] == (STDERR if shown else PUBLIC), (how, who)
        assert (LEAK in response.body) is shown, (how, who)


def test_a_loopback_gateway_that_requires_tokens_shows_a_2026_requests_stderr_to_admins_only() -> (
    None
):
    # Tokens on loopback: its callers come through a proxy or a load
    # balancer on the same host, as from another machine.
    for who, shown in (("alice", False), ("root", True)):
        h = Era2026TeamHarness(loopbackOnly=True)
        response = h.era2026Post(who, toolsCall())
        h.era2026.calls[0].answer.errback(ServerUnavailable(STDERR))
        assert response.json()["error"]["message"] == (STDERR if shown else PUBLIC), who


def test_a_childs_own_error_is_left_as_it_is() -> None:
    own = jsonrpc.errorResponse(1, jsonrpc.SERVER_UNAVAILABLE, "stderr of the job: busy")
    assert forCaller(own, False) is own
    exited = jsonrpc.errorResponse(1, jsonrpc.CHILD_EXITED, STDERR)
    assert forCaller(exited, True) is exited
    assert forCaller(exited, False)["error"] == {"code": -32003, "message": PUBLIC}


# -- D1: the aggregate ---------------------------------------------------------------


class TeamAggregate(AggregateHarness):
    """The aggregate harness behind a team door (tokens are principal names)."""

    def __init__(self, servers: dict[str, FakeServer], loopbackOnly: bool = False) -> None:
        super().__init__(servers)
        team = TeamServices(FakeGate(), FakeQuota(), RecordingAudit())
        h = self.harness
        h.site = makeSite(h.gateway, h.reactor, loopbackOnly=loopbackOnly, team=team)

    def openAs(self, who: str, path: str) -> str:
        response = self.harness.request(
            "POST", path, INITIALIZE, headers={"authorization": f"Bearer {who}"}
        )
        self.children.pump()
        assert response.status == 200, response.body
        return response.headers["mcp-session-id"]

    def callAs(self, who: str, session: str, params: dict[str, Any], path: str) -> Response:
        message = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}
        headers = {"authorization": f"Bearer {who}", "mcp-protocol-version": "2025-11-25"}
        response = self.harness.request("POST", path, message, session=session, headers=headers)
        self.children.pump()
        return response

    def crashHeldCall(self) -> None:
        """The child holding a call writes a secret to stderr and exits 3."""
        [(proc, _)] = self.children.held
        proc.stderr(b"fatal: token=" + LEAK + b"\n")
        proc.exit(3)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/mcp", {"name": "beta__echo", "arguments": {}}),
        ("/mcp/search", {"name": "invoke", "arguments": {"name": "beta__echo", "arguments": {}}}),
    ],
    ids=["tools-call", "invoke"],
)
def test_the_aggregate_shows_no_stderr_to_a_caller_without_an_admin_token(
    path: str, params: dict[str, Any]
) -> None:
    for who, shown in (("alice", False), ("root", True)):
        servers = fresh()
        servers["beta"].hold = True
        agg = TeamAggregate(servers)
        session = agg.openAs(who, path)
        response = agg.callAs(who, session, params, path)
        agg.crashHeldCall()
        assert response.complete, (path, who)
        [answer] = [m for m in messagesOf(response) if m.get("id") == 7]
        assert "server 'beta' exited with code 3" in json.dumps(answer), (path, who)
        assert (LEAK in response.body) is shown, (path, who)


def test_a_loopback_aggregate_that_requires_tokens_shows_an_invokes_stderr_to_admins_only() -> None:
    for who, shown in (("alice", False), ("root", True)):
        servers = fresh()
        servers["beta"].hold = True
        agg = TeamAggregate(servers, loopbackOnly=True)
        session = agg.openAs(who, "/mcp/search")
        params = {"name": "invoke", "arguments": {"name": "beta__echo", "arguments": {}}}
        response = agg.callAs(who, session, params, "/mcp/search")
        agg.crashHeldCall()
        assert (LEAK in response.body) is shown, who


# -- D2: a same-host proxy in front of a loopback gateway -----------------------------


PROXIED = {"host": "mcp.example.com"}


def test_a_loopback_gateway_that_requires_tokens_serves_a_proxys_public_host() -> None:
    h = TeamHarness(loopbackOnly=True)
    served = h.as_("alice", "POST", "/srv/mcp", INITIALIZE, headers=PROXIED)
    h.answerHandshake()
    assert served.status == 200, served.body
    # Without a token it is the gate's 401, not a 421.
    assert h.request("POST", "/srv/mcp", INITIALIZE, headers=PROXIED).status == 401
    # A foreign Origin is still refused.
    foreign = h.as_(
        "alice",
        "POST",
        "/srv/mcp",
        INITIALIZE,
        headers={**PROXIED, "origin": "https://evil.example"},
    )
    assert foreign.status == 403


def test_a_loopback_gateway_without_tokens_still_refuses_a_foreign_host() -> None:
    h = TeamHarness(loopbackOnly=True)
    h.site = makeSite(h.gateway, h.reactor, loopbackOnly=True, team=TeamServices())
    response = h.request("POST", "/srv/mcp", INITIALIZE, headers=PROXIED)
    assert response.status == 421
    assert h.request("GET", "/health", headers=PROXIED).status == 421


def test_a_proxys_caller_is_shown_no_stderr_as_a_caller_from_another_machine() -> None:
    # A DNS-rebinding page reaches the open /health with a public Host: it
    # gets what any caller of a gateway reachable from elsewhere gets.
    h = TeamHarness(loopbackOnly=True, publicHealth=True)
    h.open("alice")
    proc = h.process()
    proc.stderr(b"fatal: token=" + LEAK + b"\n")
    proc.exit(3)
    for who in (None, "alice", "nobody"):
        headers = PROXIED if who is None else {**PROXIED, "authorization": f"Bearer {who}"}
        health = h.request("GET", "/health", headers=headers)
        assert health.status == 200 and LEAK not in health.body, who
        assert health.json()["detail"] == "hidden", who
    assert LEAK in h.as_("root", "GET", "/health", headers=PROXIED).body
    # A loopback Host without a token: still hidden, tokens being required.
    assert LEAK not in h.request("GET", "/health").body
    other = TeamHarness(loopbackOnly=True)
    crashed = other.as_("alice", "POST", "/srv/mcp", INITIALIZE, headers=PROXIED)
    other.process().stderr(b"fatal: token=" + LEAK + b"\n")
    other.process().exit(3)
    assert crashed.complete and LEAK not in crashed.body
    assert crashed.json()["error"]["message"].startswith("server 'srv' exited with code 3")


# -- D4: the aggregate's instructions count what tools/list lists -------------------


def test_the_instructions_count_the_tools_listed_not_those_a_budget_hides() -> None:
    # D4: "memory (9)" in the instructions, 5 memory tools listed.
    servers = fresh()
    servers["beta"].tools.extend(tool(f"t{n}") for n in range(5))  # 6 tools
    specs = {
        "alpha": serverSpec("alpha"),
        "beta": replace(serverSpec("beta"), aggregate=ToolFilter(budget=2)),
    }
    h = Harness(specs)
    h.gateway.start()
    children = Children(h.reactor, servers)
    response = h.request("POST", "/mcp", INITIALIZE)
    children.pump()
    text = response.json()["result"]["instructions"]
    listing = h.request(
        "POST",
        "/mcp",
        ping(3) | {"method": "tools/list"},
        session=response.headers["mcp-session-id"],
        headers={"mcp-protocol-version": "2025-11-25"},
    )
    children.pump()
    [answer] = [m for m in messagesOf(listing) if m.get("id") == 3]
    listed = answer["result"]["tools"]
    assert len([t for t in listed if t["name"].startswith("beta__")]) == 2
    assert f"with {len(listed)} tools" in text, text
    assert "alpha (2), beta (2)" in text, text
    # Search mode reaches every tool (search and invoke): there they all count.
    searching = h.request("POST", "/mcp/search", INITIALIZE)
    children.pump()
    assert "beta (6)" in searching.json()["result"]["instructions"]


# -- D5: a batch refused for its size costs no rate --------------------------------


def test_a_batch_over_the_limit_is_413_before_the_rate_is_charged() -> None:
    h = TeamHarness()
    sid = h.open("alice")
    h.quota.admitted.clear()
    batch = [ping(n) for n in range(101)]
    response = h.as_("alice", "POST", "/srv/mcp", batch, session=sid)
    assert response.status == 413, response.body
    assert h.quota.admitted == []  # nothing charged
    # The answer does not depend on the bucket: an empty one gives 413 too.
    h.quota.retryAfter = 1.0
    again = h.as_("alice", "POST", "/srv/mcp", batch, session=sid)
    assert again.status == 413
    assert h.team.throttledCounts() == {}
    assert h.as_("alice", "POST", "/srv/mcp", ping(), session=sid).status == 429
