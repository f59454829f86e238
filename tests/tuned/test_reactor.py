"""L{mcpgateway.tuned.reactor}: the epoll reactor, dispatching without a log context."""

from __future__ import annotations

import errno

import pytest
from twisted.application.reactors import getReactorTypes
from twisted.internet.epollreactor import EPollReactor
from twisted.logger import capturedLogs
from twisted.python import context
from twisted.python.log import ILogContext

from mcpgateway.tuned import reactor
from mcpgateway.tuned.reactor import GatewayReactor


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

    def __init__(self, poller: FakePoller, selectables: dict[int, str]) -> None:
        self._quick = 0
        self._lastReady = 0
        self._poller = poller
        self._selectables = selectables
        self.dispatched: list[tuple[str, int, int]] = []
        self.raising: set[str] = set()
        self.systems: list[str] = []
        """The older log system each handler ran under."""

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
    [event] = [e for e in events if e.get("log_namespace") == "mcpgateway.tuned.reactor"]
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
    assert getattr(found, "moduleName", None) == "mcpgateway.tuned.reactor"


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
        warned = [e for e in events if e.get("log_namespace") == "mcpgateway.tuned.reactor"]
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
    """What L{mcpgateway.tuned.turnflush.TurnFlusher.sendIfFinal} reads: true
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
    """A C{SystemExit} out of one (a TurnFlusher's among the others) does
    not drop the rest: a dropped flusher would never be asked again."""
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


class Timeline(Polled):
    """A reactor's state on a simulated clock: events fall due at given
    times on given descriptors; a poll that does not block costs 1 µs, a
    blocking one moves the clock to the next event (or to its timeout).
    C{script}: what each dispatched event makes happen next, in turn, over
    and over, as (delay, descriptor): a client's request makes the child
    answer after the tool's time, its answer makes the client send again."""

    def __init__(self, script: list[tuple[float, int]], spin: float = 100e-6) -> None:
        super().__init__(FakePoller([]), {5: "client", 7: "child", 9: "other", 13: "conn"})
        self._spin = spin
        self.clock = 0.0
        self.due: list[tuple[float, int]] = []
        self.script = script
        self.step = 0
        self.worthIt = True
        self.spun = 0
        """Polls that did not block."""
        self.slept = 0
        """Polls that blocked."""
        self._poller.poll = self._poll  # type: ignore[method-assign]

    def at(self, when: float, fd: int) -> None:
        self.due.append((when, fd))
        self.due.sort()

    def _poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]:
        self._poller.asked.append((timeout, maxevents))
        if timeout == 0:
            self.spun += 1
            self.clock += 1e-6
        else:
            self.slept += 1
            nextDue = self.due[0][0] if self.due else None
            if timeout < 0:
                assert nextDue is not None, "asleep for ever"
                self.clock = max(self.clock, nextDue)
            else:
                self.clock = max(self.clock, min(nextDue or 1e9, self.clock + timeout))
        ready = [(fd, 1) for when, fd in self.due if when <= self.clock]
        self.due = [(when, fd) for when, fd in self.due if when > self.clock]
        return ready

    def _now(self) -> float:
        return self.clock

    def _spinWhile(self) -> bool:
        return self.worthIt

    def _doReadOrWrite(self, selectable: str, fd: int, event: int) -> None:
        super()._doReadOrWrite(selectable, fd, event)
        if self.script:
            delay, nextFd = self.script[self.step % len(self.script)]
            self.step += 1
            self.at(self.clock + delay, nextFd)

    def turns(self, count: int, timeout: float | None = None) -> tuple[int, int]:
        """Run C{count} turns; the polls that did not block and that did."""
        spun, slept = self.spun, self.slept
        for _ in range(count):
            doPoll(self, timeout)
        return self.spun - spun, self.slept - slept


def chain(tool: float, client: float, spin: float = 100e-6) -> Timeline:
    """One call in flight: the client's request (fd 5) makes the child
    answer (fd 7) C{tool} seconds later; the answer makes the client send
    its next request C{client} seconds later."""
    state = Timeline([(tool, 7), (client, 5)], spin)
    state.at(0.0, 5)
    state.turns(8)  # a run of quick waits, if they are; the next is the client's request
    return state


def test_quick_calls_one_at_a_time_find_it_awake_at_every_hop() -> None:
    """The benchmark's chain: a 30 µs tool, a client that sends again 20 µs
    after its answer: no poll blocks any more."""
    state = chain(tool=30e-6, client=20e-6)
    spun, slept = state.turns(20)  # ten calls
    assert slept == 0
    assert 0 < spun <= 10 * (30 + 20 + 2)  # about a poll per µs it waited


def test_a_tool_slower_than_twice_the_spin_is_waited_for_asleep() -> None:
    """A 2 ms tool: no wait is preceded by polls, call after call."""
    state = chain(tool=2e-3, client=20e-6)
    assert state.turns(20) == (0, 20)


def test_a_client_that_pauses_between_calls_is_waited_for_asleep() -> None:
    """A person's client (2 s between calls), even with a quick tool."""
    state = chain(tool=30e-6, client=2.0)
    assert state.turns(20) == (0, 20)


