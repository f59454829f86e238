# -*- test-case-name: tests.test_timers -*-
"""A repeating call on an injected clock.

C{twisted.internet.task.LoopingCall} imports the global reactor in its
constructor (to default its C{clock}), so a service tree built and started
on a fake or a non-default reactor would install the global one. L{Every}
does the one thing the gateway needs of it, on the clock it is given, and
nothing else: call C{f} every C{interval} seconds until stopped; a call that
raises is the caller's to handle (wrap C{f}), the schedule goes on.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class Every:
    """Call C{f()} every C{interval} seconds on C{clock}, from L{start} until L{stop}."""

    def __init__(self, clock: IReactorTime, interval: float, f: Callable[[], object]) -> None:
        self._clock = clock
        self.interval = interval
        self._f = f
        self._call: IDelayedCall | None = None

    @property
    def running(self) -> bool:
        return self._call is not None

    def start(self, now: bool = False) -> None:
        """Start the schedule (calling C{f} at once too when C{now})."""
        if self._call is not None:
            raise RuntimeError("already started")
        self._call = self._clock.callLater(self.interval, self._tick)
        if now:
            self._f()

    def stop(self) -> None:
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()

    def _tick(self) -> None:
        self._call = self._clock.callLater(self.interval, self._tick)
        self._f()
