# -*- test-case-name: tests.cluster.test_sealing -*-
"""Sealed session ids: the owner and the facts of a session, under AES-256-GCM.

One job: turn a session's L{SessionFacts} and its owner's L{Address} into an
opaque, tamper-evident id (and back), bound to the server, route and
principal it was made for (associated data, not carried), under the first of
the cluster's keys (every key opens: rotation).

An id is C{<label>.<b64url(kid ‖ nonce ‖ ciphertext ‖ tag)>}:

  - C{label} (C{[a-z0-9-]{1,32}}, the replica id) is a cleartext hint for a
    load balancer's routing; nothing trusts it (a tampered label still
    opens, the sealed address is what counts);
  - C{kid} is one byte of a digest of the sealing key (not its index: a key
    keeps its kid when a new one is put in front of it);
  - C{nonce} is 12 random bytes, C{tag} the 16-byte GCM tag;
  - the associated data is C{"mcpgw-sid1" NUL server "~" route NUL
    principal key}: the id of one route or principal used on another does
    not open (the same 404 as an unknown id);
  - the plaintext (L{_pack}) is at most 59 bytes, the whole id at most
    L{MAX_ID_LENGTH} characters (under the 256 the session store takes).

The AEAD key is L{derive}d from the cluster key (C{"session-id"}), never the
cluster key itself, which also keys the peer credential and the workspace,
credential and principal keys.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import ipaddress
import os
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mcpgateway.cluster.keyfile import KEY_BYTES, derive
from mcpgateway.core.sessions import ROUTED_CAPABILITIES, SessionFacts
from mcpgateway.protocol.versions import HANDSHAKE_VERSIONS

LABEL = re.compile(r"[a-z0-9-]{1,32}")
"""What a replica's label (C{--replica-id}) may be."""
MAX_ID_LENGTH = 32 + 1 + 118
"""The longest id L{SessionSealer.newId} makes (a 32-character label, a
32-character text credential key, an IPv6 owner)."""
MAX_CREDENTIAL_TEXT = 32
"""The longest credential key carried as text (the gateway's own keys are
16 base32 characters, carried as their 10 bytes)."""

_VERSION = 1
_AAD = b"mcpgw-sid1\0"
_NONCE = 12
_TAG = 16
_HEADER = struct.Struct(">BBBBIH")  # version, flags, capabilities, protocol, created, port
_OWNED = 0x01
_TLS = 0x02
_IPV6 = 0x04
_CREDENTIAL_RAW = 0x08
_CREDENTIAL_TEXT = 0x10
_KNOWN_FLAGS = _OWNED | _TLS | _IPV6 | _CREDENTIAL_RAW | _CREDENTIAL_TEXT
_RAW_CREDENTIAL = re.compile(r"[a-z2-7]{16}")
_BODY = re.compile(r"[A-Za-z0-9_-]+")
_MIN_BODY = 1 + _NONCE + _HEADER.size + 4 + _TAG


def keyId(key: bytes) -> int:
    """The one-byte id of cluster key C{key} in the ids it seals."""
    return hashlib.sha256(b"mcpgateway key id\0" + key).digest()[0]


@dataclass(frozen=True)
class Address:
    """Where a replica's peers reach it."""

    host: str
    """An IP literal (kept in its canonical form: C{"FD00:0::1"} becomes
    C{"fd00::1"}, so that addresses compare equal when they are), or a name
    (which no id can carry)."""
    port: int
    tls: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", _canonicalHost(self.host))

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


class SessionSealer:
    """A L{mcpgateway.core.sessions.SessionIds} for a cluster."""

    def __init__(self, keys: Sequence[bytes], label: str, address: Callable[[], Address]) -> None:
        """
        @param keys: the cluster keys (32 bytes each); the first seals.
        @param label: this replica's label (L{LABEL}), the ids' cleartext prefix.
        @param address: this replica's address (asked at every L{newId}: it
            may be known only once the gateway listens); an IP literal.

        @raise ValueError: no key, a key of the wrong length, a bad label.
        """
        if not keys:
            raise ValueError("no cluster key")
        if any(len(key) != KEY_BYTES for key in keys):
            raise ValueError(f"a cluster key is not {KEY_BYTES} bytes")
        if not LABEL.fullmatch(label):
            raise ValueError(f"the replica label must match {LABEL.pattern}")
        self.label = label
        self._address = address
        self._keys = [(keyId(key), AESGCM(derive(key, "session-id"))) for key in keys]

    def newId(self, facts: SessionFacts) -> str:
        """An id sealing C{facts} and this replica's address under the
        first key.

        @raise ValueError: the address is no IP literal, the protocol
            version is not a handshake version, the credential key is too
            long for an id.
        """
        kid, aead = self._keys[0]
        plaintext = _pack(facts, self._address())
        nonce = os.urandom(_NONCE)
        sealed = aead.encrypt(nonce, plaintext, _aad(facts.server, facts.scope, facts.principal))
        body = base64.urlsafe_b64encode(bytes([kid]) + nonce + sealed).rstrip(b"=")
        return f"{self.label}.{body.decode('ascii')}"

    def open(
        self, sessionId: str, server: str, scope: str, principal: str
    ) -> tuple[Address, SessionFacts] | None:
        """The owner and facts of C{sessionId}, or C{None} (not ours, tampered,
        or made for another server, route or principal)."""
        if len(sessionId) > MAX_ID_LENGTH:
            return None
        _, dot, text = sessionId.partition(".")
        if not dot or not _BODY.fullmatch(text):
            return None
        try:
            body = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(body) < _MIN_BODY or base64.urlsafe_b64encode(body).rstrip(b"=") != text.encode():
            return None  # a non-canonical encoding: the same bytes, another id
        kid, nonce, sealed = body[0], body[1 : 1 + _NONCE], body[1 + _NONCE :]
        aad = _aad(server, scope, principal)
        for each, aead in self._keys:
            if each != kid:
                continue
            try:
                plaintext = aead.decrypt(nonce, sealed, aad)
            except InvalidTag:
                continue
            return _unpack(plaintext, server, scope, principal)
        return None


