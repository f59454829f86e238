"""A finished call leaves no reference cycles behind: reference counting frees
everything it allocated, so the cycle collector has nothing to find (at C=64
the ~32 cyclic objects per call were what drove the full collections that
stalled the gateway: docs/design/costs.md, "Garbage collection")."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from tests.http import ACCEPT_BOTH, Harness


@pytest.fixture
def savedGarbage() -> Iterator[list[Any]]:
    """The collector off during the test; C{collect()} then saves what it finds."""
    gc.collect()
    wasEnabled = gc.isenabled()
    gc.disable()
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if wasEnabled:
            gc.enable()


def cyclicAfter(calls: int, harness: Any, transport: Any, protocol: Any, sid: str) -> list[Any]:
    proc = harness.process()
    head = (
        "POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: "
        + ACCEPT_BOTH
        + "\r\nContent-Type: application/json\r\nMCP-Protocol-Version: 2025-11-25\r\n"
        "Mcp-Session-Id: " + sid + "\r\nContent-Length: "
    ).encode()
    for n in range(calls):
        body = (
            b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo",'
            b'"arguments":{"message":"m%d"}}}' % (n, n)
        )
        transport.clear()
        protocol.dataReceived(head + b"%d\r\n\r\n" % len(body) + body)
        childId = json.loads(proc.written.pop())["id"]
        proc.stdout(
            b'{"jsonrpc":"2.0","id":%d,"result":{"content":[{"type":"text",'
            b'"text":"Echo: m%d"}]}}\n' % (childId, n)
        )
        assert b"Echo: m%d" % n in transport.value()
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    return list(gc.garbage)


def test_finishedCallsLeaveNoCycles(savedGarbage: list[Any]) -> None:
    """Keep-alive POSTs of tools/call, each answered by the child: once
    answered, nothing of theirs is left for the cycle collector."""
    harness: Any = Harness()
    sid = harness.initialize("srv")
    harness.process().written.clear()
    makeTransport: Any = StringTransport
    transport = makeTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 50000))
    protocol = harness.site.buildProtocol(transport.getPeer())
    protocol.makeConnection(transport)
    cyclicAfter(5, harness, transport, protocol, sid)  # warm up: lazy imports, caches
    gc.set_debug(0)
    gc.garbage.clear()
    gc.collect()
    garbage = cyclicAfter(50, harness, transport, protocol, sid)
    kinds = sorted({type(o).__qualname__ for o in garbage})
    assert len(garbage) == 0, f"{len(garbage)} objects in cycles after 50 calls: {kinds}"
