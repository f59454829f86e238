"""What tests/core/pools/test_keyedplacement.py shares with the other tests: A,
ScopedCase, variant."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.keyedplacement import KeyedPlacement
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, fakeSpawner

Message = dict[str, Any]

EXE = "/opt/fs/bin/fs"
A, B, C = "a" * 16, "b" * 16, "c" * 16
BASE = ServerSpec(
    name="fs", command="fs", executable=EXE, requestTimeout=10.0, mode="workspace", maxChildren=2
)
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}, "resources": {"subscribe": True}},
    "serverInfo": {"name": "fs", "version": "1"},
}


def variant(key: str, cwd: str | None, token: str = "t", childKey: str | None = None) -> Variant:
    """A route whose child runs in C{cwd} with C{TOKEN=token} (its child key
    stands for the keyed hash config computes of that)."""
    # The children's own requests time out later than a wait for room does.
    launch = dataclasses.replace(BASE, cwd=cwd, env=(("TOKEN", token),), requestTimeout=100.0)
    return Variant(key, launch, childKey or f"child:{cwd}:{token}")


def scopedSpec(*variants: Variant, **fields: Any) -> ServerSpec:
    return dataclasses.replace(BASE, variants=variants, **fields)


WORKSPACES = scopedSpec(
    variant("", None), variant(A, "/ws/a"), variant(B, "/ws/b"), variant(C, "/ws/c")
)


def initialize(requestId: Any = 0) -> Message:
    return jsonrpc.request(
        requestId,
        "initialize",
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {"sampling": {}},
            "clientInfo": {"name": "client", "version": "1"},
        },
    )


class ScopedCase(SynchronousTestCase):
    spec = WORKSPACES

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.pool = self.makePool(self.spec)
        self._ids = itertools.count(1)

    def makePool(self, spec: ServerSpec) -> ServerPool:
        pool = makePool(spec, fakeSpawner(self.reactor))
        assert isinstance(pool, ServerPool) and isinstance(pool.placement, KeyedPlacement)
        return pool

    def session(
        self,
        scope: str = "",
        credentialKey: str = "",
        credentials: tuple[tuple[str, str], ...] = (),
    ) -> Session:
        session = Session(
            f"session-{next(self._ids)}",
            "fs",
            "2025-11-25",
            {"sampling": {}},
            {"name": "client"},
            self.reactor.seconds(),
        )
        session.scope, session.credential = scope, credentialKey
        session.variant = self.pool.variantFor(scope, credentialKey, credentials)
        assert session.variant is not None
        return session

    def handshake(self, proc: FakeProcess) -> list[Message]:
        """The child answers the gateway's initialize; what it got next."""
        [init] = proc.takeMessages()
        self.assertEqual(init["method"], "initialize")
        proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        initialized, *rest = proc.takeMessages()
        self.assertEqual(initialized, jsonrpc.notification("notifications/initialized"))
        return rest

    def open(self, session: Session) -> Deferred[Message]:
        """Open C{session}; answer the handshake of a child it started."""
        spawned = len(self.reactor.processes)
        opened = self.pool.open(session, initialize())
        if len(self.reactor.processes) > spawned:
            self.handshake(self.reactor.lastProcess)
        return opened

    def opened(self, session: Session) -> FakeProcess:
        self.successResultOf(self.open(session))
        return self.processOf(session)

    def processOf(self, session: Session) -> FakeProcess:
        pid = self.pool.childPid(session)
        [proc] = [p for p in self.reactor.processes if p.pid == pid and pid is not None]
        return proc

    def call(self, session: Session, proc: FakeProcess) -> tuple[Deferred[Message], Message]:
        """A request of C{session} in flight on C{proc}: the response and what the child got."""
        d = self.pool.forward(session, jsonrpc.request(next(self._ids), "tools/call"), None)
        [sent] = proc.takeMessages()
        return d, sent

    def answer(self, proc: FakeProcess, sent: Message) -> None:
        proc.reply(jsonrpc.resultResponse(sent["id"], {"ok": True}))
