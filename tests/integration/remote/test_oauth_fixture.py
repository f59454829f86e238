"""The OAuth fixture (tests/fixtures/oauth_server.py) as a real process: the
401 with C{resource_metadata}, the whole authorization code flow done by hand
with urllib (metadata discovery, dynamic registration, PKCE, the token
endpoint, MCP calls with the bearer token, refresh with and without rotation,
revocation), expiry, resource checking, and the SDK's own OAuth client."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.integration.gateway import freePort
from tests.support.integration.oauth_fixture import OAuthServer
from tests.support.integration.oauth_fixture import oauth as oauth  # the fixture
from tests.support.mcpclient import Session, bearer

pytestmark = pytest.mark.integration

ACCEPT = "application/json, text/event-stream"


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Leaves a 3xx as the answer (urllib raises it as an HTTPError)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def request(
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-cased names) and body; a 3xx is not followed."""
    opener = urllib.request.build_opener(NoRedirects)
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with opener.open(req, timeout=10) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def getJSON(url: str) -> Any:
    status, _, body = request(url)
    assert status == 200, body
    return json.loads(body)


def postForm(url: str, fields: dict[str, str]) -> tuple[int, Any]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = request(url, urlencode(fields).encode(), headers)
    return status, json.loads(body) if body else None


def register(server: OAuthServer, redirect: str) -> dict[str, Any]:
    """A client registered by RFC 7591 dynamic registration."""
    metadata = getJSON(f"{server.base}/.well-known/oauth-authorization-server")
    body = json.dumps({"redirect_uris": [redirect], "client_name": "test"}).encode()
    status, _, answer = request(
        metadata["registration_endpoint"], body, {"Content-Type": "application/json"}
    )
    assert status == 201, answer
    client: dict[str, Any] = json.loads(answer)
    return client


def authorize(
    server: OAuthServer, client: dict[str, Any], redirect: str, resource: str | None
) -> tuple[str, str]:
    """An authorization code and its PKCE verifier, from the authorize URL's 302."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": redirect,
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
        "state": state,
    }
    if resource is not None:
        params["resource"] = resource
    status, headers, body = request(f"{server.base}/authorize?{urlencode(params)}")
    assert status == 302, body
    location = urlparse(headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0], verifier


def tokenRequest(server: OAuthServer, client: dict[str, Any], **fields: str) -> tuple[int, Any]:
    return postForm(
        f"{server.base}/token",
        {"client_id": client["client_id"], "client_secret": client["client_secret"], **fields},
    )


def login(server: OAuthServer, resource: str | None = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """A registered client and the token answer of a completed code flow."""
    redirect = f"http://127.0.0.1:{freePort()}/callback"
    client = register(server, redirect)
    code, verifier = authorize(
        server, client, redirect, f"{server.base}/mcp" if resource == "" else resource
    )
    status, tokens = tokenRequest(
        server,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect,
        code_verifier=verifier,
    )
    assert status == 200, tokens
    return client, tokens


def bearerStatus(server: OAuthServer, token: str) -> int:
    """The status of a POST to /mcp with C{token}: 401 unless the token is good."""
    headers = {
        "Content-Type": "application/json",
        "Accept": ACCEPT,
        "Authorization": f"Bearer {token}",
    }
    return request(f"{server.base}/mcp", b"{}", headers)[0]


class MCPSession:
    """Raw Streamable HTTP with a bearer token: initialize, then tools/call."""

    def __init__(self, server: OAuthServer, token: str) -> None:
        url = f"{server.base}/mcp"
        self.session = Session(url, "2025-06-18", bearer(token), timeout=10, name="urllib")
        self.session.open()

    @property
    def token(self) -> str:
        return self.session.headers["authorization"].removeprefix("Bearer ")

    @token.setter
    def token(self, token: str) -> None:
        """Go on in the same session with another token."""
        self.session.headers.update(bearer(token))

    def call(self, tool: str, **arguments: str) -> tuple[int, Any]:
        """The status and, on 200, the tool's text."""
        reply = self.session.send("tools/call", {"name": tool, "arguments": arguments})
        if reply.status != 200:
            return reply.status, reply.headers.get("www-authenticate")
        return 200, "".join(item.get("text", "") for item in reply.answer["result"]["content"])


