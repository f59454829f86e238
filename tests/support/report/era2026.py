"""One server's 2026-era serving counts, each a different number: what the
tests of the health line and of the metrics render."""

from __future__ import annotations

from mcpgateway.core.status import Era2026Stats

ERA2026_STATS = Era2026Stats(
    requests=9,
    inputRounds=3,
    inputExpired=1,
    badRequestStates=2,
    listenStreams=4,
    suspendedCalls=5,
    refusedServerRequests=6,
    clients=8,
)
