"""What tests/core/test_router.py shares with the other tests: Message,
RouterCase, fanoutOf, note, ok, req."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.fanout import OwnerFanout, SharedFanout
from mcpgateway.core.router import Fanout, Router
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeSession

Message = dict[str, Any]
ALL_CAPS = {"sampling": {}, "roots": {"listChanged": True}, "elicitation": {"form": {}, "url": {}}}


def req(
    requestId: Any,
    method: str = "tools/call",
    params: dict[str, Any] | None = None,
) -> Message:
    return jsonrpc.request(requestId, method, params)


def note(method: str, params: dict[str, Any] | None = None) -> Message:
    return jsonrpc.notification(method, params)


def ok(requestId: Any, result: Any) -> Message:
    return jsonrpc.resultResponse(requestId, result)


def fanoutOf(owner: FakeSession | None) -> Fanout:
    """The fanout of a child owned by C{owner}, or of a shared child."""
    return OwnerFanout(owner) if owner is not None else SharedFanout()


class RouterCase(SynchronousTestCase):
    timeout = 10.0

    def setUp(self) -> None:
        self.clock = Clock()
        self.owner = self.makeOwner()
        self.router = Router("srv", self.clock, self.timeout, fanoutOf(self.owner))
        self.sent: list[Message] = []
        self.router.attachChild(self.sent.append)

    def makeOwner(self) -> FakeSession | None:
        return None

    def take(self) -> list[Message]:
        """What was written to the child since the last take()."""
        out = list(self.sent)
        self.sent.clear()
        return out

    def session(
        self,
        sid: str,
        caps: dict[str, Any] | None = None,
        logLevel: str | None = None,
        attach: bool = True,
    ) -> FakeSession:
        s = FakeSession(sid, capabilities=ALL_CAPS if caps is None else caps, logLevel=logLevel)
        if attach:
            self.router.attach(s)
        return s
