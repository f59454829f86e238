"""A team gateway as its users meet it: off loopback without
authentication it refuses to start in one line; with a tokens file it
serves the SDK with the token, answers 401 without one (with its
C{WWW-Authenticate}), 403 for a server the token may not use, 404 for a
session another principal opened, 429 over C{--rate-per-principal}; the
audit log gets a line per request, and one per change an admin makes
through the management API, naming the admin by its key; the bearer
string is nowhere in the gateway's output or its audit file."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared._httpx_utils import create_mcp_http_client

from mcpgateway.cli.main import main
from tests.integration.audittrail import assertVerifies, requestRecords
from tests.integration.gateway import (
    RunningGateway,
    echoOn,
    gatewayEnv,
    refusedStart,
    twistCommand,
    waitFor,
    writeConfig,
)
from tests.support.auth.tokens import addToken
from tests.support.mcpclient import bearer, initializeMessage, request

pytestmark = pytest.mark.integration

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
INITIALIZE = initializeMessage(1, name="team-test")


def post(
    port: int,
    path: str,
    body: Any,
    token: str | None = None,
    session: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    headers = bearer(token) | ({} if session is None else {"mcp-session-id": session})
    reply = request(f"http://127.0.0.1:{port}{path}", "POST", body, headers, timeout=15)
    return reply.status, reply.headers, reply.body


def echo(port: int, token: str, message: str) -> str:
    async def main() -> str:
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http:
            return await echoOn(http, f"http://127.0.0.1:{port}/demo/mcp", message)

    return anyio.run(main)


def test_off_loopback_without_authentication_is_refused_in_one_line(home: Path) -> None:
    environ = gatewayEnv(home)
    environ.pop("MCPGATEWAY_AUTH_TOKENS", None)
    environ.pop("MCPGATEWAY_OAUTH_ISSUER", None)
    result = refusedStart(
        [*twistCommand(), "--port", "tcp:0:interface=0.0.0.0"],
        home,
        environ,
    )
    assert result.stderr.strip().splitlines() == [
        "mcpgateway: tcp:0:interface=0.0.0.0 is reachable from other machines and no"
        " authentication is set: add --auth-tokens FILE (`mcpgateway token new NAME --file"
        " FILE` makes one) or --oauth-issuer URL --resource-uri URL, or listen on 127.0.0.1"
    ], result.stderr
    assert "Traceback" not in result.stdout


@pytest.fixture
def team(home: Path) -> Any:
    tokens = home / "tokens.json"
    alice = addToken(tokens, "alice", ["demo"])
    bob = addToken(tokens, "bob", ["demo"])
    carol = addToken(tokens, "carol", ["other"])
    root = addToken(tokens, "root", admin=True)
    config = writeConfig(home / "servers.json", {"demo": DEMO, "other": DEMO})
    audit = home / "audit" / "audit.jsonl"
    audit.parent.mkdir()
    gateway = RunningGateway(
        [
            "--port",
            "tcp:0:interface=0.0.0.0",
            "--config",
            str(config),
            "--rate-per-principal",
            "2",
            "--audit-log",
            str(audit),
        ],
        home,
        env={"MCPGATEWAY_AUTH_TOKENS": str(tokens)},  # the environment fallback
    )
    try:
        yield gateway, {"alice": alice, "bob": bob, "carol": carol, "root": root}, audit
    finally:
        gateway.stop()


def test_a_team_gateway_with_a_tokens_file(team: Any) -> None:
    gateway, tokens, audit = team
    port = gateway.port
    # The SDK with its token: served.
    assert echo(port, tokens["alice"], "hello team") == "hello team"

    # No token: 401 with the challenge, a JSON-RPC body.
    status, headers, body = post(port, "/demo/mcp", INITIALIZE)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="mcpgateway"'
    assert json.loads(body)["error"]["code"] == -32600

    # A token for another server only: 403.
    status, headers, _ = post(port, "/demo/mcp", INITIALIZE, tokens["carol"])
    assert status == 403
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]

    # A session is its principal's: bob gets 404 for alice's.
    status, headers, _ = post(port, "/demo/mcp", INITIALIZE, tokens["alice"])
    assert status == 200
    sessionId = headers["Mcp-Session-Id"]
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    status, _, body = post(port, "/demo/mcp", ping, tokens["bob"], sessionId)
    assert (status, json.loads(body)["error"]["message"]) == (404, "Session not found")

    # Over --rate-per-principal 2 (bursts of 4): 429 with Retry-After; bob is not slowed.
    answers = [post(port, "/demo/mcp", ping, tokens["alice"], sessionId) for _ in range(12)]
    throttled = [a for a in answers if a[0] == 429]
    assert throttled, [a[0] for a in answers]
    assert int(throttled[0][1]["Retry-After"]) >= 1
    assert json.loads(throttled[0][2])["error"]["code"] == -32004

    assert gateway.health(tokens["alice"])["detail"] == "liveness"  # not an admin's token
    health = gateway.health(tokens["root"])
    assert health["auth"]["mode"] == "tokens" and health["auth"]["principals"] == 4

    # The audit log: one line per request, within a second or so.
    def lines() -> list[dict[str, Any]]:
        try:
            return requestRecords(audit)
        except OSError:
            return []

    assert waitFor(lambda: any(r["outcome"] == "refused" and r["status"] == 429 for r in lines()))
    records = lines()
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    calls = [r for r in records if r["method"] == "tools/call"]
    assert calls and calls[0]["tool"] == "echo" and calls[0]["outcome"] == "ok"
    assert calls[0]["via"] == "token" and len(calls[0]["principal"]) == 16
    assert "payload" not in calls[0]  # no arguments without --audit-payloads
    assert {r["status"] for r in records} >= {200, 401, 403, 404, 429}

    # The bearer strings appear nowhere.
    output = gateway.text() + audit.read_text()
    for name, token in tokens.items():
        assert token not in output, name
    assert "alice" not in audit.read_text() and "carol" not in audit.read_text()

    # Its hash chain is whole once the gateway stopped.
    gateway.stop()
    assertVerifies(audit, gateway.home, gateway.home / "state")


def test_an_admins_changes_are_audited_with_its_key(
    team: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """An admin principal disables, enables and restarts a server through
    the management API: each change is one audit record with the admin's
    principal key, the key C{mcpgateway audit key} names, and the log line
    names that key, never the token or the name."""
    gateway, tokens, audit = team
    base = f"http://127.0.0.1:{gateway.port}/api/v1/servers/other"
    asRoot = bearer(tokens["root"]) | {"content-type": "application/json"}
    for body in ({"enabled": False}, {"enabled": True}):
        assert request(base, "PATCH", body, asRoot, timeout=15).status == 200
    assert request(base + "/restart", "POST", None, asRoot, timeout=15).status == 200
    asBob = bearer(tokens["bob"]) | {"content-type": "application/json"}
    assert request(base, "PATCH", {"enabled": False}, asBob, timeout=15).status == 403

    assert main(["audit", "key", "root", "--state-dir", str(gateway.home / "state"), "--json"]) == 0
    rootKey = json.loads(capsys.readouterr().out)["keys"][0]["key"]

    def changes() -> list[dict[str, Any]]:
        try:
            return [r for r in requestRecords(audit) if r["method"].startswith("servers/")]
        except OSError:
            return []

    assert waitFor(lambda: len(changes()) == 3), changes()
    assert [(r["method"], r["server"], r["outcome"], r["status"]) for r in changes()] == [
        ("servers/change", "other", "ok", 200),
        ("servers/change", "other", "ok", 200),
        ("servers/restart", "other", "ok", 200),
    ]
    assert {(r["principal"], r["via"]) for r in changes()} == {(rootKey, "token")}
    assert f"api: server other changed (enabled) by principal {rootKey}" in gateway.text()
    restarted = [ln for ln in gateway.text().splitlines() if "api: server other restarted" in ln]
    assert len(restarted) == 1 and restarted[0].endswith(f") by principal {rootKey}"), restarted
    output = gateway.text() + audit.read_text()
    assert tokens["root"] not in output
    gateway.stop()
    assertVerifies(audit, gateway.home, gateway.home / "state")
