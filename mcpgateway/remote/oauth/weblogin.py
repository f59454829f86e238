# -*- test-case-name: tests.remote.oauth.test_weblogin,tests.remote.oauth.test_weblogin_confirm -*-
"""A principal's login to a remote server, through the gateway's own pages.

On an authenticated gateway each principal calls a remote server with a
token of its own. The principal gets it by following the link its failed
call named (L{mcpgateway.remote.oauth.links}). Whoever opens a link signs
in at the authorization server with their own account, and a browser
already signed in there would finish at once: so nothing happens on the
link alone.

 1. L{WebLogin.start} (C{GET /oauth/start/<server>}) opens the ticket and
    finds the server's authorization server as C{mcpgateway login} does
    (RFC 9728, RFC 8414): the page names the principal, the server and the
    authorization server's host, and goes on only when its form is posted
    from the same browser (L{WebLogin.begin}): dynamic registration with the
    gateway's C{/oauth/callback} as redirect URI, then the browser goes to
    the authorization server with PKCE and the server's URL as the RFC 8707
    resource.
 2. L{WebLogin.finish} (the callback, in the browser that posted the form)
    exchanges the code for tokens. On a loopback gateway with one principal
    the browser is that principal's (only a browser on this machine can
    follow the link): the tokens are kept under the principal's key at
    once. On a team gateway they are held (L{mcpgateway.remote.oauth.pending})
    until the principal confirms them.
 3. The principal's next call, authenticated with its own credential, gets
    a confirmation link (L{mcpgateway.remote.oauth.credentials}); opened in
    the browser that finished the sign-in (L{WebLogin.confirmation}), its
    page binds the tokens to the principal when its form is posted
    (L{WebLogin.confirm}). Opened in another browser, it shows that someone
    else finished the sign-in: the tokens are dropped, and the principal's
    next calls say so until it signs in again.

The HTTP exchanges are the CLI's own (L{mcpgateway.remote.oauth.login}),
and with the token store's file they run in the reactor's thread pool: a
login is rare and waits on a person anyway, and the same code then serves
both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

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
from mcpgateway.remote.oauth.links import (
    CONFIRM,
    TICKET_TTL,
    LinkError,
    LoginLinks,
    browserDigest,
)
from mcpgateway.remote.oauth.login import Fetch, LoginError, discover, register, urllibFetch
from mcpgateway.remote.oauth.pending import PendingLogins
from mcpgateway.remote.oauth.resources import canonicalResource
from mcpgateway.remote.oauth.tokens import TokenStore, UpstreamGrant
from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread

FORM = "form"
CONFIRM_FORM = "confirm-form"
STATE = "state"


class ForeignBrowser(LinkError):
    """A sign-in was confirmed from another browser than the one that
    finished it: someone else signed in through the principal's link."""


class Question(NamedTuple):
    """What a login page asks whoever opened a link to confirm."""

    server: str
    principal: str
    """The principal's key."""
    name: str
    """The principal's name as the gateway knows it (C{""}: unknown)."""
    authHost: str
    """The host of the authorization server the sign-in is (or was) at."""
    form: str
    """The sealed value the page's form posts back."""


class Finished(NamedTuple):
    """Where a sign-in stands once the browser is back."""

    server: str
    name: str
    bound: bool
    """Whether the principal's calls use the tokens now (C{False}: held
    until the principal confirms)."""


