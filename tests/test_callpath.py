"""The gateway's own modules one laptop C{tools/call} runs through, on both
runtimes (the tuned channel and request, and Twisted as it ships).

What C{benchmarks/callfiles.py} prints, kept: a reader of a call's path
opens at most L{MAX_FILES} files, and a module that has nothing to do on a
laptop's call is not reached to learn so: the lost-child notices, the
sessions' own children and the shared placement (the pool reads what it
needs of them), tracing without a tracer, the protocol revisions, the
site's access log and body file, the SSE keep-alive ticker of an answer
that comes at once, and on the tuned runtime Twisted's persistence check.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

import mcpgateway
from mcpgateway.web.app import makeSite
from tests.http import ACCEPT_BOTH, Harness

MAX_FILES = 20
"""The most files of C{mcpgateway/} one call may run code of."""

OFF_THE_PATH = (
    "core/pools/lostchild.py",
    "core/pools/owned.py",
    "core/pools/shared.py",
    "core/tracing.py",
    "protocol/versions.py",
    "web/app.py",
    "web/plumbing/sse.py",
)
"""Modules a laptop's call never runs code of, on either runtime."""

TUNED_OFF_THE_PATH = ("web/plumbing/bounds.py",)
"""And on the tuned runtime (the stock channel keeps Twisted's check)."""

PACKAGE = os.path.dirname(os.path.abspath(mcpgateway.__file__)) + os.sep


class Calls:
    """One session of a laptop gateway (no policy, no audit, no limits) on
    the real site, over one keep-alive connection, with a fake child."""

    def __init__(self, twisted: str) -> None:
        h = Harness()
        h.site = makeSite(h.gateway, h.reactor, loopbackOnly=True, maxBody=4096, twisted=twisted)
        sid = h.initialize("srv")
        self.proc = h.process()
        self.proc.written.clear()
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 50000))
        self.protocol = h.site.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)
        self.head = (
            "POST /srv/mcp HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: "
            + ACCEPT_BOTH
            + "\r\nContent-Type: application/json\r\nMCP-Protocol-Version: 2025-11-25\r\n"
            "Mcp-Session-Id: " + sid + "\r\nContent-Length: "
        ).encode()

    def one(self, n: int) -> bytes:
        """Call C{tools/call echo} number C{n}, answered by the child: what
        the client got."""
        body = (
            b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo",'
            b'"arguments":{"message":"m%d"}}}' % (n, n)
        )
        self.transport.clear()
        self.protocol.dataReceived(self.head + b"%d\r\n\r\n" % len(body) + body)
        childId = json.loads(self.proc.written.pop())["id"]
        self.proc.stdout(
            b'{"jsonrpc":"2.0","id":%d,"result":{"content":[{"type":"text",'
            b'"text":"Echo: m%d"}]}}\n' % (childId, n)
        )
        answer: bytes = self.transport.value()
        return answer


def filesOfOneCall(twisted: str) -> list[str]:
    """The files of C{mcpgateway/} whose code ran during one call, after a
    few warmed caches, relative to the package's folder."""
    calls = Calls(twisted)
    for n in range(3):
        calls.one(n)
    seen: set[str] = set()

    def profiler(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            seen.add(frame.f_code.co_filename)

    sys.setprofile(profiler)
    try:
        answer = calls.one(3)
    finally:
        sys.setprofile(None)
    assert b'"id":3,' in answer and b"Echo: m3" in answer
    return sorted(path[len(PACKAGE) :] for path in seen if path.startswith(PACKAGE))


@pytest.fixture(params=["tuned", "stock"])
def files(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[str]]]:
    yield request.param, filesOfOneCall(request.param)


def test_a_call_runs_through_few_files(files: tuple[str, list[str]]) -> None:
    _, ran = files
    assert len(ran) <= MAX_FILES, ran


def test_what_has_nothing_to_do_on_a_laptop_call_is_not_reached(
    files: tuple[str, list[str]],
) -> None:
    twisted, ran = files
    off = OFF_THE_PATH + (TUNED_OFF_THE_PATH if twisted == "tuned" else ())
    assert [name.replace(os.sep, "/") for name in ran if name.replace(os.sep, "/") in off] == []


def test_the_path_is_the_one_a_call_takes(files: tuple[str, list[str]]) -> None:
    """The tracer sees the call: its channel, its POST, its router, its child."""
    twisted, ran = files
    channel = "tuned/channel.py" if twisted == "tuned" else "web/plumbing/stock.py"
    expected = [channel, "web/endpoints/mcppost.py", "core/router.py", "core/child.py"]
    assert [name for name in expected if name not in ran] == []
