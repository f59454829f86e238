# -*- test-case-name: tests.runtime.test_httpclient -*-
"""The connection pools of the gateway's own HTTP clients (a replica's
forwarding, the remote servers' sessions), quiet in the log.

Twisted's pool logs "Starting factory" and "Stopping factory" for every
connection it opens; a gateway that talks to a remote server on every call
would write two lines per connection. Importing this module loads Twisted's
HTTP client: import it where a client is made, not before."""

from __future__ import annotations

from typing import Any

from twisted.web.client import HTTPConnectionPool

from mcpgateway.runtime.twistedprivate import HTTP11ClientFactory


class QuietClientFactory(HTTP11ClientFactory):
    """The pool's connection factory, without a log line per connection."""

    noisy = False


def quietPool(reactor: Any, maxIdlePerHost: int = 2) -> HTTPConnectionPool:
    """A persistent pool (HTTP/1.1 keep-alive) keeping at most
    C{maxIdlePerHost} idle connections to each host, quiet in the log."""
    pool = HTTPConnectionPool(reactor, persistent=True)
    pool.maxPersistentPerHost = maxIdlePerHost
    pool._factory = QuietClientFactory
    return pool
