"""What tests/remote/test_streamable.py shares with the other tests: Harness,
INIT, INITIALIZED, NAME, SAMPLING, SERVER_VERSION, URL, assertUnavailable,
call, initResult, logText, logged, progress, result, streamingCall."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from twisted.logger import LogEvent, formatEvent

from mcpgateway.core.spec import RemoteEndpoint
from mcpgateway.protocol import jsonrpc
from mcpgateway.remote.streamable import StreamableChild
from tests.remote.fakehttp import (
    FakeResponse,
    Sent,
    jsonResponse,
    noFailuresLogged,
    sseResponse,
)
from tests.support.remote.childharness import ChildHarness, assertUnavailableFrom

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


class Harness(ChildHarness[StreamableChild]):
    """A L{StreamableChild} of L{NAME} at L{URL} sending C{headers}."""

    def __init__(self, headers: tuple[tuple[str, str], ...] = HEADERS) -> None:
        super().__init__(StreamableChild, NAME, RemoteEndpoint(URL, "http", headers))

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

    def reinitialized(self, sessionId: str = "new") -> Sent:
        """The gateway's own C{initialize} for a session the server lost,
        answered with C{sessionId}: the request."""
        reinit = self.agent.one(b"POST")
        reinit.answer(
            jsonResponse(
                initResult(reinit.json["id"]), headers={b"mcp-session-id": sessionId.encode()}
            )
        )
        return reinit

    def open(self, sessionId: str = "s1") -> FakeResponse:
        """An initialized session with its GET stream open."""
        self.initialize(sessionId)
        return self.initialized().answer(sseResponse(stream=True))


def streamingCall() -> tuple[Harness, FakeResponse]:
    """An initialized session whose call 1 is answered with an SSE stream
    the server keeps open: the harness and the stream."""
    h = Harness()
    h.initialize()
    return h, h.request(call(1)).answer(sseResponse(stream=True))


def assertUnavailable(message: jsonrpc.Message, requestId: Any, *words: str) -> None:
    """C{message} answers C{requestId} with the gateway's error naming
    L{NAME}, L{URL} and C{words}."""
    assertUnavailableFrom(message, requestId, NAME, URL, *words)
