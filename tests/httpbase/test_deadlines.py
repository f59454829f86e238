"""What a connection may hold, and for how long: a request
body must keep coming, a silent keep-alive connection is closed after the
documented idle timeout, and a response in progress is never timed out;
and the head rules a request must meet before anything reads it
(repeated security headers, a malformed C{Host}, media types)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcpgateway.httpbase.headers import isHost
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.tuned.channel import (
    BODY_GRACE,
    BODY_MIN_RATE,
    BODY_STALL_TIMEOUT,
    IDLE_CONNECTION_TIMEOUT,
)
from tests.fakes import capturedGatewayLogs
from tests.http import Harness, spec
from tests.support.web.channel_reading import post
from tests.support.web.mcp import LimitsHarness, call, connect, noTracebacks, started


def ping(pad: int = 0) -> dict[str, Any]:
    """A ping the gateway answers itself, C{pad} characters longer."""
    return {"jsonrpc": "2.0", "id": 9, "method": "ping", "params": {"_meta": {"pad": "x" * pad}}}


def tick(h: Harness, seconds: int) -> None:
    """Let C{seconds} pass, a second at a time (the guard looks once a second)."""
    for _ in range(seconds):
        h.reactor.advance(1.0)


def refusals(events: list[Any]) -> list[int]:
    return [e["status"] for e in events if e["log_format"].startswith("refused")]


# -- a request body ---------------------------------------------------------------------


def test_the_deadlines_are_those_documented() -> None:
    assert (IDLE_CONNECTION_TIMEOUT, BODY_STALL_TIMEOUT) == (60.0, 30.0)
    assert (BODY_GRACE, BODY_MIN_RATE) == (30.0, 500.0)


def test_a_body_that_never_comes_gets_408_after_30_seconds() -> None:
    h = LimitsHarness(MessageBounds())
    sid = h.initialize()
    protocol, transport = connect(h)
    head, _, _ = post(sid, ping()).partition(b"\r\n\r\n")
    protocol.dataReceived(head + b"\r\n\r\n")  # and no body
    tick(h, 29)
    assert transport.value() == b"" and not transport.disconnecting
    with capturedGatewayLogs() as events:
        tick(h, 1)
    out = transport.value()
    assert out.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and transport.disconnecting
    error = json.loads(out.partition(b"\r\n\r\n")[2])["error"]
    assert error["code"] == -32600 and "no byte for 30 s" in error["message"]
    noTracebacks(events)
    assert refusals(events) == [408]


def test_a_body_is_held_to_a_rate_not_to_a_fixed_time() -> None:
    """A byte a second is cut once the grace is over; a big body at 1,000
    bytes a second (a slow link) takes 100 s and is read to its end: it
    keeps earning time as its bytes come."""
    h = LimitsHarness(MessageBounds())
    sid = h.initialize()
    protocol, transport = connect(h)
    head, _, body = post(sid, ping(200)).partition(b"\r\n\r\n")
    protocol.dataReceived(head + b"\r\n\r\n")
    sent = 0
    while not transport.disconnecting:
        protocol.dataReceived(body[sent : sent + 1])
        sent += 1
        h.reactor.advance(1.0)
    # 30 s (the sweep's second: 31) and 30 bytes, not the 500 a second needed
    assert 30 <= sent <= 31 < len(body)
    assert transport.value().startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"not complete within 30 s" in transport.value()

    steady, steadyTransport = connect(h)
    head, _, body = post(sid, ping(100_000)).partition(b"\r\n\r\n")
    steady.dataReceived(head + b"\r\n\r\n")
    for start in range(0, len(body), 1000):
        steady.dataReceived(body[start : start + 1000])
        h.reactor.advance(1.0)
    assert steadyTransport.value().startswith(b"HTTP/1.1 200 OK")
    assert b'"id":9' in steadyTransport.value() and not steadyTransport.disconnecting


def test_a_body_may_pause_for_less_than_30_seconds_and_costs_no_timer() -> None:
    """Pauses under 30 s are allowed while the average holds (the bytes that
    came with the head count: 30,000 bytes earn 60 s past the grace); a
    pause of 30 s is not. The deadline is kept by the guard's once-a-second
    look: a body in pieces schedules nothing."""
    h = LimitsHarness(MessageBounds())
    sid = h.initialize()
    protocol, transport = connect(h)
    protocol.dataReceived(post(sid, ping()))  # the guard's sweep is scheduled now
    head, _, body = post(sid, ping(40_000)).partition(b"\r\n\r\n")
    protocol.dataReceived(head + b"\r\n\r\n" + body[:30_000])
    tick(h, 29)
    protocol.dataReceived(body[30_000:35_000])
    tick(h, 29)
    assert transport.value().count(b"HTTP/1.1 200 OK") == 1 and not transport.disconnecting
    protocol.dataReceived(body[35_000:])
    assert transport.value().count(b"HTTP/1.1 200 OK") == 2
    protocol.dataReceived(head + b"\r\n\r\n" + body[:100])
    tick(h, 30)
    assert b"HTTP/1.1 408 Request Timeout" in transport.value() and transport.disconnecting

    protocol, transport = connect(h)
    protocol.dataReceived(post(sid, ping()))
    scheduled: list[float] = []
    callLater = h.reactor.callLater

    def counting(delay: float, f: Any, *args: Any, **kwargs: Any) -> Any:
        scheduled.append(delay)
        return callLater(delay, f, *args, **kwargs)

    h.reactor.callLater = counting
    whole = post(sid, ping(5000))
    for start in range(0, len(whole), 700):
        protocol.dataReceived(whole[start : start + 700])
    assert transport.value().count(b"HTTP/1.1 200 OK") == 2
    assert scheduled == []


def test_a_body_pipelined_behind_a_stream_waits_for_the_stream_to_end() -> None:
    """Its deadline starts when the response before it is done, as a
    pipelined head's does."""
    h = LimitsHarness(MessageBounds())
    sid = h.initialize()
    protocol, transport = connect(h)
    protocol.dataReceived(
        b"GET /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: text/event-stream\r\n"
        b"MCP-Protocol-Version: 2025-11-25\r\nMcp-Session-Id: " + sid.encode() + b"\r\n\r\n"
    )
    whole = post(sid, ping())
    protocol.dataReceived(whole[:-5])
    tick(h, 100)
    assert b"HTTP/1.1 408" not in transport.value() and not transport.disconnecting
    h.request("DELETE", "/srv/mcp", session=sid)  # the stream ends
    tick(h, 29)
    assert b"HTTP/1.1 408" not in transport.value()
    tick(h, 1)
    assert b"HTTP/1.1 408 Request Timeout" in transport.value() and transport.disconnecting


