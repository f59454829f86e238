"""What a pool knows of 2025-11-25 tasks: only the reading of a child's
C{initialize} result it is handed
(L{mcpgateway.core.pools.serverpool.ServerPool.taskSupport}), which the
gateway plugs in from the tasks feature; no module of the pools imports
that feature."""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.pool import PoolLike, TaskSupport
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.tasks.handshake import speaksTasks
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.support.core.pools.pool import SPEC, clientInitialize, ok, serverPoolOf
from tests.support.house import MODULES, imported

TASKS: dict[str, Any] = {"tasks": {"requests": {"tools": {"call": {}}}}}


def test_no_module_of_the_pools_imports_the_tasks_feature() -> None:
    arrows = [
        (module, line, name)
        for module, path in MODULES.items()
        if module.startswith("mcpgateway.core.pools.")
        for line, name in imported(path)
        if name.startswith("mcpgateway.core.tasks")
    ]
    assert arrows == []


class ChildTasksTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.read: list[Any] = []

    def opened(self, pool: PoolLike, capabilities: dict[str, Any]) -> Session:
        """A session open on C{pool}'s shared child, whose C{initialize}
        result declares C{capabilities}."""
        session = Session("a", "srv", "2025-11-25", {}, {"name": "client"}, 0.0)
        d = pool.open(session, clientInitialize(0, session.protocolVersion))
        proc = self.reactor.lastProcess
        [init] = proc.takeMessages()
        proc.reply(ok(init["id"], {"protocolVersion": "2025-11-25", "capabilities": capabilities}))
        self.successResultOf(d)
        return session

    def reading(self, verdict: bool) -> TaskSupport:
        def reads(initializeResult: Any) -> bool:
            self.read.append(initializeResult)
            return verdict

        return reads

    def test_the_child_serves_tasks_as_the_reading_handed_in_says(self) -> None:
        for verdict in (True, False):
            pool = makePool(SPEC, fakeSpawner(self.reactor), taskSupport=self.reading(verdict))
            session = self.opened(pool, {"tools": {}})
            self.assertIs(self.successResultOf(pool.childTasks(session)), verdict)
        self.assertEqual([r["capabilities"] for r in self.read], [{"tools": {}}] * 2)

    def test_without_a_reading_no_child_is_asked_to_serve_tasks(self) -> None:
        pool = makePool(SPEC, fakeSpawner(self.reactor))
        session = self.opened(pool, {"tools": {}, **TASKS})
        self.assertIs(self.successResultOf(pool.childTasks(session)), False)

    def test_the_gateway_hands_its_pools_the_tasks_features_reading(self) -> None:
        specs: dict[str, ServerSpec] = {
            "srv": SPEC,
            "late": dataclasses.replace(SPEC, name="late"),
        }
        gateway = Gateway({"srv": specs["srv"]}, fakeSpawner(self.reactor))
        gateway.reconfigurer.reconfigure(specs)  # a server added later is handed it too
        for name in specs:
            self.assertIs(serverPoolOf(gateway.pools[name]).taskSupport, speaksTasks)
        speaking = self.opened(gateway.pools["srv"], {"tools": {}, **TASKS})
        self.assertIs(self.successResultOf(gateway.pools["srv"].childTasks(speaking)), True)

    def test_a_sessions_own_child_is_read_from_its_own_initialize(self) -> None:
        """A per-session child answers its session's C{initialize} itself
        (forwarded): that answer says whether it serves tasks, so a
        task-augmented call keeps its augmentation on the way to it."""
        perSession = dataclasses.replace(SPEC, mode="stateful")
        for capabilities, verdict in (({"tools": {}, **TASKS}, True), ({"tools": {}}, False)):
            self.read.clear()
            pool = makePool(perSession, fakeSpawner(self.reactor), taskSupport=speaksTasks)
            session = Session("a", "srv", "2025-11-25", {}, {"name": "client"}, 0.0)
            d = pool.open(session, clientInitialize(0, session.protocolVersion))
            proc = self.reactor.lastProcess
            [init] = proc.takeMessages()
            self.assertEqual(init["method"], "initialize")  # the session's own, forwarded
            result: dict[str, Any] = {"protocolVersion": "2025-11-25", "capabilities": capabilities}
            proc.reply(ok(init["id"], result))
            self.successResultOf(d)
            self.assertIs(self.successResultOf(pool.childTasks(session)), verdict)