def test_an_sdk_client_with_a_connection_per_call_is_waited_for_asleep() -> None:
    """The Python SDK's pattern, as strace showed it: head, body 45 µs
    later, the child's answer 340 µs later, the client's close 280 µs
    later, the next connection 50 µs later and its head 600 µs later:
    never two quick waits in a row, so never a spin that finds nothing."""
    state = Timeline([(45e-6, 13), (340e-6, 7), (280e-6, 13), (50e-6, 9), (600e-6, 13)])
    state.at(0.0, 13)
    state.turns(10)
    assert state.turns(50) == (0, 50)


def test_stderr_lines_300_microseconds_apart_never_make_it_spin() -> None:
    state = Timeline([(300e-6, 9)])
    state.at(0.0, 9)
    state.turns(4)
    assert state.turns(20) == (0, 20)


def test_a_slow_answer_stops_the_spinning_until_a_run_of_quick_waits() -> None:
    """A cold child answers once in 500 µs: the waits after it block at
    once until QUICK_RUN quick ones in a row; then the chain spins again."""
    state = chain(tool=30e-6, client=20e-6)
    state.script = [(500e-6, 7), (20e-6, 5)] + [(30e-6, 7), (20e-6, 5)] * 10
    state.step = 0
    state.turns(1)  # the client's request
    spun, slept = state.turns(1)  # the child's slow answer: caught by no spin
    assert slept == 1 and spun == 100
    assert state.turns(reactor.QUICK_RUN) == (0, reactor.QUICK_RUN)
    spun, slept = state.turns(4)
    assert slept == 0 and spun > 0


def test_several_events_at_once_end_the_spinning() -> None:
    state = chain(tool=30e-6, client=20e-6)
    state.at(state.clock, 9)
    state.at(state.clock, 5)  # two ready in one turn: others are busy too
    state.turns(1)
    assert state._lastReady == 2
    spun, slept = state.turns(1)
    assert (spun, slept) == (0, 1)


def test_it_never_spins_when_the_site_serves_more_than_one_request() -> None:
    state = chain(tool=30e-6, client=20e-6)
    state.worthIt = False
    spun, _ = state.turns(20)
    assert spun == 0


def test_no_spin_set_no_polling() -> None:
    state = chain(tool=30e-6, client=20e-6, spin=0.0)
    assert state.turns(20) == (0, 20)


def test_a_new_reactor_sleeps_on_its_first_waits() -> None:
    """Nothing known yet of its waits: no spin."""
    state = Timeline([(30e-6, 7), (20e-6, 5)])
    state.at(0.0, 5)
    assert state.turns(2) == (0, 2)
    made = GatewayReactor()
    try:
        assert (made._quick, made._lastReady, made._spin) == (0, 0, 0.0)
    finally:
        made._poller.close()
        made.waker.connectionLost(None)


def test_past_its_spin_it_blocks_for_what_is_left_of_the_timeout() -> None:
    state = chain(tool=30e-6, client=20e-6)
    state.script = [(150e-6, 7), (20e-6, 5)]  # caught by no spin, but within twice it
    state.step = 0
    state.turns(1)  # the client's request
    state._poller.asked.clear()
    state.turns(1, timeout=0.5)  # the child's hop
    asked = state._poller.asked
    assert {t for t, _ in asked[:-1]} == {0}
    assert len(asked) - 1 == 100  # 100 µs of polls
    assert asked[-1][0] == pytest.approx(0.5 - 100e-6)
    assert state.dispatched[-1] == ("child", 7, 1)


def test_the_spin_never_outlasts_a_timed_call() -> None:
    """A timed call due in 40 µs: the polls stop at 40 µs, and the wait
    after them is 0: the turn runs the call."""
    state = chain(tool=30e-6, client=20e-6)
    state.script = [(60e-6, 7), (20e-6, 5)]
    state.step = 0
    state.turns(1)  # the client's request
    state._poller.asked.clear()
    before = len(state.dispatched)
    state.turns(1, timeout=40e-6)
    asked = state._poller.asked
    assert 40 <= len(asked) <= 42  # about a poll per µs
    assert all(t == 0 for t, _ in asked)  # the last, past the spin, waits 0 s too
    assert len(state.dispatched) == before  # the child answers later


def test_a_turn_with_calls_due_does_not_wait() -> None:
    state = chain(tool=30e-6, client=20e-6)
    quick = state._quick
    state._poller.asked.clear()
    state.turns(1, timeout=0)
    assert state._poller.asked == [(0, 4)]
    assert state._quick == quick  # not a wait: the run of quick ones goes on


@pytest.mark.parametrize("seconds", [-1e-6, float("nan"), float("inf")])
def test_a_spin_that_is_not_a_finite_time_is_refused(seconds: float) -> None:
    made = GatewayReactor()
    try:
        with pytest.raises(ValueError, match="spin"):
            made.spinBeforeWaiting(seconds, lambda: True)
        made.spinBeforeWaiting(50e-6, lambda: False)
        assert made._spin == 50e-6 and made._spinWhile() is False
    finally:
        made._poller.close()
        made.waker.connectionLost(None)
