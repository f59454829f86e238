"""What tests/core/era2026/test_era2026child.py shares with the other tests:
AdapterCase, SERVER_INFO."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.era2026.child import Era2026ChildAdapter
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.router import Router
from mcpgateway.protocol import era2026form, jsonrpc
from mcpgateway.protocol.requeststate import StateWrapper
from tests.fakes import FakeSession, RecordingSink

Message = dict[str, Any]


SERVER_INFO = {"name": "era2026-child", "version": "2"}
DISCOVER = {
    "resultType": "complete",
    "supportedVersions": ["2026-07-28"],
    "capabilities": {
        "tools": {"listChanged": True},
        "resources": {"subscribe": True, "listChanged": True},
        "logging": {},
        "extensions": {"io.modelcontextprotocol/tasks": {}},
    },
    "instructions": "era2026 only",
    "_meta": {era2026form.SERVER_INFO_KEY: SERVER_INFO},
    "ttlMs": 5000,
    "cacheScope": "public",
}
GATEWAY_INFO = {"name": "mcpgateway", "version": "test"}


def complete(**fields: Any) -> dict[str, Any]:
    return {
        "resultType": "complete",
        "content": [{"type": "text", "text": "done"}],
        "_meta": {era2026form.SERVER_INFO_KEY: SERVER_INFO},
        **fields,
    }


class AdapterCase(SynchronousTestCase):
    """A discovered 2026 child behind a real router and shared fanout."""

    discover: dict[str, Any] = DISCOVER

    def setUp(self) -> None:
        self.clock = Clock()
        self.written: list[Message] = []
        self.router = Router("srv", self.clock, 60.0, SharedFanout())
        self.wrapper = StateWrapper(b"k" * 32)
        self.adapter = Era2026ChildAdapter(
            self.router, self.clock, self.written.append, GATEWAY_INFO, wrapper=self.wrapper
        )
        self.router.attachChild(self.adapter.toChild)
        self.adapter.discovered(dict(self.discover))
        self.adapter.start()
        self.clock.advance(0)
        self.listens = [m for m in self.taken() if m.get("method") == "subscriptions/listen"]
        self.session = FakeSession(
            "a",
            capabilities={
                "roots": {"listChanged": True},
                "sampling": {},
                "elicitation": {"form": {}, "url": {}},
                "tasks": {"requests": {}},
            },
        )
        self.session.clientInfo = {"name": "claude-ai", "version": "0.1.0"}
        self.router.attach(self.session)

    def taken(self) -> list[Message]:
        sent, self.written[:] = list(self.written), []
        return sent

    def reply(self, message: Message) -> None:
        self.adapter.fromChild({"jsonrpc": "2.0", **message})

    def handshakeCall(
        self, name: str = "book", requestId: Any = 3, token: Any = None
    ) -> tuple[Deferred[Message], RecordingSink, Message]:
        """A handshake session's tools/call on its POST stream; what the child got."""
        sink = RecordingSink()
        params: dict[str, Any] = {"name": name, "arguments": {"n": 1}}
        if token is not None:
            params["_meta"] = {"progressToken": token}
        d = self.router.request(
            self.session, jsonrpc.request(requestId, "tools/call", params), sink
        )
        [sent] = self.taken()
        return d, sink, sent
