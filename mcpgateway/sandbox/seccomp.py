# -*- test-case-name: tests.sandbox.test_seccomp, tests.sandbox.test_seccomp_sockets -*-
"""The system-call filter of every confined child: a seccomp-BPF deny list
modelled on Flatpak's (C{flatpak-run.c}'s C{setup_seccomp}), built with
libseccomp through C{ctypes}.

Everything not listed is allowed; a listed call fails with an errno the
program can handle (C{EPERM}, C{ENOSYS} where a C library falls back to
an older call, C{EAFNOSUPPORT} for a socket family, C{EACCES} for a
socket's type or protocol; under Landlock also C{ECONNREFUSED} for a
C{connect}, C{EACCES} for a C{listen}, C{EOPNOTSUPP} for TCP Fast Open),
it is never killed.
What it takes away, a server has no use for: tracing other processes
(C{ptrace}, C{process_vm_readv}), new namespaces and mounts (bubblewrap
has made its own before the filter is loaded), the kernel's keyrings,
modules, C{kexec}, BPF, performance counters, C{userfaultfd} and
C{io_uring} (the kernel's most attacked interfaces), pushing input into a
terminal (C{TIOCSTI}, C{TIOCLINUX}), device nodes, the clock, the host
name, swap, accounting, quotas, C{reboot}, the socket families beyond
UNIX, IPv4, IPv6 and netlink, and UNIX datagrams. L{rules} is the list;
docs/guide/sandbox.md ("System calls") says it for people.

C{clone3} fails with C{ENOSYS}: a filter cannot read the flags in its
C{struct clone_args}, and glibc, on C{ENOSYS}, falls back to C{clone},
whose flags it can read (no new user namespace).

The sockets the mechanism leaves open are closed here too
(L{socketRules}). An IPv4 or IPv6 socket is TCP or UDP, nothing else:
Landlock's network rules know TCP alone, and MPTCP, SCTP, UDP-Lite or a
raw socket would reach past them (under bubblewrap the same holds, in
depth). A UNIX socket or pair is a stream or a seqpacket one under both
mechanisms: a datagram one sends to any unconnected datagram socket it
can name (C{/dev/log}, journald's, a daemon's own), which a stream
socket refuses and a seqpacket one ignores. Under Landlock, which has no
network namespace, a child with network may make no UNIX socket (a
pathname socket is reached whatever Landlock allows: an ssh-agent,
D-Bus, the Docker socket; C{socketpair} stays, Node.js and Python need
it); one without network may, to listen on (Chromium's single-instance
socket), but it connects nowhere: it has no IP socket, and C{connect}
fails. Behind the allow-list proxy's port it has no UDP socket, does not
C{listen} (the kernel would bind it a port Landlock never sees) and sends
no TCP Fast Open data (C{MSG_FASTOPEN} connects past Landlock's rule of
that port) (L{rules}'s C{network}).

Under bubblewrap the launcher compiles the program into a memory file
(L{program}) and bubblewrap loads it (C{--seccomp FD}) after making its
mounts, just before it runs the server; under Landlock the launcher loads
it into itself (L{install}) just before its C{exec}. Standard library
only: the launcher imports it.
"""

from __future__ import annotations

import ctypes
import errno
import os

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from typing import Protocol

    Comparison = tuple[int, int, int, int]
    """C{(argument, operator, datum_a, datum_b)}: libseccomp's C{scmp_arg_cmp}."""
    Rule = tuple[str, int, tuple[Comparison, ...]]
    """C{(system call, errno, comparisons)}: all comparisons must hold."""

    class Library(Protocol):
        """What L{build} asks of libseccomp (L{LibSeccomp}, or a test's
        recorder)."""

        def new(self) -> int: ...
        def addArch(self, context: int, name: str) -> None: ...
        def resolve(self, name: str) -> int: ...
        def addRule(
            self, context: int, action: int, number: int, comparisons: tuple[Comparison, ...]
        ) -> int: ...
        def export(self, context: int, fd: int) -> None: ...
        def load(self, context: int) -> None: ...
        def release(self, context: int) -> None: ...


