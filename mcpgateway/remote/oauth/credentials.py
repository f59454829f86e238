# -*- test-case-name: tests.remote.oauth.test_oauth,tests.remote.oauth.test_weblogin_confirm -*-
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

A grant is used for the URL it was obtained for only
(L{mcpgateway.remote.oauth.tokens.UpstreamGrant.serves}): when an entry's
URL changes, its requests go without the old server's token, and the login
they ask for says why. On an authenticated gateway the error names the
principal's sign-in link instead, or, once a sign-in finished in a browser,
the link that confirms it (L{mcpgateway.remote.oauth.weblogin}), or that
the last sign-in was finished in someone else's browser and is not used.

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
from mcpgateway.remote.oauth.pending import PENDING_TTL, REFUSED_TTL, waiting
from mcpgateway.remote.oauth.tokens import TokenStore, TokenStoreError, UpstreamGrant
from mcpgateway.remote.sse import readBody
from mcpgateway.runtime import logs
from mcpgateway.runtime.bytesproducer import BytesProducer

REFRESH_BEFORE = 60.0
"""Seconds before an access token's expiry at which it is refreshed."""
LOOK_EVERY = 1.0
"""Seconds between two looks at the store's file: a login is seen within a
second, and a busy server's requests do not each stat the file."""
MAX_NAMES = 10_000
"""Principals' names kept for their links (the oldest go first)."""


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
    return signInHint(credentials, server, principal, credentials.loginLink(server, principal))


