"""The operation metrics observe each request as a histogram would: every
request is observed twice (its server and its client operation), with its
outcome."""

from __future__ import annotations

from bisect import bisect_left

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from mcpgateway.core import stats
from mcpgateway.core.stats import BUCKETS, Histogram, Operations


def reference(durations: list[float]) -> tuple[list[int], int, float]:
    """What a L{Histogram} of L{BUCKETS} holds after C{durations}, the
    negative ones counted as 0."""
    counts = [0] * (len(BUCKETS) + 1)
    total = 0.0
    for seconds in durations:
        seconds = max(seconds, 0.0)
        counts[bisect_left(BUCKETS, seconds)] += 1
        total += seconds
    return counts, len(durations), total


@settings(max_examples=60, deadline=None)
@given(
    observed=st.lists(
        st.tuples(
            st.sampled_from(["tools/call", "tools/list", "x/unknown"]),
            st.sampled_from(["ok", "error"]),
            st.floats(min_value=-5.0, max_value=100.0, allow_nan=False),
        ),
        max_size=30,
    )
)
def test_operations_are_observed_by_server_label_and_outcome(
    observed: list[tuple[str, str, float]],
) -> None:
    operations = Operations()
    for method, outcome, seconds in observed:
        operations.serverOperation("srv", method, outcome, seconds)
        operations.clientOperation("srv", method, outcome, seconds)
    expected: dict[tuple[str, str, str], list[float]] = {}
    for method, outcome, seconds in observed:
        label = method if method in stats.KNOWN_METHODS else "other"
        expected.setdefault(("srv", label, outcome), []).append(seconds)
    for table in (operations.server, operations.client):
        assert set(table) == set(expected)
        for key, durations in expected.items():
            histogram = table[key]
            assert isinstance(histogram, Histogram)
            assert histogram.bounds == BUCKETS
            assert (histogram.counts, histogram.count, histogram.sum) == reference(durations)


def test_an_answer_is_measured_with_its_outcome() -> None:
    operations = Operations()
    clock = Clock()
    clock.advance(10.0)
    results: list[object] = [
        {"result": {}},
        {"error": {"code": 1}},
        "not a response",
        Failure(CancelledError()),
        Failure(ValueError()),
    ]
    for result in results:
        assert stats.answered(result, operations, clock, "s", "ping", 9.5, None) is result
    assert sorted((key[2], h.count) for key, h in operations.server.items()) == [
        ("cancelled", 1),
        ("error", 3),
        ("ok", 1),
    ]
