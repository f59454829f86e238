"""How a L{GatewayChannel} serves what its L{RequestReader} reads: pipelined
requests in order, one at a time, reading paused behind a slow response,
C{100 Continue}, a request asking to upgrade, and bad requests."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport

from mcpgateway.httpbase.bounds import REFUSED_LINGER
from mcpgateway.protocol.bounds import MessageBounds
from tests.fakes import capturedGatewayLogs
from tests.http import ACCEPT_BOTH, Harness
from tests.support.web.channel_reading import HEALTH, _refusal, echo, post
from tests.support.web.door import HalfClosing
from tests.support.web.mcp import LimitsHarness, connect


def answerLast(h: Harness) -> None:
    proc = h.process()
    sent = proc.sentMessages()[-1]
    text = "Echo: " + sent["params"]["arguments"]["message"]
    proc.reply(
        {
            "jsonrpc": "2.0",
            "id": sent["id"],
            "result": {"content": [{"type": "text", "text": text}]},
        }
    )


def connectedSession() -> tuple[Harness, str, Any, StringTransport]:
    """A gateway with one session open, and a new connection to it: the
    harness, the session id, the connection's protocol and its transport."""
    h = Harness()
    sid = h.initialize()
    protocol, transport = connect(h)
    return h, sid, protocol, transport


def test_a_request_pipelined_behind_a_pending_call_waits_for_its_answer() -> None:
    h, sid, protocol, transport = connectedSession()
    protocol.dataReceived(post(sid, echo(7)) + HEALTH + post(sid, echo(8)))
    assert transport.value() == b""  # the call waits for the child; the rest waits for it
    assert [m["params"]["arguments"]["message"] for m in h.process().sentMessages()[-1:]] == ["m7"]
    answerLast(h)
    out = transport.value()
    assert out.count(b"HTTP/1.1 200 OK") == 2  # the call's answer, then /health's
    assert out.index(b"Echo: m7") < out.index(b'"status"')
    assert b"Echo: m8" not in out  # the third is with the child now
    answerLast(h)
    assert transport.value().index(b"Echo: m8") > out.index(b'"status"')
    assert not transport.disconnecting


def test_reading_stops_behind_a_pending_call_with_many_pipelined() -> None:
    """Bytes behind a response in progress wait as bytes (at most one 4 KiB
    slice of them parsed); past 16 KiB the connection is not read."""
    h, sid, protocol, transport = connectedSession()
    protocol.dataReceived(post(sid, echo(1)) + HEALTH * 600)
    assert transport.producerState == "paused"
    assert len(protocol._reader.messages) <= 4096 // len(HEALTH) + 1
    answerLast(h)
    assert transport.value().count(b"HTTP/1.1 200 OK") == 601
    assert transport.producerState == "producing"


def test_reading_stays_paused_while_slow_calls_are_pipelined_behind_each_other() -> None:
    """Each answer lets the next call start: reading resumes only once what
    waits is under 16 KiB again, so the queue does not grow by a read per
    answer."""
    h, sid, protocol, transport = connectedSession()
    calls = b"".join(post(sid, echo(n)) for n in range(1, 121))
    protocol.dataReceived(calls)
    assert transport.producerState == "paused"
    answered = 0
    while transport.producerState == "paused":
        answerLast(h)
        answered += 1
        assert len(protocol._reader.messages) <= 4096 // 300 + 1
        assert answered < 120
    assert len(protocol._unread) <= 16384
    assert transport.value().count(b"Echo: m") == answered


def test_a_body_that_waits_for_100_continue_gets_it() -> None:
    h, sid, protocol, transport = connectedSession()
    whole = post(sid, echo(3), extra=b"Expect: 100-continue\r\n")
    head, _, body = whole.partition(b"\r\n\r\n")
    protocol.dataReceived(head + b"\r\n\r\n")
    assert transport.value() == b"HTTP/1.1 100 Continue\r\n\r\n"
    protocol.dataReceived(body)
    answerLast(h)
    assert b"Echo: m3" in transport.value()


def test_curl_asking_to_upgrade_to_h2c_is_answered_in_http_1_1() -> None:
    h = Harness()
    protocol, transport = connect(h)
    protocol.dataReceived(
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n" + HEALTH
    )
    assert transport.value().count(b"HTTP/1.1 200 OK") == 2 and not transport.disconnecting


