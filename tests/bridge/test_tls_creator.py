# -*- test-case-name: tests.bridge.test_tls_creator -*-
"""How the bridge speaks TLS to a gateway: a self-signed certificate is
accepted on a loopback address only (as the healthcheck and the CLI do),
proven by real TLS handshakes in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("OpenSSL")

import twisted.test
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import PrivateCertificate
from twisted.internet.testing import StringTransport
from twisted.protocols.tls import TLSMemoryBIOFactory

from mcpgateway.bridge.main import tlsCreator

SELF_SIGNED = Path(twisted.test.__file__).with_name("server.pem")
"""Twisted's own test certificate: self-signed, issued to no loopback name."""


class Peer(Protocol):
    """One end of the connection: notes whether it was lost, and why."""

    lost: Any = None

    def connectionLost(self, reason: Any = None) -> None:
        self.lost = reason


def handshake(host: str) -> tuple[Any, Any]:
    """Run a TLS handshake in memory between a client using
    C{tlsCreator(host)} and a server with the self-signed certificate;
    the two ends' TLS protocols once no more bytes move."""
    serverOptions = PrivateCertificate.loadPEM(SELF_SIGNED.read_bytes()).options()
    server = TLSMemoryBIOFactory(serverOptions, False, Factory.forProtocol(Peer))
    client = TLSMemoryBIOFactory(tlsCreator(host, 9100), True, Factory.forProtocol(Peer))
    clientEnd, serverEnd = client.buildProtocol(None), server.buildProtocol(None)
    toServer, toClient = StringTransport(), StringTransport()
    clientEnd.makeConnection(toServer)
    serverEnd.makeConnection(toClient)
    for _ in range(20):
        sent, answered = toServer.value(), toClient.value()
        toServer.clear()
        toClient.clear()
        if not sent and not answered:
            break
        if sent:
            serverEnd.dataReceived(sent)
        if answered:
            clientEnd.dataReceived(answered)
    return clientEnd, toServer


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_a_self_signed_gateway_on_loopback_is_reached(host: str) -> None:
    clientEnd, toServer = handshake(host)
    assert clientEnd._handshakeDone
    assert clientEnd.wrappedProtocol.lost is None and not toServer.disconnecting


def test_a_self_signed_certificate_elsewhere_is_refused() -> None:
    clientEnd, toServer = handshake("gateway.example.com")
    assert not clientEnd._handshakeDone
    assert toServer.disconnecting or clientEnd.wrappedProtocol.lost is not None
