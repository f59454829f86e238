# -*- test-case-name: tests.remote.oauth.test_oauth,tests.remote.oauth.test_oauth_login -*-
"""C{mcpgateway login SERVER}: the browser flow that gives the gateway a
remote server's tokens.

The gateway is an OAuth client of the remote server (the MCP authorization
spec): it asks the server (a 401 names its protected-resource metadata),
finds its authorization server (L{mcpgateway.remote.oauth.discovery}),
registers itself there (RFC 7591 dynamic registration, a public client with a
loopback redirect), and sends the user to the authorization URL with PKCE
(S256), a C{state} and the server's URL as the RFC 8707 C{resource}. The
redirect comes back to a one-shot HTTP listener on 127.0.0.1; the code is
exchanged for tokens, which go to the encrypted store the running gateway
reads (L{mcpgateway.remote.oauth.tokens}). Only a redirect that carries this
login's own C{state} ends the wait: any other request to the listener (a
page of another site, a stale tab) gets a 400 page and the login goes on
waiting.

Discovery checks what the documents say against where they came from
(L{mcpgateway.remote.oauth.discovery}) and where they send the gateway
(L{mcpgateway.remote.oauth.hosts}).

It runs in the CLI, without Twisted: blocking HTTP (C{urllib}) is fine in a
command that waits for a browser anyway. The HTTP calls go through a
L{Fetch} so the tests can answer them.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from mcpgateway.remote.oauth.discovery import (
    AuthServer,
    DiscoveryError,
    Pkce,
    authorizationServers,
    authorizeUrl,
    authServerMetadataUrls,
    challengeParams,
    resourceMetadataUrls,
    tokenRequest,
    tokenResponse,
    withTokens,
)
from mcpgateway.remote.oauth.hosts import HostRule, resolveHost
from mcpgateway.remote.oauth.resources import canonicalResource, resourceCovers
from mcpgateway.remote.oauth.tokens import TokenStore, UpstreamGrant

CLIENT_NAME = "mcpgateway"
LOGIN_TIMEOUT = 300.0
"""Seconds the login waits for the browser to come back."""
_PROBE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": CLIENT_NAME, "version": "login"},
    },
}


class LoginError(Exception):
    """The login cannot go on; the message says why and what to do."""


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Fetch(Protocol):
    def __call__(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpAnswer: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class UrllibFetch:
    """One HTTP request with C{urllib}; any status is an answer, redirects
    are not followed. It reaches the network, so it says how it resolves
    host names (L{resolve}): discovery judges the addresses it will connect
    to (L{mcpgateway.remote.oauth.hosts})."""

    def resolve(self, host: str) -> list[str]:
        """The addresses C{host} resolves to (it blocks, as the fetch does)."""
        return resolveHost(host)

    def __call__(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpAnswer:
        opener = urllib.request.build_opener(_NoRedirect)
        request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
        try:
            with opener.open(request, timeout=30) as response:
                return HttpAnswer(
                    response.status,
                    {k.lower(): v for k, v in response.headers.items()},
                    response.read(),
                )
        except urllib.error.HTTPError as e:
            return HttpAnswer(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise LoginError(f"{url} is not reachable ({reason})") from None


urllibFetch = UrllibFetch()  # noqa: N816 (the name callers know the fetch by)
"""The fetch of a real login."""


def discover(
    url: str, fetch: Fetch, headers: dict[str, str] | None = None
) -> tuple[str, AuthServer, str | None]:
    """The resource to ask tokens for, its authorization server, and the
    scope the server's challenge asked for (if any).

    @raise LoginError: the server asks for no OAuth, or its documents are
        missing, disagree with where they came from, or send the gateway
        where it must not go."""
    rule = HostRule(url, getattr(fetch, "resolve", None))
    try:
        return _discover(url, fetch, rule, headers)
    except DiscoveryError as e:
        raise LoginError(str(e)) from None


def _discover(
    url: str, fetch: Fetch, rule: HostRule, headers: dict[str, str] | None
) -> tuple[str, AuthServer, str | None]:
    probe = fetch(
        "POST",
        url,
        json.dumps(_PROBE).encode(),
        {
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            **(headers or {}),
        },
    )
    if probe.status != 401:
        raise LoginError(
            f"{url} answered HTTP {probe.status} without credentials: it does not ask for OAuth"
            + (" (the entry's headers are enough)" if 200 <= probe.status < 300 else "")
        )
    challenge = challengeParams(probe.headers.get("www-authenticate"))
    metadata: Any = None
    for candidate in resourceMetadataUrls(url, challenge):
        rule.check(candidate, "protected-resource metadata")
        answer = fetch("GET", candidate, None, {"accept": "application/json"})
        if answer.status == 200 and isinstance(answer.json(), dict):
            metadata = answer.json()
            break
    if metadata is None:
        raise LoginError(f"{url} publishes no protected-resource metadata (RFC 9728)")
    resource = metadata.get("resource") if isinstance(metadata.get("resource"), str) else url
    if not resourceCovers(resource, url):
        raise LoginError(
            f"{url}'s protected-resource metadata names another resource ({resource[:200]}):"
            " refused (RFC 9728 section 3.3)"
        )
    issuer = authorizationServers(metadata)[0]
    rule.check(issuer, "authorization server")
    for candidate in authServerMetadataUrls(issuer):
        answer = fetch("GET", candidate, None, {"accept": "application/json"})
        if answer.status == 200 and isinstance(answer.json(), dict):
            server = AuthServer.fromMetadata(answer.json(), issuer)
            for what, endpoint in server.endpoints():
                rule.check(endpoint, what)
            return resource, server, challenge.get("scope")
    raise LoginError(f"the authorization server {issuer} publishes no metadata (RFC 8414)")


def register(server: AuthServer, redirectUri: str, fetch: Fetch) -> tuple[str, str | None]:
    """A client id (and secret, if one is given) by dynamic registration."""
    if server.registrationEndpoint is None:
        raise LoginError(
            f"the authorization server {server.issuer} offers no dynamic client registration;"
            " register a client there and give --client-id (and --client-secret)"
        )
    body = {
        "client_name": CLIENT_NAME,
        "redirect_uris": [redirectUri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    answer = fetch(
        "POST",
        server.registrationEndpoint,
        json.dumps(body).encode(),
        {"content-type": "application/json"},
    )
    data = answer.json()
    if (
        answer.status not in (200, 201)
        or not isinstance(data, dict)
        or not isinstance(data.get("client_id"), str)
    ):
        raise LoginError(
            f"dynamic registration at {server.registrationEndpoint} failed (HTTP {answer.status})"
        )
    secret = data.get("client_secret")
    return data["client_id"], secret if isinstance(secret, str) else None


def callbackAnswer(query: dict[str, str], expected: str) -> tuple[int, str, bool]:
    """What the loopback listener answers a C{/callback} with C{query},
    for the login whose state is C{expected}: the status, the page, and
    whether it ends the login's wait. Only the login's own state ends it;
    the authorization server's words are escaped."""
    given = query.get("state", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return (
            400,
            "<p>This is not the answer the login waits for (its state is not the login's);"
            " the login goes on waiting.</p>",
            False,
        )
    if "code" in query:
        return (
            200,
            "<p>mcpgateway has the server's authorization. You can close this window.</p>",
            True,
        )
    why = query.get("error", "no code")
    if "error_description" in query:
        why += f" ({query['error_description']})"
    return 200, f"<p>The authorization failed: {escape(why[:500])}.</p>", True


class _Callback(BaseHTTPRequestHandler):
    """The loopback redirect: takes the one C{/callback?code=...&state=...}
    with the login's C{expected} state (L{callbackAnswer})."""

    result: dict[str, str] = {}
    done = threading.Event()
    expected = ""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/callback":
            self.send_error(404)
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        status, page, ends = callbackAnswer(query, type(self).expected)
        body = f"<!doctype html><meta charset=utf-8><title>mcpgateway</title>{page}".encode()
        self.send_response(status)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-security-policy", "default-src 'none'")
        self.send_header("cache-control", "no-store")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if ends:
            type(self).result = query
            type(self).done.set()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the CLI says what happened."""


def login(
    server: str,
    url: str,
    stateDir: Path,
    *,
    say: Callable[[str], None],
    openBrowser: Callable[[str], Any] | None,
    fetch: Fetch = urllibFetch,
    scope: str | None = None,
    clientId: str | None = None,
    clientSecret: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = LOGIN_TIMEOUT,
    now: Callable[[], float] = time.time,
) -> UpstreamGrant:
    """Run the flow for C{server} at C{url} and keep its tokens; the grant."""
    resource, authServer, asked = discover(url, fetch, headers)
    pkce = Pkce.make()

    class handler(_Callback):  # noqa: N801 (this login's own answers)
        result: dict[str, str] = {}
        done = threading.Event()
        expected = pkce.state

    listener = HTTPServer(("127.0.0.1", 0), handler)
    port = listener.server_address[1]
    redirectUri = f"http://127.0.0.1:{port}/callback"
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    try:
        if clientId is None:
            clientId, clientSecret = register(authServer, redirectUri, fetch)
        wanted = scope or asked or (" ".join(authServer.scopes) if authServer.scopes else None)
        where = authorizeUrl(authServer, clientId, redirectUri, pkce, resource, wanted)
        say(f"Open this URL to let mcpgateway use {server} ({url}):\n\n  {where}\n")
        if openBrowser is not None:
            openBrowser(where)
        if not handler.done.wait(timeout):
            raise LoginError(
                f"no answer from the browser within {timeout:g} s; run the login again"
            )
        result = handler.result
    finally:
        listener.shutdown()
        listener.server_close()
    if "code" not in result:
        raise LoginError(
            f"the authorization server refused: {result.get('error', 'no code')}"
            + (f" ({result['error_description']})" if "error_description" in result else "")
        )
    grant = UpstreamGrant(
        server=server,
        resource=resource,
        tokenEndpoint=authServer.tokenEndpoint,
        clientId=clientId,
        clientSecret=clientSecret,
        issuer=authServer.issuer,
        revocationEndpoint=authServer.revocationEndpoint,
        serverUrl=canonicalResource(url),
    )
    body, tokenHeaders = tokenRequest(
        grant,
        {
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": redirectUri,
            "code_verifier": pkce.verifier,
        },
    )
    answer = fetch("POST", authServer.tokenEndpoint, body, tokenHeaders)
    try:
        data = tokenResponse(answer.json())
    except DiscoveryError as e:
        raise LoginError(f"{e} (HTTP {answer.status})") from None
    withTokens(grant, data, now())
    TokenStore(stateDir).put(grant)
    return grant


def logout(server: str, stateDir: Path, fetch: Fetch = urllibFetch) -> int:
    """Forget C{server}'s tokens, revoking the refresh token (then the access
    token) where the authorization server offers revocation; how many grants
    were forgotten. A revocation that fails is not an error: the tokens are
    gone from the gateway either way."""
    store = TokenStore(stateDir)
    for grant in store.all():
        if grant.server != server or grant.revocationEndpoint is None:
            continue
        for token, hint in (
            (grant.refreshToken, "refresh_token"),
            (grant.accessToken, "access_token"),
        ):
            if not token:
                continue
            body, headers = tokenRequest(grant, {"token": token, "token_type_hint": hint})
            with contextlib.suppress(LoginError):
                fetch("POST", grant.revocationEndpoint, body, headers)
    return store.remove(server)
