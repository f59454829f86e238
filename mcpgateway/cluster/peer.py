# -*- test-case-name: tests.cluster.test_peer -*-
"""The credential of a request one replica forwards to another.

One job: seal the caller's principal, bound to the forwarded request
(method, path, session id, a digest of its body) and a short expiry, so the
owner trusts it without the client's token (which is never forwarded).

The header value is C{b64url(nonce12 ‖ AES-256-GCM(claims) ‖ tag16)} under
a key L{derive}d from the cluster key (C{"peer"}). The claims (compact
JSON) are the principal (name, key, how it was proven, servers, scopes,
admin, its credential's expiry, and what a policy reads of it: its groups
and its token's claims), the address the client's request came from, the
label of the replica that forwarded, and the seal's own expiry (the
sender's clock + C{ttl}): the owner decides the request by the policy as
the replica it reached would, with the same caller and the same source
(L{mcpgateway.web.endpoints.admission}). The request it is
for is the associated data (C{"mcpgw-peer1"}, method, path, session id,
SHA-256 of the body): the header of one request does not open on another.
Replicas' clocks must agree within C{ttl}.

A header opens once: the replica that opens it remembers its nonce until
the seal expires (L{SeenNonces}), so a header captured on the wire cannot
be sent again within its life. Replicas must still talk over TLS or a
private network (docs/guide/cluster.md): what the header carries is sealed, but
the request beside it is not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any, TypeGuard

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.cluster.keyfile import KEY_BYTES, derive
from mcpgateway.httpbase.principal import VIA_PEER, Principal
from mcpgateway.runtime import logs

HEADER = b"mcp-gateway-peer"
MAX_VALUE = 16 * 1024
"""A longer header value is not even decoded."""

_AAD = b"mcpgw-peer1\0"
_NONCE = 12
_TAG = 16
_VALUE = re.compile(r"[A-Za-z0-9_-]+")
MAX_SEEN = 200_000
"""Nonces remembered at most (a header's life is 30 s: 6,600 forwarded
requests a second); past it the oldest are forgotten first."""


class SeenNonces:
    """The nonces of the headers opened whose seal has not expired yet."""

    def __init__(self, limit: int = MAX_SEEN) -> None:
        self._until: dict[bytes, float] = {}
        self._limit = limit

    def first(self, nonce: bytes, expires: float, now: float) -> bool:
        """Whether C{nonce} is seen for the first time (it is remembered
        until C{expires}); expired ones are forgotten as it goes."""
        while self._until:
            oldest = next(iter(self._until))  # dicts keep insertion order
            if self._until[oldest] > now and len(self._until) < self._limit:
                break
            del self._until[oldest]
        if nonce in self._until:
            return False
        self._until[nonce] = expires
        return True

    def __len__(self) -> int:
        return len(self._until)


@dataclass(frozen=True)
class PeerClaim:
    """What an opened C{Mcp-Gateway-Peer} header says.

    @ivar principal: the caller, with C{via} L{VIA_PEER}.
    @ivar fromLabel: the label of the replica that forwarded the request.
    @ivar via: how the caller was proven at that replica (C{token}, C{oauth}, ...).
    @ivar source: the address the client's request came from there
        (C{""}: not said).
    """

    principal: Principal
    fromLabel: str
    via: str
    source: str = ""


class PeerSeal:
    """Seals and opens the C{Mcp-Gateway-Peer} header.

    @ivar replays: headers refused because they were opened before (each
        is logged, naming the replica that sealed it).
    """

    log = Logger(observer=logs.observer)

    def __init__(self, key: bytes, label: str, clock: IReactorTime, ttl: float = 30.0) -> None:
        """
        @param key: the cluster key (the one that seals session ids; the
            AEAD key is derived from it).
        @param label: this replica's label (the C{fromLabel} of what it seals).
        @param clock: what expiries are measured on.
        @param ttl: seconds a sealed header is good for.
        """
        if len(key) != KEY_BYTES:
            raise ValueError(f"a cluster key is {KEY_BYTES} bytes")
        self._aead = AESGCM(derive(key, "peer"))
        self._label = label
        self._clock = clock
        self._ttl = ttl
        self._seen = SeenNonces()
        self.replays = 0

    def seal(
        self,
        principal: Principal,
        method: bytes,
        path: bytes,
        sessionId: str,
        body: bytes,
        source: str = "",
    ) -> str:
        """The header value carrying C{principal} for this very request,
        which came from C{source} (the client's address)."""
        claims = {
            "n": principal.name,
            "k": principal.key,
            "v": principal.via,
            "s": None if principal.servers is None else sorted(principal.servers),
            "c": sorted(principal.scopes),
            "a": principal.admin,
            "e": principal.expires,
            "g": sorted(principal.groups),
            "t": [list(pair) for pair in principal.claims],
            "src": source,
            "f": self._label,
            "x": self._clock.seconds() + self._ttl,
        }
        plaintext = json.dumps(claims, separators=(",", ":"), allow_nan=False).encode("utf-8")
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext, _aad(method, path, sessionId, body))
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")

    def open(
        self, value: str, method: bytes, path: bytes, sessionId: str, body: bytes
    ) -> Principal | None:
        """The principal C{value} carries for this very request, or C{None}."""
        claim = self.claim(value, method, path, sessionId, body)
        return None if claim is None else claim.principal

    def claim(
        self, value: str, method: bytes, path: bytes, sessionId: str, body: bytes
    ) -> PeerClaim | None:
        """All C{value} says, if it was sealed for this very request and has
        not expired; else C{None} (tampered, another request, expired, or
        another cluster's key)."""
        if len(value) > MAX_VALUE or not _VALUE.fullmatch(value):
            return None
        try:
            data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(data) < _NONCE + _TAG:
            return None
        try:
            plaintext = self._aead.decrypt(
                data[:_NONCE], data[_NONCE:], _aad(method, path, sessionId, body)
            )
        except InvalidTag:
            return None
        try:
            claims = json.loads(plaintext)
        except ValueError:
            return None
        now = self._clock.seconds()
        claim = _claimOf(claims, now)
        if claim is None:
            return None  # malformed or expired
        if not self._seen.first(data[:_NONCE], float(claims["x"]), now):
            self.replays += 1
            self.log.warn(
                "refused a Mcp-Gateway-Peer header sealed by replica {replica} that was"
                " opened before: a replay of a captured request (replicas must talk over TLS"
                " or a private network: docs/guide/cluster.md)",
                replica=claim.fromLabel,
            )
            return None
        return claim


