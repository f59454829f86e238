# -*- test-case-name: tests.sandbox.test_landlock, tests.sandbox.test_workspaceseal -*-
"""Landlock: the kernel's own confinement (Linux 5.13 and later), the
fallback where bubblewrap cannot make namespaces.

A process restricts itself: a I{ruleset} names the accesses it handles,
rules allow some of them beneath paths, and once the process calls
C{landlock_restrict_self} every other handled access is refused to it and
to all it runs. No namespace and no privilege is needed (only
C{PR_SET_NO_NEW_PRIVS}). Python has no binding: the three system calls go
through C{ctypes}. What each ABI version adds is used when the kernel has
it: renames across directories (2), truncation (3), TCP bind and connect
(4: no network means neither), device ioctls (5), and scoping (6: no
signal to, and no abstract UNIX socket of, a process outside the
sandbox).

Landlock only allows: it cannot hide a path inside an allowed one. So an
allowed directory that holds a masked path is allowed entry by entry
instead (L{rules}), down to the mask, which is left out; what is created
later in such a directory is not reachable. No private C{/tmp} either:
the child gets a directory of its own as C{TMPDIR}. What Landlock leaves
open (sockets, which the launcher's system-call filter closes; what an
older ABI lacks; other processes) is
L{mcpgateway.sandbox.gaps.landlockGaps}'s, in words.

Standard library only, imported by the launcher.
"""

from __future__ import annotations

import ctypes
import os

from mcpgateway.sandbox.layout import Layout, under

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterable

