"""A gateway stopping with a request in flight: what the drain tests of the
gateway and of a drain given up on start from."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.http import Harness, Response, spec


class InFlight(SynchronousTestCase):
    """A gateway with a 5 s drain and a session that can call a slow tool."""

    def setUp(self) -> None:
        self.h = Harness({"srv": spec("srv")})
        self.h.gateway.drainTimeout = 5.0
        self.sid = self.h.initialize()

    def call(self, requestId: int) -> Response:
        """A C{tools/call} of the slow tool, left unanswered by the child."""
        return self.h.request(
            "POST",
            "/srv/mcp",
            {"jsonrpc": "2.0", "id": requestId, "method": "tools/call", "params": {"name": "slow"}},
            session=self.sid,
        )