def _aad(method: bytes, path: bytes, sessionId: str, body: bytes) -> bytes:
    return b"".join(
        [
            _AAD,
            method,
            b"\0",
            path,
            b"\0",
            sessionId.encode("utf-8", "surrogateescape"),
            b"\0",
            hashlib.sha256(body).digest(),
        ]
    )


def _claimOf(claims: Any, now: float) -> PeerClaim | None:
    """The claim of checked C{claims}, unless expired at C{now}."""
    if not isinstance(claims, dict):
        return None
    expiry = claims.get("x")
    if not _number(expiry) or now >= expiry:
        return None
    name, key, via, fromLabel = (claims.get(k) for k in ("n", "k", "v", "f"))
    servers, scopes, admin, expires = (claims.get(k) for k in ("s", "c", "a", "e"))
    # What a policy reads of the caller, and where its request came from:
    # absent from the seal of a replica that does not say them.
    groups, tags, source = claims.get("g", []), claims.get("t", []), claims.get("src", "")
    if not (
        isinstance(name, str)
        and isinstance(key, str)
        and isinstance(via, str)
        and isinstance(fromLabel, str)
        and (servers is None or _strings(servers))
        and _strings(scopes)
        and isinstance(admin, bool)
        and (expires is None or _number(expires))
        and _strings(groups)
        and isinstance(tags, list)
        and all(_pair(tag) for tag in tags)
        and isinstance(source, str)
    ):
        return None
    principal = Principal(
        name=name,
        key=key,
        via=VIA_PEER,
        servers=None if servers is None else frozenset(servers),
        scopes=frozenset(scopes),
        admin=admin,
        expires=None if expires is None else float(expires),
        groups=frozenset(groups),
        claims=tuple((tag[0], tag[1]) for tag in tags),
    )
    return PeerClaim(principal, fromLabel, via, source)


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strings(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(each, str) for each in value)


def _pair(value: Any) -> TypeGuard[list[str]]:
    """A token's claim as sealed: its name and its value, two strings."""
    return _strings(value) and len(value) == 2
