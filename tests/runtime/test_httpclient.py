"""The gateway's own HTTP client pools: quiet, and one endpoint per address."""

from __future__ import annotations

from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.web.client import URI

from mcpgateway.runtime.httpclient import KeptEndpoints, QuietClientFactory, quietPool


def test_a_quiet_pool_keeps_its_idle_connections_and_logs_none() -> None:
    pool = quietPool(MemoryReactorClock(), maxIdlePerHost=7)
    assert pool.persistent is True
    assert pool.maxPersistentPerHost == 7
    assert pool._factory is QuietClientFactory
    assert QuietClientFactory.noisy is False


def test_one_endpoint_serves_every_request_to_an_address() -> None:
    endpoints = KeptEndpoints(MemoryReactorClock(), connectTimeout=3.0)
    first = endpoints.endpointForURI(URI.fromBytes(b"http://127.0.0.1:9/mcp"))
    again = endpoints.endpointForURI(URI.fromBytes(b"http://127.0.0.1:9/other"))
    other = endpoints.endpointForURI(URI.fromBytes(b"http://127.0.0.1:10/mcp"))
    assert first is again
    assert other is not first
    assert isinstance(first, HostnameEndpoint)


def test_an_https_address_gets_a_tls_endpoint() -> None:
    endpoints = KeptEndpoints(MemoryReactorClock(), connectTimeout=3.0)
    plain = endpoints.endpointForURI(URI.fromBytes(b"http://example.com/mcp"))
    secure = endpoints.endpointForURI(URI.fromBytes(b"https://example.com/mcp"))
    assert secure is not plain
    assert not isinstance(secure, HostnameEndpoint)  # wrapped in TLS
