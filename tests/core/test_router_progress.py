"""A request whose child keeps reporting progress is not cut at its
timeout: each progress notification restarts the timeout from then, up to
L{PROGRESS_CAP} seconds after the request was sent
(L{mcpgateway.core.router})."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core.router import PROGRESS_CAP
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeSession, RecordingSink, capturedGatewayLogs
from tests.support.core.shared_router import SharedRouterCase

Message = dict[str, Any]


class ProgressTimeoutTests(SharedRouterCase):
    def call(self) -> tuple[Deferred[Message], RecordingSink, Any]:
        """A tools/call with a progress token; (response, sink, its child id)."""
        sink = RecordingSink()
        session = FakeSession("s")
        self.router.attach(session)
        message = jsonrpc.request(
            7, "tools/call", {"name": "long", "_meta": {"progressToken": "t"}}
        )
        d = self.router.request(session, message, sink)
        [out] = self.take()
        return d, sink, out["id"]

    def progress(self, childId: Any, n: int) -> None:
        self.router.childMessage(
            jsonrpc.notification(
                "notifications/progress", {"progressToken": childId, "progress": n}
            )
        )

    def test_without_progress_the_timeout_counts_from_the_sending(self) -> None:
        d, _, _ = self.call()
        self.clock.advance(self.timeout)
        error = self.successResultOf(d)["error"]
        self.assertEqual(
            error["message"], "server 'everything' did not answer tools/call within 60 s"
        )

    def test_progress_restarts_the_timeout(self) -> None:
        d, sink, childId = self.call()
        for n in range(1, 5):
            self.clock.advance(self.timeout - 1)
            self.progress(childId, n)
        self.assertNoResult(d)
        self.assertEqual([m["params"]["progressToken"] for m in sink.messages], ["t"] * 4)
        self.clock.advance(self.timeout - 0.01)
        self.assertNoResult(d)
        with capturedGatewayLogs() as events:
            self.clock.advance(0.01)
        error = self.successResultOf(d)["error"]
        self.assertEqual(error["code"], jsonrpc.REQUEST_TIMEOUT)
        self.assertIn("within 60 s of its last progress", error["message"])
        [said] = [e for e in events if "timed out" in e.get("log_format", "")]
        self.assertEqual(said["progress"], ", its last progress 60s ago")

    def test_progress_extends_it_up_to_the_cap_only(self) -> None:
        d, _, childId = self.call()
        step = self.timeout / 2
        elapsed = 0.0
        while True:
            self.clock.advance(step)
            elapsed += step
            if d.called:
                break
            self.progress(childId, int(elapsed))
        self.assertLessEqual(elapsed, PROGRESS_CAP)
        self.assertGreater(elapsed, PROGRESS_CAP - self.timeout)
        error = self.successResultOf(d)["error"]
        self.assertIn(f"nor within {PROGRESS_CAP:g} s of being sent", error["message"])

    def test_the_answer_after_progress_is_the_childs(self) -> None:
        d, _, childId = self.call()
        self.clock.advance(self.timeout - 1)
        self.progress(childId, 1)
        self.clock.advance(self.timeout - 1)
        self.router.childMessage(jsonrpc.resultResponse(childId, {"content": []}))
        self.assertEqual(self.successResultOf(d)["result"], {"content": []})
        self.clock.advance(self.timeout)
