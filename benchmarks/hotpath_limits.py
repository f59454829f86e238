#!/usr/bin/env python3
"""C{hotpath.py} with rate limits on: every C{tools/call} of the benchmark
passes all four buckets (principal, server, tool, principal-tool, each with
a daily quota), none of which refuses. Compare its figure with
C{hotpath.py}'s for what the limits cost per call.

With C{MCPGATEWAY_BENCH_NO_LIMITS=1} the gate is there with no limits
configured: what every gateway without C{"limits"} pays.

Usage: hotpath_limits.py [hotpath.py's options]
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]


def main() -> None:
    import hotpath

    from mcpgateway.config.quotas import parseQuotas
    from mcpgateway.governance.quotagate import QuotaGate
    from tests import http

    rate = {"calls": "1000000000/s", "burst": 1000000000, "daily": 1000000000}
    keys = ("principal", "server", "tool", "principalTool")
    # MCPGATEWAY_BENCH_NO_LIMITS=1: the gate a gateway without "limits" has.
    limits = parseQuotas(
        {} if os.environ.get("MCPGATEWAY_BENCH_NO_LIMITS") else dict.fromkeys(keys, rate)
    )
    plain = http.Harness.__init__

    def withLimits(self: http.Harness, *args: object, **kwargs: object) -> None:
        plain(self, *args, **kwargs)  # type: ignore[arg-type]
        self.site.resource.team.callQuotas = QuotaGate(self.reactor, lambda: limits)

    http.Harness.__init__ = withLimits  # type: ignore[method-assign]
    hotpath.main()


if __name__ == "__main__":
    main()
