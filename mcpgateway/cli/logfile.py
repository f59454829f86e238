# -*- test-case-name: tests.cli.test_start -*-
"""The gateway's log file as C{start} shows it when a start fails: the lines
this run wrote, from a position taken before it began (or all of a file
that was replaced since: rotated, or new)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

LOG_TAIL = 20
"""Lines of output and log a failed start shows."""


class LogPosition(NamedTuple):
    """Where a log file ended: its inode and size."""

    inode: int
    size: int


def logPosition(path: Path) -> LogPosition | None:
    """Where C{path} ends now (C{None}: there is no such file)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return LogPosition(st.st_ino, st.st_size)


def tail(path: Path, lines: int = LOG_TAIL, since: LogPosition | None = None) -> list[str]:
    """The last C{lines} lines of C{path} (nothing if it cannot be read);
    with C{since}, only of what was written after that position (the whole
    file if it was replaced since: rotated, or new)."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            start = 0
            if since is not None and since.inode == st.st_ino and since.size <= st.st_size:
                start = since.size
            f.seek(max(start, st.st_size - 64 * 1024))
            data = f.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-lines:]
