"""L{Every}: a repeating call on the injected clock, never the global reactor;
L{Deadlines}: many timeouts on one timer, each firing when its own would."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import Clock

from mcpgateway.runtime.timers import Deadlines, Every


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
        "from mcpgateway.runtime.timers import Every; e = Every(Clock(), 1, print); e.start();"
        "e.stop(); print('twisted.internet.reactor' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_each_key_expires_timeout_after_it_was_added_on_one_timer() -> None:
    clock, expired = Clock(), []
    deadlines: Deadlines[int] = Deadlines(
        clock, 10.0, lambda k: expired.append((k, clock.seconds()))
    )
    for key in range(5):
        deadlines.add(key)
        clock.advance(1)
    assert len(clock.getDelayedCalls()) == 1  # one timer for all five
    clock.advance(4.5)
    assert expired == []
    clock.pump([0.5] * 10)
    assert expired == [(0, 10.0), (1, 11.0), (2, 12.0), (3, 13.0), (4, 14.0)]
    assert clock.getDelayedCalls() == [] and len(deadlines) == 0


def test_a_discarded_key_never_expires_and_the_timer_moves_on() -> None:
    clock, expired = Clock(), list[str]()
    deadlines: Deadlines[str] = Deadlines(clock, 10.0, expired.append)
    deadlines.add("a")
    clock.advance(3)
    deadlines.add("b")
    deadlines.discard("a")  # answered: its time stops
    clock.advance(7)  # a's time: nothing is due
    assert expired == [] and "b" in deadlines
    clock.advance(2.9)
    assert expired == []
    clock.advance(0.1)  # exactly b's time
    assert expired == ["b"]


def test_the_last_key_gone_leaves_the_timer_to_its_time_then_it_goes() -> None:
    clock = Clock()
    deadlines: Deadlines[int] = Deadlines(clock, 10.0, lambda k: None)
    deadlines.add(1)
    deadlines.add(2)
    deadlines.discard(1)
    assert len(clock.getDelayedCalls()) == 1
    deadlines.discard(2)
    deadlines.discard(3)  # never added: nothing happens
    assert len(deadlines) == 0 and len(clock.getDelayedCalls()) == 1
    clock.advance(10)  # its time: nothing is due, nothing is left
    assert clock.getDelayedCalls() == []


def test_one_request_at_a_time_shares_one_timer() -> None:
    """C=1: each request answered before the next is sent sets no
    timer of its own; the one timer moves on to the key in flight when it
    comes, and that key still expires at exactly its own time."""
    clock, expired = Clock(), list[tuple[int, float]]()
    deadlines: Deadlines[int] = Deadlines(
        clock, 10.0, lambda k: expired.append((k, clock.seconds()))
    )
    made: list[object] = []
    real = clock.callLater

    def counting(delay: float, f: Any, *a: Any, **kw: Any) -> Any:
        call = real(delay, f, *a, **kw)
        made.append(call)
        return call

    clock.callLater = counting  # type: ignore[method-assign,assignment]
    for key in range(100):
        deadlines.add(key)
        clock.advance(0.0625)
        deadlines.discard(key)
    assert len(made) == 1
    deadlines.add(100)  # at 6.25: due at 16.25
    clock.pump([0.25] * 50)
    assert expired == [(100, 16.25)]
    assert len(made) == 2 and clock.getDelayedCalls() == []


def test_adding_again_restarts_the_time_from_now() -> None:
    clock, expired = Clock(), list[str]()
    deadlines: Deadlines[str] = Deadlines(clock, 10.0, expired.append)
    deadlines.add("a")
    deadlines.add("b")
    clock.advance(5)
    deadlines.add("a")  # e.g. a held request whose client came back
    clock.advance(5)
    assert expired == ["b"]
    clock.advance(5)
    assert expired == ["b", "a"]


def test_a_raising_handler_costs_the_other_keys_nothing() -> None:
    clock, expired = Clock(), []

    def handler(key: int) -> None:
        expired.append(key)
        if key == 1:
            raise RuntimeError("boom")

    deadlines: Deadlines[int] = Deadlines(clock, 1.0, handler)
    for key in (1, 2):
        deadlines.add(key)
    clock.advance(1)
    assert expired == [1, 2]


def test_a_new_timeout_moves_every_key_running_counted_from_when_it_was_added() -> None:
    """A reloaded C{requestTimeout}: shorter, a key past its new
    time expires at once; the others at their new time, in order."""
    clock, expired = Clock(), list[tuple[str, float]]()
    deadlines: Deadlines[str] = Deadlines(
        clock, 10.0, lambda k: expired.append((k, clock.seconds()))
    )
    deadlines.add("a")
    clock.advance(4)
    deadlines.add("b")
    clock.advance(1)  # at 5: a was added at 0, b at 4
    deadlines.setTimeout(3.0)
    clock.advance(0)
    assert expired == [("a", 5.0)]  # its new time (3) has passed
    clock.advance(2)
    assert expired == [("a", 5.0), ("b", 7.0)]
    deadlines.add("c")  # at 7: due at 10
    deadlines.setTimeout(20.0)
    clock.pump([1.0] * 30)
    assert expired[-1] == ("c", 27.0) and clock.getDelayedCalls() == []


def test_stop_forgets_everything() -> None:
    clock, expired = Clock(), list[int]()
    deadlines: Deadlines[int] = Deadlines(clock, 1.0, expired.append)
    deadlines.add(1)
    deadlines.stop()
    clock.advance(5)
    assert expired == [] and clock.getDelayedCalls() == [] and len(deadlines) == 0


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 6)),
        st.tuples(st.just("discard"), st.integers(0, 6)),
        st.tuples(st.just("advance"), st.sampled_from([0.0, 0.25, 1.0, 2.5, 4.0, 7.0])),
        st.tuples(st.just("retime"), st.sampled_from([1.0, 2.0, 4.0, 6.0])),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops=_OPS)
def test_expires_exactly_as_one_call_later_per_key_would(ops: list[tuple[str, object]]) -> None:
    """The model: a callLater per key, cancelled by discard, restarted by add,
    moved by a new timeout to (when it was added + the new timeout)."""
    clock, got = Clock(), []
    deadlines: Deadlines[int] = Deadlines(clock, 4.0, lambda k: got.append((k, clock.seconds())))
    modelClock, want = Clock(), []
    calls: dict[int, IDelayedCall] = {}
    added: dict[int, float] = {}
    timeout = 4.0

    def fire(key: int) -> None:
        del calls[key]
        want.append((key, modelClock.seconds()))

    def forget(key: int) -> None:
        old = calls.pop(key, None)
        if old is not None:
            old.cancel()

    for op, arg in ops:
        if op == "add":
            assert isinstance(arg, int)
            deadlines.add(arg)
            forget(arg)
            calls[arg] = modelClock.callLater(timeout, fire, arg)
            added[arg] = modelClock.seconds()
        elif op == "retime":
            assert isinstance(arg, float)
            deadlines.setTimeout(arg)
            timeout = arg
            now = modelClock.seconds()
            for key in list(calls):
                calls.pop(key).cancel()
                calls[key] = modelClock.callLater(max(added[key] + arg - now, 0.0), fire, key)
            clock.advance(0)  # what is overdue now goes in the next turn, in both
            modelClock.advance(0)
        elif op == "discard":
            assert isinstance(arg, int)
            deadlines.discard(arg)
            forget(arg)
        else:
            assert isinstance(arg, float)
            clock.advance(arg)
            modelClock.advance(arg)
        assert got == want
    clock.advance(10)
    modelClock.advance(10)
    assert got == want and clock.getDelayedCalls() == []


def test_a_key_added_by_a_handler_does_not_delay_the_keys_before_it() -> None:
    """A handler that adds a key (a pipelined request forwarded from the
    answer of one that timed out) does not set the timer for its new key
    ahead of a key that comes due earlier: that key would fire late."""
    clock, expired = Clock(), list[tuple[str, float]]()

    def handler(key: str) -> None:
        expired.append((key, clock.seconds()))
        if key == "a":
            deadlines.add("c")

    deadlines: Deadlines[str] = Deadlines(clock, 10.0, handler)
    deadlines.add("a")
    clock.advance(0.5)
    deadlines.add("b")
    clock.pump([0.5] * 40)
    assert expired == [("a", 10.0), ("b", 10.5), ("c", 20.0)]
    assert clock.getDelayedCalls() == []


def test_a_handler_that_stops_everything_leaves_no_timer() -> None:
    clock = Clock()
    deadlines: Deadlines[int] = Deadlines(clock, 1.0, lambda key: deadlines.stop())
    for key in range(3):
        deadlines.add(key)
    clock.advance(1)
    assert len(deadlines) == 0 and clock.getDelayedCalls() == []
