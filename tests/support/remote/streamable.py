"""What tests/remote/test_streamable.py shares with the other tests: Harness,
INIT, INITIALIZED, NAME, SAMPLING, SERVER_VERSION, URL, assertUnavailable,
call, initResult, logText, logged, progress, result."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.logger import LogEvent, formatEvent

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.streamable import StreamableChild
from tests.remote.fakehttp import (
    FakeAgent,
    FakeResponse,
    Sent,
    jsonResponse,
    noFailuresLogged,
    sseResponse,
)

NAME = "weather"
URL = "https://mcp.example.com/v1/mcp"
HEADERS = (("Authorization", "Bearer k-123"), ("X-Team", "blue"))
INIT_PARAMS = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"sampling": {}},
    "clientInfo": {"name": "client", "version": "1"},
}
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS}
SERVER_VERSION = "2025-06-18"
"""The version the server settles on (not the one the client asked for)."""
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def initResult(requestId: Any = 0, version: str = SERVER_VERSION) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": requestId,
        "result": {"protocolVersion": version, "capabilities": {}, "serverInfo": {"name": "w"}},
    }


def call(requestId: Any, name: str = "forecast") -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": requestId, "method": "tools/call", "params": {"name": name}}


def result(requestId: Any, text: str = "sunny") -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": requestId,
        "result": {"content": [{"type": "text", "text": text}]},
    }


def progress(n: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": "t", "progress": n},
    }


SAMPLING = {"jsonrpc": "2.0", "id": 0, "method": "sampling/createMessage", "params": {}}


@pytest.fixture(autouse=True)
def logged() -> Iterator[Sequence[LogEvent]]:
    """Every test fails if the code under test logs a traceback."""
    with noFailuresLogged() as events:
        yield events


def logText(events: Sequence[LogEvent]) -> str:
    return "\n".join(formatEvent(e) for e in events)


class Harness:
    def __init__(self, headers: tuple[tuple[str, str], ...] = HEADERS) -> None:
        self.clock = Clock()
        self.agent = FakeAgent()
        self.out: list[jsonrpc.Message] = []
        self.stderr: list[str] = []
        self.child = StreamableChild(
            NAME,
            RemoteEndpoint(URL, "http", headers),
            self.agent,
            self.clock,
            self.out.append,
            self.stderr.append,
        )

    def received(self) -> list[jsonrpc.Message]:
        out, self.out[:] = list(self.out), []
        return out

    def initialize(self, sessionId: str = "s1") -> None:
        """The client's C{initialize}, answered with C{sessionId}."""
        self.child.send(INIT)
        self.agent.one(b"POST").answer(
            jsonResponse(initResult(), headers={b"mcp-session-id": sessionId.encode()})
        )
        assert self.received() == [initResult()]

    def initialized(self) -> Sent:
        """The client's C{notifications/initialized}, answered 202: the GET stream's request."""
        self.child.send(INITIALIZED)
        self.agent.one(b"POST").answer(FakeResponse(202))
        return self.agent.one(b"GET")

    def open(self, sessionId: str = "s1") -> FakeResponse:
        """An initialized session with its GET stream open."""
        self.initialize(sessionId)
        return self.initialized().answer(sseResponse(stream=True))

    def request(self, message: jsonrpc.Message) -> Sent:
        self.child.send(message)
        return self.agent.one(b"POST")

    def ended(self) -> bool:
        ended: list[object] = []
        self.child.ended.addBoth(ended.append)
        return bool(ended)


def assertUnavailable(message: jsonrpc.Message, requestId: Any, *words: str) -> None:
    """C{message} answers C{requestId} with the gateway's error naming the
    server, its URL and C{words}."""
    assert message["id"] == requestId
    assert message["error"]["code"] == jsonrpc.SERVER_UNAVAILABLE == -32000
    text = message["error"]["message"]
    assert f"server '{NAME}'" in text and URL in text
    for word in words:
        assert word in text
