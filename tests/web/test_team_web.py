"""The door of a team gateway (web/app.py, web/endpoints/mcp.py) with a fake
gate, a fake quota and a recording audit sink: a refusal never reaches a
pool, the principal reaches the session, another principal's session is
not found, 429 over the limits, one audit record per request, the
management surface for admins only, the metadata served by the gate."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from twisted.web.resource import IResource

from mcpgateway.config.problems import ConfigProblems
from mcpgateway.core.sessions import shortId
from mcpgateway.protocol import jsonrpc
from mcpgateway.web.pages.liveness import LIVENESS_METRICS
from tests.http import Harness
from tests.support.web.health_callers import healthOfEachCaller
from tests.support.web.team_web import (
    LEAK,
    MISSING,
    PRINCIPALS,
    TeamHarness,
    call,
    crashWithStderr,
    initializeOfACrash,
    ping,
)


def test_a_refusal_never_reaches_a_pool() -> None:
    h = TeamHarness()
    response = h.request(
        "POST", "/srv/mcp", {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    )
    assert response.status == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="test"'
    assert response.json()["error"]["message"] == "this gateway needs a bearer token"
    assert h.reactor.processes == [] and len(h.gateway.sessions) == 0
    assert h.quota.admitted == []  # refused before counting
    [record] = h.audit.records
    assert (record.outcome, record.status, record.principal) == ("refused", 401, "")


def test_the_principal_reaches_the_session_and_loopback_needs_it_too() -> None:
    h = TeamHarness()
    sid = h.open("alice")
    session = h.gateway.sessions.get(sid)
    assert session is not None and session.principal == "key-alice"
    assert h.gate.checked == ["srv"]


def test_a_principal_not_allowed_the_server_gets_403_and_no_child() -> None:
    h = TeamHarness()
    response = h.as_(
        "carol",
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
    )
    assert response.status == 403
    assert h.reactor.processes == []


def test_another_principals_session_is_not_found_on_post_get_and_delete() -> None:
    h = TeamHarness()
    sid = h.open("alice")
    for method, body in (("POST", ping()), ("GET", None), ("DELETE", None)):
        response = h.as_("bob", method, "/srv/mcp", body, session=sid)
        assert response.status == 404, method
        assert response.json()["error"]["message"] == "Session not found"
    assert h.gateway.sessions.get(sid) is not None  # bob's DELETE ended nothing
    assert h.as_("alice", "POST", "/srv/mcp", ping(), session=sid).status == 200


def test_a_verdict_that_comes_later_is_waited_for() -> None:
    h = TeamHarness()
    response = h.as_("slow", "POST", "/srv/mcp", ping())
    assert not response.complete
    [waiting] = h.gate.pending
    waiting.callback(MISSING)
    assert response.status == 401


def test_over_the_limits_is_429_with_retry_after_and_a_32004_body() -> None:
    h = TeamHarness()
    sid = h.open("alice")
    assert h.quota.admitted == [("key-alice", 1)]
    assert h.quota.released == [("key-alice", 1)]  # the initialize ended
    h.quota.retryAfter = 2.2
    response = h.as_("alice", "POST", "/srv/mcp", ping(7), session=sid)
    assert response.status == 429
    # Twisted knows no phrase for 429: it would write "429 Unknown Status".
    assert response.transport.value().startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert response.headers["retry-after"] == "3"
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {
            "code": -32004,
            "message": "too many requests: over this caller's limits; retry in 3 s",
        },
    }
    # Notifications and responses are free.
    notified = h.as_(
        "alice",
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        session=sid,
    )
    assert notified.status == 202
    assert h.team.throttledCounts() == {"rate": 1}
    assert h.audit.records[-2].outcome == "refused" and h.audit.records[-2].status == 429
    # Refused before the session is looked up: named by the session id it sent.
    assert h.audit.records[-2].session == shortId(sid)


def test_a_forwarded_request_holds_its_place_until_it_ends() -> None:
    h = TeamHarness()
    sid = h.open("alice")
    h.quota.admitted.clear()
    h.quota.released.clear()
    response = h.as_(
        "alice",
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "echo"}},
        session=sid,
    )
    assert h.quota.admitted == [("key-alice", 1)] and h.quota.released == []
    forwarded = [m for m in h.process().sentMessages() if m.get("method") == "tools/call"][-1]
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"content": []}})
    assert response.complete
    assert h.quota.released == [("key-alice", 1)]


def test_one_audit_record_per_request_with_its_outcome() -> None:
    h = TeamHarness(timeout=5.0)
    sid = h.open("alice")
    [opened] = h.audit.records
    assert (opened.method, opened.outcome, opened.principal, opened.via) == (
        "initialize",
        "ok",
        "key-alice",
        "token",
    )
    assert opened.session == shortId(sid)

    def answer(result: dict[str, Any]) -> None:
        forwarded = [m for m in h.process().sentMessages() if m.get("method") == "tools/call"]
        h.process().reply({"jsonrpc": "2.0", "id": forwarded[-1]["id"], **result})

    call(h, sid, 2)
    h.reactor.advance(0.25)
    answer({"result": {"content": [{"type": "text", "text": "s3"}]}})
    call(h, sid, 3)
    answer({"error": {"code": -32602, "message": "bad"}})
    call(h, sid, 4)
    h.as_(
        "alice",
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 4}},
        session=sid,
    )
    call(h, sid, 5)
    h.reactor.advance(5.0)  # the request timeout
    h.request("POST", "/srv/mcp", ping())  # no token
    h.as_("alice", "POST", "/srv/mcp", {"jsonrpc": "2.0", "id": 6, "method": 5}, session=sid)
    outcomes = [
        (r.method, r.tool, r.outcome, r.code, r.status)
        for r in h.audit.records[1:]
        if r.method != "notifications/cancelled"
    ]
    assert outcomes == [
        ("tools/call", "echo", "ok", None, 200),
        ("tools/call", "echo", "error", -32602, 200),
        ("tools/call", "echo", "cancelled", None, 200),
        ("tools/call", "echo", "timeout", jsonrpc.REQUEST_TIMEOUT, 200),
        ("-", None, "refused", None, 401),
        ("-", None, "invalid", jsonrpc.INVALID_REQUEST, 400),
    ]
    first = h.audit.records[1]
    assert first.durationMs == 250.0 and first.server == "srv" and first.route == "global"
    assert all(r.payload is None for r in h.audit.records)  # no --audit-payloads


def test_the_audit_names_the_tool_the_prompt_or_the_resource() -> None:
    h = TeamHarness()
    sid = h.open("alice", capabilities={"tools": {}, "prompts": {}, "resources": {}})
    for method, params in (
        ("prompts/get", {"name": "greet"}),
        ("resources/read", {"uri": "file:///notes.txt"}),
        ("tools/list", {}),
    ):
        h.as_(
            "alice",
            "POST",
            "/srv/mcp",
            {"jsonrpc": "2.0", "id": 9, "method": method, "params": params},
            session=sid,
        )
        forwarded = [m for m in h.process().sentMessages() if m.get("method") == method][-1]
        h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {}})
    assert [(r.method, r.tool) for r in h.audit.records[1:]] == [
        ("prompts/get", "greet"),
        ("resources/read", "file:///notes.txt"),
        ("tools/list", None),
    ]


def test_payloads_only_with_audit_payloads() -> None:
    h = TeamHarness(payloads=True)
    sid = h.open("alice")
    call(h, sid, 2, {"q": "what"})
    forwarded = [m for m in h.process().sentMessages() if m.get("method") == "tools/call"][-1]
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"content": ["a"]}})
    assert h.audit.records[-1].payload == {
        "arguments": {"q": "what"},
        "result": {"content": ["a"]},
    }


def test_the_management_surface_is_for_admins_health_and_metrics_are_open() -> None:
    h = TeamHarness()
    h.open("alice")
    assert h.request("GET", "/sessions").status == 401
    assert h.as_("alice", "GET", "/sessions").status == 403
    admin = h.as_("root", "GET", "/sessions")
    assert admin.status == 200
    assert [s["principal"] for s in admin.json()["sessions"]] == ["key-alice"]
    assert h.as_("alice", "DELETE", "/sessions/by-pid/1").status == 403
    assert h.request("GET", "/health").json()["detail"] == "liveness"
    assert h.request("GET", "/metrics").body == LIVENESS_METRICS
    health = h.as_("root", "GET", "/health")
    assert health.status == 200 and health.json()["auth"] == {"mode": "on"}
    metrics = h.as_("root", "GET", "/metrics")
    assert metrics.status == 200
    text = metrics.body.decode()
    assert 'mcpgateway_auth_refusals_total{status="401",reason="missing"} 1' in text
    assert "alice" not in metrics.body.decode() and "alice" not in health.body.decode()


def test_the_open_health_of_a_team_gateway_shows_no_stderr_to_a_caller_without_an_admin_token() -> (
    None
):
    # The open /health of a gateway reachable from
    # elsewhere showed a child's stderr ("lastExit": "...; last stderr: fatal:
    # token=sk-live-...") to callers with no token.
    h = TeamHarness(publicHealth=True)  # the figures for all; stderr an admin's
    crashWithStderr(h)
    for who, response in healthOfEachCaller(h):
        assert response.status == 200, who
        assert LEAK not in response.body and b"/opt/secret" not in response.body, who
        body = response.json()
        assert body["detail"] == "hidden"
        assert body["servers"]["srv"]["lastExit"] == "exited with code 3"
    root = h.as_("root", "GET", "/health")
    assert LEAK in root.body and "detail" not in root.json()
    assert "last stderr: fatal: token=" in root.json()["servers"]["srv"]["lastExit"]
    later = h.as_("slow", "GET", "/health")
    h.gate.pending.pop().callback(PRINCIPALS["root"])
    assert LEAK in later.body


def test_a_failed_initialize_shows_no_stderr_to_a_caller_without_an_admin_token() -> None:
    # D2: /health hid the child's stderr from bob, but his
    # initialize answered "server 'crash' exited with code 3; last stderr:
    # SECRET-STDERR /opt/secret/path".
    error = initializeOfACrash(TeamHarness(), "alice")
    assert error["message"] == "server 'srv' exited with code 3"
    root = initializeOfACrash(TeamHarness(), "root")
    assert root["message"].startswith("server 'srv' exited with code 3; last stderr: fatal:")
    assert LEAK.decode() in root["message"]


def test_a_loopback_gateway_keeps_the_stderr_in_a_failed_initialize() -> None:
    # As /health: every caller of a loopback gateway without tokens sees it
    # (it helps debug); one that requires tokens is reached through a proxy
    # by others: its admins only.
    for h, who, shown in (
        (Harness(), None, True),
        (TeamHarness(loopbackOnly=True), "alice", False),
        (TeamHarness(loopbackOnly=True), "root", True),
    ):
        error = initializeOfACrash(h, who)
        assert (LEAK.decode() in error["message"]) is shown, who


def test_a_request_its_child_dies_under_shows_no_stderr_to_a_caller_without_an_admin_token() -> (
    None
):
    for who, shown in (("alice", False), ("root", True)):
        h = TeamHarness()
        sid = h.open(who)
        response = h.as_(
            who,
            "POST",
            "/srv/mcp",
            {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "echo"}},
            session=sid,
        )
        proc = h.process()
        proc.stderr(b"fatal: token=" + LEAK + b"\n")
        proc.exit(3)
        assert response.complete, who
        [answer] = response.events()
        assert answer["id"] == 5 and answer["error"]["code"] == jsonrpc.CHILD_EXITED
        assert (LEAK in response.body) is shown, who
        assert answer["error"]["message"].startswith("server 'srv' exited with code 3"), who


def withApi() -> TeamHarness:
    """A team gateway serving its admin API, whose own token is api-secret."""
    from mcpgateway.ops.management import ServerChanges
    from mcpgateway.web.admin.api import ApiApp

    holder: list[TeamHarness] = []

    def api() -> IResource:
        h = holder[0]
        # A config service that says only what /health asks: nothing it cannot use.
        config = cast(Any, SimpleNamespace(problems=ConfigProblems))
        management = ServerChanges(h.gateway, config, cast(Any, None))
        return ApiApp(management, h.gateway, h.reactor, "api-secret").resource()

    h = TeamHarness(api=api)
    holder.append(h)
    return h


def test_the_api_token_shows_the_whole_health_body() -> None:
    h = withApi()
    crashWithStderr(h)
    checked = len(h.gate.checked)
    token = {"authorization": "Bearer api-secret"}
    assert LEAK in h.request("GET", "/health", headers=token).body
    assert len(h.gate.checked) == checked  # not counted as a refused token
    assert LEAK not in h.request("GET", "/health").body
    api_ = h.request("GET", "/api/v1/health", headers=token)
    assert LEAK in api_.body


def test_a_loopback_gateway_shows_the_whole_health_body() -> None:
    h = Harness()
    h.initialize()
    proc = h.process()
    proc.stderr(b"fatal: token=" + LEAK + b"\n")
    proc.exit(3)
    body = h.request("GET", "/health")
    assert LEAK in body.body and "detail" not in body.json()


def test_the_api_takes_an_admin_principal_or_its_own_token() -> None:
    h = withApi()
    assert h.as_("alice", "GET", "/api/v1/health").status == 403
    assert h.as_("root", "GET", "/api/v1/health").status == 200
    assert (
        h.request("GET", "/api/v1/health", headers={"authorization": "Bearer api-secret"}).status
        == 200
    )
    assert h.request("GET", "/api/v1/health").status == 401


def test_the_protected_resource_metadata_is_the_gates() -> None:
    h = TeamHarness()
    for path in (
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/srv/mcp",
    ):
        response = h.request("GET", path)
        assert (response.status, response.body) == (200, b'{"resource": "test"}'), path


def test_without_a_team_the_endpoint_is_served_as_before() -> None:
    h = Harness()
    sid = h.initialize()
    session = h.gateway.sessions.get(sid)
    assert session is not None and session.principal == ""
    assert h.request("GET", "/.well-known/oauth-protected-resource").status == 404
    assert h.request("GET", "/sessions").status == 200


def test_an_unknown_server_or_route_is_401_to_a_caller_without_a_token() -> None:
    """No oracle: without a valid token, a server or route key that does not
    exist answers as one that does (401); with one, it is 404."""
    h = TeamHarness()
    for path in ("/nosuch/mcp", "/srv~abcdefghijklmnop/mcp", "/srv/mcp"):
        response = h.request("POST", path, ping())
        assert response.status == 401, (path, response.body)
        assert response.json()["error"]["message"] == "this gateway needs a bearer token"
    assert h.as_("alice", "POST", "/nosuch/mcp", ping()).status == 404
    routeless = h.as_("alice", "POST", "/srv~abcdefghijklmnop/mcp", ping())
    assert routeless.status == 404 and "no route" in routeless.json()["error"]["message"]
