"""Authentication end to end: a real twist gateway, a real local
OAuth issuer (tests/fixtures/jwt_issuer.py: RFC 8414 metadata and a JWKS on
loopback), the MCP Python SDK.

OAuth: the SDK with a minted access token is served; without one the 401
points at the protected resource metadata, which names the issuer, whose
metadata names its keys (what a client's discovery follows); expired,
wrong-audience and wrong-scope tokens are refused as RFC 6750 says; a key
rotation at the issuer is accepted without a restart. Static tokens: a
token added to the file works within seconds, a removed one is refused.
Never: the bearer string in the gateway's output, in the child's
environment, or in any message the child received.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcpgateway.auth.tokenfile import parseTokens
from tests.fixtures.jwt_issuer import JwtIssuer
from tests.integration.gateway import REPO, RunningGateway, oauthGateway, waitFor, writeConfig
from tests.support.auth.tokens import addToken
from tests.support.mcpclient import bearer, initializeMessage, request

pytestmark = pytest.mark.integration

INITIALIZE = initializeMessage(1, name="auth-test")


def recordingServer(home: Path) -> tuple[dict[str, Any], Path, Path]:
    """The demo server that writes its environment to a file, behind a
    C{tee} of everything it reads on stdin, both written to a directory
    its sandbox lets it write."""
    records = home / "records"
    records.mkdir(exist_ok=True)
    envFile, messages = records / "child-env.json", records / "child-stdin.jsonl"
    script = REPO / "tests" / "fixtures" / "env_server.py"
    entry = {
        "command": "/bin/sh",
        "args": [
            "-c",
            'tee -a "$1" | exec "$2" "$3" "$4"',
            "sh",
            str(messages),
            sys.executable,
            str(script),
            str(envFile),
        ],
        "sandbox": {"filesystem": {"allowWrite": [f"{records}/"]}},
    }
    return entry, envFile, messages


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    reply = request(url, "GET", timeout=15)
    return reply.status, reply.headers, reply.body


def post(url: str, body: Any, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    reply = request(url, "POST", body, bearer(token), timeout=15)
    return reply.status, reply.headers, reply.body


def echo(url: str, token: str, message: str) -> str:
    async def main() -> str:
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, mode="legacy") as client:
                result = await client.call_tool("echo", {"message": message})
                return result.content[0].text  # type: ignore[union-attr]

    return anyio.run(main)


def _claims(token: str) -> str:
    import base64

    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def nowhere(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text


# -- OAuth -----------------------------------------------------------------------------


@pytest.fixture
def oauth(home: Path) -> Iterator[tuple[RunningGateway, JwtIssuer, str, Path, Path]]:
    server, envFile, messages = recordingServer(home)
    config = writeConfig(home / "servers.json", {"demo": server, "other": server})
    with JwtIssuer() as issuer:
        gateway, resource = oauthGateway(home, config, issuer.url)
        try:
            yield gateway, issuer, resource, envFile, messages
        finally:
            gateway.stop()


def test_oauth_end_to_end(oauth: tuple[RunningGateway, JwtIssuer, str, Path, Path]) -> None:
    gateway, issuer, resource, envFile, messages = oauth
    url = gateway.url("demo")
    # Discovered once at start (RFC 8414), then the keys.
    assert waitFor(lambda: issuer.requests["/jwks.json"] >= 1)
    assert issuer.requests["/.well-known/oauth-authorization-server"] == 1

    # The SDK with an access token for this resource: served.
    token = issuer.mint("alice@example.com", resource, scope="mcp:demo")
    assert echo(url, token, "hello oauth") == "hello oauth"
    es256 = issuer.mint("alice@example.com", resource, alg="ES256")
    assert echo(url, es256, "hello ec") == "hello ec"

    # No token: 401 pointing at the metadata; a client's discovery from there.
    status, headers, body = post(url, INITIALIZE)
    metadataUrl = f"{resource}/.well-known/oauth-protected-resource"
    assert status == 401
    assert headers["WWW-Authenticate"] == f'Bearer resource_metadata="{metadataUrl}"'
    assert json.loads(body)["error"]["code"] == -32600
    status, _, body = get(metadataUrl)
    document = json.loads(body)
    assert status == 200 and document["resource"] == resource
    assert document["authorization_servers"] == [issuer.url]
    assert set(document["scopes_supported"]) == {"mcp:admin", "mcp:demo", "mcp:other"}
    assert document["bearer_methods_supported"] == ["header"]
    status, _, body = get(metadataUrl + "/demo/mcp")
    assert status == 200 and json.loads(body)["resource"] == url
    server = document["authorization_servers"][0]
    status, _, body = get(server + "/.well-known/oauth-authorization-server")
    assert status == 200 and json.loads(body)["jwks_uri"] == issuer.jwksUrl

    # The endpoint's own URL is an accepted audience too.
    assert echo(url, issuer.mint("bob", url), "per endpoint") == "per endpoint"

    # Refusals: expired, another audience, a token in the URL, another server's scope.
    expired = issuer.mint("alice@example.com", resource, expiresIn=-120)
    status, headers, _ = post(url, INITIALIZE, expired)
    assert status == 401
    assert headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="the token has expired",'
        f' resource_metadata="{metadataUrl}"'
    )
    status, headers, _ = post(url, INITIALIZE, issuer.mint("x", "https://elsewhere.example"))
    assert status == 401 and "(aud)" in headers["WWW-Authenticate"]
    status, _, _ = post(url + "?access_token=" + token, INITIALIZE)
    assert status == 400
    status, headers, _ = post(url, INITIALIZE, issuer.mint("x", resource, scope="mcp:other"))
    assert status == 403
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]
    assert 'scope="mcp:demo"' in headers["WWW-Authenticate"]

    # The issuer rotates its keys: the new kid is fetched, no restart.
    fetched = issuer.requests["/jwks.json"]
    oldKey = issuer.key("RS256")
    issuer.rotate()
    rotated = issuer.mint("alice@example.com", resource)
    assert echo(url, rotated, "after rotation") == "after rotation"
    assert issuer.requests["/jwks.json"] == fetched + 1
    # A fresh token from the retired key: its kid is no longer published.
    retired = oldKey.sign({**json.loads(_claims(rotated)), "jti": "fresh"})
    status, headers, _ = post(url, INITIALIZE, retired)
    assert status == 401 and "signing key is unknown" in headers["WWW-Authenticate"]
    assert issuer.requests["/jwks.json"] == fetched + 1  # no second fetch within 30 s

    assert gateway.health()["detail"] == "liveness"  # no token: that it lives, no more
    health = gateway.health(issuer.mint("ops", resource, scope="mcp:admin"))
    assert health["auth"]["mode"] == "oauth" and health["auth"]["jwks"]["keys"] == 2

    # No token anywhere: the gateway's output, the child's environment, its stdin.
    assert waitFor(lambda: envFile.exists() and messages.exists())
    seen = [gateway.text(), envFile.read_text(), messages.read_text()]
    for secret in (token, es256, expired, rotated, retired):
        nowhere(secret, *seen)
    assert "authorization" not in messages.read_text().lower()


# -- static tokens ---------------------------------------------------------------------


def test_tokens_file_reload_end_to_end(home: Path) -> None:
    server, envFile, messages = recordingServer(home)
    config = writeConfig(home / "servers.json", {"demo": server})
    tokens = home / "tokens.json"
    alice = addToken(tokens, "alice")
    gateway = RunningGateway(["--config", str(config), "--auth-tokens", str(tokens)], home)
    try:
        url = gateway.url("demo")
        assert echo(url, alice, "first") == "first"
        status, headers, _ = post(url, INITIALIZE)
        assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="mcpgateway"'
        status, _, _ = get(f"http://127.0.0.1:{gateway.port}/.well-known/oauth-protected-resource")
        assert status == 404

        # A new token: served within the 2 s poll.
        bob = addToken(tokens, "bob")
        assert waitFor(lambda: post(url, INITIALIZE, bob)[0] == 200, timeout=10)

        # An invalid file: the tokens loaded before still work, one error line.
        good = tokens.read_text()
        tokens.write_text('{"version": 1, "tokens": [{"principal": "x"}]}')
        assert waitFor(lambda: "keeping the 2 tokens loaded before" in gateway.text())
        assert post(url, INITIALIZE, alice)[0] == 200

        # Alice's token removed: 401 within the poll.
        document = json.loads(good)
        document["tokens"] = [t for t in document["tokens"] if t["principal"] != "alice"]
        (home / "next.json").write_text(json.dumps(document))
        (home / "next.json").replace(tokens)
        assert len(parseTokens(tokens.read_bytes(), "t")) == 1

        def refused() -> bool:
            try:
                return post(url, INITIALIZE, alice)[0] == 401
            except ConnectionError:  # let in just before the reload, which then ended it
                return False

        assert waitFor(refused, timeout=10)
        assert post(url, INITIALIZE, bob)[0] == 200

        assert gateway.text().count("tokens[0].sha256") == 1
        assert waitFor(lambda: envFile.exists() and messages.exists())
        seen = [gateway.text(), envFile.read_text(), messages.read_text()]
        for secret in (alice, bob):
            nowhere(secret, *seen)
    finally:
        gateway.stop()


# -- an https issuer with a private CA -------------------------------------------------


def test_an_https_issuer_with_a_private_ca(home: Path) -> None:
    server, _, _ = recordingServer(home)
    config = writeConfig(home / "servers.json", {"demo": server})
    with JwtIssuer(tls=True) as issuer:
        assert issuer.caFile is not None and issuer.url.startswith("https://")
        resource = "https://mcp.example.com"
        args = ["--config", str(config), "--oauth-issuer", issuer.url, "--resource-uri", resource]
        trusting = RunningGateway([*args, "--oauth-ca-file", str(issuer.caFile)], home)
        try:
            token = issuer.mint("alice", resource)
            assert echo(trusting.url("demo"), token, "over https") == "over https"
        finally:
            trusting.stop()

        # Without the CA the issuer cannot be trusted: no keys, 503 with Retry-After
        # (not 401: the client's token may be fine).
        (home / "state2").mkdir()
        distrusting = RunningGateway(args, home, env={"MCPGATEWAY_HOME": str(home / "state2")})
        try:
            url = distrusting.url("demo")
            assert waitFor(lambda: "could not fetch the issuer's keys" in distrusting.text())
            status, headers, body = post(url, INITIALIZE, issuer.mint("alice", resource))
            assert status == 503 and headers["Retry-After"] == "5"
            assert "WWW-Authenticate" not in headers
            assert json.loads(body)["error"]["code"] == -32000
        finally:
            distrusting.stop()
