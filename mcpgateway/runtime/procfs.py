# -*- test-case-name: tests.runtime.test_procfs -*-
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
from collections.abc import Iterable, Iterator

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


def lastPid(procRoot: str = PROC) -> int | None:
    """The pid the kernel gave last, in this process's pid namespace: the
    last field of C{loadavg}."""
    data = readBytes(os.path.join(procRoot, "loadavg"))
    try:
        pid = int(data.split()[-1]) if data else 0
    except ValueError:
        return None
    return pid if pid > 0 else None


def newestFirst(pids: Iterable[int], last: int | None) -> list[int]:
    """C{pids} from the newest process to the oldest, C{last} being the pid
    the kernel gave last (L{lastPid}; C{None}: the highest first). The
    kernel gives each new process the pid after the last one, wrapping
    round past C{pid_max} (32768 on many machines: a busy one wraps in
    minutes), so the newest are those at or below C{last}, highest first,
    then those above it, highest first."""
    if last is None:
        return sorted(pids, reverse=True)
    return sorted(pids, key=lambda pid: (pid > last, -pid))


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


def clockTicks() -> int | None:
    """Clock ticks per second (C{stat}'s CPU times are in ticks)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    return ticks if ticks > 0 else None


def cpuSeconds(pid: int | str = "self", procRoot: str = PROC) -> float | None:
    """CPU time the process has used so far, user plus system (fields 14
    and 15 of C{stat}), in seconds; its exited children's are not counted."""
    fields = _statFields(pid, procRoot)
    ticks = clockTicks()
    if not fields or len(fields) < 13 or ticks is None:
        return None
    try:
        return (int(fields[11]) + int(fields[12])) / ticks
    except ValueError:
        return None


def smapsRollup(pid: int | str = "self", procRoot: str = PROC) -> dict[str, int] | None:
    """The totals of C{smaps_rollup} (Linux 4.14+), in bytes, by their names
    (C{Rss}, C{Pss}, C{Private_Clean}, C{Private_Dirty}, C{Swap}, ...).

    Reading it walks the process's page tables under its memory lock: a few
    milliseconds for a large process; never on the reactor thread."""
    data = readBytes(os.path.join(base(pid, procRoot), "smaps_rollup"))
    if data is None:
        return None
    totals: dict[str, int] = {}
    for line in data.splitlines():
        name, colon, rest = line.partition(b":")
        words = rest.split()
        if not colon or len(words) != 2 or words[1] != b"kB" or not words[0].isdigit():
            continue
        try:
            totals[name.decode("ascii")] = int(words[0]) * 1024
        except (UnicodeDecodeError, ValueError):
            continue
    return totals if "Pss" in totals else None


def pss(pid: int | str = "self", procRoot: str = PROC) -> int | None:
    """Proportional set size in bytes: resident memory with each page shared
    with N processes counted 1/N (C{smaps_rollup}'s C{Pss})."""
    totals = smapsRollup(pid, procRoot)
    return None if totals is None else totals["Pss"]