# -- between requests, and during a response --------------------------------------------


def test_a_silent_keep_alive_connection_is_closed_after_60_seconds() -> None:
    """And a connection already closing (a 408) whose peer does not read
    (StringTransport never reports it lost) is aborted later, not closed
    again (which would fail)."""
    h = LimitsHarness(MessageBounds())
    _, silent = connect(h)  # never a byte
    keepAlive, keepAliveTransport = connect(h)
    keepAlive.dataReceived(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert b'"status":"ok"' in keepAliveTransport.value()
    slowHead, slowTransport = connect(h)
    slowHead.dataReceived(b"GET /health HTTP/1.1\r\n")
    with capturedGatewayLogs() as events:
        tick(h, 59)
        assert not silent.disconnecting and not keepAliveTransport.disconnecting
        tick(h, 1)
        assert silent.disconnecting and keepAliveTransport.disconnecting
        tick(h, 60)
    # idle is not late: closed, without an answer
    assert b"HTTP/1.1 408" not in keepAliveTransport.value()
    assert slowTransport.value().startswith(b"HTTP/1.1 408")
    noTracebacks(events)


@pytest.mark.usefixtures("tunedChannel")
@pytest.mark.parametrize("split", [True, False])
def test_a_400_mid_body_is_the_only_answer_on_its_connection(split: bool) -> None:
    """A chunked body that cannot be read gets 400 and the connection
    closes; if the peer does not read (StringTransport never reports it
    lost), no deadline fires on it later: no 408 after the 400, and only
    the idle path's abort is left."""
    h = LimitsHarness(MessageBounds())
    sid = h.initialize()
    protocol, transport = connect(h)
    head = post(sid, ping()).partition(b"Content-Length")[0] + b"Transfer-Encoding: chunked\r\n\r\n"
    if split:
        protocol.dataReceived(head + b"5\r\nabc")  # a body begun
        protocol.dataReceived(b"de\r\nzz\r\n")  # then one llhttp rejects
    else:
        protocol.dataReceived(head + b"zz\r\n")
    out = transport.value()
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n") and transport.disconnecting
    assert protocol.bodySince is None and protocol.headersSince is None
    with capturedGatewayLogs() as events:
        tick(h, 120)
    assert transport.value() == out  # nothing after the 400
    assert refusals(events) == []
    noTracebacks(events)


def test_the_guard_writes_no_408_on_a_closing_connection() -> None:
    """Whatever a closing connection's deadlines say, the guard does not
    answer on it again."""
    h = LimitsHarness(MessageBounds())
    protocol, transport = connect(h)
    protocol.dataReceived(b"GET /health HTTP/1.1\r\n")  # a head begun
    transport.loseConnection()  # and the connection closing (not yet lost)
    tick(h, 120)
    assert transport.value() == b""


def test_responses_in_progress_are_never_timed_out() -> None:
    """A GET stream and a call the child takes ten minutes over outlive
    every deadline: the header, body and idle ones."""
    h = LimitsHarness(MessageBounds(), servers={"srv": spec("srv", timeout=3600.0)})
    sid = h.initialize()
    stream = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream")
    longCall = call(h, sid, requestId=3)
    tick(h, 600)
    assert not stream.transport.disconnecting and not stream.complete
    assert not longCall.transport.disconnecting and not longCall.complete
    assert stream.comments() == [b": keep-alive"] * 40
    assert b"HTTP/1.1 408" not in stream.transport.value() + longCall.transport.value()
    proc = h.process()
    sent = [m for m in proc.sentMessages() if m.get("method") == "tools/call"][-1]
    proc.reply({"jsonrpc": "2.0", "id": sent["id"], "result": {}})
    assert longCall.complete and longCall.events()[-1] == {"jsonrpc": "2.0", "id": 3, "result": {}}
    tick(h, 60)  # now it is an idle keep-alive connection
    assert longCall.transport.disconnecting
    assert not stream.transport.disconnecting


def test_keep_alive_answers_advertise_no_idle_limit() -> None:
    """No C{Keep-Alive: timeout=}: undici (Node's fetch: the TypeScript
    SDK, Claude Code) takes a server's hint over its own 4 s and would hold
    an idle connection for nearly the whole advertised time, and a
    restart's old process stops only once its open connections have
    closed (it waited 54 s instead of 4). Clients keep their own short
    idle limits; the bridge's is 30 s."""
    h = LimitsHarness(MessageBounds())
    sid = h.initialize()
    answer = h.request("POST", "/srv/mcp", ping(), session=sid)
    assert answer.status == 200 and "keep-alive" not in answer.headers
    called = started(h, call(h, sid, requestId=3))
    assert called.headers["content-type"] == "text/event-stream"
    assert "keep-alive" not in called.headers


# -- the head: repeated security headers, a malformed Host -------------------------------


def rawPost(sid: str, extra: bytes) -> bytes:
    return post(sid, ping(), extra=extra)


@pytest.mark.parametrize(
    "extra",
    [
        b"Origin: http://evil.com\r\nOrigin: http://localhost\r\n",
        b"origin: http://localhost\r\nORIGIN: http://localhost:1\r\n",
        b"MCP-Protocol-Version: 2025-11-25\r\nmcp-protocol-version: 2025-03-26\r\n",
    ],
)
def test_two_different_values_of_a_security_header_are_400(extra: bytes) -> None:
    h = Harness()
    sid = h.initialize()
    protocol, transport = connect(h)
    protocol.dataReceived(rawPost(sid, extra))
    out = transport.value()
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n") and transport.disconnecting
    error = json.loads(out.partition(b"\r\n\r\n")[2])["error"]
    assert error["code"] == -32600 and "two different" in error["message"]


def test_two_different_session_ids_are_400_the_same_one_twice_is_not() -> None:
    h = Harness()
    sid = h.initialize()
    protocol, transport = connect(h)
    protocol.dataReceived(
        rawPost(sid, b"Origin: http://localhost\r\nOrigin: http://localhost\r\n")
        + rawPost(sid, b"Mcp-Session-Id: " + sid.encode() + b"\r\n")
        + rawPost(sid, b"Mcp-Session-Id: bogus\r\n")
    )
    out = transport.value()
    assert out.count(b"HTTP/1.1 200 OK") == 2
    assert b"HTTP/1.1 400 Bad Request\r\n" in out
    assert b"one value of Mcp-Session-Id only" in out


@pytest.mark.parametrize(
    "host",
    [b"127.0.0.1:19600@evil.com", b"127.0.0.1:80:90", b"local host", b"[::1", b"l\xe9calhost"],
)
def test_a_host_that_is_not_host_port_is_400(host: bytes) -> None:
    h = Harness()
    protocol, transport = connect(h)
    protocol.dataReceived(b"GET /health HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    out = transport.value()
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n") and transport.disconnecting
    assert b"is not host[:port]" in out


@pytest.mark.parametrize(
    ("host", "valid"),
    [
        (b"127.0.0.1:9100", True),
        (b"localhost", True),
        (b"LOCALHOST.:80", True),
        (b"[::1]:9100", True),
        (b"[::ffff:127.0.0.1]", True),
        (b"[fe80::1%25eth0]:9100", True),  # RFC 6874: a zone id, its % encoded
        (b"[fe80::1%25en%30]", True),
        (b"[fe80::1%eth0]", False),
        (b"[fe80::1%25]", False),
        (b"[fe80::1%25a/b]", False),
        (b"my-host.example.com", True),
        (b"h%41st", True),
        (b"", True),  # RFC 9112: empty when the target has no authority (then 421)
        (b"a@b", False),
        (b"[::1]x", False),
        (b"host:port", False),
        (b"a/b", False),
        (b"%zz", False),
    ],
)
def test_host_syntax(host: bytes, valid: bool) -> None:
    assert isHost(host) is valid


def test_a_host_with_a_zone_id_is_served() -> None:
    h = Harness()
    protocol, transport = connect(h)
    protocol.dataReceived(b"GET /health HTTP/1.1\r\nHost: [::1%25lo]:9100\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 200 OK\r\n")


# -- media types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({"content-type": "text/plain, application/json"}, 415, "application/json"),
        ({"content-type": "application/json; charset=latin-1"}, 415, "utf-8"),
        ({"content-type": 'application/json; charset="iso-8859-1"'}, 415, "utf-8"),
        ({"content-encoding": "gzip"}, 415, "identity"),
        ({"content-encoding": "identity, br"}, 415, "identity"),
        ({"accept": "application/json, text/event-stream;q=0"}, 406, "text/event-stream"),
        ({"accept": "text/event-stream;q=0, application/json"}, 406, "text/event-stream"),
        ({"accept": "*/*, application/json;q=0.0"}, 406, "application/json"),
    ],
)
def test_post_media_types_refused(headers: dict[str, str], status: int, words: str) -> None:
    h = Harness()
    sid = h.initialize()
    response = h.request("POST", "/srv/mcp", ping(), session=sid, headers=headers)
    assert response.status == status, response.body
    assert words in response.json()["error"]["message"]


def test_post_media_types_read_as_the_rfc_says() -> None:
    """Only q=0 refuses, the most specific range decides, a charset of
    UTF-8 in any spelling passes, and so does the identity coding."""
    h = Harness()
    sid = h.initialize()
    served = [
        {"accept": "text/*;q=0, application/json, text/event-stream"},
        {"accept": "*/*;q=0.1"},
        {"content-type": 'application/json; charset="UTF-8"'},
        {"content-type": "Application/JSON;charset=utf-8"},
        {"content-encoding": "identity"},
    ]
    for headers in served:
        response = h.request("POST", "/srv/mcp", ping(), session=sid, headers=headers)
        assert response.status == 200, (headers, response.body)
    refused = {"accept": "text/*, application/*, text/event-stream;q=0.000"}
    assert h.request("POST", "/srv/mcp", ping(), session=sid, headers=refused).status == 406


def test_a_get_stream_refused_with_q_0() -> None:
    h = Harness()
    sid = h.initialize()
    refused = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream;q=0, */*")
    assert refused.status == 406
    served = h.request("GET", "/srv/mcp", session=sid, accept="text/event-stream;q=0.5")
    assert served.status == 200 and not served.complete
