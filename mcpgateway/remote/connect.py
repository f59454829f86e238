# -*- test-case-name: tests.remote.test_connect -*-
"""The gateway's HTTP client of its remote servers: one connection pool per
server, and the upstream session that stands for a child of each.

L{RemoteServers} is the L{mcpgateway.core.spawn.RemoteConnector} the wiring
gives the spawner. Each server gets its own C{Agent} on its own persistent
C{HTTPConnectionPool} (HTTP/1.1 keep-alive, at most L{MAX_IDLE} idle
connections kept), made on the server's first session, so a gateway with no
remote server never loads C{twisted.web.client}.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime

from mcpgateway.core.child import Child
from mcpgateway.core.spec import (
    ClientCredentials,
    RemoteEndpoint,
    ServerSpec,
    TokenExchangeSettings,
)
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.oauth.subjecttokens import SubjectTokens

if TYPE_CHECKING:
    from twisted.web.client import HTTPConnectionPool
    from twisted.web.iweb import IAgent

    from mcpgateway.remote.oauth.clientcredentials import ClientCredentialsToken
    from mcpgateway.remote.oauth.credentials import UpstreamCredentials
    from mcpgateway.remote.oauth.exchange import TokenExchange
    from mcpgateway.runtime.reactortype import IReactor

MAX_IDLE = 16
"""Idle connections kept open to one remote server."""
CONNECT_TIMEOUT = 10.0
"""Seconds a connection to a remote server may take to open."""


class RemoteServers:
    """Opens the upstream sessions of every remote server of one gateway."""

    def __init__(
        self, reactor: IReactor, clock: IReactorTime | None = None, stateDir: Path | None = None
    ) -> None:
        self._reactor = reactor
        self._clock: IReactorTime = clock if clock is not None else reactor
        self._agents: dict[str, tuple[IAgent, HTTPConnectionPool]] = {}
        self._stateDir = stateDir
        self._credentials: UpstreamCredentials | None = None
        self._clientTokens: dict[tuple[str, ClientCredentials], ClientCredentialsToken] = {}
        self.subjects = SubjectTokens()
        """The access tokens principals present to the gateway, traded for
        the tokens of C{"auth": "exchange"} servers."""
        self.issuer: str | None = None
        """The gateway's C{--oauth-issuer} (where tokens are exchanged by default)."""
        self._exchanges: dict[str, TokenExchange] = {}

    def credentials(self) -> UpstreamCredentials | None:
        """The gateway's upstream OAuth tokens (made on first use; C{None}:
        no state directory, no tokens)."""
        if self._credentials is None and self._stateDir is not None:
            from mcpgateway.remote.oauth.credentials import UpstreamCredentials
            from mcpgateway.remote.oauth.tokens import TokenStore

            self._credentials = UpstreamCredentials(
                TokenStore(self._stateDir), lambda url: self.agentFor("oauth", url)
            )
        return self._credentials

    def connect(
        self,
        spec: ServerSpec,
        onMessage: Callable[[jsonrpc.Message], None],
        onStderr: Callable[[str], None],
    ) -> Child:
        """A new upstream session with C{spec}'s server (it opens on its first message)."""
        endpoint = spec.remote
        assert endpoint is not None
        secure = any(u.lower().startswith("https:") for u in (endpoint.url, endpoint.spec or ""))
        if secure and sys.modules.get("OpenSSL", 0) is None:
            raise OSError(
                "its https URL needs TLS support, which the gateway left out when it started"
                " without an https server; restart the gateway (mcpgateway restart) to serve it"
            )
        agent = self.agentFor(spec.name, endpoint.url or endpoint.spec or "")
        if endpoint.transport == "openapi":
            from mcpgateway.remote.restchild import RestChild

            return RestChild(
                spec.name,
                endpoint,
                agent,
                self._clock,
                onMessage,
                onStderr,
                self.credentials(),
                self._clientToken(spec.name, endpoint, agent),
            )
        if endpoint.transport == "sse":
            from mcpgateway.remote.httpsse import HttpSSEChild

            return HttpSSEChild(
                spec.name, endpoint, agent, self._clock, onMessage, onStderr, self.credentials()
            )
        from mcpgateway.remote.streamable import StreamableChild

        return StreamableChild(
            spec.name,
            endpoint,
            agent,
            self._clock,
            onMessage,
            onStderr,
            self.credentials(),
            self.exchangeFor(spec.name, endpoint),
        )

    def exchangeFor(self, name: str, endpoint: RemoteEndpoint) -> TokenExchange | None:
        """The token exchange of an C{"auth": "exchange"} server (C{None}: another kind)."""
        if endpoint.auth != "exchange":
            return None
        from mcpgateway.remote.oauth.exchange import TokenExchange

        settings = endpoint.exchange or TokenExchangeSettings()
        known = self._exchanges.get(name)
        if known is None or (known.resource, known.settings) != (endpoint.url, settings):
            known = self._exchanges[name] = TokenExchange(
                name,
                endpoint.url,
                settings,
                self.subjects,
                lambda url: self.agentFor("oauth", url),
                self.issuer,
            )
        return known

    def _clientToken(
        self, name: str, endpoint: RemoteEndpoint, agent: IAgent
    ) -> ClientCredentialsToken | None:
        """The token of C{endpoint}'s client credentials (C{None}: it has
        none), one per server and credentials: every child of the server
        shares it."""
        given = endpoint.clientCredentials
        if given is None:
            return None
        from mcpgateway.remote.oauth.clientcredentials import ClientCredentialsToken

        key = (name, given)
        token = self._clientTokens.get(key)
        if token is None:
            for stale in [k for k in self._clientTokens if k[0] == name]:
                del self._clientTokens[stale]  # the entry's credentials changed
            token = self._clientTokens[key] = ClientCredentialsToken(name, given, agent)
        return token

    def loginState(self, name: str) -> str | None:
        """Whether server C{name} has the gateway's own login it asks for
        (L{UpstreamCredentials.loginState}: C{"ok"}, C{"needed"}, C{None})."""
        credentials = self.credentials()
        return None if credentials is None else credentials.loginState(name)

    def agentFor(self, name: str, url: str) -> IAgent:
        """The HTTP client of server C{name} at C{url} (made on first use)."""
        key = f"{name} {url}"
        known = self._agents.get(key)
        if known is not None:
            return known[0]
        from twisted.web.client import Agent

        from mcpgateway.runtime.httpclient import KeptEndpoints, quietPool

        pool = quietPool(self._reactor, MAX_IDLE)
        endpoints = KeptEndpoints(self._reactor, CONNECT_TIMEOUT)
        agent: IAgent = Agent.usingEndpointFactory(self._reactor, endpoints, pool=pool)
        self._agents[key] = (agent, pool)
        return agent

    def close(self) -> Deferred[Any]:
        """Close every idle connection (the gateway is stopping)."""
        pools, self._agents = [pool for _, pool in self._agents.values()], {}
        return DeferredList([pool.closeCachedConnections() for pool in pools])


class RemotePools(Service):
    """Closes the remote servers' idle connections when the gateway stops."""

    def __init__(self, remotes: RemoteServers) -> None:
        self.remotes = remotes

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        return self.remotes.close()
