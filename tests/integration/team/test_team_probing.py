"""On a real token-mode gateway, server names and route keys cannot be probed
without a token: an unknown one answers 401 like a known one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, writeConfig
from tests.support.auth.tokens import addToken
from tests.support.mcpclient import bearer, post

pytestmark = pytest.mark.integration


def status(port: int, path: str, token: str | None = None) -> int:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    return post(f"http://127.0.0.1:{port}{path}", ping, bearer(token), timeout=15).status


def teamGateway(start: Any, home: Path) -> tuple[int, str]:
    """A gateway that requires tokens, serving the demo: its port, and
    the token of alice (who may use the demo)."""
    tokens = home / "tokens.json"
    alice = addToken(tokens, "alice", ["demo"])
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    gateway: RunningGateway = start("--config", str(config), "--auth-tokens", str(tokens))
    port = gateway.port
    return port, alice


def test_unknown_servers_and_routes_answer_401_without_a_token(start: Any, home: Path) -> None:
    port, alice = teamGateway(start, home)
    probes = ["/demo/mcp", "/nosuch/mcp", "/demo~abcdefghijklmnop/mcp"]
    assert [status(port, path) for path in probes] == [401, 401, 401]
    assert status(port, "/nosuch/mcp", alice) == 404
    assert status(port, "/demo~abcdefghijklmnop/mcp", alice) == 404


def test_unknown_aggregate_endpoints_and_keys_answer_401_without_a_token(
    start: Any, home: Path
) -> None:
    port, alice = teamGateway(start, home)
    probes = ["/mcp", "/mcp/nosuch", "/mcp~abcdefghijklmnop"]
    assert [status(port, path) for path in probes] == [401, 401, 401]
    assert status(port, "/mcp/nosuch", alice) == 404
    assert status(port, "/mcp~abcdefghijklmnop", alice) == 404
