"""What tests/web/endpoints/test_mcp.py shares with the other tests: LimitsHarness,
answerEverything, call, childRequests, connect, noTracebacks, started."""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, spec
from tests.support.web.mcpcall import call as call


def started(h: Harness, response: Any) -> Any:
    """A forwarded request's stream sends its headers with its first event,
    or after a second of silence: let that second pass."""
    h.reactor.advance(1.0)
    return response


def childRequests(h: Harness, method: str = "tools/call", index: int = -1) -> list[dict[str, Any]]:
    return [m for m in h.process(index).sentMessages() if m.get("method") == method]


class LimitsHarness(Harness):
    """A L{Harness} whose site has the given L{MessageBounds}."""

    def __init__(self, limits: MessageBounds, servers: dict[str, Any] | None = None) -> None:
        self.reactor = FakeProcessReactor()
        self.gateway = Gateway(servers or {"srv": spec("srv")}, fakeSpawner(self.reactor))
        self.site = makeSite(self.gateway, self.reactor, limits=limits)


def answerEverything(h: Harness) -> None:
    """The fake child answers every request it was sent and has not answered."""
    proc = h.process()
    answered: set[Any] = getattr(proc, "answered", set())
    for sent in proc.sentMessages():
        if "method" in sent and "id" in sent and sent["id"] not in answered:
            answered.add(sent["id"])
            proc.reply({"jsonrpc": "2.0", "id": sent["id"], "result": {}})
    proc.answered = answered  # type: ignore[attr-defined]


def noTracebacks(events: list[Any]) -> None:
    failures = [e for e in events if "log_failure" in e]
    assert not failures, [e.get("log_format") for e in failures]


def connect(
    h: Harness, peer: str = "127.0.0.1", transport: StringTransport | None = None
) -> tuple[Any, StringTransport]:
    if transport is None:
        transport = StringTransport(peerAddress=IPv4Address("TCP", peer, 50000))
    protocol = h.site.buildProtocol(transport.getPeer())
    protocol.makeConnection(transport)
    return protocol, transport
