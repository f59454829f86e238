"""L{mcpgateway.remote.streamable.StreamableChild} against a fake agent on a
L{Clock}: the session's headers, JSON and SSE answers, a server that cannot
be reached or refuses, and the end (its streams: test_streamable_streams)."""

from __future__ import annotations

from typing import Any

import pytest

from mcpgateway.core.child import Child
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.getstream import GET_BACKOFF
from mcpgateway.remote.streamable import STOP_TIMEOUT
from tests.remote.fakehttp import (
    FakeResponse,
    Sent,
    event,
    jsonResponse,
    sse,
    sseResponse,
)
from tests.support.remote.streamable import (
    INIT,
    INITIALIZED,
    NAME,
    SAMPLING,
    SERVER_VERSION,
    URL,
    Harness,
    assertUnavailable,
    call,
    initResult,
    progress,
    result,
    streamingCall,
)


def servingCall(request: dict[str, Any], callId: Any) -> dict[str, Any]:
    """C{request} as the router gets it from the stream answering call
    C{callId}: with the gateway's hint that it serves that call."""
    return {**request, "params": {"_meta": {"mcpgateway/relatedRequestId": callId}}}


# -- the session's headers ----------------------------------------------------------


def test_a_streamable_child_is_a_child() -> None:
    child: Child = Harness().child
    assert child.pid is None and not child.exited and child.howItEnded() == "still open"


def test_initialize_captures_the_session_and_later_posts_carry_it_with_the_entry_headers() -> None:
    h = Harness()
    h.child.send(INIT)
    post = h.agent.one(b"POST")
    assert post.uri == URL.encode()
    assert post.json == INIT
    assert post.header("mcp-session-id") is None
    assert post.header("mcp-protocol-version") is None
    assert post.header("accept") == "application/json, text/event-stream"
    assert post.header("content-type") == "application/json"
    assert post.header("authorization") == "Bearer k-123"
    assert post.header("x-team") == "blue"
    post.answer(jsonResponse(initResult(), headers={b"mcp-session-id": b"abc-1"}))
    assert h.received() == [initResult()]
    assert h.child.sessionId == "abc-1"
    assert h.child.protocolVersion == SERVER_VERSION
    later = h.request(call(1))
    assert later.json == call(1)
    assert later.header("mcp-session-id") == "abc-1"
    assert later.header("mcp-protocol-version") == SERVER_VERSION
    assert later.header("authorization") == "Bearer k-123"
    assert later.header("x-team") == "blue"
    assert h.child.bytesOut == len(jsonrpc.dumps(INIT)) + len(jsonrpc.dumps(call(1)))


def test_an_sse_answer_to_initialize_captures_the_session_too() -> None:
    h = Harness()
    post = h.request(INIT)
    post.answer(sseResponse(initResult(), headers={b"mcp-session-id": b"sse-1"}))
    assert h.received() == [initResult()]
    assert h.child.sessionId == "sse-1"
    assert h.request(call(1)).header("mcp-session-id") == "sse-1"


def test_a_protocol_version_that_cannot_be_a_header_is_not_sent() -> None:
    h = Harness()
    h.request(INIT).answer(
        jsonResponse(initResult(version="2025\n06"), headers={b"mcp-session-id": b"s"})
    )
    assert h.child.protocolVersion is None
    assert h.request(call(1)).header("mcp-protocol-version") is None


def test_messages_sent_during_initialize_wait_for_its_session() -> None:
    h = Harness()
    h.child.send(INIT)
    h.child.send(INITIALIZED)
    h.child.send(call(1))
    init = h.agent.one(b"POST")
    assert init.json == INIT
    init.answer(jsonResponse(initResult(), headers={b"mcp-session-id": b"s1"}))
    initialized = h.agent.one(b"POST")
    assert initialized.json == INITIALIZED
    initialized.answer(FakeResponse(202))
    [first] = [r for r in h.agent.take() if r.method == b"POST"]
    assert first.json == call(1)
    assert initialized.header("mcp-session-id") == first.header("mcp-session-id") == "s1"
    assert first.header("mcp-protocol-version") == SERVER_VERSION


def test_nothing_follows_notifications_initialized_until_the_server_took_it() -> None:
    h = Harness()
    h.initialize()
    h.child.send(INITIALIZED)
    initialized = h.agent.one(b"POST")
    h.child.send(call(1))  # a request on another connection could overtake it
    assert h.agent.take() == []
    initialized.answer(FakeResponse(202))
    sent = h.agent.take()
    assert [r.json for r in sent if r.method == b"POST"] == [call(1)]


