"""The allow-list proxy on the reactor: CONNECT and plain HTTP requests of
a child, judged by its allow list and by the addresses its hosts resolve
to, spliced with backpressure, bounded, and each refusal logged once."""

from __future__ import annotations

import os
from pathlib import Path

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport

from mcpgateway.runtime.peeruid import PeerSocket
from mcpgateway.startup.netproxy import (
    MAX_HOSTS_KEPT,
    OTHER_HOSTS,
    NetworkProxy,
    ProxyProtocol,
)
from tests.fakes import capturedGatewayLogs
from tests.support.startup.netproxy import LOOPBACK, PUBLIC, proxyOf
from tests.support.startup.unixclient import connectTo


def client(
    proxy: NetworkProxy, reactor: MemoryReactorClock, allowed: tuple[str, ...], server: str = "s"
) -> tuple[ProxyProtocol, StringTransport]:
    return connectTo(reactor, proxy.socketFor(server, allowed))


def upstream(reactor: MemoryReactorClock, index: int = -1) -> tuple[Protocol, StringTransport]:
    """Complete the proxy's last connection attempt."""
    factory = reactor.tcpClients[index][2]
    protocol = factory.buildProtocol(None)
    assert isinstance(protocol, Protocol)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def test_each_server_and_allow_list_gets_its_own_private_socket(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path)
    first = proxy.socketFor("a", ("x.com",))
    assert proxy.socketFor("a", ("x.com",)) == first
    assert proxy.socketFor("b", ("x.com",)) != first
    assert proxy.socketFor("a", ("y.com",)) != first
    assert os.stat(tmp_path / "run").st_mode & 0o777 == 0o700
    assert [mode for _, _, _, mode, *_ in reactor.unixServers] == [0o600] * 3


def test_connect_to_an_allowed_host_tunnels_both_ways(tmp_path: Path) -> None:
    proxy, reactor, resolver = proxyOf(tmp_path)
    protocol, transport = client(proxy, reactor, ("api.example.com",))
    protocol.dataReceived(b"CONNECT api.example.com:443 HTTP/1.1\r\n\r\nearly")
    assert resolver.asked == ["api.example.com"]
    assert reactor.tcpClients[0][:2] == ("93.184.216.34", 443)
    assert transport.producerState == "paused"  # nothing more is read while it connects
    up, upTransport = upstream(reactor)
    assert transport.value() == b"HTTP/1.1 200 Connection Established\r\n\r\n"
    assert upTransport.value() == b"early"
    assert transport.producerState == "producing"
    assert transport.producer is upTransport and upTransport.producer is transport
    protocol.dataReceived(b"more")
    up.dataReceived(b"reply")
    assert upTransport.value() == b"earlymore" and transport.value().endswith(b"reply")
    up.connectionLost(None)  # type: ignore[arg-type]
    assert transport.disconnecting