def signInHint(
    credentials: UpstreamCredentials, server: str, principal: str, link: str | None
) -> str:
    """What C{principal} does to give the gateway its token for C{server},
    worded to follow "needs you to" or "it needs a login:": run the CLI
    login (C{link} C{None}), sign in at C{link}, or confirm there a sign-in
    that finished; with why, when the last sign-in was refused or the held
    login is for another URL."""
    stale = credentials.staleLogin(server, principal)
    why = f" (the login held is for {stale}, not this server's URL)" if stale else ""
    if link is None:
        return f"{loginHint(server)} again{why}" if stale else loginHint(server)
    state = credentials.signInState(server, principal)
    if state == "pending":
        return (
            f"confirm the sign-in that finished in your browser, from that same browser, at {link}"
        )
    if state == "refused":
        return (
            f"sign in again, in your own browser, at {link} (the last sign-in through your"
            " link was finished in another browser than yours: someone else signed in, so the"
            " gateway does not use it)"
        )
    return f"sign in at {link}{why}"


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
        self._seen: tuple[int, int, int] | None = (-1, -1, -1)
        """The version of the store's file last read (L{TokenStore.mtime})."""
        self._lookedAt = float("-inf")
        """When the store's file was last looked at (at most every L{LOOK_EVERY} s)."""
        self._grants: dict[tuple[str, str], list[UpstreamGrant]] = {}
        self._pending: dict[tuple[str, str], float] = {}
        """When each held sign-in finished (L{mcpgateway.remote.oauth.pending})."""
        self._refused: dict[tuple[str, str], float] = {}
        """When each refused sign-in was refused."""
        self._stale: dict[tuple[str, str], str] = {}
        """The URL a held grant is for, where a request to another URL found it."""
        self._refreshing: dict[tuple[str, str], Deferred[bool]] = {}
        self.links: LoginLinks | None = None
        """Makes the login links of principals (an authenticated gateway's
        C{/oauth/start}; C{None}: there is none, the CLI logs in)."""
        self._wanted: set[tuple[str, str]] = set()
        """The servers (and principals) that asked for a login the gateway
        has no grant for (L{loginState})."""
        self._names: dict[str, str] = {}

    @property
    def store(self) -> TokenStore:
        """The encrypted store the grants are read from (and a sign-in
        through the gateway's pages writes to)."""
        return self._store

    def named(self, principal: str, name: str) -> None:
        """The principal whose key is C{principal} is called C{name} (its
        links' pages name it)."""
        if not principal or self._names.get(principal) == name:
            return
        self._names.pop(principal, None)
        self._names[principal] = name
        while len(self._names) > MAX_NAMES:
            del self._names[next(iter(self._names))]

    def wantLogin(self, server: str, principal: str) -> None:
        """C{server} refused a request for want of C{principal}'s token
        (L{loginState} says so until a grant is held)."""
        self._wanted.add((server, principal))

    def loginLink(self, server: str, principal: str) -> str | None:
        """The link that signs C{principal} in to C{server}, or that
        confirms its sign-in that finished (C{None}: the gateway's own
        user, or no login pages)."""
        if not principal or self.links is None:
            return None
        name = self._names.get(principal, "")
        if self.signInState(server, principal) == "pending":
            return self.links.confirmLink(server, principal, name)
        return self.links.link(server, principal, name)

    def signInState(self, server: str, principal: str) -> str | None:
        """Where C{principal}'s sign-in to C{server} through the login pages
        stands: C{"pending"} (it finished in a browser; the principal is to
        confirm it), C{"refused"} (it was finished in another browser), or
        C{None}."""
        self.look()
        now, key = self._now(), (server, principal)
        finished = self._pending.get(key)
        if finished is not None and now - finished < PENDING_TTL:
            return "pending"
        refused = self._refused.get(key)
        if refused is not None and now - refused < REFUSED_TTL:
            return "refused"
        return None

    def staleLogin(self, server: str, principal: str) -> str | None:
        """The URL the held login of C{server} is for, when a request to
        another URL found it (C{None}: none such)."""
        return self._stale.get((server, principal))

    def loginState(self, server: str, principal: str = "") -> str | None:
        """Whether C{server} has the login it asks for (C{/health}'s
        C{"login"}): C{"ok"} while a grant is held, C{"needed"} when the
        server refused a request (401) and no grant is held, C{None} when it
        never asked. Never a token."""
        grant = self.grant(server, principal)
        if grant is not None and grant.accessToken and (server, principal) not in self._stale:
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
            document = self._store.document()
        except TokenStoreError as e:
            self.log.error("upstream tokens: {error}", error=str(e))
            document = {}
        grants: dict[tuple[str, str], list[UpstreamGrant]] = {}
        records = document.get("grants")
        for record in records.values() if isinstance(records, dict) else ():
            grant = UpstreamGrant.fromJson(record)
            if grant is not None:
                grants.setdefault((grant.server, grant.principal), []).append(grant)
        self._grants = grants
        self._pending, self._refused = waiting(document, now)

    def look(self) -> None:
        """Read the store again now if it changed (a server said 401: a login
        may have just happened)."""
        self._lookedAt = float("-inf")
        self._load()

    def grant(
        self, server: str, principal: str = "", url: str | None = None
    ) -> UpstreamGrant | None:
        """The grant for C{server} (C{None}: no login yet); with C{url}, the
        server's URL now, only one that serves it (L{UpstreamGrant.serves}:
        one for another URL is not used, and L{staleLogin} names it)."""
        self._load()
        held = self._grants.get((server, principal))
        if not held:
            self._stale.pop((server, principal), None)
            return None
        if url is None:
            return held[-1]
        for grant in held:
            if grant.serves(url):
                self._stale.pop((server, principal), None)
                return grant
        self._stale[(server, principal)] = held[-1].boundTo
        return None

    def authorization(self, server: str, principal: str = "", url: str | None = None) -> str | None:
        """The C{Authorization} value for a request to C{server} at C{url}
        (C{None}: no token for it); starts a refresh when the token is
        about to expire."""
        grant = self.grant(server, principal, url)
        if grant is None or not grant.accessToken:
            return None
        if grant.refreshToken and grant.expiresWithin(REFRESH_BEFORE, self._now()):
            self.refresh(server, principal, url)
        return f"Bearer {grant.accessToken}"

    def refresh(self, server: str, principal: str = "", url: str | None = None) -> Deferred[bool]:
        """Refresh the access token of the grant (that serves C{url}, if
        given); fires with whether it did."""
        key = (server, principal)
        running = self._refreshing.get(key)
        if running is not None:
            return _follow(running)
        grant = self.grant(server, principal, url)
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
            self._store.remove(grant.server, None, grant.principal)
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
