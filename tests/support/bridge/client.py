"""What tests/bridge/test_client.py shares with the other tests: Harness, INIT,
INIT_RESULT."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.task import Clock

from mcpgateway.bridge.client import BridgeClient
from mcpgateway.bridge.framing import parseLine
from mcpgateway.bridge.link import LinkState
from tests.bridge.fakehttp import URL, sseResponse
from tests.remote.fakehttp import FakeAgent, FakeResponse, Sent

INIT_PARAMS = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"sampling": {}},
    "clientInfo": {"name": "test", "version": "1"},
}
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS}
INIT_RESULT = {
    "jsonrpc": "2.0",
    "id": 0,
    "result": {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "g"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def result(requestId: Any, text: str = "ok") -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": requestId,
        "result": {"content": [{"type": "text", "text": text}]},
    }


class Harness:
    def __init__(
        self,
        *,
        locate: Any = URL,
        start: Any = None,
        timeout: float = 60.0,
        ownerHeaders: Any = None,
    ) -> None:
        self.clock = Clock()
        self.agent = FakeAgent()
        self.url: str | None = locate
        self.out: list[bytes] = []
        self.client = BridgeClient(
            self.clock,
            self.agent,
            lambda: self.url,
            self.out.append,
            start=start,
            timeout=timeout,
            ownerHeaders=ownerHeaders,
        )

    def send(self, message: dict[str, Any] | bytes) -> None:
        line = message if isinstance(message, bytes) else json.dumps(message).encode()
        for outgoing in parseLine(line).messages:
            self.client.send(outgoing)

    def received(self) -> list[Any]:
        out = list(self.out)
        self.out.clear()
        return [json.loads(line) for line in out]

    def connect(self) -> None:
        self.client.connect()
        self.clock.advance(0)
        probe = self.agent.one(b"GET")
        assert probe.uri == b"http://127.0.0.1:9100/health"
        probe.answer(FakeResponse(200, b'{"status":"ok"}'))
        assert self.client.state is LinkState.UP

    def initialize(self, sessionId: str = "s1") -> Sent:
        """Connect, initialize, initialized; return the GET stream's request."""
        self.connect()
        self.send(INIT)
        post = self.agent.one(b"POST")
        assert post.header("mcp-session-id") is None
        post.answer(sseResponse(INIT_RESULT, headers={b"mcp-session-id": sessionId.encode()}))
        assert self.received() == [INIT_RESULT]
        self.send(INITIALIZED)
        note = self.agent.one(b"POST")
        assert note.header("mcp-session-id") == sessionId
        note.answer(FakeResponse(202))
        get = self.agent.one(b"GET")
        assert get.header("accept") == "text/event-stream"
        return get
