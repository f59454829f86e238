"""C{--twisted=stock}: the gateway's site on twisted.web's own channel and
request holds a connection to the same rules as the tuned one. Each rule is
run on both (C{twisted} parametrised); the last tests are those Twisted's own
channel needs help with."""

from __future__ import annotations

import json
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.web.http_headers import Headers

from mcpgateway.httpbase.headers import GatewayHeaders
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.tuned.switch import STOCK, TUNED, TWISTED_ENV
from mcpgateway.web.app import GatewaySite, StockSite, makeSite
from mcpgateway.web.plumbing.requestcontext import contextOf
from mcpgateway.web.plumbing.stock import StockChannel, StockRequest
from tests.fakes import capturedGatewayLogs
from tests.http import Harness
from tests.support.web.channel_reading import HEALTH, echo, post
from tests.support.web.mcp import noTracebacks

BOTH = pytest.mark.parametrize("twisted", [STOCK, TUNED])


def harness(twisted: str, limits: MessageBounds | None = None) -> Harness:
    h = Harness()
    h.site = makeSite(
        h.gateway, h.reactor, limits=limits or MessageBounds(maxBody=4096), twisted=twisted
    )
    return h


def connect(h: Harness, peer: str = "127.0.0.1") -> tuple[Any, StringTransport]:
    transport = StringTransport(peerAddress=IPv4Address("TCP", peer, 50000))
    protocol = h.site.buildProtocol(transport.getPeer())
    protocol.makeConnection(transport)
    return protocol, transport


def refusal(out: bytes) -> tuple[bytes, dict[str, Any]]:
    """The status line and JSON body of a refusal that closed the connection."""
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    return head.split(b"\r\n")[0], json.loads(body)


def tick(h: Harness, seconds: int) -> None:
    for _ in range(seconds):
        h.reactor.advance(1.0)


def test_stock_is_twisteds_channel_request_and_headers() -> None:
    h = harness(STOCK)
    assert type(h.site) is StockSite
    protocol, _ = connect(h)
    assert type(protocol._channel) is StockChannel
    assert issubclass(h.site.requestFactory, StockRequest)
    assert h.site.requestFactory.bodyLimit == 4096  # type: ignore[attr-defined]
    response = h.request("GET", "/health")
    assert response.status == 200
    tuned = harness(TUNED)
    assert type(tuned.site) is GatewaySite


def test_the_environment_chooses_when_the_caller_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TWISTED_ENV, STOCK)
    h = Harness()
    assert type(h.site) is StockSite
    monkeypatch.setenv(TWISTED_ENV, TUNED)
    assert type(Harness().site) is GatewaySite


def test_a_stock_request_has_twisteds_headers() -> None:
    h = harness(STOCK)
    protocol, _ = connect(h)
    request: Any = h.site.requestFactory(protocol._channel)
    assert type(request.requestHeaders) is Headers
    assert not isinstance(request.requestHeaders, GatewayHeaders)
    assert contextOf(request).principal is None and request.onLost is None


@BOTH
def test_a_call_is_forwarded_and_answered(twisted: str) -> None:
    h = harness(twisted)
    sid = h.initialize()
    protocol, transport = connect(h)
    protocol.dataReceived(post(sid, echo(7)))
    [sent] = [m for m in h.process().sentMessages() if m.get("method") == "tools/call"]
    h.process().reply({"jsonrpc": "2.0", "id": sent["id"], "result": {"content": []}})
    out = transport.value()
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b'"id":7' in out and not transport.disconnecting


@BOTH
def test_a_declared_length_over_the_limit_is_413_before_the_body(twisted: str) -> None:
    h = harness(twisted)
    protocol, transport = connect(h)
    with capturedGatewayLogs() as events:
        protocol.dataReceived(
            b"POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nContent-Type: application/json\r\n"
            b"Content-Length: 99999999999\r\n\r\n{}"
        )
    status, body = refusal(transport.value())
    assert status == b"HTTP/1.1 413 Request Entity Too Large" and transport.disconnecting
    assert body["error"]["message"].startswith("request body is over the 4096-byte limit")
    assert any(e.get("status") == 413 for e in events) and h.reactor.processes == []


@BOTH
def test_a_chunked_body_is_413_once_past_the_limit(twisted: str) -> None:
    h = harness(twisted)
    sid = h.initialize()
    protocol, transport = connect(h)
    head = (
        post(sid, echo(1)).partition(b"Content-Length")[0] + b"Transfer-Encoding: chunked\r\n\r\n"
    )
    protocol.dataReceived(head)
    for _ in range(5):
        protocol.dataReceived(b"3e8\r\n" + b"x" * 1000 + b"\r\n")
    status, body = refusal(transport.value())
    assert status == b"HTTP/1.1 413 Request Entity Too Large" and transport.disconnecting
    assert "a chunked body" in body["error"]["message"]
    protocol.dataReceived(b"3e8\r\n" + b"x" * 1000 + b"\r\n")  # not read on
    assert transport.value().count(b"HTTP/1.1") == 1


