"""AggregateEra2026Case: a gateway with fake children and the aggregate's
2026 service on it, for the tests of the aggregate and search endpoints'
2026-07-28 calls."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.era2026 import AggregateEra2026
from tests.support.web.aggregate_era2026 import AggregateEra2026Harness
from tests.support.web.aggregate_web import fresh


class AggregateEra2026Case(SynchronousTestCase):
    """C{agg} serves the fresh fake servers (alpha's calls held when
    C{holdAlpha}, tasks when C{withTasks}); C{service} answers the calls of
    the endpoint named C{endpoint}."""

    holdAlpha = False
    withTasks = False
    endpoint = "default"

    def setUp(self) -> None:
        servers = fresh()
        servers["alpha"].hold = self.holdAlpha
        self.agg = AggregateEra2026Harness(servers, tasks=self.withTasks)
        self.service = AggregateEra2026(self.agg.gateway, self.endpoint)
