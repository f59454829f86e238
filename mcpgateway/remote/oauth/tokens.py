# -*- test-case-name: tests.remote.test_oauth -*-
"""The gateway's tokens for its remote servers, encrypted at rest.

One L{UpstreamGrant} per remote server (and principal, on a team gateway):
where its authorization server takes tokens, the client the gateway
registered there, and the current access and refresh tokens. They live in
C{<state-dir>/upstream-tokens} (mode 0600), encrypted with Fernet
(AES-128-CBC with an HMAC-SHA256, from C{cryptography}: a maintained, audited
recipe with authenticated encryption and no choice of parameters to get
wrong). The key is kept in the OS keyring when one is available (the
C{keyring} package with a real backend: macOS Keychain, the Secret Service,
Windows' Credential Locker), else in C{<state-dir>/upstream-tokens.key}
(0600), a key of its own so the tokens never sit in a file in the clear.

Both C{mcpgateway login} (the CLI) and the running gateway (a refresh) write
the file: each write reads the file again and changes its one grant, so they
do not undo each other. No Twisted here: the CLI uses it too.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from mcpgateway.runtime.atomicfile import writeFileAtomic

TOKENS_FILE = "upstream-tokens"
KEY_FILE = "upstream-tokens.key"
KEYRING_SERVICE = "mcpgateway upstream tokens"
STORE_VERSION = 1


@dataclass
class UpstreamGrant:
    """What the gateway holds to call one remote server as one principal."""

    server: str
    resource: str
    """The server's URL: the RFC 8707 resource the tokens are for."""
    tokenEndpoint: str
    clientId: str
    clientSecret: str | None = None
    issuer: str = ""
    accessToken: str = ""
    refreshToken: str | None = None
    expiresAt: float | None = None
    """When the access token expires (seconds since the epoch; C{None}: not said)."""
    scope: str | None = None
    principal: str = ""
    """The key of the principal whose grant it is (C{""}: the gateway's user)."""
    revocationEndpoint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return grantKey(self.server, self.resource, self.principal)

    def expiresWithin(self, seconds: float, now: float) -> bool:
        """Whether the access token is gone, or will be within C{seconds}."""
        return self.expiresAt is not None and self.expiresAt - now <= seconds

    @classmethod
    def fromJson(cls, data: Any) -> UpstreamGrant | None:
        if not isinstance(data, dict):
            return None
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        try:
            grant = cls(**values)
        except TypeError:
            return None
        for text in (grant.server, grant.resource, grant.tokenEndpoint, grant.clientId):
            if not isinstance(text, str) or not text:
                return None
        return grant


def grantKey(server: str, resource: str, principal: str = "") -> str:
    return json.dumps([server, resource, principal])


class KeyKeeper(Protocol):
    """Where the store's key lives: C{get} (C{None}: none yet) and C{set}."""

    def get(self) -> bytes | None: ...

    def set(self, key: bytes) -> None: ...


class FileKey:
    """The key in C{<state-dir>/upstream-tokens.key}, mode 0600."""

    def __init__(self, stateDir: Path) -> None:
        self.path = Path(stateDir) / KEY_FILE

    def get(self) -> bytes | None:
        try:
            return self.path.read_bytes().strip() or None
        except FileNotFoundError:
            return None

    def set(self, key: bytes) -> None:
        writeFileAtomic(self.path, key + b"\n", mode=0o600)


class KeyringKey:
    """The key in the OS keyring, under the state directory's path."""

    def __init__(self, keyring: Any, stateDir: Path) -> None:
        self._keyring = keyring
        self._user = str(Path(stateDir).absolute())

    def get(self) -> bytes | None:
        value = self._keyring.get_password(KEYRING_SERVICE, self._user)
        return value.encode("ascii") if isinstance(value, str) and value else None

    def set(self, key: bytes) -> None:
        self._keyring.set_password(KEYRING_SERVICE, self._user, key.decode("ascii"))


