"""A chunked body over C{--max-body} is refused as soon as it passes the
limit: 413 with the gateway's JSON-RPC error and
C{connection: close}, as a C{Content-Length} over the limit is, and the
rest of the body is not read.

These tests read the tuned channel's state (its open request, its body
deadline): they run on it whatever C{$MCPGATEWAY_TWISTED} says
(tests/web/plumbing/test_stock.py has Twisted's own channel).
"""

from __future__ import annotations

import json

import pytest

from tests.fakes import capturedGatewayLogs
from tests.http import Harness
from tests.support.web.channel_reading import _refusal, echo, post
from tests.support.web.mcp import connect

pytestmark = pytest.mark.usefixtures("tunedChannel")


def _chunkedHead(sid: str) -> bytes:
    return (
        post(sid, echo(9)).partition(b"Content-Length")[0] + b"Transfer-Encoding: chunked\r\n\r\n"
    )


def test_an_endless_chunked_body_is_413_once_past_the_limit_and_not_read_on() -> None:
    # It was read (and dropped) to its end before the 413: an endless one was
    # never answered, and kept the reactor reading.
    h = Harness(maxBody=4096)
    sid = h.initialize()
    sent = len(h.process().sentMessages())
    protocol, transport = connect(h)
    piece = b"%x\r\n%s\r\n" % (1000, b" " * 1000)
    protocol.dataReceived(_chunkedHead(sid) + piece * 4)  # 4000 bytes: under the limit
    assert transport.value() == b"" and not transport.disconnecting
    with capturedGatewayLogs():
        protocol.dataReceived(piece)  # 5000: past it, and no end of the body
    out = transport.value()
    head = out.partition(b"\r\n\r\n")[0].lower()
    status, body = _refusal(out)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert b"connection: close" in head and transport.disconnecting
    assert body["id"] is None and body["error"]["code"] == -32600
    assert "over the 4096-byte limit" in body["error"]["message"]
    assert protocol._opened is None and protocol.bodySince is None  # no 408 behind it
    protocol.dataReceived(piece * 100 + b"0\r\n\r\n")  # what follows is not read
    assert transport.value() == out
    assert len(h.process().sentMessages()) == sent  # nothing reached the child


def test_a_chunked_body_under_the_limit_is_still_served() -> None:
    h = Harness(maxBody=4096)
    sid = h.initialize()
    protocol, transport = connect(h)
    body = json.dumps(echo(9)).encode()
    protocol.dataReceived(_chunkedHead(sid) + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    proc = h.process()
    sent = proc.sentMessages()[-1]
    assert sent["params"]["arguments"]["message"] == "m9"
    assert not transport.disconnecting
