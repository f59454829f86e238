"""The Streamable HTTP transport, to the letter: status codes, headers, streams,
and routing, through the real Site with fake children and a fake clock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionDone
from twisted.logger import LogLevel
from twisted.python.failure import Failure

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.protocol import jsonrpc, versions
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.web.app import makeSite
from mcpgateway.web.plumbing.sse import keepAliveFor
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.http import Harness, initializeMessage, spec
from tests.support.core.pools.pool import sharedOf
from tests.support.json_values import jsonScalars, jsonValues
from tests.support.protocol.envelope import (
    ABSENT,
    expectedNotificationProblem,
    expectedRequestProblem,
)
from tests.support.web.mcp import (
    LimitsHarness,
    answerEverything,
    call,
    childRequests,
    connect,
    noTracebacks,
    started,
)

# -- initialize ----------------------------------------------------------------


def test_initialize_answers_json_with_a_session_id_and_the_clients_version() -> None:
    h = Harness()
    response = h.request(
        "POST",
        "/srv/mcp",
        initializeMessage("2025-06-18", clientInfo={}, requestId=0),
    )
    assert not response.complete  # waits for the child's handshake
    h.answerHandshake()
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    sessionId = response.headers["mcp-session-id"]
    assert len(sessionId) >= 32 and all(0x21 <= ord(c) <= 0x7E for c in sessionId)
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 0,
        "result": {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fake", "version": "0"},
        },
    }


def test_unsupported_client_version_gets_the_latest() -> None:
    h = Harness()
    h.initialize()
    response = h.request(
        "POST",
        "/srv/mcp",
        initializeMessage("1999-01-01", clientInfo={}),
    )
    assert response.json()["result"]["protocolVersion"] == "2025-11-25"


def test_many_sessions_one_child_one_handshake() -> None:
    h = Harness()
    pending = [
        h.request(
            "POST",
            "/srv/mcp",
            initializeMessage(clientInfo={}),
        )
        for _ in range(3)
    ]
    h.answerHandshake()
    ids = {r.headers["mcp-session-id"] for r in pending}
    assert len(ids) == 3
    assert len(h.reactor.processes) == 1
    sent = h.process().sentMessages()
    assert [m.get("method") for m in sent] == ["initialize", "notifications/initialized"]
    assert sent[0]["params"]["clientInfo"]["name"] == "mcpgateway"


def test_client_initialized_notification_is_absorbed_with_202() -> None:
    h = Harness()
    sid = h.initialize()
    before = h.process().sentMessages()
    response = h.request(
        "POST", "/srv/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"}, session=sid
    )
    assert response.status == 202 and response.body == b""
    assert "content-type" not in response.headers
    assert h.process().sentMessages() == before


def test_initialize_of_a_server_that_cannot_start_is_a_jsonrpc_error_not_http_400() -> None:
    h = Harness({"srv": spec("srv", executable=None)})
    response = h.request(
        "POST",
        "/srv/mcp",
        initializeMessage(clientInfo={}),
    )
    assert response.status == 200
    assert "mcp-session-id" not in response.headers
    assert "not found on PATH" in response.json()["error"]["message"]
    assert len(h.gateway.sessions) == 0


# -- forwarding ---------------------------------------------------------------


def test_forwarded_request_is_an_sse_stream_closed_after_the_response() -> None:
    h = Harness()
    sid = h.initialize(version="2025-06-18")  # before 2025-11-25: no resumable streams
    response = call(h, sid, requestId=1)
    assert response.transport.value() == b""  # headers go with the first event ...
    h.reactor.advance(1.0)  # ... or after a second of silence
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert not response.complete
    forwarded = childRequests(h)[-1]
    assert forwarded["id"] != 1 or isinstance(forwarded["id"], int)
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"content": []}})
    assert response.events() == [{"jsonrpc": "2.0", "id": 1, "result": {"content": []}}]
    assert response.complete
    assert b"id:" not in response.body  # no event ids for sessions that cannot resume


def test_two_sessions_with_the_same_ids_each_get_their_own_answer() -> None:
    h = Harness()
    a, b = h.initialize(), h.initialize()
    ra, rb = call(h, a, requestId=1), call(h, b, requestId=1)
    sa, sb = childRequests(h)
    assert sa["id"] != sb["id"]
    h.process().reply({"jsonrpc": "2.0", "id": sb["id"], "result": {"who": "b"}})
    h.process().reply({"jsonrpc": "2.0", "id": sa["id"], "result": {"who": "a"}})
    assert ra.events() == [{"jsonrpc": "2.0", "id": 1, "result": {"who": "a"}}]
    assert rb.events() == [{"jsonrpc": "2.0", "id": 1, "result": {"who": "b"}}]


def test_string_and_number_ids_keep_their_json_type() -> None:
    h = Harness()
    sid = h.initialize()
    r1, r2 = call(h, sid, requestId="7"), call(h, sid, requestId=7)
    s1, s2 = childRequests(h)
    h.process().reply({"jsonrpc": "2.0", "id": s2["id"], "result": {}})
    h.process().reply({"jsonrpc": "2.0", "id": s1["id"], "result": {}})
    assert r1.events()[0]["id"] == "7" and r2.events()[0]["id"] == 7


def test_progress_rides_the_request_stream_with_the_clients_token() -> None:
    h = Harness()
    a, b = h.initialize(), h.initialize()
    ra = call(h, a, params={"name": "slow", "_meta": {"progressToken": "tok"}})
    rb = call(h, b, params={"name": "slow", "_meta": {"progressToken": "tok"}})
    fa, fb = childRequests(h)
    assert fa["params"]["_meta"]["progressToken"] != fb["params"]["_meta"]["progressToken"]
    h.process().reply(
        {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": fa["params"]["_meta"]["progressToken"], "progress": 1},
        }
    )
    assert ra.events() == [
        {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": "tok", "progress": 1},
        }
    ]
    assert rb.events() == []


def test_ping_is_answered_by_the_gateway_as_json() -> None:
    h = Harness()
    sid = h.initialize()
    before = h.process().sentMessages()
    response = call(h, sid, requestId=5, method="ping", params={})
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"jsonrpc": "2.0", "id": 5, "result": {}}
    assert h.process().sentMessages() == before


def test_client_disconnect_is_not_a_cancel() -> None:
    h = Harness()
    sid = h.initialize()
    response = call(h, sid)
    response.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
    assert childRequests(h, "notifications/cancelled") == []
    forwarded = childRequests(h)[-1]
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {}})  # no crash
    shared = sharedOf(h.gateway.pools["srv"]).shared
    assert shared is not None and shared.router.inFlight == 0


def test_child_exit_answers_pending_requests_and_the_next_request_gets_a_fresh_child() -> None:
    h = Harness()
    sid = h.initialize()
    response = call(h, sid, requestId=3)
    h.process().stderr(b"panic: out of cheese\n")
    h.process().exit(2)
    [event] = response.events()
    assert event["id"] == 3 and event["error"]["code"] == jsonrpc.CHILD_EXITED == -32003
    assert "exited with code 2" in event["error"]["message"]
    assert "out of cheese" in event["error"]["message"]
    again = call(h, sid, requestId=4)
    h.reactor.advance(1.0)  # restart backoff
    assert len(h.reactor.processes) == 2
    assert [m.get("method") for m in h.process().sentMessages()] == ["initialize"]
    h.answerHandshake()
    methods = [m.get("method") for m in h.process().sentMessages()]
    assert methods == ["initialize", "notifications/initialized", "tools/call"]
    forwarded = childRequests(h)[-1]
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"ok": True}})
    # The new child holds nothing of the session: its first answer says so, once.
    notice, answer = again.events()
    assert notice["method"] == "notifications/message"
    assert notice["params"]["level"] == "warning"
    assert "its shared child exited with code 2" in notice["params"]["data"]
    assert answer == {
        "jsonrpc": "2.0",
        "id": 4,
        "result": {"ok": True, "_meta": {"mcpgateway/childRestarted": True}},
    }


# -- child-to-client requests --------------------------------------------------


def test_sampling_request_reaches_the_calling_session_and_its_answer_returns() -> None:
    h = Harness()
    sid = h.initialize(capabilities={"sampling": {}})
    response = call(h, sid, requestId=1)
    h.process().reply(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "sampling/createMessage",
            "params": {"messages": [], "maxTokens": 5},
        }
    )
    [asked] = response.events()
    assert asked["method"] == "sampling/createMessage" and asked["id"] != 0
    answer = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": asked["id"], "result": {"role": "assistant"}},
        session=sid,
    )
    assert answer.status == 202 and answer.body == b""
    assert h.process().sentMessages()[-1] == {
        "jsonrpc": "2.0",
        "id": 0,
        "result": {"role": "assistant"},
    }


def test_sampling_for_a_client_without_the_capability_is_refused_to_the_child() -> None:
    h = Harness()
    sid = h.initialize(capabilities={})
    response = call(h, sid)
    h.process().reply({"jsonrpc": "2.0", "id": 9, "method": "sampling/createMessage", "params": {}})
    assert response.events() == []
    refusal = h.process().sentMessages()[-1]
    assert refusal["id"] == 9 and refusal["error"]["code"] == -32601


# -- GET streams and notifications ----------------------------------------------


def test_get_stream_carries_list_changed_and_a_second_get_is_409() -> None:
    h = Harness()
    sid = h.initialize()
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert stream.status == 200 and stream.headers["content-type"] == "text/event-stream"
    post = call(h, sid)
    h.process().reply({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    assert stream.events() == [{"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}]
    assert post.events() == []
    second = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert second.status == 409
    h.reactor.advance(15)
    assert stream.comments() == [b": keep-alive"]


def test_get_needs_an_event_stream_accept() -> None:
    h = Harness()
    sid = h.initialize()
    assert h.request("GET", "/srv/mcp", session=sid, accept="application/json").status == 406


def test_closed_get_stream_can_be_reopened() -> None:
    h = Harness()
    sid = h.initialize()
    first = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    first.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
    assert h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream").status == 200
    assert h.reactor.getDelayedCalls() and all(c.active() for c in h.reactor.getDelayedCalls())


# -- sessions -------------------------------------------------------------------


def test_missing_session_id_is_400_and_unknown_is_404() -> None:
    h = Harness()
    h.initialize()
    assert call(h, None).status == 400  # type: ignore[arg-type]
    unknown = call(h, "no-such-session")
    assert unknown.status == 404 and unknown.json()["error"]["code"] == -32600


def test_delete_ends_the_session_cancels_its_requests_then_404() -> None:
    h = Harness()
    sid = h.initialize()
    pending = call(h, sid, requestId=8)
    forwarded = childRequests(h)[-1]
    deleted = h.request("DELETE", "/srv/mcp", session=sid)
    assert deleted.status == 200 and deleted.json()["ended"]["sessions"] == [sid]
    assert childRequests(h, "notifications/cancelled")[-1]["params"]["requestId"] == forwarded["id"]
    assert pending.complete and pending.events() == []
    assert call(h, sid).status == 404
    assert h.request("DELETE", "/srv/mcp", session=sid).status == 404


def test_session_of_another_server_is_404() -> None:
    h = Harness({"srv": spec("srv"), "other": spec("other")})
    sid = h.initialize("srv")
    assert (
        h.request(
            "POST", "/other/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, session=sid
        ).status
        == 404
    )


# -- headers and bodies ----------------------------------------------------------


def test_accept_and_content_type_rules() -> None:
    h = Harness()
    sid = h.initialize()
    assert call(h, sid, accept="application/json").status == 406
    assert call(h, sid, accept="text/event-stream").status == 406
    assert call(h, sid, contentType="text/plain").status == 415


def test_protocol_version_header() -> None:
    h = Harness()
    sid = h.initialize()
    bad = call(h, sid, method="tools/list", headers={"mcp-protocol-version": "2024-01-01"})
    assert bad.status == 400
    assert "unsupported MCP-Protocol-Version '2024-01-01'" in bad.json()["error"]["message"]
    ok = call(h, sid, method="tools/list", headers={"mcp-protocol-version": "2025-06-18"})
    assert started(h, ok).status == 200


def _unsupported(response: Any, version: str, requestId: Any) -> None:
    """A 400 -32600 refusing C{version}, naming every supported revision."""
    assert response.status == 400, response.body
    body = response.json()
    assert body["id"] == requestId and body["error"]["code"] == jsonrpc.INVALID_REQUEST
    message = body["error"]["message"]
    assert message.startswith(f"Bad Request: unsupported MCP-Protocol-Version {version!r};")
    assert all(v in message for v in versions.HANDSHAKE_VERSIONS + versions.ERA2026_VERSIONS)


@pytest.mark.parametrize("version", ["garbage", "1999-01-01", "2027-01-01"])
def test_an_unknown_protocol_version_on_a_live_session_is_400_naming_the_supported_ones(
    version: str,
) -> None:
    # A ping with a live session and MCP-Protocol-Version:
    # garbage was refused as a 2026-07-28 request missing its _meta envelope.
    h = Harness()
    sid = h.initialize()
    headers = {"mcp-protocol-version": version}
    _unsupported(call(h, sid, 7, method="ping", params={}, headers=headers), version, 7)
    notification = {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}
    _unsupported(
        h.request("POST", "/srv/mcp", notification, session=sid, headers=headers), version, None
    )
    _unsupported(
        h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream", headers=headers),
        version,
        None,
    )
    assert childRequests(h, "ping") == []
    assert started(h, call(h, sid, method="tools/list")).status == 200  # the session lives on


def test_a_claim_with_an_unknown_header_version_is_still_a_era2026_request() -> None:
    # The body's _meta claim decides the era; its header is then checked as a
    # 2026 request's (-32020), not refused as an unknown revision.
    h = Harness()
    response = h.request(
        "POST",
        "/srv/mcp",
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/list",
            "params": {
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                }
            },
        },
        headers={"mcp-protocol-version": "garbage", "mcp-method": "tools/list"},
    )
    assert response.status == 400
    assert response.json()["error"]["code"] == jsonrpc.HEADER_MISMATCH


def test_era2026_era_never_reaches_the_child_of_a_server_that_does_not_serve_it() -> None:
    # A server whose entry says "era2026": false (docs/design/era.md): every 2026-07-28
    # request is 404/-32601, so clients fall back to initialize.
    h = Harness({"srv": replace(spec("srv"), era2026=False)})
    discover = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": "d", "method": "server/discover"},
        headers={"mcp-protocol-version": "2026-07-28"},
    )
    assert discover.status == 404
    assert discover.json() == {
        "jsonrpc": "2.0",
        "id": "d",
        "error": {"code": -32601, "message": discover.json()["error"]["message"]},
    }
    assert h.reactor.processes == []
    sid = h.initialize()
    meta = call(
        h,
        sid,
        params={"name": "x", "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}},
    )
    assert meta.status == 404 and childRequests(h) == []


def test_parse_errors_and_invalid_messages() -> None:
    h = Harness()
    sid = h.initialize()
    broken = h.request("POST", "/srv/mcp", raw=b'{"jsonrpc": "2.0", "id": 1,', session=sid)
    assert broken.status == 400
    assert broken.json()["error"]["code"] == -32700 and broken.json()["id"] is None
    notRpc = h.request("POST", "/srv/mcp", {"hello": "world"}, session=sid)
    assert notRpc.status == 400 and notRpc.json()["error"]["code"] == -32600
    assert started(h, call(h, sid)).status == 200  # the session is unharmed


def test_body_over_the_limit_is_413() -> None:
    h = Harness(maxBody=200)
    sid = h.initialize()
    big = call(h, sid, params={"name": "echo", "arguments": {"message": "x" * 500}})
    assert big.status == 413
    assert started(h, call(h, sid)).status == 200


def test_batches_only_for_2025_03_26_sessions() -> None:
    h = Harness()
    era2026 = h.initialize(version="2025-06-18")
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2, "method": "prompts/list"},
    ]
    rejected = h.request("POST", "/srv/mcp", batch, session=era2026)
    assert rejected.status == 400 and rejected.json()["error"]["code"] == -32600
    old = h.initialize(version="2025-03-26")
    accepted = h.request("POST", "/srv/mcp", batch, session=old)
    lists = childRequests(h, "tools/list") + childRequests(h, "prompts/list")
    assert len(lists) == 2
    for sent in lists:
        h.process().reply({"jsonrpc": "2.0", "id": sent["id"], "result": {}})
    assert sorted(e["id"] for e in accepted.events()) == [1, 2]
    assert accepted.complete
    withInit = h.request(
        "POST",
        "/srv/mcp",
        [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}],
        session=old,
    )
    assert withInit.status == 400


def pingWith(h: Harness, headers: dict[str, str]) -> Any:
    """A ping POSTed to srv with C{headers} (and no session of its own)."""
    return h.request(
        "POST", "/srv/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers
    )


def test_origin_and_host_guard() -> None:
    h = Harness()
    evil = pingWith(h, {"origin": "http://evil.example.com"})
    assert evil.status == 403
    rebound = h.request("GET", "/health", headers={"host": "evil.example.com:9100"})
    assert rebound.status == 421
    # Twisted knows no phrase for 421: it would write "421 Unknown Status".
    assert rebound.transport.value().startswith(b"HTTP/1.1 421 Misdirected Request\r\n")
    sid = h.initialize()
    local = call(h, sid, method="ping", params={}, headers={"origin": "http://localhost:3000"})
    assert local.status == 200


def test_unknown_server_and_unknown_path() -> None:
    h = Harness()
    unknown = h.request("POST", "/nope/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert unknown.status == 404 and "nope" in unknown.json()["error"]["message"]
    assert h.request("GET", "/nope").status == 404


def test_health_reports_servers() -> None:
    h = Harness({"srv": spec("srv"), "solo": spec("solo", mode="stateful")})
    h.initialize()
    health = h.request("GET", "/health").json()
    assert health["status"] == "ok" and health["sessions"] == 1
    srv = health["servers"]["srv"]
    assert srv["mode"] == "stateless" and srv["children"] == 1
    assert srv["pids"] == [h.process().pid] and srv["state"] == "running"
    assert health["servers"]["solo"]["children"] == 0


# -- stateful ---------------------------------------------------------------------


def test_stateful_server_gets_a_child_per_session_with_the_clients_initialize() -> None:
    h = Harness({"srv": spec("srv", mode="stateful")})
    first = h.request(
        "POST",
        "/srv/mcp",
        initializeMessage(
            "2025-06-18", capabilities={"roots": {}}, clientInfo={"name": "a"}, requestId=0
        ),
    )
    [init] = childRequests(h, "initialize")
    assert init["params"]["clientInfo"] == {"name": "a"}
    h.process().reply(
        {
            "jsonrpc": "2.0",
            "id": init["id"],
            "result": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "serverInfo": {"name": "s"},
            },
        }
    )
    assert first.json()["id"] == 0
    sid = first.headers["mcp-session-id"]
    h.request(
        "POST", "/srv/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"}, session=sid
    )
    assert childRequests(h, "notifications/initialized")
    second = h.request(
        "POST",
        "/srv/mcp",
        initializeMessage("2025-06-18", clientInfo={}, requestId=0),
    )
    assert len(h.reactor.processes) == 2 and not second.complete
    h.request("DELETE", "/srv/mcp", session=sid)
    assert h.process(0).stdinClosed and not h.process(1).stdinClosed
    h.reactor.advance(2)
    assert h.process(0).signals == ["TERM"]


def test_headers_that_are_not_utf8_fail_checks_not_the_gateway() -> None:
    h = Harness()
    sid = h.initialize()
    raw = call(h, sid, method="ping", params={}, headers={"x-client-pid": "\xff\xfe"})
    assert raw.status == 200
    badSession = pingWith(h, {"mcp-session-id": "\xe9t\xe9"})
    assert badSession.status == 404
    badOrigin = h.request("GET", "/health", headers={"origin": "http://\xe9vil.example"})
    assert badOrigin.status == 403


def test_a_quick_answer_goes_out_with_its_headers_in_one_turn() -> None:
    """Nothing is written before the answer; then headers, event and end
    together (one reactor turn, so one send on a real socket)."""
    h = Harness()
    sid = h.initialize()
    response = call(h, sid, requestId=1)
    assert response.transport.value() == b""
    forwarded = childRequests(h)[-1]
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {}})
    assert response.status == 200 and response.complete
    assert response.events() == [{"jsonrpc": "2.0", "id": 1, "result": {}}]


def test_a_slow_answer_gets_headers_after_a_second_and_keepalives() -> None:
    h = Harness()
    sid = h.initialize(version="2025-06-18")  # no priming event before 2025-11-25
    response = call(h, sid)
    h.reactor.advance(0.9)
    assert response.transport.value() == b""
    h.reactor.advance(0.2)
    assert response.status == 200 and response.body == b""
    h.reactor.advance(15)
    assert response.comments() == [b": keep-alive"]


def test_quick_answers_have_a_length_streamed_ones_are_chunked() -> None:
    h = Harness()
    sid = h.initialize()
    quick = call(h, sid, requestId=1)
    forwarded = childRequests(h)[-1]
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {}})
    assert "content-length" in quick.headers and "transfer-encoding" not in quick.headers
    assert quick.events() == [{"jsonrpc": "2.0", "id": 1, "result": {}}] and quick.complete
    streamed = call(h, sid, requestId=2, params={"name": "slow", "_meta": {"progressToken": 7}})
    forwarded = childRequests(h)[-1]
    h.process().reply(
        {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {
                "progressToken": forwarded["params"]["_meta"]["progressToken"],
                "progress": 1,
            },
        }
    )
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {}})
    assert streamed.headers.get("transfer-encoding") == "chunked"
    assert [e.get("id") for e in streamed.events()] == [None, 2] and streamed.complete


# -- hostile input: nothing a client sends gives a 500 or reaches a child broken ------


JSON_SCALARS = jsonScalars(6, integers=st.integers(min_value=-(2**70), max_value=2**70))
JSON_VALUES = jsonValues(JSON_SCALARS, keys=5, leaves=5)
PARAMS = (
    JSON_VALUES
    | st.just(ABSENT)
    | st.fixed_dictionaries(
        {},
        optional={
            "level": JSON_VALUES | st.sampled_from(LOG_LEVELS),
            "uri": JSON_VALUES,
            "requestId": JSON_VALUES,
            "reason": JSON_VALUES,
            "protocolVersion": JSON_VALUES | st.just("2025-11-25"),
            "capabilities": JSON_VALUES,
            "clientInfo": JSON_VALUES,
            "_meta": JSON_VALUES,
        },
    )
)
"""Params of every JSON type, and objects with the keys the gateway reads, of any type."""
SERVES_ALL = {"tools": {}, "resources": {"subscribe": True}, "logging": {}}
"""What the child of the hostile-input tests declares: every request they send
may go to it, so each answer depends on the params alone."""
GATEWAY_REQUESTS = (
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
    "ping",
    "tools/list",
)
GATEWAY_NOTIFICATIONS = ("notifications/cancelled", "notifications/initialized")


def message(method: str, params: Any, requestId: Any = ABSENT) -> dict[str, Any]:
    out: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if requestId is not ABSENT:
        out["id"] = requestId
    if params is not ABSENT:
        out["params"] = params
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(GATEWAY_REQUESTS), params=PARAMS)
def test_gateway_requests_with_params_of_every_json_type(method: str, params: Any) -> None:
    h = Harness()
    sid = h.initialize(served=SERVES_ALL)
    with capturedGatewayLogs() as events:
        response = h.request("POST", "/srv/mcp", message(method, params, 7), session=sid)
        answerEverything(h)
    noTracebacks(events)
    if expectedRequestProblem(method, params):
        assert response.status == 200
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["id"] == 7 and body["error"]["code"] == jsonrpc.INVALID_PARAMS
        assert [m for m in h.process().sentMessages() if m.get("method") == method] == []
    else:
        started(h, response)
        assert response.status == 200
        answers = (
            response.events()
            if response.headers["content-type"] == "text/event-stream"
            else [response.json()]
        )
        assert answers == [{"jsonrpc": "2.0", "id": 7, "result": {}}]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(GATEWAY_NOTIFICATIONS), params=PARAMS)
def test_gateway_notifications_with_params_of_every_json_type(method: str, params: Any) -> None:
    h = Harness()
    sid = h.initialize(served=SERVES_ALL)
    before = len(h.process().sentMessages())
    with capturedGatewayLogs() as events:
        response = h.request("POST", "/srv/mcp", message(method, params), session=sid)
    noTracebacks(events)
    if expectedNotificationProblem(method, params):
        assert response.status == 400
        assert response.json()["id"] is None
        assert response.json()["error"]["code"] == jsonrpc.INVALID_PARAMS
    else:
        assert response.status == 202 and response.body == b""
    assert len(h.process().sentMessages()) == before  # neither is forwarded to a shared child


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(GATEWAY_REQUESTS + GATEWAY_NOTIFICATIONS), params=PARAMS)
@example(method="resources/subscribe", params={"uri": ""})
def test_the_same_in_a_batch(method: str, params: Any) -> None:
    h = Harness()
    sid = h.initialize(version="2025-03-26", served=SERVES_ALL)
    isRequest = method in GATEWAY_REQUESTS
    batch = [
        message(method, params, 1 if isRequest else ABSENT),
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
    ]
    with capturedGatewayLogs() as events:
        response = h.request("POST", "/srv/mcp", batch, session=sid)
        answerEverything(h)
    noTracebacks(events)
    if not isRequest and expectedNotificationProblem(method, params):
        assert response.status == 400  # the batch is refused whole, nothing acted on
        assert response.json()["error"]["code"] == jsonrpc.INVALID_PARAMS
        return
    started(h, response)
    assert response.status == 200 and response.complete
    answers = {event["id"]: event for event in response.events()}
    assert answers[2] == {"jsonrpc": "2.0", "id": 2, "result": {}}
    if isRequest:
        if expectedRequestProblem(method, params):
            assert answers[1]["error"]["code"] == jsonrpc.INVALID_PARAMS
        else:
            assert answers[1] == {"jsonrpc": "2.0", "id": 1, "result": {}}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requestId=JSON_VALUES, method=st.sampled_from((*GATEWAY_REQUESTS, "initialize")))
def test_ids_of_every_json_type(requestId: Any, method: str) -> None:
    h = Harness()
    sid = h.initialize(served=SERVES_ALL)
    params = {"protocolVersion": "2025-11-25"} if method == "initialize" else {}
    with capturedGatewayLogs() as events:
        response = h.request("POST", "/srv/mcp", message(method, params, requestId), session=sid)
        answerEverything(h)
    noTracebacks(events)
    if isinstance(requestId, (str, int, float)) and not isinstance(requestId, bool):
        started(h, response)
        assert response.status == 200
    else:
        assert response.status == 400
        assert response.json() == {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": jsonrpc.INVALID_REQUEST,
                "message": response.json()["error"]["message"],
            },
        }


def test_set_level_with_string_params_alone_or_in_a_batch_is_32602_not_500() -> None:
    """This was an HTTP 500 with a traceback."""
    h = Harness()
    sid = h.initialize()
    old = h.initialize(version="2025-03-26")
    bad = {"jsonrpc": "2.0", "id": 3, "method": "logging/setLevel", "params": "debug"}
    with capturedGatewayLogs() as events:
        alone = h.request("POST", "/srv/mcp", bad, session=sid)
        batched = h.request("POST", "/srv/mcp", [bad], session=old)
    noTracebacks(events)
    assert alone.status == 200 and alone.json()["error"]["code"] == -32602
    assert batched.status == 200 and batched.events()[0]["error"]["code"] == -32602
    assert childRequests(h, "logging/setLevel") == []
    warnings = [
        e
        for e in events
        if e.get("log_level") == LogLevel.warn and e["log_format"].startswith("refused")
    ]
    assert len(warnings) == 2  # one line each, no traceback


def test_tools_list_with_params_123_is_answered_at_once_not_after_the_timeout() -> None:
    """It was forwarded and waited its full timeout."""
    h = Harness()
    sid = h.initialize()
    response = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": 123},
        session=sid,
    )
    assert response.complete and response.json()["error"]["code"] == jsonrpc.INVALID_PARAMS
    assert childRequests(h, "tools/list") == []
    shared = sharedOf(h.gateway.pools["srv"]).shared
    assert shared is not None and shared.router.inFlight == 0


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nesting deeper than 100 levels"),
        (b'{"jsonrpc":"2.0","id":' + b"7" * 5000 + b',"method":"ping"}', "character limit"),
        (b'{"jsonrpc":"2.0","id":"\\ud800","method":"tools/call","params":{}}', "lone surrogate"),
        (
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"a":"x\\udc00"}}',
            "lone surrogate",
        ),
        (b'{"jsonrpc":"2.0","id":1e999,"method":"ping"}', "finite"),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n":NaN}}', "finite"),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n":-Infinity}}', "finite"),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n":1e400}}', "finite"),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"\xff":1}}', "UTF-8"),
    ],
)
def test_bounded_strict_parsing_answers_32700(raw: bytes, words: str) -> None:
    """These were 500s (RecursionError, ValueError,
    UnicodeEncodeError), an echoed bare Infinity, or requests the child never answered."""
    h = Harness(maxBody=1_000_000)
    sid = h.initialize()
    with capturedGatewayLogs() as events:
        response = h.request("POST", "/srv/mcp", raw=raw, session=sid)
    noTracebacks(events)
    assert response.status == 400
    assert response.json()["id"] is None
    assert response.json()["error"]["code"] == jsonrpc.PARSE_ERROR
    assert words in response.json()["error"]["message"]
    assert childRequests(h) == []
    assert started(h, call(h, sid)).status == 200  # the session is unharmed


def test_batch_size_is_capped() -> None:
    h = LimitsHarness(MessageBounds(maxBatch=5))
    sid = h.initialize(version="2025-03-26")
    pings = [{"jsonrpc": "2.0", "id": i, "method": "ping"} for i in range(6)]
    over = h.request("POST", "/srv/mcp", pings, session=sid)
    assert over.status == 413
    assert over.json()["error"] == {
        "code": -32600,
        "message": "Invalid Request: a batch of 6 messages is over the limit of 5",
    }
    ok = h.request("POST", "/srv/mcp", pings[:5], session=sid)
    assert ok.status == 200 and sorted(e["id"] for e in ok.events()) == [0, 1, 2, 3, 4]
    assert MessageBounds().maxBatch == 100


def test_requests_in_flight_per_session_are_capped() -> None:
    h = LimitsHarness(MessageBounds(maxInFlightPerSession=3))
    a, b = h.initialize(), h.initialize()
    waiting = [call(h, a, requestId=i) for i in range(3)]
    session = h.gateway.sessions.get(a)
    assert session is not None and session.inFlight == 3
    refused = call(h, a, requestId=99)
    assert refused.complete and refused.status == 200
    error = refused.json()["error"]
    assert refused.json()["id"] == 99 and error["code"] == jsonrpc.TOO_MANY_REQUESTS == -32004
    assert "too many requests in flight" in error["message"] and "(3)" in error["message"]
    assert len(childRequests(h)) == 3
    assert not started(h, call(h, b, requestId=1)).complete  # another session is not held up
    first = childRequests(h)[0]
    h.process().reply({"jsonrpc": "2.0", "id": first["id"], "result": {}})
    assert waiting[0].complete and session.inFlight == 2
    assert not started(h, call(h, a, requestId=100)).complete  # room again: forwarded
    assert session.inFlight == 3


def test_in_flight_count_returns_to_zero_whatever_ends_a_request() -> None:
    h = LimitsHarness(MessageBounds(maxInFlightPerSession=10), {"srv": spec("srv", timeout=5.0)})
    sid = h.initialize()
    session = h.gateway.sessions.get(sid)
    assert session is not None
    for i in range(4):  # answered, timed out, cancelled, timed out
        call(h, sid, requestId=i)
    assert session.inFlight == 4
    h.process().reply({"jsonrpc": "2.0", "id": childRequests(h)[0]["id"], "result": {}})
    assert session.inFlight == 3
    h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}},
        session=sid,
    )
    assert session.inFlight == 2
    h.reactor.advance(5.0)  # 1 and 3 time out
    assert session.inFlight == 0
    crashing = call(h, sid, requestId=5)
    assert session.inFlight == 1
    h.process().exit(1)
    assert session.inFlight == 0 and crashing.complete
    batchSid = h.initialize(version="2025-03-26")
    batchSession = h.gateway.sessions.get(batchSid)
    assert batchSession is not None
    batch = h.request(
        "POST",
        "/srv/mcp",
        [{"jsonrpc": "2.0", "id": i, "method": "tools/list"} for i in range(3)],
        session=batchSid,
    )
    h.reactor.advance(1.0)  # restart backoff
    h.answerHandshake()
    assert batchSession.inFlight == 3
    answerEverything(h)
    assert batchSession.inFlight == 0 and batch.complete


def test_a_batch_over_the_in_flight_limit_is_answered_in_part() -> None:
    h = LimitsHarness(MessageBounds(maxInFlightPerSession=2))
    sid = h.initialize(version="2025-03-26")
    batch = h.request(
        "POST",
        "/srv/mcp",
        [{"jsonrpc": "2.0", "id": i, "method": "tools/list"} for i in range(4)],
        session=sid,
    )
    assert len(childRequests(h, "tools/list")) == 2
    answerEverything(h)
    events = {e["id"]: e for e in batch.events()}
    assert events[0]["result"] == {} and events[1]["result"] == {}
    assert events[2]["error"]["code"] == events[3]["error"]["code"] == jsonrpc.TOO_MANY_REQUESTS
    assert batch.complete


# -- the shared keep-alive ticker survives a failed request -----------------------------


def test_a_failed_request_leaves_nothing_in_the_keepalive_ticker() -> None:
    """Each 500 left its stream in the shared ticker (~6 KB per bad
    request, never freed), and the ticker then wrote to the finished request
    ("Request.write called on a request after Request.finish") and stopped,
    so GET streams opened later missed their keep-alives."""
    h = Harness()
    sid = h.initialize()
    ticker = keepAliveFor(h.reactor)
    with capturedGatewayLogs() as events:
        params: Any
        for params in ("debug", {"level": {}}, [1], 7, None):
            h.request(
                "POST",
                "/srv/mcp",
                {"jsonrpc": "2.0", "id": 1, "method": "logging/setLevel", "params": params},
                session=sid,
            )
        assert ticker.streams == set()
        stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
        for _ in range(3):
            h.reactor.advance(15)
    noTracebacks(events)
    assert stream.comments() == [b": keep-alive"] * 3


def test_a_stream_finished_behind_its_back_is_dropped_and_the_others_keep_going() -> None:
    h = Harness()
    sid, other = h.initialize(), h.initialize()
    get = h.request("GET", "/srv/mcp", session=other, accept="text/event-stream")
    post = call(h, sid)  # a stream waiting for the child
    ticker = keepAliveFor(h.reactor)
    [dying] = [s for s in ticker.streams if not s.headersSent]
    assert dying._request is not None
    dying._request.finish()  # as Twisted's processingFailed would (a 500 over it)
    with capturedGatewayLogs() as events:
        for _ in range(2):
            h.reactor.advance(15)
    noTracebacks(events)
    assert dying not in ticker.streams and not dying.open
    assert get.comments() == [b": keep-alive"] * 2
    forwarded = childRequests(h)[-1]
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {}})  # no crash
    assert post.events() == []


def test_a_stream_that_fails_to_write_costs_the_others_nothing() -> None:
    h = Harness()
    a, b = h.initialize(), h.initialize()
    first = h.request("GET", "/srv/mcp", session=a, accept="text/event-stream")
    second = h.request("GET", "/srv/mcp", session=b, accept="text/event-stream")
    ticker = keepAliveFor(h.reactor)
    broken = next(
        s for s in ticker.streams if s._request and s._request.transport is first.transport
    )

    def explode() -> None:
        raise RuntimeError("boom")

    broken.ping = explode
    with capturedGatewayLogs():
        h.reactor.advance(15)
        h.reactor.advance(15)
    assert broken not in ticker.streams
    assert second.comments() == [b": keep-alive"] * 2


def test_a_routing_defect_is_a_json_rpc_error_and_leaves_nothing_behind() -> None:
    h = Harness()
    sid = h.initialize()
    shared = sharedOf(h.gateway.pools["srv"]).shared
    assert shared is not None
    router = shared.router

    def broken(*args: Any) -> Any:
        raise KeyError("a defect")

    router.request = broken  # type: ignore[method-assign, assignment]
    with capturedGatewayLogs() as events:
        response = call(h, sid, requestId=4)
    assert response.status == 200 and response.complete
    assert response.events()[0]["error"]["code"] == jsonrpc.INTERNAL_ERROR
    assert keepAliveFor(h.reactor).streams == set()
    assert [e for e in events if "log_failure" in e]  # a defect is logged with its traceback


def test_the_keepalive_interval_comes_from_the_limits() -> None:
    h = LimitsHarness(MessageBounds(keepAliveInterval=2.0))
    sid = h.initialize()
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    h.reactor.advance(2.0)
    assert stream.comments() == [b": keep-alive"]


# -- client errors are one warning line, and a flood of them is not a flood of lines ----


def test_client_errors_are_one_warning_line_each_and_rate_limited() -> None:
    h = Harness()
    sid = h.initialize()
    with capturedGatewayLogs() as events:
        for _ in range(25):
            h.request("POST", "/srv/mcp", raw=b"{not json", session=sid)
        h.reactor.advance(1.0)
        h.request("POST", "/srv/mcp", raw=b"[1,", session=sid)
    noTracebacks(events)
    lines = [e for e in events if e["log_format"].startswith("refused")]
    assert len(lines) == 11 and all(e["log_level"] == LogLevel.warn for e in lines)
    assert lines[0]["status"] == 400 and "Parse error" in lines[0]["reason"]
    assert lines[-1]["more"] == " (15 more refusals not logged)"


def test_a_path_that_is_not_utf8_is_400_without_a_traceback() -> None:
    h = Harness()
    with capturedGatewayLogs() as events:
        responses = [
            h.request(m, p)
            for m in ("GET", "DELETE")
            for p in ("/%ff", "/sessions/%ff", "/api/v1/servers/%ed%a0%80", "/metrics%fe")
        ]
    noTracebacks(events)
    for response in responses:
        assert response.status == 400
        assert "not UTF-8" in response.json()["error"]["message"]


# -- connections: a deadline for headers, a cap per peer --------------------------------


def test_headers_must_be_complete_within_the_deadline() -> None:
    h = LimitsHarness(MessageBounds(headerTimeout=10.0))
    protocol, transport = connect(h)
    protocol.dataReceived(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and then nothing
    h.reactor.advance(9.0)
    protocol.dataReceived(b"X-Slow: 1\r\n")  # a byte now and then does not extend it
    assert not transport.disconnecting
    with capturedGatewayLogs() as events:
        h.reactor.advance(1.5)
    assert transport.value().startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert transport.disconnecting
    noTracebacks(events)
    assert [e["status"] for e in events if e["log_format"].startswith("refused")] == [408]


def test_the_header_deadline_spares_idle_connections_and_open_streams() -> None:
    h = LimitsHarness(MessageBounds(headerTimeout=10.0))
    sid = h.initialize()
    _, idleTransport = connect(h)  # connected, no bytes yet: the idle timeout's business
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    slowHead, slowTransport = connect(h)
    h.reactor.advance(5.0)
    slowHead.dataReceived(b"GET /health HTTP/1.1\r\n")
    h.reactor.advance(8.0)
    assert not idleTransport.disconnecting
    assert not stream.transport.disconnecting and not stream.complete
    assert not slowTransport.disconnecting
    keepAlive, keepAliveTransport = connect(h)
    keepAlive.dataReceived(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert b'"status":"ok"' in keepAliveTransport.value()
    for _ in range(50):  # between requests: no deadline (the idle timeout applies)
        h.reactor.advance(1.0)
    assert b"HTTP/1.1 408" not in keepAliveTransport.value()
    assert not keepAliveTransport.disconnecting
    assert slowTransport.value().startswith(b"HTTP/1.1 408")
    assert not stream.transport.disconnecting
    assert stream.comments() == [b": keep-alive"] * 4  # 63 s: an SSE stream has no deadline


def test_idle_connections_time_out_without_a_timer_per_request() -> None:
    """Twisted's idle timeout, kept by the guard's once-a-second look: a
    connection silent between requests for C{idleTimeout} is closed; one
    whose response is in progress (an SSE stream) is not; and requests on a
    keep-alive connection schedule nothing (no DelayedCall per
    request)."""
    h = LimitsHarness(MessageBounds())
    h.site.idleTimeout = 100.0
    sid = h.initialize()
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    silentProtocol, silent = connect(h)
    timeouts: list[float] = []
    channel = getattr(silentProtocol, "_channel", silentProtocol)
    timeoutConnection = channel.timeoutConnection

    def counted() -> None:
        timeouts.append(h.reactor.seconds())
        timeoutConnection()

    channel.timeoutConnection = counted
    scheduled: list[float] = []
    callLater = h.reactor.callLater

    def counting(delay: float, f: Any, *args: Any, **kwargs: Any) -> Any:
        scheduled.append(delay)
        return callLater(delay, f, *args, **kwargs)

    h.reactor.callLater = counting  # type: ignore[method-assign,assignment]
    keepAlive, keepAliveTransport = connect(h)
    keepAlive.dataReceived(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    scheduled.clear()
    for _ in range(5):
        keepAlive.dataReceived(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert keepAliveTransport.value().count(b'"status":"ok"') == 6
    assert scheduled == []
    h.reactor.advance(50.0)
    keepAlive.dataReceived(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # active again
    for _ in range(55):
        h.reactor.advance(1.0)
    assert silent.disconnecting  # 105 s without a byte
    assert not keepAliveTransport.disconnecting  # 55 s since its last request
    for _ in range(50):
        h.reactor.advance(1.0)
    assert keepAliveTransport.disconnecting
    assert not stream.transport.disconnecting and not stream.complete  # 155 s, in progress
    # StringTransport never reports the connection lost (a peer that does not
    # read): the guard still timed it out once, not once a second.
    assert timeouts == [100.0]


def test_a_request_head_pipelined_behind_another_has_the_deadline_too() -> None:
    """Twisted parses what was pipelined behind a request when that request
    is done, not in dataReceived: the head begun there is still held to the
    header deadline, or a client could hold a connection open with it."""
    h = LimitsHarness(MessageBounds(headerTimeout=10.0))
    protocol, transport = connect(h)
    protocol.dataReceived(
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n"
    )
    assert b'"status":"ok"' in transport.value()
    for _ in range(11):
        h.reactor.advance(1.0)
    assert b"HTTP/1.1 408 Request Timeout" in transport.value()
    assert transport.disconnecting


def test_connections_per_peer_are_capped() -> None:
    h = LimitsHarness(MessageBounds(maxConnectionsPerPeer=2))
    first, _ = connect(h)
    connect(h)
    with capturedGatewayLogs() as events:
        third, thirdTransport = connect(h)
    assert thirdTransport.value().startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"too many connections from 127.0.0.1" in thirdTransport.value()
    assert thirdTransport.disconnecting
    third.dataReceived(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # ignored
    assert thirdTransport.value().count(b"HTTP/1.1") == 1
    third.connectionLost(Failure(ConnectionDone()))
    _, otherPeer = connect(h, peer="127.0.0.2")
    assert otherPeer.value() == b""
    first.connectionLost(Failure(ConnectionDone()))
    _, again = connect(h)
    assert again.value() == b"" and not again.disconnecting
    noTracebacks(events)
    assert MessageBounds().maxConnectionsPerPeer == 2048


@pytest.mark.parametrize(
    "bad",
    [
        {"maxBatch": 0},
        {"maxDepth": -1},
        {"maxBody": 1.5},
        {"maxInFlightPerSession": True},
        {"headerTimeout": 0},
        {"keepAliveInterval": float("nan")},
        {"headerTimeout": float("inf")},
        {"maxNumberDigits": 4300},
    ],
)
def test_limits_refuse_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MessageBounds(**bad)


def test_make_site_keeps_its_max_body_keyword() -> None:
    """tap.py calls makeSite(gateway, reactor, loopbackOnly=..., maxBody=..., api=...)."""
    reactor = FakeProcessReactor()
    gateway = Gateway({"srv": spec("srv")}, fakeSpawner(reactor))
    site = makeSite(gateway, reactor, loopbackOnly=True, maxBody=1234, api=None)
    assert site.requestFactory.bodyLimit == 1234  # type: ignore[attr-defined]
    assert site.limits == MessageBounds(maxBody=1234)
    limited = makeSite(gateway, reactor, limits=MessageBounds(maxBody=99, maxBatch=7))
    assert limited.requestFactory.bodyLimit == 99  # type: ignore[attr-defined]
    assert makeSite(gateway, reactor).limits == MessageBounds()


def test_an_implausible_client_pid_header_is_ignored_not_a_500() -> None:
    h = Harness()
    for value in ("9" * 5000, "9" * 11, str(2**31), "0"):
        response = h.request(
            "POST",
            "/srv/mcp",
            initializeMessage(clientInfo={}),
            headers={"x-client-pid": value},
        )
        if not response.complete:
            h.answerHandshake()
        assert response.status == 200
        session = h.gateway.sessions.get(response.headers["mcp-session-id"])
        assert session is not None and session.clientPid is None


def test_a_childs_lone_surrogate_reaches_the_client_as_replacement_not_a_hang() -> None:
    """A JavaScript server that cuts a string between the halves of a pair
    writes a lone surrogate escape: the call is answered (strict UTF-8 out,
    U+FFFD in its place), not left to wait for its timeout."""
    h = Harness()
    sid = h.initialize()
    response = call(h, sid, requestId=9)
    forwarded = childRequests(h)[-1]
    h.process().stdout(
        b'{"jsonrpc":"2.0","id":%d,"result":{"text":"cut \\ud83d"}}\n' % forwarded["id"]
    )
    [event] = response.events()
    assert event == {"jsonrpc": "2.0", "id": 9, "result": {"text": "cut \ufffd"}}


# -- the answer before the bookkeeping ---------------------------------------------


@pytest.mark.parametrize("outcome", ["result", "error"])
def test_an_answer_is_written_before_it_is_counted_and_measured(
    monkeypatch: pytest.MonkeyPatch, outcome: str
) -> None:
    """The client need not wait for stats and metrics: when they are
    recorded, its whole answer is written already (and they still are)."""
    from mcpgateway.core import stats
    from mcpgateway.core.stats import RequestStats

    h = Harness({"srv": spec("srv")})
    sid = h.initialize()
    response = call(h, sid, requestId=41)
    seen: list[tuple[str, bool]] = []
    counted = RequestStats.record
    measured = stats.answered

    def record(self: RequestStats, method: str, outcome: str, seconds: float) -> None:
        seen.append(("counted", response.complete))
        counted(self, method, outcome, seconds)

    def answered(result: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(("measured", response.complete))
        return measured(result, *args, **kwargs)

    monkeypatch.setattr(RequestStats, "record", record)
    monkeypatch.setattr(stats, "answered", answered)
    [forwarded] = childRequests(h)
    answer: dict[str, Any] = (
        {"result": {"content": []}}
        if outcome == "result"
        else {"error": {"code": 1, "message": "x"}}
    )
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], **answer})
    assert response.complete
    assert sorted(seen) == [("counted", True), ("measured", True)]
    assert response.events()[0]["id"] == 41
