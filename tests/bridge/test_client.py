"""The bridge's HTTP side (L{mcpgateway.bridge.client.BridgeClient}) against
a fake agent on a L{Clock}: relaying, the GET stream, the gateway going away
and coming back, a session that is gone (404), the end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed, ResponseNeverReceived

from mcpgateway.bridge.client import DELETE_TIMEOUT
from mcpgateway.bridge.finder import BACKOFF
from mcpgateway.bridge.getstream import GET_CONFLICT_RETRY
from mcpgateway.bridge.link import LinkState
from tests.bridge.fakehttp import URL, sse, sseResponse
from tests.remote.fakehttp import FakeResponse
from tests.support.bridge.client import INIT, INIT_PARAMS, INIT_RESULT, INITIALIZED, Harness, result


def call(requestId: Any, name: str = "echo") -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": requestId, "method": "tools/call", "params": {"name": name}}


def test_messages_are_relayed_byte_for_byte_with_the_session_headers() -> None:
    h = Harness()
    h.initialize()
    line = (
        b'{"jsonrpc":"2.0","id":"a-1","method":"tools/call",'
        b'"params":{"name":"echo","_meta":{"progressToken":7}}}'
    )
    h.send(line)
    post = h.agent.one(b"POST")
    assert post.body == line
    assert post.header("mcp-session-id") == "s1"
    assert post.header("mcp-protocol-version") == "2025-11-25"
    assert post.header("accept") == "application/json, text/event-stream"
    progress = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": 7, "progress": 1},
    }
    sampling = {"jsonrpc": "2.0", "id": 0, "method": "sampling/createMessage", "params": {}}
    response = post.answer(sseResponse(stream=True))
    response.push(sse(progress, sampling))
    assert h.received() == [progress, sampling]
    # The client's answer to the server's request goes back as a POST.
    answer = {"jsonrpc": "2.0", "id": 0, "result": {"role": "assistant"}}
    h.send(answer)
    back = h.agent.one(b"POST")
    assert back.json == answer
    back.answer(FakeResponse(202))
    response.push(sse(result("a-1")))
    response.end()
    assert h.received() == [result("a-1")]
    assert h.out == []


def test_json_answers_and_get_stream_messages_reach_the_client() -> None:
    h = Harness()
    get = h.initialize()
    stream = get.answer(sseResponse(stream=True))
    pushed = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
    stream.push(sse(pushed, eventId="g-1"))
    assert h.received() == [pushed]
    h.send({"jsonrpc": "2.0", "id": 5, "method": "ping"})
    h.agent.one(b"POST").answer(FakeResponse(200, b'{"jsonrpc":"2.0","id":5,"result":{}}\n'))
    assert h.received() == [{"jsonrpc": "2.0", "id": 5, "result": {}}]
    # The stream ends (the gateway restarts it): opened again, resuming.
    stream.end()
    h.clock.advance(1)
    again = h.agent.one(b"GET")
    assert again.header("last-event-id") == "g-1"


def test_get_stream_conflict_is_retried_and_405_is_not() -> None:
    h = Harness()
    get = h.initialize()
    get.answer(FakeResponse(409, b"{}"))
    h.clock.advance(GET_CONFLICT_RETRY)
    h.agent.one(b"GET").answer(FakeResponse(405, b""))
    h.clock.advance(60)
    assert h.agent.take() == []


def test_gateway_refuses_then_comes_back_and_the_session_resumes() -> None:
    h = Harness()
    get = h.initialize()
    stream = get.answer(sseResponse(stream=True))
    # The gateway goes away: the GET stream breaks, the next call is refused.
    stream.end(Failure(ResponseFailed([Failure(ConnectionLost())])))
    h.clock.advance(0.3)
    h.agent.one(b"GET").refuse()
    assert h.client.state is LinkState.DOWN
    h.send(call(7))
    assert h.agent.take() == []  # waiting, not sent
    # Probes with a bounded backoff on the clock, refused each time.
    delays = []
    for _ in range(10):
        before = h.clock.seconds()
        while not h.agent.sent:
            h.clock.advance(0.01)
        delays.append(round(h.clock.seconds() - before, 2))
        probe = h.agent.one(b"GET")
        assert probe.uri.endswith(b"/health")
        probe.refuse()
    assert max(delays) <= BACKOFF[-1] + 0.01
    assert delays == sorted(delays)
    # Back: the waiting call goes out with the same session id.
    h.clock.advance(BACKOFF[-1])
    h.agent.one(b"GET").answer(FakeResponse(200, b"{}"))
    sent = h.agent.take()
    posts = [s for s in sent if s.method == b"POST"]
    assert [p.json for p in posts] == [call(7)]
    assert posts[0].header("mcp-session-id") == "s1"
    assert any(s.method == b"GET" and s.header("accept") == "text/event-stream" for s in sent)
    posts[0].answer(sseResponse(result(7)))
    assert h.received() == [result(7)]


def refusedCall(requestId: int) -> Harness:
    """An initialized bridge with a 10 s timeout whose call C{requestId} the
    gateway refused (it is away)."""
    h = Harness(timeout=10)
    h.initialize()
    h.send(call(requestId))
    h.agent.one(b"POST").refuse()
    return h


def test_a_request_waits_at_most_its_timeout_for_a_gateway_that_stays_away() -> None:
    h = refusedCall(1)
    h.clock.advance(9.9)
    assert h.received() == []
    h.clock.advance(0.2)
    [error] = h.received()
    assert error["id"] == 1
    assert error["error"]["code"] == -32000
    assert URL in error["error"]["message"] and "not reachable" in error["error"]["message"]


def test_a_call_whose_connection_breaks_before_an_answer_gets_an_error() -> None:
    h = Harness()
    h.initialize()
    h.send(call(2))
    h.agent.one(b"POST").fail(ResponseNeverReceived([Failure(ConnectionLost())]))
    [error] = h.received()
    assert error["id"] == 2 and "broke before it answered" in error["error"]["message"]
    assert h.client.state is LinkState.DOWN


def test_a_call_whose_answer_stream_breaks_gets_an_error_in_plain_words() -> None:
    h = Harness()
    h.initialize()
    h.send(call(2))
    stream = h.agent.one(b"POST").answer(sseResponse(stream=True))
    stream.end(Failure(ResponseFailed([Failure(ConnectionDone()), Failure(ConnectionLost())])))
    [error] = h.received()
    message = error["error"]["message"]
    assert error["id"] == 2 and "broke before it answered" in message
    assert (
        "(Connection was closed cleanly.; Connection to the other side was lost in a"
        " non-clean fashion.)" in message
    )
    assert "<" not in message and "Failure" not in message


def test_a_notification_whose_connection_breaks_is_sent_again() -> None:
    h = Harness()
    h.initialize()
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}}
    h.send(cancel)
    h.agent.one(b"POST").fail(ResponseNeverReceived([Failure(ConnectionLost())]))
    h.clock.advance(BACKOFF[0])
    h.agent.one(b"GET").answer(FakeResponse(200, b"{}"))
    assert [s.json for s in h.agent.take() if s.method == b"POST"] == [cancel]


def test_a_session_gone_is_initialized_again_with_the_original_params() -> None:
    h = Harness()
    h.initialize("old")
    h.send(call(3))
    with capturedLogs() as events:
        h.agent.one(b"POST").answer(FakeResponse(404, b'{"error":{}}'))
        reinit = h.agent.one(b"POST")
        assert reinit.header("mcp-session-id") is None
        assert reinit.json["method"] == "initialize"
        assert reinit.json["params"] == INIT_PARAMS
        assert reinit.json["id"] != 0
        answer = dict(INIT_RESULT, id=reinit.json["id"])
        reinit.answer(sseResponse(answer, headers={b"mcp-session-id": b"new"}))
        initialized = h.agent.one(b"POST")
        assert initialized.json == INITIALIZED
        assert initialized.header("mcp-session-id") == "new"
        initialized.answer(FakeResponse(202))
    sent = h.agent.take()
    again = [s for s in sent if s.method == b"POST"]
    assert [s.json for s in again] == [call(3)]
    assert again[0].header("mcp-session-id") == "new"
    assert any(s.method == b"GET" for s in sent)
    again[0].answer(sseResponse(result(3)))
    assert h.received() == [result(3)]  # the client never saw the bridge's initialize
    text = " ".join(str(e.get("log_format", "")).format(**e) for e in events)
    assert "old" in text and "new" in text and "404" in text


def test_an_error_status_is_answered_with_the_request_id() -> None:
    h = Harness()
    h.connect()
    h.send({"jsonrpc": "2.0", "id": "d", "method": "server/discover"})
    body = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"Method not found"}}'
    h.agent.one(b"POST").answer(FakeResponse(404, body))
    [error] = h.received()
    assert error == {
        "jsonrpc": "2.0",
        "id": "d",
        "error": {"code": -32601, "message": "Method not found"},
    }


def test_no_gateway_starts_one_then_connects() -> None:
    starts: list[Deferred[str | None]] = []

    def start() -> Deferred[str | None]:
        d: Deferred[str | None] = Deferred()
        starts.append(d)
        return d

    h = Harness(locate=None, start=start)
    h.client.connect()
    h.send(INIT)
    h.clock.advance(0)
    assert len(starts) == 1
    h.url = URL
    starts[0].callback(None)
    h.clock.advance(0)
    h.agent.one(b"GET").answer(FakeResponse(200, b"{}"))
    post = h.agent.one(b"POST")
    assert post.json == INIT


def test_a_start_that_fails_answers_the_waiting_requests() -> None:
    h = Harness(locate=None, start=lambda: succeed("twistd said no"))
    h.client.connect()
    h.send(INIT)
    with capturedLogs():
        h.clock.advance(0)
    [error] = h.received()
    assert error["id"] == 0 and "twistd said no" in error["error"]["message"]
    # It is not started twice; it keeps looking for one.
    h.clock.advance(10)
    assert h.agent.take() == []


def test_the_end_deletes_the_session_within_a_bound() -> None:
    h = Harness()
    h.initialize()
    closed = h.client.close()
    delete = h.agent.one(b"DELETE")
    assert delete.header("mcp-session-id") == "s1"
    assert not closed.called
    h.clock.advance(DELETE_TIMEOUT)
    assert closed.called
    assert h.client.close() is closed
    h.clock.advance(100)
    assert h.agent.take() == []  # no probes, no GET reopened, nothing


def test_the_end_before_any_session_sends_nothing() -> None:
    h = Harness()
    h.connect()
    assert h.client.close().called
    assert h.agent.take() == []


def logText(events: Sequence[Mapping[str, Any]]) -> str:
    return " ".join(str(e.get("log_format", "")).format(**e) for e in events)


def test_stdin_end_waits_for_the_answers_to_the_requests_sent_before() -> None:
    # printf 'initialize\ninitialized\ntools/call\n' | mcpgateway bridge URL
    h = Harness()
    h.connect()
    h.send(INIT)
    h.send(INITIALIZED)
    h.send(call(1))
    h.send({"jsonrpc": "2.0", "id": "d", "method": "server/discover"})
    init = h.agent.one(b"POST")  # the rest waits for initialize's answer
    drained = h.client.drain()
    assert not drained.called
    init.answer(sseResponse(INIT_RESULT, headers={b"mcp-session-id": b"s1"}))
    note, first, discover = h.agent.take()
    assert [note.json, first.json] == [INITIALIZED, call(1)]
    note.answer(FakeResponse(202))
    discover.answer(FakeResponse(400, b'{"jsonrpc":"2.0","id":null,"error":{"code":-32601}}'))
    assert not drained.called
    # The answer ends the wait even before its stream does.
    stream = first.answer(sseResponse(stream=True))
    stream.push(sse(result(1)))
    assert drained.called
    assert [m.get("id") for m in h.received()] == [0, "d", 1]
    h.client.close()
    assert h.agent.take()[-1].method == b"DELETE"


def test_stdin_end_waits_for_requests_queued_for_an_unreachable_gateway() -> None:
    h = refusedCall(2)
    h.clock.advance(4)
    with capturedLogs() as events:
        drained = h.client.drain()
        h.clock.advance(5.9)
        assert not drained.called
        h.clock.advance(0.2)  # its own timeout: answered with an error, so no longer awaited
    [error] = h.received()
    assert error["id"] == 2 and error["error"]["code"] == -32000
    assert drained.called
    # stderr says what the wait is for, then which requests got the error.
    text = logText(events)
    assert f"the gateway at {URL} is not reachable" in text and "still trying" in text
    assert "1 request(s) got an error" in text and "tools/call (id 2)" in text
    assert h.client.gaveUpAtEnd == ["tools/call (id 2)"]


def test_stdin_end_before_any_gateway_is_found_says_so_and_errors_count() -> None:
    # printf '...' | mcpgateway bridge --no-start SERVER, no gateway running.
    h = Harness(locate=None, timeout=3)
    h.client.connect()
    h.send(call(1))  # answered with an error before stdin's end: not counted
    h.clock.advance(3)
    assert [m["id"] for m in h.received()] == [1]
    h.send(INIT)
    h.send(call(2))
    with capturedLogs() as events:
        drained = h.client.drain()
        assert "no gateway is running: still trying" in logText(events)
        h.clock.advance(3)
    assert drained.called
    assert [m["error"]["code"] for m in h.received()] == [-32000, -32000]
    assert h.client.gaveUpAtEnd == ["initialize (id 0)", "tools/call (id 2)"]


def test_stdin_end_gives_up_at_the_timeout_and_says_what_went_unanswered() -> None:
    h = Harness(timeout=30)
    h.initialize()
    h.send(call(7, "slow"))
    h.send(call("x"))
    _, fast = h.agent.take()
    fast.answer(sseResponse(result("x")))
    h.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {}})
    with capturedLogs() as events:
        drained = h.client.drain()
        h.clock.advance(29.9)
        assert not drained.called
        h.clock.advance(0.1)
    assert drained.called
    text = logText(events)
    assert "30 s" in text and "tools/call (id 7)" in text and '"x"' not in text
    assert h.received() == [result("x")]


def test_stdin_end_with_no_request_awaited_ends_at_once() -> None:
    h = Harness()
    h.initialize()
    h.send(call(1))
    h.agent.one(b"POST").answer(sseResponse(result(1)))
    h.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {}})
    assert h.client.drain().called  # a notification in flight is not waited for


def test_the_end_during_the_wait_stops_it_and_says_what_went_unanswered() -> None:
    # SIGTERM after stdin's end (the MCP stdio shutdown: close stdin, wait, SIGTERM).
    h = Harness()
    h.initialize()
    h.send(call(4))
    h.agent.one(b"POST")
    drained = h.client.drain()
    with capturedLogs() as events:
        h.client.close()
    assert drained.called
    assert "tools/call (id 4)" in logText(events)
    assert h.agent.one(b"DELETE").header("mcp-session-id") == "s1"


def test_every_request_carries_the_owner_token_read_when_the_gateway_is_found() -> None:
    """Where the gateway cannot name a connection's account, its door lets
    in only the requests that carry the owner token: the probe, the
    session's POSTs, its GET stream and its DELETE. The token is read each
    time the gateway is found again (a new one after a restart)."""
    tokens = ["first"]
    asked: list[str] = []

    def ownerHeaders(url: str) -> dict[str, str]:
        asked.append(url)
        return {"Mcp-Gateway-Owner": tokens[-1]}

    h = Harness(ownerHeaders=ownerHeaders)
    h.client.connect()
    h.clock.advance(0)
    probe = h.agent.one(b"GET")
    assert probe.header("mcp-gateway-owner") == "first" and asked == [URL]
    probe.answer(FakeResponse(200, b'{"status":"ok"}'))
    h.send(INIT)
    post = h.agent.one(b"POST")
    assert post.header("mcp-gateway-owner") == "first"
    post.answer(sseResponse(INIT_RESULT, headers={b"mcp-session-id": b"s1"}))
    h.send(INITIALIZED)
    h.agent.one(b"POST").answer(FakeResponse(202))
    get = h.agent.one(b"GET")
    assert get.header("mcp-gateway-owner") == "first"
    # The gateway restarts with a new token: found again, the new one goes.
    tokens.append("second")
    get.answer(sseResponse(stream=True)).end(Failure(ResponseFailed([Failure(ConnectionLost())])))
    h.clock.advance(0.3)
    h.agent.one(b"GET").refuse()
    while not h.agent.sent:
        h.clock.advance(0.01)
    again = h.agent.one(b"GET")
    assert again.uri.endswith(b"/health") and again.header("mcp-gateway-owner") == "second"
    again.answer(FakeResponse(200, b"{}"))
    assert all(s.header("mcp-gateway-owner") == "second" for s in h.agent.take())
    closing = h.client.close()
    delete = h.agent.one(b"DELETE")
    assert delete.header("mcp-gateway-owner") == "second"
    delete.answer(FakeResponse(200))
    assert closing is not None
