# -*- test-case-name: tests.trust.test_capabilities -*-
"""What a listing's client declared, as the pins compare it: the set of the
paths of its C{capabilities} object (L{declared}), where a client whose set
is a subset of another's declared fewer capabilities.

A server may list a tool only to a client that can do what the tool needs:
server-everything lists C{get-roots-list} only to a client that declared
C{roots}, its sampling tool only to one that declared C{sampling}. So a
listing that lacks a tool is not a removal when its client declared less
than the one that saw it, and a listing that shows more than a listing of
a client that declared more never did is an addition. The pins keep, per
tool, the smallest sets it was listed with (L{addLeast}), and per server
definition the largest sets its whole listings had (L{addMost}).

A client's capabilities are outside input: every set is bounded (its
depth, paths and names), and so is every collection of sets, which is
merged into one set on the safe side when it grows past L{MAX_SETS} (a
change is told rather than missed). Pure: no Twisted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Declared = frozenset[str]
"""The paths of the members a client's C{capabilities} declared (RFC 6901
pointers: C{/roots}, C{/roots/listChanged}, C{/tasks/requests/sampling})."""
Sets = tuple[Declared, ...]
"""Sets of L{Declared}, in a fixed order."""

MAX_DEPTH = 4
"""Levels of the C{capabilities} object read (deeper members are not told apart)."""
MAX_PATHS = 64
"""Paths kept of one client's capabilities."""
MAX_NAME = 64
"""Characters kept of one member's name."""
MAX_SETS = 16
"""Sets kept per tool, or per server definition."""


def declared(capabilities: Any) -> Declared | None:
    """The paths of the members C{capabilities} declares: each member whose
    value is neither C{null} nor C{false}, and the members of each object
    within, L{MAX_DEPTH} levels deep (C{None}: not an object, nothing known).
    """
    if not isinstance(capabilities, Mapping):
        return None
    paths: set[str] = set()
    _walk(capabilities, "", 1, paths)
    return frozenset(sorted(paths)[:MAX_PATHS])


def _walk(value: Mapping[Any, Any], prefix: str, depth: int, paths: set[str]) -> None:
    for key, member in value.items():
        if not isinstance(key, str) or member is None or member is False:
            continue
        path = prefix + "/" + key[:MAX_NAME].replace("~", "~0").replace("/", "~1")
        paths.add(path)
        if isinstance(member, Mapping) and depth < MAX_DEPTH and len(paths) < 4 * MAX_PATHS:
            _walk(member, path, depth + 1, paths)


def ordered(sets: Iterable[Declared]) -> Sets:
    """C{sets} in their fixed order (fewest paths first, then by the paths)."""
    return tuple(sorted(set(sets), key=lambda s: (len(s), sorted(s))))


def addLeast(sets: Sets | None, new: Declared) -> Sets:
    """The smallest sets of C{sets} and C{new}: none is a superset of
    another (C{None}: none known yet). C{sets} itself when C{new} adds
    nothing; past L{MAX_SETS} the sets they have in common (a smaller set:
    a tool is then expected of more clients)."""
    if sets is None:
        return (new,)
    if any(known <= new for known in sets):
        return sets
    kept = [known for known in sets if not new <= known] + [new]
    if len(kept) > MAX_SETS:
        return (frozenset.intersection(*kept),)
    return ordered(kept)


def addMost(sets: Sets, new: Declared) -> Sets:
    """The largest sets of C{sets} and C{new}: none is a subset of
    another. C{sets} itself when C{new} adds nothing; past L{MAX_SETS} their
    union (a larger set: fewer listings are taken for a first one)."""
    if any(new <= known for known in sets):
        return sets
    kept = [known for known in sets if not known <= new] + [new]
    if len(kept) > MAX_SETS:
        return (frozenset().union(*kept),)
    return ordered(kept)


def encode(sets: Sets) -> list[list[str]]:
    """C{sets} as the pins file keeps them."""
    return [sorted(one) for one in sets]


def decode(value: Any) -> Sets:
    """The sets the pins file keeps as C{value}.

    @raise TypeError: it is not a list of at most L{MAX_SETS} lists of
        strings."""
    if (
        not isinstance(value, list)
        or len(value) > MAX_SETS
        or not all(
            isinstance(one, list)
            and len(one) <= MAX_PATHS
            and all(isinstance(path, str) for path in one)
            for one in value
        )
    ):
        raise TypeError("a set of declared capabilities is not a list of lists of strings")
    return ordered(frozenset(one) for one in value)
