# -*- test-case-name: tests.cluster.test_sealing,tests.cli.test_principalkeys -*-
"""A cluster's key file, and the subkeys derived from its keys.

The replicas share a key file (C{--cluster-key-file}: base64, one 32-byte
key a line, the first sealing, every one opening); each purpose keys with
a subkey L{derive}d from a key for its label (session ids, the peer
credential, the workspace and principal keys). Standard library and
C{cryptography} only, no Twisted: the command (C{mcpgateway audit key})
derives a cluster's principal keys as its replicas do.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
"""The length of a cluster key."""


class ClusterKeyError(ValueError):
    """The cluster key file is missing, unreadable, too open or malformed."""


def loadClusterKeys(path: Path, uid: int | None = None) -> tuple[bytes, ...]:
    """The keys of C{path} (base64, one 32-byte key a line; the first seals).

    Blank lines and lines starting with C{#} are skipped. Blocking: called
    once, while the gateway is configured.

    @param uid: the user the file must belong to (C{None}: this process's
        effective user): whoever owns it can change the keys.
    @raise ClusterKeyError: the file is missing or unreadable, another
        user's, readable or writable by group or others (its mode is
        named), holds no key, or a line that is not the base64 of 32 bytes
        (its number is named, never its text).
    """
    try:
        with path.open("rb") as f:
            info = os.fstat(f.fileno())
            data = f.read(64 * 1024)
    except OSError as e:
        raise ClusterKeyError(f"cluster key file {path}: {e.strerror or e}") from None
    mode = info.st_mode
    if not stat.S_ISREG(mode):
        raise ClusterKeyError(f"cluster key file {path}: not a regular file")
    owner = os.geteuid() if uid is None else uid
    if info.st_uid != owner:
        raise ClusterKeyError(
            f"cluster key file {path} belongs to uid {info.st_uid}, not to the gateway's user"
            f" ({owner}): chown {owner} {path}, or give the gateway a copy of its own"
        )
    if mode & 0o077:
        raise ClusterKeyError(
            f"cluster key file {path} has mode {stat.S_IMODE(mode):04o}: it must be readable"
            " by its owner only (chmod 600)"
        )
    keys: list[bytes] = []
    for number, line in enumerate(data.splitlines(), 1):
        text = line.strip()
        if not text or text.startswith(b"#"):
            continue
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise ClusterKeyError(
                f"cluster key file {path}, line {number}: not the base64 of {KEY_BYTES} bytes"
            )
        keys.append(key)
    if not keys:
        raise ClusterKeyError(f"cluster key file {path}: no key in it")
    return tuple(keys)


def newClusterKey() -> str:
    """A fresh key, as a line of a cluster key file."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def derive(key: bytes, label: str) -> bytes:
    """A 32-byte subkey of C{key} for C{label} (HKDF-SHA256): subkeys of
    different labels are unrelated."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"mcpgateway cluster\0" + label.encode("utf-8"),
    )
    return hkdf.derive(key)