LIBRARY = "libseccomp.so.2"
FILTERED = "filtered"
UNFILTERED = "unfiltered"
"""The words of a profile's C{"syscalls"}."""

ACT_ALLOW = 0x7FFF0000
NR_ERROR = -1
"""What C{seccomp_syscall_resolve_name} answers for a name it does not know."""
CMP_NE, CMP_EQ, CMP_GE, CMP_MASKED_EQ = 1, 4, 5, 7

CLONE_NAMESPACES = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
S_IFMT, S_IFCHR, S_IFBLK = 0o170000, 0o020000, 0o060000
PER_LINUX = 0
SOCKET_FAMILIES = (0, 1, 2, 10, 16)
"""C{AF_UNSPEC}, C{AF_UNIX}, C{AF_INET}, C{AF_INET6}, C{AF_NETLINK}: the
families a child may open (Flatpak's list, without Bluetooth and CAN)."""
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET = 1, 2, 5
SOCK_TYPE_BITS = 4
"""A socket's type is its argument's low 4 bits (C{SOCK_NONBLOCK} and
C{SOCK_CLOEXEC} are flags above them)."""
UNIX_TYPES = (SOCK_STREAM, SOCK_SEQPACKET)
"""The UNIX sockets and pairs a child may make. A stream socket refuses a
destination address (C{EISCONN}, C{EOPNOTSUPP}) and a connected
seqpacket one ignores it; a datagram one (C{SOCK_DGRAM}, and C{SOCK_RAW},
which the kernel makes a datagram one) sends to any unconnected datagram
socket it can name, a socketpair's too."""
MSG_FASTOPEN = 0x20000000
"""C{sendto}'s and C{sendmsg}'s flag that connects an unconnected TCP
socket (TCP Fast Open) without the C{connect} Landlock checks."""
SEND_FLAGS = (("sendto", 3), ("sendmsg", 2), ("sendmmsg", 3))
"""The calls that take C{MSG_FASTOPEN}, and the argument of their flags."""
SOCKETCALL_SENDS = (11, 16, 20)
"""C{socketcall}'s numbers of C{sendto}, C{sendmsg} and C{sendmmsg}."""
SOCKETCALL_MACHINES = ("x86_64", "i386", "i686", "s390x", "s390")
"""The machines that run programs through C{socketcall} (x86_64's 32-bit
x86 among them), whose flags a filter cannot read."""
IP_PROTOCOLS = (0, 6, 17)
"""C{IPPROTO_IP} (the type's own: TCP for a stream, UDP for a datagram),
C{IPPROTO_TCP}, C{IPPROTO_UDP}: the only protocols an IP socket may name."""
ARGUMENT_BITS = 64

BWRAP = "bwrap"
LANDLOCK = "landlock"
"""The mechanisms a filter is made for (L{rules})."""
NETWORK_NONE = "none"
NETWORK_PROXY = "proxy"
NETWORK_HOST = "host"
"""What a Landlock child's network is: none, TCP to the allow-list
proxy's loopback port only, or the host's."""

DENIED: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        errno.EPERM,
        (
            # Other processes: their memory, their registers, their files.
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "pidfd_getfd",
            # New namespaces (clone's flags are checked below) and mounts:
            # bubblewrap has made the child's before the filter is loaded.
            "unshare",
            "setns",
            "mount",
            "umount",
            "umount2",
            "pivot_root",
            "chroot",
            # The kernel's keyrings.
            "add_key",
            "keyctl",
            "request_key",
            # The kernel itself: modules, kexec, BPF, counters, swap, reboot.
            "init_module",
            "finit_module",
            "delete_module",
            "create_module",
            "kexec_load",
            "kexec_file_load",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "lookup_dcookie",
            "swapon",
            "swapoff",
            "reboot",
            "syslog",
            "acct",
            "quotactl",
            "quotactl_fd",
            "open_by_handle_at",
            "fanotify_init",
            "uselib",
            "vm86",
            "vm86old",
            "iopl",
            "ioperm",
            "nfsservctl",
            # NUMA placement (Flatpak's "scary VM/NUMA ops").
            "move_pages",
            "mbind",
            "get_mempolicy",
            "set_mempolicy",
            "set_mempolicy_home_node",
            "migrate_pages",
            # The machine's clock and names (a root child under Landlock
            # shares them with the host).
            "settimeofday",
            "clock_settime",
            "stime",
            "sethostname",
            "setdomainname",
        ),
    ),
    (
        errno.ENOSYS,
        (
            # clone3's flags are out of the filter's reach: ENOSYS, and
            # glibc falls back to clone.
            "clone3",
            # The new mount interface, as Flatpak (CVE-2021-41133).
            "open_tree",
            "move_mount",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "mount_setattr",
            # io_uring: a libuv or liburing falls back to plain calls.
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
        ),
    ),
)


