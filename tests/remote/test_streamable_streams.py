"""L{mcpgateway.remote.streamable.StreamableChild}'s streams against a fake
agent on a L{Clock}: the GET stream, resuming a request's stream that drops,
and a session the server lost (404, or the SDK examples' 400)."""

from __future__ import annotations

from collections.abc import Sequence

from twisted.logger import LogEvent

from mcpgateway.remote.getstream import GET_BACKOFF
from mcpgateway.remote.streamresumer import RESUMES
from tests.remote.fakehttp import FakeResponse, jsonResponse, sse, sseResponse
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
    logged,
    logText,
    progress,
    result,
    streamingCall,
)

__all__ = ["logged"]  # the fixture: every test fails if the code logs a traceback


# -- the GET stream --------------------------------------------------------------------


def test_initialized_answered_202_opens_the_get_stream() -> None:
    h = Harness()
    h.initialize()
    get = h.initialized()
    assert get.uri == URL.encode()
    assert get.header("accept") == "text/event-stream"
    assert get.header("content-type") is None
    assert get.header("mcp-session-id") == "s1"
    assert get.header("mcp-protocol-version") == SERVER_VERSION
    assert get.header("authorization") == "Bearer k-123"
    assert get.header("last-event-id") is None
    stream = get.answer(sseResponse(stream=True))
    pushed = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
    stream.push(sse(pushed, SAMPLING, ids=["g-1", "g-2"]))
    assert h.received() == [pushed, SAMPLING]


def test_no_get_stream_before_the_client_is_initialized() -> None:
    h = Harness()
    h.initialize()
    h.request(call(1)).answer(FakeResponse(202))
    h.clock.advance(3600)
    assert [s.method for s in h.agent.take()] == []


def test_get_405_is_not_retried() -> None:
    h = Harness()
    h.initialize()
    get = h.initialized()
    answer = get.answer(FakeResponse(405, b"no"))
    assert answer.delivered and answer.ended
    h.clock.advance(3600)
    assert h.agent.take() == []
    assert h.stderr == []


def test_an_ended_get_stream_is_reopened_with_last_event_id_after_a_delay() -> None:
    h = Harness()
    stream = h.open()
    stream.push(sse(progress(1), ids=["g-7"]))
    stream.end()
    h.clock.advance(GET_BACKOFF[0] - 0.01)
    assert h.agent.take() == []
    h.clock.advance(0.01)
    again = h.agent.one(b"GET")
    assert again.header("last-event-id") == "g-7"
    assert again.header("mcp-session-id") == "s1"
    assert again.header("accept") == "text/event-stream"
    assert h.stderr == []


def test_an_ended_get_stream_waits_the_retry_the_server_gave() -> None:
    h = Harness()
    stream = h.open()
    stream.push(b"retry: 3000\n\n")
    stream.end()
    h.clock.advance(2.99)
    assert h.agent.take() == []
    h.clock.advance(0.01)
    assert h.agent.one(b"GET").header("last-event-id") is None


def test_a_failing_get_stream_backs_off_and_says_why() -> None:
    h = Harness()
    h.initialize()
    get = h.initialized()
    delays = []
    for _ in range(len(GET_BACKOFF) + 1):
        get.answer(FakeResponse(500, b"busy"))
        before = h.clock.seconds()
        while not h.agent.sent:
            h.clock.advance(0.25)
        delays.append(h.clock.seconds() - before)
        get = h.agent.one(b"GET")
    assert delays == [*GET_BACKOFF[1:], GET_BACKOFF[-1], GET_BACKOFF[-1]]
    assert h.stderr[0] == f"server '{NAME}': the GET stream of {URL} failed (HTTP 500)"
    # Opened at last: the next end waits the shortest delay again.
    stream = get.answer(sseResponse(stream=True))
    stream.end()
    h.clock.advance(GET_BACKOFF[0])
    h.agent.one(b"GET")


def test_an_unreachable_get_stream_is_retried() -> None:
    h = Harness()
    h.initialize()
    h.initialized().refuse()
    h.clock.advance(GET_BACKOFF[1])
    h.agent.one(b"GET")
    assert "refused" in h.stderr[-1]


# -- a stream that drops -----------------------------------------------------------------


def test_a_post_stream_dropped_before_the_response_resumes_with_get_and_last_event_id() -> None:
    h, stream = streamingCall()
    stream.push(sse(progress(1), ids=["e-1"]))
    stream.drop()
    resume = h.agent.one(b"GET")
    assert resume.header("last-event-id") == "e-1"
    assert resume.header("accept") == "text/event-stream"
    assert resume.header("mcp-session-id") == "s1"
    assert resume.header("mcp-protocol-version") == SERVER_VERSION
    assert resume.header("authorization") == "Bearer k-123"
    resume.answer(sseResponse(result(1), ids=["e-2"]))
    assert h.received() == [progress(1), result(1)]
    assert h.stderr == []


