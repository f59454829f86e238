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
(0600), a key of its own so the tokens never sit in a file in the clear
(L{mcpgateway.runtime.sealedfile}).

Both C{mcpgateway login} (the CLI) and the running gateway (a refresh) write
the file: each write reads the file again and changes its one grant, so they
do not undo each other. No Twisted here: the CLI uses it too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from mcpgateway.runtime import sealedfile
from mcpgateway.runtime.sealedfile import KeyKeeper, SealedFile, SealedFileError

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


def keyKeeper(stateDir: Path) -> KeyKeeper:
    """The OS keyring when the C{keyring} package has a real backend (and the
    state directory has no key file already), else the key file."""
    return sealedfile.keyKeeper(
        Path(stateDir) / KEY_FILE, KEYRING_SERVICE, str(Path(stateDir).absolute())
    )


class TokenStoreError(Exception):
    """The token file cannot be read (its key is gone, or it was tampered with)."""


class TokenStore:
    """The encrypted file of every L{UpstreamGrant}.

    @param keeper: where the key is (default: L{keyKeeper}).
    """

    def __init__(self, stateDir: Path, keeper: KeyKeeper | None = None) -> None:
        self.stateDir = Path(stateDir)
        self.path = self.stateDir / TOKENS_FILE
        # The key's place is found on first use: the keyring is not asked
        # before a daemon has forked.
        self._sealed = SealedFile(
            self.path, keeper if keeper is not None else lambda: keyKeeper(self.stateDir)
        )

    def cipher(self) -> Any:
        """The store's Fernet, its key made if there is none: what else the
        gateway seals for itself (L{mcpgateway.remote.oauth.links}) is sealed
        with the same key, so every process that reads the store opens it."""
        return self._sealed.cipher()

    def _read(self) -> dict[str, Any]:
        try:
            data = self._sealed.read()
        except SealedFileError as e:
            raise TokenStoreError(f"{e}; remove it and log in again") from None
        grants = data.get("grants") if isinstance(data, dict) else None
        return grants if isinstance(grants, dict) else {}

    def _write(self, grants: dict[str, Any]) -> None:
        self._sealed.write({"version": STORE_VERSION, "grants": grants})

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
