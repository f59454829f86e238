"""The streaming proxy to a session's owner (cluster/forward.py), with a fake
agent: chunks relayed in order as they come, headers filtered both ways
(never C{Authorization}), the caller's principal sealed for the owner, a
client that leaves cancels, an owner that cannot be reached is C{False}
with nothing written and skipped for 5 s on the clock."""

from __future__ import annotations

from typing import Any

from twisted.internet import error
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived
from twisted.web.client import ResponseDone
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from zope.interface import implementer

from mcpgateway.cluster.forward import PeerForwarder
from mcpgateway.cluster.peer import PeerSeal
from mcpgateway.cluster.sealing import Address
from mcpgateway.httpbase.principal import VIA_PEER, VIA_TOKEN, Principal
from tests.http import Response
from tests.remote.fakehttp import FakeAgent

KEY = bytes(range(32))
OWNER = Address("10.0.0.2", 9100)
ALICE = Principal("alice", "key-alice", VIA_TOKEN, servers=frozenset({"srv"}))


@implementer(IPushProducer)
class FakeBodyTransport:
    """What a response's body protocol is connected to (the owner's
    connection, as a push producer)."""

    def __init__(self) -> None:
        self.paused = 0
        self.resumed = 0
        self.stopped = False

    def pauseProducing(self) -> None:
        self.paused += 1

    def resumeProducing(self) -> None:
        self.resumed += 1

    def stopProducing(self) -> None:
        self.stopped = True


class FakeResponse:
    def __init__(self, code: int, headers: dict[bytes, list[bytes]], length: Any = None) -> None:
        self.code = code
        self.phrase = b"OK" if code == 200 else b"Whatever"
        self.headers = Headers(headers)
        self.length = length
        self.protocol: Protocol | None = None
        self.transport = FakeBodyTransport()

    def deliverBody(self, protocol: Protocol) -> None:
        self.protocol = protocol
        protocol.makeConnection(self.transport)

    def chunk(self, data: bytes) -> None:
        assert self.protocol is not None
        self.protocol.dataReceived(data)

    def end(self, reason: Exception | None = None) -> None:
        assert self.protocol is not None
        self.protocol.connectionLost(Failure(reason or ResponseDone()))


class Proxy(Resource):
    """Forwards every request to L{OWNER} for L{ALICE}."""

    isLeaf = True

    def __init__(self, forwarder: PeerForwarder) -> None:
        super().__init__()
        self.forwarder = forwarder
        self.results: list[bool] = []
        self.requests: list[Request] = []

    def render(self, request: Request) -> int:
        assert request.content is not None
        body = request.content.read()
        self.requests.append(request)
        self.forwarder.forward(request, OWNER, ALICE, body).addCallback(self.results.append)
        return NOT_DONE_YET


class H:
    def __init__(self) -> None:
        self.clock = Clock()
        self.agent = FakeAgent()
        self.peers = PeerSeal(KEY, "r1", self.clock)
        self.forwarder = PeerForwarder(self.agent, self.clock, self.peers)
        self.proxy = Proxy(self.forwarder)
        self.site = Site(self.proxy, reactor=self.clock)

    def send(
        self,
        method: str = "POST",
        path: str = "/srv/mcp",
        body: bytes = b'{"jsonrpc":"2.0","id":1,"method":"tools/call"}',
        headers: list[tuple[str, str]] | None = None,
    ) -> tuple[Response, Any]:
        hdrs = [("host", "gw.example:9100"), ("content-length", str(len(body)))]
        hdrs += headers or []
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "10.9.9.9", 5000))
        protocol = self.site.buildProtocol(transport.getPeer())
        assert protocol is not None
        protocol.makeConnection(transport)
        protocol.dataReceived(head.encode("latin-1") + b"\r\n" + body)
        return Response(transport), protocol


