# -*- test-case-name: tests.runtime.test_sealedfile,tests.remote.oauth.test_oauth -*-
"""A JSON document the gateway keeps for itself, encrypted at rest.

Fernet (AES-128-CBC with an HMAC-SHA256, from C{cryptography}: a
maintained, audited recipe with authenticated encryption and no choice of
parameters to get wrong) seals the document into one file of mode 0600.
Its key lives where a L{KeyKeeper} keeps it: the OS keyring (L{KeyringKey},
the C{keyring} package with a real backend: macOS Keychain, the Secret
Service, Windows' Credential Locker) or a 0600 file of its own
(L{FileKey}), so the document never sits in a file in the clear.

The upstream OAuth tokens (L{mcpgateway.remote.oauth.tokens}) and the
secret store (L{mcpgateway.secrets.store}) are kept this way. No Twisted:
the CLI uses it too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from mcpgateway.runtime.atomicfile import writeFileAtomic


class KeyKeeper(Protocol):
    """Where a sealed file's key lives: C{get} (C{None}: none yet) and C{set}."""

    def get(self) -> bytes | None: ...

    def set(self, key: bytes) -> None: ...


class FileKey:
    """The key in a file of its own, mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def get(self) -> bytes | None:
        try:
            return self.path.read_bytes().strip() or None
        except FileNotFoundError:
            return None

    def set(self, key: bytes) -> None:
        writeFileAtomic(self.path, key + b"\n", mode=0o600)


class KeyringKey:
    """The key in the OS keyring, as the password of C{user} at C{service}."""

    def __init__(self, keyring: Any, service: str, user: str) -> None:
        self._keyring = keyring
        self._service = service
        self._user = user

    def get(self) -> bytes | None:
        value = self._keyring.get_password(self._service, self._user)
        return value.encode("ascii") if isinstance(value, str) and value else None

    def set(self, key: bytes) -> None:
        self._keyring.set_password(self._service, self._user, key.decode("ascii"))


def realKeyring() -> Any | None:
    """The C{keyring} module when it has a backend that keeps secrets; C{None}
    when the package is missing or only has its C{fail} backend (or one of
    no priority): a headless machine, or C{PYTHON_KEYRING_BACKEND} set to
    C{keyring.backends.fail.Keyring}."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    return keyring


def keyKeeper(keyFile: Path, service: str, user: str) -> KeyKeeper:
    """The OS keyring when it has a real backend (and C{keyFile} does not
    exist already), else the key file C{keyFile}."""
    fileKey = FileKey(keyFile)
    if fileKey.path.exists():
        return fileKey
    keyring = realKeyring()
    return fileKey if keyring is None else KeyringKey(keyring, service, user)


class SealedFileError(Exception):
    """The sealed file cannot be opened.

    @ivar keyGone: its key is gone (else: another key sealed it, or it was changed).
    """

    def __init__(self, path: Path, keyGone: bool) -> None:
        why = ": its key is gone" if keyGone else " (another key, or changed)"
        super().__init__(f"{path} cannot be read{why}")
        self.keyGone = keyGone


class SealedFile:
    """One JSON document sealed with Fernet in C{path} (mode 0600).

    @param keeper: where the key is, or a callable that says so when the
        key is first needed (the keyring is then not asked before a daemon
        has forked).
    """

    def __init__(self, path: Path, keeper: KeyKeeper | Callable[[], KeyKeeper]) -> None:
        self.path = Path(path)
        self._keeper: KeyKeeper | None = None
        self._findKeeper: Callable[[], KeyKeeper] | None = None
        if callable(keeper):
            self._findKeeper = keeper
        else:
            self._keeper = keeper
        self._cipher: Any = None

    @property
    def keeper(self) -> KeyKeeper:
        if self._keeper is None:
            assert self._findKeeper is not None
            self._keeper = self._findKeeper()
        return self._keeper

    def cipher(self) -> Any:
        """The file's Fernet, its key made if there is none yet (what else
        is sealed with the same key opens wherever the file does)."""
        if self._cipher is None:
            self._cipher = self._fernet(create=True)
        return self._cipher

    def _fernet(self, create: bool) -> Any:
        from cryptography.fernet import Fernet

        key = self.keeper.get()
        if key is None:
            if not create:
                return None
            key = Fernet.generate_key()
            self.keeper.set(key)
        return Fernet(key)

    def read(self) -> Any:
        """The document (C{None}: there is no file).

        @raise SealedFileError: it cannot be opened.
        """
        try:
            sealed = self.path.read_bytes()
        except FileNotFoundError:
            return None
        from cryptography.fernet import InvalidToken

        fernet = self._fernet(create=False)
        if fernet is None:
            raise SealedFileError(self.path, keyGone=True)
        try:
            return json.loads(fernet.decrypt(sealed))
        except (InvalidToken, ValueError):
            raise SealedFileError(self.path, keyGone=False) from None

    def write(self, document: Any) -> None:
        """Seal C{document} into the file (its directory made 0700 if need be)."""
        os.makedirs(self.path.parent, mode=0o700, exist_ok=True)
        fernet = self._fernet(create=True)
        payload = json.dumps(document).encode("utf-8")
        writeFileAtomic(self.path, fernet.encrypt(payload), mode=0o600)
