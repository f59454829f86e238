# -*- test-case-name: tests.auth.test_quota -*-
"""Per-principal limits: requests in flight, and requests per second.

L{PrincipalQuota.admit} counts C{n} JSON-RPC requests (a batch counts each)
against the principal's concurrency limit and its token bucket (C{perSecond}
tokens a second, at most C{burst}); it answers C{None} (admitted: call
L{PrincipalQuota.release} with the same C{n} when they end) or the seconds
for C{Retry-After}: 1 over the concurrency limit, the seconds until enough
tokens (rounded up) over the rate. A batch larger than a limit is admitted
when nothing is in flight, or the bucket is full (then it owes the tokens),
so no request is refused for ever. The state of at most C{maxPrincipals}
principals is kept, least recently seen forgotten first (never one with
requests in flight while another may go). Time is the injected clock's.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict

from twisted.internet.interfaces import IReactorTime

RATE = "rate"
CONCURRENCY = "concurrency"


class _State:
    __slots__ = ("inFlight", "tokens", "updated")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.updated = now
        self.inFlight = 0


class PrincipalQuota:
    """The limits of every principal (keyed by the principal's key)."""

    def __init__(
        self,
        clock: IReactorTime,
        maxConcurrent: int,
        perSecond: float,
        burst: float | None = None,
        maxPrincipals: int = 10000,
    ) -> None:
        """
        @param maxConcurrent: requests in flight at most (0: no limit).
        @param perSecond: requests a second (0: no limit).
        @param burst: the bucket's size (default twice C{perSecond}, at least 1).
        """
        self._clock = clock
        self.maxConcurrent = maxConcurrent
        self.perSecond = perSecond
        self.burst = burst if burst is not None else max(1.0, 2.0 * perSecond)
        self.maxPrincipals = maxPrincipals
        self._states: OrderedDict[str, _State] = OrderedDict()
        self.throttled: Counter[str] = Counter()
        """Refusals by kind (L{RATE}, L{CONCURRENCY})."""
        self.lastKind = ""
        """The kind of the last refusal (what the audit record names)."""

    def __len__(self) -> int:
        return len(self._states)

    def inFlight(self, principal: str) -> int:
        state = self._states.get(principal)
        return 0 if state is None else state.inFlight

    def admit(self, principal: str, requests: int = 1) -> float | None:
        """Admit C{requests} more of C{principal}'s (C{None}), or the
        seconds to wait before trying again."""
        now = self._clock.seconds()
        state = self._state(principal, now)
        if (
            self.maxConcurrent > 0
            and state.inFlight > 0
            and state.inFlight + requests > self.maxConcurrent
        ):
            self.throttled[CONCURRENCY] += 1
            self.lastKind = CONCURRENCY
            return 1.0
        if self.perSecond > 0:
            state.tokens = min(self.burst, state.tokens + (now - state.updated) * self.perSecond)
            state.updated = now
            if state.tokens < requests and state.tokens < self.burst:
                missing = min(float(requests), self.burst) - state.tokens
                self.throttled[RATE] += 1
                self.lastKind = RATE
                return float(max(1, math.ceil(missing / self.perSecond)))
            state.tokens -= requests
        state.inFlight += requests
        return None

    def release(self, principal: str, requests: int = 1) -> None:
        """C{requests} admitted for C{principal} have ended."""
        state = self._states.get(principal)
        if state is not None:
            state.inFlight = max(0, state.inFlight - requests)

    def _state(self, principal: str, now: float) -> _State:
        state = self._states.get(principal)
        if state is not None:
            self._states.move_to_end(principal)
            return state
        if len(self._states) >= self.maxPrincipals:
            self._forgetOne()
        state = self._states[principal] = _State(self.burst, now)
        return state

    def _forgetOne(self) -> None:
        for name, state in self._states.items():
            if state.inFlight == 0:
                del self._states[name]
                return
        self._states.popitem(last=False)
