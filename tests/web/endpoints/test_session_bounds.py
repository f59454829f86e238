"""The bounds of C{/<server>/mcp} on what a client opens and sends:

- an C{initialize} whose C{capabilities} and C{clientInfo} are over
  C{MessageBounds.maxSessionInfo} is refused (400, -32600, the limit named) and
  opens no session; at C{MessageBounds.maxSessions} live sessions (another
  replica's visiting ones not counted) an C{initialize} ends the session
  idle longest that no one uses (no GET stream, no request in flight), and
  is refused (503, -32000) only when every one is in use;
- a request carrying C{result}, C{error} or an unknown member is refused
  at once (400, -32600, the member named) and never reaches the child, alone
  or in a batch.

Real Site, real pools, fake children, fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.core.sessions import shortId
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.bounds import MAX_SESSION_INFO, MessageBounds
from tests.fakes import capturedGatewayLogs
from tests.http import Harness, initializeMessage
from tests.support.core.aggregate.visit import facts
from tests.support.web.mcp import LimitsHarness, answerEverything, call, childRequests, noTracebacks


def initialize(h: Harness, capabilities: Any, clientInfo: Any) -> Any:
    return h.request(
        "POST", "/srv/mcp", initializeMessage(capabilities=capabilities, clientInfo=clientInfo)
    )


# -- D2: what one session may keep, and how many there may be ---------------------------


def test_fat_capabilities_are_refused_and_open_no_session() -> None:
    """The reported 3.5 MB capabilities (under the 4 MiB body limit)."""
    h = LimitsHarness(MessageBounds())
    with capturedGatewayLogs() as events:
        response = initialize(h, {"experimental": {"pad": "x" * 3_500_000}}, {"name": "fat"})
    noTracebacks(events)
    assert response.status == 400
    body = response.json()
    assert body["id"] == 1 and body["error"]["code"] == jsonrpc.INVALID_REQUEST
    assert f"over the limit of {MAX_SESSION_INFO} bytes" in body["error"]["message"]
    assert "mcp-session-id" not in response.headers
    assert len(h.gateway.sessions) == 0


def test_session_info_at_the_limit_is_accepted_and_one_byte_over_refused() -> None:
    h = LimitsHarness(MessageBounds(maxSessionInfo=100))
    info = {"name": "c"}  # 12 bytes of compact JSON
    pad = "x" * (100 - 12 - len('{"p":""}'))
    ok = initialize(h, {"p": pad}, info)
    h.answerHandshake()
    assert ok.status == 200 and "mcp-session-id" in ok.headers
    over = initialize(h, {"p": pad + "x"}, info)
    assert over.status == 400
    assert over.json()["error"]["message"] == (
        "Invalid Request: initialize's capabilities and clientInfo are 101 bytes"
        " of JSON together, over the limit of 100 bytes"
    )
    assert len(h.gateway.sessions) == 1


EVICTED = "session limit of {limit} reached: ending session {sid}"


def evictions(events: list[Any]) -> list[Any]:
    return [e for e in events if str(e.get("log_format", "")).startswith(EVICTED)]


def atTheLimit(h: LimitsHarness, count: int) -> list[str]:
    """C{count} sessions, opened a second apart (the first is idle longest)."""
    sids = []
    for _ in range(count):
        sids.append(h.initialize())
        h.reactor.advance(1.0)
    return sids


def getStream(h: Harness, sid: str) -> Any:
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    assert stream.status == 200
    return stream


def test_at_max_sessions_the_idlest_session_ends_for_the_newcomer() -> None:
    """A client that re-initializes in a loop without DELETE no longer locks
    every other client out: its oldest idle session makes room."""
    h = LimitsHarness(MessageBounds(maxSessions=3))
    first, second, third = atTheLimit(h, 3)
    call(h, second)  # answered: active a moment ago, no longer in flight
    answerEverything(h)
    with capturedGatewayLogs() as events:
        newcomer = initialize(h, {}, {"name": "fourth"})
    noTracebacks(events)
    assert newcomer.status == 200 and "mcp-session-id" in newcomer.headers
    assert h.gateway.sessions.get(first) is None
    assert {s.id for s in h.gateway.sessions} == {
        second,
        third,
        newcomer.headers["mcp-session-id"],
    }
    [line] = evictions(events)
    assert line["sid"] == shortId(first)
    assert (line["limit"], line["server"], line["seconds"]) == (3, "srv", 3.0)
    assert call(h, first).status == 404  # its client initializes again


def test_a_session_with_a_get_stream_or_a_request_in_flight_is_not_evicted() -> None:
    h = LimitsHarness(MessageBounds(maxSessions=3))
    streaming, busy, idle = atTheLimit(h, 3)
    getStream(h, streaming)
    inFlight = call(h, busy)
    assert not inFlight.complete
    assert initialize(h, {}, {"name": "fourth"}).status == 200
    assert h.gateway.sessions.get(idle) is None  # the newest of the three, but unused
    assert h.gateway.sessions.get(streaming) is not None
    assert h.gateway.sessions.get(busy) is not None
    answerEverything(h)
    assert inFlight.complete and inFlight.events()[-1]["id"] == 2


def test_with_every_session_in_use_initialize_is_refused_until_one_ends() -> None:
    h = LimitsHarness(MessageBounds(maxSessions=2))
    first, second = atTheLimit(h, 2)
    getStream(h, first)
    pending = call(h, second)
    assert not pending.complete
    with capturedGatewayLogs() as events:
        refused = initialize(h, {}, {"name": "third"})
    noTracebacks(events)
    assert evictions(events) == []
    assert refused.status == 503
    body = refused.json()
    assert body["id"] == 1 and body["error"]["code"] == jsonrpc.SERVER_UNAVAILABLE
    assert "2 sessions open, its limit, each with a GET stream" in body["error"]["message"]
    assert len(h.gateway.sessions) == 2
    assert h.request("DELETE", "/srv/mcp", session=first).status == 200
    assert initialize(h, {}, {"name": "third"}).status == 200
    assert h.gateway.sessions.get(second) is not None


def test_visiting_sessions_are_not_counted_nor_evicted() -> None:
    """Another replica's sessions served here (its owner does not answer)
    are that replica's to count: they neither fill this one's limit nor
    make room in it."""
    h = LimitsHarness(MessageBounds(maxSessions=2))
    visiting = [h.gateway.foreignSessions.rebuild(f"r2.v{n}", facts("srv")) for n in range(3)]
    assert all(v is not None and v.visiting for v in visiting)
    h.reactor.advance(1.0)
    own = atTheLimit(h, 2)  # below the limit: no eviction
    assert h.gateway.sessionCapacity.live == 2 and len(h.gateway.sessions) == 5
    assert initialize(h, {}, {"name": "third"}).status == 200
    assert h.gateway.sessions.get(own[0]) is None  # the idlest own one, not a visitor
    assert all(h.gateway.sessions.get(f"r2.v{n}") is not None for n in range(3))
    for v in visiting:
        assert v is not None
        h.gateway.endSession(v)
    assert h.gateway.sessionCapacity.live == 2 == len(h.gateway.sessions)


# -- D3: a request has only jsonrpc, id, method and params ------------------------------


@pytest.mark.parametrize(
    ("member", "value", "words"),
    [
        ("extra", {}, "unknown member 'extra'"),
        ("result", {}, "must not carry result"),
        ("error", {"code": 1, "message": "x"}, "must not carry error"),
    ],
)
def test_a_request_with_another_member_is_refused_at_once(
    member: str, value: Any, words: str
) -> None:
    """The reported three bodies: 400 at once, not a 60 s timeout."""
    h = Harness()
    sid = h.initialize()
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", member: value}
    response = h.request("POST", "/srv/mcp", body, session=sid)
    assert response.status == 400 and response.complete
    error = response.json()
    assert error["id"] == 2 and error["error"]["code"] == jsonrpc.INVALID_REQUEST
    assert words in error["error"]["message"]
    assert childRequests(h, "tools/list") == []


def test_ping_with_a_result_is_refused_too() -> None:
    h = Harness()
    sid = h.initialize()
    body = {"jsonrpc": "2.0", "id": 3, "method": "ping", "result": {}}
    response = h.request("POST", "/srv/mcp", body, session=sid)
    assert response.status == 400
    assert response.json()["error"]["code"] == jsonrpc.INVALID_REQUEST


def test_initialize_with_another_member_is_refused() -> None:
    h = Harness()
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25"},
        "extra": 1,
    }
    response = h.request("POST", "/srv/mcp", body)
    assert response.status == 400
    assert "unknown member 'extra'" in response.json()["error"]["message"]
    assert len(h.gateway.sessions) == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    member=st.sampled_from(["result", "error", "extra", "Id"]) | st.text(min_size=1, max_size=6),
    index=st.integers(0, 2),
)
def test_a_batch_with_such_a_request_is_refused_whole(member: str, index: int) -> None:
    """Nothing of the batch is acted on: the child sees none of its requests."""
    if member in ("jsonrpc", "id", "method", "params"):
        member += "_"
    h = Harness()
    sid = h.initialize(version="2025-03-26")
    batch: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": n, "method": "tools/list"} for n in range(3)
    ]
    batch[index][member] = {}
    with capturedGatewayLogs() as events:
        response = h.request("POST", "/srv/mcp", batch, session=sid)
        answerEverything(h)
    noTracebacks(events)
    assert response.status == 400
    error = response.json()["error"]
    assert error["code"] == jsonrpc.INVALID_REQUEST
    assert error["message"].startswith(f"batch element {index}: Invalid Request")
    assert childRequests(h, "tools/list") == []
