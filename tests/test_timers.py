"""L{Every}: a repeating call on the injected clock, never the global reactor."""

from __future__ import annotations

import subprocess
import sys

import pytest
from twisted.internet.task import Clock

from mcpgateway.timers import Every


def test_calls_every_interval_until_stopped() -> None:
    clock, calls = Clock(), []
    every = Every(clock, 2.0, lambda: calls.append(clock.seconds()))
    every.start()
    clock.pump([1.0] * 7)
    assert calls == [2.0, 4.0, 6.0]
    every.stop()
    clock.advance(10)
    assert calls == [2.0, 4.0, 6.0] and clock.getDelayedCalls() == []
    assert not every.running


def test_a_raising_call_does_not_end_the_schedule() -> None:
    clock, calls = Clock(), []

    def f() -> None:
        calls.append(1)
        raise ValueError("boom")

    every = Every(clock, 1.0, f)
    every.start()
    with pytest.raises(ValueError):
        clock.advance(1)
    assert every.running and len(clock.getDelayedCalls()) == 1


def test_now_and_double_start() -> None:
    clock, calls = Clock(), []
    every = Every(clock, 1.0, lambda: calls.append(1))
    every.start(now=True)
    assert calls == [1]
    with pytest.raises(RuntimeError):
        every.start()


def test_importing_and_using_it_installs_no_global_reactor() -> None:
    code = (
        "import sys; from twisted.internet.task import Clock;"
        "from mcpgateway.timers import Every; e = Every(Clock(), 1, print); e.start();"
        "e.stop(); print('twisted.internet.reactor' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