def test_a_refused_notifications_initialized_still_lets_what_follows_go() -> None:
    h = Harness()
    h.initialize()
    h.child.send(INITIALIZED)
    initialized = h.agent.one(b"POST")
    h.child.send(call(1))
    initialized.answer(FakeResponse(500, b"oops"))
    assert [r.json for r in h.agent.take() if r.method == b"POST"] == [call(1)]


def test_hurry_sends_nothing_more() -> None:
    h = Harness()
    h.initialize()
    h.child.hurry()
    assert h.agent.take() == []


# -- answers ---------------------------------------------------------------------------


def test_a_json_answer_is_delivered() -> None:
    h = Harness()
    h.initialize()
    h.request(call(1)).answer(jsonResponse(result(1)))
    assert h.received() == [result(1)]
    assert h.child.responses == 2


def test_a_json_batch_answer_delivers_each_message() -> None:
    h = Harness()
    h.initialize()
    h.request(call(1)).answer(jsonResponse([progress(1), result(1)]))
    assert h.received() == [progress(1), result(1)]


def test_an_sse_answer_is_delivered() -> None:
    h = Harness()
    h.initialize()
    h.request(call("a")).answer(sseResponse(result("a")))
    assert h.received() == [result("a")]


def test_server_requests_and_notifications_in_a_post_stream_are_delivered_as_they_come() -> None:
    h, stream = streamingCall()
    stream.push(sse(progress(1)))
    assert h.received() == [progress(1)]
    stream.push(sse(SAMPLING))
    assert h.received() == [servingCall(SAMPLING, 1)]
    # The client's answer to the server's request is POSTed like any message.
    answer = {"jsonrpc": "2.0", "id": 0, "result": {"role": "assistant"}}
    back = h.request(answer)
    assert back.json == answer and back.header("mcp-session-id") == "s1"
    back.answer(FakeResponse(202))
    stream.push(sse(progress(2), result(1)))
    stream.end()
    assert h.received() == [progress(2), result(1)]
    assert h.stderr == []


def test_a_server_cannot_name_the_request_its_own_request_serves() -> None:
    """Only the stream a request came on says whose it is: a hint the server
    wrote itself is dropped, on a call's stream and on the GET stream."""
    h, stream = streamingCall()
    forged = {**SAMPLING, "params": {"_meta": {"mcpgateway/relatedRequestId": 9, "k": 1}}}
    stream.push(sse(forged))
    [got] = h.received()
    assert got["params"]["_meta"] == {"mcpgateway/relatedRequestId": 1, "k": 1}
    get = h.initialized()
    getStream = get.answer(sseResponse(stream=True))
    getStream.push(sse(forged))
    [got] = h.received()
    assert got["params"]["_meta"] == {"k": 1}


def test_a_request_answered_without_a_response_gets_an_error() -> None:
    h = Harness()
    h.initialize()
    h.request(call(4)).answer(FakeResponse(202))
    [error] = h.received()
    assertUnavailable(error, 4, "answered the request without a response")


@pytest.mark.parametrize(
    ("body", "said"), [(b"<html>oops</html>", True), (b"{}", False)], ids=["non-JSON", "{}"]
)
def test_a_request_answered_with_no_json_rpc_response_gets_an_error(
    body: bytes, said: bool
) -> None:
    """A non-JSON answer is skipped (and said on stderr); an empty object
    is no response either."""
    h = Harness()
    h.initialize()
    h.request(call(4)).answer(FakeResponse(200, body))
    [error] = h.received()
    assertUnavailable(error, 4, "without a response")
    assert any("non-JSON" in line for line in h.stderr) == said


def test_an_empty_object_answering_a_notification_is_not_delivered() -> None:
    h = Harness()
    h.initialize()
    cancelled = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}}
    h.request(cancelled).answer(FakeResponse(200, b"{}"))
    answer = {"jsonrpc": "2.0", "id": 0, "result": {}}
    h.request(answer).answer(FakeResponse(200, b"{}"))
    assert h.received() == []
    assert h.stderr == []


def test_what_answers_a_notification_or_a_response_is_not_delivered() -> None:
    h = Harness()
    h.initialize()
    said = {"jsonrpc": "2.0", "id": 5, "result": {"note": "accepted"}}
    h.request(INITIALIZED).answer(jsonResponse(said))
    h.agent.take()
    h.request({"jsonrpc": "2.0", "id": 0, "result": {}}).answer(jsonResponse(said))
    assert h.received() == []


