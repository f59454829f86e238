# -*- test-case-name: tests.cluster.test_forward -*-
"""The streaming proxy that hands a request to the replica owning its session.

One job: replay one client request (POST, GET or DELETE of an MCP endpoint)
at the owner's address, and stream the owner's answer back as it comes:
status, C{Content-Type}, C{Mcp-Session-Id}, C{Cache-Control} (and
C{Retry-After}, C{Allow}), then every body chunk at once (an SSE stream is
never buffered), with backpressure both ways: the owner's connection is
paused while the client's is full.

What goes to the owner is an allow-list: C{Accept}, C{Content-Type},
C{MCP-Protocol-Version}, C{Mcp-Session-Id}, C{Last-Event-ID}, the
2026-07-28 routing headers C{Mcp-Method} and C{Mcp-Name}, and the
C{X-Mcp-Env-*} credential headers (unless C{Connection} names them: they
are hop-by-hop then), plus C{Mcp-Gateway-Peer}, the caller's principal and
the client's address, sealed for this very request
(L{mcpgateway.cluster.peer}). Never C{Authorization}: the client's token
stays at the replica it was sent to.

A connection that cannot be made (refused, timed out, no route) or a
request that was never sent means the owner is I{down}: L{PeerForwarder.forward}
fires C{False} with nothing written to the client (the caller serves the
session itself, or answers 404), and the owner is not tried again for
C{downFor} seconds. So does a TLS handshake that fails (the owner's
certificate is not trusted, or not valid for its address): nothing of the
request went through; its log line names the certificate problem and how to
trust a private CA (C{SSL_CERT_FILE}). A failure once the request went out (the owner died
while it worked) cannot be retried elsewhere (it may have run): 502 with a
JSON-RPC error, or, once the answer began, the client's connection is
dropped as the owner's was; the owner is not marked down for it (its next
connection says whether it is). A client that goes away cancels the forwarded
request (its connection to the owner is closed: the owner sees its client
leave).
"""

from __future__ import annotations

from collections import Counter

