# -*- test-case-name: tests.config.test_debounce -*-
"""Waiting for a burst of changes to settle: the L{Debouncer}.

A file is written in bursts (an editor's save is several events; Claude
Code rewrites its file many times a second), and each watched file's
reaction (reloading the servers, reading C{aggregate.json} again) should
run once per burst. A L{Debouncer} runs its action once nothing happened
for C{quiet} seconds, but no later than C{maxWait} after the first change
it covers: a writer that never pauses must not starve the reaction.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class Debouncer:
    """Runs C{action} once a burst of L{trigger}s settles (see the module
    docstring), on C{clock}."""

    def __init__(
        self,
        clock: IReactorTime,
        quiet: float,
        maxWait: float,
        action: Callable[[], object],
    ) -> None:
        """
        @param quiet: seconds without a trigger before C{action} runs.
        @param maxWait: C{action} runs at most this many seconds after the
            first trigger it covers, however often it is triggered since.
        @param action: what a settled burst runs (its result is not used).
        """
        self._clock = clock
        self._quiet = quiet
        self._maxWait = maxWait
        self._action = action
        self._call: IDelayedCall | None = None
        self._first: float | None = None

    @property
    def pending(self) -> bool:
        """Whether a burst waits to settle (its action has not run yet)."""
        return self._call is not None and self._call.active()

    def trigger(self) -> None:
        """Something changed: run the action once things settle."""
        now = self._clock.seconds()
        call = self._call
        if call is not None and call.active():
            first = now if self._first is None else self._first
            call.reset(max(0.0, min(self._quiet, first + self._maxWait - now)))
            return
        self._first = now
        self._call = self._clock.callLater(self._quiet, self._settled)

    def cancel(self) -> None:
        """Forget the burst waiting to settle (whoever cancels covers it)."""
        call, self._call = self._call, None
        self._first = None
        if call is not None and call.active():
            call.cancel()

    def _settled(self) -> None:
        self._call = None
        self._first = None
        self._action()