def rules(machine: str | None = None, *, mechanism: str, network: str) -> list[Rule]:
    """The deny list: C{(system call, errno, comparisons)}, in the order it
    is handed to libseccomp.

    @param machine: C{uname -m} (default: this machine's): on s390 the
        flags are C{clone}'s second argument.
    @param mechanism: L{BWRAP} or L{LANDLOCK}: under Landlock, which has no
        namespaces, the filter also refuses UNIX sockets, and IP sockets
        as C{network} says.
    @param network: under Landlock, the child's network: L{NETWORK_NONE}
        (no IP socket), L{NETWORK_PROXY} (no UDP: its way out is TCP to
        the proxy's port) or L{NETWORK_HOST}; bubblewrap's own network
        namespace makes it moot there.
    """
    machine = machine or os.uname().machine
    out: list[Rule] = []
    for code, names in DENIED:
        out += [(name, code, ()) for name in names]
    flags = 1 if machine.startswith("s390") else 0
    out += [("clone", errno.EPERM, ((flags, CMP_MASKED_EQ, bit, bit),)) for bit in CLONE_NAMESPACES]
    # The request is an int: compare its low 32 bits (Flatpak's way).
    for request in (TIOCSTI, TIOCLINUX):
        out.append(("ioctl", errno.EPERM, ((1, CMP_MASKED_EQ, 0xFFFFFFFF, request),)))
    for kind in (S_IFCHR, S_IFBLK):  # a FIFO or a socket file is fine
        out.append(("mknod", errno.EPERM, ((1, CMP_MASKED_EQ, S_IFMT, kind),)))
        out.append(("mknodat", errno.EPERM, ((2, CMP_MASKED_EQ, S_IFMT, kind),)))
    out.append(("personality", errno.EPERM, ((0, CMP_NE, PER_LINUX, 0),)))
    last = SOCKET_FAMILIES[-1]
    for family in range(last):
        if family not in SOCKET_FAMILIES:
            out.append(("socket", errno.EAFNOSUPPORT, ((0, CMP_EQ, family, 0),)))
    out.append(("socket", errno.EAFNOSUPPORT, ((0, CMP_GE, last + 1, 0),)))
    out += socketRules(mechanism, network, machine)
    return out


