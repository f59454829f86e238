"""The bridge's stdio side (L{StdioProtocol}) on a L{StringTransport}."""

from __future__ import annotations

import json

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from mcpgateway.bridge.framing import Outgoing
from mcpgateway.bridge.stdio import StdioProtocol


def make(
    maxLine: int = 1 << 20,
) -> tuple[StdioProtocol, StringTransport, list[Outgoing], list[str]]:
    received: list[Outgoing] = []
    ends: list[str] = []
    proto = StdioProtocol(received.append, lambda: ends.append("end"), maxLine)
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport, received, ends


def test_lines_in_messages_out_and_one_line_per_message() -> None:
    proto, transport, received, _ = make()
    proto.dataReceived(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n{"jsonrpc":"2.0",')
    assert [m.body for m in received] == [b'{"jsonrpc":"2.0","id":1,"method":"ping"}']
    proto.dataReceived(b'"method":"notifications/initialized"}\r\n')
    assert received[1].method == "notifications/initialized"
    proto.write(b'{"jsonrpc":"2.0","id":1,"result":{}}')
    assert transport.value() == b'{"jsonrpc":"2.0","id":1,"result":{}}\n'


def test_garbage_and_overlong_lines_are_answered_and_the_stream_goes_on() -> None:
    proto, transport, received, ends = make(maxLine=100)
    proto.dataReceived(
        b"not json\n" + b"[" * 200 + b"\n" + b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n'
    )
    answers = [json.loads(line) for line in transport.value().splitlines()]
    assert [a["error"]["code"] for a in answers] == [-32700, -32700]
    assert [m.id for m in received] == [2]
    assert ends == []


def test_eof_reads_a_last_unterminated_line_then_ends_once() -> None:
    proto, _, received, ends = make()
    proto.dataReceived(b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}')
    assert received == []
    proto.readConnectionLost()
    assert received[0].method == "notifications/cancelled"
    proto.connectionLost()
    assert ends == ["end"]


def test_stdout_gone_is_said_once_before_the_end() -> None:
    calls: list[str] = []
    proto = StdioProtocol(
        lambda message: None, lambda: calls.append("end"), onGone=lambda: calls.append("gone")
    )
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.writeConnectionLost()
    proto.write(b"{}")
    assert calls == ["gone"] and transport.value() == b""
    proto.connectionLost()
    assert calls == ["gone", "end"]
    both = StdioProtocol(
        lambda message: None, lambda: calls.append("end2"), onGone=lambda: calls.append("gone2")
    )
    both.makeConnection(StringTransport())
    both.connectionLost()
    assert calls[2:] == ["gone2", "end2"]


def test_close_output_fires_once_stdout_is_flushed_or_at_its_bound() -> None:
    clock = Clock()
    proto, transport, _, _ = make()
    proto.write(b"{}")
    closed = proto.closeOutput(clock, timeout=2)
    assert transport.disconnecting and not closed.called  # flushing
    assert proto.closeOutput(clock) is closed
    proto.connectionLost()  # flushed and closed
    assert closed.called and not clock.getDelayedCalls()
    # A client that reads no more: given up after the bound.
    stuck, _, _, _ = make()
    closed = stuck.closeOutput(clock, timeout=2)
    clock.advance(1.9)
    assert not closed.called
    clock.advance(0.1)
    assert closed.called
    # stdout gone already: nothing to wait for.
    gone, _, _, _ = make()
    gone.writeConnectionLost()
    assert gone.closeOutput(clock).called
