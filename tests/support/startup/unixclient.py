"""A connection to a UNIX socket a L{MemoryReactorClock} listens on: what the
tests of the network proxy's allow and learn sockets open."""

from __future__ import annotations

from twisted.internet.testing import MemoryReactorClock, StringTransport

from mcpgateway.startup.netproxy import ProxyProtocol


def connectTo(reactor: MemoryReactorClock, path: str) -> tuple[ProxyProtocol, StringTransport]:
    """A proxy connection on the socket C{path}, made on a L{StringTransport}."""
    factory = next(f for p, f, *_ in reactor.unixServers if p == path)
    protocol = factory.buildProtocol(None)
    assert isinstance(protocol, ProxyProtocol)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport
