# -*- test-case-name: tests.config.test_quotas -*-
"""Read the C{"limits"} objects of a config file: rates and daily quotas.

The gateway's config may have a top-level C{"limits"} object, and each
server entry its own; both have the same shape::

    "limits": {
      "principal":     {"calls": "600/min", "burst": 50, "daily": 50000},
      "server":        {"calls": "100/s"},
      "tool":          {"calls": "30/s", "burst": 60},
      "principalTool": {"calls": "60/min", "burst": 10, "daily": 5000}
    }

Each key names whose calls share one bucket: one principal's (over every
server at the top level, over this server in an entry), one server's (every
principal's together), one tool's, one principal's calls of one tool. A
rate is C{N/s}, C{N/min} or C{N/h} (C{N} a positive number); C{burst} is
the bucket's size (a whole number, at least 1; default the rate's C{N},
at least 1); C{daily} is a whole number of calls a UTC day. Every value is
checked here, so a mistake is one clear sentence where the file is read
(L{QuotasError}). Pure: no logging, no reactor.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SCOPE_KEYS = {
    "principal": "principal",
    "server": "server",
    "tool": "tool",
    "principalTool": "principal-tool",
}
"""The keys of a C{"limits"} object, and the scope each one's refusals name."""
RATE_KEYS = ("calls", "burst", "daily")
"""The keys of one limit."""
UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0}
"""The units of a rate, in seconds."""
MAX_COUNT = 1_000_000_000
"""The largest count a rate, a burst or a daily quota may name."""
_RATE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*/\s*([a-z]+)\s*")


class QuotasError(ValueError):
    """A C{"limits"} object that cannot be used; its text says why."""


@dataclass(frozen=True, slots=True)
class Rate:
    """One limit: a token bucket and, perhaps, a daily quota."""

    perSecond: float | None
    """Tokens a second (C{None}: no rate, only a daily quota)."""
    burst: float
    """The bucket's size."""
    daily: int | None
    """Calls a UTC day (C{None}: no quota)."""
    text: str
    """The rate as written (C{60/min}), for messages."""


@dataclass(frozen=True, slots=True)
class QuotaSet:
    """The limits of one C{"limits"} object, by scope key."""

    principal: Rate | None = None
    server: Rate | None = None
    tool: Rate | None = None
    principalTool: Rate | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, key) is not None for key in SCOPE_KEYS)


NO_QUOTAS = QuotaSet()
"""The limits where none are configured."""


def parseRate(text: Any) -> tuple[float, float]:
    """C{"60/min"} as C{(60.0, 60.0)}: a count and the seconds it is per."""
    if not isinstance(text, str):
        raise QuotasError(f'a rate is a string like "60/min", not {_show(text)}')
    match = _RATE.fullmatch(text.lower())
    if match is None:
        raise QuotasError(f"the rate {_show(text)} is not N/s, N/min or N/h")
    count, unit = float(match.group(1)), match.group(2)
    if unit not in UNITS:
        raise QuotasError(f"the rate {_show(text)} has the unit {unit!r}: use s, min or h")
    if not (0 < count <= MAX_COUNT):
        raise QuotasError(f"the rate {_show(text)} must count more than 0, at most {MAX_COUNT}")
    return count, UNITS[unit]


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise QuotasError(
            f"{what} must be a whole number from 1 to {MAX_COUNT}, not {_show(value)}"
        )
    return value


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parseOne(value: Any, where: str) -> Rate:
    """One limit (C{{"calls": ..., "burst": ..., "daily": ...}})."""
    if not isinstance(value, dict):
        raise QuotasError(f'{where} must be an object like {{"calls": "60/min"}}')
    unknown = sorted(str(key) for key in value if key not in RATE_KEYS)
    if unknown:
        raise QuotasError(f"{where} has {_show(unknown[0])}: its keys are calls, burst, daily")
    if "calls" not in value and "daily" not in value:
        raise QuotasError(f'{where} needs "calls" or "daily"')
    perSecond: float | None = None
    burst = 1.0
    if "calls" in value:
        try:
            count, seconds = parseRate(value["calls"])
        except QuotasError as e:
            raise QuotasError(f"{where}.calls: {e}") from None
        perSecond = count / seconds
        burst = float(max(1, math.floor(count)))
    if "burst" in value:
        if perSecond is None:
            raise QuotasError(f'{where}.burst needs a "calls" rate')
        burst = float(_count(value["burst"], f"{where}.burst"))
    daily = None if "daily" not in value else _count(value["daily"], f"{where}.daily")
    text = value["calls"].strip() if perSecond is not None else f"{daily}/day"
    return Rate(perSecond, burst, daily, text)


def parseQuotas(value: Any, where: str = "limits") -> QuotaSet:
    """A whole C{"limits"} object, or L{QuotasError} naming what is wrong."""
    if not isinstance(value, Mapping):
        raise QuotasError(f"{where} must be an object with principal, server, tool, principalTool")
    unknown = sorted(str(key) for key in value if key not in SCOPE_KEYS)
    if unknown:
        raise QuotasError(
            f"{where} has {_show(unknown[0])}: its keys are principal, server, tool, principalTool"
        )
    rates = {key: parseOne(value[key], f"{where}.{key}") for key in SCOPE_KEYS if key in value}
    return QuotaSet(**rates) if rates else NO_QUOTAS


def canonical(value: Any, where: str = "limits") -> str:
    """C{value} checked (L{parseQuotas}) and written as compact JSON, the
    form a server spec keeps (hashable, and equal when the limits are);
    empty for C{None}."""
    if value is None:
        return ""
    parseQuotas(value, where)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
