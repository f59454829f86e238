# -*- test-case-name: tests.web.pages.test_consolesignin -*-
"""C{GET /status/signin/<server>}: the status page's "Sign in" button of a
remote server that waits for an OAuth sign-in.

It answers C{303} to a sign-in link of the gateway's own login pages
(L{mcpgateway.web.pages.upstreamlogin}), which take the browser through the
remote server's authorization server and back; their first page asks for a
confirmation before anything happens, so a GET that only redirects there
changes nothing. It sits behind the status page's own door
(L{mcpgateway.web.root.GatewayRoot}): an admin principal on an authenticated
gateway, the loopback C{Origin} and C{Host} rules on every gateway.

 - On an authenticated gateway the link is the page's principal's (the one
   the request authenticated as), made as a call that needs its token gets
   one (L{mcpgateway.remote.oauth.credentials.UpstreamCredentials.loginLink}):
   the sign-in gives that principal its own token for the server.
 - On a gateway without authentication (loopback only) the link is for the
   gateway's own login, the one C{mcpgateway login NAME} gives: the same
   pages, made on the button's first use for the single local user
   (L{mcpgateway.remote.oauth.links.LoginLinks.own}), with the gateway's own
   C{/oauth/callback} on its loopback address as the redirect URI (OAuth for
   native apps, RFC 8252, has authorization servers accept a loopback
   redirect URI, as they do the CLI's). The tokens are kept at once: only
   a browser on this machine can follow a loopback link. Calls that need
   the login still name the command: only the page's button uses the pages.

Each sign-in started is logged, and written to the audit log when the
gateway keeps one (method C{oauth/sign-in}).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Request

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.ops.audit import AuditRecord
from mcpgateway.remote.oauth.credentials import UpstreamCredentials
from mcpgateway.remote.oauth.links import LoginLinks
from mcpgateway.runtime import logs
from mcpgateway.runtime.addresses import isLoopbackHost
from mcpgateway.runtime.threads import RunInThread
from mcpgateway.web.pages.statusneeds import SIGNIN_PATH
from mcpgateway.web.plumbing.requestcontext import contextOf
from mcpgateway.web.teamcluster import TeamServices

if TYPE_CHECKING:
    from mcpgateway.remote.oauth.login import Fetch

OWN_NAME = "the local user"
"""How the sign-in page names the one user of a gateway without authentication."""

_log = Logger(observer=logs.observer, namespace="mcpgateway.web")


def threadsOf(clock: IReactorTime) -> RunInThread:
    """C{deferToThreadPool} on C{clock}'s own thread pool (the reactor the
    site runs on), looked up when first used."""
    from twisted.internet.threads import deferToThreadPool

    def runInThread(f: Any, *args: Any, **kwargs: Any) -> Any:
        reactor: Any = clock
        return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args, **kwargs)

    return runInThread


def loginEndpoint(gateway: Gateway, server: str, perPrincipal: bool) -> RemoteEndpoint | None:
    """The endpoint of remote server C{server} when a sign-in gives it the
    token it calls with (C{None}: no such server, or one whose own headers,
    client credentials or token exchange authorize it); C{perPrincipal}:
    only one whose token is each principal's own."""
    pool = gateway.pools.get(server)
    remote = None if pool is None else pool.spec.remote
    if remote is None or remote.ownAuthorization or remote.clientCredentials is not None:
        return None
    if perPrincipal:
        return remote if remote.tokenPerPrincipal else None
    return remote if remote.auth in ("user", "shared") else None