def test_a_plain_http_request_goes_out_in_origin_form(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path)
    protocol, transport = client(proxy, reactor, ("api.example.com",))
    protocol.dataReceived(b"GET http://api.example.com/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
    assert reactor.tcpClients[0][:2] == ("93.184.216.34", 80)
    _, upTransport = upstream(reactor)
    assert upTransport.value() == (
        b"GET /x HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n"
    )
    assert transport.value() == b""


def test_a_host_off_the_list_is_refused_logged_once_and_counted(tmp_path: Path) -> None:
    proxy, reactor, resolver = proxyOf(tmp_path)
    with capturedGatewayLogs() as events:
        for _ in range(3):
            protocol, transport = client(proxy, reactor, ("api.example.com",), "github")
            protocol.dataReceived(b"CONNECT evil.example.net:443 HTTP/1.1\r\n\r\n")
            assert transport.value().startswith(b"HTTP/1.1 403 Forbidden")
            assert b'add "evil.example.net" to "sandbox"' in transport.value()
            assert transport.disconnecting
            protocol.connectionLost(None)  # type: ignore[arg-type]
    assert resolver.asked == [] and reactor.tcpClients == []
    told = [e for e in events if "refused" in e.get("log_format", "")]
    assert len(told) == 1 and told[0]["host"] == "evil.example.net"
    assert 'add "evil.example.net"' in told[0]["line"]
    assert proxy.status("github") == {
        "open": 0,
        "refused": 3,
        "refusedHosts": ["evil.example.net:443"],
    }
    assert proxy.status("other") is None


def test_a_name_that_resolves_to_a_local_address_is_refused(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path)
    protocol, transport = client(proxy, reactor, ("sneaky.example.com",))
    protocol.dataReceived(b"CONNECT sneaky.example.com:443 HTTP/1.1\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 403")
    assert b"local address" in transport.value()
    assert reactor.tcpClients == []


def test_a_loopback_address_named_literally_is_reached(tmp_path: Path) -> None:
    proxy, reactor, resolver = proxyOf(tmp_path)
    protocol, _ = client(proxy, reactor, ("127.0.0.1:8000",))
    protocol.dataReceived(b"CONNECT 127.0.0.1:8000 HTTP/1.1\r\n\r\n")
    assert resolver.asked == []
    assert reactor.tcpClients[0][:2] == ("127.0.0.1", 8000)
    protocol2, transport2 = client(proxy, reactor, ("127.0.0.1:8000",))
    protocol2.dataReceived(b"CONNECT 127.0.0.1:8001 HTTP/1.1\r\n\r\n")
    assert transport2.value().startswith(b"HTTP/1.1 403")


def test_localhost_named_by_name_does_not_reach_loopback(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path, {"localhost": [LOOPBACK]})
    protocol, transport = client(proxy, reactor, ("localhost:8000",))
    protocol.dataReceived(b"CONNECT localhost:8000 HTTP/1.1\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 403") and reactor.tcpClients == []


def test_only_the_public_addresses_of_a_mixed_name_are_tried(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path, {"api.example.com": [LOOPBACK, PUBLIC]})
    protocol, _ = client(proxy, reactor, ("api.example.com",))
    protocol.dataReceived(b"CONNECT api.example.com:443 HTTP/1.1\r\n\r\n")
    assert [c[0] for c in reactor.tcpClients] == ["93.184.216.34"]


def test_a_name_that_does_not_resolve_is_a_bad_gateway(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path)
    protocol, transport = client(proxy, reactor, ("*.example.com",))
    protocol.dataReceived(b"CONNECT gone.example.com:443 HTTP/1.1\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 502")


def test_a_bad_request_is_refused(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path)
    protocol, transport = client(proxy, reactor, ("api.example.com",))
    protocol.dataReceived(b"GET /local HTTP/1.1\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 400") and transport.disconnecting


def test_a_head_that_never_ends_is_bounded(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path)
    protocol, transport = client(proxy, reactor, ("api.example.com",))
    protocol.dataReceived(b"GET http://api.example.com/ HTTP/1.1\r\nX: " + b"a" * 20000)
    assert transport.value().startswith(b"HTTP/1.1 431") and transport.disconnecting


def test_a_slow_head_and_an_idle_tunnel_time_out(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path, headTimeout=5, idleTimeout=60)
    protocol, transport = client(proxy, reactor, ("api.example.com",))
    reactor.advance(5)
    assert transport.value().startswith(b"HTTP/1.1 408") and transport.disconnecting
    protocol, transport = client(proxy, reactor, ("api.example.com",))
    protocol.dataReceived(b"CONNECT api.example.com:443 HTTP/1.1\r\n\r\n")
    up, upTransport = upstream(reactor)
    reactor.advance(59)
    up.dataReceived(b"x")
    reactor.advance(59)
    assert not transport.disconnecting
    reactor.advance(1)
    assert transport.disconnecting and upTransport.disconnecting


def test_the_connections_of_a_server_are_bounded(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path, maxConnections=2)
    first, _ = client(proxy, reactor, ("api.example.com",))
    client(proxy, reactor, ("api.example.com",))
    _, third = client(proxy, reactor, ("api.example.com",))
    assert third.value().startswith(b"HTTP/1.1 503") and third.disconnecting
    first.connectionLost(None)  # type: ignore[arg-type]
    _, fourth = client(proxy, reactor, ("api.example.com",))
    assert fourth.value() == b"" and not fourth.disconnecting


def test_stopping_closes_the_sockets_and_removes_the_directory(tmp_path: Path) -> None:
    proxy, _, _ = proxyOf(tmp_path)
    proxy.socketFor("a", ("x.com",))
    proxy.startService()
    proxy.stopService()
    assert not (tmp_path / "run").exists()


def test_the_hosts_a_child_is_refused_are_kept_bounded(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path)
    with capturedGatewayLogs() as events:
        for n in range(MAX_HOSTS_KEPT + 10):
            protocol, _ = client(proxy, reactor, ("api.example.com",))
            protocol.dataReceived(f"CONNECT h{n}.example.net:443 HTTP/1.1\r\n\r\n".encode())
            protocol.connectionLost(None)  # type: ignore[arg-type]
    network = next(iter(proxy.networks.values()))
    assert len(network.refused) == MAX_HOSTS_KEPT + 1
    assert network.refused[OTHER_HOSTS] == 10 and network.refusals == MAX_HOSTS_KEPT + 10
    assert len([e for e in events if "refused" in e.get("log_format", "")]) == MAX_HOSTS_KEPT


def test_a_landlock_child_gets_a_loopback_port_of_its_own(tmp_path: Path) -> None:
    proxy, reactor, _ = proxyOf(tmp_path)
    port = proxy.portFor("ll", ("api.example.com",))
    assert proxy.portFor("ll", ("api.example.com",)) == port
    [(number, factory, _, interface)] = reactor.tcpServers
    assert (number, interface) == (0, "127.0.0.1")
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
    assert isinstance(protocol, ProxyProtocol) and protocol.network.server == "ll"
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(b"CONNECT evil.example.net:443 HTTP/1.1\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 403")
    protocol.connectionLost(connectionDone)
    assert proxy.status("ll") == {"open": 0, "refused": 1, "refusedHosts": ["evil.example.net:443"]}


def test_the_factories_of_a_childs_connections_log_nothing_as_they_start(tmp_path: Path) -> None:
    """A factory logs as it starts and stops; the proxy makes one per
    connection a child opens, and keeps them silent."""
    proxy, reactor, _ = proxyOf(tmp_path)
    protocol, _ = client(proxy, reactor, ("api.example.com",))
    proxy.portFor("ll", ("api.example.com",))
    with capturedGatewayLogs() as events:
        protocol.dataReceived(b"CONNECT api.example.com:443 HTTP/1.1\r\n\r\n")
        factory = reactor.tcpClients[0][2]
        factory.doStart()
        factory.doStop()
    assert [event["log_format"] for event in events] == []
    listeners = [reactor.unixServers[0][1], reactor.tcpServers[0][1]]
    assert [listener.noisy for listener in listeners] == [False, False]


def test_a_landlock_childs_port_refuses_another_accounts_connections(tmp_path: Path) -> None:
    """Any local process may connect to a loopback port: the kernel names
    the account at the other end, and another account's connection is
    refused (logged once per account) before it reaches any host."""
    owners = {50001: os.geteuid(), 50002: os.geteuid() + 1000, 50003: os.geteuid() + 1000}
    asked: list[tuple[str, int, str, int]] = []

    def tcpPeer(clientHost: str, clientPort: int, serverHost: str, serverPort: int) -> object:
        asked.append((clientHost, clientPort, serverHost, serverPort))
        return PeerSocket(owners[clientPort])

    proxy, reactor, _ = proxyOf(tmp_path, tcpPeer=tcpPeer)
    proxy.portFor("ll", ("api.example.com",))
    [(_, factory, _, _)] = reactor.tcpServers
    answers: list[bytes] = []
    with capturedGatewayLogs() as events:
        for port in owners:
            protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", port))
            assert isinstance(protocol, ProxyProtocol)
            transport = StringTransport(
                hostAddress=IPv4Address("TCP", "127.0.0.1", 41000),
                peerAddress=IPv4Address("TCP", "127.0.0.1", port),
            )
            protocol.makeConnection(transport)
            answers.append(transport.value())
    assert answers[0] == b""  # the owner's child: its request comes next
    other = os.geteuid() + 1000
    assert all(a.startswith(b"HTTP/1.1 403") and str(other).encode() in a for a in answers[1:])
    assert asked[0] == ("127.0.0.1", 50001, "127.0.0.1", 41000)
    assert len([e for e in events if e.get("uid") == other]) == 1
