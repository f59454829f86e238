# -*- test-case-name: tests.ops.test_timeseries -*-
"""The console's plots over time: the last hour at a fine step and the last
day at a minute, kept in memory, bounded.

A L{Ring} keeps one value per column and slot in fixed-size float arrays
(a missing value is NaN), at most C{maxColumns} columns; a column not
written for a whole ring's length is dropped. L{SeriesBook} holds the two
rings and rolls the fine samples up into minutes: a gauge keeps the last
value of its minute, a rate the mean over the minute, a count the sum, and
the latency quantiles are taken again from the minute's summed histogram.
L{SeriesRecorder} feeds the book from L{Reading}s of the gateway every
C{step} seconds (L{mcpgateway.ops.seriessampler} reads them off the
gateway's status), on the clock it is handed; the console reads the book as
JSON (L{SeriesBook.export}).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core.stats import BUCKETS
from mcpgateway.runtime import logs
from mcpgateway.runtime.timers import Every

STEP = 5.0
"""Seconds between two fine samples."""
HOUR_SLOTS = 720
"""Fine samples kept: an hour at L{STEP}."""
MINUTE = 60.0
DAY_SLOTS = 1440
"""Minutes kept: a day."""
MAX_COLUMNS = 128
"""Columns a ring keeps at most (a column is one figure of the gateway, of
a server or of a client)."""
MAX_SERVERS = 24
"""Servers given columns of their own; more are left out of the plots."""
MAX_CLIENTS = 8
"""Client names given a column; the rest are summed as C{other}."""
QUANTILES = (("p50", 0.5), ("p99", 0.99))
_NAN = float("nan")


def quantile(counts: Sequence[int], q: float, bounds: Sequence[float] = BUCKETS) -> float | None:
    """The C{q} quantile (seconds) of a histogram's per-bucket counts
    (C{bounds} the upper bounds, C{+Inf} last and implied), interpolated
    within its bucket as Prometheus' C{histogram_quantile} does; C{None}
    without observations."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count <= 0:
            continue
        if seen + count >= rank:
            if index >= len(bounds):
                return bounds[-1]
            lower = bounds[index - 1] if index > 0 else 0.0
            upper = bounds[index]
            return lower + (upper - lower) * max(0.0, rank - seen) / count
        seen += count
    return bounds[-1]


class Ring:
    """C{capacity} slots of a time and of every column."""

    def __init__(self, capacity: int, maxColumns: int = MAX_COLUMNS) -> None:
        self.capacity = capacity
        self.maxColumns = maxColumns
        self.times = array("d", [_NAN]) * capacity
        self.columns: dict[str, array[float]] = {}
        self._written: dict[str, int] = {}
        self.count = 0
        """Slots written so far (the next slot is C{count % capacity})."""
        self.refused = 0
        """Values left out because the ring had C{maxColumns} columns."""

    def append(self, time: float, values: Mapping[str, float | None]) -> None:
        """Write one slot: C{time}, and each column's value (others: NaN)."""
        slot = self.count % self.capacity
        self.times[slot] = time
        for kept in self.columns.values():
            kept[slot] = _NAN
        for key, value in values.items():
            if value is None:
                continue
            column = self.columns.get(key)
            if column is None:
                if len(self.columns) >= self.maxColumns:
                    self.refused += 1
                    continue
                column = self.columns[key] = array("f", [_NAN]) * self.capacity
            column[slot] = value
            self._written[key] = self.count
        self.count += 1
        for key in [k for k, at in self._written.items() if at <= self.count - 1 - self.capacity]:
            del self.columns[key], self._written[key]

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    def _order(self) -> list[int]:
        if self.count <= self.capacity:
            return list(range(self.count))
        start = self.count % self.capacity
        return list(range(start, self.capacity)) + list(range(start))

    def export(self, digits: int = 4) -> dict[str, Any]:
        """The slots oldest first: C{{"t": [...], "columns": {key: [...]}}},
        a missing value as C{None}."""
        order = self._order()
        return {
            "t": [round(self.times[i], 3) for i in order],
            "columns": {
                key: [_num(column[i], digits) for i in order]
                for key, column in sorted(self.columns.items())
            },
        }


