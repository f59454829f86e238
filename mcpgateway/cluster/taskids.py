# -*- test-case-name: tests.cluster.test_taskids -*-
"""Sealed task ids: a task's owner, under AES-256-GCM, as session ids are.

One job: make the id of a task of the Tasks extension (MCP 2026-07-28) on a
cluster replica, so that a C{tasks/get} landing on any replica knows which
replica holds the task, and open it again there. An id is
C{<label>.<b64url(kid ‖ nonce ‖ ciphertext ‖ tag)>}, the layout of
L{mcpgateway.cluster.sealing}'s session ids:

  - C{label} (the owner's C{--replica-id}) is a cleartext hint for a load
    balancer routing on the C{Mcp-Name} header (the client puts the task
    id there); nothing trusts it;
  - the plaintext is the owner's address (flags, port, 4 or 16 address
    bytes) and its label, so a replica reading the owner's journal in a
    shared task directory finds the file by the sealed label, not the
    clear one;
  - the associated data is C{"mcpgw-task1" NUL server "~" route NUL
    principal key}: an id made for one server, route or principal does not
    open for another, which answers it as it answers an unknown id.

The AEAD key is derived from the cluster key (C{"task-id"}), never the key
itself, nor the session ids' key.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mcpgateway.cluster.keyfile import KEY_BYTES, derive
from mcpgateway.cluster.sealing import LABEL, Address, keyId

_VERSION = 1
_AAD = b"mcpgw-task1\0"
_NONCE = 12
_TAG = 16
_HEADER = struct.Struct(">BBH")  # version, flags, port
_TLS = 0x01
_IPV6 = 0x02
_KNOWN_FLAGS = _TLS | _IPV6
MAX_TASK_ID = 32 + 1 + 4 * ((1 + _NONCE + _HEADER.size + 16 + 1 + 32 + _TAG + 2) // 3)
"""The longest id L{TaskIdSealer.newId} makes (a 32-character label, an IPv6 owner)."""


@dataclass(frozen=True)
class TaskOwner:
    """The replica a task id was made on: its address and label."""

    address: Address
    label: str


class TaskIdSealer:
    """Makes and opens the task ids of one cluster replica."""

    def __init__(self, keys: Sequence[bytes], label: str, address: Callable[[], Address]) -> None:
        """
        @param keys: the cluster keys (32 bytes each); the first seals, every one opens.
        @param label: this replica's label (C{--replica-id}).
        @param address: this replica's address, asked at every id (known
            only once the gateway listens); an IP literal.

        @raise ValueError: no key, a key of the wrong length, a bad label.
        """
        if not keys or any(len(key) != KEY_BYTES for key in keys):
            raise ValueError(f"the cluster keys must be {KEY_BYTES} bytes each")
        if not LABEL.fullmatch(label):
            raise ValueError(f"the replica label must match {LABEL.pattern}")
        self.label = label
        self._address = address
        self._keys = [(keyId(key), AESGCM(derive(key, "task-id"))) for key in keys]

    def newId(self, server: str, scope: str, principal: str) -> str:
        """A new task's id for C{server}'s route C{scope} and C{principal},
        naming this replica."""
        owner = self._address()
        host = ipaddress.ip_address(owner.host).packed
        flags = (_TLS if owner.tls else 0) | (_IPV6 if len(host) == 16 else 0)
        label = self.label.encode("ascii")
        plaintext = _HEADER.pack(_VERSION, flags, owner.port) + host + bytes([len(label)]) + label
        kid, aead = self._keys[0]
        nonce = os.urandom(_NONCE)
        sealed = aead.encrypt(nonce, plaintext, _aad(server, scope, principal))
        body = base64.urlsafe_b64encode(bytes([kid]) + nonce + sealed).rstrip(b"=")
        return f"{self.label}.{body.decode('ascii')}"

    def owner(self, taskId: str, server: str, scope: str, principal: str) -> TaskOwner | None:
        """The replica C{taskId} was made on, or C{None}: not an id of this
        cluster for that server, route and principal (tampered, another
        route's or principal's, another key, or no sealed id at all)."""
        if len(taskId) > MAX_TASK_ID:
            return None
        _, dot, text = taskId.partition(".")
        if not dot or not text.isascii():
            return None
        try:
            body = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(body) < 1 + _NONCE + _HEADER.size + 4 + 1 + _TAG:
            return None
        if base64.urlsafe_b64encode(body).rstrip(b"=") != text.encode("ascii"):
            return None  # a non-canonical encoding: the same bytes, another id
        kid, nonce, sealed = body[0], body[1 : 1 + _NONCE], body[1 + _NONCE :]
        aad = _aad(server, scope, principal)
        for each, aead in self._keys:
            if each != kid:
                continue
            try:
                return _unpack(aead.decrypt(nonce, sealed, aad))
            except InvalidTag:
                continue
        return None


def _aad(server: str, scope: str, principal: str) -> bytes:
    return b"".join(
        [_AAD, server.encode("utf-8"), b"~", scope.encode("utf-8"), b"\0", principal.encode()]
    )


def _unpack(plaintext: bytes) -> TaskOwner | None:
    if len(plaintext) < _HEADER.size:
        return None
    version, flags, port = _HEADER.unpack_from(plaintext)
    if version != _VERSION or flags & ~_KNOWN_FLAGS:
        return None
    size = 16 if flags & _IPV6 else 4
    rest = plaintext[_HEADER.size :]
    host, rest = rest[:size], rest[size:]
    if len(host) != size or not rest or len(rest) != 1 + rest[0]:
        return None
    label = rest[1:].decode("ascii", "replace")
    if not LABEL.fullmatch(label):
        return None
    return TaskOwner(Address(str(ipaddress.ip_address(host)), port, bool(flags & _TLS)), label)