def test_chunks_reach_the_client_in_order_as_they_come() -> None:
    h = H()
    response, _ = h.send()
    [sent] = h.agent.sent
    assert (sent.method, sent.uri) == (b"POST", b"http://10.0.0.2:9100/srv/mcp")
    assert sent.body == b'{"jsonrpc":"2.0","id":1,"method":"tools/call"}'
    owner = FakeResponse(
        200,
        {
            b"content-type": [b"text/event-stream"],
            b"cache-control": [b"no-cache"],
            b"mcp-session-id": [b"sid-1"],
        },
    )
    sent.deferred.callback(owner)
    owner.chunk(b"event: message\ndata: 1\n\n")
    assert response.status == 200 and not response.complete
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["mcp-session-id"] == "sid-1"
    assert response.body == b"event: message\ndata: 1\n\n"  # before the end: streamed
    owner.chunk(b"data: 2\n\n")
    owner.chunk(b"data: 3\n\n")
    assert h.proxy.results == []
    owner.end()
    assert response.complete
    assert response.body == b"event: message\ndata: 1\n\ndata: 2\n\ndata: 3\n\n"
    assert h.proxy.results == [True]
    assert h.forwarder.outcomes == {"ok": 1} and h.forwarder.inFlight == 0


def test_request_headers_are_filtered_and_the_token_never_leaves() -> None:
    h = H()
    h.send(
        headers=[
            ("authorization", "Bearer mcpgw_secret"),
            ("cookie", "a=b"),
            ("accept", "application/json, text/event-stream"),
            ("content-type", "application/json"),
            ("mcp-session-id", "sid-1"),
            ("mcp-protocol-version", "2025-11-25"),
            ("last-event-id", "p1-7"),
            ("x-mcp-env-github_token", "ghp_value"),
            ("x-mcp-env-hop", "named by Connection"),
            ("connection", "keep-alive, X-Mcp-Env-Hop"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("origin", "http://evil.example"),
            ("x-client-pid", "42"),
            ("x-forwarded-for", "1.2.3.4"),
            ("mcp-gateway-peer", "forged"),
        ]
    )
    [sent] = h.agent.sent
    headers, body = sent.headers, sent.body
    names = sorted(name.lower() for name, _ in headers.getAllRawHeaders())
    assert names == [
        b"accept",
        b"content-type",
        b"last-event-id",
        b"mcp-gateway-peer",
        b"mcp-protocol-version",
        b"mcp-session-id",
        b"x-mcp-env-github_token",
    ]
    assert headers.getRawHeaders(b"x-mcp-env-github_token") == [b"ghp_value"]
    assert headers.getRawHeaders(b"authorization") is None
    [seal] = headers.getRawHeaders(b"mcp-gateway-peer") or []
    assert seal != b"forged"
    # The owner opens it for this very request, and only for it, with the
    # address the request came from here.
    assert body is not None
    claim = h.peers.claim(seal.decode(), b"POST", b"/srv/mcp", "sid-1", body)
    assert claim is not None and claim.source == "10.9.9.9"
    opened = claim.principal
    assert opened.via == VIA_PEER
    assert (opened.name, opened.key, opened.servers) == ("alice", "key-alice", frozenset({"srv"}))
    assert h.peers.open(seal.decode(), b"POST", b"/srv/mcp", "sid-2", body) is None
    assert h.peers.open(seal.decode(), b"POST", b"/srv/mcp", "sid-1", body + b" ") is None


def test_response_headers_are_filtered() -> None:
    h = H()
    response, _ = h.send()
    owner = FakeResponse(
        404,
        {
            b"content-type": [b"application/json"],
            b"set-cookie": [b"x=y"],
            b"www-authenticate": [b"Bearer"],
            b"x-other": [b"1"],
            b"retry-after": [b"3"],
        },
        length=2,
    )
    h.agent.sent[0].deferred.callback(owner)
    owner.chunk(b"{}")
    owner.end()
    assert response.status == 404 and response.body == b"{}"
    assert response.headers["retry-after"] == "3"
    for name in ("set-cookie", "www-authenticate", "x-other"):
        assert name not in response.headers


def test_a_get_stream_and_a_delete_carry_no_body() -> None:
    h = H()
    h.send("GET", body=b"", headers=[("mcp-session-id", "sid-1"), ("last-event-id", "g1-2")])
    h.send("DELETE", body=b"", headers=[("mcp-session-id", "sid-1")])
    [get, delete] = h.agent.sent
    assert (get.method, get.body) == (b"GET", None)
    assert get.headers.getRawHeaders(b"last-event-id") == [b"g1-2"]
    assert (delete.method, delete.body) == (b"DELETE", None)


def test_an_answer_without_a_body_ends_at_once() -> None:
    h = H()
    response, _ = h.send()
    h.agent.sent[0].deferred.callback(FakeResponse(202, {}, length=0))
    assert response.status == 202 and response.complete
    assert h.proxy.results == [True]


def test_a_client_that_leaves_before_the_answer_cancels_the_forwarded_request() -> None:
    h = H()
    _response, protocol = h.send()
    [sent] = h.agent.sent
    assert not sent.deferred.called
    protocol.connectionLost(Failure(error.ConnectionDone()))
    assert sent.deferred.called  # cancelled: nothing else answers it
    assert h.proxy.results == [True]  # handled: nobody is left to answer
    assert h.forwarder.outcomes == {"cancelled": 1}
    assert not h.forwarder.isDown(OWNER)


def streamFromOwner(h: H, first: bytes) -> tuple[Any, Any, FakeResponse]:
    """A GET on session C{sid-1} forwarded through C{h}, its owner's event
    stream begun with C{first}: the client's response and protocol, and the
    owner's response."""
    response, protocol = h.send("GET", body=b"", headers=[("mcp-session-id", "sid-1")])
    owner = FakeResponse(200, {b"content-type": [b"text/event-stream"]})
    h.agent.sent[0].deferred.callback(owner)
    owner.chunk(first)
    return response, protocol, owner


def test_a_client_that_leaves_mid_stream_closes_the_owners_connection() -> None:
    h = H()
    _response, protocol, owner = streamFromOwner(h, b": keep-alive\n\n")
    protocol.connectionLost(Failure(error.ConnectionDone()))
    assert owner.transport.stopped
    owner.end(ResponseFailed([Failure(error.ConnectionLost())]))  # what the abort causes
    assert h.proxy.results == [True]
    assert h.forwarder.outcomes == {"cancelled": 1}


def test_a_slow_client_pauses_the_owner() -> None:
    h = H()
    response, _, owner = streamFromOwner(h, b"data: 1\n\n")
    [request] = h.proxy.requests
    assert request.producer is owner.transport  # registered as a streaming producer
    channel = response.transport.producer  # what the client's socket pauses
    assert channel is not None
    channel.pauseProducing()  # the client's socket buffer is full
    assert owner.transport.paused == 1
    channel.resumeProducing()
    assert owner.transport.resumed == 1
    owner.end()
    assert response.complete and request.producer is None


def test_a_refused_connection_is_false_with_nothing_written_and_down_for_5_s() -> None:
    h = H()
    response, _ = h.send()
    h.agent.sent[0].deferred.errback(error.ConnectionRefusedError())
    assert h.proxy.results == [False]
    assert response.transport.value() == b""  # the caller answers it
    assert h.forwarder.outcomes == {"unreachable": 1}
    assert h.forwarder.isDown(OWNER) and h.forwarder.ownersDown() == 1
    assert not h.forwarder.isDown(Address("10.0.0.3", 9100))
    h.clock.advance(4.9)
    assert h.forwarder.isDown(OWNER)
    h.clock.advance(0.1)
    assert not h.forwarder.isDown(OWNER) and h.forwarder.ownersDown() == 0


def test_a_connect_timeout_is_false_too() -> None:
    for reason in (error.TCPTimedOutError(), error.TimeoutError(), error.NoRouteError()):
        h = H()
        response, _ = h.send()
        h.agent.sent[0].deferred.errback(reason)
        assert h.proxy.results == [False], reason
        assert response.transport.value() == b""
        assert h.forwarder.isDown(OWNER)


def test_a_failure_after_the_request_went_out_is_502_and_not_retried() -> None:
    h = H()
    response, _ = h.send()
    h.agent.sent[0].deferred.errback(ResponseNeverReceived([Failure(error.ConnectionLost())]))
    assert h.proxy.results == [True]  # answered: it may have run on the owner
    assert response.status == 502
    assert response.json()["error"]["code"] == -32603
    assert h.forwarder.outcomes == {"failed": 1}
    assert not h.forwarder.isDown(OWNER)  # its next connection tells


def test_an_answer_that_breaks_off_drops_the_clients_connection() -> None:
    h = H()
    response, _ = h.send()
    owner = FakeResponse(200, {b"content-type": [b"text/event-stream"]})
    h.agent.sent[0].deferred.callback(owner)
    owner.chunk(b"data: 1\n\n")
    owner.end(ResponseFailed([Failure(error.ConnectionLost())]))
    assert response.transport.disconnecting
    assert not response.complete  # no last chunk: the client sees the stream break
    assert h.forwarder.outcomes == {"failed": 1}


def test_the_body_producer_writes_the_whole_body() -> None:
    h = H()
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}' * 100
    h.send(body=body)
    assert h.agent.sent[0].body == body


