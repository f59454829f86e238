"""L{mcpgateway.reactor}: the epoll reactor, dispatching without a log context."""

from __future__ import annotations

import errno

import pytest
from twisted.application.reactors import getReactorTypes
from twisted.internet.epollreactor import EPollReactor
from twisted.logger import capturedLogs
from twisted.python import context
from twisted.python.log import ILogContext

from mcpgateway import reactor
from mcpgateway.reactor import GatewayReactor


class FakePoller:
    """What C{doPoll} asks of epoll: C{poll(timeout, maxevents)}."""

    def __init__(self, ready: list[tuple[int, int]], error: OSError | None = None) -> None:
        self.ready, self.error = ready, error
        self.asked: list[tuple[float, int]] = []

    def poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]:
        self.asked.append((timeout, maxevents))
        if self.error is not None:
            raise self.error
        return self.ready


class Polled:
    """The reactor's state C{doPoll} reads, with a recording dispatch."""

    _spin = 0.0
    _lastWait = reactor.DENSE
    _lastReady = 0

    def __init__(self, poller: FakePoller, selectables: dict[int, str]) -> None:
        self._poller = poller
        self._selectables = selectables
        self.dispatched: list[tuple[str, int, int]] = []
        self.raising: set[str] = set()
        self.systems: list[str] = []
        """The legacy log system each handler ran under."""

    def _wait(self, timeout: float | None) -> list[tuple[int, int]]:
        return GatewayReactor._wait(self, timeout)  # type: ignore[arg-type]

    def _now(self) -> float:
        return 0.0

    def _spinWhile(self) -> bool:
        return True

    def _doReadOrWrite(self, selectable: str, fd: int, event: int) -> None:
        self.dispatched.append((selectable, fd, event))
        self.systems.append(context.get(ILogContext)["system"])
        if selectable in self.raising:
            raise RuntimeError(f"{selectable}'s connectionLost raised")


def doPoll(state: Polled, timeout: float | None) -> None:
    GatewayReactor.doPoll(state, timeout)  # type: ignore[arg-type]


def test_every_ready_descriptor_is_dispatched_in_order() -> None:
    state = Polled(FakePoller([(5, 1), (7, 4)]), {5: "client", 7: "child"})
    doPoll(state, 0.25)
    assert state.dispatched == [("client", 5, 1), ("child", 7, 4)]
    assert state._poller.asked == [(0.25, 2)]  # at most one event per descriptor


def test_handlers_run_without_a_log_context_of_their_own() -> None:
    """What costs Twisted's reactor 7-9% of the CPU at one call in flight:
    a fresh logging context per event (its "system" is the descriptor's log
    prefix there)."""
    state = Polled(FakePoller([(5, 1), (7, 1)]), {5: "client", 7: "child"})
    doPoll(state, 0)
    assert state.systems == ["-", "-"]


def test_no_timeout_waits_until_an_event() -> None:
    state = Polled(FakePoller([]), {})
    doPoll(state, None)
    assert state._poller.asked == [(-1, 0)]


def test_a_descriptor_removed_in_the_same_turn_is_skipped() -> None:
    state = Polled(FakePoller([(5, 1), (6, 1), (7, 1)]), {5: "a", 7: "c"})
    doPoll(state, 0)
    assert [fd for _, fd, _ in state.dispatched] == [5, 7]


def test_a_handler_that_raises_is_logged_and_the_others_still_run() -> None:
    state = Polled(FakePoller([(5, 1), (7, 1)]), {5: "broken", 7: "fine"})
    state.raising.add("broken")
    with capturedLogs() as events:
        doPoll(state, 0)
    assert [s for s, _, _ in state.dispatched] == ["broken", "fine"]
    [event] = [e for e in events if e.get("log_namespace") == "mcpgateway.reactor"]
    assert event["log_failure"].check(RuntimeError)
    assert event["selectable"] == "broken"


def test_a_signal_during_the_wait_ends_the_turn_quietly() -> None:
    state = Polled(FakePoller([(5, 1)], OSError(errno.EINTR, "Interrupted")), {5: "a"})
    doPoll(state, 1)
    assert state.dispatched == []


