# -*- test-case-name: tests.runtime.test_atomicfile -*-
"""The one way the gateway writes a file: atomically.

A temp file next to the target (C{.<name>.<random>.tmp}), its mode set
before any byte is written, the bytes, C{fsync}, C{rename} over the target,
C{fsync} of the directory. A crash leaves the old file or the new one, never
half of one, and never a readable window for a file meant to be private.
The state directory's files, the npx cache, the manhole's keys and the
user's client configs (through L{mcpgateway.clientconfigs.jsonfile}, which
adds the read-modify-write around it) all go through here. A leaf: standard
library only.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def tempPrefix(name: str) -> str:
    """The prefix of the temp files written next to a file called C{name}
    (C{<prefix><8 random characters>.tmp}, C{tempfile.mkstemp}'s)."""
    return f".{name}."


def writeFileAtomic(
    path: Path, data: bytes, mode: int = 0o600, owner: tuple[int, int] | None = None
) -> None:
    """Replace C{path} with C{data} atomically (see the module docstring).

    @param owner: (uid, gid) to give the new file when it differs from ours
        (a user's file edited by a gateway running as root keeps its owner).
    """
    tmp = writeTemp(path, data, mode, owner)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsyncDirectory(path.parent)


def writeTemp(path: Path, data: bytes, mode: int, owner: tuple[int, int] | None) -> str:
    """A fsynced temp file next to C{path} holding C{data}; its name. The
    caller renames it (or removes it)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=tempPrefix(path.name), suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            if owner is not None and owner != (os.geteuid(), os.getegid()):
                with contextlib.suppress(OSError):
                    os.fchown(f.fileno(), *owner)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def fsyncDirectory(directory: Path) -> None:
    """Make a rename in C{directory} durable (where the file system can)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename still happened
    finally:
        os.close(fd)
