"""One forwarded request's answer: one JSON body with nothing else made for
it, and an SSE stream (with its replay log) only from the moment it needs
one: a related message first, a second of silence, or a cancellation."""

from __future__ import annotations

from typing import Any

from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure

from mcpgateway.web.plumbing.replay import PROCESS
from mcpgateway.web.plumbing.sse import HEADERS_AFTER, SSEStream, keepAliveFor
from tests.fakes import capturedGatewayLogs
from tests.http import Harness, Response
from tests.support.web.mcpcall import slowCall


def answer(h: Harness, forwarded: dict[str, Any]) -> None:
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"content": []}})


def progress(h: Harness, forwarded: dict[str, Any], value: int) -> None:
    token = forwarded["params"]["_meta"]["progressToken"]
    h.process().reply(
        {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": token, "progress": value},
        }
    )


def streams(h: Harness) -> list[SSEStream]:
    """The SSE streams the keep-alive ticker looks after."""
    return [s for s in keepAliveFor(h.reactor).streams if isinstance(s, SSEStream)]


def eventIds(response: Response) -> list[str]:
    return [line[4:].decode() for line in response.body.split(b"\n") if line.startswith(b"id: ")]


def test_a_quick_answer_is_one_json_body_and_makes_no_stream_nor_log() -> None:
    h = Harness()
    sid = h.initialize()
    response, forwarded = slowCall(h, sid)
    assert streams(h) == [] and response.transport.value() == b""
    answer(h, forwarded)
    assert response.status == 200 and response.complete
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.body))
    assert response.headers["cache-control"] == "no-cache"
    assert "x-accel-buffering" not in response.headers
    assert response.json() == {"jsonrpc": "2.0", "id": 7, "result": {"content": []}}
    assert streams(h) == []
    # No log was opened for it: the next stream's log is the process's first.
    later, forwardedLater = slowCall(h, sid, requestId=8)
    progress(h, forwardedLater, 1)
    assert eventIds(later)[0] == f"{PROCESS}-p1-0"


def test_the_first_related_message_makes_the_stream_and_starts_its_log() -> None:
    h = Harness()
    sid = h.initialize()
    response, forwarded = slowCall(h, sid)
    progress(h, forwarded, 1)
    assert response.headers["content-type"] == "text/event-stream"
    assert eventIds(response) == [f"{PROCESS}-p1-0", f"{PROCESS}-p1-1"]
    assert [e["params"]["progress"] for e in response.events()] == [1]
    progress(h, forwarded, 2)
    answer(h, forwarded)
    assert response.complete
    assert [e.get("id") for e in response.events()] == [None, None, 7]
    assert eventIds(response)[-1] == f"{PROCESS}-p1-3"
    assert streams(h) == []


def test_a_second_of_silence_sends_the_head_then_keep_alives() -> None:
    h = Harness()
    sid = h.initialize()
    response, forwarded = slowCall(h, sid)
    h.reactor.advance(HEADERS_AFTER / 2)
    assert response.transport.value() == b""
    h.reactor.advance(HEADERS_AFTER)
    assert response.status == 200 and response.headers["content-type"] == "text/event-stream"
    assert eventIds(response) == [f"{PROCESS}-p1-0"]  # the priming event, at once
    assert len(streams(h)) == 1
    for _ in range(2):
        h.reactor.advance(15)
    assert response.comments() == [b": keep-alive"] * 2
    answer(h, forwarded)
    assert response.complete and response.events()[-1]["id"] == 7
    assert streams(h) == [] and len(keepAliveFor(h.reactor).waiting) == 0


def test_the_ticker_forgets_answered_calls_and_stops() -> None:
    h = Harness()
    sid = h.initialize()
    ticker = keepAliveFor(h.reactor)
    for n in range(3):
        response, forwarded = slowCall(h, sid, requestId=n)
        answer(h, forwarded)
        assert response.complete
    assert len(ticker.waiting) == 1 and ticker.streams == set()  # the done ones went
    h.reactor.advance(1)
    # Nothing left to look at: the ticker stopped on the tick that found so.
    assert len(ticker.waiting) == 0 and not ticker.loop.running


def test_a_connection_gone_before_anything_drops_the_answer_quietly() -> None:
    h = Harness()
    sid = h.initialize()
    response, forwarded = slowCall(h, sid)
    response.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
    with capturedGatewayLogs() as events:
        progress(h, forwarded, 1)  # nothing can carry it: no stream is made
        answer(h, forwarded)
        h.reactor.advance(2)
    assert not [e for e in events if e.get("log_failure") is not None]
    assert response.transport.value() == b""
    assert streams(h) == []
    replay = h.site.resource._endpoints["srv"].replay
    assert replay.count() == {"streams": 0, "waiting": 0, "events": 0, "bytes": 0}


def test_a_cancelled_call_ends_with_an_empty_stream() -> None:
    h = Harness()
    sid = h.initialize()
    response, forwarded = slowCall(h, sid)
    h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}},
        session=sid,
    )
    assert response.complete and response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.events() == []
    answer(h, forwarded)  # late: goes nowhere
    assert streams(h) == []
