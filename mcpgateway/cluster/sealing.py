# -*- test-case-name: tests.cluster.test_sealing -*-
"""Sealed session ids: the owner and the facts of a session, under AES-256-GCM.

One job: turn a session's L{SessionFacts} and its owner's L{Address} into an
opaque, tamper-evident id (and back), bound to the server, route and
principal it was made for (associated data, not carried), under the first of
the cluster's keys (every key opens: rotation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mcpgateway.core.sessions import SessionFacts


class ClusterKeyError(ValueError):
    """The cluster key file is missing, unreadable, too open or malformed."""


def loadClusterKeys(path: Path) -> tuple[bytes, ...]:
    """The keys of C{path} (base64, one 32-byte key a line; the first seals)."""
    raise NotImplementedError


def derive(key: bytes, label: str) -> bytes:
    """A 32-byte subkey of C{key} for C{label} (HKDF-SHA256)."""
    raise NotImplementedError


@dataclass(frozen=True)
class Address:
    """Where a replica's peers reach it."""

    host: str
    port: int
    tls: bool = False

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


class SessionSealer:
    """A L{mcpgateway.core.sessions.SessionIds} for a cluster."""

    def __init__(self, keys: Sequence[bytes], label: str, address: Callable[[], Address]) -> None:
        raise NotImplementedError

    def newId(self, facts: SessionFacts) -> str:
        raise NotImplementedError

    def open(
        self, sessionId: str, server: str, scope: str, principal: str
    ) -> tuple[Address, SessionFacts] | None:
        """The owner and facts of C{sessionId}, or C{None} (not ours, tampered,
        or made for another server, route or principal)."""
        raise NotImplementedError
