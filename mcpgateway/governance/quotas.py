# -*- test-case-name: tests.governance.test_quotas -*-
"""Rate limits and daily quotas on the calls clients make.

L{CallQuotas.check} decides one call (L{CallFacts}) against every bucket
that applies to it: the principal's, the server's, the tool's and the
principal's on that tool, each from the gateway's C{"limits"} object or the
server entry's (L{mcpgateway.config.quotas}; the entry's wins, key by
key). A call is admitted only when every bucket has a token and every daily
quota room; then it takes one from each. A refusal takes nothing, so a
client that waits the C{retryAfter} it is told gets through.

What counts: C{tools/call}, C{resources/read} and C{prompts/get}
(L{COUNTED}), once per call: a 2026-07-28 retry round (a C{tools/call}
carrying the C{requestState} of an C{input_required} answer) continues a
call already counted, and C{tasks/get} polls, lists and pings are not
calls. A daily quota resets at midnight UTC (the clock's epoch seconds):
one counter per key, a reset a client can predict and show, where a
rolling 24 hours would need the time of every call to be exact.

Memory is bounded: at most C{maxBuckets} buckets are kept, the least
recently used forgotten first. A forgotten bucket comes back full (and its
day's count at zero): eviction never refuses a call, it can only admit one
more. Time is the injected clock's.
"""

from __future__ import annotations

import json
import math
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from mcpgateway.config.quotas import NO_QUOTAS, SCOPE_KEYS, QuotaSet, Rate, parseQuotas
from mcpgateway.core.decision import ALLOWED, Decision

COUNTED = frozenset({"tools/call", "resources/read", "prompts/get"})
"""The methods that count as calls."""
DAY = 86400.0
MAX_BUCKETS = 100_000
"""The buckets kept at most (each about 200 bytes)."""
MAX_SHOWN = 1000
"""The (principal, server) pairs whose refusals are kept for C{/health}."""


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the limits need to know of one request."""

    principal: str
    """The principal's key (empty: the anonymous caller of a local gateway)."""
    server: str
    method: str
    name: str = ""
    """The tool, prompt or resource URI it names."""
    continued: bool = False
    """A later round of a call already counted (a 2026-07-28 retry with
    C{requestState})."""


class _Bucket:
    __slots__ = ("count", "day", "tokens", "updated")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.updated = now
        self.day = math.floor(now / DAY)
        self.count = 0


@lru_cache(maxsize=256)
def quotasOf(text: str) -> QuotaSet:
    """The limits a server spec keeps as compact JSON (checked when the
    config was read; C{""}: none)."""
    if not text:
        return NO_QUOTAS
    return parseQuotas(json.loads(text))


