# -*- test-case-name: tests.config.test_debounce -*-
"""The L{Debouncer}: one action per settled burst, never later than its
maximum wait."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from mcpgateway.config.debounce import Debouncer


def debouncer(clock: Clock, runs: list[float]) -> Debouncer:
    return Debouncer(clock, 0.3, 2.0, lambda: runs.append(clock.seconds()))


def test_a_burst_runs_the_action_once_after_the_quiet_period() -> None:
    clock, runs = Clock(), list[float]()
    changes = debouncer(clock, runs)
    for _ in range(3):
        changes.trigger()
        clock.advance(0.1)
    assert changes.pending and runs == []
    clock.advance(0.3)
    assert runs == [pytest.approx(0.6)] and not changes.pending


def test_a_writer_that_never_pauses_does_not_starve_the_action() -> None:
    clock, runs = Clock(), list[float]()
    changes = debouncer(clock, runs)
    while clock.seconds() < 3.0:
        changes.trigger()
        clock.advance(0.1)
    assert runs[0] <= 2.0 + 1e-9


def test_a_cancelled_burst_does_not_run_and_the_next_starts_afresh() -> None:
    clock, runs = Clock(), list[float]()
    changes = debouncer(clock, runs)
    changes.trigger()
    changes.cancel()
    assert not changes.pending and clock.getDelayedCalls() == []
    clock.advance(5.0)
    changes.trigger()
    clock.advance(0.3)
    assert runs == [pytest.approx(5.3)]