def test_a_post_stream_closed_cleanly_before_the_response_resumes_too() -> None:
    h, stream = streamingCall()
    stream.push(b"id: p-0\ndata:\n\n")  # a priming event: an id, no message
    stream.end()
    assert h.agent.one(b"GET").header("last-event-id") == "p-0"
    assert h.received() == []


def test_a_stream_without_ids_that_ends_early_answers_the_request_with_an_error() -> None:
    h, stream = streamingCall()
    stream.push(sse(progress(1)))
    stream.end()
    [note, error] = h.received()
    assert note == progress(1)
    assertUnavailable(error, 1, "ended the request's stream before answering it")
    assert h.agent.take() == []
    assert h.stderr == [error["error"]["message"]]


def test_a_stream_that_moves_on_is_resumed_each_time_it_drops() -> None:
    """A server that ends a call's stream after each event (it polls) has it
    resumed at once each time, more often than L{RESUMES}: each resume
    brought something new."""
    h, stream = streamingCall()
    for n in range(RESUMES + 2):
        stream.push(sse(progress(n), ids=[f"e-{n}"]))
        stream.end()
        resume = h.agent.one(b"GET")
        assert resume.header("last-event-id") == f"e-{n}"
        stream = resume.answer(sseResponse(stream=True))
    stream.push(sse(result(1), ids=["e-last"]))
    assert h.received() == [*(progress(n) for n in range(RESUMES + 2)), result(1)]


def test_resumes_that_bring_nothing_back_off_from_the_same_id_and_are_bounded() -> None:
    """A resumed stream that ends with no event (the server had nothing new
    yet) is resumed again from the same event id after a backoff; after
    L{RESUMES} such resumes the request is answered with an error."""
    h, stream = streamingCall()
    stream.push(sse(progress(1), ids=["e-1"]))
    stream.drop()
    assert h.received() == [progress(1)]
    for delay in (0.0, *GET_BACKOFF[: RESUMES - 1]):
        if delay:
            h.clock.advance(delay - 0.1)
            assert h.agent.take() == []
            h.clock.advance(0.1)
        resume = h.agent.one(b"GET")
        assert resume.header("last-event-id") == "e-1"
        resume.answer(sseResponse(stream=True)).end()
    h.clock.advance(60)
    assert h.agent.take() == []
    [error] = h.received()
    assertUnavailable(error, 1, "before answering it")


def test_a_resume_after_an_empty_one_gets_the_answer() -> None:
    h, stream = streamingCall()
    stream.push(sse(progress(1), ids=["e-1"]))
    stream.drop()
    h.agent.one(b"GET").answer(sseResponse(stream=True)).end()
    assert h.agent.take() == []
    h.clock.advance(GET_BACKOFF[0])
    resume = h.agent.one(b"GET")
    assert resume.header("last-event-id") == "e-1"
    resume.answer(sseResponse(result(1), ids=["e-2"]))
    assert h.received() == [progress(1), result(1)]


def test_a_stream_is_resumed_after_the_servers_retry_delay() -> None:
    h, stream = streamingCall()
    stream.push(b"retry: 2000\nid: p-0\ndata:\n\n")
    stream.end()
    h.clock.advance(1.9)
    assert h.agent.take() == []
    h.clock.advance(0.1)
    assert h.agent.one(b"GET").header("last-event-id") == "p-0"


def test_a_resume_the_server_refuses_answers_the_request_with_an_error() -> None:
    h, stream = streamingCall()
    stream.push(sse(progress(1), ids=["e-1"]))
    stream.drop()
    h.agent.one(b"GET").answer(FakeResponse(405))
    [_, error] = h.received()
    assertUnavailable(error, 1, "would not resume the request's stream (HTTP 405)")


def test_a_stream_that_ends_after_its_response_is_not_resumed() -> None:
    h, stream = streamingCall()
    stream.push(sse(result(1), ids=["e-1"]))
    stream.drop()
    assert h.agent.take() == []
    assert h.received() == [result(1)]


# -- a session the server lost -------------------------------------------------------------


def test_404_reinitializes_with_the_clients_params_and_resends_once(
    logged: Sequence[LogEvent],
) -> None:
    h = Harness()
    getStream = h.open("old")
    h.request(call(1)).answer(FakeResponse(404, b"unknown session"))
    assert getStream.aborted
    reinit = h.agent.one(b"POST")
    assert reinit.header("mcp-session-id") is None
    assert reinit.header("mcp-protocol-version") is None
    assert reinit.header("authorization") == "Bearer k-123"
    assert reinit.json == dict(INIT, id="mcpgateway-reinitialize-1")
    # Messages sent meanwhile wait for the new session.
    h.child.send(call(2))
    assert h.agent.take() == []
    reinit.answer(
        jsonResponse(initResult("mcpgateway-reinitialize-1"), headers={b"mcp-session-id": b"new"})
    )
    # The server takes notifications/initialized before anything else is sent.
    [initialized] = h.agent.take()
    assert initialized.json == INITIALIZED
    initialized.answer(FakeResponse(202))
    sent = h.agent.take()
    [get] = [r for r in sent if r.method == b"GET"]
    assert get.header("mcp-session-id") == "new"
    first, second = [r for r in sent if r.method == b"POST"]
    assert [first.json, second.json] == [call(1), call(2)]
    for each in (initialized, first, second):
        assert each.header("mcp-session-id") == "new"
        assert each.header("mcp-protocol-version") == SERVER_VERSION
    first.answer(jsonResponse(result(1)))
    second.answer(jsonResponse(result(2)))
    # The gateway's own initialize is not the client's business.
    assert h.received() == [result(1), result(2)]
    assert h.child.reinitializations == 1
    assert h.child.sessionId == "new"
    assert "no longer knows the session old" in logText(logged)