def test_a_request_that_cannot_be_read_is_a_400_and_a_log_line() -> None:
    h = Harness()
    protocol, transport = connect(h)
    with capturedGatewayLogs() as events:
        protocol.dataReceived(HEALTH + b"GET /x HTTP/1.1\r\nX: a\r\n folded\r\n\r\n" + HEALTH)
    out = transport.value()
    assert out.count(b"HTTP/1.1 200 OK") == 1
    refusal = out[out.index(b"HTTP/1.1 400 Bad Request") :]
    assert b"content-type: application/json" in refusal and b"connection: close" in refusal
    assert json.loads(refusal.partition(b"\r\n\r\n")[2]) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32600,
            "message": "the request cannot be read: Unexpected whitespace after header value",
        },
    }
    assert transport.disconnecting
    assert any("a request that cannot be read" in str(e.get("reason", "")) for e in events), events


def test_a_malformed_chunked_body_after_its_head_is_a_400() -> None:
    _, sid, protocol, transport = connectedSession()
    head = post(sid, echo(1)).partition(b"Content-Length")[0]
    protocol.dataReceived(head + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert transport.value().startswith(b"HTTP/1.1 400 Bad Request") and transport.disconnecting
    assert b"Invalid character in chunk size" in transport.value()


def test_nothing_is_read_after_a_request_that_closes() -> None:
    h = Harness()
    protocol, transport = connect(h)
    protocol.dataReceived(
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nConnection: close\r\n\r\n" + HEALTH
    )
    assert transport.value().count(b"HTTP/1.1 200 OK") == 1 and transport.disconnecting


def test_a_get_streams_connection_lets_its_reader_go_and_reads_again_when_sent_more() -> None:
    """An idle session's GET stream holds its connection for the session's
    life: its request reader (about 1 KiB) goes once the stream's head is out."""
    h, sid, protocol, transport = connectedSession()
    protocol.dataReceived(
        b"GET /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: text/event-stream\r\n"
        b"MCP-Protocol-Version: 2025-11-25\r\nMcp-Session-Id: " + sid.encode() + b"\r\n\r\n"
    )
    assert transport.value().startswith(b"HTTP/1.1 200 OK")
    assert protocol._reader is None
    protocol.dataReceived(HEALTH)  # pipelined behind the stream: it waits, unread
    assert protocol._reader is None and protocol._unread == HEALTH
    assert b'"status"' not in transport.value()
    deleted = h.request("DELETE", "/srv/mcp", session=sid)
    assert deleted.status in (200, 204)
    assert b'"status"' in transport.value()  # the stream ended, /health is answered


def test_a_reader_holding_a_request_read_ahead_is_kept() -> None:
    _, sid, protocol, transport = connectedSession()
    protocol.dataReceived(
        b"GET /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: text/event-stream\r\n"
        b"MCP-Protocol-Version: 2025-11-25\r\nMcp-Session-Id: "
        + sid.encode()
        + b"\r\n\r\n"
        + HEALTH
    )
    assert protocol._reader is not None and len(protocol._reader.messages) == 1
    assert transport.value().startswith(b"HTTP/1.1 200 OK") and b'"status"' not in transport.value()


def test_a_header_value_with_a_control_character_is_a_json_400() -> None:
    """RFC 9110 allows no control characters in a field value; llhttp
    refuses them (DEL included), and the client reads why."""
    h = Harness()
    protocol, transport = connect(h)
    protocol.dataReceived(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nX-Junk: a\x7fb\r\n\r\n")
    out = transport.value()
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n")
    assert json.loads(out.partition(b"\r\n\r\n")[2])["error"]["code"] == -32600
    assert transport.disconnecting


def test_reading_stops_behind_a_pending_call_when_a_pipelined_body_is_large() -> None:
    h, sid, protocol, transport = connectedSession()
    big = post(sid, {"jsonrpc": "2.0", "id": 9, "method": "ping", "pad": "x" * 40000})
    protocol.dataReceived(post(sid, echo(1)) + big[:30000])
    assert transport.producerState == "paused"  # 16 KiB of a body wait: no more is read
    answerLast(h)
    assert transport.producerState == "producing"
    assert b"Echo: m1" in transport.value()


def test_every_form_of_connection_close_closes_after_the_response() -> None:
    """llhttp reads a list, or a second header; Twisted's check looks at the
    first word of the first one: each form closes, none leaves the
    connection hanging."""
    for closing in (
        b"Connection: keep-alive, close\r\n",
        b"Connection: foo,close\r\n",
        b"Connection: keep-alive\r\nConnection: close\r\n",
    ):
        h = Harness()
        protocol, transport = connect(h)
        protocol.dataReceived(
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n" + closing + b"\r\n"
        )
        out = transport.value()
        assert out.count(b"HTTP/1.1 200 OK") == 1 and b"Connection: close" in out, closing
        assert transport.disconnecting, closing


def test_no_header_deadline_while_a_response_is_in_progress() -> None:
    """A pipelined head that waits behind an open stream is not timed out
    into the middle of that stream; its deadline starts
    when the response before it is done."""
    h = LimitsHarness(MessageBounds(headerTimeout=10.0))
    sid = h.initialize()
    protocol, transport = connect(h)
    protocol.dataReceived(
        b"GET /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: text/event-stream\r\n"
        b"MCP-Protocol-Version: 2025-11-25\r\nMcp-Session-Id: " + sid.encode() + b"\r\n\r\n"
    )
    protocol.dataReceived(b"GET /health HTTP/1.1\r\nHo")
    for _ in range(12):
        h.reactor.advance(1.0)
    assert b"408" not in transport.value() and not transport.disconnecting
    h.request("DELETE", "/srv/mcp", session=sid)  # the stream ends
    for _ in range(11):
        h.reactor.advance(1.0)
    assert b"HTTP/1.1 408 Request Timeout" in transport.value() and transport.disconnecting


def test_queued_requests_do_not_run_once_the_connection_is_closing() -> None:
    h, sid, protocol, transport = connectedSession()
    protocol.dataReceived(post(sid, echo(1)) + post(sid, echo(2)))
    transport.disconnecting = (
        True  # closing (a handover, say), as a real transport's loseConnection
    )
    answerLast(h)
    assert b"Echo: m1" in transport.value()
    assert [m["params"]["arguments"]["message"] for m in h.process().sentMessages()[-1:]] == ["m1"]


def test_bytes_that_begin_no_request_are_held_to_the_header_deadline() -> None:
    """Empty lines now and then do not keep a connection open for ever."""
    h = LimitsHarness(MessageBounds(headerTimeout=10.0))
    protocol, transport = connect(h)
    for _ in range(11):
        protocol.dataReceived(b"\r\n")
        h.reactor.advance(1.0)
    assert b"HTTP/1.1 408 Request Timeout" in transport.value() and transport.disconnecting


def test_a_call_asking_to_upgrade_is_answered_with_its_body() -> None:
    h, sid, protocol, transport = connectedSession()
    whole = post(sid, echo(5), extra=b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n")
    protocol.dataReceived(whole[:-10])
    protocol.dataReceived(whole[-10:])
    answerLast(h)
    assert b"Echo: m5" in transport.value() and not transport.disconnecting


def test_a_transfer_coding_other_than_chunked_is_a_400() -> None:
    h = Harness()
    protocol, transport = connect(h)
    protocol.dataReceived(
        b"POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n"
        b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
    )
    assert transport.value().startswith(b"HTTP/1.1 400 Bad Request")
    assert b"a transfer coding other than chunked" in transport.value()


def test_a_slow_body_is_not_held_to_the_header_deadline() -> None:
    """Its head is in: the deadline is met, and no 408 comes after ten
    seconds of body. The body has deadlines of its own
    (tests/httpbase/test_deadlines.py), which 22 s for 111 bytes meets."""
    h = LimitsHarness(MessageBounds(headerTimeout=10.0))
    sid = h.initialize()
    protocol, transport = connect(h)
    whole = post(sid, echo(4))
    head, _, body = whole.partition(b"\r\n\r\n")
    protocol.dataReceived(head + b"\r\n\r\n")
    for byte in body:
        protocol.dataReceived(bytes([byte]))
        h.reactor.advance(0.2)
    assert b"408" not in transport.value() and not transport.disconnecting
    answerLast(h)
    assert b"Echo: m4" in transport.value()


def test_nothing_is_kept_of_what_comes_once_the_connection_is_closing() -> None:
    h = Harness()
    protocol, transport = connect(h)
    protocol.dataReceived(b"BREW / HTTP/1.1\r\n\r\n")
    assert transport.disconnecting
    for _ in range(10):
        protocol.dataReceived(b"x" * 65536)  # TLS may pass data up until close_notify
    assert protocol._unread == b""


def test_a_declared_length_over_the_limit_is_413_at_once_without_waiting_for_the_body() -> None:
    # Content-Length 99999999999 with a 2-byte body was
    # held open (the channel waited for a body that would never come).
    h = Harness(maxBody=4096)
    protocol, transport = connect(h)
    with capturedGatewayLogs() as events:
        protocol.dataReceived(
            b"POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: "
            + ACCEPT_BOTH.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{}"
        )
    status, body = _refusal(transport.value())
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert body["id"] is None and body["error"]["code"] == -32600
    assert body["error"]["message"].startswith("request body is over the 4096-byte limit")
    assert transport.disconnecting and h.reactor.processes == []
    assert any(e.get("status") == 413 for e in events), events
    protocol.dataReceived(b"x" * 10_000)  # what still comes is not read
    assert protocol._unread == b""


def test_a_413_closes_its_sending_side_and_drops_the_body_until_the_client_closes() -> None:
    """A client sending the body of a refused request whole before it
    reads (httpx) must read the 413, not a reset: the answer's sending
    side is closed, the body still coming is read and dropped, and the
    connection is aborted if the client never closes."""
    h = Harness(maxBody=4096)
    transport = HalfClosing(peerAddress=IPv4Address("TCP", "127.0.0.1", 50000))
    protocol, _ = connect(h, transport=transport)
    protocol.dataReceived(
        b"POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: "
        + ACCEPT_BOTH.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{"
    )
    assert _refusal(transport.value())[0] == b"HTTP/1.1 413 Request Entity Too Large"
    assert transport.writeClosed and not transport.disconnecting
    for _ in range(20):
        protocol.dataReceived(b"x" * 65536)
    assert protocol._unread == b"" and transport.value().count(b"HTTP/1.1 ") == 1
    h.reactor.advance(REFUSED_LINGER)
    assert transport.aborted


def test_a_body_over_the_limit_waiting_for_100_continue_is_413_instead() -> None:
    h = Harness(maxBody=200)
    sid = h.initialize()
    protocol, transport = connect(h)
    big = {**echo(3), "params": {"name": "echo", "arguments": {"message": "x" * 500}}}
    head = post(sid, big, extra=b"Expect: 100-continue\r\n").partition(b"\r\n\r\n")[0]
    protocol.dataReceived(head + b"\r\n\r\n")
    out = transport.value()
    assert b"100 Continue" not in out
    assert _refusal(out)[0] == b"HTTP/1.1 413 Request Entity Too Large" and transport.disconnecting


def test_a_length_at_the_limit_is_read_and_a_chunked_body_is_held_to_it_as_it_comes() -> None:
    h = Harness(maxBody=300)
    sid = h.initialize()
    body = json.dumps(echo(4)).encode()
    body += b" " * (300 - len(body))
    protocol, transport = connect(h)
    head = post(sid, echo(4)).partition(b"Content-Length")[0]
    protocol.dataReceived(head + b"Content-Length: 300\r\n\r\n" + body)
    answerLast(h)
    assert b"Echo: m4" in transport.value()
    chunked, chunkedTransport = connect(h)
    big = json.dumps(echo(5)).encode() + b" " * 400
    chunked.dataReceived(
        head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(big), big)
    )
    assert chunkedTransport.value().startswith(b"HTTP/1.1 413 ")


def test_an_http_1_1_request_without_host_is_a_json_400() -> None:
    # RFC 9112, section 3.2: it was served.
    h = Harness()
    protocol, transport = connect(h)
    protocol.dataReceived(b"GET /health HTTP/1.1\r\nAccept: application/json\r\n\r\n")
    status, body = _refusal(transport.value())
    assert status == b"HTTP/1.1 400 Bad Request" and transport.disconnecting
    assert body == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32600,
            "message": "an HTTP/1.1 request needs one Host header (RFC 9112, section 3.2)",
        },
    }
    twice, twiceTransport = connect(h)
    twice.dataReceived(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert _refusal(twiceTransport.value())[0] == b"HTTP/1.1 400 Bad Request"


def test_an_http_1_0_request_without_host_is_served() -> None:
    h = Harness()
    protocol, transport = connect(h)
    protocol.dataReceived(b"GET /health HTTP/1.0\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.0 200 OK")


def test_the_connections_addresses_are_asked_once_not_per_request() -> None:
    """Twisted asks the transport for both addresses for every request
    (the local one is a C{getsockname} system call, the peer a new object):
    the gateway's channel asks once per connection, and every request of
    it carries the same addresses."""
    h, sid, protocol, transport = connectedSession()
    asked: list[str] = []
    peer, host = transport.getPeer, transport.getHost

    def getPeer() -> Any:
        asked.append("peer")
        return peer()

    def getHost() -> Any:
        asked.append("host")
        return host()

    transport.getPeer = getPeer  # type: ignore[method-assign]
    transport.getHost = getHost  # type: ignore[method-assign]
    requests: list[Any] = []
    factory = protocol.requestFactory

    def made(*args: Any, **kwargs: Any) -> Any:
        requests.append(factory(*args, **kwargs))
        return requests[-1]

    protocol.requestFactory = made
    for n in (1, 2):
        protocol.dataReceived(post(sid, echo(n)))
        answerLast(h)
    assert len(requests) == 2
    assert requests[0].client is requests[1].client
    assert requests[0].client == IPv4Address("TCP", "127.0.0.1", 50000)
    assert requests[0].getHost() is requests[1].getHost()
    assert asked.count("host") <= 1  # made when first asked
    assert asked.count("peer") == 0  # made when the connection was


def test_the_site_counts_the_requests_it_serves_until_they_finish() -> None:
    """What the reactor's spin asks (L{GatewaySite.servesAtMostOne}): every
    request from its read to its finish, a streamed one too, whatever the
    transport; a connection lost mid-call stops counting its request."""
    h = Harness()
    sid = h.initialize()
    site: Any = h.site
    assert site.serving == 0
    first, firstTransport = connect(h)
    first.dataReceived(post(sid, echo(1)))
    assert site.serving == 1 and site.servesAtMostOne()
    second, transport = connect(h)
    second.dataReceived(post(sid, echo(2)))
    assert site.serving == 2 and not site.servesAtMostOne()
    transport.loseConnection()
    second.connectionLost(ConnectionDone())
    assert site.serving == 1
    proc = h.process()
    [sent] = [
        m
        for m in proc.sentMessages()
        if m.get("method") == "tools/call" and m["params"]["arguments"]["message"] == "m1"
    ]
    proc.reply({"jsonrpc": "2.0", "id": sent["id"], "result": {"content": []}})
    assert site.serving == 0
    first.dataReceived(HEALTH)
    assert site.serving == 0  # answered at once
    streamed = echo(3)
    streamed["params"]["_meta"] = {"progressToken": "p3"}
    first.dataReceived(post(sid, streamed))
    [sent] = [m for m in proc.sentMessages() if m.get("id") not in (None, sent["id"])][-1:]
    token = sent["params"]["_meta"]["progressToken"]
    proc.reply(
        {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": token, "progress": 1},
        }
    )
    assert b"notifications/progress" in firstTransport.value()  # the stream's head is out
    assert site.serving == 1  # and the call is still served
    proc.reply({"jsonrpc": "2.0", "id": sent["id"], "result": {"content": []}})
    assert site.serving == 0


def test_a_finished_answer_with_nothing_behind_it_runs_no_reading_loop() -> None:
    """One call at a time: when its answer is done and nothing was read
    behind it, the channel waits for the next bytes without running its
    reading loop (two calls per request saved); a request read behind it
    is served from there."""
    h = Harness()
    sid = h.initialize()
    protocol, transport = connect(h)
    loops: list[int] = []
    serve = protocol._serve

    def counted() -> None:
        loops.append(1)
        serve()

    protocol._serve = counted
    protocol.dataReceived(post(sid, echo(1)))
    assert len(loops) == 1  # the request was read
    answerLast(h)
    assert b"Echo: m1" in transport.value()
    assert len(loops) == 1  # nothing behind it: no loop
    protocol.dataReceived(post(sid, echo(2)) + HEALTH)
    assert len(loops) == 2
    answerLast(h)
    assert len(loops) == 3  # /health, read behind the call, served after it
    assert transport.value().count(b"HTTP/1.1 200 OK") == 3
    half = HEALTH[:20]
    protocol.dataReceived(half)  # a head begun, not complete: held to its deadline
    assert protocol.headersSince is not None