def keyKeeper(stateDir: Path) -> KeyKeeper:
    """The OS keyring when the C{keyring} package has a real backend (and the
    state directory has no key file already), else the key file."""
    fileKey = FileKey(stateDir)
    if fileKey.path.exists():
        return fileKey
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return fileKey
    try:
        backend = keyring.get_keyring()
    except Exception:
        return fileKey
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return fileKey  # no backend that keeps secrets (a headless machine)
    return KeyringKey(keyring, stateDir)


class TokenStoreError(Exception):
    """The token file cannot be read (its key is gone, or it was tampered with)."""


class TokenStore:
    """The encrypted file of every L{UpstreamGrant}.

    @param keeper: where the key is (default: L{keyKeeper}).
    """

    def __init__(self, stateDir: Path, keeper: KeyKeeper | None = None) -> None:
        self.stateDir = Path(stateDir)
        self.path = self.stateDir / TOKENS_FILE
        self._keeperGiven = keeper
        self._cipher: Any = None

    @property
    def _keeper(self) -> KeyKeeper:
        """Where the key is, found on first use: the keyring is not asked
        before a daemon has forked."""
        if self._keeperGiven is None:
            self._keeperGiven = keyKeeper(self.stateDir)
        return self._keeperGiven

    def cipher(self) -> Any:
        """The store's Fernet, its key made if there is none: what else the
        gateway seals for itself (L{mcpgateway.remote.oauth.links}) is sealed
        with the same key, so every process that reads the store opens it."""
        if self._cipher is None:
            self._cipher = self._fernet(create=True)
        return self._cipher

    def _fernet(self, create: bool) -> Any:
        from cryptography.fernet import Fernet

        key = self._keeper.get()
        if key is None:
            if not create:
                return None
            key = Fernet.generate_key()
            self._keeper.set(key)
        return Fernet(key)

    def _read(self) -> dict[str, Any]:
        try:
            sealed = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        from cryptography.fernet import InvalidToken

        fernet = self._fernet(create=False)
        if fernet is None:
            raise TokenStoreError(
                f"{self.path} cannot be read: its key is gone; remove it and log in again"
            )
        try:
            data = json.loads(fernet.decrypt(sealed))
        except (InvalidToken, ValueError):
            raise TokenStoreError(
                f"{self.path} cannot be read (another key, or changed); remove it and log in again"
            ) from None
        grants = data.get("grants") if isinstance(data, dict) else None
        return grants if isinstance(grants, dict) else {}

    def _write(self, grants: dict[str, Any]) -> None:
        fernet = self._fernet(create=True)
        payload = json.dumps({"version": STORE_VERSION, "grants": grants}).encode("utf-8")
        os.makedirs(self.stateDir, mode=0o700, exist_ok=True)
        writeFileAtomic(self.path, fernet.encrypt(payload), mode=0o600)

    def all(self) -> list[UpstreamGrant]:
        """Every grant held (unusable records are left out)."""
        found = (UpstreamGrant.fromJson(value) for value in self._read().values())
        return [grant for grant in found if grant is not None]

    def get(self, server: str, resource: str, principal: str = "") -> UpstreamGrant | None:
        return UpstreamGrant.fromJson(self._read().get(grantKey(server, resource, principal)))

    def put(self, grant: UpstreamGrant) -> None:
        """Keep C{grant}, replacing the one for its server, resource and principal."""
        grants = self._read()
        grants[grant.key] = asdict(grant)
        self._write(grants)

    def remove(self, server: str, resource: str | None = None, principal: str = "") -> int:
        """Forget the grants of C{server} (of C{resource}, if given); how many."""
        grants = self._read()
        gone = [
            key
            for key, value in grants.items()
            if isinstance(value, dict)
            and value.get("server") == server
            and (resource is None or value.get("resource") == resource)
            and value.get("principal", "") == principal
        ]
        for key in gone:
            del grants[key]
        if gone:
            self._write(grants)
        return len(gone)

    def mtime(self) -> float | None:
        """When the file last changed (C{None}: there is none): a reader
        re-reads it when this moves."""
        try:
            return self.path.stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            return None
