# -*- test-case-name: tests.runtime.test_timers -*-
"""Timers on an injected clock: a repeating call, and many timeouts on one timer.

C{twisted.internet.task.LoopingCall} imports the global reactor in its
constructor (to default its C{clock}), so a service tree built and started
on a fake or a non-default reactor would install the global one. L{Every}
does the one thing the gateway needs of it, on the clock it is given, and
nothing else: call C{f} every C{interval} seconds until stopped; a call that
raises is the caller's to handle (wrap C{f}), the schedule goes on.

L{Deadlines} times out many keys (the requests in flight through a child)
on one C{DelayedCall} instead of one each.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mcpgateway.runtime import logs


class Every:
    """Call C{f()} every C{interval} seconds on C{clock}, from L{start} until L{stop}."""

    def __init__(self, clock: IReactorTime, interval: float, f: Callable[[], object]) -> None:
        self._clock = clock
        self.interval = interval
        self._f = f
        self._call: IDelayedCall | None = None
        self.running = False
        """Whether it is started (an attribute, read without a call on hot paths)."""

    def start(self, now: bool = False) -> None:
        """Start the schedule (calling C{f} at once too when C{now})."""
        if self._call is not None:
            raise RuntimeError("already started")
        self._call = self._clock.callLater(self.interval, self._tick)
        self.running = True
        if now:
            self._f()

    def stop(self) -> None:
        call, self._call = self._call, None
        self.running = False
        if call is not None and call.active():
            call.cancel()

    def _tick(self) -> None:
        self._call = self._clock.callLater(self.interval, self._tick)
        self._f()


K = TypeVar("K", bound=Hashable)

_EARLY = 1e-6
"""A due time this close is due now: a timer set for C{due - now} may wake a
rounding error early."""


class Deadlines(Generic[K]):
    """Keys that each expire C{timeout} seconds after they were added, all on
    one timer: a timeout per request without a C{DelayedCall} per request
    (each costs an object, a heap push and a cancellation on the hot path).

    With one C{timeout}, the order keys are added in is the order they come
    due, so only the first needs a timer. Removing a key before its time is a
    dictionary deletion, and the timer stays: when it comes for a key that is
    gone, it moves to the first key left; when none is left, it goes. So
    requests sent one at a time (each answered before the next) share one
    timer too, instead of setting and cancelling one each (C=1).
    C{expired(key)}
    is called for each key whose time came, at exactly that time (as
    C{callLater} would)."""

    log = Logger(observer=logs.observer)

    def __init__(self, clock: IReactorTime, timeout: float, expired: Callable[[K], object]) -> None:
        self._clock = clock
        self.timeout = timeout
        self._expired = expired
        self._due: dict[K, float] = {}
        self._call: IDelayedCall | None = None
        self._firing = False
        """Inside L{_fire}: it sets the next timer itself when it is done, so
        a handler that adds a key (a pipelined request forwarded from the
        answer of one that timed out) cannot set one for its new key ahead
        of the keys that come due before it."""

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: object) -> bool:
        return key in self._due

    def add(self, key: K) -> None:
        """Start (or restart, from now) C{key}'s time."""
        due = self._due
        due.pop(key, None)  # a restarted key goes last: it comes due last
        due[key] = self._clock.seconds() + self.timeout
        if self._call is None and not self._firing:
            self._call = self._clock.callLater(self.timeout, self._fire)

    def discard(self, key: K) -> None:
        """Stop C{key}'s time (nothing happens if it has none). The timer
        is left to come: a key added before then needs none of its own, and
        with no key left then, it goes (L{stop} takes it at once)."""
        self._due.pop(key, None)

    def setTimeout(self, timeout: float) -> None:
        """Expire keys C{timeout} seconds after they were added from now on,
        the keys already running included (each counted from when it was
        added: a shorter timeout may expire some at the reactor's next turn).
        Every key moves by the same amount, so their order is still the
        order they come due."""
        shift = timeout - self.timeout
        self.timeout = timeout
        if not shift:
            return
        due = self._due
        for key in due:
            due[key] += shift
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()
        if due and not self._firing:
            delay = due[next(iter(due))] - self._clock.seconds()
            self._call = self._clock.callLater(max(delay, 0.0), self._fire)

    def stop(self) -> None:
        """Forget every key, and the timer."""
        self._due.clear()
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()

    def _fire(self) -> None:
        self._call = None
        due = self._due
        now = self._clock.seconds()
        self._firing = True
        try:
            while due:
                key = next(iter(due))
                if due[key] > now + _EARLY:
                    break
                del due[key]
                try:
                    self._expired(key)
                except Exception:
                    self.log.failure("a timeout's handler failed")
        finally:
            self._firing = False
        if due and self._call is None:
            delay = due[next(iter(due))] - self._clock.seconds()
            self._call = self._clock.callLater(max(delay, 0.0), self._fire)
