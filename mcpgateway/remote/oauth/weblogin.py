# -*- test-case-name: tests.remote.test_weblogin -*-
"""A principal's login to a remote server, through the gateway's own pages.

On an authenticated gateway each principal calls a remote server with a
token of its own. The principal gets it by following the link its failed
call named (L{mcpgateway.remote.oauth.links}): C{/oauth/start/<server>}
opens the ticket, finds the server's authorization server as
C{mcpgateway login} does (RFC 9728, RFC 8414, dynamic registration with
the gateway's C{/oauth/callback} as redirect URI), and sends the browser
there with PKCE and the server's URL as the RFC 8707 resource; the
callback exchanges the code for tokens and keeps them in the token store
under the principal's key, where that principal's children find them.

The HTTP exchanges are the CLI's own (L{mcpgateway.remote.oauth.login}),
run in the reactor's thread pool: a login is rare and waits on a person
anyway, and the same code then serves both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.remote.oauth.discovery import (
    AuthServer,
    DiscoveryError,
    Pkce,
    authorizeUrl,
    tokenRequest,
    tokenResponse,
    withTokens,
)
from mcpgateway.remote.oauth.links import LinkError, LoginLinks
from mcpgateway.remote.oauth.login import Fetch, LoginError, discover, register, urllibFetch
from mcpgateway.remote.oauth.tokens import TokenStore, UpstreamGrant
from mcpgateway.runtime import logs

RunInThread = Callable[..., "Deferred[Any]"]


class WebLogin:
    """Starts and finishes principals' logins to remote servers.

    @param endpointOf: the endpoint of a remote server by name (C{None}: no
        such remote server, or one whose token is not per principal).
    @param runInThread: runs a blocking call in the reactor's thread pool.
    @param onGrant: told of each new grant (the credentials read the store again).
    """

    log = Logger(observer=logs.observer, namespace="mcpgateway.remote")

    def __init__(
        self,
        store: TokenStore,
        links: LoginLinks,
        endpointOf: Callable[[str], RemoteEndpoint | None],
        runInThread: RunInThread,
        fetch: Fetch = urllibFetch,
        onGrant: Callable[[UpstreamGrant], None] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.links = links
        self._endpointOf = endpointOf
        self._run = runInThread
        self._fetch = fetch
        self._onGrant = onGrant
        self._now = now
        self._clients: dict[tuple[str, str], tuple[str, str | None]] = {}
        """Client registrations by (authorization server, redirect URI):
        one registration serves every principal's login there."""

    def start(self, server: str, ticket: str) -> Deferred[str]:
        """The authorization URL the browser goes to for C{ticket}'s login to
        C{server}; fails with L{LinkError} or L{LoginError} saying why not."""
        try:
            principal = self.links.principalOf(ticket, server)
        except LinkError as e:
            return _failed(e)
        endpoint = self._endpointOf(server)
        if endpoint is None:
            return _failed(LoginError(f"no remote server named {server!r} takes a login here"))
        callback = self.links.callbackUrl
        return self._run(self._begin, server, principal, endpoint, callback)

    def _begin(self, server: str, principal: str, endpoint: RemoteEndpoint, callback: str) -> str:
        """The blocking part of L{start} (in a thread)."""
        headers = {k: v for k, v in endpoint.headers if k.lower() != "authorization"}
        resource, authServer, asked = discover(endpoint.url, self._fetch, headers)
        known = self._clients.get((authServer.issuer, callback))
        if known is None:
            known = self._clients[(authServer.issuer, callback)] = register(
                authServer, callback, self._fetch
            )
        clientId, clientSecret = known
        pkce = Pkce.make()
        wanted = asked or (" ".join(authServer.scopes) if authServer.scopes else None)
        state = self.links.seal(
            {
                "k": "state",
                "s": server,
                "p": principal,
                "r": resource,
                "v": pkce.verifier,
                "c": clientId,
                "cs": clientSecret,
                "as": _authServerRecord(authServer),
            }
        )
        sealed = Pkce(pkce.verifier, pkce.challenge, state)
        self.log.info(
            "server {server}: a principal's login started at {issuer}",
            server=server,
            issuer=authServer.issuer,
        )
        return authorizeUrl(authServer, clientId, callback, sealed, resource, wanted)

    def finish(self, state: str, code: str | None, error: str | None) -> Deferred[str]:
        """Exchange the callback's C{code} for the principal's tokens and keep
        them; fires with the server's name, or fails saying why not."""
        try:
            data = self.links.unseal(state)
        except LinkError as e:
            return _failed(e)
        if data.get("k") != "state":
            return _failed(LinkError("the login's state is not valid; start again"))
        if error is not None or not code:
            return _failed(LoginError(f"the authorization server refused: {error or 'no code'}"))
        exchanged: Deferred[UpstreamGrant] = self._run(
            self._exchange, data, code, self.links.callbackUrl
        )
        return exchanged.addCallback(self._granted)

    def _granted(self, grant: UpstreamGrant) -> str:
        self.log.info("server {server}: a principal's login is done", server=grant.server)
        if self._onGrant is not None:
            self._onGrant(grant)
        return grant.server

    def _exchange(self, data: dict[str, Any], code: str, callback: str) -> UpstreamGrant:
        """The blocking part of L{finish} (in a thread)."""
        record = data.get("as") if isinstance(data.get("as"), dict) else {}
        assert isinstance(record, dict)
        grant = UpstreamGrant(
            server=str(data.get("s", "")),
            resource=str(data.get("r", "")),
            tokenEndpoint=str(record.get("token", "")),
            clientId=str(data.get("c", "")),
            clientSecret=data.get("cs") if isinstance(data.get("cs"), str) else None,
            issuer=str(record.get("issuer", "")),
            revocationEndpoint=record.get("revoke")
            if isinstance(record.get("revoke"), str)
            else None,
            principal=str(data.get("p", "")),
        )
        if not (grant.server and grant.principal and grant.tokenEndpoint and grant.clientId):
            raise LinkError("the login's state is not valid; start again")
        body, headers = tokenRequest(
            grant,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": callback,
                "code_verifier": str(data.get("v", "")),
            },
        )
        answer = self._fetch("POST", grant.tokenEndpoint, body, headers)
        try:
            tokens = tokenResponse(answer.json())
        except DiscoveryError as e:
            raise LoginError(f"{e} (HTTP {answer.status})") from None
        withTokens(grant, tokens, self._now())
        self._store.put(grant)
        return grant


def _authServerRecord(server: AuthServer) -> dict[str, str | None]:
    """What the callback needs of the authorization server."""
    return {
        "issuer": server.issuer,
        "token": server.tokenEndpoint,
        "revoke": server.revocationEndpoint,
    }


def _failed(error: Exception) -> Deferred[Any]:
    failed: Deferred[Any] = Deferred()
    failed.errback(error)
    return failed