def _aad(server: str, scope: str, principal: str) -> bytes:
    return b"".join(
        [_AAD, server.encode("utf-8"), b"~", scope.encode("utf-8"), b"\0", principal.encode()]
    )


def _pack(facts: SessionFacts, owner: Address) -> bytes:
    """The plaintext of an id: L{_HEADER} (version, flags, capability bits,
    protocol version index, created, owner port), the owner's address (4 or
    16 bytes), the credential key (none, 10 raw bytes, or a length byte and
    up to 32 ASCII characters)."""
    try:
        version = HANDSHAKE_VERSIONS.index(facts.protocolVersion)
    except ValueError:
        raise ValueError(f"protocol version {facts.protocolVersion!r} cannot be sealed") from None
    host = _packedHost(owner.host)
    if not 0 < owner.port < 65536:
        raise ValueError(f"the owner port {owner.port} is out of range")
    flags = _OWNED if facts.owned else 0
    if owner.tls:
        flags |= _TLS
    if len(host) == 16:
        flags |= _IPV6
    credential = b""
    if _RAW_CREDENTIAL.fullmatch(facts.credential):
        flags |= _CREDENTIAL_RAW
        credential = base64.b32decode(facts.credential.upper())
    elif facts.credential:
        text = facts.credential.encode("ascii", "replace")
        if len(text) > MAX_CREDENTIAL_TEXT or not facts.credential.isascii():
            raise ValueError("the credential key is not ASCII, or too long for a session id")
        flags |= _CREDENTIAL_TEXT
        credential = bytes([len(text)]) + text
    capabilities = 0
    for bit, name in enumerate(ROUTED_CAPABILITIES):
        if name in facts.capabilities:
            capabilities |= 1 << bit
    created = min(max(int(facts.created), 0), 0xFFFFFFFF)
    header = _HEADER.pack(_VERSION, flags, capabilities, version, created, owner.port)
    return header + host + credential


@functools.lru_cache(maxsize=16)
def _packedHost(host: str) -> bytes:
    """The 4 or 16 bytes of IP literal C{host} (a replica has one or two)."""
    try:
        return ipaddress.ip_address(host).packed
    except ValueError:
        raise ValueError(f"the owner address {host!r} is no IP literal") from None


@functools.lru_cache(maxsize=64)
def _canonicalHost(host: str) -> str:
    """C{host} in its canonical form if it is an IP literal, else as it is."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


@functools.lru_cache(maxsize=64)
def _hostOf(packed: bytes) -> str:
    return str(ipaddress.ip_address(packed))


def _unpack(
    plaintext: bytes, server: str, scope: str, principal: str
) -> tuple[Address, SessionFacts] | None:
    if len(plaintext) < _HEADER.size:
        return None
    version, flags, capabilities, protocol, created, port = _HEADER.unpack_from(plaintext)
    if version != _VERSION or flags & ~_KNOWN_FLAGS or protocol >= len(HANDSHAKE_VERSIONS):
        return None
    rest = plaintext[_HEADER.size :]
    size = 16 if flags & _IPV6 else 4
    host, rest = rest[:size], rest[size:]
    if len(host) != size:
        return None
    credential = ""
    if flags & _CREDENTIAL_RAW and flags & _CREDENTIAL_TEXT:
        return None
    if flags & _CREDENTIAL_RAW:
        if len(rest) != 10:
            return None
        credential = base64.b32encode(rest).decode("ascii").lower()
    elif flags & _CREDENTIAL_TEXT:
        if not rest or len(rest) != 1 + rest[0]:
            return None
        credential = rest[1:].decode("ascii", "replace")
    elif rest:
        return None
    owner = Address(_hostOf(host), port, bool(flags & _TLS))
    facts = SessionFacts(
        server=server,
        scope=scope,
        principal=principal,
        credential=credential,
        protocolVersion=HANDSHAKE_VERSIONS[protocol],
        capabilities=frozenset(
            name for bit, name in enumerate(ROUTED_CAPABILITIES) if capabilities & 1 << bit
        ),
        owned=bool(flags & _OWNED),
        created=float(created),
    )
    return owner, facts
