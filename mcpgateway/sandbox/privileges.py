# -*- test-case-name: tests.sandbox.test_privileges -*-
"""Every capability of a launcher dropped for good, before it restricts
itself with Landlock and runs the server.

Landlock confines paths, not privileges: a root child that kept root's
capabilities would read the gateway's environment (C{/proc/PID/environ}:
its API token) and memory, configure the host's network (an address on
its loopback), raise its own limits back, and more. Bubblewrap drops them
itself (C{--cap-drop ALL}); under Landlock the launcher does, in this
order, while it still holds C{CAP_SETPCAP}:

 1. every capability out of the bounding set (C{PR_CAPBSET_DROP}, 0 to
    the kernel's last), so no program run later is given one;
 2. the I{securebits}, locked: root is not given capabilities by an
    C{exec} (C{SECBIT_NOROOT}), a change of user id changes none
    (C{SECBIT_NO_SETUID_FIXUP}), none is kept across one
    (C{SECBIT_KEEP_CAPS} locked off), none may be raised into the ambient
    set (C{SECBIT_NO_CAP_AMBIENT_RAISE});
 3. the ambient set cleared;
 4. the effective, permitted and inheritable sets emptied (C{capset}).

A process without C{CAP_SETPCAP} (an ordinary user's, or a container's
root without it) cannot do 1 and 2, and needs not: with
C{PR_SET_NO_NEW_PRIVS} (the launcher sets it first) an C{exec} gives no
capability beyond the permitted set, which 4 empties. An ordinary user's
launcher does 3 and 4 too: an ambient capability (systemd's
C{AmbientCapabilities=}) would otherwise pass to the child.

Standard library only: the launcher imports it.
"""

from __future__ import annotations

import ctypes
import errno
import os

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from typing import Protocol

    class System(Protocol):
        """The kernel as L{dropAll} asks it (L{Libc}, or a test's recorder)."""

        def prctl(self, option: int, argument: int) -> int:
            """C{prctl(option, argument, 0, 0, 0)}: its result, or the
            negative errno."""
            ...

        def capset(self, effective: int, permitted: int, inheritable: int) -> int:
            """This process's capability sets (bit masks): 0, or the
            negative errno."""
            ...


PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

SECBIT_NOROOT = 1 << 0
SECBIT_NOROOT_LOCKED = 1 << 1
SECBIT_NO_SETUID_FIXUP = 1 << 2
SECBIT_NO_SETUID_FIXUP_LOCKED = 1 << 3
SECBIT_KEEP_CAPS_LOCKED = 1 << 5
SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6
SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 7
SECUREBITS = (
    SECBIT_NOROOT
    | SECBIT_NOROOT_LOCKED
    | SECBIT_NO_SETUID_FIXUP
    | SECBIT_NO_SETUID_FIXUP_LOCKED
    | SECBIT_KEEP_CAPS_LOCKED
    | SECBIT_NO_CAP_AMBIENT_RAISE
    | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED
)
"""Root gains nothing by C{exec} or C{setuid}, nothing is raised into the
ambient set, and none of it can be undone."""

LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_LAST_CAP = "/proc/sys/kernel/cap_last_cap"
CAPABILITIES_MAX = 64
"""No kernel names more (a mask is 64 bits): where C{cap_last_cap} cannot
be read, the bounding set is read up to here."""


class _Header(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _Data(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


class Libc:
    """C{prctl} and C{capset}, through C{ctypes}."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.prctl.restype = ctypes.c_int
        lib.prctl.argtypes = (ctypes.c_int, *(ctypes.c_ulong,) * 4)
        lib.capset.restype = ctypes.c_int
        lib.capset.argtypes = (ctypes.POINTER(_Header), ctypes.POINTER(_Data))
        self.lib = lib

    def prctl(self, option: int, argument: int) -> int:
        result = int(self.lib.prctl(option, argument, 0, 0, 0))
        return result if result >= 0 else -ctypes.get_errno()

    def capset(self, effective: int, permitted: int, inheritable: int) -> int:
        header = _Header(LINUX_CAPABILITY_VERSION_3, 0)
        data = (_Data * 2)(
            _Data(effective & 0xFFFFFFFF, permitted & 0xFFFFFFFF, inheritable & 0xFFFFFFFF),
            _Data(effective >> 32, permitted >> 32, inheritable >> 32),
        )
        result = int(self.lib.capset(ctypes.byref(header), data))
        return 0 if result == 0 else -ctypes.get_errno()


def lastCap(system: System, path: str = CAP_LAST_CAP) -> int:
    """The highest capability this kernel knows: C{cap_last_cap}, or where
    it cannot be read the last the bounding set answers for."""
    try:
        with open(path, "rb") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        pass
    last = -1
    while last + 1 < CAPABILITIES_MAX and system.prctl(PR_CAPBSET_READ, last + 1) >= 0:
        last += 1
    return last


def dropAll(system: System | None = None, path: str = CAP_LAST_CAP) -> None:
    """Drop every capability of this process and all it runs, for good
    (the module's four steps; 1 and 2 only with C{CAP_SETPCAP}).

    @raise OSError: the kernel refused a step (the launcher then refuses
        to run the server).
    """
    system = system or Libc()
    last = lastCap(system, path)
    first = system.prctl(PR_CAPBSET_DROP, 0)
    if first != -errno.EPERM:  # EPERM: no CAP_SETPCAP, so none to drop with
        _check(first, "PR_CAPBSET_DROP")
        for capability in range(1, last + 1):
            _check(system.prctl(PR_CAPBSET_DROP, capability), "PR_CAPBSET_DROP")
        _check(system.prctl(PR_SET_SECUREBITS, SECUREBITS), "PR_SET_SECUREBITS")
    cleared = system.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    if cleared != -errno.EINVAL:  # EINVAL: a kernel without ambient capabilities
        _check(cleared, "PR_CAP_AMBIENT_CLEAR_ALL")
    _check(system.capset(0, 0, 0), "capset")


def _check(result: int, what: str) -> None:
    if result < 0:
        raise OSError(-result, f"dropping the capabilities: {what}: {os.strerror(-result)}")
