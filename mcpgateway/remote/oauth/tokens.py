# -*- test-case-name: tests.remote.oauth.test_oauth -*-
"""The gateway's tokens for its remote servers, encrypted at rest.

One L{UpstreamGrant} per remote server (and principal, on a team gateway):
where its authorization server takes tokens, the client the gateway
registered there, and the current access and refresh tokens. A grant is
kept under the server's resource (the canonical identifier of the URL it
was obtained for) and its issuer, and is used for that URL only
(L{UpstreamGrant.serves}): an entry whose URL changed does not send the
old server's token to the new host, it asks for a login again. A grant
kept before the URL was recorded goes by the resource it was obtained for. They live in
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
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from mcpgateway.remote.oauth.resources import canonicalResource, resourceCovers
from mcpgateway.runtime import sealedfile
from mcpgateway.runtime.sealedfile import KeyKeeper, SealedFile, SealedFileError

TOKENS_FILE = "upstream-tokens"
KEY_FILE = "upstream-tokens.key"
KEYRING_SERVICE = "mcpgateway upstream tokens"
STORE_VERSION = 1
GRANTS = "grants"
_WRITING = threading.Lock()
"""Held while the store's file is read, changed and written again."""


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
    serverUrl: str = ""
    """The canonical resource identifier of the server URL the grant was
    obtained for (L{canonicalResource}); C{""}: a grant kept before it was
    recorded (L{serves} then goes by C{resource})."""

    @property
    def key(self) -> str:
        """Where the store keeps it: the server, its resource, the issuer
        and the principal."""
        return grantKey(
            self.server,
            self.serverUrl or canonicalResource(self.resource),
            self.principal,
            self.issuer,
        )

    def serves(self, url: str) -> bool:
        """Whether the grant is for the server at C{url}: the URL it was
        obtained for, in canonical form; a grant kept before that was
        recorded serves the URLs its resource covers (the URL itself, or
        one below it on the same origin), as it did when it was obtained."""
        if self.serverUrl:
            return self.serverUrl == canonicalResource(url)
        return resourceCovers(self.resource, url)

    @property
    def boundTo(self) -> str:
        """The URL the grant serves, as the messages name it."""
        return self.serverUrl or canonicalResource(self.resource)

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
        for text in (grant.principal, grant.issuer, grant.serverUrl):
            if not isinstance(text, str):
                return None
        return grant


def grantKey(server: str, resource: str, principal: str = "", issuer: str = "") -> str:
    return json.dumps([server, resource, principal, issuer])


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

    def document(self) -> dict[str, Any]:
        """The whole file's content (C{{}}: no file): its C{"grants"} and
        the other parts L{section} names."""
        try:
            data = self._sealed.read()
        except SealedFileError as e:
            raise TokenStoreError(f"{e}; remove it and log in again") from None
        return data if isinstance(data, dict) else {}

    def section(self, name: str) -> dict[str, Any]:
        """One part of the file (C{"grants"}, or what else the gateway
        keeps there: L{mcpgateway.remote.oauth.pending})."""
        found = self.document().get(name)
        return found if isinstance(found, dict) else {}

    def writeSection(self, name: str, value: dict[str, Any]) -> None:
        """Replace one part of the file, the others as they are now."""
        self.update(name, lambda _: value)

    def update(self, name: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """Change one part of the file: C{change} is given what it holds now
        and returns what it is to hold (C{None}: leave the file alone). One
        change at a time in this process (the gateway's reactor thread and
        its thread pool both write), each reading the file anew."""
        with _WRITING:
            document = self.document()
            found = document.get(name)
            changed = change(dict(found) if isinstance(found, dict) else {})
            if changed is None:
                return
            document["version"] = STORE_VERSION
            document[name] = changed
            self._sealed.write(document)

    def _read(self) -> dict[str, Any]:
        return self.section(GRANTS)

    def all(self) -> list[UpstreamGrant]:
        """Every grant held (unusable records are left out)."""
        found = (UpstreamGrant.fromJson(value) for value in self._read().values())
        return [grant for grant in found if grant is not None]

    def get(self, server: str, url: str, principal: str = "") -> UpstreamGrant | None:
        """The grant of C{server} and C{principal} that serves C{url}."""
        for grant in self.all():
            if (grant.server, grant.principal) == (server, principal) and grant.serves(url):
                return grant
        return None

    def put(self, grant: UpstreamGrant) -> None:
        """Keep C{grant}: the one grant of its server and principal (one for
        another URL or issuer is replaced)."""

        def change(grants: dict[str, Any]) -> dict[str, Any]:
            kept = {
                key: value
                for key, value in grants.items()
                if not _sameOwner(value, grant.server, grant.principal)
            }
            kept[grant.key] = asdict(grant)
            return kept

        self.update(GRANTS, change)

    def remove(self, server: str, url: str | None = None, principal: str = "") -> int:
        """Forget the grants of C{server} (those serving C{url}, if given); how many."""
        gone: list[str] = []

        def change(grants: dict[str, Any]) -> dict[str, Any] | None:
            for key, value in grants.items():
                if not _sameOwner(value, server, principal):
                    continue
                grant = UpstreamGrant.fromJson(value)
                if url is None or grant is None or grant.serves(url):
                    gone.append(key)
            for key in gone:
                del grants[key]
            return grants if gone else None

        self.update(GRANTS, change)
        return len(gone)

    def mtime(self) -> tuple[int, int, int] | None:
        """Which version of the file is there (C{None}: none): its change
        time, inode and size. A reader re-reads it when this moves; every
        write replaces the file (a new inode), so two writes within the
        clock's granularity still differ."""
        try:
            found = self.path.stat()
        except FileNotFoundError:
            return None
        return found.st_mtime_ns, found.st_ino, found.st_size


def _sameOwner(value: Any, server: str, principal: str) -> bool:
    """Whether a stored record is a grant of C{server} for C{principal}."""
    return (
        isinstance(value, dict)
        and value.get("server") == server
        and value.get("principal", "") == principal
    )
