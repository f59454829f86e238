# -*- test-case-name: tests.runtime.test_httpclient -*-
"""The connection pools of the gateway's own HTTP clients (a replica's
forwarding, the remote servers' sessions), quiet in the log.

Twisted's pool logs "Starting factory" and "Stopping factory" for every
connection it opens; a gateway that talks to a remote server on every call
would write two lines per connection. Importing this module loads Twisted's
HTTP client: import it where a client is made, not before."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.web.client import URI, BrowserLikePolicyForHTTPS, HTTPConnectionPool
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from mcpgateway.runtime.twistedprivate import HTTP11ClientFactory

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTCP, IReactorTime


class QuietClientFactory(HTTP11ClientFactory):
    """The pool's connection factory, without a log line per connection."""

    noisy = False


def quietPool(reactor: IReactorTime, maxIdlePerHost: int = 2) -> HTTPConnectionPool:
    """A persistent pool (HTTP/1.1 keep-alive) keeping at most
    C{maxIdlePerHost} idle connections to each host, quiet in the log."""
    pool = HTTPConnectionPool(reactor, persistent=True)
    pool.maxPersistentPerHost = maxIdlePerHost
    pool._factory = QuietClientFactory
    return pool


@implementer(IAgentEndpointFactory)
class KeptEndpoints:
    """The endpoints of an C{Agent}, made once per scheme, host and port.

    Twisted's own factory makes a new C{HostnameEndpoint} for every request,
    and encodes its host name with C{idna} each time: a measurable share of
    a call to a remote server. An endpoint can connect any number of times,
    so one per address does. TLS (https) verifies the server's certificate
    against the system's trust store, as Twisted's default does."""

    def __init__(self, reactor: IReactorTCP, connectTimeout: float) -> None:
        self._reactor = reactor
        self._timeout = connectTimeout
        self._tls: BrowserLikePolicyForHTTPS | None = None
        self._made: dict[tuple[bytes, bytes, int], IStreamClientEndpoint] = {}

    def endpointForURI(self, uri: URI) -> IStreamClientEndpoint:
        key = (uri.scheme, uri.host, uri.port)
        endpoint = self._made.get(key)
        if endpoint is None:
            host = uri.host.decode("ascii")
            endpoint = HostnameEndpoint(self._reactor, host, uri.port, timeout=self._timeout)
            if uri.scheme == b"https":
                if self._tls is None:
                    self._tls = BrowserLikePolicyForHTTPS()
                endpoint = wrapClientTLS(self._tls.creatorForNetloc(uri.host, uri.port), endpoint)
            self._made[key] = endpoint
        return endpoint
