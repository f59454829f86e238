"""The session limit per caller on a real token-mode gateway: a caller that
opens sessions past its limit ends its own idlest one, never another
caller's; with none of its own to give it gets HTTP 503 with Retry-After."""

from __future__ import annotations

import http.client
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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
        "mcp-protocol-version": "2025-11-25",
    }
    if token:  # "": a gateway without authentication
        headers["authorization"] = f"Bearer {token}"
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


@contextmanager
def getStream(port: int, token: str, session: str) -> Iterator[None]:
    """A GET stream open on C{session} (the session is in use) while inside."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request(
            "GET",
            "/demo/mcp",
            headers={
                "accept": "text/event-stream",
                "authorization": f"Bearer {token}",
                "mcp-protocol-version": "2025-11-25",
                "mcp-session-id": session,
            },
        )
        response = connection.getresponse()
        assert response.status == 200, response.status
        yield
    finally:
        connection.close()


def teamGateway(start: Any, home: Path) -> tuple[RunningGateway, str, str]:
    """A token-mode gateway serving the demo, two sessions per caller; the
    tokens of alice and bob."""
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
    return gateway, alice, bob


def test_a_caller_past_its_limit_ends_its_own_session_not_anothers(start: Any, home: Path) -> None:
    gateway, alice, bob = teamGateway(start, home)
    port = gateway.port
    hers = initialize(port, alice)
    bobs = [initialize(port, bob) for _ in range(3)]  # one more than his limit
    assert listTools(port, alice, hers) == 200  # alice's session is untouched
    assert listTools(port, bob, bobs[0]) == 404  # bob's idlest made room for his third
    assert [listTools(port, bob, sid) for sid in bobs[1:]] == [200, 200]
    assert "(the limit per caller)" in gateway.text()


def test_a_caller_with_every_session_in_use_gets_503_and_ends_nobodys(
    start: Any, home: Path
) -> None:
    gateway, alice, bob = teamGateway(start, home)
    port = gateway.port
    hers = initialize(port, alice)
    bobs = [initialize(port, bob) for _ in range(2)]
    body = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {}},
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/demo/mcp",
        json.dumps(body).encode(),
        {"content-type": "application/json", "accept": ACCEPT, "authorization": f"Bearer {bob}"},
        method="POST",
    )
    with ExitStack() as streams:
        for sid in bobs:
            streams.enter_context(getStream(port, bob, sid))
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=15)
        assert refused.value.code == 503
        assert refused.value.headers["retry-after"] == "30"
        answer = json.loads(refused.value.read())
        assert answer["id"] == 9 and answer["error"]["code"] == -32000
        assert "its limit of 2 per caller" in answer["error"]["message"]
        assert listTools(port, alice, hers) == 200
        assert [listTools(port, bob, sid) for sid in bobs] == [200, 200]
        assert initialize(port, alice)  # the limit is bob's alone
    assert bob not in gateway.text() and alice not in gateway.text()  # no token logged


def test_without_authentication_the_limit_per_caller_does_not_apply(start: Any, home: Path) -> None:
    """A loopback gateway has one anonymous caller: it keeps the gateway's
    whole session limit, not one caller's share."""
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    gateway: RunningGateway = start("--config", str(config), "--max-sessions-per-principal", "1")
    sessions = [initialize(gateway.port, "") for _ in range(3)]
    assert [listTools(gateway.port, "", sid) for sid in sessions] == [200, 200, 200]
    assert "session limit of" not in gateway.text()