class ConsoleSignIn(Resource):
    """Serves C{GET /status/signin/<server>} (see the module's docstring).

    @param runInThread: runs the login's blocking HTTP exchanges (the
        reactor's thread pool; C{None}: L{threadsOf} the clock).
    @param fetch: makes them (C{None}: C{urllib}, as C{mcpgateway login}).
    """

    isLeaf = True

    def __init__(
        self,
        gateway: Gateway,
        clock: IReactorTime,
        team: TeamServices,
        runInThread: RunInThread | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        super().__init__()
        self._gateway = gateway
        self._clock = clock
        self._team = team
        self.runInThread = runInThread
        self.fetch = fetch
        self._own: LoginLinks | None = None

    def credentials(self) -> UpstreamCredentials | None:
        """The running gateway's upstream credentials (C{None}: it has no
        state directory to keep tokens in, or no remote servers)."""
        remotes = getattr(self._gateway.spawner, "remotes", None)
        # The remote servers' connector, or the one that makes it on first use.
        credentials = getattr(remotes, "credentials", None)
        return None if credentials is None else cast("UpstreamCredentials | None", credentials())

    def render(self, request: Request) -> bytes:
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"referrer-policy", b"no-referrer")
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            return _page(request, 405, "Only GET is allowed here.")
        path = request.path
        rest = path[len(SIGNIN_PATH) :] if path.startswith(SIGNIN_PATH) else b""
        if not rest or b"/" in rest:
            return _page(request, 404, "No such page.")
        server = unquote(rest.decode("utf-8", "replace"))
        credentials = self.credentials()
        team = self._team.gate is not None
        command = f"mcpgateway login {server[:64]}"
        if credentials is None or loginEndpoint(self._gateway, server, perPrincipal=False) is None:
            return _page(
                request,
                404,
                f"No remote server named {server[:64]!r} signs in with OAuth here"
                " (GET /health lists the servers).",
            )
        principal = contextOf(request).principal
        key = str(getattr(principal, "key", "") or "") if team else ""
        if team:
            if loginEndpoint(self._gateway, server, perPrincipal=True) is None:
                return _page(
                    request,
                    409,
                    f"The login of {server[:64]} is the gateway's own, shared by every"
                    f" principal: run `{command}` on the gateway's machine.",
                )
            link = credentials.loginLink(server, key) if key else None
            if link is None:
                return _page(
                    request, 404, f"This gateway serves no sign-in pages: run `{command}`."
                )
        elif not _onLoopback(request):
            return _page(
                request,
                403,
                "A gateway without authentication signs in from the status page on its own"
                f" machine only (a loopback address): run `{command}` there.",
            )
        else:
            link = self._ownLinks(request, credentials).link(server, "", OWN_NAME)
        self._audited(request, server, key, getattr(principal, "via", None))
        request.setResponseCode(303)
        request.setHeader(b"location", link.encode("utf-8"))
        return b""

    def _ownLinks(self, request: Request, credentials: UpstreamCredentials) -> LoginLinks:
        """The links of the gateway's own login, and its login pages at
        C{/oauth} (made on first use, on the loopback address the request
        came to: the redirect URI is that address's C{/oauth/callback})."""
        if self._own is not None:
            return self._own
        from mcpgateway.remote.oauth.login import urllibFetch
        from mcpgateway.remote.oauth.weblogin import WebLogin
        from mcpgateway.web.pages.upstreamlogin import UpstreamLoginPages

        base = _baseOf(request)
        store = credentials.store
        links = LoginLinks(store.cipher, lambda: base, own=True)
        gateway = self._gateway
        login = WebLogin(
            store,
            links,
            lambda server: loginEndpoint(gateway, server, perPrincipal=False),
            self.runInThread if self.runInThread is not None else threadsOf(self._clock),
            urllibFetch if self.fetch is None else self.fetch,
            onGrant=lambda _: credentials.look(),
            singleUser=lambda: True,
        )
        if self._team.upstreamLogin is None:
            self._team.upstreamLogin = UpstreamLoginPages(login)
        self._own = links
        return links

    def _audited(self, request: Request, server: str, principal: str, via: Any) -> None:
        """Log the sign-in started (and write it to the audit log, if any)."""
        peer = getattr(request.getClientAddress(), "host", None)
        _log.info(
            "status page: a sign-in to server {server} started",
            server=logs.clientText(server),
            principal=principal,
            peer=peer,
        )
        audit = self._team.audit
        if audit is None:
            return
        now = self._clock.seconds()
        try:
            audit.record(
                AuditRecord(
                    ts=now,
                    principal=principal,
                    session=None,
                    server=server,
                    route="global",
                    method="oauth/sign-in",
                    tool=None,
                    outcome="ok",
                    code=None,
                    status=303,
                    durationMs=0.0,
                    via=via if isinstance(via, str) else None,
                    peer=peer,
                )
            )
        except Exception:
            _log.failure("writing an audit record failed")


def _page(request: Request, status: int, text: str) -> bytes:
    """A refusal, as a page: the button is a link a browser follows."""
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"content-security-policy", b"default-src 'none'")
    request.setHeader(b"x-content-type-options", b"nosniff")
    return (
        "<!doctype html><meta charset=utf-8><title>mcpgateway</title>"
        f'<p>{html.escape(text)}</p><p><a href="/">Back to the status page</a></p>'
    ).encode()


def _onLoopback(request: Request) -> bool:
    """Whether C{request} came from this machine to a loopback address."""
    here = str(getattr(request.getHost(), "host", ""))
    there = str(getattr(request.getClientAddress(), "host", ""))
    return isLoopbackHost(here) and isLoopbackHost(there)


def _baseOf(request: Request) -> str:
    """The gateway's URL at the address C{request} came to."""
    host: Any = request.getHost()
    address = str(getattr(host, "host", "127.0.0.1"))
    port = int(getattr(host, "port", 0))
    name = f"[{address}]" if ":" in address else address
    return f"{'https' if request.isSecure() else 'http'}://{name}:{port}"
