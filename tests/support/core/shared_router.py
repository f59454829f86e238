"""SharedRouterCase: a shared child's router on a fake clock, for the tests
of what it asks the sessions sharing that child."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.router import Router

Message = dict[str, Any]


class SharedRouterCase(SynchronousTestCase):
    """A router of server C{server} (C{timeout} seconds a request) whose
    child's input collects in C{sent}, and whose ambiguous requests are told
    in C{told} as (method, sessions)."""

    server = "everything"
    timeout = 60.0

    def setUp(self) -> None:
        self.clock = Clock()
        self.told: list[tuple[str, int]] = []
        self.router = Router(
            self.server,
            self.clock,
            self.timeout,
            SharedFanout(),
            onAmbiguous=lambda method, n: self.told.append((method, n)),
        )
        self.sent: list[Message] = []
        self.router.attachChild(self.sent.append)

    def take(self) -> list[Message]:
        """What the child was sent since the last take."""
        out, self.sent[:] = list(self.sent), []
        return out
