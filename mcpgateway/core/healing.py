# -*- test-case-name: tests.core.test_healing -*-
"""When to restart a failing server, and when to stop trying: backoff and breaker.

A L{Breaker} belongs to one server. It counts crash loops, not deaths: a
child that was serving and was killed from outside (the OOM killer, a user's
C{pkill}) is restarted at once and never opens the circuit.

B{The rule} (L{Breaker.isCrash}): a child's unexpected exit is a I{crash} when
the child

  - never initialized (it exited, or was killed, before its C{initialize}
    answer; a refused C{initialize} is a crash too), or
  - exited within C{crashWindow} (10) seconds of being started without having
    answered any request after its C{initialize}.

Any other exit (the child had answered a request, or had run for 10 s) is not
a crash: it resets the backoff and forgets the crashes counted so far.

Restarts after a crash wait C{base} seconds, doubling per consecutive crash
up to C{cap}. C{threshold} crashes within C{window} seconds (with no healthy
child in between) open the circuit: requests are refused at once, with the
reason, until C{coolDown} has passed; then one attempt is let through
(half-open), and a child that initializes closes the circuit again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime

from mcpgateway.core.status import Circuit

CRASH_WINDOW = 10.0
"""Seconds after its start within which a child that answered nothing but its
C{initialize} and exits counts as crashing."""


@dataclass(frozen=True)
class HealingPolicy:
    """The numbers of the rule above, one set for every server of a gateway."""

    base: float = 1.0
    """Seconds to wait before restarting after the first crash (C{--restart-backoff})."""
    cap: float = 60.0
    crashWindow: float = CRASH_WINDOW
    window: float = 300.0
    threshold: int = 5
    coolDown: float = 60.0
    """Seconds an open circuit refuses requests (C{--circuit-cool-down})."""

    def breaker(self, clock: IReactorTime) -> Breaker:
        """A fresh L{Breaker} for one server, keeping time with C{clock}."""
        return Breaker(
            clock,
            base=self.base,
            cap=self.cap,
            crashWindow=self.crashWindow,
            window=self.window,
            threshold=self.threshold,
            coolDown=self.coolDown,
        )


class Breaker:
    """Backoff and circuit state of one server; time from the injected clock.

    @ivar consecutive: crashes since the last exit that was not one.
    @ivar crashTimes: when the crashes counted for the circuit happened.
    @ivar failures: when the unexpected exits (crash or not) of the last
        C{window} seconds happened (a server with any is "degraded").
    @ivar totalFailures: every unexpected exit, crash or not.
    @ivar crashes: every exit that counted as a crash.
    """

    def __init__(
        self,
        clock: IReactorTime,
        base: float = 1.0,
        cap: float = 60.0,
        crashWindow: float = CRASH_WINDOW,
        window: float = 300.0,
        threshold: int = 5,
        coolDown: float = 60.0,
    ) -> None:
        self._clock = clock
        self.base, self.cap, self.crashWindow = base, cap, crashWindow
        self.window, self.threshold, self.coolDown = window, threshold, coolDown
        self.consecutive = 0
        self.crashTimes: deque[float] = deque()
        self.failures: deque[float] = deque()
        self.openedAt: float | None = None
        self.lastFailure: str | None = None
        self.totalFailures = 0
        self.crashes = 0

    def isCrash(self, initialized: bool, served: bool, uptime: float) -> bool:
        """Whether an exit counts as a crash (see the module's rule)."""
        return not initialized or (not served and uptime < self.crashWindow)

    def exited(self, why: str, *, initialized: bool, served: bool, uptime: float) -> bool:
        """A child exited unexpectedly after C{uptime} seconds; C{initialized}:
        it had answered its C{initialize}; C{served}: it had answered a
        request after that. Returns whether it counted as a crash."""
        now = self._clock.seconds()
        self.totalFailures += 1
        self.lastFailure = why
        self.failures.append(now)
        self._prune(now)
        if not self.isCrash(initialized, served, uptime):
            self.consecutive = 0
            self.crashTimes.clear()
            return False
        self.consecutive += 1
        self.crashes += 1
        self.crashTimes.append(now)
        if len(self.crashTimes) >= self.threshold or self.openedAt is not None:
            self.openedAt = now  # a failed half-open attempt opens it again
        return True

    def succeeded(self) -> None:
        """A child initialized: the circuit closes (the crash count stays
        until an exit that is not a crash)."""
        self.openedAt = None

    def reset(self) -> None:
        """Forget every crash (C{reset-circuit})."""
        self.consecutive = 0
        self.crashTimes.clear()
        self.failures.clear()
        self.openedAt = None

    def delay(self) -> float:
        """Seconds to wait before the next start."""
        if self.consecutive == 0:
            return 0.0
        return float(min(self.cap, self.base * 2 ** (self.consecutive - 1)))

    @property
    def state(self) -> Circuit:
        if self.openedAt is None:
            return Circuit.CLOSED
        if self._clock.seconds() >= self.openedAt + self.coolDown:
            return Circuit.HALF_OPEN
        return Circuit.OPEN

    def retryIn(self) -> float:
        """Seconds until an open circuit half-opens."""
        if self.openedAt is None:
            return 0.0
        return max(0.0, self.openedAt + self.coolDown - self._clock.seconds())

    def recentFailures(self) -> int:
        """Unexpected exits, crash or not, within the window."""
        self._prune(self._clock.seconds())
        return len(self.failures)

    def recentCrashes(self) -> int:
        """Crashes counted for the circuit: within the window, and since the
        last exit that was not a crash."""
        self._prune(self._clock.seconds())
        return len(self.crashTimes)

    def _prune(self, now: float) -> None:
        for times in (self.failures, self.crashTimes):
            while times and now - times[0] > self.window:
                times.popleft()


def circuitReason(server: str, breaker: Breaker) -> str:
    """Why requests to C{server} are refused while its circuit is open."""
    return (
        f"server '{server}' is failing: {breaker.recentCrashes()} failure(s)"
        f" to start or stay up in the last {breaker.window / 60:g} minutes"
        f" (last: {breaker.lastFailure});"
        f" the gateway tries again in {breaker.retryIn():.0f} s"
    )
