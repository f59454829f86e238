# -*- test-case-name: tests.remote.test_oauth -*-
"""The running gateway's side of upstream OAuth: the bearer token each
request to a remote server carries, and its refresh.

L{UpstreamCredentials} reads the encrypted store that C{mcpgateway login}
writes (again whenever the file changes, so a login takes effect at once,
without a restart), gives the current access token of a server, and
refreshes it with the refresh token: a minute before it expires, or when the
server answers 401. One refresh per grant is in flight at a time, whatever
the number of sessions waiting on it; a refresh token the server rotates is
kept at once. A grant whose refresh is refused (revoked, expired) is
dropped: the server's requests then fail with an error that names
C{mcpgateway login SERVER}.

The token is the gateway's, obtained for the server's own URL (RFC 8707):
never a client's token passed through.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.remote.oauth.discovery import (
    DiscoveryError,
    tokenRequest,
    tokenResponse,
    withTokens,
)
from mcpgateway.remote.oauth.links import LoginLinks
from mcpgateway.remote.oauth.tokens import TokenStore, TokenStoreError, UpstreamGrant
from mcpgateway.remote.sse import readBody
from mcpgateway.runtime import logs
from mcpgateway.runtime.bodies import BytesProducer

REFRESH_BEFORE = 60.0
"""Seconds before an access token's expiry at which it is refreshed."""
LOOK_EVERY = 1.0
"""Seconds between two looks at the store's file: a login is seen within a
second, and a busy server's requests do not each stat the file."""


def loginHint(server: str) -> str:
    """What a user runs to give the gateway a server's tokens."""
    return f"run `mcpgateway login {server}`"


def loginNeeded(credentials: UpstreamCredentials | None, server: str, principal: str) -> str:
    """C{server} refused a request for want of C{principal}'s token: note
    it (L{UpstreamCredentials.loginState}) and say what gives the gateway
    one (the login link of a principal of an authenticated gateway, else
    the CLI login)."""
    if credentials is None:
        return loginHint(server)
    credentials.wantLogin(server, principal)
    link = credentials.loginLink(server, principal)
    return loginHint(server) if link is None else f"sign in at {link}"