def test_any_other_poll_error_is_raised() -> None:
    state = Polled(FakePoller([], OSError(errno.EBADF, "Bad file descriptor")), {})
    with pytest.raises(OSError) as raised:
        doPoll(state, 1)
    assert raised.value.errno == errno.EBADF


def test_each_turn_is_one_poll() -> None:
    assert GatewayReactor.doIteration is GatewayReactor.doPoll


def test_twist_and_twistd_find_it_by_name() -> None:
    [found] = [r for r in getReactorTypes() if r.shortName == "mcpgateway"]
    assert getattr(found, "moduleName", None) == "mcpgateway.reactor"


def test_install_installs_a_gateway_reactor(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[object] = []

    class Made:
        pass

    monkeypatch.setattr("twisted.internet.main.installReactor", installed.append)
    monkeypatch.setattr(reactor, "GatewayReactor", Made)
    made = reactor.install()
    assert isinstance(made, Made) and installed == [made]


def test_what_doPoll_reads_is_named_once() -> None:
    """The private names the dispatch relies on: a Twisted reactor has them
    all, an object without them is told which it lacks."""
    state = Polled(FakePoller([]), {})
    assert reactor.missing(state) == []
    assert reactor.missing(object()) == list(reactor.RELIES_ON)


def test_a_twisted_without_those_names_keeps_its_own_dispatch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Twisted that renamed one of them: the reactor runs Twisted's own
    C{doPoll} (with its log context), says so, and does not fail."""
    monkeypatch.setattr(reactor, "RELIES_ON", (*reactor.RELIES_ON, "_renamedInTwisted99"))
    with capturedLogs() as events:
        made = GatewayReactor()
    try:
        assert made.doIteration.__func__ is EPollReactor.doPoll  # type: ignore[attr-defined]
        assert made.doPoll.__func__ is EPollReactor.doPoll  # type: ignore[attr-defined]
        made.doIteration(0)  # Twisted's own: polls and returns
        warned = [e for e in events if e.get("log_namespace") == "mcpgateway.reactor"]
        assert [e["names"] for e in warned] == ["_renamedInTwisted99"]
    finally:
        made._poller.close()
        made.waker.connectionLost(None)


def test_this_twisted_has_them() -> None:
    made = GatewayReactor()
    try:
        assert reactor.missing(made) == []
        assert made.doIteration.__func__ is GatewayReactor.doPoll  # type: ignore[attr-defined]
    finally:
        made._poller.close()
        made.waker.connectionLost(None)


class _Turns(GatewayReactor):
    """A L{GatewayReactor} whose Twisted C{runUntilCurrent} is a recorder:
    what L{GatewayReactor.runUntilCurrent} adds, alone."""

    def __init__(self) -> None:  # no epoll, no waker: nothing to close
        self._atTurnEnd = []
        self.order: list[str] = []


def test_what_a_turn_asks_for_its_end_runs_after_its_timed_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    turns = _Turns()
    monkeypatch.setattr(EPollReactor, "runUntilCurrent", lambda self: self.order.append("timed"))
    turns.callAtTurnEnd(lambda: turns.order.append("first"))
    turns.callAtTurnEnd(lambda: turns.callAtTurnEnd(lambda: turns.order.append("asked by one")))
    turns.callAtTurnEnd(lambda: turns.order.append("third"))
    turns.runUntilCurrent()
    assert turns.order == ["timed", "first", "third", "asked by one"]
    turns.runUntilCurrent()  # once each: the next turn has none
    assert turns.order == ["timed", "first", "third", "asked by one", "timed"]


def test_one_that_raises_is_logged_and_the_others_run(monkeypatch: pytest.MonkeyPatch) -> None:
    turns = _Turns()
    monkeypatch.setattr(EPollReactor, "runUntilCurrent", lambda self: None)

    def boom() -> None:
        raise RuntimeError("a flush that failed")

    turns.callAtTurnEnd(boom)
    turns.callAtTurnEnd(lambda: turns.order.append("after"))
    with capturedLogs() as events:
        turns.runUntilCurrent()
    assert turns.order == ["after"]
    [failure] = [e for e in events if "log_failure" in e]
    assert failure["log_failure"].check(RuntimeError)


def test_the_last_ready_descriptor_is_told_it_is_the_turns_final_event() -> None:
    """What L{mcpgateway.turnflush.TurnFlusher.sendIfFinal} reads: true
    while the last ready descriptor's handler runs (one skipped as removed
    does not count), false before and after."""
    seen: list[tuple[str, bool]] = []

    class State(Polled):
        finalEvent = False

        def _doReadOrWrite(self, selectable: str, fd: int, event: int) -> None:
            seen.append((selectable, self.finalEvent))

    state = State(FakePoller([(5, 1), (6, 1), (7, 1)]), {5: "a", 6: "b", 7: "c"})
    doPoll(state, 0)
    assert seen == [("a", False), ("b", False), ("c", True)]
    assert state.finalEvent is False
    seen.clear()
    state = State(FakePoller([(5, 1)]), {5: "only"})
    doPoll(state, 0)
    assert seen == [("only", True)] and state.finalEvent is False


def test_a_base_exception_leaves_the_others_for_the_next_turns_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review: a C{SystemExit} out of one (a TurnFlusher's among the others)
    must not drop the rest, or the flusher would never be asked again."""
    turns = _Turns()
    monkeypatch.setattr(EPollReactor, "runUntilCurrent", lambda self: None)

    def leave() -> None:
        raise SystemExit(3)

    turns.callAtTurnEnd(lambda: turns.order.append("first"))
    turns.callAtTurnEnd(leave)
    turns.callAtTurnEnd(lambda: turns.order.append("flush"))
    with pytest.raises(SystemExit):
        turns.runUntilCurrent()
    assert turns.order == ["first"]
    turns.runUntilCurrent()
    assert turns.order == ["first", "flush"]


