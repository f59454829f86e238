"""On a real token-mode gateway, server names and route keys cannot be probed
without a token: an unknown one answers 401 like a known one."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.auth.tokenfile import addToken
from tests.integration.gateway import RunningGateway, writeConfig

pytestmark = pytest.mark.integration


def status(port: int, path: str, token: str | None = None) -> int:
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_unknown_servers_and_routes_answer_401_without_a_token(start: Any, home: Path) -> None:
    tokens = home / "tokens.json"
    alice = addToken(tokens, "alice", ["demo"])
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    gateway: RunningGateway = start("--config", str(config), "--auth-tokens", str(tokens))
    port = gateway.port
    probes = ["/demo/mcp", "/nosuch/mcp", "/demo~abcdefghijklmnop/mcp"]
    assert [status(port, path) for path in probes] == [401, 401, 401]
    assert status(port, "/nosuch/mcp", alice) == 404
    assert status(port, "/demo~abcdefghijklmnop/mcp", alice) == 404


def test_unknown_aggregate_endpoints_and_keys_answer_401_without_a_token(
    start: Any, home: Path
) -> None:
    tokens = home / "tokens.json"
    alice = addToken(tokens, "alice", ["demo"])
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    gateway: RunningGateway = start("--config", str(config), "--auth-tokens", str(tokens))
    port = gateway.port
    probes = ["/mcp", "/mcp/nosuch", "/mcp~abcdefghijklmnop"]
    assert [status(port, path) for path in probes] == [401, 401, 401]
    assert status(port, "/mcp/nosuch", alice) == 404
    assert status(port, "/mcp~abcdefghijklmnop", alice) == 404
