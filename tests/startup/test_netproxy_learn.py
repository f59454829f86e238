"""The proxy's recording socket for a learning server: every host it asks
for goes out (to public addresses only) and is recorded once, off the
reactor thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.testing import StringTransport

from mcpgateway.runtime.threads import runInline
from mcpgateway.startup.netproxy import MAX_HOSTS_KEPT, ProxyProtocol
from tests.support.startup.netproxy import proxyOf
from tests.support.startup.unixclient import connectTo


def learner(tmp_path: Path, **kwargs: Any) -> Any:
    proxy, reactor, _ = proxyOf(tmp_path, **kwargs)
    record = tmp_path / "learn" / "s" / "hosts"

    def connect() -> tuple[ProxyProtocol, StringTransport]:
        return connectTo(reactor, proxy.recorderFor("s", str(record)))

    return proxy, reactor, record, connect


def test_every_public_host_goes_out_and_each_is_recorded_once(tmp_path: Path) -> None:
    proxy, reactor, record, connect = learner(tmp_path)
    for _ in range(2):
        protocol, _ = connect()
        protocol.dataReceived(b"CONNECT api.example.com:443 HTTP/1.1\r\n\r\n")
    assert [c[:2] for c in reactor.tcpClients] == [("93.184.216.34", 443)] * 2
    assert record.read_text() == "api.example.com 443 asked\n"
    assert proxy.recorderFor("s", str(record)) == proxy.recorderFor("s", str(record))
    assert proxy.recorderFor("s", str(record)) != proxy.socketFor("s", ())


def test_a_local_address_is_refused_but_recorded(tmp_path: Path) -> None:
    _, reactor, record, connect = learner(tmp_path)
    protocol, transport = connect()
    protocol.dataReceived(b"CONNECT 127.0.0.1:8000 HTTP/1.1\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 403")
    protocol, transport = connect()
    protocol.dataReceived(b"CONNECT sneaky.example.com:443 HTTP/1.1\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 403") and reactor.tcpClients == []
    assert record.read_text().splitlines() == [
        "127.0.0.1 8000 asked",
        "127.0.0.1 8000 local",
        "sneaky.example.com 443 asked",
        "sneaky.example.com 443 local",
    ]


def test_the_record_is_written_off_the_reactor_and_bounded(tmp_path: Path) -> None:
    jobs: list[Any] = []

    def later(f: Any, *args: Any) -> Deferred[Any]:
        jobs.append((f, args))
        return Deferred()

    _, _, record, connect = learner(tmp_path, runInThread=later)
    protocol, _ = connect()
    protocol.dataReceived(b"CONNECT api.example.com:443 HTTP/1.1\r\n\r\n")
    assert not record.exists() and len(jobs) == 1
    f, args = jobs[0]
    runInline(f, *args)
    assert record.read_text() == "api.example.com 443 asked\n"
    _, _, other, connect = learner(tmp_path / "b")
    for i in range(MAX_HOSTS_KEPT + 10):
        protocol, _ = connect()
        protocol.dataReceived(f"CONNECT 93.184.0.{i % 200}:{1000 + i} HTTP/1.1\r\n\r\n".encode())
        protocol.connectionLost()
    assert len(other.read_text().splitlines()) == MAX_HOSTS_KEPT