class WebLogin:
    """Starts, finishes and confirms principals' logins to remote servers.

    @param endpointOf: the endpoint of a remote server by name (C{None}: no
        such remote server, or one whose token is not per principal).
    @param runInThread: runs a blocking call in the reactor's thread pool.
    @param onGrant: told of each new grant (the credentials read the store again).
    @param singleUser: whether the browser that finishes a sign-in is the
        principal's by necessity (a loopback gateway with one principal):
        the tokens are then kept at once, without the confirmation.
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
        singleUser: Callable[[], bool] = lambda: False,
    ) -> None:
        self._store = store
        self.links = links
        self._endpointOf = endpointOf
        self._run = runInThread
        self._fetch = fetch
        self._onGrant = onGrant
        self._now = now
        self._singleUser = singleUser
        self.pending = PendingLogins(store, now)
        self._clients: dict[tuple[str, str], tuple[str, str | None]] = {}
        """Client registrations by (authorization server, redirect URI):
        one registration serves every principal's login there."""

    # -- 1. the link's page, and its form --------------------------------------------

    def start(self, server: str, ticket: str, browser: str) -> Deferred[Question]:
        """What the page of C{ticket}'s link asks, for the browser known
        by C{browser}; fails with L{LinkError} or L{LoginError} saying why not."""
        try:
            principal, name = self.links.opened(ticket, server)
        except LinkError as e:
            return _failed(e)
        endpoint = self._endpointOf(server)
        if endpoint is None:
            return _failed(LoginError(f"no remote server named {server!r} takes a login here"))
        return self._run(self._discover, server, principal, name, endpoint, browser)

    def _discover(
        self, server: str, principal: str, name: str, endpoint: RemoteEndpoint, browser: str
    ) -> Question:
        """The blocking part of L{start} (in a thread): where the server's
        authorization server is, sealed into the page's form."""
        headers = {k: v for k, v in endpoint.headers if k.lower() != "authorization"}
        resource, authServer, asked = discover(endpoint.url, self._fetch, headers)
        wanted = asked or (" ".join(authServer.scopes) if authServer.scopes else None)
        form = self.links.seal(
            {
                "k": FORM,
                "s": server,
                "p": principal,
                "n": name,
                "r": resource,
                "u": canonicalResource(endpoint.url),
                "q": wanted,
                "as": _authServerRecord(authServer),
                "b": browserDigest(browser),
            }
        )
        return Question(server, principal, name, _host(authServer.authorizationEndpoint), form)

    def begin(self, server: str, form: str, browser: str) -> Deferred[str]:
        """The authorization URL the browser goes to once the page's form is
        posted; fails with L{LinkError} (another browser's form, an old one)
        or L{LoginError}."""
        try:
            data = self._form(form, FORM, server, browser)
        except LinkError as e:
            return _failed(e)
        return self._run(self._authorize, data, self.links.callbackUrl)

    def _authorize(self, data: dict[str, Any], callback: str) -> str:
        """The blocking part of L{begin} (in a thread)."""
        authServer = _authServerOf(data.get("as"))
        known = self._clients.get((authServer.issuer, callback))
        if known is None:
            known = self._clients[(authServer.issuer, callback)] = register(
                authServer, callback, self._fetch
            )
        clientId, clientSecret = known
        pkce = Pkce.make()
        state = self.links.seal(
            {
                "k": STATE,
                "s": data["s"],
                "p": data["p"],
                "n": data.get("n", ""),
                "r": data.get("r"),
                "u": data.get("u"),
                "v": pkce.verifier,
                "c": clientId,
                "cs": clientSecret,
                "as": data.get("as"),
                "b": data["b"],
            }
        )
        sealed = Pkce(pkce.verifier, pkce.challenge, state)
        self.log.info(
            "server {server}: a principal's login started at {issuer}",
            server=data["s"],
            issuer=authServer.issuer,
            principal=data["p"],
        )
        wanted = data.get("q") if isinstance(data.get("q"), str) else None
        return authorizeUrl(authServer, clientId, callback, sealed, str(data.get("r")), wanted)

    # -- 2. the callback -------------------------------------------------------------

    def finish(
        self, state: str, code: str | None, error: str | None, browser: str
    ) -> Deferred[Finished]:
        """Exchange the callback's C{code} for the principal's tokens, in the
        browser that posted the sign-in's form: kept at once on a
        single-user gateway, else held for the principal to confirm."""
        try:
            data = self.links.unseal(state)
        except LinkError as e:
            return _failed(e)
        if data.get("k") != STATE:
            return _failed(LinkError("the login's state is not valid; start again"))
        if not browserDigest(browser) or data.get("b") != browserDigest(browser):
            return _failed(
                LinkError(
                    "this sign-in was started in another browser than this one; open the"
                    " link again in the browser you sign in with"
                )
            )
        if error is not None or not code:
            return _failed(LoginError(f"the authorization server refused: {error or 'no code'}"))
        exchanged: Deferred[tuple[Finished, UpstreamGrant]] = self._run(
            self._exchange, data, code, self.links.callbackUrl, self._singleUser()
        )
        return exchanged.addCallback(self._done)

    def _exchange(
        self, data: dict[str, Any], code: str, callback: str, keep: bool
    ) -> tuple[Finished, UpstreamGrant]:
        """The blocking part of L{finish} (in a thread); C{keep}: bind the
        tokens at once (a single-user gateway), else hold them."""
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
            serverUrl=str(data.get("u") or ""),
        )
        if not (
            grant.server
            and (grant.principal or self.links.own)
            and grant.tokenEndpoint
            and grant.clientId
        ):
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
        name = str(data.get("n") or "")
        if keep:
            self._store.put(grant)
            self.pending.drop(grant.server, grant.principal)
            return Finished(grant.server, name, True), grant
        self.pending.hold(grant, str(data["b"]))
        return Finished(grant.server, name, False), grant

    def _done(self, result: tuple[Finished, UpstreamGrant]) -> Finished:
        """A sign-in's tokens are bound, or held: say so (and tell
        C{onGrant} of a bound grant)."""
        finished, grant = result
        if not finished.bound:
            self.log.info(
                "server {server}: a principal's sign-in finished; its tokens are held until"
                " the principal confirms them",
                server=finished.server,
                principal=grant.principal,
            )
            return finished
        self.log.info(
            "server {server}: a principal's login is done",
            server=finished.server,
            principal=grant.principal,
        )
        if self._onGrant is not None:
            self._onGrant(grant)
        return finished

    # -- 3. the confirmation ---------------------------------------------------------

    def confirmation(self, server: str, ticket: str, browser: str) -> Deferred[Question]:
        """What the page of a confirmation link asks; fails with
        L{ForeignBrowser} when the sign-in it confirms was finished in
        another browser (which drops it), or L{LinkError}."""
        try:
            principal, name = self.links.opened(ticket, server, CONFIRM)
        except LinkError as e:
            return _failed(e)
        return self._run(self._confirmation, server, principal, name, browserDigest(browser))

    def _confirmation(self, server: str, principal: str, name: str, browser: str) -> Question:
        """The blocking part of L{confirmation} (in a thread)."""
        held = self.pending.held(server, principal)
        if held is None:
            raise LinkError(
                f"no sign-in to {server} waits to be confirmed (it was confirmed, or it"
                " expired); call the server again for a new link"
            )
        if not browser or held.browser != browser:
            self.pending.refuse(server, principal)
            self.log.warn(
                "server {server}: a sign-in through principal {principal}'s link was finished"
                " in another browser than the one that confirms it; its tokens are dropped",
                server=server,
                principal=principal,
            )
            raise ForeignBrowser(
                f"The sign-in to {server} was finished in another browser than this one:"
                " someone else signed in through your link, so the gateway does not use it."
                " Call the server again for a new link, and open it in your own browser."
            )
        form = self.links.seal(
            {"k": CONFIRM_FORM, "s": server, "p": principal, "n": name, "b": browser, "at": held.at}
        )
        return Question(
            server, principal, name, _host(held.grant.issuer or held.grant.tokenEndpoint), form
        )

    def confirm(self, server: str, form: str, browser: str) -> Deferred[Finished]:
        """Bind the held sign-in to its principal, once the confirmation
        page's form is posted from the browser that finished it."""
        try:
            data = self._form(form, CONFIRM_FORM, server, browser)
        except LinkError as e:
            return _failed(e)
        bound: Deferred[tuple[Finished, UpstreamGrant]] = self._run(self._bind, data)
        return bound.addCallback(self._done)

    def _bind(self, data: dict[str, Any]) -> tuple[Finished, UpstreamGrant]:
        """The blocking part of L{confirm} (in a thread)."""
        at = data.get("at")
        held = self.pending.take(
            data["s"], data["p"], data["b"], float(at) if isinstance(at, (int, float)) else -1.0
        )
        if held is None:
            raise LinkError(
                f"no sign-in to {data['s']} waits to be confirmed (it was confirmed, or it"
                " expired); call the server again for a new link"
            )
        self._store.put(held.grant)
        return Finished(held.grant.server, str(data.get("n") or ""), True), held.grant

    def _form(self, form: str, kind: str, server: str, browser: str) -> dict[str, Any]:
        """What a page's form posted back, from the browser it was made for.

        @raise LinkError: another kind of form, another server's, another
            browser's, or too old."""
        data = self.links.unseal(form, TICKET_TTL)
        if data.get("k") != kind or data.get("s") != server:
            raise LinkError("the form is not valid; open the link again")
        digest = browserDigest(browser)
        if not digest or data.get("b") != digest:
            raise LinkError(
                "the form was posted from another browser than the one it was shown in;"
                " open the link again"
            )
        if not isinstance(data.get("p"), str) or not (data["p"] or self.links.own):
            raise LinkError("the form is not valid; open the link again")
        return data


