"""L{mcpgateway.ops.heap}: the C heap's free pages go back to the system
once, after the start-up collection (idle RSS)."""

from __future__ import annotations

import sys

import pytest
from twisted.internet.task import Clock

from mcpgateway.ops.heap import HeapTrim, Trim, mallocTrim
from mcpgateway.runtime.gctuning import GcTuning
from tests.fakes import capturedGatewayLogs


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail

    def find(self) -> Trim | None:
        return self.trim

    def trim(self, pad: int) -> int:
        self.calls.append(pad)
        if self.fail:
            raise OSError("no")
        return 1


def test_trims_once_after_the_collection() -> None:
    """The trim is scheduled from a call the first turn runs: it comes
    after the collection that L{GcTuning} scheduled before it."""
    clock = Clock()
    order: list[str] = []
    recorder = Recorder()
    tuning = GcTuning(clock)
    tuning._tune = lambda: order.append("collect")  # type: ignore[method-assign]

    def find() -> Trim | None:
        order.append("trim")
        return recorder.trim

    trim = HeapTrim(clock, find)
    trim.startService()  # started first: its trim still comes after the collection
    tuning.startService()
    assert trim.trimmed is None
    clock.advance(0)
    assert order == ["collect", "trim"]
    assert recorder.calls == [0]
    assert trim.trimmed is True
    clock.advance(3600)
    assert recorder.calls == [0]
    trim.stopService()
    tuning.stopService()


def test_stopped_before_it_ran_it_never_runs() -> None:
    clock = Clock()
    recorder = Recorder()
    trim = HeapTrim(clock, recorder.find)
    trim.startService()
    trim.stopService()
    clock.advance(10)
    assert recorder.calls == []
    assert clock.getDelayedCalls() == []


def test_no_malloc_trim_nothing_is_done() -> None:
    clock = Clock()
    trim = HeapTrim(clock, lambda: None)
    trim.startService()
    clock.advance(0)
    clock.advance(0)
    assert trim.trimmed is False


def test_a_failing_trim_is_logged_and_start_up_goes_on() -> None:
    clock = Clock()
    recorder = Recorder(fail=True)
    trim = HeapTrim(clock, recorder.find)
    with capturedGatewayLogs() as events:
        trim.startService()
        clock.advance(0)
        clock.advance(0)
    assert recorder.calls == [0]
    assert trim.trimmed is False
    assert any("trimming the C heap failed" in e.get("log_format", "") for e in events)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_glibc_has_malloc_trim() -> None:
    trim = mallocTrim()
    if trim is None:
        pytest.skip("not glibc (musl has no malloc_trim)")
    assert trim(0) in (0, 1)