class UpstreamCredentials:
    """The tokens of every remote server, as the store has them.

    @param agentFor: the HTTP client for a URL (the token endpoint's).
    """

    log = Logger(observer=logs.observer, namespace="mcpgateway.remote")

    def __init__(
        self,
        store: TokenStore,
        agentFor: Callable[[str], IAgent],
        now: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._agentFor = agentFor
        self._now = now
        self._seen: float | None = -1.0
        self._lookedAt = float("-inf")
        """When the store's file was last looked at (at most every L{LOOK_EVERY} s)."""
        self._grants: dict[tuple[str, str], UpstreamGrant] = {}
        self._refreshing: dict[tuple[str, str], Deferred[bool]] = {}
        self.links: LoginLinks | None = None
        """Makes the login links of principals (an authenticated gateway's
        C{/oauth/start}; C{None}: there is none, the CLI logs in)."""
        self._wanted: set[tuple[str, str]] = set()
        """The servers (and principals) that asked for a login the gateway
        has no grant for (L{loginState})."""

    def wantLogin(self, server: str, principal: str) -> None:
        """C{server} refused a request for want of C{principal}'s token
        (L{loginState} says so until a grant is held)."""
        self._wanted.add((server, principal))

    def loginLink(self, server: str, principal: str) -> str | None:
        """The link that signs C{principal} in to C{server} (C{None}: the
        gateway's own user, or no login pages)."""
        if not principal or self.links is None:
            return None
        return self.links.link(server, principal)

    def loginState(self, server: str, principal: str = "") -> str | None:
        """Whether C{server} has the login it asks for (C{/health}'s
        C{"login"}): C{"ok"} while a grant is held, C{"needed"} when the
        server refused a request (401) and no grant is held, C{None} when it
        never asked. Never a token."""
        grant = self.grant(server, principal)
        if grant is not None and grant.accessToken:
            self._wanted.discard((server, principal))
            return "ok"
        return "needed" if (server, principal) in self._wanted else None

    def _load(self) -> None:
        now = self._now()
        if now < self._lookedAt + LOOK_EVERY:
            return
        self._lookedAt = now
        mtime = self._store.mtime()
        if mtime == self._seen:
            return
        self._seen = mtime
        try:
            grants = self._store.all()
        except TokenStoreError as e:
            self.log.error("upstream tokens: {error}", error=str(e))
            grants = []
        self._grants = {(g.server, g.principal): g for g in grants}

    def look(self) -> None:
        """Read the store again now if it changed (a server said 401: a login
        may have just happened)."""
        self._lookedAt = float("-inf")
        self._load()

    def grant(self, server: str, principal: str = "") -> UpstreamGrant | None:
        """The grant for C{server} (C{None}: no login yet)."""
        self._load()
        return self._grants.get((server, principal))

    def authorization(self, server: str, principal: str = "") -> str | None:
        """The C{Authorization} value for a request (C{None}: no token);
        starts a refresh when the token is about to expire."""
        grant = self.grant(server, principal)
        if grant is None or not grant.accessToken:
            return None
        if grant.refreshToken and grant.expiresWithin(REFRESH_BEFORE, self._now()):
            self.refresh(server, principal)
        return f"Bearer {grant.accessToken}"

    def refresh(self, server: str, principal: str = "") -> Deferred[bool]:
        """Refresh the grant's access token; fires with whether it did."""
        key = (server, principal)
        running = self._refreshing.get(key)
        if running is not None:
            return _follow(running)
        grant = self.grant(server, principal)
        if grant is None or not grant.refreshToken:
            return succeed(False)
        body, headers = tokenRequest(
            grant, {"grant_type": "refresh_token", "refresh_token": grant.refreshToken}
        )
        agent = self._agentFor(grant.tokenEndpoint)
        request = agent.request(
            b"POST",
            grant.tokenEndpoint.encode("ascii"),
            Headers({k.encode(): [v.encode()] for k, v in headers.items()}),
            BytesProducer(body),
        )
        done: Deferred[bool] = Deferred()
        self._refreshing[key] = done

        def answered(response: IResponse) -> Deferred[bool]:
            return readBody(response).addCallback(self._refreshed, grant, response.code)

        def failed(reason: Failure) -> bool:
            self.log.warn(
                "server {server}: refreshing its token at {endpoint} failed: {why}",
                server=server,
                endpoint=grant.tokenEndpoint,
                why=reason.getErrorMessage(),
            )
            return False

        def finish(result: object) -> None:
            del self._refreshing[key]
            done.callback(result is True)

        request.addCallback(answered).addErrback(failed).addBoth(finish)
        return _follow(done)

    def _refreshed(self, result: tuple[bytes, Failure], grant: UpstreamGrant, code: int) -> bool:
        body, _ = result
        try:
            data = tokenResponse(json.loads(body)) if code == 200 else None
        except (ValueError, DiscoveryError):
            data = None
        if data is None:
            self.log.warn(
                "server {server}: its authorization server refused the refresh (HTTP {code});"
                " {hint}",
                server=grant.server,
                code=code,
                hint=loginNeeded(self, grant.server, grant.principal),
            )
            if 400 <= code < 500:
                self._forget(grant)
            return False
        withTokens(grant, data, self._now())
        try:
            self._store.put(grant)
            self._seen = self._store.mtime()
        except (OSError, TokenStoreError) as e:
            self.log.error(
                "upstream tokens: keeping a refreshed token failed: {error}", error=str(e)
            )
        self.log.info("server {server}: its access token was refreshed", server=grant.server)
        return True

    def _forget(self, grant: UpstreamGrant) -> None:
        self._grants.pop((grant.server, grant.principal), None)
        try:
            self._store.remove(grant.server, grant.resource, grant.principal)
            self._seen = self._store.mtime()
        except (OSError, TokenStoreError) as e:
            self.log.error("upstream tokens: {error}", error=str(e))


def _follow(source: Deferred[bool]) -> Deferred[bool]:
    """A Deferred of C{source}'s result that does not change it."""
    out: Deferred[bool] = Deferred()

    def relay(result: Any) -> Any:
        out.callback(result is True)
        return result

    source.addBoth(relay)
    return out
