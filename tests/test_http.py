"""The Streamable HTTP transport, to the letter: status codes, headers, streams,
and routing, through the real Site with fake children and a fake clock."""

from __future__ import annotations

from typing import Any

from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure

from tests.http import Harness, spec


def call(h: Harness, session: str, requestId: Any = 2, method: str = "tools/call",
         params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return h.request("POST", "/srv/mcp", {"jsonrpc": "2.0", "id": requestId, "method": method,
                                          "params": params or {"name": "echo"}},
                     session=session, **kwargs)


def started(h: Harness, response: Any) -> Any:
    """A forwarded request's stream sends its headers with its first event,
    or after a second of silence: let that second pass."""
    h.reactor.advance(1.0)
    return response


def childRequests(h: Harness, method: str = "tools/call", index: int = -1) -> list[dict[str, Any]]:
    return [m for m in h.process(index).sentMessages() if m.get("method") == method]


# -- initialize ----------------------------------------------------------------

def test_initialize_answers_json_with_a_session_id_and_the_clients_version() -> None:
    h = Harness()
    response = h.request("POST", "/srv/mcp", {
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {}}})
    assert not response.complete  # waits for the child's handshake
    h.answerHandshake()
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    sessionId = response.headers["mcp-session-id"]
    assert len(sessionId) >= 32 and all(0x21 <= ord(c) <= 0x7E for c in sessionId)
    assert response.json() == {"jsonrpc": "2.0", "id": 0, "result": {
        "protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
        "serverInfo": {"name": "fake", "version": "0"}}}


def test_unsupported_client_version_gets_the_latest() -> None:
    h = Harness()
    h.initialize()
    response = h.request("POST", "/srv/mcp", {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {}}})
    assert response.json()["result"]["protocolVersion"] == "2025-11-25"


def test_many_sessions_one_child_one_handshake() -> None:
    h = Harness()
    pending = [h.request("POST", "/srv/mcp", {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {}}})
        for _ in range(3)]
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
    response = h.request("POST", "/srv/mcp", {"jsonrpc": "2.0",
                                              "method": "notifications/initialized"},
                         session=sid)
    assert response.status == 202 and response.body == b""
    assert "content-type" not in response.headers
    assert h.process().sentMessages() == before


def test_initialize_of_a_server_that_cannot_start_is_a_jsonrpc_error_not_http_400() -> None:
    h = Harness({"srv": spec("srv", executable=None)})
    response = h.request("POST", "/srv/mcp", {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {}}})
    assert response.status == 200
    assert "mcp-session-id" not in response.headers
    assert "not found on PATH" in response.json()["error"]["message"]
    assert len(h.gateway.sessions) == 0


# -- forwarding ---------------------------------------------------------------

def test_forwarded_request_is_an_sse_stream_closed_after_the_response() -> None:
    h = Harness()
    sid = h.initialize()
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
    assert b"id:" not in response.body  # no event ids without replay


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
    h.process().reply({"jsonrpc": "2.0", "method": "notifications/progress",
                       "params": {"progressToken": fa["params"]["_meta"]["progressToken"],
                                  "progress": 1}})
    assert ra.events() == [{"jsonrpc": "2.0", "method": "notifications/progress",
                            "params": {"progressToken": "tok", "progress": 1}}]
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
    response.protocol.connectionLost(Failure(ConnectionDone()))
    assert childRequests(h, "notifications/cancelled") == []
    forwarded = childRequests(h)[-1]
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {}})  # no crash
    assert h.gateway.pools["srv"].shared.router.inFlight == 0


def test_child_exit_answers_pending_requests_and_the_next_request_gets_a_fresh_child() -> None:
    h = Harness()
    sid = h.initialize()
    response = call(h, sid, requestId=3)
    h.process().stderr(b"panic: out of cheese\n")
    h.process().exit(2)
    [event] = response.events()
    assert event["id"] == 3 and event["error"]["code"] == -32002
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
    assert again.events() == [{"jsonrpc": "2.0", "id": 4, "result": {"ok": True}}]


# -- child-to-client requests --------------------------------------------------

def test_sampling_request_reaches_the_calling_session_and_its_answer_returns() -> None:
    h = Harness()
    sid = h.initialize(capabilities={"sampling": {}})
    response = call(h, sid, requestId=1)
    h.process().reply({"jsonrpc": "2.0", "id": 0, "method": "sampling/createMessage",
                       "params": {"messages": [], "maxTokens": 5}})
    [asked] = response.events()
    assert asked["method"] == "sampling/createMessage" and asked["id"] != 0
    answer = h.request("POST", "/srv/mcp", {"jsonrpc": "2.0", "id": asked["id"],
                                            "result": {"role": "assistant"}}, session=sid)
    assert answer.status == 202 and answer.body == b""
    assert h.process().sentMessages()[-1] == {"jsonrpc": "2.0", "id": 0,
                                              "result": {"role": "assistant"}}


