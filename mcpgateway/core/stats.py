# -*- test-case-name: tests.report.test_metrics,tests.core.test_tracing,tests.core.test_stats -*-
"""Request statistics of one server (L{RequestStats}: counts by method and
outcome, a latency histogram, and what its sandbox likely refused its tool
calls), and the operation metrics of the OpenTelemetry MCP conventions
(L{operationsFor}: the duration histograms C{mcp.server.operation.duration},
C{mcp.client.operation.duration} and C{mcp.server.session.duration}, kept
always, since they are on C{/metrics}, and handed to the process's tracer
too when there is one, L{mcpgateway.core.tracing}). What a request's end
records, in one module: a call without a tracer reaches no other.

Bounded by construction: methods outside the MCP set count as C{other}, so
no label ever carries a tool name, an argument or a session; a few
refusals are kept, each once."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from typing import Any
from weakref import WeakKeyDictionary

from twisted.internet.defer import CancelledError
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from mcpgateway.core import tracing
from mcpgateway.core.tracing import AttributeValue, Span

METHODS = frozenset(
    {
        "initialize",
        "ping",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/read",
        "resources/templates/list",
        "resources/subscribe",
        "resources/unsubscribe",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "logging/setLevel",
    }
)
OUTCOMES = ("ok", "error", "timeout", "child_exit", "cancelled")
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Upper bounds (seconds) of the latency histogram's buckets; +Inf is implied."""
MAX_REFUSALS = 8
"""The sandbox refusals a server's status keeps (the first ones)."""
MAX_REFUSALS_TOLD = 256
"""The refusals (paths) of one server told once each; beyond, none is."""


class RequestStats:
    """Counters of one server, shared by all its children's routers."""

    __slots__ = (
        "ambiguousServerRequests",
        "bucketCounts",
        "bytesIn",
        "bytesOut",
        "count",
        "lateReplies",
        "refusalsTold",
        "requests",
        "sandboxRefusals",
        "sum",
    )

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str]] = Counter()
        self.bytesIn = 0
        """Bytes read from children that have exited (live ones count their own)."""
        self.bytesOut = 0
        self.lateReplies = 0
        """Replies that came after their request timed out or was cancelled."""
        self.ambiguousServerRequests = 0
        """Child-to-client requests refused: no session could be proven to be the requester."""
        self.bucketCounts = [0] * (len(BUCKETS) + 1)
        self.count = 0
        self.sum = 0.0
        self.sandboxRefusals: dict[str, str] = {}
        """What its sandbox likely refused its tool calls (their error
        results, L{mcpgateway.core.refusals}): the first L{MAX_REFUSALS}
        lines, by what each refusal is known by (its path)."""
        self.refusalsTold: set[str] = set()
        """Every refusal told so far, by what it is known by (at most
        L{MAX_REFUSALS_TOLD}): each is logged once."""

    def record(self, method: str, outcome: str, seconds: float) -> None:
        """One request ended with C{outcome} after C{seconds}."""
        self.requests[(method if method in METHODS else "other", outcome)] += 1
        self.bucketCounts[bisect_left(BUCKETS, seconds)] += 1
        self.count += 1
        self.sum += seconds

    def refused(self, key: str, note: str) -> bool:
        """A refusal of its sandbox, known by C{key} (its path), told in
        C{note}: whether it is new (to be logged); the first
        L{MAX_REFUSALS} are kept for its status."""
        if key in self.refusalsTold or len(self.refusalsTold) >= MAX_REFUSALS_TOLD:
            return False
        self.refusalsTold.add(key)
        if len(self.sandboxRefusals) < MAX_REFUSALS:
            self.sandboxRefusals[key] = note
        return True


def outcomeOf(response: Any) -> str:
    """C{ok} for a JSON-RPC result, else C{error}."""
    return "ok" if isinstance(response, dict) and "result" in response else "error"


# -- the operation metrics ---------------------------------------------------

