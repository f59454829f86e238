# -*- test-case-name: tests.report.test_metrics -*-
"""Request statistics of one server: counts by method and outcome, a
latency histogram, and what its sandbox likely refused its tool calls.
Bounded by construction: methods outside the MCP set count as C{other}, so
no label ever carries a tool name, an argument or a session; a few
refusals are kept, each once."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

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
