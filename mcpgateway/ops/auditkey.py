# -*- test-case-name: tests.ops.test_auditkeyed -*-
"""The audit chain's key (C{--audit-key-file}, default C{<state-dir>/audit.key}).

A keyed segment of the audit trail (L{mcpgateway.ops.auditchain}) seals
each record with HMAC-SHA256 under this key instead of a bare SHA-256, so
whoever can write the log but cannot read the key cannot remove a record
and seal the chain again: C{mcpgateway audit verify} with the key names
the first record whose MAC does not match.

The key is 32 random bytes, kept as 64 hex digits and a line end in a file
of mode 0600 the gateway makes the first time it audits (never replaced
once there). It must not lie in the audit log's own folder: whoever may
write the log there could replace the key too (L{misplacedKey}). It is read
once, at start (never per record, never logged); every confined child has
it masked (L{mcpgateway.startup.sandboxing.gatewayFiles}).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from mcpgateway.ops.statedir import unsafeKeyFile
from mcpgateway.runtime.atomicfile import fsyncDirectory, writeTemp

KEY_FILE = "audit.key"
"""The key's file in the state directory, when no C{--audit-key-file} names one."""
KEY_BYTES = 32


class AuditKeyError(Exception):
    """The key cannot be used; the message is one line naming the file (never the key)."""


def keyPath(keyFile: str | None, stateDir: str | os.PathLike[str]) -> Path:
    """The key's file: C{keyFile} when given, else the state directory's."""
    chosen = Path(keyFile) if keyFile else Path(stateDir) / KEY_FILE
    return chosen.expanduser().absolute()


def misplacedKey(key: Path, auditLog: str | os.PathLike[str]) -> str | None:
    """Why C{key} must not seal the audit log C{auditLog}, in one line with
    the fix: it lies in the log's own folder (symbolic links resolved).
    C{None}: it does not."""
    logFolder = os.path.realpath(Path(auditLog).expanduser().absolute().parent)
    if os.path.realpath(key.parent) != logFolder:
        return None
    return (
        f"the audit key {key} is in the audit log's own folder {logFolder}: whoever can write"
        " the log could replace the key and seal it again; give --audit-key-file FILE in"
        " another folder (default: the state directory's), or put the log elsewhere"
    )


def readKey(path: Path) -> bytes:
    """The key in C{path} (64 hex digits, or 32 raw bytes).

    @raise AuditKeyError: missing, unreadable, open to other users, malformed.
    @raise FileNotFoundError: there is no such file.
    """
    unsafe = unsafeKeyFile(path, "the audit key file")
    if unsafe is not None:
        raise AuditKeyError(unsafe)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as e:
        raise AuditKeyError(f"the audit key file {path}: {e.strerror or e}") from None
    if len(data) == KEY_BYTES:
        return data
    try:
        key = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise AuditKeyError(
            f"the audit key file {path} does not hold {KEY_BYTES * 2} hex digits (a new one"
            " is made when it is missing; the trail sealed with the old key then verifies"
            " only with it)"
        )
    return key


def loadOrCreateKey(path: Path) -> bytes:
    """The key in C{path}, made first when there is none (mode 0600; a
    key another process made first wins). Blocking: run it at start.

    @raise AuditKeyError: it cannot be made or used (one line).
    """
    try:
        return readKey(path)
    except FileNotFoundError:
        pass
    data = os.urandom(KEY_BYTES).hex().encode("ascii") + b"\n"
    try:
        tmp = writeTemp(path, data, 0o600, None)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: its key is the one
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        fsyncDirectory(path.parent)
    except OSError as e:
        raise AuditKeyError(f"cannot make the audit key file {path}: {e.strerror or e}") from None
    try:
        return readKey(path)
    except FileNotFoundError:
        raise AuditKeyError(f"the audit key file {path} vanished as it was made") from None