def socketRules(mechanism: str, network: str, machine: str = "x86_64") -> list[Rule]:
    """The sockets refused beyond the families of L{SOCKET_FAMILIES}.

    An IP socket of a type but stream and datagram, or of a protocol but
    TCP and UDP (MPTCP, SCTP, UDP-Lite, raw: Landlock's rules know TCP
    alone), fails with C{EACCES}, and so does a UNIX socket that is not a
    stream or seqpacket one (L{UNIX_TYPES}); a socketpair of another
    family than UNIX, or of another type, fails with C{EAFNOSUPPORT}.
    Under Landlock a UNIX socket fails with C{EAFNOSUPPORT}, as a family
    refused, unless the child has no network: then C{connect} fails with
    C{ECONNREFUSED} instead (nobody answers it; no IP socket is left to
    connect anyway). An IP socket without network fails with
    C{EAFNOSUPPORT}; behind the proxy's port a UDP one fails with
    C{EACCES}, so does C{listen}, and C{MSG_FASTOPEN} with C{EOPNOTSUPP}
    (what a kernel without TCP Fast Open answers: the program falls back
    to C{connect}).

    On the 32-bit x86 of a 64-bit machine libseccomp folds every rule of a
    socket call into one of C{socketcall}'s, which reads its call's
    number, not the arguments behind its pointer, and takes one action: a
    program that makes its sockets through C{socketcall} gets none, and
    no socketpair either (so the rules of one call share their errno: a
    socketpair's is always C{EAFNOSUPPORT}). A rule that compares an
    argument beyond the call's number would compare C{socketcall}'s own
    registers instead, which the program chooses: so behind the proxy's
    port C{socketcall}'s C{sendto}, C{sendmsg} and C{sendmmsg} are refused
    whole (L{SOCKETCALL_MACHINES}), their flags out of reach.

    A rule compares each argument once (libseccomp refuses two comparisons
    of one argument in a rule): a range of values is refused as aligned
    blocks of them (L{blocks}), a masked comparison each. The family is
    compared whole: one with bits above the C{int} the kernel reads is
    refused by the family rules already (and a socketpair's by its
    C{CMP_NE})."""
    landlocked = mechanism == LANDLOCK
    unix = (0, CMP_EQ, AF_UNIX, 0)
    kinds = refused(UNIX_TYPES, 1 << SOCK_TYPE_BITS, SOCK_TYPE_BITS)
    out: list[Rule] = [("socketpair", errno.EAFNOSUPPORT, ((0, CMP_NE, AF_UNIX, 0),))]
    out += [("socketpair", errno.EACCES, (unix, (1, CMP_MASKED_EQ, m, v))) for m, v in kinds]
    if landlocked and network != NETWORK_NONE:
        out.append(("socket", errno.EAFNOSUPPORT, (unix,)))
    else:
        out += [("socket", errno.EACCES, (unix, (1, CMP_MASKED_EQ, m, v))) for m, v in kinds]
    if landlocked and network == NETWORK_NONE:
        out.append(("connect", errno.ECONNREFUSED, ()))
    if landlocked and network == NETWORK_PROXY:
        out.append(("listen", errno.EACCES, ()))
        if machine.startswith(SOCKETCALL_MACHINES):
            for number in SOCKETCALL_SENDS:
                out.append(("socketcall", errno.EOPNOTSUPP, ((0, CMP_EQ, number, 0),)))
        for call, flags in SEND_FLAGS:
            fastOpen = (flags, CMP_MASKED_EQ, MSG_FASTOPEN, MSG_FASTOPEN)
            out.append((call, errno.EOPNOTSUPP, (fastOpen,)))
    out += ipRules(landlocked, network)
    return out


def ipRules(landlocked: bool, network: str) -> list[Rule]:
    """The IPv4 and IPv6 sockets refused (L{socketRules})."""
    out: list[Rule] = []
    proxied = landlocked and network == NETWORK_PROXY
    types = (SOCK_STREAM,) if proxied else (SOCK_STREAM, SOCK_DGRAM)
    for family in (AF_INET, AF_INET6):
        ip = (0, CMP_EQ, family, 0)
        if landlocked and network == NETWORK_NONE:
            out.append(("socket", errno.EAFNOSUPPORT, (ip,)))
            continue
        for mask, value in refused(types, 1 << SOCK_TYPE_BITS, SOCK_TYPE_BITS):
            out.append(("socket", errno.EACCES, (ip, (1, CMP_MASKED_EQ, mask, value))))
        above = IP_PROTOCOLS[-1] + 1
        for mask, value in refused(IP_PROTOCOLS, above, ARGUMENT_BITS):
            out.append(("socket", errno.EACCES, (ip, (2, CMP_MASKED_EQ, mask, value))))
        out.append(("socket", errno.EACCES, (ip, (2, CMP_GE, above, 0))))
    return out


