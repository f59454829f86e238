"""RFC 8693 token exchange end to end: a gateway that accepts an OAuth
issuer's access tokens (tests/fixtures/jwt_issuer.py, which also trades
its tokens at C{/token}) serves a remote MCP server that accepts only that
issuer's tokens issued for itself (tests/fixtures/jwt_remote.py), with
C{"auth": "exchange"}. Each principal's call reaches the server with a
token for the server, of that principal, obtained by the gateway (C{act});
the principal's own token never reaches the server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.fixtures.jwt_issuer import JwtIssuer
from tests.integration.gateway import (
    REPO,
    RunningGateway,
    errorText,
    freePort,
    listening,
    oauthGateway,
    waitFor,
    writeConfig,
)

pytestmark = pytest.mark.integration

FIXTURE = REPO / "tests" / "fixtures" / "jwt_remote.py"


def whoami(url: str, token: str) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            create_mcp_http_client(headers=headers) as http,
            Client(streamable_http_client(url, http_client=http), mode="legacy") as c,
        ):
            result = await c.call_tool("whoami", {})
            text = "".join(getattr(item, "text", "") for item in result.content)
            return json.loads(text)  # type: ignore[no-any-return]

    return anyio.run(main)


@pytest.fixture
def trading(home: Path) -> Iterator[tuple[RunningGateway, JwtIssuer, str, str]]:
    with JwtIssuer() as issuer:
        issuer.exchangeClients["mcpgateway"] = "gw-secret"
        remotePort = freePort()
        remote = subprocess.Popen(
            [sys.executable, str(FIXTURE), "--port", str(remotePort), "--issuer", issuer.url],
            stdout=subprocess.DEVNULL,
        )
        try:
            assert waitFor(lambda: listening(remotePort), timeout=30)
            upstream = f"http://127.0.0.1:{remotePort}/mcp"
            config = writeConfig(
                home / "gateway.json",
                {
                    "api": {
                        "type": "http",
                        "url": upstream,
                        "auth": "exchange",
                        "exchange": {"clientId": "mcpgateway", "clientSecret": "gw-secret"},
                    }
                },
            )
            gateway, resource = oauthGateway(home, config, issuer.url)
            try:
                yield gateway, issuer, resource, upstream
            finally:
                gateway.stop()
        finally:
            remote.terminate()
            remote.wait(10)


def test_each_principal_reaches_the_server_with_a_token_exchanged_for_it(
    trading: tuple[RunningGateway, JwtIssuer, str, str],
) -> None:
    """Alice's and bob's calls carry tokens of theirs, for the server, obtained by the gateway."""
    gateway, issuer, resource, upstream = trading
    url = gateway.url("api")
    alice = issuer.mint("alice", resource, scope="mcp:api")
    bob = issuer.mint("bob", resource, scope="mcp:api")
    assert whoami(url, alice) == {"sub": "alice", "aud": upstream, "act": {"sub": "mcpgateway"}}
    assert whoami(url, bob) == {"sub": "bob", "aud": upstream, "act": {"sub": "mcpgateway"}}
    subjects = [form["subject_token"] for form in issuer.exchanges]
    assert alice in subjects and bob in subjects
    assert {form["resource"] for form in issuer.exchanges} == {upstream}
    # One exchange per principal's token, however many sessions use it.
    before = len(issuer.exchanges)
    assert whoami(url, alice)["sub"] == "alice"
    assert len(issuer.exchanges) == before


def test_a_refused_exchange_is_an_error_naming_the_issuers_answer(
    trading: tuple[RunningGateway, JwtIssuer, str, str],
) -> None:
    """A gateway whose client the issuer does not know gets a clear error, not a hang."""
    gateway, issuer, resource, _ = trading
    issuer.exchangeClients.clear()
    with pytest.raises(BaseException) as refused:
        whoami(gateway.url("api"), issuer.mint("carol", resource, scope="mcp:api"))
    assert "invalid_client" in errorText(refused.value)