CREATE_RULESET, ADD_RULE, RESTRICT_SELF = 444, 445, 446
"""The system call numbers (the same on every architecture)."""
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REFER = 1 << 13
TRUNCATE = 1 << 14
IOCTL_DEV = 1 << 15
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The only rights a rule on a file (not a directory) may hold."""
READ = EXECUTE | READ_FILE | READ_DIR
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

MAX_RULES = 4096
SYSTEM_FACTS = ("/sys/fs/cgroup", "/sys/devices/system/cpu")
"""Read-only under Landlock: the limits a runtime sizes itself by (its
cgroup's memory and CPU quota, the CPUs online). A program that sees a
file there and cannot open it may abort (DuckDB does); bubblewrap shows no
C{/sys} at all, which such programs take as no limit."""
DEVICES = (("/dev/null", True), ("/dev/zero", True), ("/dev/full", True))
DEVICES_READ = ("/dev/urandom", "/dev/random")


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class _NetPortAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64))


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi() -> int:
    """The Landlock ABI version this kernel offers, or the negative errno
    that says why none (C{-ENOSYS}: too old, C{-EOPNOTSUPP}: disabled at
    boot, C{-EPERM}: a seccomp filter forbids it)."""
    libc = _libc()
    version = libc.syscall(CREATE_RULESET, None, ctypes.c_size_t(0), CREATE_RULESET_VERSION)
    return int(version) if version >= 0 else -ctypes.get_errno()


def handledFs(version: int) -> int:
    """Every file-system access ABI C{version} knows."""
    handled = (1 << 13) - 1
    if version >= 2:
        handled |= REFER
    if version >= 3:
        handled |= TRUNCATE
    if version >= 5:
        handled |= IOCTL_DEV
    return handled


def rules(layout: Layout, tmp: str | None) -> list[tuple[str, bool]]:
    """C{(path, writable)} for every path the child may use: the system,
    its devices, its own paths and C{tmp}; an allowed directory that holds
    a masked path is split around it."""
    masks = [path for path, _ in layout.masked] + list(layout.soft)
    wanted: list[tuple[str, bool]] = []
    for kind, source, _ in layout.system:
        if kind == "ro" and source != "/var":
            wanted.append((os.path.realpath(source), False))
    wanted.append(("/proc", False))
    wanted += [(path, False) for path in SYSTEM_FACTS if os.path.isdir(path)]
    wanted += [(device, True) for device, _ in DEVICES] + [(d, False) for d in DEVICES_READ]
    wanted += [(path, False) for _, path in layout.readOnly]
    wanted += [(path, True) for _, path in layout.writable]
    out: list[tuple[str, bool]] = []
    # Landlock grants a right on a folder to all it holds: a writable folder
    # holding a read-only path (a denyWrite, a repository's .git) or a sealed
    # name is split around it, and shown read-only itself.
    held = [path for _, path in layout.readOnly] + list(layout.sealed)
    for path, writable in wanted:
        if any(under(path, mask) for mask in masks):
            continue
        inside = [h for h in held if writable and under(h, path) and h != path]
        if inside and not any(under(mask, path) for mask in masks):
            out.append((path, False))
        _split(path, writable, masks + inside, out)
    out += list(layout.reopened)
    if layout.packageCopy is not None:  # its own copy of its package, run where it is
        out.append((layout.packageCopy[0], True))
    if tmp is not None:  # in the (masked) state directory, its own
        out.append((tmp, True))
    if len(out) > MAX_RULES:
        raise OSError(f"Landlock: {len(out)} rules, over the limit of {MAX_RULES}")
    return out


def _split(path: str, writable: bool, masks: list[str], out: list[tuple[str, bool]]) -> None:
    inner = [mask for mask in masks if under(mask, path) and mask != path]
    if not inner or not os.path.isdir(path) or os.path.islink(path):
        out.append((path, writable))
        return
    try:
        entries = sorted(os.listdir(path))
    except OSError:
        return
    for name in entries:
        child = os.path.join(path, name)
        if child in inner:
            continue
        if any(under(mask, child) for mask in inner):
            _split(child, writable, masks, out)
        else:
            out.append((child, writable))
        if len(out) > MAX_RULES:
            return


def restrict(
    paths: Iterable[tuple[str, bool]], version: int, network: str, proxyPort: int | None = None
) -> None:
    """Confine this process (and all it runs) to C{paths}: read (and run)
    everything listed, write the writable ones. With C{network} C{"none"}
    and ABI 4, no TCP bind or connect; with a C{proxyPort} (the gateway's
    allow-list proxy on loopback), no TCP bind and TCP connect to that port
    only (Landlock knows ports, not addresses); with ABI 6, no signal to a
    process outside and no abstract UNIX socket of one.

    @raise OSError: the kernel refused (its errno and the path it refused).
    """
    libc = _libc()
    handled = handledFs(version)
    attr = _RulesetAttr(handled, 0, 0)
    if version >= 4 and (network == "none" or proxyPort is not None):
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
    if version >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    size = ctypes.sizeof(attr) if version >= 6 else (16 if version >= 4 else 8)
    ruleset = libc.syscall(CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        _fail("landlock_create_ruleset", "")
    try:
        for path, writable in paths:
            _addRule(libc, int(ruleset), path, handled if writable else READ)
        if proxyPort is not None and attr.handled_access_net:
            port = _NetPortAttr(NET_CONNECT_TCP, proxyPort)
            if libc.syscall(ADD_RULE, int(ruleset), RULE_NET_PORT, ctypes.byref(port), 0):
                _fail("landlock_add_rule", f"port {proxyPort}")
        if libc.syscall(RESTRICT_SELF, int(ruleset), 0) != 0:
            _fail("landlock_restrict_self", "")
    finally:
        os.close(int(ruleset))


def _addRule(libc: ctypes.CDLL, ruleset: int, path: str, access: int) -> None:
    if os.path.islink(path):
        return  # a link: what it points to needs a rule of its own
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # gone since it was listed: nothing to allow
    try:
        if not os.path.isdir(path):
            access &= FILE_RIGHTS
        rule = _PathBeneathAttr(access, fd)
        if access and libc.syscall(ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0):
            _fail("landlock_add_rule", path)
    finally:
        os.close(fd)


def _fail(call: str, path: str) -> None:
    errno = ctypes.get_errno()
    raise OSError(errno, f"{call}: {os.strerror(errno)}", path or None)
