# -*- test-case-name: tests.core.test_catalog_cachescope,tests.core.test_cachescope -*-
"""The cache hints a server gives its lists (MCP 2026-07-28, C{ttlMs} and
C{cacheScope}), as the catalogs honour them.

C{cacheScope: "private"} says a result holds data of the caller's
authorization context: a cache MUST NOT serve it to another. The catalogs
keep a server's private lists per principal only
(L{mcpgateway.core.gateway.catalog.Catalogs.keyFor}). C{ttlMs} says how long
a result is fresh: a catalog serves a list past it only after listing it
again (or when listing it again failed: a stale list beats none, as the
specification allows a client). A server that gives no hints (every
server of the 2025 revisions) is kept as before: shared when its children
are, fresh until it says its list changed.

L{ListingHints} gathers what the pages of one listing said, kind by kind:
one private page makes the kind private, the shortest C{ttlMs} of its
pages bounds it, counted from when the listing began.

L{perCaller} marks the answer the gateway gives a 2026-07-28 client when
a policy decides per caller (C{--policy}: docs/guide/policy.md): the same
request can be answered differently, or refused, for another principal,
so such an answer is C{private} (specification: "filtered list results
that vary per user"); a shared cache that stored it as C{public} could
serve it to a caller the policy would have shown less, or refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcpgateway.protocol.jsonrpc import Message

PRIVATE = "private"
PUBLIC = "public"
SCOPES = (PUBLIC, PRIVATE)


MAX_TTL_MS = 10**15
"""The longest C{ttlMs} kept (some 30,000 years): a longer one counts as
this, so that every expiry is a finite number of seconds."""


def hintsOf(result: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """The C{cacheScope} and C{ttlMs} of one result (C{None}: not given,
    or not one of the values the specification defines; a negative
    C{ttlMs} counts as 0, as the specification asks of a client, and
    one over L{MAX_TTL_MS} as that)."""
    scope = result.get("cacheScope")
    return (scope if scope in SCOPES else None), ttlOf(result.get("ttlMs"))


def ttlOf(ttl: Any) -> int | None:
    """A C{ttlMs} as it is kept: an integer from 0 to L{MAX_TTL_MS}
    (C{None}: not an integer)."""
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        return None
    return min(max(ttl, 0), MAX_TTL_MS)


class ListingHints:
    """What the pages of one listing said of caching, by kind.

    @ivar started: when the listing began (the clock's seconds): each
        kind's freshness is counted from then, before any page arrived.
    @ivar private: the kinds a page of which was C{private}.
    @ivar ttl: the shortest C{ttlMs} of each kind's pages, where given.
    """

    def __init__(self, started: float) -> None:
        self.started = started
        self.private: set[str] = set()
        self.ttl: dict[str, int] = {}

    def page(self, kind: str, result: Mapping[str, Any]) -> None:
        """Note the hints of one page of C{kind}."""
        scope, ttl = hintsOf(result)
        if scope == PRIVATE:
            self.private.add(kind)
        if ttl is not None:
            self.ttl[kind] = min(ttl, self.ttl.get(kind, ttl))

    def expiry(self, kind: str) -> float | None:
        """When C{kind} stops being fresh (C{None}: no C{ttlMs} was given)."""
        ttl = self.ttl.get(kind)
        return None if ttl is None else self.started + ttl / 1000.0


def perCaller(message: Message) -> Message:
    """C{message} with a C{private} C{cacheScope} when its result carries
    one (a copy; C{message} itself when there is nothing to change); its
    C{ttlMs} as it is, and an answer without cache hints (an error, a 2025
    result) alone."""
    result = message.get("result")
    if not isinstance(result, dict) or result.get("cacheScope") in (None, PRIVATE):
        return message
    return {**message, "result": {**result, "cacheScope": PRIVATE}}