def test_final_event_is_reset_when_a_handler_lets_a_base_exception_out() -> None:
    class State(Polled):
        finalEvent = False

        def _doReadOrWrite(self, selectable: str, fd: int, event: int) -> None:
            raise KeyboardInterrupt

    state = State(FakePoller([(5, 1)]), {5: "only"})
    with pytest.raises(KeyboardInterrupt):
        doPoll(state, 0)
    assert state.finalEvent is False


class Spun(Polled):
    """A reactor's state with a spin: a clock that each poll moves on by
    C{step} seconds (a blocking one by C{blocked}), and a script of what
    each poll finds."""

    _spin = 100e-6
    _lastWait = 50e-6
    _lastReady = 1

    def __init__(self, script: list[list[tuple[int, int]]], step: float = 10e-6) -> None:
        super().__init__(FakePoller([]), {5: "client", 7: "child"})
        self.script, self.step, self.clock = script, step, 0.0
        self.blocked = 0.0
        self.worthIt = True
        self._poller.poll = self._poll  # type: ignore[method-assign]

    def _poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]:
        self._poller.asked.append((timeout, maxevents))
        self.clock += self.step if timeout == 0 else self.blocked
        return self.script.pop(0) if self.script else []

    def _now(self) -> float:
        return self.clock

    def _spinWhile(self) -> bool:
        return self.worthIt


def test_a_busy_gateway_polls_until_its_event_comes() -> None:
    """Events came close together, one a turn, and the site answers one
    request: the reactor asks epoll without blocking until the child's
    answer is there, and is never put to sleep."""
    state = Spun([[], [], [(7, 1)]])
    doPoll(state, None)
    assert state._poller.asked == [(0, 2), (0, 2), (0, 2)]
    assert state.dispatched == [("child", 7, 1)]