from twisted.internet import error
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, wrapClientTLS
from twisted.internet.interfaces import (
    IPushProducer,
    IReactorTCP,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import (
    URI,
    Agent,
    BrowserLikePolicyForHTTPS,
    HTTPConnectionPool,
    ResponseDone,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IAgentEndpointFactory, IResponse
from twisted.web.server import Request
from zope.interface import implementer

from mcpgateway.cluster.peer import HEADER as PEER_HEADER
from mcpgateway.cluster.peer import PeerSeal
from mcpgateway.cluster.sealing import Address
from mcpgateway.httpbase.principal import Principal
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs
from mcpgateway.runtime.bytesproducer import BytesProducer
from mcpgateway.runtime.httpclient import QuietClientFactory
from mcpgateway.runtime.twistedprivate import RequestNotSent, WrapperException

FORWARDED_HEADERS = frozenset(
    {
        b"accept",
        b"content-type",
        b"mcp-protocol-version",
        b"mcp-session-id",
        b"last-event-id",
        b"mcp-method",
        b"mcp-name",
    }
)
"""The request headers the owner gets (besides C{X-Mcp-Env-*} and the peer's)."""
CREDENTIAL_PREFIX = b"x-mcp-env-"
RELAYED_HEADERS = (
    b"content-type",
    b"mcp-session-id",
    b"cache-control",
    b"retry-after",
    b"allow",
)
"""The response headers the client gets back."""
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

UNREACHABLE = (
    error.ConnectError,  # refused, timed out, no route, DNS, cancelled connecting
    error.ConnectionRefusedError,
    error.TimeoutError,
)

OUTCOMES = ("ok", "unreachable", "failed", "cancelled")
"""How a forwarded request ended (the C{outcome} label of
C{mcpgateway_forwarded_requests_total}): the owner answered (whatever its
status), could not be reached (served here or 404 instead), failed after
the request went out (502, or a dropped stream), the client went away."""


class PeerForwarder:
    """Forwards requests to their sessions' owners over HTTP/1.1."""

    log = Logger(observer=logs.observer)

    def __init__(
        self, agent: IAgent, clock: IReactorTime, peers: PeerSeal, downFor: float = 5.0
    ) -> None:
        """
        @param agent: what connects to the owners (an C{Agent} on a
            persistent C{HTTPConnectionPool}, with a 2 s connect timeout).
        @param clock: what C{downFor} is measured on.
        @param peers: seals the caller's principal for the owner.
        @param downFor: seconds an owner that could not be reached is
            skipped (its sessions are served elsewhere meanwhile).
        """
        self._agent = agent
        self._clock = clock
        self._peers = peers
        self._downFor = downFor
        self._downUntil: dict[Address, float] = {}
        self.outcomes: Counter[str] = Counter()
        """Forwarded requests by how they ended (see L{OUTCOMES})."""
        self.inFlight = 0
        """Forwarded requests not yet ended."""

    def isDown(self, owner: Address) -> bool:
        """Whether C{owner} failed to answer less than C{downFor} seconds ago."""
        until = self._downUntil.get(owner)
        if until is None:
            return False
        if self._clock.seconds() < until:
            return True
        del self._downUntil[owner]
        return False

    def ownersDown(self) -> int:
        """How many owners are skipped now."""
        return sum(1 for owner in list(self._downUntil) if self.isDown(owner))

    def markDown(self, owner: Address) -> None:
        self._downUntil[owner] = self._clock.seconds() + self._downFor

    def forward(
        self, request: Request, owner: Address, principal: Principal, body: bytes
    ) -> Deferred[bool]:
        """Send C{request} (whose body is C{body}) to C{owner} for
        C{principal}, and answer it with what the owner answers.

        @return: fires C{True} once the request is answered (or the client
            left), C{False} when the owner could not be reached: nothing
            was written then, the request is the caller's to answer.
        """
        method = request.method
        path = request.uri
        sessionId = _header(request, b"mcp-session-id") or ""
        headers = _forwardedHeaders(request)
        source = str(getattr(request.getClientAddress(), "host", ""))
        seal = self._peers.seal(principal, method, path, sessionId, body, source)
        headers.setRawHeaders(PEER_HEADER, [seal.encode("ascii")])
        producer = BytesProducer(body) if body or method == b"POST" else None
        self.inFlight += 1
        result: Deferred[bool] = Deferred()
        exchange = _Exchange(self, request, owner, result)
        try:
            sent = self._agent.request(method, owner.url.encode("ascii") + path, headers, producer)
        except Exception:
            self.inFlight -= 1
            raise
        exchange.sent(sent)
        return result

    def _ended(self, outcome: str) -> None:
        self.inFlight -= 1
        self.outcomes[outcome] += 1


class _Exchange:
    """One forwarded request, from sending it to the end of its answer."""

    def __init__(
        self, forwarder: PeerForwarder, request: Request, owner: Address, result: Deferred[bool]
    ) -> None:
        self._forwarder = forwarder
        self._request = request
        self._owner = owner
        self._result = result
        self._pending: Deferred[IResponse] | None = None
        self._relay: _Relay | None = None
        self.gone = False
        request.notifyFinish().addErrback(self._clientGone)

    def sent(self, pending: Deferred[IResponse]) -> None:
        self._pending = pending
        pending.addCallbacks(self._answered, self._failed)

    def _clientGone(self, reason: Failure) -> None:
        self.gone = True
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()  # connecting or waiting for the owner's headers
        relay = self._relay
        if relay is not None:
            relay.stop()  # streaming: close the owner's connection

    def _answered(self, response: IResponse) -> None:
        self._pending = None
        request = self._request
        if self.gone or request.finished:
            response.deliverBody(_DrainBody(stop=True))
            self._end("cancelled", True)
            return
        request.setResponseCode(response.code, response.phrase)
        for name in RELAYED_HEADERS:
            values = response.headers.getRawHeaders(name)
            if values is not None:
                request.responseHeaders.setRawHeaders(name, values)
        if response.length == 0:
            response.deliverBody(_DrainBody())
            request.finish()
            self._end("ok", True)
            return
        self._relay = _Relay(request, self)
        response.deliverBody(self._relay)

    def _failed(self, reason: Failure) -> None:
        self._pending = None
        if reason.check(CancelledError) or self.gone:
            self._end("cancelled", True)
            return
        forwarder = self._forwarder
        tls = _tlsFailure(reason)
        if tls is not None:
            forwarder.markDown(self._owner)
            forwarder.log.warn(
                "cluster: the TLS handshake with the owner {owner} failed ({why}): the request"
                " was not sent; skipped for {seconds:g} s. Its certificate must be valid for"
                " {host} and signed by a CA this replica trusts: for a private CA, start every"
                " replica with SSL_CERT_FILE=/path/to/ca.pem (docs/guide/cluster.md, Network)",
                owner=self._owner.url,
                why=tls,
                host=self._owner.host,
                seconds=forwarder._downFor,
            )
            self._end("unreachable", False)
            return
        if _unreachable(reason):
            forwarder.markDown(self._owner)
            forwarder.log.info(
                "cluster: the owner {owner} cannot be reached ({why}); skipped for {seconds:g} s",
                owner=self._owner.url,
                why=reason.getErrorMessage()[:200],
                seconds=forwarder._downFor,
            )
            self._end("unreachable", False)
            return
        # The request went out: the owner may have acted on it. Not retried,
        # and the owner not marked down (a cached connection it had just
        # closed fails so too); if it died, the next connection is refused.
        forwarder.log.warn(
            "cluster: forwarding {method} to {owner} failed after it was sent: {why}",
            method=self._request.method.decode("ascii", "replace")[:16],
            owner=self._owner.url,
            why=reason.getErrorMessage()[:200],
        )
        request = self._request
        if not request.finished:
            request.setResponseCode(502)
            request.setHeader(b"content-type", b"application/json")
            request.write(
                jsonrpc.dumps(
                    jsonrpc.errorResponse(
                        None,
                        jsonrpc.INTERNAL_ERROR,
                        "the gateway replica that owns this session failed while it served the"
                        " request; retry it",
                    )
                )
            )
            request.finish()
        self._end("failed", True)

    def bodyEnded(self, reason: Failure) -> None:
        """The owner's answer ended (C{reason}: how)."""
        self._relay = None
        request = self._request
        if self.gone:
            self._end("cancelled", True)
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            if not request.finished:
                request.finish()
            self._end("ok", True)
            return
        self._forwarder.log.info(
            "cluster: the answer of {owner} broke off: {why}; the client's stream ends too",
            owner=self._owner.url,
            why=reason.getErrorMessage()[:200],
        )
        if not request.finished:
            request.loseConnection()
        self._end("failed", True)

    def _end(self, outcome: str, handled: bool) -> None:
        if self._result.called:
            return
        self._forwarder._ended(outcome)
        self._result.callback(handled)


class _Relay(Protocol):
    """Writes the owner's body to the client as it comes; the owner's
    connection is the client's producer (paused while the client is slow)."""

    def __init__(self, request: Request, exchange: _Exchange) -> None:
        self._request = request
        self._exchange = exchange
        self._producing: IPushProducer | None = None

    def connectionMade(self) -> None:
        producer = self.transport
        if IPushProducer.providedBy(producer):
            self._producing = producer
            self._request.registerProducer(producer, True)

    def dataReceived(self, data: bytes) -> None:
        if not self._exchange.gone and not self._request.finished:
            self._request.write(data)

    def stop(self) -> None:
        producer, self._producing = self._producing, None
        if producer is not None:
            producer.stopProducing()

    def connectionLost(self, reason: Failure = error.ConnectionDone) -> None:  # type: ignore[assignment]
        if self._producing is not None:
            self._producing = None
            request = self._request
            if request.producer is not None and request.channel is not None:
                request.unregisterProducer()
        self._exchange.bodyEnded(reason)


class _DrainBody(Protocol):
    """Reads and drops a body (so the connection can go back to the pool),
    or (C{stop}) closes the connection instead."""

    def __init__(self, stop: bool = False) -> None:
        self._stop = stop

    def connectionMade(self) -> None:
        if self._stop and IPushProducer.providedBy(self.transport):
            self.transport.stopProducing()

    def dataReceived(self, data: bytes) -> None:
        pass

    def connectionLost(self, reason: Failure = error.ConnectionDone) -> None:  # type: ignore[assignment]
        pass


def _forwardedHeaders(request: Request) -> Headers:
    """The headers of C{request} the owner gets (see the module docstring)."""
    hopByHop = set(HOP_BY_HOP)
    for value in request.requestHeaders.getRawHeaders(b"connection") or ():
        hopByHop.update(token.strip().lower() for token in value.split(b","))
    headers = Headers()
    for name, values in request.requestHeaders.getAllRawHeaders():
        lowered = name.lower()
        if lowered in hopByHop:
            continue
        if lowered in FORWARDED_HEADERS or lowered.startswith(CREDENTIAL_PREFIX):
            headers.setRawHeaders(lowered, list(values))
    return headers


def _header(request: Request, name: bytes) -> str | None:
    value = request.getHeader(name)
    if value is None:
        return None
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _unreachable(reason: Failure) -> bool:
    """Whether C{reason} says the request never reached the owner."""
    return reason.check(*UNREACHABLE, RequestNotSent) is not None


def _tlsFailure(reason: Failure) -> str | None:
    """What is wrong with the TLS handshake when C{reason} is one that
    failed (the request never got through it), else C{None}."""
    try:
        from OpenSSL import SSL
    except ImportError:  # no TLS here: no handshake to have failed
        return None
    causes = [reason]
    if isinstance(reason.value, WrapperException):
        causes += [each for each in reason.value.reasons if isinstance(each, Failure)]
    for cause in causes:
        if cause.check(SSL.Error):
            text = cause.getErrorMessage()
            if "certificate verify failed" in text:
                return f"certificate verify failed: {text[:160]}"
            return f"TLS error: {text[:160]}"
    return None


@implementer(IAgentEndpointFactory)
class PeerEndpoints:
    """The endpoints of the peers' addresses for an C{Agent}: a sealed owner
    address is always an IP literal, so a plain TCP endpoint, with no name
    resolution (C{HostnameEndpoint} takes 0.3 s to report a refused
    connection; this reports it at once, so a dead owner is failed over at
    once); TLS when the owner's URL is C{https}."""

    def __init__(self, reactor: IReactorTCP, connectTimeout: float) -> None:
        self._reactor = reactor
        self._timeout = connectTimeout
        self._tls = BrowserLikePolicyForHTTPS()

    def endpointForURI(self, uri: URI) -> IStreamClientEndpoint:
        host = uri.host.decode("ascii")
        kind = TCP6ClientEndpoint if ":" in host else TCP4ClientEndpoint
        endpoint: IStreamClientEndpoint = kind(self._reactor, host, uri.port, timeout=self._timeout)
        if uri.scheme == b"https":
            creator = self._tls.creatorForNetloc(uri.host, uri.port)
            endpoint = wrapClientTLS(creator, endpoint)
        return endpoint


def peerAgent(reactor: IReactorTCP, pool: HTTPConnectionPool, connectTimeout: float) -> Agent:
    """The C{Agent} a replica forwards with: L{PeerEndpoints}, C{pool}
    (made quiet: no log line per connection)."""
    pool._factory = QuietClientFactory
    agent: Agent = Agent.usingEndpointFactory(
        reactor, PeerEndpoints(reactor, connectTimeout), pool=pool
    )
    return agent