def refused(allowed: tuple[int, ...], limit: int, width: int) -> list[tuple[int, int]]:
    """C{(mask, value)} pairs that match exactly the values below C{limit}
    that are not C{allowed}: C{argument & mask == value} for one of them,
    the argument C{width} bits wide."""
    out: list[tuple[int, int]] = []
    low = 0
    for value in [*sorted(allowed), limit]:
        if value > low:
            out += blocks(low, value - 1, width)
        low = value + 1
    return out


def blocks(low: int, high: int, width: int) -> list[tuple[int, int]]:
    """C{[low, high]} as aligned blocks of a power of two values each:
    C{(mask, first)}, a value of C{width} bits in the block when C{value &
    mask == first} (as an address range is written as prefixes)."""
    full = (1 << width) - 1
    out: list[tuple[int, int]] = []
    while low <= high:
        size = low & -low or 1 << width
        while size > high - low + 1:
            size >>= 1
        out.append((full & ~(size - 1), low))
        low += size
    return out


def errnoAction(code: int) -> int:
    """libseccomp's C{SCMP_ACT_ERRNO(code)}."""
    return 0x00050000 | (code & 0xFFFF)


COMPAT_ARCHES = {"x86_64": "x86", "aarch64": "arm"}
"""The 32-bit architecture a 64-bit kernel also runs (its programs are
filtered too, instead of being killed at their first call)."""


def build(
    library: Library,
    machine: str | None = None,
    *,
    mechanism: str,
    network: str,
) -> tuple[int, list[str]]:
    """A filter context with every rule of L{rules} (for C{mechanism} and
    C{network}), and the names this libseccomp does not know (left out: a
    kernel too old for them has none of them either).

    @raise OSError: libseccomp refused a rule.
    """
    machine = machine or os.uname().machine
    context = library.new()
    try:
        compat = COMPAT_ARCHES.get(machine)
        if compat is not None:
            library.addArch(context, compat)
        unknown: list[str] = []
        for name, code, comparisons in rules(machine, mechanism=mechanism, network=network):
            number = library.resolve(name)
            if number == NR_ERROR:
                if name not in unknown:
                    unknown.append(name)
                continue
            result = library.addRule(context, errnoAction(code), number, comparisons)
            if result < 0:
                raise OSError(-result, f"seccomp: the rule for {name}: {os.strerror(-result)}")
    except BaseException:
        library.release(context)
        raise
    return context, unknown


class _Compare(ctypes.Structure):
    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


class _Version(ctypes.Structure):
    _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint))


class LibSeccomp:
    """libseccomp (C{libseccomp.so.2}), through C{ctypes}.

    @raise OSError: the library is not installed.
    """

    def __init__(self, name: str = LIBRARY) -> None:
        lib = ctypes.CDLL(name, use_errno=True)
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = (ctypes.c_uint32,)
        lib.seccomp_release.argtypes = (ctypes.c_void_p,)
        lib.seccomp_arch_add.argtypes = (ctypes.c_void_p, ctypes.c_uint32)
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = (ctypes.c_char_p,)
        lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
        lib.seccomp_rule_add_array.argtypes = (
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_Compare),
        )
        lib.seccomp_export_bpf.argtypes = (ctypes.c_void_p, ctypes.c_int)
        lib.seccomp_load.argtypes = (ctypes.c_void_p,)
        lib.seccomp_version.restype = ctypes.POINTER(_Version)
        self.lib = lib

    def version(self) -> str:
        """C{2.5.4}."""
        found = self.lib.seccomp_version().contents
        return f"{found.major}.{found.minor}.{found.micro}"

    def new(self) -> int:
        context = self.lib.seccomp_init(ACT_ALLOW)
        if not context:
            raise OSError(errno.ENOMEM, "seccomp_init failed")
        return int(context)

    def addArch(self, context: int, name: str) -> None:
        token = self.lib.seccomp_arch_resolve_name(name.encode())
        result = self.lib.seccomp_arch_add(context, token) if token else 0
        if result < 0 and result != -errno.EEXIST:
            raise OSError(-result, f"seccomp_arch_add({name}): {os.strerror(-result)}")

    def resolve(self, name: str) -> int:
        return int(self.lib.seccomp_syscall_resolve_name(name.encode()))

    def addRule(
        self, context: int, action: int, number: int, comparisons: tuple[Comparison, ...]
    ) -> int:
        array = (_Compare * max(1, len(comparisons)))(*(_Compare(*c) for c in comparisons))
        return int(
            self.lib.seccomp_rule_add_array(context, action, number, len(comparisons), array)
        )

    def export(self, context: int, fd: int) -> None:
        result = self.lib.seccomp_export_bpf(context, fd)
        if result < 0:
            raise OSError(-result, f"seccomp_export_bpf: {os.strerror(-result)}")

    def load(self, context: int) -> None:
        result = self.lib.seccomp_load(context)
        if result < 0:
            raise OSError(-result, f"seccomp_load: {os.strerror(-result)}")

    def release(self, context: int) -> None:
        self.lib.seccomp_release(context)