def test_an_unauthenticated_request_gets_401_naming_the_resource_metadata(
    oauth: Callable[..., OAuthServer],
) -> None:
    server = oauth()
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    headers = {"Content-Type": "application/json", "Accept": ACCEPT}
    status, answer, _ = request(f"{server.base}/mcp", json.dumps(initialize).encode(), headers)
    assert status == 401
    challenge = answer["www-authenticate"]
    assert challenge.startswith("Bearer ")
    metadata = f"{server.base}/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{metadata}"' in challenge


def test_the_whole_flow_by_hand_with_rotating_refresh_tokens(
    oauth: Callable[..., OAuthServer],
) -> None:
    server = oauth("--rotate-refresh")
    resource = getJSON(f"{server.base}/.well-known/oauth-protected-resource/mcp")
    assert resource["resource"] == f"{server.base}/mcp"
    assert resource["authorization_servers"] == [server.base]
    issuer = resource["authorization_servers"][0]
    metadata = getJSON(f"{issuer}/.well-known/oauth-authorization-server")
    assert metadata["issuer"] == issuer
    assert metadata["authorization_endpoint"] == f"{issuer}/authorize"
    assert metadata["token_endpoint"] == f"{issuer}/token"
    assert metadata["registration_endpoint"] == f"{issuer}/register"
    assert metadata["revocation_endpoint"] == f"{issuer}/revoke"
    assert metadata["code_challenge_methods_supported"] == ["S256"]

    client, tokens = login(server)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    mcp = MCPSession(server, tokens["access_token"])
    assert mcp.call("echo", message="hi") == (200, "Echo: hi")
    status, who = mcp.call("whoami")
    assert status == 200
    assert json.loads(who) == {
        "client_id": client["client_id"],
        "scopes": ["mcp"],
        "resource": f"{server.base}/mcp",
    }

    old = tokens["refresh_token"]
    status, fresh = tokenRequest(server, client, grant_type="refresh_token", refresh_token=old)
    assert status == 200, fresh
    assert fresh["refresh_token"] != old
    assert fresh["access_token"] != tokens["access_token"]
    status, refused = tokenRequest(server, client, grant_type="refresh_token", refresh_token=old)
    assert (status, refused["error"]) == (400, "invalid_grant")
    mcp.token = fresh["access_token"]
    assert mcp.call("echo", message="again") == (200, "Echo: again")

    stats = getJSON(f"{server.base}/admin/stats")
    assert stats["registrations"] == 1 and stats["authorizations"] == 1
    assert stats["token_requests"] == {"authorization_code": 1, "refresh_token": 2}
    assert stats["refresh_rotations"] == 1
    assert stats["authorize_resources"] == [f"{server.base}/mcp"]

    status, _, _ = request(f"{server.base}/admin/revoke-all", b"", method="POST")
    assert status == 200
    status, challenge = mcp.call("echo", message="revoked")
    assert status == 401 and "resource_metadata=" in challenge
    status, refused = tokenRequest(
        server, client, grant_type="refresh_token", refresh_token=fresh["refresh_token"]
    )
    assert (status, refused["error"]) == (400, "invalid_grant")
    assert getJSON(f"{server.base}/admin/stats")["revoke_all"] == 1


LoggedIn = tuple[OAuthServer, dict[str, Any], dict[str, Any]]


@pytest.fixture
def loggedIn(oauth: Callable[..., OAuthServer]) -> LoggedIn:
    """A fixture server with its default settings (no refresh token
    rotation), a client registered with it and the tokens of its completed
    code flow (L{login}): (server, client, tokens)."""
    server = oauth()
    client, tokens = login(server)
    return server, client, tokens