class CallQuotas:
    """The buckets of every principal, server and tool of one gateway."""

    def __init__(
        self,
        gatewayQuotas: QuotaSet = NO_QUOTAS,
        serverQuotas: Callable[[str], QuotaSet] = lambda server: NO_QUOTAS,
        maxBuckets: int = MAX_BUCKETS,
    ) -> None:
        """
        @param gatewayQuotas: the gateway's top-level C{"limits"}.
        @param serverQuotas: a server's entry's C{"limits"}, by name.
        """
        self.gatewayQuotas = gatewayQuotas
        self._serverLimits = serverQuotas
        self.maxBuckets = maxBuckets
        self._buckets: OrderedDict[tuple[str, ...], _Bucket] = OrderedDict()
        self.refused: Counter[str] = Counter()
        """Refusals by scope (C{principal}, C{server}, C{tool},
        C{principal-tool}, C{daily})."""
        self.refusedBy: OrderedDict[tuple[str, str], int] = OrderedDict()
        """Refusals by (principal, server), for C{/health}: at most
        L{MAX_SHOWN}, the least recently refused forgotten first."""

    def __len__(self) -> int:
        return len(self._buckets)

    def configure(self, gatewayQuotas: QuotaSet) -> None:
        """Use new gateway-level limits (a reloaded config); the buckets stay."""
        self.gatewayQuotas = gatewayQuotas

    def _applicable(self, facts: CallFacts) -> list[tuple[tuple[str, ...], Rate, str, str]]:
        """(bucket key, rate, scope, limit id) of each limit on C{facts}."""
        own = self._serverLimits(facts.server)
        found: list[tuple[tuple[str, ...], Rate, str, str]] = []
        if own is NO_QUOTAS and self.gatewayQuotas is NO_QUOTAS:
            return found
        for key, scope in SCOPE_KEYS.items():
            rate: Rate | None = getattr(own, key)
            where = f"mcpServers.{facts.server}.limits.{key}"
            if rate is None:
                rate = getattr(self.gatewayQuotas, key)
                where = f"limits.{key}"
            if rate is None:
                continue
            server = facts.server if where.startswith("mcp") else ""
            if key == "principal":
                bucket: tuple[str, ...] = (where, facts.principal, server)
            elif key == "server":
                bucket = (where, facts.server)
            elif key == "tool":
                bucket = (where, facts.server, facts.name)
            else:
                bucket = (where, facts.principal, facts.server, facts.name)
            found.append((bucket, rate, scope, where))
        return found

    def check(self, facts: CallFacts, now: float) -> Decision:
        """Admit C{facts} (taking a token from each bucket) or refuse it
        (C{limited}, the seconds until it may succeed); nothing taken then."""
        if facts.method not in COUNTED or facts.continued:
            return ALLOWED
        applicable = self._applicable(facts)
        if not applicable:
            return ALLOWED
        buckets = [
            (self._bucket(key, rate, now), rate, scope, where)
            for key, rate, scope, where in applicable
        ]
        worst: tuple[float, str, str, Rate] | None = None
        for bucket, rate, scope, where in buckets:
            wait = _wait(bucket, rate, now)
            if wait is not None and (worst is None or wait[0] > worst[0]):
                worst = (wait[0], wait[1] or scope, where, rate)
        if worst is not None:
            seconds, scope, where, rate = worst
            self.refused[scope] += 1
            self._noteRefused((facts.principal, facts.server))
            return _refusal(seconds, scope, where, rate)
        for bucket, rate, _, _ in buckets:
            if rate.perSecond is not None:
                bucket.tokens -= 1.0
            bucket.count += 1
        return ALLOWED

    def _noteRefused(self, pair: tuple[str, str]) -> None:
        self.refusedBy[pair] = self.refusedBy.pop(pair, 0) + 1
        if len(self.refusedBy) > MAX_SHOWN:
            self.refusedBy.popitem(last=False)

    def remaining(self, principal: str, server: str, now: float) -> dict[str, int]:
        """The calls C{principal} may make on C{server} now, by scope, of
        the principal and server buckets that exist (for C{/health})."""
        found: dict[str, int] = {}
        for key, rate, scope, _ in self._applicable(CallFacts(principal, server, "tools/call")):
            if scope not in ("principal", "server"):
                continue
            bucket = self._buckets.get(key)
            if bucket is None:
                continue
            _refill(bucket, rate, now)
            left = math.floor(bucket.tokens) if rate.perSecond is not None else None
            if rate.daily is not None:
                daily = rate.daily - bucket.count
                left = daily if left is None else min(left, daily)
            if left is not None:
                found[scope] = max(0, left)
        return found

    def _bucket(self, key: tuple[str, ...], rate: Rate, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is not None:
            self._buckets.move_to_end(key)
            return bucket
        while len(self._buckets) >= self.maxBuckets:
            self._buckets.popitem(last=False)
        bucket = self._buckets[key] = _Bucket(rate.burst, now)
        return bucket


def _refill(bucket: _Bucket, rate: Rate, now: float) -> None:
    """Bring C{bucket} up to C{now}: tokens earned, a new day's count."""
    if rate.perSecond is not None and now > bucket.updated:
        bucket.tokens = min(rate.burst, bucket.tokens + (now - bucket.updated) * rate.perSecond)
    bucket.tokens = min(bucket.tokens, rate.burst)  # a config that shrank the burst
    bucket.updated = max(bucket.updated, now)
    day = math.floor(now / DAY)
    if day > bucket.day:
        bucket.day, bucket.count = day, 0


def _wait(bucket: _Bucket, rate: Rate, now: float) -> tuple[float, str] | None:
    """C{None} when C{bucket} admits one call now, else the seconds until it
    does and C{"daily"} when its quota is what refuses."""
    _refill(bucket, rate, now)
    if rate.daily is not None and bucket.count >= rate.daily:
        return (bucket.day + 1) * DAY - now, "daily"
    if rate.perSecond is not None and bucket.tokens < 1.0:
        return (1.0 - bucket.tokens) / rate.perSecond, ""
    return None


def scopeOf(limitId: str) -> str:
    """The scope of a limit's id (C{limits.principalTool} is
    C{principal-tool}, C{...daily} is C{daily})."""
    last = limitId.rsplit(".", 1)[-1]
    return "daily" if last == "daily" else SCOPE_KEYS.get(last, last)


def _refusal(seconds: float, scope: str, where: str, rate: Rate) -> Decision:
    limit = f"{rate.daily} calls a day" if scope == "daily" else rate.text
    if scope == "daily":
        where += ".daily"
    return Decision(
        "limited",
        policies=(where,),
        reason=f"rate limited: over the {scope} limit {where} ({limit})",
        retryAfter=max(seconds, 0.001),
    )
