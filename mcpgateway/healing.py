"""When to restart a failing server, and when to stop trying: backoff and breaker.

A L{Breaker} belongs to one server. Every unexpected child exit is a
failure. Restarts wait C{base} seconds, doubling per consecutive failure up to
C{cap}; a child that ran for C{resetAfter} seconds resets the count. C{threshold}
failures within C{window} seconds open the circuit: requests are refused at
once, with the reason, until C{coolDown} has passed; then one attempt is let
through (half-open), and a child that initializes closes the circuit again.
"""

from __future__ import annotations

from collections import deque

from twisted.internet.interfaces import IReactorTime

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class Breaker:
    """Backoff and circuit state of one server; time from the injected clock."""

    def __init__(self, clock: IReactorTime, base: float = 1.0, cap: float = 60.0,
                 resetAfter: float = 300.0, window: float = 300.0, threshold: int = 5,
                 coolDown: float = 60.0) -> None:
        self._clock = clock
        self.base, self.cap, self.resetAfter = base, cap, resetAfter
        self.window, self.threshold, self.coolDown = window, threshold, coolDown
        self.consecutive = 0
        self.failures: deque[float] = deque()
        self.openedAt: float | None = None
        self.lastFailure: str | None = None
        self.totalFailures = 0

    def failed(self, why: str, uptime: float | None) -> None:
        """A child exited unexpectedly after C{uptime} seconds (C{None}: it
        never got as far as initializing)."""
        now = self._clock.seconds()
        if uptime is not None and uptime >= self.resetAfter:
            self.consecutive = 0
        self.consecutive += 1
        self.totalFailures += 1
        self.lastFailure = why
        self.failures.append(now)
        self._prune(now)
        if len(self.failures) >= self.threshold or self.openedAt is not None:
            self.openedAt = now  # a failed half-open attempt opens it again

    def succeeded(self) -> None:
        """A child initialized: the circuit closes (the backoff count stays
        until the child has run for C{resetAfter})."""
        self.openedAt = None

    def reset(self) -> None:
        """Forget every failure (C{reset-circuit})."""
        self.consecutive = 0
        self.failures.clear()
        self.openedAt = None

    def delay(self) -> float:
        """Seconds to wait before the next start."""
        if self.consecutive == 0:
            return 0.0
        return float(min(self.cap, self.base * 2 ** (self.consecutive - 1)))

    @property
    def state(self) -> str:
        if self.openedAt is None:
            return CLOSED
        if self._clock.seconds() >= self.openedAt + self.coolDown:
            return HALF_OPEN
        return OPEN

    def retryIn(self) -> float:
        """Seconds until an open circuit half-opens."""
        if self.openedAt is None:
            return 0.0
        return max(0.0, self.openedAt + self.coolDown - self._clock.seconds())

    def recentFailures(self) -> int:
        self._prune(self._clock.seconds())
        return len(self.failures)

    def _prune(self, now: float) -> None:
        while self.failures and now - self.failures[0] > self.window:
            self.failures.popleft()
