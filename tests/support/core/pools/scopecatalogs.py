"""What the tests of the saved scope catalogs share: a fake child that
answers a probe, a session that records what it is given, a client's
C{initialize}."""

from __future__ import annotations

from typing import Any

from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess

Message = dict[str, Any]

CAPS = {"tools": {"listChanged": True}, "resources": {}}
LISTS: dict[str, Message] = {
    "tools/list": {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]},
    "resources/list": {"resources": [{"uri": "file:///x", "name": "x"}]},
    "resources/templates/list": {"resourceTemplates": []},
}


def answer(
    proc: FakeProcess, lists: dict[str, Message] | None = None, capabilities: Message = CAPS
) -> list[Message]:
    """Answer what the gateway wrote to C{proc} as a child with
    C{capabilities} that lists C{lists}, roots-aware as server-everything
    is (C{roots} in a client's capabilities adds a tool); what it was
    sent."""
    seen: list[Message] = []
    listed = LISTS if lists is None else lists
    roots = False
    while True:
        messages = proc.takeMessages()
        if not messages:
            return seen
        for message in messages:
            seen.append(message)
            method, mid = message.get("method"), message.get("id")
            if mid is None or method is None:
                continue
            if method == "initialize":
                roots = "roots" in message["params"]["capabilities"]
                result = {
                    "protocolVersion": message["params"]["protocolVersion"],
                    "capabilities": capabilities,
                    "serverInfo": {"name": "own", "version": "1"},
                }
            elif method in listed:
                result = dict(listed[method])
                if method == "tools/list" and roots:
                    result = {"tools": [*result["tools"], {"name": "get-roots-list"}]}
            else:
                result = {"content": [], "called": method}
            proc.reply(jsonrpc.resultResponse(mid, result))


class ListeningSession(Session):
    """A session whose GET stream records what it is given."""

    def __init__(self, sid: str, server: str, capabilities: Message | None = None) -> None:
        super().__init__(
            sid, server, "2025-06-18", capabilities or {}, {"name": "c-" + sid, "version": "1"}, 0.0
        )
        self.messages: list[Message] = []

    def deliver(self, message: Message) -> bool:
        self.messages.append(message)
        return True


def initialize(session: Session) -> Message:
    return jsonrpc.request(
        "init-1",
        "initialize",
        {
            "protocolVersion": session.protocolVersion,
            "capabilities": session.capabilities,
            "clientInfo": session.clientInfo,
        },
    )
