"""The session limit per caller on a real token-mode gateway: a caller that
opens sessions past its limit ends its own idlest one, never another
caller's; with none of its own to give it gets HTTP 503 with Retry-After."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, writeConfig
from tests.support.auth.tokens import addToken
from tests.support.mcpclient import Session, bearer, initializeMessage, request, stream

pytestmark = pytest.mark.integration


def post(port: int, body: Any, token: str, session: str | None = None) -> tuple[int, Any, str]:
    """POST to the demo's endpoint: the status, the answer, the session id."""
    url = f"http://127.0.0.1:{port}/demo/mcp"
    # token "": a gateway without authentication
    reply = Session(url, headers=bearer(token or None), timeout=15, id=session).post(body)
    if reply.status >= 400:
        return reply.status, json.loads(reply.body or b"null"), ""
    return reply.status, reply.answer, reply.session or ""


def initialize(port: int, token: str) -> str:
    status, answer, sid = post(port, initializeMessage(1, name="caps"), token)
    assert status == 200 and "result" in answer, (status, answer)
    return sid


def listTools(port: int, token: str, session: str) -> int:
    status, _, _ = post(port, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, token, session)
    return status


@contextmanager
def getStream(port: int, token: str, session: str) -> Iterator[None]:
    """A GET stream open on C{session} (the session is in use) while inside."""
    headers = {
        "accept": "text/event-stream",
        "authorization": f"Bearer {token}",
        "mcp-protocol-version": "2025-11-25",
        "mcp-session-id": session,
    }
    response = stream(f"http://127.0.0.1:{port}/demo/mcp", "GET", None, headers, timeout=15)
    try:
        assert response.status == 200, response.status
        yield
    finally:
        response.close()


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
    with ExitStack() as streams:
        for sid in bobs:
            streams.enter_context(getStream(port, bob, sid))
        refused = request(f"http://127.0.0.1:{port}/demo/mcp", "POST", body, bearer(bob))
        assert refused.status == 503
        assert refused.headers["retry-after"] == "30"
        answer = refused.json()
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
