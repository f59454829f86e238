"""The bridge's HTTP agent (L{mcpgateway.bridge.main.SameURLAgent}): each
URL parsed, and its endpoint made, once; requests still go where they say
(a new URL, a new port), on a C{MemoryReactor}."""

from __future__ import annotations

from typing import Any

from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.web.client import URI, HTTPConnectionPool
from twisted.web.error import SchemeNotSupported
from twisted.web.http_headers import Headers

from mcpgateway.bridge.main import POOL_IDLE_TIMEOUT, LoopbackEndpoints, SameURLAgent, makeAgent
from mcpgateway.tuned.channel import IDLE_CONNECTION_TIMEOUT


class CountingEndpoints(LoopbackEndpoints):
    def __init__(self, reactor: Any) -> None:
        super().__init__(reactor)
        self.asked: list[bytes] = []

    def endpointForURI(self, uri: URI) -> Any:
        self.asked.append(uri.toBytes())
        return super().endpointForURI(uri)


def agentOn(reactor: MemoryReactorClock) -> tuple[SameURLAgent, CountingEndpoints]:
    endpoints = CountingEndpoints(reactor)
    pool = HTTPConnectionPool(reactor, persistent=False)
    return SameURLAgent.usingEndpointFactory(reactor, endpoints, pool=pool), endpoints


def test_the_bridge_uses_it() -> None:
    agent, _ = makeAgent(MemoryReactorClock())
    assert isinstance(agent, SameURLAgent)


def test_idle_connections_are_closed_before_the_gateway_closes_them() -> None:
    """The pool lets an idle connection go before the gateway's idle limit
    (and before the limit its responses advertise), so no request is sent
    on a connection the gateway is closing."""
    _, pool = makeAgent(MemoryReactorClock())
    assert pool.cachedConnectionTimeout == POOL_IDLE_TIMEOUT
    assert POOL_IDLE_TIMEOUT < IDLE_CONNECTION_TIMEOUT


def test_one_endpoint_per_url_and_requests_go_where_they_say() -> None:
    reactor = MemoryReactorClock()
    agent, endpoints = agentOn(reactor)
    mcp = b"http://127.0.0.1:9100/demo/mcp"
    for _ in range(3):
        agent.request(b"POST", mcp, Headers({b"host": [b"127.0.0.1:9100"]}))
    agent.request(b"GET", b"http://127.0.0.1:9200/health")
    assert endpoints.asked == [mcp, b"http://127.0.0.1:9200/health"]
    assert [(host, port) for host, port, *_ in reactor.tcpClients] == [
        ("127.0.0.1", 9100),
        ("127.0.0.1", 9100),
        ("127.0.0.1", 9100),
        ("127.0.0.1", 9200),
    ]


def test_the_remembered_urls_are_bounded() -> None:
    reactor = MemoryReactorClock()
    agent, endpoints = agentOn(reactor)
    for port in range(SameURLAgent.MAX_URLS * 3):
        agent.request(b"GET", b"http://127.0.0.1:%d/health" % (9000 + port,))
    assert len(agent._targets) <= SameURLAgent.MAX_URLS
    assert len(endpoints.asked) == SameURLAgent.MAX_URLS * 3


class NoEndpoints(LoopbackEndpoints):
    def endpointForURI(self, uri: URI) -> Any:
        raise SchemeNotSupported(uri.scheme)


def test_an_endpoint_that_cannot_be_made_fails_the_request_not_the_caller() -> None:
    reactor = MemoryReactorClock()
    agent = SameURLAgent.usingEndpointFactory(reactor, NoEndpoints(reactor))
    failures: list[Failure] = []
    agent.request(b"GET", b"gopher://127.0.0.1/x").addErrback(failures.append)
    assert [f.check(SchemeNotSupported) for f in failures] == [SchemeNotSupported]
    assert agent._targets == {}
