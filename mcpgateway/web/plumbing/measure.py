# -*- test-case-name: tests.core.test_tracing -*-
"""The end of one client request, as the metrics and the trace see it.

One job: when a request of C{/<server>/mcp} (either era) is answered or
fails, record its server operation duration (L{mcpgateway.core.tracing}'s
histograms, on C{/metrics}) and end its SERVER span, with one outcome for
both: C{ok}, C{error} or C{cancelled}.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from mcpgateway.core import tracing


def answered(
    result: Any,
    operations: tracing.Operations,
    clock: IReactorTime,
    server: str,
    method: str,
    started: float,
    span: tracing.Span | None,
    outcome: str | None = None,
) -> Any:
    """Record that a request of C{server} for C{method}, started at
    C{started}, ended with C{result} (a response or a C{Failure}); returns
    C{result}, for a Deferred's chain. C{outcome}: when the caller knows it."""
    if outcome is None:
        if isinstance(result, Failure):
            outcome = "cancelled" if result.check(CancelledError) else "error"
        else:
            outcome = tracing.outcomeOf(result)
    operations.serverOperation(server, method, outcome, clock.seconds() - started)
    if span is not None:
        tracing.finish(span, outcome, result if isinstance(result, dict) else None)
    return result