def _num(value: float, digits: int) -> float | None:
    if math.isnan(value):
        return None
    return float(f"{value:.{digits}g}")


@dataclass
class ServerReading:
    """What one server's status says now, for the plots."""

    requests: int
    errors: int
    restarts: int
    buckets: tuple[int, ...]
    """The latency histogram's per-bucket counts (C{+Inf} last)."""
    children: int = 0


@dataclass
class Reading:
    """The gateway's figures now (L{mcpgateway.ops.seriessampler.readGateway})."""

    children: int
    sessions: int
    rssBytes: int | None
    processesUsed: int | None = None
    """Processes that run: the gateway's whole tree, the sandbox's included
    (C{None}: not measured)."""
    processesWithout: int | None = None
    """Processes the same sessions would run without the gateway."""
    memoryUsed: int | None = None
    """Bytes the gateway's whole tree uses (C{None}: not measured)."""
    memoryWithout: int | None = None
    """Bytes the same sessions would use without the gateway."""
    servers: Mapping[str, ServerReading] = field(default_factory=dict)
    clients: Mapping[str, int] = field(default_factory=dict)
    """Open sessions by client name."""


GAUGES = (
    "children",
    "sessions",
    "rssBytes",
    "processesUsed",
    "processesWithout",
    "memoryUsed",
    "memoryWithout",
)


class _Minute:
    """What a minute's fine samples add up to."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.gauges: dict[str, float | None] = {}
        self.calls: dict[str, float] = {}
        self.counts: dict[str, float] = {}
        self.buckets: dict[str, list[int]] = {}
        self.seconds = 0.0


class SeriesBook:
    """The hour ring, the day ring, and the previous reading (to turn
    counters into rates and counts)."""

    def __init__(
        self,
        step: float = STEP,
        hourSlots: int = HOUR_SLOTS,
        daySlots: int = DAY_SLOTS,
        maxColumns: int = MAX_COLUMNS,
    ) -> None:
        self.step = step
        self.hour = Ring(hourSlots, maxColumns)
        self.day = Ring(daySlots, maxColumns)
        self._previous: tuple[float, Reading] | None = None
        self._minute: _Minute | None = None

    def add(self, now: float, reading: Reading) -> None:
        """Record C{reading}, taken at C{now}."""
        previous, self._previous = self._previous, (now, reading)
        values: dict[str, float | None] = {
            f"gateway.{name}": getattr(reading, name) for name in GAUGES
        }
        deltas: dict[str, tuple[int, int, int, list[int]]] = {}
        seconds = 0.0
        if previous is not None and now > previous[0]:
            seconds = now - previous[0]
            for name, server in sorted(reading.servers.items())[:MAX_SERVERS]:
                before = previous[1].servers.get(name)
                deltas[name] = _delta(server, before)
        for name, (calls, errors, restarts, buckets) in deltas.items():
            values[f"server.{name}.calls"] = calls / seconds
            values[f"server.{name}.errors"] = errors
            values[f"server.{name}.restarts"] = restarts
            for label, q in QUANTILES:
                found = quantile(buckets, q)
                values[f"server.{name}.{label}"] = None if found is None else found * 1000.0
        for name, server in sorted(reading.servers.items())[:MAX_SERVERS]:
            values[f"server.{name}.children"] = server.children
        values.update(_clients(reading.clients))
        self.hour.append(now, values)
        self._rollUp(now, values, deltas, seconds)

    def _rollUp(
        self,
        now: float,
        values: Mapping[str, float | None],
        deltas: Mapping[str, tuple[int, int, int, list[int]]],
        seconds: float,
    ) -> None:
        index = int(now // MINUTE)
        minute = self._minute
        if minute is not None and minute.index != index:
            self._flush(minute)
            minute = None
        if minute is None:
            minute = self._minute = _Minute(index)
        minute.seconds += seconds
        for key, value in values.items():
            if key.startswith("server.") and key.rsplit(".", 1)[1] in (
                "calls",
                "errors",
                "restarts",
                "p50",
                "p99",
            ):
                continue
            minute.gauges[key] = value
        for name, (calls, errors, restarts, buckets) in deltas.items():
            minute.calls[name] = minute.calls.get(name, 0.0) + calls
            minute.counts[f"server.{name}.errors"] = (
                minute.counts.get(f"server.{name}.errors", 0.0) + errors
            )
            minute.counts[f"server.{name}.restarts"] = (
                minute.counts.get(f"server.{name}.restarts", 0.0) + restarts
            )
            summed = minute.buckets.setdefault(name, [0] * len(buckets))
            for i, count in enumerate(buckets[: len(summed)]):
                summed[i] += count

    def _flush(self, minute: _Minute) -> None:
        values: dict[str, float | None] = dict(minute.gauges)
        values.update(minute.counts)
        for name, calls in minute.calls.items():
            values[f"server.{name}.calls"] = calls / minute.seconds if minute.seconds else None
            for label, q in QUANTILES:
                found = quantile(minute.buckets.get(name, ()), q)
                values[f"server.{name}.{label}"] = None if found is None else found * 1000.0
        self.day.append(minute.index * MINUTE, values)

    def export(self, span: str = "hour") -> dict[str, Any]:
        """The C{hour} (fine) or C{day} (minutes) series as JSON-ready data."""
        ring = self.day if span == "day" else self.hour
        return {
            "span": "day" if span == "day" else "hour",
            "step": MINUTE if span == "day" else self.step,
            **ring.export(),
        }


def _delta(now: ServerReading, before: ServerReading | None) -> tuple[int, int, int, list[int]]:
    """What a server's counters grew by since C{before} (a counter that went
    down started again: a reconfigured server's new pool)."""
    if before is None:
        return 0, 0, 0, [0] * len(now.buckets)

    def grown(a: int, b: int) -> int:
        return a - b if a >= b else a

    if now.requests < before.requests or len(now.buckets) != len(before.buckets):
        buckets = list(now.buckets)
    else:
        buckets = [max(0, a - b) for a, b in zip(now.buckets, before.buckets, strict=True)]
    return (
        grown(now.requests, before.requests),
        grown(now.errors, before.errors),
        grown(now.restarts, before.restarts),
        buckets,
    )