@BOTH
@pytest.mark.parametrize(
    ("head", "says"),
    [
        (b"GET /health HTTP/1.1\r\n\r\n", "needs one Host header"),
        (b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "one Host header only"),
        (b"GET /health HTTP/1.1\r\nHost: a b\r\n\r\n", "is not host[:port]"),
        (
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: a\r\n"
            b"Mcp-Session-Id: b\r\n\r\n",
            "one value of",
        ),
    ],
    ids=["no-host", "two-hosts", "bad-host", "two-session-ids"],
)
def test_a_head_against_the_rules_is_a_json_400(twisted: str, head: bytes, says: str) -> None:
    h = harness(twisted)
    protocol, transport = connect(h)
    protocol.dataReceived(head + HEALTH)
    status, body = refusal(transport.value())
    assert status == b"HTTP/1.1 400 Bad Request" and transport.disconnecting
    assert body["id"] is None and says in body["error"]["message"]
    assert b"HTTP/1.1 200" not in transport.value()  # what followed was not served


@BOTH
def test_a_version_other_than_1_0_and_1_1_is_a_400(twisted: str) -> None:
    """(Twisted's own parser refuses C{HTTP/2.0} itself, with an empty 400.)"""
    h = harness(twisted)
    protocol, transport = connect(h)
    protocol.dataReceived(b"GET /health HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n" + HEALTH)
    assert transport.value().startswith(b"HTTP/1.1 400 Bad Request") and transport.disconnecting
    assert b"HTTP/1.1 200" not in transport.value()


@BOTH
def test_a_head_too_slow_is_408(twisted: str) -> None:
    h = harness(twisted, MessageBounds(headerTimeout=10.0))
    protocol, transport = connect(h)
    protocol.dataReceived(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    tick(h, 9)
    assert transport.value() == b""
    tick(h, 2)
    assert transport.value().startswith(b"HTTP/1.1 408 Request Timeout") and transport.disconnecting


@BOTH
def test_a_head_pipelined_behind_a_response_has_the_deadline_too(twisted: str) -> None:
    h = harness(twisted, MessageBounds(headerTimeout=10.0))
    protocol, transport = connect(h)
    protocol.dataReceived(HEALTH + b"GET /health HTTP/1.1\r\nHost: x\r\n")
    assert b'"status":"ok"' in transport.value()
    tick(h, 11)
    assert b"HTTP/1.1 408 Request Timeout" in transport.value() and transport.disconnecting


@BOTH
def test_a_stalled_body_is_408_and_a_slow_one_is_not(twisted: str) -> None:
    h = harness(twisted, MessageBounds(maxBody=100_000))
    sid = h.initialize()
    protocol, transport = connect(h)
    head, _, body = post(sid, {**echo(1), "pad": "x" * 40_000}).partition(b"\r\n\r\n")
    protocol.dataReceived(head + b"\r\n\r\n" + body[:30_000])
    tick(h, 29)
    protocol.dataReceived(body[30_000:35_000])
    tick(h, 29)
    assert transport.value() == b"" and not transport.disconnecting  # it keeps coming
    tick(h, 2)
    out = transport.value()
    assert out.startswith(b"HTTP/1.1 408 Request Timeout") and b"no byte for 30 s" in out


@BOTH
def test_an_idle_connection_is_closed_after_a_minute(twisted: str) -> None:
    h = harness(twisted)
    protocol, transport = connect(h)
    protocol.dataReceived(HEALTH)
    tick(h, 59)
    assert not transport.disconnecting
    tick(h, 2)
    assert transport.disconnecting


@BOTH
def test_connections_per_peer_are_capped(twisted: str) -> None:
    h = harness(twisted, MessageBounds(maxConnectionsPerPeer=2))
    connect(h)
    connect(h)
    third, transport = connect(h)
    assert transport.value().startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert transport.disconnecting
    third.dataReceived(HEALTH)  # ignored
    assert transport.value().count(b"HTTP/1.1") == 1
    assert connect(h, peer="127.0.0.2")[1].value() == b""


@BOTH
@pytest.mark.parametrize(
    "closing",
    [b"Connection: foo,close\r\n", b"Connection: keep-alive\r\nConnection: close\r\n"],
    ids=["list", "second-header"],
)
def test_every_form_of_connection_close_closes(twisted: str, closing: bytes) -> None:
    """Twisted's own check reads the first word of the first header only."""
    h = harness(twisted)
    protocol, transport = connect(h)
    protocol.dataReceived(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + closing + b"\r\n")
    out = transport.value()
    assert out.count(b"HTTP/1.1 200 OK") == 1 and b"onnection: close" in out
    assert transport.disconnecting


@BOTH
def test_a_content_length_of_thousands_of_digits_is_a_400_not_a_traceback(twisted: str) -> None:
    """Twisted's channel turns the digits into an C{int} (Python refuses
    more than 4,300) and lets the C{ValueError} out."""
    h = harness(twisted)
    protocol, transport = connect(h)
    with capturedGatewayLogs() as events:
        protocol.dataReceived(
            b"POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
            + b"9" * 5000
            + b"\r\n\r\n"
        )
    assert transport.value().startswith(b"HTTP/1.1 400 Bad Request") and transport.disconnecting
    noTracebacks(events)
