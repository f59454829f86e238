"""A running child moved from a server's replaced pool to the pool that
replaces it, in one process: your shared child becomes your route's child
in a pool with a child per launch, with its process, its memory and its
router's ids going on; a busy child stays with the old pool; a moved
child whose sandbox shows what the new routes name is stopped (fake
processes, no reactor)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.childmove import CAME, checkMoved, moveChild
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.runningchildren import movedChildren
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import Variant
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, fakeSpawner
from tests.support.core.pools.keyedplacement import BASE, INIT_RESULT, A, initialize, variant


class Writer:
    """A child's stdin pipe with nothing left to send."""

    dataBuffer = b""
    offset = 0
    _tempDataLen = 0


def withPipes(proc: FakeProcess) -> FakeProcess:
    """C{proc} with the three pipes a real child's transport has."""
    proc.pipes = {0: Writer(), 1: object(), 2: object()}  # type: ignore[attr-defined]
    return proc


class Moving(SynchronousTestCase):
    """Your shared pool with a running child, and the pool with a child per
    launch that replaces it."""

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        spawner = fakeSpawner(self.reactor)
        self.spawner = spawner
        yours = dataclasses.replace(BASE, mode="global")
        self.old = makePool(yours, spawner)
        # A project's entry of that name came: a child per launch, yours under your route.
        keyed = dataclasses.replace(
            BASE, variants=(Variant("", yours, "yours"), variant(A, "/ws/a"))
        )
        self.new = makePool(keyed, spawner)
        assert isinstance(self.old, ServerPool) and isinstance(self.new, ServerPool)
        session = Session("s1", "fs", "2025-11-25", {}, {"name": "client"}, 0.0)
        opened = self.old.open(session, initialize())
        proc = self.reactor.lastProcess
        [init] = proc.takeMessages()
        proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        proc.takeMessages()  # notifications/initialized
        self.successResultOf(opened)
        self.proc = withPipes(proc)


class MoveChildTests(Moving):
    def test_your_shared_child_goes_on_as_your_routes_child_of_the_new_pool(self) -> None:
        [(before, after)] = movedChildren(self.old, self.new)
        child = before.child
        asked = before.router.call("ping")
        [ping] = self.proc.takeMessages()
        self.proc.reply(jsonrpc.resultResponse(ping["id"], {}))
        self.successResultOf(asked)

        self.assertEqual(moveChild(before, after, self.spawner), (None, None))

        self.assertIs(after.child, child)
        self.assertEqual((after.state, after.adopted), (Lifecycle.RUNNING, True))
        self.assertEqual(after.initializeResult["serverInfo"], INIT_RESULT["serverInfo"])  # type: ignore[index]
        self.assertEqual((before.child, before.state), (None, Lifecycle.STOPPED))
        # The process goes on: nothing stopped it, and it answers the new pool.
        self.assertEqual((self.proc.signals, self.proc.stdinClosed), ([], False))
        self.assertEqual(len(self.reactor.processes), 1)
        answered = after.router.call("tools/list")
        [listed] = self.proc.takeMessages()
        self.assertGreater(listed["id"], ping["id"])  # ids go on past the old router's
        self.proc.reply(jsonrpc.resultResponse(listed["id"], {"tools": []}))
        self.assertEqual(self.successResultOf(answered)["result"], {"tools": []})
        events: list[Any] = [e for e in after.events.recent() if e["kind"] == "started"]
        self.assertIn(CAME, events[-1]["text"])
        # The old pool's stop no longer reaches it.
        self.old.stopAll()
        self.assertEqual((self.proc.signals, self.proc.stdinClosed), ([], False))

    def test_a_child_with_a_request_in_flight_stays_with_the_old_pool(self) -> None:
        [(before, after)] = movedChildren(self.old, self.new)
        before.router.call("tools/list")
        why, _ = moveChild(before, after, self.spawner)
        self.assertEqual(why, "a request is in flight on it")
        self.assertIsNotNone(before.child)
        self.assertIsNone(after.child)


class Unmasked:
    """A moved child's sandbox, read: what it sees that its new pool's would hide."""

    def __init__(self, paths: tuple[str, ...]) -> None:
        self.paths = paths

    def unmasked(self) -> tuple[str, ...]:
        return self.paths


def inThread(f: Callable[..., Any], *args: Any) -> Deferred[Any]:
    return succeed(f(*args))


class CheckMovedTests(Moving):
    def moved(self) -> Upstream:
        [(before, after)] = movedChildren(self.old, self.new)
        self.assertEqual(moveChild(before, after, self.spawner), (None, None))
        return after

    def test_a_moved_child_that_sees_nothing_more_goes_on(self) -> None:
        after = self.moved()
        check: Any = Unmasked(())
        self.assertIsNone(self.successResultOf(checkMoved(after, check, inThread)))
        self.assertEqual((after.state, self.proc.stdinClosed), (Lifecycle.RUNNING, False))

    def test_a_moved_child_that_sees_a_new_routes_folder_is_stopped(self) -> None:
        after = self.moved()
        check: Any = Unmasked(("/ws/a",))
        why = self.successResultOf(checkMoved(after, check, inThread))
        self.assertIn("/ws/a", why or "")
        self.assertTrue(self.proc.stdinClosed)  # its stop begins: stdin closed first

    def test_a_moved_child_whose_sandbox_cannot_be_read_is_stopped(self) -> None:
        after = self.moved()
        check: Any = Unmasked(())
        why = self.successResultOf(checkMoved(after, check, None))
        self.assertEqual(why, "its sandbox could not be read here")
        self.assertTrue(self.proc.stdinClosed)
