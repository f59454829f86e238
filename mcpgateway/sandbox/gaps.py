# -*- test-case-name: tests.sandbox.test_gaps -*-
"""What each mechanism does NOT confine on this machine: its I{gaps}, one
plain phrase each, so nobody takes a sandbox for more than it is.

The probe (L{mcpgateway.sandbox.probe.probe}) lists them from what it
found (bubblewrap, Landlock's ABI, libseccomp, root, C{/proc}'s mount):
C{mcpgateway sandbox check} prints them under each mechanism that works,
the gateway's log line of the mechanism in use names them, and so do
C{sandbox show} and C{doctor}. L{bwrapGaps} and L{landlockGaps} are one
mechanism's; L{neitherGaps} what neither confines (limits, not cgroups).

Only what the code and the kernel make true is said: a line that depends
on this machine (an old ABI, no libseccomp, root, C{hidepid}) is there only
where that holds.

Standard library only: the launcher's probe imports it.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

NO_FILTER = " (no libseccomp)"
ROOT = (
    "a root gateway's children keep uid 0 (without capabilities): a root-only file the"
    " gateway does not mask (outside /etc, /opt and /var, deeper than six levels there,"
    " or made there after the gateway started and deeper than two) is readable, and no"
    " process limit holds them"
)
SHOWN_SOCKETS = (
    "UNIX sockets in what it is shown (its folders, the system's directories: a database's"
    " socket under /var): it may connect to a stream or seqpacket one (the proxy's"
    " forwarder needs them)"
)
LISTENING = (
    "UNIX sockets of its own: a child without network may listen on one (in a folder it"
    " may write, or an abstract name no process holds), and a program of yours that"
    " connects there talks to it (it connects to none itself)"
)
SYSTEM_V = (
    "System V IPC: the shared memory, message queues and semaphores its uid may open (no"
    " IPC namespace)"
)


def bwrapGaps(found: Mapping[str, Any], seccompWorks: bool, root: bool) -> list[str]:
    """What bubblewrap (as L{mcpgateway.sandbox.probe.bwrapWorks} C{found}
    it) does not confine here: no system-call filter without libseccomp,
    a root gateway's children keeping uid 0, user namespaces a child may
    make when neither C{--disable-userns} nor the filter refuses them, and
    the UNIX stream sockets of what it is shown."""
    gaps = []
    if not seccompWorks:
        gaps.append(
            "no system-call filter (libseccomp is missing): a child may make every system call"
            " its namespaces allow, and send datagrams to any UNIX datagram socket in what it"
            " is shown"
        )
    if root:
        gaps.append(ROOT)
    elif not found.get("disableUserns") and not seccompWorks:
        gaps.append(
            "a child may make user namespaces of its own (bubblewrap before 0.8 has no"
            " --disable-userns, and no system-call filter refuses them)"
        )
    gaps.append(SHOWN_SOCKETS)
    return gaps


def landlockGaps(
    seccompWorks: bool, abi: int, root: bool = False, procHidden: bool = False
) -> list[str]:
    """What a child confined by Landlock is not confined from here.

    @param seccompWorks: the launcher's system-call filter is loaded (it
        closes UNIX sockets, UNIX datagrams, IP protocols other than TCP
        and UDP, and the IP sockets a child's network does not allow:
        L{mcpgateway.sandbox.seccomp}); C{False} without libseccomp.
    @param abi: this kernel's Landlock ABI (0: none).
    @param root: the gateway runs as root (so do its children, powerless).
    @param procHidden: C{/proc} hides other processes from the children
        (L{procHidesOthers}).
    """
    if abi < 1:
        return ["anything: this kernel has no Landlock"]
    gaps: list[str] = []
    if not seccompWorks:
        gaps += unfilteredGaps(abi)
    if abi < 4:
        gaps.append("an allow list: the child shares the host's network (ABI < 4: no TCP rules)")
    else:
        gaps.append(
            "an allow list is kept by port: the child may connect to the proxy's port number"
            " on any host"
        )
    if abi < 3:
        gaps.append("truncating a file the child may only read (ABI < 3)")
    if abi < 5:
        gaps.append("ioctl on the devices the child may open (ABI < 5)")
    if abi < 6:
        gaps.append(
            "signals: the child may signal every process of its user (as root: almost every"
            " process) (ABI < 6)"
        )
    if seccompWorks:
        gaps.append(LISTENING)
    if root:
        gaps.append(ROOT)
    gaps.append(SYSTEM_V)
    if procHidden:
        gaps.append(
            "other processes: no pid namespace (what the child starts in a session of its own"
            " outlives it; /proc's hidepid hides the others from it)"
        )
    else:
        gaps.append(
            "other processes: no pid namespace (the child sees every process and its command"
            " line in /proc, and what it starts in a session of its own outlives it)"
        )
    return gaps


def unfilteredGaps(abi: int) -> list[str]:
    """What Landlock leaves open where no system-call filter closes it."""
    sockets = "pathname UNIX sockets" if abi >= 6 else "UNIX sockets, pathname and abstract"
    gaps = [
        f"{sockets}: a child connects to any it can name (an ssh-agent, D-Bus, the Docker"
        " socket, another server's proxy socket) and sends datagrams to any unconnected one"
        f" (/dev/log){NO_FILTER}",
        "UDP and IP protocols other than TCP (MPTCP, SCTP, raw sockets): they reach the"
        f" network whatever the child's{NO_FILTER}",
        "the system calls the filter refuses (ptrace, keyrings, new namespaces, io_uring,"
        f" BPF){NO_FILTER}",
    ]
    if abi < 4:
        gaps.append("TCP: a child without network still connects anywhere (ABI < 4)")
    else:
        gaps.append(
            "TCP past an allow list's port: TCP Fast Open (MSG_FASTOPEN) connects to any host"
            f" and port, and listen takes a port on every address{NO_FILTER}"
        )
    return gaps


def neitherGaps(memoryMb: int) -> list[str]:
    """What no mechanism confines: a child's share of the machine."""
    return [
        "CPU time: a child may keep every CPU busy (no cgroup)",
        f"memory and disk: each of a child's processes may use its data limit ({memoryMb // 1024}"
        " GiB unless its entry's limits say otherwise: a limit, not a quota), and it may fill"
        " what it may write (under bubblewrap its /tmp is memory)",
    ]


def procHidesOthers(
    mountinfo: str = "/proc/self/mountinfo", groups: Iterable[int] | None = None
) -> bool:
    """Whether C{/proc} hides other processes from this process's children
    under Landlock: it is mounted with C{hidepid} (any but C{0}: a
    process's files are then readable only to whom may trace it, which
    Landlock refuses outside its domain), and none of C{groups} (this
    process's) is its C{gid=} (0 by default: a root gateway's children see
    every process)."""
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    options: list[str] = []
    for line in lines:  # the last mount on /proc is the one seen
        before, _, after = line.partition(" - ")
        fields, rest = before.split(), after.split()
        if len(fields) >= 5 and fields[4] == "/proc" and len(rest) >= 3:
            options = rest[2].split(",")
    named = dict(option.partition("=")[::2] for option in options)
    if named.get("hidepid", "0") in ("0", "off"):
        return False
    mine = set(groups if groups is not None else (os.getgid(), os.getegid(), *os.getgroups()))
    try:
        exempt = int(named.get("gid") or 0)
    except ValueError:
        return False
    return exempt not in mine