def test_past_its_spin_it_blocks_for_what_is_left_of_the_timeout() -> None:
    state = Spun([[], [], [], [], [(5, 1)]], step=30e-6)
    doPoll(state, 0.5)
    asked = state._poller.asked
    assert [t for t, _ in asked[:-1]] == [0, 0, 0, 0]  # 0, 30, 60, 90 µs: then past 100
    assert asked[-1][0] == pytest.approx(0.5 - 120e-6)
    assert state.dispatched == [("client", 5, 1)]


def test_without_a_timeout_it_blocks_until_an_event_after_its_spin() -> None:
    state = Spun([[]] * 10 + [[(5, 1)]], step=30e-6)
    doPoll(state, None)
    assert state._poller.asked[-1] == (-1, 2)
    assert [t for t, _ in state._poller.asked[:-1]] == [0, 0, 0, 0]


def test_the_spin_never_outlasts_a_timed_call() -> None:
    """A timed call due in 40 µs: the spin stops at 40 µs (not 100), and
    the wait after it is 0."""
    state = Spun([[], [], [], [], [(5, 1)]], step=20e-6)
    doPoll(state, 40e-6)
    assert state._poller.asked == [(0, 2), (0, 2), (0, 2)]
    assert state.dispatched == []  # the timed call is due: the turn runs it


def test_it_sleeps_at_once_when_events_came_far_apart() -> None:
    """An idle gateway, or one a person's client calls now and then, never
    spins: its last wait was longer than DENSE."""
    state = Spun([[(5, 1)]])
    state._lastWait = reactor.DENSE
    doPoll(state, None)
    assert state._poller.asked == [(-1, 2)]


def test_it_sleeps_at_once_after_a_turn_of_several_events() -> None:
    """Several ready at once: other processes (clients, children) are busy
    too, and the CPU is theirs."""
    state = Spun([[(5, 1)]])
    state._lastReady = 2
    doPoll(state, 1.0)
    assert state._poller.asked == [(1.0, 2)]


def test_it_sleeps_at_once_when_the_site_says_it_is_not_worth_it() -> None:
    state = Spun([[(5, 1)]])
    state.worthIt = False
    doPoll(state, None)
    assert state._poller.asked == [(-1, 2)]


def test_no_spin_no_polling() -> None:
    state = Spun([[(5, 1)]])
    state._spin = 0.0
    doPoll(state, None)
    assert state._poller.asked == [(-1, 2)]


def test_each_wait_is_timed_and_decides_the_next() -> None:
    """A wait of 5 ms (an answer that took long) ends the spinning: the
    next wait blocks at once; a short one (and one event) starts it again."""
    state = Spun([[]] * 10 + [[(7, 1)]])
    state.blocked = 5e-3
    doPoll(state, None)
    assert state._poller.asked[-1] == (-1, 2)  # ten polls (0 to 90 µs), then asleep
    assert state._lastWait == pytest.approx(100e-6 + 5e-3)
    assert state._lastReady == 1
    state._poller.asked.clear()
    state.script = [[(5, 1)]]
    state.blocked = 20e-6  # the client's next request, 20 µs later
    doPoll(state, None)
    assert state._poller.asked == [(-1, 2)]
    state._poller.asked.clear()
    state.script = [[], [(7, 1)]]
    doPoll(state, None)
    assert state._poller.asked == [(0, 2), (0, 2)]


def test_a_turn_with_calls_due_polls_once_and_counts_as_close_together() -> None:
    state = Spun([[(5, 1), (7, 1)]])
    state._lastWait = 1.0
    doPoll(state, 0)
    assert state._poller.asked == [(0, 2)]
    assert (state._lastWait, state._lastReady) == (0.0, 2)


@pytest.mark.parametrize("seconds", [-1e-6, float("nan")])
def test_a_negative_spin_is_refused(seconds: float) -> None:
    made = GatewayReactor()
    try:
        with pytest.raises(ValueError, match="spin"):
            made.spinBeforeWaiting(seconds, lambda: True)
        made.spinBeforeWaiting(50e-6, lambda: False)
        assert made._spin == 50e-6 and made._spinWhile() is False
    finally:
        made._poller.close()
        for fd in (made.waker.i, made.waker.o):
            import os

            os.close(fd)