def test_sampling_for_a_client_without_the_capability_is_refused_to_the_child() -> None:
    h = Harness()
    sid = h.initialize(capabilities={})
    response = call(h, sid)
    h.process().reply({"jsonrpc": "2.0", "id": 9, "method": "sampling/createMessage",
                       "params": {}})
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
    first.protocol.connectionLost(Failure(ConnectionDone()))
    assert h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream").status == 200
    assert h.reactor.getDelayedCalls() and all(
        c.active() for c in h.reactor.getDelayedCalls())


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
    assert childRequests(h, "notifications/cancelled")[-1]["params"]["requestId"] == \
        forwarded["id"]
    assert pending.complete and pending.events() == []
    assert call(h, sid).status == 404
    assert h.request("DELETE", "/srv/mcp", session=sid).status == 404


def test_session_of_another_server_is_404() -> None:
    h = Harness({"srv": spec("srv"), "other": spec("other")})
    sid = h.initialize("srv")
    assert h.request("POST", "/other/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                     session=sid).status == 404


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
    ok = call(h, sid, method="tools/list", headers={"mcp-protocol-version": "2025-06-18"})
    assert started(h, ok).status == 200


def test_modern_era_never_reaches_a_child() -> None:
    h = Harness()
    discover = h.request("POST", "/srv/mcp", {"jsonrpc": "2.0", "id": "d", "method":
                                              "server/discover"},
                         headers={"mcp-protocol-version": "2026-07-28"})
    assert discover.status == 404
    assert discover.json() == {"jsonrpc": "2.0", "id": "d", "error": {
        "code": -32601, "message": discover.json()["error"]["message"]}}
    assert h.reactor.processes == []
    sid = h.initialize()
    meta = call(h, sid, params={"name": "x", "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28"}})
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
    modern = h.initialize(version="2025-06-18")
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
             {"jsonrpc": "2.0", "id": 2, "method": "prompts/list"}]
    rejected = h.request("POST", "/srv/mcp", batch, session=modern)
    assert rejected.status == 400 and rejected.json()["error"]["code"] == -32600
    old = h.initialize(version="2025-03-26")
    accepted = h.request("POST", "/srv/mcp", batch, session=old)
    lists = childRequests(h, "tools/list") + childRequests(h, "prompts/list")
    assert len(lists) == 2
    for sent in lists:
        h.process().reply({"jsonrpc": "2.0", "id": sent["id"], "result": {}})
    assert sorted(e["id"] for e in accepted.events()) == [1, 2]
    assert accepted.complete
    withInit = h.request("POST", "/srv/mcp", [{"jsonrpc": "2.0", "id": 1, "method":
                                               "initialize", "params": {}}], session=old)
    assert withInit.status == 400


def test_origin_and_host_guard() -> None:
    h = Harness()
    evil = h.request("POST", "/srv/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"},
                     headers={"origin": "http://evil.example.com"})
    assert evil.status == 403
    rebound = h.request("GET", "/health", headers={"host": "evil.example.com:9100"})
    assert rebound.status == 421
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
    first = h.request("POST", "/srv/mcp", {
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {"roots": {}},
                   "clientInfo": {"name": "a"}}})
    [init] = childRequests(h, "initialize")
    assert init["params"]["clientInfo"] == {"name": "a"}
    h.process().reply({"jsonrpc": "2.0", "id": init["id"], "result": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "s"}}})
    assert first.json()["id"] == 0
    sid = first.headers["mcp-session-id"]
    h.request("POST", "/srv/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"},
              session=sid)
    assert childRequests(h, "notifications/initialized")
    second = h.request("POST", "/srv/mcp", {
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {}}})
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
    badSession = h.request("POST", "/srv/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"},
                           headers={"mcp-session-id": "\xe9t\xe9"})
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
    sid = h.initialize()
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
    h.process().reply({"jsonrpc": "2.0", "method": "notifications/progress", "params": {
        "progressToken": forwarded["params"]["_meta"]["progressToken"], "progress": 1}})
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {}})
    assert streamed.headers.get("transfer-encoding") == "chunked"
    assert [e.get("id") for e in streamed.events()] == [None, 2] and streamed.complete
