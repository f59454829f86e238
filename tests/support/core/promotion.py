"""What tests/core/pools/test_promotion.py shares with the other tests: INIT_RESULT,
PER_SESSION, PromotionCase, SPEC."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, RecordingSink, fakeSpawner
from tests.support.core.pools.keyedplacement import initialize

Message = dict[str, Any]

EXE = "/opt/srv/bin/srv"
SPEC = ServerSpec(name="srv", command="srv", executable=EXE, requestTimeout=10.0)
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"resources": {"subscribe": True}},
    "serverInfo": {"name": "s"},
}


PER_SESSION = {
    "jsonrpc": "2.0",
    "id": "child-1",
    "method": "tasks/get",
    "params": {"taskId": "t-1"},
}
"""A request of the child that is neither a question for a person nor the
roots (a task the client holds for one session): refused when no session is
proven its asker, and it promotes the server."""


class FakeSink:
    """A L{mcpgateway.core.pools.pool.PromotionSink} that records."""

    def __init__(self) -> None:
        self.promoted: list[tuple[str, str]] = []
        self.shares: list[str] = []

    def promote(self, server: str, why: str, share: str = "session") -> None:
        self.promoted.append((server, why))
        self.shares.append(share)


class PromotionCase(SynchronousTestCase):
    spec = SPEC

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.sink = FakeSink()
        self.gateway = Gateway(
            {"srv": self.spec}, fakeSpawner(self.reactor), promotions=self.sink, lazyStart=False
        )
        self.pool = self.gateway.pools["srv"]

    def open(self, scope: str = "", principal: str = "") -> Session:
        spawned = len(self.reactor.processes)
        session, opened = self.gateway.opener.openSession(
            "srv", initialize(), "2025-11-25", scope=scope, principal=principal
        )
        if len(self.reactor.processes) > spawned:
            proc = self.reactor.lastProcess
            [init] = proc.takeMessages()
            proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
            proc.takeMessages()
        self.assertIn("result", self.successResultOf(opened))
        return session

    def inFlight(self, session: Session, proc: FakeProcess) -> RecordingSink:
        """A tools/call of C{session} waiting on C{proc}; its stream."""
        stream = RecordingSink()
        response = self.pool.forward(
            session, jsonrpc.request(1, "tools/call", {"name": "x"}), stream
        )
        response.addErrback(lambda _: None)  # cancelled when its session ends
        [sent] = proc.takeMessages()
        self.assertEqual(sent["method"], "tools/call")
        return stream

    def ambiguous(
        self, request: Message = PER_SESSION
    ) -> tuple[FakeProcess, Session, Session, RecordingSink, RecordingSink]:
        """Two sessions with a request in flight each on the shared child,
        which asks C{request} of a client."""
        s1, s2 = self.open(), self.open()
        shared = self.reactor.lastProcess
        r1, r2 = self.inFlight(s1, shared), self.inFlight(s2, shared)
        shared.reply(request)
        return shared, s1, s2, r1, r2
