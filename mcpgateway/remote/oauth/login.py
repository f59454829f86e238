# -*- test-case-name: tests.remote.test_oauth -*-
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
reads (L{mcpgateway.remote.oauth.tokens}).

It runs in the CLI, without Twisted: blocking HTTP (C{urllib}) is fine in a
command that waits for a browser anyway. The HTTP calls go through a
L{Fetch} so the tests can answer them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
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
class Answer:
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
    ) -> Answer: ...


def urllibFetch(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    """One HTTP request with C{urllib}; any status is an answer, redirects are not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with opener.open(request, timeout=30) as response:
            return Answer(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as e:
        return Answer(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise LoginError(f"{url} is not reachable ({reason})") from None


def discover(
    url: str, fetch: Fetch, headers: dict[str, str] | None = None
) -> tuple[str, AuthServer, str | None]:
    """The resource to ask tokens for, its authorization server, and the
    scope the server's challenge asked for (if any)."""
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
        answer = fetch("GET", candidate, None, {"accept": "application/json"})
        if answer.status == 200 and isinstance(answer.json(), dict):
            metadata = answer.json()
            break
    if metadata is None:
        raise LoginError(f"{url} publishes no protected-resource metadata (RFC 9728)")
    resource = metadata.get("resource") if isinstance(metadata.get("resource"), str) else url
    if urlsplit(resource).netloc != urlsplit(url).netloc:
        raise LoginError(f"{url}'s metadata names another server's resource ({resource})")
    try:
        issuer = authorizationServers(metadata)[0]
    except DiscoveryError as e:
        raise LoginError(str(e)) from None
    for candidate in authServerMetadataUrls(issuer):
        answer = fetch("GET", candidate, None, {"accept": "application/json"})
        if answer.status == 200 and isinstance(answer.json(), dict):
            try:
                return resource, AuthServer.fromMetadata(answer.json()), challenge.get("scope")
            except DiscoveryError as e:
                raise LoginError(str(e)) from None
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


class _Callback(BaseHTTPRequestHandler):
    """The loopback redirect: takes one C{/callback?code=...&state=...}."""

    result: dict[str, str] = {}
    done = threading.Event()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/callback":
            self.send_error(404)
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        type(self).result = query
        ok = "code" in query
        page = (
            "<p>mcpgateway has the server's authorization. You can close this window.</p>"
            if ok
            else f"<p>The authorization failed: {query.get('error', 'no code')}.</p>"
        )
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(page.encode())
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

    class handler(_Callback):  # noqa: N801 (this login's own answers)
        result: dict[str, str] = {}
        done = threading.Event()

    listener = HTTPServer(("127.0.0.1", 0), handler)
    port = listener.server_address[1]
    redirectUri = f"http://127.0.0.1:{port}/callback"
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    try:
        if clientId is None:
            clientId, clientSecret = register(authServer, redirectUri, fetch)
        pkce = Pkce.make()
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
    if result.get("state") != pkce.state:
        raise LoginError("the authorization came back with another state; run the login again")
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
