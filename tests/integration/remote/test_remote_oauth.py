"""A remote server behind OAuth, through a real gateway: C{mcpgateway login}
runs the flow against a real authorization server (the MCP SDK's own, in
tests/fixtures/oauth_server.py: discovery, dynamic registration, PKCE,
refresh rotation, revocation), the browser's part played by following the
printed URL; the gateway then calls the server with its own token, refreshes
it when it expires, and names the login command when it is revoked. The
login's loopback callback takes only the redirect with its own state."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, errorText, waitFor, writeConfig
from tests.support.integration.oauth_fixture import OAuthServer
from tests.support.integration.oauth_fixture import oauth as oauth  # the fixture
from tests.support.integration.remote_oauth import cli, login, textOf

pytestmark = pytest.mark.integration


@pytest.fixture
def guarded(
    start: Any,
    home: Path,
    oauth: Callable[..., OAuthServer],
) -> tuple[RunningGateway, OAuthServer]:
    server = oauth("--rotate-refresh", "--access-ttl", "3")
    config = writeConfig(
        home / "gateway.json", {"guarded": {"type": "http", "url": f"{server.base}/mcp"}}
    )
    gateway: RunningGateway = start("--config", str(config))
    assert waitFor(lambda: (home / "state" / "state.json").exists(), timeout=10)
    return gateway, server


def call(gateway: RunningGateway, tool: str, arguments: dict[str, Any]) -> str:
    async def main() -> str:
        async with Client(gateway.url("guarded"), mode="legacy") as c:
            return textOf(await c.call_tool(tool, arguments))

    return anyio.run(main)


def stats(server: OAuthServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.base}/admin/stats", timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_login_then_calls_carry_the_gateways_token_and_survive_its_expiry(
    guarded: tuple[RunningGateway, OAuthServer], home: Path
) -> None:
    gateway, server = guarded
    with pytest.raises(BaseException) as refused:
        call(gateway, "echo", {"message": "before login"})
    assert "mcpgateway login guarded" in errorText(refused.value)

    done = login(home, "guarded")
    assert done.returncode == 0, done.stderr
    assert "logged in to guarded" in done.stdout
    sealed = (home / "state" / "upstream-tokens").read_bytes()
    assert sealed.startswith(b"gAAAAA")  # a Fernet token: the grant is not in the clear
    assert b"refresh" not in sealed and b"client" not in sealed

    assert call(gateway, "echo", {"message": "after login"}) == "Echo: after login"
    who = json.loads(call(gateway, "whoami", {}))
    assert who["resource"] == f"{server.base}/mcp"  # RFC 8707: the token is for this server
    counts = stats(server)
    assert counts["registrations"] == 1 and counts["authorizations"] == 1

    # The access token lives 3 s: the next call after that refreshes it (rotating).
    assert waitFor(lambda: False, timeout=3.5) is False
    assert call(gateway, "echo", {"message": "after expiry"}) == "Echo: after expiry"
    assert stats(server)["refresh_rotations"] >= 1


def test_a_revoked_grant_names_the_login_command_and_logout_forgets_it(
    guarded: tuple[RunningGateway, OAuthServer], home: Path
) -> None:
    gateway, server = guarded
    assert login(home, "guarded").returncode == 0
    assert call(gateway, "echo", {"message": "ok"}) == "Echo: ok"
    urllib.request.urlopen(
        urllib.request.Request(f"{server.base}/admin/revoke-all", method="POST"), timeout=5
    ).read()
    with pytest.raises(BaseException) as refused:
        call(gateway, "echo", {"message": "revoked"})
    assert "mcpgateway login guarded" in errorText(refused.value)
    out = subprocess.run(cli(home, "logout", "guarded"), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "held" in out.stdout or "logged out" in out.stdout


def test_the_logins_callback_takes_only_its_own_state_and_escapes_what_it_shows(
    guarded: tuple[RunningGateway, OAuthServer], home: Path
) -> None:
    """Before the browser comes back, a page of another site sends requests
    to the login's loopback callback: one without the login's state (with
    markup in its error) gets a 400 page that shows none of it, and the
    login goes on waiting; the real redirect then ends it."""
    gateway, _ = guarded
    process = subprocess.Popen(
        cli(home, "login", "guarded", "--no-browser", "--timeout", "30"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )
    assert process.stderr is not None
    where = ""
    for line in process.stderr:
        found = re.search(r"(https?://\S+/authorize\?\S+)", line)
        if found:
            where = found.group(1)
            break
    assert where, "no authorization URL"
    query = parse_qs(urlsplit(where).query)
    callback = query["redirect_uri"][0]
    hostile = urlencode({"error": "<script>alert(1)</script>", "state": "not-the-logins"})
    for attempt in (f"{callback}?{hostile}", f"{callback}?code=stolen"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(attempt, timeout=10)
        assert refused.value.code == 400
        page = refused.value.read().decode()
        assert "<script>" not in page and "goes on waiting" in page
    assert process.poll() is None  # still waiting for its own redirect

    with urllib.request.urlopen(where, timeout=10) as page:
        assert "has the server's authorization" in page.read().decode()
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and "logged in to guarded" in out
    assert call(gateway, "echo", {"message": "after"}) == "Echo: after"
