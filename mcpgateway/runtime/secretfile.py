# -*- test-case-name: tests.runtime.test_secretfile,tests.config.test_workspaces -*-
"""A secret kept in a file of the state directory: read it, or make it once.

The workspace key (L{mcpgateway.config.workspaces}) and the owner token
(L{mcpgateway.runtime.ownertoken}) are each one small file, mode 0600, that
every later start, and every command that reads it, must find unchanged. A
new one is written to a temp file and hard-linked into place, so that two
processes racing to make it end up with the same secret and a reader never
sees half of one; where the file system has no hard links it is created
exclusively. A file that is there is opened without following a symlink,
and a looser mode than 0600 is tightened.

Blocking file work: call it at start, or from a command, never per request
on the reactor.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

from mcpgateway.runtime.atomicfile import fsyncDirectory, writeTemp

MAX_FILE = 4096
"""Bytes read of a secret file at most (a secret is far shorter)."""


class SecretFileError(Exception):
    """The file cannot be used; the message says why, without its path (the
    caller's sentence names the file and what to do)."""


def loadSecretFile(path: Path, make: Callable[[], bytes], limit: int = MAX_FILE) -> bytes:
    """The bytes of C{path}, made from C{make()} first when there is no such
    file (whoever wins a race to make it, every process reads the winner's).

    @raise SecretFileError: the file cannot be opened or read, or is not a
        regular file.
    @raise OSError: it could not be made (its directory is not there, or
        not writable).
    """
    try:
        return readSecretFile(path, limit)
    except FileNotFoundError:
        pass
    createSecretFile(path, make())
    try:
        return readSecretFile(path, limit)
    except FileNotFoundError:
        raise SecretFileError("vanished right after it was made") from None


def readSecretFile(path: Path, limit: int = MAX_FILE) -> bytes:
    """The first C{limit} bytes of the regular file C{path} (not followed if
    it is a symlink); a looser mode than 0600 is tightened first.

    @raise FileNotFoundError: there is no such file.
    @raise SecretFileError: it cannot be opened or read, or is not a regular file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise SecretFileError(f"cannot be opened: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SecretFileError("is not a regular file")
        if stat.S_IMODE(st.st_mode) & 0o077:
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o600)
        return os.read(fd, limit)
    except OSError as e:
        raise SecretFileError(f"cannot be read: {e.strerror or e}") from None
    finally:
        os.close(fd)


def createSecretFile(path: Path, data: bytes) -> None:
    """Make C{path} hold C{data} (mode 0600), unless another process made it first."""
    tmp = writeTemp(path, data, 0o600, None)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process won the race: its secret is the one
    except OSError:
        _createExclusive(path, data)  # a file system without hard links
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    fsyncDirectory(path.parent)


def _createExclusive(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as f:
        os.fchmod(fd, 0o600)
        f.write(data)
        f.flush()
        os.fsync(fd)
