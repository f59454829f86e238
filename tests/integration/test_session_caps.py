"""The session limit per caller on a real token-mode gateway: a caller that
opens sessions past its limit ends its own idlest one, never another
caller's."""

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

ACCEPT = "application/json, text/event-stream"


def post(port: int, body: Any, token: str, session: str | None = None) -> tuple[int, Any, str]:
    """POST to the demo's endpoint: the status, the answer, the session id."""
    headers = {
        "content-type": "application/json",
        "accept": ACCEPT,
        "authorization": f"Bearer {token}",
        "mcp-protocol-version": "2025-11-25",
    }
    if session is not None:
        headers["mcp-session-id"] = session
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/demo/mcp", json.dumps(body).encode(), headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            raw = response.read().decode()
            sid = response.headers.get("mcp-session-id", "")
            status = response.status
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), ""
    if raw.startswith(("event:", "id:", "data:", ":")):
        data = [line[6:] for line in raw.splitlines() if line.startswith("data: ") and line[6:]]
        return status, json.loads(data[-1]), sid
    return status, json.loads(raw) if raw else None, sid


def initialize(port: int, token: str) -> str:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "caps", "version": "1"},
        },
    }
    status, answer, sid = post(port, body, token)
    assert status == 200 and "result" in answer, (status, answer)
    return sid


def listTools(port: int, token: str, session: str) -> int:
    status, _, _ = post(port, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, token, session)
    return status


def test_a_caller_past_its_limit_ends_its_own_session_not_anothers(start: Any, home: Path) -> None:
    tokens = home / "tokens.json"
    alice, bob = addToken(tokens, "alice", ["demo"]), addToken(tokens, "bob", ["demo"])
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    gateway: RunningGateway = start(
        "--config",
        str(config),
        "--auth-tokens",
        str(tokens),
        "--max-sessions-per-principal",
        "2",
    )
    port = gateway.port
    hers = initialize(port, alice)
    bobs = [initialize(port, bob) for _ in range(3)]  # one more than his limit
    assert listTools(port, alice, hers) == 200  # alice's session is untouched
    assert listTools(port, bob, bobs[0]) == 404  # bob's idlest made room for his third
    assert [listTools(port, bob, sid) for sid in bobs[1:]] == [200, 200]
    assert "(the limit per caller)" in gateway.text()