def _host(url: str) -> str:
    """The host (and port) of C{url}, as the pages name it."""
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url


def _authServerRecord(server: AuthServer) -> dict[str, Any]:
    """What the later steps need of the authorization server (sealed)."""
    return {
        "issuer": server.issuer,
        "authorize": server.authorizationEndpoint,
        "token": server.tokenEndpoint,
        "register": server.registrationEndpoint,
        "revoke": server.revocationEndpoint,
        "scopes": list(server.scopes),
    }


def _authServerOf(record: Any) -> AuthServer:
    """The authorization server a sealed record describes.

    @raise LinkError: the record is not one."""
    if not isinstance(record, dict):
        raise LinkError("the form is not valid; open the link again")

    def text(name: str) -> str | None:
        value = record.get(name)
        return value if isinstance(value, str) and value else None

    issuer, authorize, token = text("issuer"), text("authorize"), text("token")
    if issuer is None or authorize is None or token is None:
        raise LinkError("the form is not valid; open the link again")
    scopes = record.get("scopes")
    return AuthServer(
        issuer=issuer,
        authorizationEndpoint=authorize,
        tokenEndpoint=token,
        registrationEndpoint=text("register"),
        revocationEndpoint=text("revoke"),
        scopes=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
        metadataDocuments=False,
    )


def _failed(error: Exception) -> Deferred[Any]:
    failed: Deferred[Any] = Deferred()
    failed.errback(error)
    return failed
