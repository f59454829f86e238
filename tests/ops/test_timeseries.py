"""The console's series (ops/timeseries.py): the rings keep what they are
sized for and drop the rest, columns come and go, the recorder samples on
the clock it is given, counters become rates and counts, the latency
quantiles come from the histogram's growth, and minutes roll up."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs

from mcpgateway.core.stats import BUCKETS
from mcpgateway.ops.timeseries import (
    DAY_SLOTS,
    HOUR_SLOTS,
    MAX_CLIENTS,
    STEP,
    Reading,
    Ring,
    SeriesBook,
    SeriesRecorder,
    ServerReading,
    quantile,
)


def buckets(**at: int) -> tuple[int, ...]:
    """Per-bucket counts: C{b3=5} puts 5 in the fourth bucket."""
    counts = [0] * (len(BUCKETS) + 1)
    for key, count in at.items():
        counts[int(key[1:])] = count
    return tuple(counts)


def reading(
    requests: int = 0,
    errors: int = 0,
    restarts: int = 0,
    hist: tuple[int, ...] | None = None,
    sessions: int = 2,
) -> Reading:
    """A gateway with one server, C{demo}, with these counters."""
    server = ServerReading(requests, errors, restarts, hist or buckets(), 1)
    return Reading(children=1, sessions=sessions, rssBytes=1000, servers={"demo": server})


def test_a_ring_keeps_its_capacity_oldest_first() -> None:
    ring = Ring(3)
    for i in range(5):
        ring.append(float(i), {"x": float(i * 10)})
    out = ring.export()
    assert out["t"] == [2.0, 3.0, 4.0]
    assert out["columns"] == {"x": [20.0, 30.0, 40.0]}
    assert len(ring) == 3


def test_a_missing_value_is_none_and_an_unwritten_column_is_dropped() -> None:
    ring = Ring(3)
    ring.append(0.0, {"a": 1.0, "b": 2.0})
    ring.append(1.0, {"a": 1.0})
    assert ring.export()["columns"]["b"] == [2.0, None]
    for t in (2.0, 3.0, 4.0):
        ring.append(t, {"a": 1.0})
    assert "b" not in ring.columns


def test_a_ring_keeps_at_most_its_columns() -> None:
    ring = Ring(4, maxColumns=2)
    ring.append(0.0, {"a": 1.0, "b": 1.0, "c": 1.0})
    assert sorted(ring.columns) == ["a", "b"] and ring.refused == 1


@given(st.lists(st.dictionaries(st.sampled_from("abcdef"), st.floats(-1e6, 1e6)), max_size=40))
def test_a_ring_is_bounded_whatever_it_is_fed(rows: list[dict[str, float]]) -> None:
    ring = Ring(5, maxColumns=4)
    for t, row in enumerate(rows):
        ring.append(float(t), row)
    out = ring.export()
    assert len(out["t"]) == min(len(rows), 5) and len(ring.columns) <= 4
    assert all(len(values) == len(out["t"]) for values in out["columns"].values())


def test_quantiles_interpolate_within_the_bucket() -> None:
    assert quantile([], 0.5) is None
    assert quantile(buckets(), 0.5) is None
    # 10 requests in (0.005, 0.01]: the median is halfway.
    assert math.isclose(quantile(buckets(b3=10), 0.5) or 0, 0.0075)
    # Over the last bound: the last bound.
    assert quantile(buckets(**{f"b{len(BUCKETS)}": 3}), 0.99) == BUCKETS[-1]


def test_the_recorder_samples_every_step_on_its_clock() -> None:
    clock = Clock()
    counter = iter(range(0, 1000, 10))
    recorder = SeriesRecorder(clock, lambda: reading(requests=next(counter)))
    recorder.start()
    assert recorder.running and len(recorder.book.hour) == 1
    clock.advance(STEP)
    clock.advance(STEP)
    out = recorder.book.export("hour")
    assert out["step"] == STEP and out["t"] == [0.0, STEP, 2 * STEP]
    # 10 requests in 5 s: 2 a second; nothing to compare the first reading with.
    assert out["columns"]["server.demo.calls"] == [None, 2.0, 2.0]
    assert out["columns"]["gateway.sessions"] == [2.0, 2.0, 2.0]
    recorder.stop()
    assert not recorder.running and not clock.getDelayedCalls()


def test_a_failing_read_is_logged_and_skipped() -> None:
    clock = Clock()

    def read() -> Reading:
        raise RuntimeError("boom")

    recorder = SeriesRecorder(clock, read)
    with capturedLogs() as events:
        recorder.start()
        clock.advance(STEP)
    assert len(recorder.book.hour) == 0 and recorder.running
    assert [e["log_level"] for e in events] == [LogLevel.critical, LogLevel.critical]


def test_errors_restarts_and_latency_come_from_what_grew() -> None:
    book = SeriesBook()
    book.add(0.0, reading(requests=5, errors=1, restarts=0, hist=buckets(b0=5)))
    book.add(5.0, reading(requests=15, errors=3, restarts=1, hist=buckets(b0=5, b3=10)))
    columns = book.export()["columns"]
    assert columns["server.demo.errors"] == [None, 2.0]
    assert columns["server.demo.restarts"] == [None, 1.0]
    # Only the ten new requests, all in (5 ms, 10 ms].
    assert columns["server.demo.p50"][1] == 7.5
    assert 5.0 < columns["server.demo.p99"][1] <= 10.0


def test_a_counter_that_went_down_started_again() -> None:
    book = SeriesBook()
    book.add(0.0, reading(requests=100, hist=buckets(b0=100)))
    book.add(5.0, reading(requests=5, hist=buckets(b1=5)))
    assert book.export()["columns"]["server.demo.calls"] == [None, 1.0]


def test_minutes_roll_up_into_the_day() -> None:
    book = SeriesBook()
    for i in range(13):  # 0 .. 60 s: a minute of samples, then the next minute's first
        book.add(i * STEP, reading(requests=i * 6, hist=buckets(b2=i * 6), sessions=i))
    day = book.export("day")
    assert day["step"] == 60.0 and day["t"] == [0.0]
    columns = day["columns"]
    assert columns["server.demo.calls"] == [1.2]  # 66 requests over 55 s
    assert columns["gateway.sessions"] == [11.0]
    assert columns["server.demo.p50"][0] is not None


def test_clients_past_the_most_shown_are_summed_as_other() -> None:
    book = SeriesBook()
    clients = {f"c{i:02}": i + 1 for i in range(MAX_CLIENTS + 3)}
    book.add(0.0, Reading(children=0, sessions=0, rssBytes=None, clients=clients))
    columns = book.export()["columns"]
    named = [k for k in columns if k.startswith("client.")]
    assert len(named) == MAX_CLIENTS and "client.c10" in columns
    assert columns["clients.other"] == [1.0 + 2.0 + 3.0]


def test_an_hour_and_a_day_are_bounded() -> None:
    book = SeriesBook()
    assert book.hour.capacity * STEP == 3600 and HOUR_SLOTS * STEP == 3600
    assert book.day.capacity == DAY_SLOTS == 24 * 60
