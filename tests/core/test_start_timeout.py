"""A child's handshake has a deadline of its own (C{--start-timeout}):
a confined child's start (the launcher, bubblewrap, an C{npx} resolving
its package) may take longer than a short C{--request-timeout} allows a
call, and the calls keep that request timeout. Fake processes and a
fake clock."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.era2026.lazysupport import ERA2026_SUPPORT
from mcpgateway.core.fanout import OwnerFanout, SharedFanout
from mcpgateway.core.router import Router
from mcpgateway.core.spec import DEFAULT_START_TIMEOUT
from mcpgateway.core.upstream import ServerUnavailable, Upstream
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, FakeSession, fakeSpawner
from tests.http import spec

Message = dict[str, Any]
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}},
    "serverInfo": {"name": "child", "version": "9"},
}


class HandshakeDeadlineTests(SynchronousTestCase):
    """A shared child, its request timeout 5 s, its start timeout 60 s."""

    def upstream(self, requestTimeout: float = 5.0, startTimeout: float = 60.0) -> Upstream:
        self.reactor = FakeProcessReactor()
        return Upstream(
            spec("srv", timeout=requestTimeout),
            fakeSpawner(self.reactor, startTimeout=startTimeout),
            SharedFanout(),
            era2026=ERA2026_SUPPORT,
        )

    def initialize(self, proc: FakeProcess) -> Message:
        [init] = [m for m in proc.sentMessages() if m.get("method") == "initialize"]
        return dict(init)

    def test_the_default_start_timeout_is_a_minute(self) -> None:
        self.assertEqual(DEFAULT_START_TIMEOUT, 60.0)
        self.assertEqual(fakeSpawner(FakeProcessReactor()).startTimeout, 60.0)

    def test_a_slow_handshake_outlives_a_short_request_timeout(self) -> None:
        up = self.upstream()
        started = up.ensure()
        proc = self.reactor.lastProcess
        self.reactor.advance(30.0)  # far past the request timeout: still starting
        self.assertNoResult(started)
        proc.reply({"jsonrpc": "2.0", "id": self.initialize(proc)["id"], "result": INIT_RESULT})
        self.successResultOf(started)
        self.assertEqual(up.state, "running")
        self.assertEqual(proc.signals, [])

    def test_calls_keep_the_request_timeout(self) -> None:
        up = self.upstream()
        started = up.ensure()
        proc = self.reactor.lastProcess
        proc.reply({"jsonrpc": "2.0", "id": self.initialize(proc)["id"], "result": INIT_RESULT})
        self.successResultOf(started)
        call = up.router.request(
            FakeSession("a"), jsonrpc.request(7, "tools/call", {"name": "x"}), None
        )
        self.reactor.advance(5.0)
        answer = self.successResultOf(call)
        self.assertEqual(answer["error"]["code"], jsonrpc.REQUEST_TIMEOUT)
        self.assertIn("did not answer tools/call within 5 s", answer["error"]["message"])

    def test_a_handshake_never_answered_fails_at_the_start_timeout(self) -> None:
        up = self.upstream()
        started = up.ensure()
        proc = self.reactor.lastProcess
        self.reactor.advance(59.0)
        self.assertNoResult(started)
        self.reactor.advance(1.0)
        failure = self.failureResultOf(started, ServerUnavailable)
        self.assertIn("did not answer initialize within 60 s", failure.getErrorMessage())
        self.assertEqual(proc.signals, ["KILL"])

    def test_a_longer_request_timeout_is_the_handshakes_too(self) -> None:
        up = self.upstream(requestTimeout=120.0, startTimeout=60.0)
        started = up.ensure()
        self.reactor.advance(119.0)
        self.assertNoResult(started)
        self.reactor.advance(1.0)
        failure = self.failureResultOf(started, ServerUnavailable)
        self.assertIn("within 120 s", failure.getErrorMessage())

    def test_a_short_start_timeout_fails_a_silent_child_early(self) -> None:
        up = self.upstream(requestTimeout=5.0, startTimeout=2.0)
        started = up.ensure()
        self.reactor.advance(4.0)
        self.assertNoResult(started)  # never shorter than the request timeout
        self.reactor.advance(1.0)
        self.failureResultOf(started, ServerUnavailable)


class RouterStartTests(SynchronousTestCase):
    """The router times each handshake request by the start timeout."""

    def router(self, fanout: Any = None) -> Router:
        self.clock = Clock()
        router = Router("srv", self.clock, 5.0, fanout or SharedFanout(), startTimeout=60.0)
        self.sent: list[Message] = []
        router.attachChild(self.sent.append)
        return router

    def test_a_sessions_own_initialize_has_the_start_timeout(self) -> None:
        """A child of one session is initialized by its client: that
        request is its start."""
        owner = FakeSession("a")
        router = self.router(OwnerFanout(owner))
        router.attach(owner)
        init = router.request(owner, jsonrpc.request(0, "initialize", {}), None)
        call = router.request(owner, jsonrpc.request(1, "tools/list", {}), None)
        self.clock.advance(5.0)
        self.assertEqual(self.successResultOf(call)["error"]["code"], jsonrpc.REQUEST_TIMEOUT)
        self.assertNoResult(init)
        self.clock.advance(55.0)
        answer = self.successResultOf(init)
        self.assertEqual(answer["id"], 0)
        self.assertIn("did not answer initialize within 60 s", answer["error"]["message"])

    def test_a_era2026_childs_discover_has_the_start_timeout(self) -> None:
        router = self.router()
        discovered = router.call("server/discover")
        self.clock.advance(30.0)
        self.assertNoResult(discovered)
        [sent] = self.sent
        router.childMessage(jsonrpc.resultResponse(sent["id"], {"supportedVersions": []}))
        self.assertIn("result", self.successResultOf(discovered))

    def test_an_answered_handshake_leaves_no_timer(self) -> None:
        router = self.router()
        init = router.call("initialize", {})
        [sent] = self.sent
        router.childMessage(jsonrpc.resultResponse(sent["id"], INIT_RESULT))
        self.successResultOf(init)
        self.clock.advance(60.0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_a_reloaded_request_timeout_moves_the_handshakes_floor(self) -> None:
        router = self.router()
        router.setTimeout(120.0)
        init = router.call("initialize", {})
        self.clock.advance(100.0)
        self.assertNoResult(init)
        router.setTimeout(2.0)  # shorter again: the start timeout, 60 s, is the floor
        self.clock.advance(0)
        self.assertIn("within 60 s", self.successResultOf(init)["error"]["message"])
