# -*- test-case-name: tests.ops.test_wardenrun -*-
"""The warden: the one process that outlives its gateway to stop what the
gateway's children left running.

C{python -I -S .../mcpgateway/ops/wardenrun.py}, started by the gateway
(L{mcpgateway.ops.warden}) with a pipe on its stdin. The gateway writes a
line for each child it starts (C{+PID}) and for each that ends (C{-PID}).
The end of its stdin, which the kernel makes when the gateway exits
however it exits (C{SIGKILL} included), means the gateway is gone: the
warden stops every process of the sessions and process groups of the
children still recorded, and every process whose environment holds the
marker the gateway gives each child (its C{=NAME=VALUE} line), but those
of the sessions of the children a restart handed to the next gateway
process (C{!PID}: the next process's warden watches them from then on),
and what runs below those (a sandbox's processes, in a session of their
own):
C{SIGTERM}, then C{SIGKILL} after L{GRACE} seconds, and exits. After a
clean stop it finds what started a session of its own and so escaped
its child's stop.

Every child leads a session and a process group of its own (the
C{setsid} program, or the sandbox launcher), so that pid names all that
the child started except what started a session of its own (a daemon's
double fork): the marker finds those, unless they dropped their
environment; a sandbox's pid namespace ends every one of them with it
(docs/guide/lifecycle.md). A session id stays in use while any process is in
it, so its number is never another's.

It starts a session of its own, so a signal to the gateway's terminal or
process group does not reach it. Standard library only, no C{site}: it
costs one small process per gateway.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

TYPE_CHECKING = False  # typing itself is not imported: the warden starts lean
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

GRACE = 2.0
"""Seconds between C{SIGTERM} and C{SIGKILL}."""
PROC = "/proc"


def groupsOf(pid: int, procRoot: str = PROC) -> tuple[int, int] | None:
    """The process group and session of C{pid} (fields 5 and 6 of its
    C{stat}), or C{None} when it is gone or a zombie."""
    try:
        with open(os.path.join(procRoot, str(pid), "stat"), "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 1 :].split()
    try:
        if fields[0] in (b"Z", b"X"):
            return None
        return int(fields[2]), int(fields[3])
    except (IndexError, ValueError):
        return None


def members(leaders: set[int], procRoot: str = PROC) -> list[int]:
    """The live processes whose process group or session is one of
    C{leaders} (never this process)."""
    found = []
    me = os.getpid()
    try:
        names = os.listdir(procRoot)
    except OSError:
        return []
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        ids = groupsOf(int(name), procRoot)
        if ids is not None and (ids[0] in leaders or ids[1] in leaders):
            found.append(int(name))
    return found


def parentOf(pid: int, procRoot: str = PROC) -> int | None:
    """The parent of C{pid} (field 4 of its C{stat}), or C{None}."""
    try:
        with open(os.path.join(procRoot, str(pid), "stat"), "rb") as f:
            data = f.read()
        return int(data[data.rfind(b")") + 1 :].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(roots: set[int], procRoot: str = PROC) -> set[int]:
    """The live processes below C{roots} (their children, theirs, and so
    on): what a spared child started in a session of its own (bubblewrap's
    sandbox, with C{--new-session}), which its group and session miss."""
    if not roots:
        return set()
    try:
        names = [int(name) for name in os.listdir(procRoot) if name.isdigit()]
    except OSError:
        return set()
    children: dict[int, list[int]] = {}
    for pid in names:
        parent = parentOf(pid, procRoot)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def marked(marker: bytes, procRoot: str = PROC) -> list[int]:
    """The live processes (of this user: others' environments are not
    readable) whose environment holds C{marker} (C{NAME=VALUE}): every
    descendant of the gateway's children that kept the environment it was
    given, whatever session it started."""
    if not marker:
        return []
    found = []
    me = os.getpid()
    needle = b"\0" + marker + b"\0"
    try:
        names = os.listdir(procRoot)
    except OSError:
        return []
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(os.path.join(procRoot, name, "environ"), "rb") as f:
                environ = b"\0" + f.read() + b"\0"
        except OSError:
            continue
        if needle in environ and groupsOf(int(name), procRoot) is not None:
            found.append(int(name))
    return found


def signalAll(pids: list[int], signum: int, kill: Callable[[int, int], None] = os.kill) -> None:
    """Send C{signum} to each of C{pids}; one that is gone or not ours is skipped."""
    for pid in pids:
        with contextlib.suppress(OSError):
            kill(pid, signum)


def stopAll(
    leaders: set[int],
    marker: bytes = b"",
    procRoot: str = PROC,
    grace: float = GRACE,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    kill: Callable[[int, int], None] = os.kill,
    spared: set[int] | None = None,
) -> int:
    """Stop every process of C{leaders}' groups and sessions and every
    process L{marked} with C{marker}: TERM, then KILL to those still there
    after C{grace} seconds, but the processes of C{spared}'s groups and
    sessions and what runs below them (L{descendants}). How many there were."""

    def left() -> list[int]:
        found = set(members(leaders, procRoot)) | set(marked(marker, procRoot))
        if spared:
            kept = set(members(spared, procRoot))
            found -= kept | descendants(kept | spared, procRoot)
        return sorted(found)

    first = left()
    if not first:
        return 0
    signalAll(first, signal.SIGTERM, kill)
    deadline = monotonic() + grace
    while monotonic() < deadline:
        if not left():
            return len(first)
        sleep(0.05)
    signalAll(left(), signal.SIGKILL, kill)
    return len(first)


def follow(lines: Iterable[bytes], leaders: set[int], spared: set[int] | None = None) -> bytes:
    """Keep C{leaders} in step with the gateway's C{+PID}/C{-PID} lines, and
    C{spared} with its C{!PID} lines (a child handed to the next gateway
    process); the marker its C{=NAME=VALUE} line named (the variable every
    child gets)."""
    marker = b""
    for raw in lines:
        line = raw.strip()
        if line[:1] == b"=" and b"=" in line[1:]:
            marker = line[1:]
            continue
        if len(line) < 2 or line[:1] not in (b"+", b"-", b"!") or not line[1:].isdigit():
            continue
        pid = int(line[1:])
        if line[:1] == b"!":
            leaders.discard(pid)
            if spared is not None:
                spared.add(pid)
        elif line[:1] == b"+":
            leaders.add(pid)
        else:
            leaders.discard(pid)
    return marker


def say(text: str) -> None:
    """A line on stderr (the gateway's log while it lives; nowhere after)."""
    try:
        sys.stderr.write(f"mcpgateway warden: {text}\n")
        sys.stderr.flush()
    except OSError:
        pass


def main() -> int:
    """Follow the gateway until its pipe ends, then stop what is left."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    if os.getpgid(0) != os.getpid():
        os.setsid()
    leaders: set[int] = set()
    spared: set[int] = set()
    marker = follow(iter(sys.stdin.buffer.readline, b""), leaders, spared)
    stopped = stopAll(leaders, marker, spared=spared)
    if stopped:
        say(f"the gateway is gone: stopped {stopped} process(es) its children left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
