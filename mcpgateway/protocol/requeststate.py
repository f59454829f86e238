# -*- test-case-name: tests.protocol.test_requeststate -*-
"""The C{requestState} tokens of multi round-trip requests (MCP 2026-07-28).

One job, two kinds of token, one binding: L{StateCodec} seals a suspended
call's handle (the gateway asks the client for input on a handshake child's
behalf) into an opaque, tamper-evident, expiring, single-round token bound
to the request it belongs to; L{StateWrapper} wraps a 2026-07-28 child's own
C{requestState} for its client, bound the same way (L{bindingTag}).

A sealed token is C{"v1." + base64url(handle || round || expiry || tag)}; a
wrapped one C{"m1." + base64url(tag || state)}. The tag is an HMAC-SHA256
under a per-process key over the L{Binding} (server, route, method, target,
arguments digest, principal) and what the token carries. Every failure is
the same L{StateError} (no oracle).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import struct
from dataclasses import dataclass
from typing import Any

VERSION = "v1."
"""The prefix of every token this module seals."""
MAX_TOKEN = 256
"""Longer strings are refused before any decoding."""
HANDLE_SIZE = 16
"""Bytes of a call's handle."""
TAG_SIZE = 16
"""Bytes of the truncated HMAC-SHA256."""
KEY_SIZE = 32
_HEAD = struct.Struct(">IQ")
"""Round (u32) and expiry in milliseconds (u64), after the handle."""
_BODY_SIZE = HANDLE_SIZE + _HEAD.size + TAG_SIZE
_DOMAIN = b"mcpgw-rs1"
INVALID_STATE = "Invalid or expired requestState"
"""The one refusal of any token that does not open (no oracle)."""


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
    """SHA-256 of the canonical JSON of C{arguments} (keys sorted, no
    white space, UTF-8): the same arguments, however ordered, give the same
    digest."""
    text = json.dumps(
        arguments,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=repr,
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _field(value: str | bytes) -> bytes:
    """One length-prefixed field of the MAC input (so that no two bindings
    give the same bytes)."""
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return struct.pack(">I", len(data)) + data


def bindingTag(
    key: bytes, domain: bytes, binding: Binding, head: bytes = b"", tail: bytes | None = None
) -> bytes:
    """The truncated HMAC-SHA256 under C{key} of C{domain}, C{head} (raw),
    every field of C{binding} and C{tail} (both length-prefixed): what ties
    a token of either kind to the one request it is valid for."""
    mac = hmac.new(key, domain, hashlib.sha256)
    mac.update(head)
    for value in (
        binding.server,
        binding.route,
        binding.method,
        binding.target,
        binding.argsDigest,
        binding.principal,
    ):
        mac.update(_field(value))
    if tail is not None:
        mac.update(_field(tail))
    return mac.digest()[:TAG_SIZE]


class StateCodec:
    """Seals and opens tokens under one key."""

    def __init__(self, key: bytes | None = None) -> None:
        """@param key: the HMAC key (default: 32 random bytes)."""
        self._key = secrets.token_bytes(KEY_SIZE) if key is None else key

    def _tag(self, head: bytes, binding: Binding) -> bytes:
        return bindingTag(self._key, _DOMAIN, binding, head=head)

    def seal(self, handle: bytes, round: int, expiresAt: float, binding: Binding) -> str:
        """A token for round C{round} of the call C{handle}, valid until C{expiresAt}.

        @param handle: L{HANDLE_SIZE} bytes.
        @param round: 0 to 2**32 - 1.
        @param expiresAt: seconds on the caller's clock (kept to the millisecond).
        @raise ValueError: a handle of another size, a round out of range.
        """
        if len(handle) != HANDLE_SIZE:
            raise ValueError(f"a requestState handle has {HANDLE_SIZE} bytes")
        if not 0 <= round < 2**32:
            raise ValueError("a requestState round is an unsigned 32-bit number")
        expiry = min(max(math.floor(expiresAt * 1000), 0), 2**64 - 1)
        head = handle + _HEAD.pack(round, expiry)
        body = head + self._tag(head, binding)
        return VERSION + base64.urlsafe_b64encode(body).rstrip(b"=").decode("ascii")

    def open(self, token: str, binding: Binding, now: float) -> tuple[bytes, int]:
        """The handle and round of C{token}.

        @raise StateError: malformed, tampered, expired or bound to another request.
        """
        if not isinstance(token, str) or len(token) > MAX_TOKEN or not token.startswith(VERSION):
            raise StateError(INVALID_STATE)
        text = token[len(VERSION) :]
        try:
            body = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise StateError(INVALID_STATE) from None
        if (
            len(body) != _BODY_SIZE
            or base64.urlsafe_b64encode(body).rstrip(b"=").decode("ascii") != text
        ):
            raise StateError(INVALID_STATE)
        head, tag = body[:-TAG_SIZE], body[-TAG_SIZE:]
        if not hmac.compare_digest(tag, self._tag(head, binding)):
            raise StateError(INVALID_STATE)
        round, expiry = _HEAD.unpack(head[HANDLE_SIZE:])
        if now * 1000 >= expiry:
            raise StateError(INVALID_STATE)
        return head[:HANDLE_SIZE], round


MAX_WRAPPED = 1 << 20
"""Longer wrapped C{requestState} strings are refused before any decoding."""
WRAP_PREFIX = "m1."
"""The prefix of a child's C{requestState} wrapped for its client."""
WRAP_DOMAIN = b"mcpgw-ms1"


class StateWrapper:
    """Seals a 2026 child's C{requestState} for its client, bound to the
    request (L{Binding}) it came with, and opens it again on the retry."""

    def __init__(self, key: bytes | None = None) -> None:
        """@param key: the HMAC key (default: 32 random bytes)."""
        self._key = secrets.token_bytes(32) if key is None else key

    def _tag(self, state: bytes, binding: Binding) -> bytes:
        return bindingTag(self._key, WRAP_DOMAIN, binding, tail=state)

    def wrap(self, state: str, binding: Binding) -> str:
        """The token a client gets for the child's C{state}."""
        data = state.encode("utf-8", "surrogatepass")
        body = self._tag(data, binding) + data
        return WRAP_PREFIX + base64.urlsafe_b64encode(body).rstrip(b"=").decode("ascii")

    def unwrap(self, token: str, binding: Binding) -> str:
        """The child's state inside C{token}.

        @raise StateError: malformed, tampered, or bound to another request."""
        if (
            not isinstance(token, str)
            or len(token) > MAX_WRAPPED
            or not token.startswith(WRAP_PREFIX)
        ):
            raise StateError(INVALID_STATE)
        text = token[len(WRAP_PREFIX) :]
        try:
            body = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise StateError(INVALID_STATE) from None
        if (
            len(body) < TAG_SIZE
            or base64.urlsafe_b64encode(body).rstrip(b"=").decode("ascii") != text
        ):
            raise StateError(INVALID_STATE)
        tag, data = body[:TAG_SIZE], body[TAG_SIZE:]
        if not hmac.compare_digest(tag, self._tag(data, binding)):
            raise StateError(INVALID_STATE)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise StateError(INVALID_STATE) from None
