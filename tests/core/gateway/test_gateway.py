"""The gateway as a service: nothing starts before C{startService} (twistd
daemonizes in between), requests wait for an npx resolution at most their
timeout, a stop lets requests in flight finish first, and the instance lock
and C{state.json} are let go of last."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.gateway.gateway import Gateway, GatewayService
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Resolution
from mcpgateway.ops.services import InstanceService
from mcpgateway.ops.statedir import AlreadyRunning, InstanceLock
from mcpgateway.protocol import jsonrpc
from mcpgateway.report.health import healthBody
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, spec
from tests.support.core.draining import InFlight

NPX = ServerSpec(
    name="mem",
    command="npx",
    args=("-y", "@scope/server-memory"),
    requestTimeout=5.0,
    executable="/usr/bin/npx",
)


class FakeResolver:
    """Resolves whatever it is asked, when the test says so."""

    def __init__(self) -> None:
        self.asked: list[ServerSpec] = []
        self.pending: list[Deferred[ServerSpec]] = []
        self.failures: dict[str, str] = {}

    def wrapperOf(self, spec: ServerSpec) -> tuple[str, str, list[str]] | None:
        if spec.command != "npx":
            return None
        return "npx", spec.args[-1], []

    def resolve(self, spec: ServerSpec) -> Deferred[ServerSpec]:
        self.asked.append(spec)
        d: Deferred[ServerSpec] = Deferred()
        self.pending.append(d)
        return d

    def failureOf(self, spec: ServerSpec) -> str | None:
        return self.failures.get(spec.name)

    def finish(self, spec: ServerSpec) -> None:
        self.pending.pop(0).callback(spec)


def resolvedSpec() -> ServerSpec:
    return dataclasses.replace(
        NPX, command="/opt/node", args=("/cache/index.js",), executable="/opt/node"
    )


class StartTests(SynchronousTestCase):
    """Work that spawns or schedules starts in startService."""

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.resolver = FakeResolver()
        self.gateway = Gateway({"mem": NPX}, fakeSpawner(self.reactor), resolver=self.resolver)

    def test_nothing_starts_before_start_service(self) -> None:
        self.assertEqual(self.resolver.asked, [])
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertEqual(self.reactor.processes, [])
        GatewayService(self.gateway).startService()
        self.assertEqual([s.name for s in self.resolver.asked], ["mem"])
        self.assertEqual(
            self.gateway.pools["mem"].resolution,
            Resolution("pending", "installing npx @scope/server-memory"),
        )

    def test_request_waits_for_resolution_at_most_its_timeout(self) -> None:
        self.gateway.start()
        pool = self.gateway.pools["mem"]
        session, opened = self.gateway.opener.openSession(
            "mem", jsonrpc.request(1, "initialize", {"protocolVersion": "2025-11-25"}), "2025-11-25"
        )
        self.assertNoResult(opened)
        self.reactor.advance(4.9)
        self.assertNoResult(opened)
        self.reactor.advance(0.1)
        failure = self.failureResultOf(opened)
        message = str(failure.value)
        self.assertIn("server 'mem' is not ready", message)
        self.assertIn("npx @scope/server-memory", message)
        self.assertEqual(self.reactor.processes, [])
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        # The resolution goes on; the next request starts the real binary.
        self.resolver.finish(resolvedSpec())
        self.assertEqual(pool.resolution, Resolution("resolved", "/opt/node /cache/index.js"))
        _, again = self.gateway.opener.openSession(
            "mem", jsonrpc.request(1, "initialize", {"protocolVersion": "2025-11-25"}), "2025-11-25"
        )
        self.assertEqual(self.reactor.lastProcess.executable, "/opt/node")
        self.assertNoResult(again)
        del session

    def test_request_starts_once_resolution_finishes_in_time(self) -> None:
        self.gateway.start()
        _, opened = self.gateway.opener.openSession(
            "mem", jsonrpc.request(1, "initialize", {"protocolVersion": "2025-11-25"}), "2025-11-25"
        )
        self.reactor.advance(2)
        self.resolver.finish(resolvedSpec())
        self.assertEqual(len(self.reactor.processes), 1)
        # The launch timer was cancelled with the wait.
        self.assertTrue(all(call.getTime() >= 5.0 + 2 for call in self.reactor.getDelayedCalls()))
        self.assertNoResult(opened)

    def test_failed_resolution_is_reported(self) -> None:
        self.gateway.start()
        self.resolver.failures["mem"] = "npm install exited with code 1"
        self.resolver.finish(NPX)
        self.assertEqual(
            healthBody(self.gateway.readModel.status())["servers"]["mem"]["resolution"],
            {
                "state": "failed",
                "detail": "npx @scope/server-memory: npm install exited with code 1",
            },
        )


class DrainTests(InFlight):
    """SIGTERM lets requests in flight finish first."""

    def test_in_flight_request_finishes_during_drain(self) -> None:
        response = self.call(7)
        childId = self.h.process().sentMessages()[-1]["id"]
        stopped = self.h.gateway.stop()
        self.assertNoResult(stopped)
        self.assertFalse(self.h.process().stdinClosed)
        self.h.reactor.advance(2)
        self.h.process().reply({"jsonrpc": "2.0", "id": childId, "result": {"done": True}})
        self.assertEqual(
            response.events()[-1], {"jsonrpc": "2.0", "id": 7, "result": {"done": True}}
        )
        self.assertTrue(self.h.process().stdinClosed)  # then the children stop

    def test_what_is_left_after_the_deadline_gets_an_error(self) -> None:
        response = self.call(8)
        self.h.gateway.stop()
        self.h.reactor.advance(4.9)
        self.assertEqual(response.events(), [])
        self.h.reactor.advance(0.1)
        [event] = response.events()
        self.assertEqual(event["error"]["code"], jsonrpc.SERVER_UNAVAILABLE)
        self.assertIn("shutting down", event["error"]["message"])

    def test_nothing_in_flight_stops_at_once(self) -> None:
        self.h.gateway.stop()
        self.assertTrue(self.h.process().stdinClosed)


class _Slow(Service):
    def __init__(self) -> None:
        self.stopping: Deferred[None] = Deferred()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return self.stopping


class StopOrderTests(SynchronousTestCase):
    """The lock and state.json go only after everything else."""

    def test_lock_and_state_outlive_the_other_services(self) -> None:
        stateDir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, stateDir, True)
        lock = InstanceLock(stateDir)
        lock.acquire()
        root = InstanceService(stateDir, lock, {}, FakeProcessReactor())
        slow = _Slow()
        slow.setServiceParent(root)
        root.startService()
        root.listening(9100)
        self.assertEqual(json.loads((stateDir / "state.json").read_text())["port"], 9100)
        stopped = root.stopService()
        self.assertNoResult(stopped)
        self.assertTrue((stateDir / "state.json").exists())
        self.assertRaises(AlreadyRunning, InstanceLock(stateDir).acquire)
        slow.stopping.callback(None)
        self.successResultOf(stopped)
        self.assertFalse((stateDir / "state.json").exists())
        second = InstanceLock(stateDir)
        second.acquire()  # free now
        second.release()


class CountTests(SynchronousTestCase):
    """One request count in /health, status and /metrics."""

    def test_stateful_count_survives_the_sessions_end(self) -> None:
        from mcpgateway.report.metrics import renderMetrics

        h = Harness({"st": spec("st", mode="stateful")})
        sid = h.initialize("st")
        response = h.request(
            "POST", "/st/mcp", {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session=sid
        )
        h.process().reply(
            {"jsonrpc": "2.0", "id": h.process().sentMessages()[-1]["id"], "result": {"tools": []}}
        )
        assert response.events()[0]["result"] == {"tools": []}
        before = healthBody(h.gateway.readModel.status())["servers"]["st"]["requests"]
        self.assertEqual(before, 2)  # initialize and tools/list, both the client's
        h.request("DELETE", "/st/mcp", session=sid)
        self.assertEqual(
            healthBody(h.gateway.readModel.status())["servers"]["st"]["requests"], before
        )
        metrics = renderMetrics(h.gateway, "/nonexistent").decode()
        total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith('mcpgateway_requests_total{server="st"')
        )
        self.assertEqual(total, before)


class SessionEndedTests(SynchronousTestCase):
    """A cluster replica keeps the ids of the sessions that end for good
    (an ended session was rebuilt from its sealed id); a stop
    hands its sessions on to the next process, so they are not told."""

    def setUp(self) -> None:
        self.h = Harness({"srv": spec("srv")})
        self.ended: list[str] = []
        self.h.gateway.sessionEnded = lambda session: self.ended.append(session.id)

    def test_a_session_ended_by_delete_is_told(self) -> None:
        sid = self.h.initialize()
        response = self.h.request("DELETE", "/srv/mcp", session=sid)
        self.assertEqual(response.status, 200)
        self.assertEqual(self.ended, [sid])

    def test_sessions_a_stop_hands_on_are_not_told(self) -> None:
        self.h.initialize()
        self.h.gateway.stop()  # the children's exits end it
        self.assertEqual(list(self.h.gateway.sessions), [])
        self.assertEqual(self.ended, [])