def test_a_second_404_for_the_resent_message_answers_it_with_an_error() -> None:
    h = Harness()
    h.initialize("old")
    h.request(call(1)).answer(FakeResponse(404))
    h.reinitialized()
    h.agent.one(b"POST").answer(FakeResponse(404))
    [error] = h.received()
    assertUnavailable(error, 1, "no longer knows the session")
    assert h.agent.take() == []
    assert h.child.reinitializations == 1
    assert not h.child.exited


def test_a_404_before_the_client_is_initialized_resends_without_initialized() -> None:
    h = Harness()
    h.initialize("old")
    h.request(call(1)).answer(FakeResponse(404))
    h.reinitialized()
    assert [s.json for s in h.agent.take()] == [call(1)]


def test_a_404_of_the_get_stream_reinitializes() -> None:
    h = Harness()
    h.initialize("old")
    h.initialized().answer(FakeResponse(404))
    reinit = h.reinitialized()
    assert reinit.json["method"] == "initialize"
    assert reinit.json["id"] == "mcpgateway-reinitialize-1"
    initialized = h.agent.one(b"POST")
    assert initialized.json == INITIALIZED
    initialized.answer(FakeResponse(202))
    assert h.agent.one(b"GET").header("mcp-session-id") == "new"


def test_a_400_about_the_session_reinitializes_like_a_404() -> None:
    h = Harness()
    h.initialize("old")
    h.request(call(1)).answer(FakeResponse(400, b'{"error":"Bad Request: No valid session ID"}'))
    reinit = h.reinitialized()
    assert reinit.json["method"] == "initialize"
    [resent] = h.agent.take()
    assert resent.json == call(1) and resent.header("mcp-session-id") == "new"
    assert h.received() == []


def test_another_400_answers_the_request_with_an_error() -> None:
    h = Harness()
    h.initialize()
    h.request(call(1)).answer(FakeResponse(400, b"bad params"))
    [error] = h.received()
    assertUnavailable(error, 1, "HTTP 400: bad params")
    assert h.agent.take() == [] and h.child.reinitializations == 0


def test_a_failed_reinitialize_ends_the_child() -> None:
    h = Harness()
    h.initialize("old")
    h.request(call(1)).answer(FakeResponse(404))
    h.agent.one(b"POST").answer(FakeResponse(500, b"down"))
    assert h.ended() and h.child.exited
    assert h.child.howItEnded().startswith("could not initialize a new session: ")
    assert h.child.howItEnded().endswith("HTTP 500: down")
    assert h.received() == []  # what waited is the pool's to fail, as for a process
    h.child.send(call(2))
    assert h.agent.take() == []


def test_an_unreachable_server_at_reinitialize_ends_the_child() -> None:
    h = Harness()
    h.initialize("old")
    h.request(call(1)).answer(FakeResponse(404))
    h.agent.one(b"POST").refuse()
    assert h.ended()
    assert h.child.howItEnded().startswith("could not initialize a new session: ")
    assert "refused" in h.child.howItEnded()


def test_a_reinitialize_the_server_answers_with_an_error_ends_the_child() -> None:
    h = Harness()
    h.initialize("old")
    h.request(call(1)).answer(FakeResponse(404))
    reinit = h.agent.one(b"POST")
    refusal = {"jsonrpc": "2.0", "id": reinit.json["id"], "error": {"code": -1, "message": "no"}}
    reinit.answer(jsonResponse(refusal))
    assert h.ended()
    assert h.child.howItEnded().startswith("refused to initialize a new session")
    assert h.received() == []
    assert h.agent.take() == []


def test_a_404_to_the_clients_own_initialize_answers_it_with_an_error() -> None:
    h = Harness()
    h.child.send(INIT)
    h.child.send(call(1))
    h.agent.one(b"POST").answer(FakeResponse(404, b"no such endpoint"))
    [error] = h.received()
    assertUnavailable(error, 0, "HTTP 404: no such endpoint")
    # What waited for it goes out (it is the server's to refuse now).
    assert [s.json for s in h.agent.take()] == [call(1)]
    assert h.child.reinitializations == 0