def _clients(clients: Mapping[str, int]) -> dict[str, float | None]:
    """A column per client of the most sessions (L{MAX_CLIENTS}), the rest as C{other}."""
    ranked = sorted(clients.items(), key=lambda item: (-item[1], item[0]))
    values: dict[str, float | None] = {
        f"client.{name}": count for name, count in ranked[:MAX_CLIENTS]
    }
    rest = sum(count for _, count in ranked[MAX_CLIENTS:])
    if rest:
        values["clients.other"] = rest
    return values


class SeriesRecorder:
    """Adds a reading to its L{SeriesBook} every C{step} seconds on C{clock}."""

    log = Logger(observer=logs.observer)

    def __init__(
        self, clock: IReactorTime, read: Callable[[], Reading], book: SeriesBook | None = None
    ) -> None:
        self.book = book if book is not None else SeriesBook()
        self._clock = clock
        self._read = read
        self._ticker = Every(clock, self.book.step, self.sample)

    @property
    def running(self) -> bool:
        return self._ticker.running

    def start(self) -> None:
        """Sample now and every step from now on (again: nothing)."""
        if not self._ticker.running:
            self._ticker.start(now=True)

    def stop(self) -> None:
        self._ticker.stop()

    def export(self, span: str = "hour") -> dict[str, Any]:
        """L{SeriesBook.export}, with the clock's C{now}: the plots' time
        axis ends there however old the last sample is."""
        return {**self.book.export(span), "now": self._clock.seconds()}

    def sample(self) -> None:
        """Take one reading (a failing read is logged and skipped)."""
        try:
            reading = self._read()
        except Exception:
            self.log.failure("series: reading the gateway's figures failed")
            return
        self.book.add(self._clock.seconds(), reading)
