# -*- test-case-name: tests.secrets.test_store -*-
"""The secret store behind C{${keyring:NAME}}: the OS keyring, or an encrypted file.

Where the C{keyring} package has a real backend (macOS Keychain, the Secret
Service, Windows' Credential Locker), a secret is kept there, as the
password of C{NAME} at the service C{mcpgateway} (so the system's own tools
see it, and one set with them, C{keyring set mcpgateway NAME}, is found
too); its name is added to C{<state-dir>/secret-names.json} (names only,
for C{mcpgateway secret list}: a keyring cannot list its items). On a
headless machine (no such backend, or C{PYTHON_KEYRING_BACKEND} set to
C{keyring.backends.fail.Keyring}) secrets are kept in C{<state-dir>/secrets},
sealed with Fernet, its key in C{<state-dir>/secrets.key} (0600): see
L{mcpgateway.runtime.sealedfile}. A lookup asks the keyring first, then
the file, so what was stored before a keyring appeared is still found.

Blocking (files, the keyring's D-Bus or Keychain calls): the gateway calls
it in a thread (L{mcpgateway.secrets.resolve}); the CLI directly. No Twisted.
No value is ever logged, put in an error's message, or shown by C{repr}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcpgateway.config.references import SECRET_NAME
from mcpgateway.runtime.atomicfile import writeFileAtomic
from mcpgateway.runtime.sealedfile import FileKey, SealedFile, SealedFileError, realKeyring

SECRETS_FILE = "secrets"
"""The sealed file of secrets (a machine without a keyring)."""
KEY_FILE = "secrets.key"
"""Its key (mode 0600)."""
NAMES_FILE = "secret-names.json"
"""The names of the secrets kept in the OS keyring (no values)."""
KEYRING_SERVICE = "mcpgateway"
"""The service a secret is kept under in the OS keyring; its user is its name."""
MAX_VALUE = 64 * 1024
"""The longest secret, in characters."""
STORE_VERSION = 1
_UNSET: Any = object()


class SecretStoreError(Exception):
    """The store cannot be used (its file's key is gone, the keyring fails);
    the message says why, never a value."""


def checkName(name: str) -> str:
    """C{name}, if a secret may have it, else L{SecretStoreError}."""
    if not SECRET_NAME.fullmatch(name):
        raise SecretStoreError(
            f"{name!r} is not a secret's name: 1-128 letters, digits, '_', '.' or '-'"
            " (not starting with '.' or '-')"
        )
    return name


def checkValue(value: str) -> str:
    """C{value}, if it can be kept and given to a child, else L{SecretStoreError}."""
    if not value:
        raise SecretStoreError("the value is empty")
    if "\0" in value:
        raise SecretStoreError("the value holds a NUL character, which no environment can")
    if len(value) > MAX_VALUE:
        raise SecretStoreError(f"the value is longer than {MAX_VALUE} characters")
    return value


class SecretStore:
    """The secrets of one state directory (see the module docstring).

    @param keyring: the C{keyring} module to keep secrets in (C{None}: the
        encrypted file only); by default the real one when it has a backend
        that keeps secrets (L{realKeyring}), found on first use.
    """

    def __init__(self, stateDir: Path, keyring: Any = _UNSET) -> None:
        self.stateDir = Path(stateDir)
        self._keyring = keyring
        self._sealed = SealedFile(self.stateDir / SECRETS_FILE, FileKey(self.stateDir / KEY_FILE))

    @property
    def keyring(self) -> Any | None:
        """The keyring secrets are set in (C{None}: the encrypted file)."""
        if self._keyring is _UNSET:
            self._keyring = realKeyring()
        return self._keyring

    def where(self) -> str:
        """Where L{put} keeps a secret, in words."""
        keyring = self.keyring
        if keyring is None:
            return f"{self._sealed.path} (encrypted; its key in {KEY_FILE}, mode 0600)"
        try:
            backend = type(keyring.get_keyring()).__name__
        except Exception:
            backend = "keyring"
        return f"the OS keyring ({backend}), service {KEYRING_SERVICE!r}"

    def get(self, name: str) -> str | None:
        """The secret called C{name} (C{None}: there is none).

        @raise SecretStoreError: the keyring failed and the file has none,
            or the file cannot be opened.
        """
        problem = None
        keyring = self.keyring
        if keyring is not None:
            try:
                value = keyring.get_password(KEYRING_SERVICE, name)
            except Exception as e:
                problem = f"the OS keyring failed ({type(e).__name__})"
            else:
                if isinstance(value, str):
                    return value
        value = self._fileSecrets().get(name)
        if value is None and problem is not None:
            raise SecretStoreError(problem)
        return value

    def put(self, name: str, value: str) -> str:
        """Keep C{value} as the secret C{name} (replacing one of that name);
        where it went, in words (L{where})."""
        checkName(name)
        checkValue(value)
        keyring = self.keyring
        if keyring is None:
            secrets = self._fileSecrets()
            secrets[name] = value
            self._writeFile(secrets)
            return self.where()
        try:
            keyring.set_password(KEYRING_SERVICE, name, value)
        except Exception as e:
            raise SecretStoreError(f"the OS keyring refused it ({type(e).__name__})") from None
        self._writeNames(self._names() | {name})
        secrets = self._fileSecrets()
        if secrets.pop(name, None) is not None:
            self._writeFile(secrets)  # one place for each secret
        return self.where()

    def remove(self, name: str) -> bool:
        """Forget the secret C{name}, wherever it is; whether there was one."""
        found = False
        keyring = self.keyring
        if keyring is not None:
            try:
                if keyring.get_password(KEYRING_SERVICE, name) is not None:
                    keyring.delete_password(KEYRING_SERVICE, name)
                    found = True
            except Exception as e:
                raise SecretStoreError(
                    f"the OS keyring failed to remove it ({type(e).__name__})"
                ) from None
        names = self._names()
        if name in names:
            self._writeNames(names - {name})
            found = True
        secrets = self._fileSecrets()
        if secrets.pop(name, None) is not None:
            self._writeFile(secrets)
            found = True
        return found

    def names(self) -> list[str]:
        """The names of the secrets kept (sorted): those set in the keyring
        through this store, and those in the file."""
        return sorted(self._names() | set(self._fileSecrets()))

    # -- the file and the list of names --------------------------------------------

    def _fileSecrets(self) -> dict[str, str]:
        try:
            document = self._sealed.read()
        except SealedFileError as e:
            raise SecretStoreError(
                f"{e}; set the secrets again after moving it away, or put its key back"
            ) from None
        secrets = document.get("secrets") if isinstance(document, dict) else None
        if not isinstance(secrets, dict):
            return {}
        return {k: v for k, v in secrets.items() if isinstance(k, str) and isinstance(v, str)}

    def _writeFile(self, secrets: dict[str, str]) -> None:
        self._sealed.write({"version": STORE_VERSION, "secrets": secrets})

    @property
    def _namesPath(self) -> Path:
        return self.stateDir / NAMES_FILE

    def _names(self) -> set[str]:
        try:
            document = json.loads(self._namesPath.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        names = document.get("names") if isinstance(document, dict) else None
        return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()

    def _writeNames(self, names: set[str]) -> None:
        self.stateDir.mkdir(mode=0o700, parents=True, exist_ok=True)
        document = {"version": STORE_VERSION, "names": sorted(names)}
        writeFileAtomic(self._namesPath, json.dumps(document, indent=2).encode("utf-8"))

    def seal(self, data: bytes) -> bytes:
        """C{data} sealed with the file's key (made if need be): what else
        the store keeps that must not sit in the clear (C{secret import}'s
        copy of the config it rewrote)."""
        sealed: bytes = self._sealed.cipher().encrypt(data)
        return sealed

    def unseal(self, sealed: bytes) -> bytes:
        """What L{seal} sealed.

        @raise SecretStoreError: another key sealed it, or it was changed.
        """
        from cryptography.fernet import InvalidToken

        if self._sealed.keeper.get() is None:
            raise SecretStoreError(f"its key ({self.stateDir / KEY_FILE}) is gone")
        try:
            data: bytes = self._sealed.cipher().decrypt(sealed)
        except InvalidToken:
            raise SecretStoreError("it was sealed with another key, or changed") from None
        return data
