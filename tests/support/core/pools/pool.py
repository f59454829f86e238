"""What tests/core/pools/test_pool.py shares with the other tests: PoolCase,
SPEC, clientInitialize, describe, ok, and the white-box readers of a
pool and its placement: keyedOf, perSessionOf, placementOf, serverPoolOf,
sharedOf."""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.keyedplacement import KeyedPlacement
from mcpgateway.core.pools.placement import SessionPlacement
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import jsonrpc
from mcpgateway.report.health import serverLine
from tests.fakes import FakeProcess, FakeProcessReactor, FakeSession, fakeSpawner

Message = dict[str, Any]

EXE = "/opt/srv/bin/srv"
SPEC = ServerSpec(
    name="srv",
    command="srv",
    args=("--flag",),
    env=(("TOKEN", "t"),),
    cwd="/work/dir",
    requestTimeout=10.0,
    executable=EXE,
)
ENVIRON = {"PATH": "/usr/bin", "HOME": "/home/u"}
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}, "resources": {"subscribe": True}},
    "serverInfo": {"name": "child", "version": "9"},
}


INITIALIZED = jsonrpc.notification("notifications/initialized")


def clientInitialize(requestId: Any, version: str) -> Message:
    return jsonrpc.request(
        requestId,
        "initialize",
        {
            "protocolVersion": version,
            "capabilities": {"sampling": {}},
            "clientInfo": {"name": "client", "version": "1"},
        },
    )


def ok(requestId: Any, result: Any) -> Message:
    return jsonrpc.resultResponse(requestId, result)


def serverPoolOf(pool: object) -> ServerPool:
    """C{pool}, for what only the pool itself holds (white-box): how it
    was wired, its breaker, its launch spec."""
    assert isinstance(pool, ServerPool)
    return pool


def placementOf(pool: object) -> object:
    """The placement of C{pool} (white-box)."""
    assert isinstance(pool, ServerPool)
    return pool.placement


def sharedOf(pool: object) -> SharedPlacement:
    """The shared placement of C{pool} (white-box); fails if it has another."""
    assert isinstance(pool, ServerPool) and isinstance(pool.placement, SharedPlacement)
    return pool.placement


def keyedOf(pool: object) -> KeyedPlacement:
    """The keyed placement of C{pool} (white-box); fails if it has another."""
    assert isinstance(pool, ServerPool) and isinstance(pool.placement, KeyedPlacement)
    return pool.placement


def perSessionOf(pool: object) -> ServerPool:
    """C{pool}, whose every session has a child of its own; fails if it has
    another placement."""
    assert isinstance(pool, ServerPool) and isinstance(pool.placement, SessionPlacement)
    return pool


def describe(pool: Any) -> dict[str, Any]:
    """The pool's line of C{/health} (without its session count), from its status."""
    return serverLine(pool.status(0))


class PoolCase(SynchronousTestCase):
    mode = "stateless"

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.spec = dataclasses.replace(SPEC, mode=self.mode)
        self.pool = self.makePool(self.spec)

    def makePool(self, spec: ServerSpec) -> Any:
        """The pool of C{spec} (shared or per session: white-box)."""
        pool = makePool(spec, fakeSpawner(self.reactor, environ=ENVIRON))
        assert isinstance(pool, ServerPool)
        assert isinstance(pool.placement, (SharedPlacement, SessionPlacement))
        return pool

    def answerInitialize(self, proc: FakeProcess, result: Message | None = None) -> None:
        [init] = proc.takeMessages()
        self.assertEqual(init["method"], "initialize")
        proc.reply(ok(init["id"], INIT_RESULT if result is None else result))

    def openRunning(self, session: FakeSession, requestId: Any = 0) -> Message:
        """Open C{session} on the shared child, initializing it when needed."""
        return self.openRunningOn(self.pool, session, requestId)

    def openRunningOn(self, pool: Any, session: FakeSession, requestId: Any = 0) -> Message:
        """L{openRunning} on C{pool}."""
        d = pool.open(session, clientInitialize(requestId, session.protocolVersion))
        if not d.called:
            self.answerInitialize(self.reactor.lastProcess)
            self.assertEqual(self.reactor.lastProcess.takeMessages(), [INITIALIZED])
        return self.successResultOf(d)
