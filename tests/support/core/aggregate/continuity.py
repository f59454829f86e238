"""What tests/core/aggregate/test_aggregate_continuity.py shares with the
other tests: KeptAggregate, a gateway whose sessions go to a store and
whose fake member children answer by themselves, and SERVERS."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core.aggregate.session import AggregateSession, MemberSession
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.sessions import SessionPersistence
from mcpgateway.web.app import makeSite
from tests.core.aggregate.aggtools import Children, FakeServer, tool
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, Response
from tests.support.web.aggregate_web import VERSION, initialize, messagesOf, serverSpec

SERVERS = {
    "solo": FakeServer(tools=[tool("echo")]),
    "shared": FakeServer(tools=[tool("echo")], resources=[{"uri": "file:///s.txt", "name": "s"}]),
}
"""A server with a child per session (C{solo}) and one whose child is
shared (C{shared})."""
MODES = {"solo": "stateful"}


class KeptAggregate(Harness):
    """A started gateway on C{store} serving L{SERVERS} (C{predecessor}:
    fires when the process it took over from is gone; C{None}: none),
    whose fake children answer by themselves (L{Children.pump})."""

    def __init__(
        self, store: SessionPersistence, predecessor: Deferred[None] | None = None
    ) -> None:
        self.reactor = FakeProcessReactor()
        specs = {name: serverSpec(name, MODES.get(name, "stateless")) for name in SERVERS}
        self.gateway = Gateway(
            specs,
            fakeSpawner(self.reactor),
            persistence=store,
            predecessor=predecessor,
            lazyStart=False,
        )
        self.site = makeSite(self.gateway, self.reactor, loopbackOnly=True, maxBody=4096)
        self.children = Children(self.reactor, SERVERS)
        self.gateway.start()
        self.children.pump()

    def open(self) -> str:
        """A client session on C{/mcp}: its id."""
        response = self.request("POST", "/mcp", initialize())
        self.children.pump()
        assert response.status == 200, (response.status, response.body)
        return response.headers["mcp-session-id"]

    def post(
        self,
        session: str,
        method: str,
        params: dict[str, Any],
        requestId: Any,
        pump: bool = True,
    ) -> Response:
        """One request of C{session}, its children answering (unless not
        C{pump}: they answer at the next L{Children.pump})."""
        message = {"jsonrpc": "2.0", "id": requestId, "method": method, "params": params}
        headers = {"mcp-protocol-version": VERSION}
        response = self.request("POST", "/mcp", message, session=session, headers=headers)
        if pump:
            self.children.pump()
        return response

    def echo(self, session: str, server: str, requestId: Any) -> list[dict[str, Any]]:
        """Call C{server}'s C{echo} through C{/mcp}: every message of the
        answer's stream, the answer last."""
        params = {"name": f"{server}__echo", "arguments": {}}
        messages = messagesOf(self.post(session, "tools/call", params, requestId))
        assert messages and messages[-1].get("id") == requestId, messages
        return messages

    def aggregate(self, sessionId: str) -> AggregateSession:
        session = self.gateway.sessions.get(sessionId)
        assert isinstance(session, AggregateSession), session
        return session

    def member(self, sessionId: str, server: str) -> MemberSession:
        return self.aggregate(sessionId).members[server]

    def sentTo(self, server: str) -> list[dict[str, Any]]:
        """What the children of C{server} were sent, in order."""
        return [message for name, message in self.children.seen if name == server]