SESSION_BUCKETS = (1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)
"""Upper bounds (seconds) of the session duration histogram; +Inf implied."""
KNOWN_METHODS = METHODS | {"server/discover", "subscriptions/listen"}


def answered(
    result: Any,
    operations: Operations,
    clock: IReactorTime,
    server: str,
    method: str,
    started: float,
    span: Span | None,
    outcome: str | None = None,
) -> Any:
    """The end of one client request of C{server} for C{method} (either
    era), started at C{started}, with C{result} (a response or a
    C{Failure}): its server operation's duration on the metrics, and its
    SERVER span ended, with one outcome for both (C{ok}, C{error},
    C{cancelled}; C{outcome}: when the caller knows it). Returns C{result},
    for a Deferred's chain."""
    if outcome is None:
        if isinstance(result, Failure):
            outcome = "cancelled" if result.check(CancelledError) else "error"
        else:
            outcome = outcomeOf(result)
    operations.serverOperation(server, method, outcome, clock.seconds() - started)
    if span is not None:
        tracing.finish(span, outcome, result if isinstance(result, dict) else None)
    return result


def methodLabel(method: str) -> str:
    """C{method} as a label: an MCP method, or C{other}."""
    return method if method in KNOWN_METHODS else "other"


class Histogram:
    """Cumulative-ready bucket counts, their sum and count."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value


class Operations:
    """The convention's duration histograms, by bounded labels: server
    operations (a client's request to the gateway, until answered) and
    client operations (a request of the gateway to a child) by server,
    method and outcome; session durations by server."""

    def __init__(self) -> None:
        self.server: dict[tuple[str, str, str], Histogram] = {}
        self.client: dict[tuple[str, str, str], Histogram] = {}
        self.sessions: dict[str, Histogram] = {}

    def clear(self) -> None:
        self.server.clear()
        self.client.clear()
        self.sessions.clear()

    def serverOperation(self, server: str, method: str, outcome: str, seconds: float) -> None:
        """A client request to C{server} ended with C{outcome}."""
        self._observe(
            self.server, "mcp.server.operation.duration", server, method, outcome, seconds
        )

    def clientOperation(self, server: str, method: str, outcome: str, seconds: float) -> None:
        """A request to a child of C{server} ended with C{outcome}."""
        self._observe(
            self.client, "mcp.client.operation.duration", server, method, outcome, seconds
        )

    def session(self, server: str, seconds: float) -> None:
        """A session of C{server} ended after C{seconds}."""
        histogram = self.sessions.get(server)
        if histogram is None:
            histogram = self.sessions[server] = Histogram(SESSION_BUCKETS)
        histogram.observe(max(seconds, 0.0))
        active = tracing.tracer
        if active is not None:
            active.recordDuration(
                "mcp.server.session.duration", seconds, {"mcpgateway.server": server}
            )

    def _observe(
        self,
        table: dict[tuple[str, str, str], Histogram],
        metric: str,
        server: str,
        method: str,
        outcome: str,
        seconds: float,
    ) -> None:
        key = (server, methodLabel(method), outcome)
        histogram = table.get(key)
        if histogram is None:
            histogram = table[key] = Histogram(BUCKETS)
        histogram.observe(max(seconds, 0.0))
        active = tracing.tracer
        if active is not None:
            attributes: dict[str, AttributeValue] = {
                "mcp.method.name": key[1],
                "mcpgateway.server": server,
            }
            if outcome != "ok":
                attributes["error.type"] = outcome
            active.recordDuration(metric, seconds, attributes)


_registries: WeakKeyDictionary[object, Operations] = WeakKeyDictionary()
_unkeyed = Operations()


def operationsFor(clock: object) -> Operations:
    """The operation histograms of the gateway that runs on C{clock} (its
    reactor: one in a process; each test's own fake clock keeps its own)."""
    try:
        found = _registries.get(clock)
        if found is None:
            found = _registries[clock] = Operations()
    except TypeError:  # not weakly referenceable
        return _unkeyed
    return found
