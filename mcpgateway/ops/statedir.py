# -*- test-case-name: tests.ops.test_statedir -*-
"""The state directory: what must outlive a gateway process.

L{ChildLedger} records the pid and start time of every child in
C{<state-dir>/children.json}, rewritten atomically on each spawn and exit
(rare events, never per request). If the gateway is killed with SIGKILL, its
children see stdin EOF and most exit; those that ignore it are found on the
next start by L{findOrphans} (pid alive I{and} the same start time, so a
recycled pid is never touched) and stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgateway.runtime import paths, procfs
from mcpgateway.runtime.atomicfile import writeFileAtomic

LEDGER = paths.LEDGER_FILE


def openStateDir(stateDir: Path) -> tuple[int, str] | None:
    """When other users may read or enter C{stateDir} (any group or other
    bit set): its mode and the sentence that says so with the fix (the
    gateway logs it at start, C{mcpgateway start} prints it, C{doctor}
    fails on it). C{None} when it is private, or not there (yet)."""
    try:
        mode = stat.S_IMODE(stateDir.stat().st_mode)
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return mode, (
        f"state directory {stateDir} is mode {mode:04o}: other users can enter it;"
        f" it holds sessions, logs and the workspace key: run chmod 700 {stateDir}"
    )


def unsafeStateDir(stateDir: Path) -> str | None:
    """Why the gateway must not use C{stateDir}, in one line with the fix:
    another user could write in it (a group or other write bit: plant a
    sessions file, swap the workspace key) or it is not this user's. C{None}
    when it is safe, or not there (yet)."""
    try:
        st = stateDir.stat()
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.geteuid():
        return (
            f"state directory {stateDir} belongs to uid {st.st_uid}, not to this user"
            f" ({os.geteuid()}): use a state directory of your own (--state-dir)"
        )
    if mode & 0o022:
        return (
            f"state directory {stateDir} is mode {mode:04o}: other users can write in it;"
            f" run chmod 700 {stateDir}"
        )
    return None


def unsafeKeyFile(path: Path, what: str) -> str | None:
    """Why the key file C{path} (C{what}: its name in the sentence) must not
    be used, in one line with the fix: another user may read it, or it is
    not this user's. C{None} when it is safe, or not there."""
    try:
        st = path.lstat()
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.geteuid():
        return (
            f"{what} {path} belongs to uid {st.st_uid}, not to this user ({os.geteuid()}):"
            f" remove it (a new one is made) or chown it to yourself"
        )
    if mode & 0o077:
        return (
            f"{what} {path} is mode {mode:04o}: other users may have read it; run chmod 600"
            f" {path}, or remove it to have a new one made"
        )
    return None


def unsafeSecrets(stateDir: Path) -> str | None:
    """Why a secret file of C{stateDir} (the workspace key, the owner
    token) must not be used (L{unsafeKeyFile}); C{None} when both are safe,
    or not there."""
    return unsafeKeyFile(
        stateDir / paths.WORKSPACE_KEY_FILE, "the workspace key file"
    ) or unsafeKeyFile(stateDir / paths.OWNER_TOKEN_FILE, "the owner token file")


def pidAlive(pid: int) -> bool:
    """Whether process C{pid} exists and is not a zombie (C{EPERM}: it exists,
    owned by someone else)."""
    if not 0 < pid < 2**31:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return procfs.state(pid) not in ("Z", "X")  # unreadable: it exists, say kill()


def processStartTime(pid: int, procRoot: str = procfs.PROC) -> int | None:
    """Field 22 of C{/proc/PID/stat} (start time in clock ticks), or C{None}."""
    return procfs.startTime(pid, procRoot)


class ChildLedger:
    """Keeps C{children.json} in step with the children that are running."""

    def __init__(self, stateDir: Path, procRoot: str = "/proc") -> None:
        self.path = stateDir / LEDGER
        self._procRoot = procRoot
        self._children: dict[int, dict[str, Any]] = {}

    def spawned(self, server: str, pid: int) -> None:
        self._children[pid] = {"server": server, "start": processStartTime(pid, self._procRoot)}
        self._write()

    def helperSpawned(self, server: str, pid: int) -> None:
        """A process started on behalf of C{server}'s children (a package
        install): recorded as they are, so that the next gateway stops it
        if this one and its warden were killed, but never named as a child."""
        start = processStartTime(pid, self._procRoot)
        self._children[pid] = {"server": server, "start": start, "helper": True}
        self._write()

    def rewrite(self) -> None:
        """Write the file again (after a restart's predecessor, whose own
        children's exits rewrote it, has exited)."""
        self._write()

    def exited(self, pid: int) -> None:
        if self._children.pop(pid, None) is not None:
            self._write()

    def _write(self) -> None:
        records = {str(pid): record for pid, record in self._children.items()}
        writeFileAtomic(
            self.path, json.dumps({"gatewayPid": os.getpid(), "children": records}).encode()
        )


def findOrphans(stateDir: Path, procRoot: str = "/proc") -> list[tuple[int, str]]:
    """Children recorded by a gateway that is gone and still running now:
    C{(pid, server)} pairs whose start time matches the record (the
    processes started on their behalf, such as package installs, among them)."""
    return [(one.pid, one.server) for one in previousChildren(stateDir, procRoot) if one.running]


@dataclass(frozen=True)
class LedgerChild:
    """A process the ledger of a gateway that is gone names."""

    pid: int
    server: str
    running: bool
    """Whether it still runs (the same pid and start time)."""
    helper: bool = False
    """A process started on a child's behalf (a package install), not a child."""


