# -*- test-case-name: tests.remote.oauth.test_exchange -*-
"""The access tokens principals present to the gateway, kept (in memory
only) for the servers whose tokens the gateway gets by trading them in
(L{mcpgateway.remote.oauth.exchange}). A module of its own, without the
HTTP client, so the wiring makes one without loading it."""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_PRINCIPALS = 10_000
"""Principals whose tokens are kept at once (the oldest go first)."""


class SubjectTokens:
    """The access token each principal last presented to the gateway."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._tokens: dict[str, tuple[str, float | None]] = {}

    def remember(self, principal: str, token: str, expires: float | None) -> None:
        """C{principal} presented C{token} (valid until C{expires}, if known)."""
        if not principal:
            return
        self._tokens.pop(principal, None)
        self._tokens[principal] = (token, expires)
        while len(self._tokens) > MAX_PRINCIPALS:
            del self._tokens[next(iter(self._tokens))]

    def tokenOf(self, principal: str) -> tuple[str, float | None] | None:
        """C{principal}'s token and its expiry, if it has one that has not expired."""
        known = self._tokens.get(principal)
        if known is None or (known[1] is not None and known[1] <= self._now()):
            return None
        return known