def test_peers_are_reached_by_ip_with_no_name_resolution() -> None:
    """A sealed owner address is an IP literal: a plain TCP endpoint (IPv4 or
    IPv6) with the connect timeout, so a refused connection is known at once
    (C{HostnameEndpoint} waits 0.3 s); C{https} wraps it in TLS."""
    from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint
    from twisted.internet.testing import MemoryReactorClock
    from twisted.web.client import URI

    from mcpgateway.cluster.forward import PeerEndpoints

    reactor = MemoryReactorClock()
    peers = PeerEndpoints(reactor, 2.0)
    four = peers.endpointForURI(URI.fromBytes(b"http://10.0.0.7:9100/s/mcp"))
    assert isinstance(four, TCP4ClientEndpoint)
    six = peers.endpointForURI(URI.fromBytes(b"http://[fd00::7]:9100/s/mcp"))
    assert isinstance(six, TCP6ClientEndpoint)
    four.connect(Factory.forProtocol(Protocol))
    host, port, _, timeout, _ = reactor.tcpClients[0]
    assert (host, port, timeout) == ("10.0.0.7", 9100, 2.0)
    tls = peers.endpointForURI(URI.fromBytes(b"https://10.0.0.7:9443/s/mcp"))
    assert not isinstance(tls, TCP4ClientEndpoint)
    tls.connect(Factory.forProtocol(Protocol))
    assert reactor.tcpClients[1][:2] == ("10.0.0.7", 9443)