def test_empty_objects_in_a_stream_are_not_delivered() -> None:
    h = Harness()
    stream = h.open()
    stream.push(event(b"{}"))
    post = h.request(call(1)).answer(sseResponse(stream=True))
    post.push(event(b"{}") + sse(result(1)))
    post.end()
    assert h.received() == [result(1)]


def test_request_ids_that_compare_equal_across_types_are_different_requests() -> None:
    h = Harness()
    h.initialize()
    one = h.request(call(1))
    other = h.request(call(1.0))
    other.answer(jsonResponse(result(1.0)))
    one.answer(FakeResponse(202))
    [answer, error] = h.received()
    assert answer == result(1.0) and isinstance(answer["id"], float)
    assertUnavailable(error, 1, "without a response")
    assert isinstance(error["id"], int)


# -- a server that cannot be reached or refuses -----------------------------------------------


def test_connection_refused_answers_the_request_with_an_error() -> None:
    h = Harness()
    h.initialize()
    h.request(call(1)).refuse()
    [error] = h.received()
    assertUnavailable(error, 1, "not reachable", "refused")
    assert h.stderr == [error["error"]["message"]]
    assert list(h.child.stderrTail) == h.stderr
    assert not h.child.exited


def test_an_unreachable_server_at_initialize_answers_it_and_lets_the_rest_go() -> None:
    h = Harness()
    h.child.send(INIT)
    h.child.send(call(1))
    h.agent.one(b"POST").refuse()
    [error] = h.received()
    assertUnavailable(error, 0, "refused")
    assert [s.json for s in h.agent.take()] == [call(1)]


def test_a_5xx_answers_the_request_with_an_error_quoting_the_body() -> None:
    h = Harness()
    h.initialize()
    answer = h.request(call(1)).answer(FakeResponse(500, b"  internal trouble  " + b"x" * 500))
    assert answer.ended
    [error] = h.received()
    assertUnavailable(error, 1, "HTTP 500: internal trouble")
    assert "x" * 300 not in error["error"]["message"]


def test_a_401_answers_the_request_with_an_error_about_credentials() -> None:
    h = Harness()
    h.initialize()
    h.request(call(1)).answer(FakeResponse(401))
    [error] = h.received()
    assertUnavailable(error, 1, "HTTP 401", "credentials")


def test_a_refused_notification_is_said_but_not_answered() -> None:
    h = Harness()
    h.initialize()
    h.request({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}).answer(
        FakeResponse(500)
    )
    assert h.received() == []
    assert h.stderr == [f"server '{NAME}': the remote server at {URL} answered HTTP 500"]


# -- the end ---------------------------------------------------------------------------------


def test_stop_deletes_the_session_with_its_id_and_fires_ended() -> None:
    h = Harness()
    getStream = h.open()
    stopped: list[object] = []
    h.child.stop().addCallback(stopped.append)
    delete = h.agent.one(b"DELETE")
    assert delete.uri == URL.encode()
    assert delete.header("mcp-session-id") == "s1"
    assert delete.header("mcp-protocol-version") == SERVER_VERSION
    assert delete.header("authorization") == "Bearer k-123"
    assert getStream.aborted
    assert not h.ended() and stopped == []
    answer = delete.answer(FakeResponse(204))
    assert answer.ended
    assert h.ended() and stopped == [None]
    assert h.child.howItEnded() == "closed by the gateway"
    h.clock.advance(STOP_TIMEOUT)
    assert h.clock.getDelayedCalls() == []


def test_stop_gives_up_on_a_delete_that_does_not_answer() -> None:
    h = Harness()
    h.initialize()
    stopped: list[object] = []
    h.child.stop().addCallback(stopped.append)
    h.agent.one(b"DELETE")
    h.clock.advance(STOP_TIMEOUT - 0.01)
    assert stopped == []
    h.clock.advance(0.01)
    assert stopped == [None] and h.ended()


def test_stop_ends_at_once_without_a_session() -> None:
    h = Harness()
    stopped: list[object] = []
    h.child.stop().addCallback(stopped.append)
    assert h.agent.take() == []
    assert stopped == [None] and h.ended()
    # Stopping what has ended is done already.
    again: list[object] = []
    h.child.stop().addCallback(again.append)
    assert again == [None]


