# -*- test-case-name: tests.sandbox.test_learnrun -*-
"""The launcher's side of learn mode (C{"sandbox": "learn"}): the server
runs under C{strace}, whose record goes to a file of the gateway's state
directory, capped.

Where a learning child's record goes: C{<state-dir>/sandbox/learn/<server>/}
(mode 0700), one C{trace-*} file per start (the newest L{KEEP_TRACES}
kept), the proxy's C{hosts} file (L{mcpgateway.startup.netproxy}), and
C{no-strace} when C{strace} is not installed (paths are not recorded
then, only hosts).

Why C{strace}: it is the maintained tool for this, it sees every file
system call of every process the server starts (static binaries too,
which an C{LD_PRELOAD} shim misses), and it needs no privilege beyond
tracing its own children (C{fanotify} needs C{CAP_SYS_ADMIN}). It runs
inside the sandbox, tracing only the server (not bubblewrap's own set-up),
so the paths it records are those the server named. Its output goes
through a pipe to a small process of the launcher's, outside the
sandbox, which writes at most L{CAP} bytes and discards the rest: no file
of the state directory is bound into the sandbox, and a server that
writes a lot cannot fill the disk through its record.

Standard library only: the launcher imports it.
"""

from __future__ import annotations

import contextlib
import os
import time

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

LEARN_DIR = ("sandbox", "learn")
"""Under the state directory: one directory per learning server."""
TRACE_PREFIX = "trace-"
HOSTS_FILE = "hosts"
"""The proxy's record of a learning server's hosts (C{host port outcome} lines)."""
MAX_HOST_LINES = 1024
NO_STRACE = "no-strace"
"""Present in a server's learn directory when C{strace} was missing."""
CAP = 8 * 1024 * 1024
"""The most bytes of C{strace} output kept per start."""
KEEP_TRACES = 8
"""The records of the newest starts kept per server."""
STRACE_DIRS = ("/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin")
"""Where C{strace} is looked for: places every sandbox shows already."""
TRACED = (
    "open", "openat", "openat2", "creat", "execve", "execveat", "stat", "lstat", "newfstatat",
    "statx", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "mkdir", "mkdirat",
    "unlink", "unlinkat", "rmdir", "rename", "renameat", "renameat2", "link", "linkat",
    "symlink", "symlinkat", "truncate", "chmod", "fchmodat", "chown", "lchown", "fchownat",
    "mknod", "mknodat", "utimes", "utimensat", "futimesat", "connect",
)  # fmt: skip
"""The system calls recorded: those that name a path, and C{connect}
(C{?}: a name this architecture lacks is skipped)."""
NOTICE = (
    "mcpgateway sandbox: strace is not installed: learning records the hosts this server"
    " reaches, not the paths it uses (install strace)\n"
)


def safeName(server: object) -> str:
    """A server's name as a directory name (the launcher's L{privateTmp} rule)."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(server))
    return name if name.strip(".") else "_"


def learnDir(stateDir: str, server: object) -> str:
    """The directory of C{server}'s learning records."""
    return os.path.join(stateDir, *LEARN_DIR, safeName(server))


def findStrace() -> str | None:
    """C{strace} in a directory every sandbox shows, or C{None}."""
    for directory in STRACE_DIRS:
        candidate = os.path.join(directory, "strace")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def straceCommand(strace: str, fd: int, command: list[str]) -> list[str]:
    """C{command} under C{strace}: every process it starts (C{-f}), the
    system calls of L{TRACED} (filtered in the kernel: C{--seccomp-bpf}),
    paths of file descriptors shown (C{-y}: a relative path's directory),
    written to the inherited descriptor C{fd}."""
    calls = ",".join("?" + name for name in TRACED)
    return [
        strace, "-f", "-qq", "-y", "--seccomp-bpf", "-e", f"trace={calls}", "-e", "signal=none",
        "-o", f"/proc/self/fd/{fd}", "--", *command,
    ]  # fmt: skip


def prune(directory: str, keep: int = KEEP_TRACES) -> None:
    """Remove all but the newest C{keep - 1} records of C{directory} (room
    for the one about to start)."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.startswith(TRACE_PREFIX))
    except OSError:
        return
    for name in names[: max(0, len(names) - (keep - 1))]:
        with contextlib.suppress(OSError):  # gone already: another start pruned it
            os.unlink(os.path.join(directory, name))


def capCopy(source: int, target: int, cap: int = CAP) -> int:
    """Copy C{source} to C{target} until end of file, at most C{cap} bytes
    written, the rest read and dropped: the bytes written."""
    written = 0
    while True:
        chunk = os.read(source, 65536)
        if not chunk:
            return written
        room = cap - written
        if room > 0:
            part = chunk[:room]
            while part:
                done = os.write(target, part)
                part = part[done:]
                written += done


def keepOnly(*fds: int) -> None:
    """In the recorder: its standard streams on C{/dev/null} and every
    other descriptor closed but C{fds} (it must not hold the child's pipes
    to the gateway open: the gateway sees the child's end by them)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if null != fd:
            os.dup2(null, fd)
    keep = sorted({0, 1, 2, *fds})
    for low, high in zip(keep, [*keep[1:], 65536], strict=True):
        os.closerange(low + 1, high)


def startRecorder(path: str, cap: int = CAP) -> int:
    """Fork the process that writes C{path} (at most C{cap} bytes of what
    the returned descriptor is given): the write end of its pipe,
    inheritable."""
    readEnd, writeEnd = os.pipe()
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    pid = os.fork()
    if pid == 0:  # the recorder: in the launcher's process group, stopped with it
        code = 0
        try:
            keepOnly(readEnd, target)
            capCopy(readEnd, target, cap)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(readEnd)
    os.close(target)
    os.set_inheritable(writeEnd, True)
    return writeEnd


def wrap(request: Mapping[str, Any], command: list[str], stderr: Any = None) -> list[str]:
    """C{command} run under C{strace} for a learning server (its record
    started), or as it is, with a notice on C{stderr} and a C{no-strace}
    mark, when C{strace} is missing."""
    directory = learnDir(str(request["stateDir"]), request.get("server"))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    strace = findStrace()
    mark = os.path.join(directory, NO_STRACE)
    if strace is None:
        with open(mark, "w", encoding="utf-8") as f:
            f.write(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        if stderr is not None:
            stderr.write(NOTICE)
        return command
    if os.path.exists(mark):
        os.unlink(mark)
    prune(directory)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    name = f"{TRACE_PREFIX}{stamp}-{time.monotonic_ns() % 10**9:09d}-{os.getpid()}"
    fd = startRecorder(os.path.join(directory, name))
    return straceCommand(strace, fd, command)


def learning(request: Mapping[str, Any], mechanism: str) -> dict[str, Any]:
    """C{request} as the launcher follows it with C{mechanism}: learning
    needs bubblewrap (its private home and network namespace); with
    another mechanism the child runs with the default profile, its
    learning network none."""
    out = dict(request)
    if mechanism == "bwrap" or "learn" not in out:
        return out
    del out["learn"]
    if (out.get("network") or {}).get("learn"):
        out["network"] = {"mode": "none", "allowedDomains": []}
    return out