def library() -> LibSeccomp | None:
    """libseccomp, or C{None} where it is not installed (the child then
    runs without the filter, and the gateway says so: L{status})."""
    try:
        return LibSeccomp()
    except (OSError, AttributeError):
        return None


class Filter:
    """One child's filter: libseccomp to compile it with, and the
    mechanism and network it is made for (L{rules})."""

    def __init__(self, library: Library, mechanism: str, network: str = NETWORK_HOST) -> None:
        self.library = library
        self.mechanism = mechanism
        self.network = network

    def build(self, machine: str | None = None) -> tuple[int, list[str]]:
        """L{build} for this child."""
        return build(self.library, machine, mechanism=self.mechanism, network=self.network)


def program(chosen: Filter) -> int:
    """A memory file holding the compiled filter, at its start and
    inheritable: what bubblewrap's C{--seccomp FD} reads."""
    lib = chosen.library
    context, _ = chosen.build()
    try:
        fd = os.memfd_create("mcpgateway-seccomp", 0)
        try:
            lib.export(context, fd)
            os.lseek(fd, 0, os.SEEK_SET)
            os.set_inheritable(fd, True)
        except BaseException:
            os.close(fd)
            raise
    finally:
        lib.release(context)
    return fd


def install(chosen: Filter) -> None:
    """Load the filter into this process (and all it runs, for good)."""
    lib = chosen.library
    context, _ = chosen.build()
    try:
        lib.load(context)
    finally:
        lib.release(context)


VARIANTS = (
    (BWRAP, NETWORK_HOST),
    (LANDLOCK, NETWORK_NONE),
    (LANDLOCK, NETWORK_PROXY),
    (LANDLOCK, NETWORK_HOST),
)
"""Every filter a child may get: the status compiles each."""


def status() -> dict[str, object]:
    """Whether the filter can be made here, for every mechanism and network
    (L{VARIANTS}): C{{"works", "version", "rules", "unknown", "error"}}
    (what the probe reports; C{"rules"} counts bubblewrap's)."""
    lib = library()
    if lib is None:
        return {
            "works": False,
            "version": None,
            "rules": 0,
            "unknown": [],
            "error": f"libseccomp is not installed ({LIBRARY}: the libseccomp2 package)",
        }
    unknown: list[str] = []
    try:
        for mechanism, network in VARIANTS:
            context, missing = build(lib, mechanism=mechanism, network=network)
            unknown += [name for name in missing if name not in unknown]
            try:
                fd = os.memfd_create("mcpgateway-seccomp-probe", os.MFD_CLOEXEC)
                try:
                    lib.export(context, fd)
                finally:
                    os.close(fd)
            finally:
                lib.release(context)
    except OSError as e:
        return {
            "works": False,
            "version": lib.version(),
            "rules": 0,
            "unknown": [],
            "error": str(e),
        }
    made = rules(mechanism=BWRAP, network=NETWORK_HOST)
    count = sum(1 for name, _, _ in made if name not in unknown)
    return {
        "works": True,
        "version": lib.version(),
        "rules": count,
        "unknown": unknown,
        "error": None,
    }
