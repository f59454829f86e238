# -*- test-case-name: tests.test_procfs -*-
"""Every read of Linux's C{/proc}, in one place.

Each function takes the pid (or C{"self"}) and a C{procRoot} (default
C{/proc}), so tests point it at a fake tree; each answers C{None} (or an
empty result) when the entry is gone, unreadable or odd, and never raises:
processes come and go between two reads. Blocking file reads: call them off
the reactor thread when they may be many (the socket-owner search does).
A leaf: it imports nothing of the package.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

PROC = "/proc"
_READ_LIMIT = 65536


def readBytes(path: str) -> bytes | None:
    """At most 64 KiB of the file C{path}, or C{None}."""
    try:
        with open(path, "rb") as handle:
            return handle.read(_READ_LIMIT)
    except (OSError, ValueError):
        return None


def base(pid: int | str, procRoot: str = PROC) -> str:
    """C{procRoot/pid}."""
    return os.path.join(procRoot, str(pid))


def _statFields(pid: int | str, procRoot: str) -> list[bytes] | None:
    """The fields of C{stat} after the command name (which may hold anything,
    so they are read after its last C{)}): index 0 is field 3, the state."""
    data = readBytes(os.path.join(base(pid, procRoot), "stat"))
    if data is None:
        return None
    end = data.rfind(b")")
    return None if end < 0 else data[end + 1 :].split()


def state(pid: int | str, procRoot: str = PROC) -> str | None:
    """Field 3 of C{stat}: C{R}, C{S}, C{Z} (zombie), C{X} (dead), ..."""
    fields = _statFields(pid, procRoot)
    return fields[0].decode("ascii", "replace") if fields else None


def parentPid(pid: int | str, procRoot: str = PROC) -> int | None:
    """Field 4 of C{stat}."""
    fields = _statFields(pid, procRoot)
    try:
        return int(fields[1]) if fields and len(fields) > 1 else None
    except ValueError:
        return None


def startTime(pid: int | str, procRoot: str = PROC) -> int | None:
    """Field 22 of C{stat}: when the process started, in clock ticks since boot
    (with the pid, it names one process: pids are recycled, start times not)."""
    fields = _statFields(pid, procRoot)
    try:
        return int(fields[19]) if fields and len(fields) > 19 else None
    except ValueError:
        return None


def cmdline(pid: int | str, procRoot: str = PROC) -> bytes | None:
    """The raw C{cmdline}: arguments separated by NUL (or one string, after a
    C{setproctitle})."""
    return readBytes(os.path.join(base(pid, procRoot), "cmdline"))


def exe(pid: int | str, procRoot: str = PROC) -> str | None:
    """Where the C{exe} link points."""
    try:
        return os.readlink(os.path.join(base(pid, procRoot), "exe"))
    except (OSError, ValueError):
        return None


def owner(pid: int | str, procRoot: str = PROC) -> int | None:
    """The uid that owns the process."""
    try:
        return os.stat(base(pid, procRoot)).st_uid
    except (OSError, ValueError):
        return None


def pids(procRoot: str = PROC) -> Iterator[int]:
    """Every pid directory, in directory order."""
    try:
        with os.scandir(procRoot) as entries:
            for entry in entries:
                if entry.name.isdigit() and entry.name.isascii():
                    pid = int(entry.name)
                    if pid > 0:
                        yield pid
    except OSError:
        return


def pageSize() -> int | None:
    try:
        size = os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None
    return size if size > 0 else None


def rss(pid: int | str = "self", procRoot: str = PROC) -> int | None:
    """Resident set size in bytes (C{statm}'s second field times the page size)."""
    data = readBytes(os.path.join(base(pid, procRoot), "statm"))
    size = pageSize()
    if data is None or size is None:
        return None
    try:
        return int(data.split()[1]) * size
    except (ValueError, IndexError):
        return None