def previousChildren(stateDir: Path, procRoot: str = "/proc") -> list[LedgerChild]:
    """What the ledger of a gateway that is gone names (C{[]} while the
    gateway that wrote it runs): the children it left, running or not,
    when it ended without stopping them (a clean stop leaves it empty)."""
    try:
        data = json.loads((stateDir / LEDGER).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or not isinstance(data.get("children"), dict):
        return []
    gatewayPid = data.get("gatewayPid")
    if (
        isinstance(gatewayPid, int)
        and gatewayPid != os.getpid()
        and processStartTime(gatewayPid, procRoot) is not None
        and _isGateway(gatewayPid, procRoot)
    ):
        return []  # that gateway still runs: its children are not orphans
    found = []
    for pidText, record in data["children"].items():
        try:
            pid = int(pidText)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        started = record.get("start")
        running = started is not None and processStartTime(pid, procRoot) == started
        found.append(
            LedgerChild(pid, str(record.get("server", "?")), running, record.get("helper") is True)
        )
    return found


def _isGateway(pid: int, procRoot: str) -> bool:
    return b"mcpgateway" in (procfs.cmdline(pid, procRoot) or b"")


STATE_FILE = paths.STATE_FILE
LOCK_FILE = paths.LOCK_FILE


class AlreadyRunning(Exception):
    """Another gateway holds this state directory."""


class InstanceLock:
    """An exclusive C{flock} on C{<state-dir>/gateway.lock}, held for the life
    of the process: the kernel drops it when the process dies, however it dies,
    so a crashed gateway never blocks the next one."""

    def __init__(self, stateDir: Path) -> None:
        self.stateDir = stateDir
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise L{AlreadyRunning} saying who holds it."""
        import fcntl

        fd = os.open(self.stateDir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            state = readState(self.stateDir) or {}
            holders = ", ".join(str(pid) for pid in lockHolders(self.stateDir))
            who = (
                f"pid {state['pid']}, port {state.get('port', '?')}"
                if "pid" in state
                else f"pid {holders} holds its lock with no state written: still starting,"
                " or a restart's previous process still handing over or stopping"
                if holders
                else "still starting: it has not written its state yet"
            )
            raise AlreadyRunning(
                f"another gateway is running on state directory {self.stateDir}"
                f" ({who}); stop it first (`mcpgateway stop`) or use another --state-dir"
            ) from None
        os.set_inheritable(fd, False)
        self._fd = fd

    @classmethod
    def inherited(cls, stateDir: Path, fd: int) -> InstanceLock:
        """The lock a predecessor passed down at C{fd} (see
        L{mcpgateway.ops.handover}): the same open file, so the same C{flock},
        already held; C{AlreadyRunning} if C{fd} is not that file."""
        lock = cls(stateDir)
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(stateDir / LOCK_FILE))
        except OSError:
            same = False
        if not same:
            raise AlreadyRunning(
                f"the restart passed no instance lock of {stateDir} (descriptor {fd});"
                " stop the gateway and start it again"
            )
        os.set_inheritable(fd, False)
        lock._fd = fd
        return lock

    def fileno(self) -> int | None:
        """The descriptor holding the lock (a restart passes it on); C{None} when not held."""
        return self._fd

    def release(self) -> None:
        """Close the descriptor. The C{flock} goes with the last descriptor of
        its open file: at once, unless a successor inherited one."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lockHolders(stateDir: Path, procRoot: str = procfs.PROC) -> list[int]:
    """The pids of the processes (this user's: others' are not readable)
    that have C{stateDir}'s lock file open, this one left out: who holds
    the L{InstanceLock} when C{state.json} does not say (the lock's own
    record in C{/proc/locks} names the process that took it, which a
    restart's successor is not). Read only when a start is refused."""
    try:
        lockFile = os.stat(stateDir / LOCK_FILE)
    except OSError:
        return []
    found = []
    try:
        entries = os.listdir(procRoot)
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        fdDir = os.path.join(procRoot, entry, "fd")
        try:
            fds = os.listdir(fdDir)
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.path.samestat(os.stat(os.path.join(fdDir, fd)), lockFile):
                    found.append(int(entry))
                    break
    return sorted(found)


def readState(stateDir: Path) -> dict[str, Any] | None:
    """C{state.json}, or C{None} when absent or unreadable."""
    try:
        data = json.loads((stateDir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def writeState(stateDir: Path, state: dict[str, Any]) -> None:
    writeFileAtomic(stateDir / STATE_FILE, json.dumps(state, indent=2).encode())


def removeState(stateDir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (stateDir / STATE_FILE).unlink()


def staleState(stateDir: Path) -> dict[str, Any] | None:
    """C{state.json} left by a gateway that did not stop cleanly (we hold
    the lock, so its writer is gone)."""
    state = readState(stateDir)
    if state is None or state.get("pid") == os.getpid():
        return None
    return state


# Readers for the mcpgateway command, which looks at a state directory from
# outside (it never holds the lock, and must say why a file is unusable).


def lockHeld(stateDir: Path) -> bool:
    """Whether some process holds the L{InstanceLock} of C{stateDir}.

    Probes with a shared, non-blocking flock that is released at once; the
    file is never created."""
    import errno
    import fcntl

    try:
        fd = os.open(stateDir / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def readStateOrError(stateDir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """C{state.json} as L{readState} reads it, and why it is unusable:
    C{(state, None)}; C{(None, None)} when there is none; C{(None, reason)}
    when it cannot be read, is not JSON, or not a JSON object."""
    path = stateDir / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as e:
        return None, f"{path}: {e}"
    if not isinstance(data, dict):
        return None, f"{path}: not a JSON object"
    return data, None


def isGatewayProcess(pid: int, procRoot: str = procfs.PROC) -> bool:
    """Whether C{pid}'s command line names mcpgateway (Linux C{/proc})."""
    return _isGateway(pid, procRoot)