def test_signal_kill_ends_at_once() -> None:
    h = Harness()
    getStream = h.open()
    stream = h.request(call(1)).answer(sseResponse(stream=True))
    h.child.signal("KILL")
    assert h.ended() and h.child.exited
    assert h.child.howItEnded() == "closed by the gateway (SIGKILL)"
    assert isinstance(h.child.exitReason, object) and h.child.exitReason is not None
    delete = h.agent.one(b"DELETE")
    assert delete.header("mcp-session-id") == "s1"
    assert getStream.aborted
    # Nothing more goes up, and nothing more comes down.
    stream.push(sse(result(1)))
    h.child.send(call(2))
    assert h.received() == [] and h.agent.take() == []
    delete.answer(FakeResponse(200))
    h.clock.advance(3600)
    assert h.agent.take() == []


def test_how_it_ended_says_why() -> None:
    h = Harness()
    assert h.child.howItEnded() == "still open"
    h.child.signal("TERM")
    assert h.child.howItEnded() == "closed by the gateway (SIGTERM)"
    assert str(h.child.exitReason.value if h.child.exitReason else "") == h.child.howItEnded()


def test_a_kill_for_a_reason_says_it() -> None:
    h = Harness()
    h.child.kill("did not answer a health ping")
    assert h.ended()
    assert (
        h.child.howItEnded() == "closed by the gateway (SIGKILL): it did not answer a health ping"
    )
    h.child.kill("again")  # an ended child keeps its reason
    assert h.child.howItEnded().endswith("it did not answer a health ping")


def test_an_answer_arriving_after_the_end_is_read_and_dropped() -> None:
    h = Harness()
    h.initialize()
    post = h.request(call(1))
    h.child.signal("KILL")
    answer = post.answer(jsonResponse(result(1)))
    assert answer.delivered and answer.ended
    assert h.received() == []


# -- known defects: each test states the behaviour the code should have ------------------------


def test_the_get_stream_resumes_from_its_own_last_event_id() -> None:
    h = Harness()
    stream = h.open()
    stream.push(sse(progress(1), ids=["get-1"]))
    h.request(call(1)).answer(sseResponse(result(1), ids=["post-9"]))
    stream.end()
    h.clock.advance(GET_BACKOFF[0])
    assert h.agent.one(b"GET").header("last-event-id") == "get-1"


def twoCallsOnALostSession() -> tuple[Harness, Sent]:
    """Calls 1 and 2 on session C{old}, the first answered 404 (the server
    lost the session): the harness and the second call, not yet answered."""
    h = Harness()
    h.initialize("old")
    first = h.request(call(1))
    second = h.request(call(2))
    first.answer(FakeResponse(404))
    return h, second


def test_requests_refused_together_by_a_lost_session_are_all_resent_on_the_new_one() -> None:
    h, second = twoCallsOnALostSession()
    second.answer(FakeResponse(404))  # while the new session is being made
    h.reinitialized()
    assert h.received() == []
    resent = h.agent.take()
    assert [s.json for s in resent] == [call(1), call(2)]
    assert all(s.header("mcp-session-id") == "new" for s in resent)
    assert h.child.reinitializations == 1


def test_a_late_404_of_the_old_session_is_resent_on_the_new_one() -> None:
    h, second = twoCallsOnALostSession()
    h.reinitialized()
    assert [s.json for s in h.agent.take()] == [call(1)]
    second.answer(FakeResponse(404))  # sent on the old session, answered late
    assert h.received() == []
    [resent] = h.agent.take()
    assert resent.json == call(2) and resent.header("mcp-session-id") == "new"
    assert h.child.reinitializations == 1


def test_a_get_stream_answered_after_the_end_is_given_up() -> None:
    h = Harness()
    h.initialize()
    get = h.initialized()
    h.child.signal("KILL")
    stream = get.answer(sseResponse(stream=True))
    assert stream.aborted


def test_a_resent_client_response_keeps_the_request_of_the_same_id_waiting() -> None:
    h = Harness()
    h.initialize("old")
    stream = h.request(call(0)).answer(sseResponse(stream=True))
    stream.push(sse(SAMPLING))
    assert h.received() == [servingCall(SAMPLING, 0)]
    answer = {"jsonrpc": "2.0", "id": 0, "result": {"role": "assistant"}}
    h.request(answer).answer(FakeResponse(404))
    h.reinitialized()
    h.agent.one(b"POST").answer(FakeResponse(202))
    stream.end()  # the request's stream ends with no answer, and no id to resume from
    [error] = h.received()
    assertUnavailable(error, 0, "before answering it")
