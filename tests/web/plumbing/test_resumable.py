"""Resumable SSE streams (MCP 2025-11-25 §Resumability and Redelivery): event
ids, the priming event, replay over C{GET} with C{Last-Event-ID}, the bounds
and the time limit of what is kept."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionDone
from twisted.logger import LogLevel
from twisted.python.failure import Failure

from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.web.app import makeSite
from mcpgateway.web.endpoints.mcp import McpEndpoint
from mcpgateway.web.plumbing.replay import PROCESS, ReplayStore, kindOf
from tests.fakes import capturedGatewayLogs
from tests.http import Harness, Response
from tests.support.web.mcpcall import slowCall


def frames(response: Response) -> list[dict[str, Any]]:
    """Every SSE frame received so far: its fields (C{data} kept raw)."""
    out = []
    for block in response.body.split(b"\n\n"):
        if not block or block.startswith(b":"):
            continue
        fields: dict[str, Any] = {}
        for line in block.split(b"\n"):
            name, _, value = line.partition(b":")
            fields[name.decode()] = value[1:] if value.startswith(b" ") else value
        out.append(fields)
    return out


def ids(response: Response) -> list[str]:
    return [f["id"].decode() for f in frames(response) if "id" in f]


def tokens(response: Response) -> list[int]:
    """The progress values of the progress notifications received."""
    return [
        e["params"]["progress"]
        for e in response.events()
        if e.get("method") == "notifications/progress"
    ]


def cut(response: Response) -> None:
    response.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]


def progress(h: Harness, forwarded: dict[str, Any], value: int) -> None:
    h.process().reply(
        {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {
                "progressToken": forwarded["params"]["_meta"]["progressToken"],
                "progress": value,
            },
        }
    )


def answer(h: Harness, forwarded: dict[str, Any]) -> None:
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"content": []}})


def resume(h: Harness, sid: str, lastEventId: str, version: str = "2025-11-25") -> Response:
    return h.request(
        "GET",
        "/srv/mcp",
        session=sid,
        accept="text/event-stream",
        headers={"last-event-id": lastEventId, "mcp-protocol-version": version},
    )


def endpoint(h: Harness) -> McpEndpoint:
    return h.site.resource._endpoints["srv"]  # type: ignore[no-any-return]


def withLimits(h: Harness, **limits: Any) -> Harness:
    h.site = makeSite(h.gateway, h.reactor, limits=MessageBounds(maxBody=4096, **limits))
    return h


def test_events_carry_unique_ids_after_a_priming_event() -> None:
    h = Harness()
    sid = h.initialize()
    first, forwarded = slowCall(h, sid)
    second, other = slowCall(h, sid, requestId=8)
    for value in (1, 2):
        progress(h, forwarded, value)
        progress(h, other, value)
    answer(h, forwarded)
    answer(h, other)
    for response in (first, second):
        priming, *events = frames(response)
        assert priming["id"] and priming["data"] == b"" and priming["retry"] == b"1000"
        assert all("id" in f and f["data"] for f in events) and len(events) == 3
        assert response.complete
    allIds = ids(first) + ids(second)
    assert len(set(allIds)) == len(allIds) == 8  # 2 priming + 2 x (2 progress + response)
    assert all(i.startswith(PROCESS + "-p") for i in allIds)
    assert endpoint(h).replay.count()["streams"] == 0  # answered over its connection: dropped


def test_a_quick_answer_stays_one_piece_and_keeps_nothing() -> None:
    h = Harness()
    sid = h.initialize()
    response, forwarded = slowCall(h, sid)
    answer(h, forwarded)
    assert "content-length" in response.headers and response.complete
    # One piece, as JSON: no priming event and no id (nothing is left to resume).
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"jsonrpc": "2.0", "id": 7, "result": {"content": []}}
    assert response.events() == [{"jsonrpc": "2.0", "id": 7, "result": {"content": []}}]
    assert endpoint(h).replay.count() == {"streams": 0, "waiting": 0, "events": 0, "bytes": 0}


def test_sessions_before_2025_11_25_get_no_ids_and_no_resume() -> None:
    h = Harness()
    sid = h.initialize(version="2025-06-18")
    response, forwarded = slowCall(h, sid)
    progress(h, forwarded, 1)
    answer(h, forwarded)
    assert b"id:" not in response.body and b"retry:" not in response.body
    get = resume(h, sid, f"{PROCESS}-p1-1", version="2025-06-18")
    assert get.status == 200 and get.body == b""  # a plain GET stream: the header is ignored
    assert endpoint(h).replay.count()["streams"] == 0


def test_a_cut_post_stream_resumes_over_get_with_each_progress_once() -> None:
    h = Harness()
    sid = h.initialize()
    post, forwarded = slowCall(h, sid)
    for value in (1, 2, 3):
        progress(h, forwarded, value)
    # The client saw the priming event and progress 1 only (2 and 3 were lost in flight).
    seen = ids(post)[:2]
    cut(post)
    progress(h, forwarded, 4)  # while no connection carries the stream
    get = resume(h, sid, seen[-1])
    assert get.status == 200 and get.headers["content-type"] == "text/event-stream"
    assert tokens(get) == [2, 3, 4] and not get.complete
    progress(h, forwarded, 5)  # live, on the resumed connection
    answer(h, forwarded)
    assert tokens(get) == [2, 3, 4, 5]
    assert get.events()[-1] == {"jsonrpc": "2.0", "id": 7, "result": {"content": []}}
    assert get.complete  # closes after the response, as a POST stream does
    gotIds = seen + ids(get)
    assert len(set(gotIds)) == len(gotIds)
    assert endpoint(h).replay.count()["streams"] == 0


def test_a_stream_answered_while_cut_replays_up_to_its_response() -> None:
    h = Harness()
    sid = h.initialize()
    post, forwarded = slowCall(h, sid)
    progress(h, forwarded, 1)
    seen = ids(post)
    cut(post)
    progress(h, forwarded, 2)
    answer(h, forwarded)
    assert endpoint(h).replay.count()["waiting"] == 1
    get = resume(h, sid, seen[-1])
    assert tokens(get) == [2] and get.events()[-1]["id"] == 7 and get.complete
    assert endpoint(h).replay.count()["streams"] == 0
    again = resume(h, sid, seen[-1])  # delivered: nothing left to replay
    assert again.status == 400


def test_events_are_never_replayed_onto_another_stream() -> None:
    h = Harness()
    sid, otherSession = h.initialize(), h.initialize()
    a, fa = slowCall(h, sid)
    b, fb = slowCall(h, sid, requestId=8)
    progress(h, fa, 1)
    progress(h, fb, 10)
    primingA, primingB = ids(a)[0], ids(b)[0]
    cut(a)
    cut(b)
    progress(h, fa, 2)
    progress(h, fb, 11)
    getA = resume(h, sid, primingA)
    assert tokens(getA) == [1, 2]
    getB = resume(h, sid, primingB)
    assert tokens(getB) == [10, 11]
    # Another session cannot resume this session's stream.
    assert resume(h, otherSession, primingA).status == 400
    answer(h, fa)
    answer(h, fb)
    assert getA.events()[-1]["id"] == 7 and getB.events()[-1]["id"] == 8


def test_the_get_stream_resumes_and_a_resume_takes_over_a_stale_connection() -> None:
    h = Harness()
    sid = h.initialize()
    get = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    [priming] = ids(get)
    assert priming.startswith(PROCESS + "-g")
    h.process().reply({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    cut(get)
    h.process().reply({"jsonrpc": "2.0", "method": "notifications/prompts/list_changed"})
    again = resume(h, sid, priming)
    assert [e["method"] for e in again.events()] == [
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
    ]
    # The client resumes again while the gateway still holds this connection:
    # the old one is closed with a retry, the new one carries on.
    last = ids(again)[-1]
    third = resume(h, sid, last)
    assert again.complete and b"retry: 1000" in again.body
    h.process().reply({"jsonrpc": "2.0", "method": "notifications/resources/list_changed"})
    assert [e["method"] for e in third.events()] == ["notifications/resources/list_changed"]
    assert "resources" not in again.body.decode()


def test_a_plain_get_replaces_a_get_stream_whose_connection_is_gone() -> None:
    h = Harness()
    sid = h.initialize()
    get = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    cut(get)
    fresh = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert fresh.status == 200
    # The old stream's id is unknown now, and the session has a GET stream.
    assert resume(h, sid, ids(get)[0]).status == 409
    assert endpoint(h).replay.count()["streams"] == 1


def test_unknown_last_event_ids() -> None:
    h = Harness()
    sid = h.initialize()
    with capturedGatewayLogs() as events:
        garbage = resume(h, sid, "whatever")
        earlier = resume(h, sid, "0badf00d-p3-4")  # a POST stream of an earlier process
        never = resume(h, sid, f"{PROCESS}-p1-99")
        getStream = resume(h, sid, "0badf00d-g2-9")  # the GET stream of an earlier process
    assert garbage.status == earlier.status == never.status == 400
    assert garbage.json()["error"]["code"] == -32600
    assert getStream.status == 200 and len(ids(getStream)) == 1  # fresh: priming only
    lines = [
        e
        for e in events
        if "Last-Event-ID" in str(e.get("log_format", ""))
        or "Last-Event-ID" in str(e.get("reason", ""))
    ]
    assert len(lines) == 4
    # A request stream's id the gateway no longer has is what clients send
    # after a cancel or a restart: info. An id that is none of the gateway's: a warning.
    levels = {
        str(e.get("reason", "")).split("'")[1]: e["log_level"] for e in lines if "reason" in e
    }
    assert levels == {
        "whatever": LogLevel.warn,
        "0badf00d-p3-4": LogLevel.info,
        f"{PROCESS}-p1-99": LogLevel.info,
    }


def test_the_buffer_keeps_the_newest_events_within_its_bounds() -> None:
    h = withLimits(Harness(), replayMaxEvents=3)
    sid = h.initialize()
    post, forwarded = slowCall(h, sid)
    h.reactor.advance(1.0)  # a second of silence: the headers and the priming event
    priming = ids(post)[0]
    cut(post)
    for value in range(1, 7):
        progress(h, forwarded, value)
    assert endpoint(h).replay.count()["events"] == 3
    with capturedGatewayLogs() as events:
        get = resume(h, sid, priming)
    assert tokens(get) == [4, 5, 6]  # 1-3 were dropped, and the log says so
    assert any("dropped" in str(e.get("log_format", "")) for e in events)


def test_the_buffer_is_bounded_in_bytes() -> None:
    store = ReplayStore(Harness().reactor, MessageBounds(replayMaxBytes=300))
    log = store.open("s", "p")
    for _ in range(10):
        log.record(b'{"x":"' + b"y" * 100 + b'"}')
    assert log.size <= 300 and len(log.events) == 2 and log.evicted == 8
    log.record(b'"' + b"z" * 1000 + b'"')  # one event over the bound on its own is kept
    assert len(log.events) == 1


def test_a_log_waits_for_its_ttl_then_goes() -> None:
    h = withLimits(Harness(), replayTTL=60.0)
    sid = h.initialize()
    post, forwarded = slowCall(h, sid)
    h.reactor.advance(1.0)
    seen = ids(post)
    cut(post)
    progress(h, forwarded, 1)
    h.reactor.advance(50)
    assert endpoint(h).replay.count()["waiting"] == 1
    h.reactor.advance(20)
    assert endpoint(h).replay.count() == {"streams": 0, "waiting": 0, "events": 0, "bytes": 0}
    assert resume(h, sid, seen[-1]).status == 400
    answer(h, forwarded)  # the late answer goes nowhere, and breaks nothing


def test_the_get_stream_log_goes_with_its_session() -> None:
    h = Harness()
    sid = h.initialize()
    get = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    cut(get)
    h.request("DELETE", "/srv/mcp", session=sid)
    assert endpoint(h).replay.count()["streams"] == 0


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=60))
def test_any_last_event_id_is_answered_without_harm(value: str) -> None:
    store = ReplayStore(Harness().reactor)
    log = store.open("s", "p")
    log.record(b"1")
    found = store.find("s", value)
    assert found is None or (found[0] is log and 0 <= found[1] <= 1)
    assert kindOf(value) in (None, "p", "g")


def test_a_stopping_gateway_tells_the_get_stream_when_to_come_back() -> None:
    """MCP 2025-11-25: before closing a stream it means the client to resume,
    the server sends retry:. The session survives the stop (sessions.json),
    so its client opens the GET stream again at the next gateway."""
    h = Harness()
    sid = h.initialize()
    get = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert not get.complete
    h.gateway.stop()
    assert get.complete
    assert get.body.endswith(b"retry: 1000\n\n")


def test_a_stopping_gateway_ends_an_old_sessions_get_stream_without_retry() -> None:
    h = Harness()
    sid = h.initialize(version="2025-06-18")
    get = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    h.gateway.stop()
    assert get.complete and b"retry:" not in get.body
