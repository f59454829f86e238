# -*- test-case-name: tests.config.test_workspaces -*-
"""Workspace keys: the short name a workspace (a project directory) has in a route.

A workspace-scoped server is served at C{/<server>~<key>/mcp}, and that URL is
written into the project's entry of the client config, kept in
C{sessions.json}, shown in C{/health} and logged. So the key must be stable
(the same directory gives the same key after any number of restarts),
URL-safe, short, and reveal nothing about the path when it leaks.

It is a keyed hash: C{HMAC-SHA256(secret, "workspace" NUL <real path>)},
truncated to 80 bits and written as 16 lowercase base32 characters
(C{[a-z2-7]}, no padding). The path is the workspace's real path (symlinks
resolved), so a project reached through a symlink and through its real
directory is one workspace. The secret is 32 random bytes kept (as hex) in
C{<state-dir>/workspace.key}, mode 0600, created on first use: written to a
temp file and hard-linked into place, so two processes that race to create it
end up with the same secret, and a reader never sees half of one. Without the
secret, a key says nothing about the path (not even whether two state
directories serve the same project); with it, a path can only be confirmed,
not recovered.

The same secret keys other scopes under their own domain
(L{WorkspaceKeys.digest}): a credential set (L{credentialKey}) gets a key that
reveals none of its values.

Everything here may block (the secret file, C{realpath}): call it where the
config is loaded (a thread), or once at start, never per request on the
reactor. Pure otherwise: no logging; errors are exceptions whose message says
what to do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from mcpgateway.runtime import paths
from mcpgateway.runtime.secretfile import SecretFileError, loadSecretFile

KEY_FILE = paths.WORKSPACE_KEY_FILE
"""The secret's file in the state directory (a name for L{mcpgateway.runtime.paths})."""
SECRET_BYTES = 32
KEY_BYTES = 10
"""80 bits: 16 base32 characters, no padding."""
KEY_LENGTH = 16
KEY_PATTERN = re.compile(r"[a-z2-7]{16}")
"""What every key looks like (for checking a route or a saved session)."""
WORKSPACE = "workspace"
CREDENTIAL = "credential"
_MAX_FILE = 4096


class WorkspaceKeyError(Exception):
    """The secret file cannot be used; the message names it and says what to do."""


def isKey(text: str) -> bool:
    """Whether C{text} has the shape of a key (it may still be unknown)."""
    return KEY_PATTERN.fullmatch(text) is not None


def canonicalPath(path: str | os.PathLike[str]) -> str:
    """The real path of the workspace C{path}: absolute, symlinks resolved
    (as far as they exist: a workspace that is gone keeps its key).

    @raise ValueError: C{path} is relative, or cannot name a file (a NUL
        character, a lone surrogate).
    """
    text = os.fspath(path)
    if not os.path.isabs(text):
        raise ValueError(f"a workspace path must be absolute, not {text[:80]!r}")
    try:
        os.fsencode(text)
        return os.path.realpath(text)
    except (UnicodeError, ValueError):
        raise ValueError("a workspace path must be a file name (no NUL, valid text)") from None


def scopeKey(secret: bytes, kind: str, material: bytes) -> str:
    """The key of C{material} in the domain C{kind} (C{workspace},
    C{credential}, ...): the same inputs always give the same key; keys of
    different kinds never coincide by construction."""
    mac = hmac.new(secret, kind.encode("ascii") + b"\0" + material, hashlib.sha256)
    return base64.b32encode(mac.digest()[:KEY_BYTES]).decode("ascii").lower()


def workspaceKey(secret: bytes, path: str | os.PathLike[str]) -> str:
    """The key of the workspace at C{path} (see L{canonicalPath}).

    @raise ValueError: see L{canonicalPath}.
    """
    return scopeKey(secret, WORKSPACE, os.fsencode(canonicalPath(path)))


def credentialKey(secret: bytes, values: Mapping[str, str]) -> str:
    """The key of a set of credential values (by name): equal sets, equal keys;
    it reveals none of the values."""
    material = json.dumps(sorted(values.items()), ensure_ascii=True, separators=(",", ":"))
    return scopeKey(secret, CREDENTIAL, material.encode("ascii"))


def loadSecret(stateDir: str | os.PathLike[str]) -> bytes:
    """The state directory's secret, created on first use (see the module
    docstring). A file that is not ours is an error, never replaced: every
    workspace route of adopted configs depends on it.

    @raise WorkspaceKeyError: the file cannot be read or is not a key file.
    @raise OSError: it could not be created.
    """
    path = Path(stateDir) / KEY_FILE
    try:
        data = loadSecretFile(
            path, lambda: os.urandom(SECRET_BYTES).hex().encode("ascii") + b"\n", _MAX_FILE + 1
        )
    except SecretFileError as e:
        raise WorkspaceKeyError(_unusable(path, str(e))) from None
    try:
        secret = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        secret = b""
    if len(secret) != SECRET_BYTES:
        raise WorkspaceKeyError(_unusable(path, f"does not hold {SECRET_BYTES * 2} hex digits"))
    return secret


def _unusable(path: Path, why: str) -> str:
    return (
        f"the workspace key file {path} {why}. Remove it to have a new one made; every"
        " workspace route then changes (adopted client configs are re-pointed, open"
        " sessions of workspace routes end)"
    )


class WorkspaceKeys:
    """The keys of one state directory: workspace paths (cached, and
    remembered for L{pathOf}) and other scopes keyed with the same secret.

    Make one per config load: the cache keeps the real path a symlink had
    when it was first asked.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the secret must be at least 16 bytes")
        self._secret = secret
        self._keys: dict[str, str] = {}
        self._paths: dict[str, str] = {}

    @classmethod
    def forStateDir(cls, stateDir: str | os.PathLike[str]) -> WorkspaceKeys:
        """The keys of C{stateDir} (its secret created on first use).

        @raise WorkspaceKeyError: see L{loadSecret}.
        """
        return cls(loadSecret(stateDir))

    def __repr__(self) -> str:
        return f"<WorkspaceKeys: {len(self._paths)} workspace(s)>"

    def key(self, path: str | os.PathLike[str]) -> str:
        """The key of the workspace at C{path}.

        @raise ValueError: see L{canonicalPath}.
        """
        text = os.fspath(path)
        key = self._keys.get(text)
        if key is None:
            real = canonicalPath(text)
            key = scopeKey(self._secret, WORKSPACE, os.fsencode(real))
            self._keys[text] = key
            self._paths.setdefault(key, real)
        return key

    def pathOf(self, key: str) -> str | None:
        """The real path of a workspace this instance gave C{key} to, if any."""
        return self._paths.get(key)

    def credential(self, values: Mapping[str, str]) -> str:
        """See L{credentialKey}."""
        return credentialKey(self._secret, values)

    def digest(self, kind: str, material: bytes) -> str:
        """See L{scopeKey}."""
        return scopeKey(self._secret, kind, material)