def test_without_rotation_a_refresh_token_keeps_working(loggedIn: LoggedIn) -> None:
    server, client, tokens = loggedIn
    for _ in range(2):
        status, fresh = tokenRequest(
            server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
        assert status == 200, fresh
        assert fresh["refresh_token"] == tokens["refresh_token"]
    assert getJSON(f"{server.base}/admin/stats")["refresh_rotations"] == 0


def test_revoking_an_access_token_revokes_its_refresh_token(loggedIn: LoggedIn) -> None:
    server, client, tokens = loggedIn
    status, _ = postForm(
        f"{server.base}/revoke",
        {
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "token": tokens["access_token"],
        },
    )
    assert status == 200
    assert bearerStatus(server, tokens["access_token"]) == 401
    status, refused = tokenRequest(
        server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert (status, refused["error"]) == (400, "invalid_grant")
    assert getJSON(f"{server.base}/admin/stats")["revocations"] == 1


def test_an_access_token_expires_after_its_ttl(oauth: Callable[..., OAuthServer]) -> None:
    # long enough for the session to open on a loaded machine before it expires
    server = oauth("--access-ttl", "4")
    _, tokens = login(server)
    issued = time.monotonic()
    assert tokens["expires_in"] == 4
    mcp = MCPSession(server, tokens["access_token"])
    time.sleep(max(0.0, issued + 5.1 - time.monotonic()))
    status, challenge = mcp.call("echo", message="late")
    assert status == 401 and "resource_metadata=" in challenge


def test_validate_resource_refuses_a_token_for_another_resource(
    oauth: Callable[..., OAuthServer],
) -> None:
    server = oauth("--validate-resource")
    _, good = login(server)
    assert MCPSession(server, good["access_token"]).call("echo", message="x") == (200, "Echo: x")
    for resource in (None, "http://elsewhere.example/mcp"):
        _, tokens = login(server, resource)
        assert bearerStatus(server, tokens["access_token"]) == 401


class MemoryStorage:
    """Token storage for the SDK's OAuth client."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def test_the_sdks_oauth_client_completes_the_flow(oauth: Callable[..., OAuthServer]) -> None:
    server = oauth()
    redirect = f"http://127.0.0.1:{freePort()}/callback"
    location: list[str] = []

    async def redirected(url: str) -> None:
        status, headers, body = await anyio.to_thread.run_sync(request, url)
        assert status == 302, body
        location.append(headers["location"])

    async def callback() -> AuthorizationCodeResult:
        query = parse_qs(urlparse(location[-1]).query)
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0])

    storage = MemoryStorage()
    provider = OAuthClientProvider(
        f"{server.base}/mcp",
        OAuthClientMetadata.model_validate({"redirect_uris": [redirect], "client_name": "sdk"}),
        storage,
        redirect_handler=redirected,
        callback_handler=callback,
    )

    async def main() -> tuple[str, str]:
        async with httpx2.AsyncClient(auth=provider) as http:
            transport = streamable_http_client(f"{server.base}/mcp", http_client=http)
            async with Client(transport, mode="legacy") as c:
                echo = await c.call_tool("echo", {"message": "sdk"})
                who = await c.call_tool("whoami", {})
                return (
                    "".join(getattr(i, "text", "") for i in echo.content),
                    "".join(getattr(i, "text", "") for i in who.content),
                )

    echoed, who = anyio.run(main)
    assert echoed == "Echo: sdk"
    assert storage.client is not None
    assert json.loads(who) == {
        "client_id": storage.client.client_id,
        "scopes": ["mcp"],
        "resource": f"{server.base}/mcp",
    }
    stats = getJSON(f"{server.base}/admin/stats")
    assert stats["registrations"] == 1 and stats["authorizations"] == 1
    assert stats["token_resources"] == [f"{server.base}/mcp"]
