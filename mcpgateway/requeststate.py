# -*- test-case-name: tests.test_requeststate -*-
"""The C{requestState} tokens of multi round-trip requests (MCP 2026-07-28).

One job: seal a suspended call's handle into an opaque, tamper-evident,
expiring, single-round token bound to the request it belongs to, and open it
again. A token is C{"v1." + base64url(handle || round || expiry || tag)}; the
tag is an HMAC-SHA256 under a per-process key over the handle, round, expiry
and the L{Binding} (server, route, method, target, arguments digest,
principal). Every failure is the same L{StateError} (no oracle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Binding:
    """What a token is valid for: the same call, retried."""

    server: str
    route: str
    method: str
    target: str
    argsDigest: bytes
    principal: str = ""


class StateError(Exception):
    """Not a valid token for this request (any reason: one message)."""


def argumentsDigest(arguments: Any) -> bytes:
    """SHA-256 of the canonical JSON of C{arguments}."""
    raise NotImplementedError


class StateCodec:
    """Seals and opens tokens under one key."""

    def __init__(self, key: bytes | None = None) -> None:
        """@param key: the HMAC key (default: 32 random bytes)."""
        raise NotImplementedError

    def seal(self, handle: bytes, round: int, expiresAt: float, binding: Binding) -> str:
        """A token for round C{round} of the call C{handle}, valid until C{expiresAt}."""
        raise NotImplementedError

    def open(self, token: str, binding: Binding, now: float) -> tuple[bytes, int]:
        """The handle and round of C{token}.

        @raise StateError: malformed, tampered, expired or bound to another request.
        """
        raise NotImplementedError
