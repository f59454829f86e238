"""One MCP 2026-07-28 response: JSON unless something is streamed first,
SSE without ids, committed after a second of silence, keep-alives, and the
client going away as the request's cancellation."""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyRequest

from mcpgateway.protocol import jsonrpc
from mcpgateway.web.endpoints.era2026response import Era2026Response, statusOf

PROGRESS = jsonrpc.notification(
    "notifications/progress", {"progressToken": 1, "progress": 1, "total": 2}
)


def result(requestId: Any = 1) -> dict[str, Any]:
    return jsonrpc.resultResponse(requestId, {"resultType": "complete", "content": []})


def header(request: DummyRequest, name: str) -> str | None:
    values = request.responseHeaders.getRawHeaders(name.encode())
    return None if values is None else values[-1].decode()


def body(request: DummyRequest) -> bytes:
    return b"".join(request.written)


def made(clock: Clock | None = None, **kwargs: Any) -> tuple[DummyRequest, Era2026Response, Clock]:
    clock = clock or Clock()
    request = DummyRequest([b""])
    return request, Era2026Response(cast(Request, request), clock, **kwargs), clock


def test_an_answer_before_anything_else_is_json_with_its_length() -> None:
    request, response, clock = made()
    assert response.finish(result()) == 200
    assert request.responseCode == 200
    assert header(request, "content-type") == "application/json"
    assert header(request, "content-length") == str(len(body(request)))
    assert jsonrpc.loads(body(request)) == result()
    assert request.finished and not response.open
    assert clock.getDelayedCalls() == []  # the commit timer is gone


def test_an_error_before_anything_else_gets_the_status_its_code_names() -> None:
    for code, status in (
        (-32021, 400),
        (-32602, 400),
        (-32020, 400),
        (-32022, 400),
        (-32601, 404),
        (-32603, 200),
        (-32004, 200),
        (-32000, 200),
    ):
        request, response, _ = made()
        assert response.finish(jsonrpc.errorResponse(1, code, "x")) == status
        assert request.responseCode == status
        assert header(request, "content-type") == "application/json"


def test_a_notification_first_commits_to_sse_and_the_answer_is_in_band() -> None:
    request, response, _ = made()
    assert response.send(PROGRESS)
    assert response.committed
    assert request.responseCode == 200
    assert header(request, "content-type") == "text/event-stream"
    assert header(request, "cache-control") == "no-cache"
    assert header(request, "x-accel-buffering") == "no"
    assert response.finish(jsonrpc.errorResponse(1, -32021, "needs sampling")) is None
    assert request.responseCode == 200  # in-band once committed
    frames = body(request).split(b"\n\n")
    assert frames[0] == b"event: message\ndata: " + jsonrpc.dumps(PROGRESS)
    assert frames[1] == b"event: message\ndata: " + jsonrpc.dumps(
        jsonrpc.errorResponse(1, -32021, "needs sampling")
    )
    for line in body(request).split(b"\n"):
        assert not line.startswith((b"id:", b"retry:"))  # nothing to resume
    assert header(request, "mcp-session-id") is None


def test_a_second_of_silence_commits_the_headers() -> None:
    request, response, clock = made()
    clock.advance(0.9)
    assert not response.committed and request.written == []
    clock.advance(0.1)
    assert response.committed
    assert header(request, "content-type") == "text/event-stream"
    response.finish(result())
    assert b"data: " + jsonrpc.dumps(result()) in body(request)
    assert clock.getDelayedCalls() == []


def test_keep_alive_comments_after_silences_only() -> None:
    request, response, clock = made(keepAliveInterval=15.0)
    clock.advance(1.0)  # committed
    clock.advance(14.0)
    assert b": keep-alive" not in body(request)
    clock.advance(1.0)
    assert body(request).count(b": keep-alive\n\n") == 1
    clock.advance(10.0)
    response.send(PROGRESS)  # a write resets the silence
    clock.advance(10.0)
    assert body(request).count(b": keep-alive\n\n") == 1
    clock.advance(5.0)
    assert body(request).count(b": keep-alive\n\n") == 2
    response.finish(result())
    assert clock.getDelayedCalls() == []


def test_the_client_going_away_runs_the_disconnect_callbacks_once() -> None:
    request, response, clock = made()
    seen: list[str] = []
    response.onDisconnect(lambda: seen.append("cancel"))
    response.send(PROGRESS)
    request.processingFailed(Failure(ConnectionDone()))
    assert seen == ["cancel"]
    assert response.disconnected and not response.open
    written = body(request)
    assert not response.send(PROGRESS)
    assert response.finish(result()) is None
    assert body(request) == written  # nothing more is written
    assert clock.getDelayedCalls() == []
    late: list[str] = []
    response.onDisconnect(lambda: late.append("late"))
    assert late == ["late"]  # registered after the fact: runs at once


def test_an_answer_is_not_a_disconnect() -> None:
    _, response, _ = made()
    seen: list[str] = []
    response.onDisconnect(lambda: seen.append("cancel"))
    response.finish(result())
    assert seen == []


def test_a_failing_disconnect_callback_does_not_stop_the_others() -> None:
    request, response, _ = made()
    seen: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    response.onDisconnect(broken)
    response.onDisconnect(lambda: seen.append("second"))
    request.processingFailed(Failure(ConnectionDone()))
    assert seen == ["second"]


def test_status_of_an_answer() -> None:
    assert statusOf(result()) == 200
    assert statusOf({"jsonrpc": "2.0", "id": 1, "error": {"code": "x"}}) == 200
    assert statusOf({"jsonrpc": "2.0", "id": 1, "error": {"code": True}}) == 200
    assert statusOf(jsonrpc.errorResponse(1, -32700, "x")) == 400
