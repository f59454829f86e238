"""What tests/web/endpoints/test_aggregate_web.py shares with the other tests:
AggregateHarness, TWO, VERSION, fresh, initialize, messagesOf, serverSpec."""

from __future__ import annotations

import sys
from typing import Any

from mcpgateway.core.spec import ServerSpec
from tests.core.aggregate.aggtools import Children, FakeServer, tool
from tests.http import Harness, Response
from tests.support.web.api import initializeBody

VERSION = "2025-11-25"


def serverSpec(name: str, mode: str = "stateless") -> ServerSpec:
    return ServerSpec(
        name=name,
        command="fake-server",
        args=(f"--name={name}",),
        mode=mode,
        requestTimeout=60.0,
        executable=sys.executable,
    )


def initialize(capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
    """The aggregate client's C{initialize}, declaring C{capabilities}."""
    return initializeBody({"name": "agg-test", "version": "1"}, capabilities, VERSION)


def messagesOf(response: Response) -> list[dict[str, Any]]:
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return response.events()
    return [response.json()]


class AggregateHarness:
    def __init__(self, servers: dict[str, FakeServer], modes: dict[str, str] | None = None) -> None:
        modes = modes or {}
        self.harness = Harness(
            {name: serverSpec(name, modes.get(name, "stateless")) for name in servers}
        )
        self.harness.gateway.start()
        self.children = Children(self.harness.reactor, servers)

    @property
    def gateway(self) -> Any:
        return self.harness.gateway

    def open(self, path: str = "/mcp", capabilities: dict[str, Any] | None = None) -> str:
        response = self.harness.request("POST", path, initialize(capabilities))
        self.children.pump()
        assert response.status == 200, (response.status, response.body)
        return response.headers["mcp-session-id"]

    def post(
        self, session: str, message: dict[str, Any], path: str = "/mcp", pump: bool = True
    ) -> Response:
        response = self.harness.request(
            "POST",
            path,
            message,
            session=session,
            headers={"mcp-protocol-version": VERSION},
        )
        if pump:
            self.children.pump()
        return response

    def call(
        self,
        session: str,
        method: str,
        params: dict[str, Any],
        requestId: Any = 7,
        path: str = "/mcp",
    ) -> dict[str, Any]:
        response = self.post(
            session, {"jsonrpc": "2.0", "id": requestId, "method": method, "params": params}, path
        )
        messages = messagesOf(response)
        answers = [m for m in messages if m.get("id") == requestId and "method" not in m]
        assert answers, messages
        return answers[-1]

    def get(self, session: str, path: str = "/mcp") -> Response:
        return self.harness.request(
            "GET",
            path,
            session=session,
            accept="text/event-stream",
            headers={"mcp-protocol-version": VERSION},
        )


TWO = {
    "alpha": FakeServer(
        tools=[tool("echo"), tool("read_file", "Read a file.", path="the path")],
        resources=[{"uri": "file:///a.txt", "name": "a"}],
        templates=[{"uriTemplate": "alpha://{id}", "name": "t"}],
        prompts=[{"name": "greet"}],
    ),
    "beta": FakeServer(tools=[tool("echo")], resources=[{"uri": "file:///b.txt", "name": "b"}]),
}


def fresh(servers: dict[str, FakeServer] | None = None) -> dict[str, FakeServer]:
    source = servers or TWO
    return {
        name: FakeServer(
            list(s.tools), list(s.prompts), list(s.resources), list(s.templates), s.hold
        )
        for name, s in source.items()
    }
