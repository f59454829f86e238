"""What the benchmarks read of processes and of the machine in C{/proc}: CPU
seconds per process and for the whole machine, who else used the CPU during a
measurement, process trees and their memory (RSS, PSS), and the wait for a
quiet machine before a measurement (L{QuietGate}).

Linux only; nothing here starts a process.
"""

from __future__ import annotations

import collections
import contextlib
import os
import resource
import time
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def procCpu(pid: int) -> float:
    """utime + stime of one process, in seconds (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def procUserSys(pid: int) -> tuple[float, float]:
    """(utime, stime) of one process, in seconds."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def systemBusy() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return (sum(parts[:8]) - idle) / CLK_TCK


def cpuSnapshot() -> dict[int, tuple[str, float]]:
    """pid -> (name, CPU seconds) for every process."""
    snap = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    raw = f.read()
                head, tail = raw.rsplit(b")", 1)
                fields = tail.split()
                snap[int(entry)] = (
                    head.split(b"(", 1)[1].decode(errors="replace"),
                    (int(fields[11]) + int(fields[12])) / CLK_TCK,
                )
            except (OSError, IndexError, ValueError):
                continue
    return snap


def othersBetween(
    a: dict[int, tuple[str, float]], b: dict[int, tuple[str, float]], ours: set[int], wall: float
) -> dict[str, float]:
    """CPU cores used by processes not in C{ours}, by name (top 4)."""
    use: collections.Counter[str] = collections.Counter()
    for pid, (name, cpu) in b.items():
        if pid in ours:
            continue
        used = cpu - a[pid][1] if pid in a else cpu
        if used > 0:
            use[name] += used
    return {name: round(sec / wall, 2) for name, sec in use.most_common(4) if sec / wall >= 0.02}


class QuietGate:
    """Before a measurement, wait (within a budget for the whole run) until the
    machine is quiet: under C{threshold} cores busy over half a second."""

    def __init__(self, budget: float, threshold: float = 0.3) -> None:
        self.budget = budget
        self.threshold = threshold
        self.waited = 0.0

    def wait(self) -> dict[str, float]:
        start = time.monotonic()
        while True:
            b0 = systemBusy()
            time.sleep(0.5)
            busy = (systemBusy() - b0) / 0.5
            spent = time.monotonic() - start
            if busy < self.threshold or self.waited + spent >= self.budget:
                self.waited += spent
                return {"waited": round(spent, 1), "busyBefore": round(busy, 2)}


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree[ppid].append(int(entry))
    return tree


def processTree(pid: int, tree: dict[int, list[int]] | None = None) -> list[int]:
    """C{pid} and all its descendants."""
    tree = tree if tree is not None else children()
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(tree.get(p, []))
    return found


def memKB(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB, from /proc/PID/smaps_rollup."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def treeMemory(roots: list[int]) -> dict[str, Any]:
    tree = children()
    pids = sorted({p for root in roots for p in processTree(root, tree)})
    rss = pss = 0
    names: collections.Counter[str] = collections.Counter()
    for p in pids:
        r, s = memKB(p)
        rss += r
        pss += s
        with contextlib.suppress(OSError):
            names[Path(f"/proc/{p}/comm").read_text().strip()] += 1
    return {
        "processes": len(pids),
        "rssMB": round(rss / 1024, 1),
        "pssMB": round(pss / 1024, 1),
        "byName": dict(names),
    }


def memAvailableMB() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("inf")


def raiseNofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