def test_a_certificate_the_replica_does_not_trust_is_false_with_a_hint() -> None:
    """A TLS handshake that fails (a private CA this replica does not trust):
    nothing went through it, so no 502 "retry it" that can never succeed:
    C{False} (the caller serves the session or answers 404), the owner
    skipped, and a log line naming the certificate problem and SSL_CERT_FILE."""
    from OpenSSL import SSL
    from twisted.logger import LogEvent, formatEvent, globalLogPublisher

    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)  # type: ignore[arg-type]
    try:
        h = H()
        response, _ = h.send()
        verify = SSL.Error([("SSL routines", "", "certificate verify failed")])
        h.agent.sent[0].deferred.errback(ResponseNeverReceived([Failure(verify)]))
    finally:
        globalLogPublisher.removeObserver(events.append)  # type: ignore[arg-type]
    assert h.proxy.results == [False]
    assert response.transport.value() == b""
    assert h.forwarder.outcomes == {"unreachable": 1}
    assert h.forwarder.isDown(OWNER)
    text = " ".join(formatEvent(e) for e in events)
    assert "certificate verify failed" in text and "SSL_CERT_FILE" in text


def test_the_peer_pool_logs_no_line_per_connection() -> None:
    from twisted.internet.testing import MemoryReactorClock
    from twisted.web.client import HTTPConnectionPool

    from mcpgateway.cluster.forward import peerAgent

    reactor = MemoryReactorClock()
    pool = HTTPConnectionPool(reactor)
    peerAgent(reactor, pool, 2.0)
    assert pool._factory.noisy is False
    assert HTTPConnectionPool._factory.noisy is True  # other pools untouched


def test_a_replica_without_pyopenssl_still_classifies_a_refused_owner() -> None:
    """CI: a replica that never loads pyOpenSSL (no TLS) raised ImportError
    inside the errback of every failed forward, and its clients hung."""
    import sys

    from twisted.internet.error import ConnectionRefusedError
    from twisted.python.failure import Failure

    from mcpgateway.cluster.forward import _tlsFailure

    saved = sys.modules.get("OpenSSL")
    sys.modules["OpenSSL"] = None  # type: ignore[assignment]
    try:
        assert _tlsFailure(Failure(ConnectionRefusedError())) is None
    finally:
        if saved is None:
            del sys.modules["OpenSSL"]
        else:
            sys.modules["OpenSSL"] = saved
