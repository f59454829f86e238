# -*- test-case-name: tests.runtime.test_portuse -*-
"""A TCP port someone else holds: whether it is taken, by which process,
and the one line that says so.

The gateway says it when it cannot listen (L{inUseMessage}, logged by
L{mcpgateway.ops.services.ListenerService}); C{mcpgateway start} checks the
port before it spawns twistd (L{portTaken}), and otherwise finds the line
the gateway logged (L{reportedInUse}). Both name the process holding the
port when C{/proc} shows it (L{holderPid}, Linux only): a port held by
another user's process, or anywhere without C{/proc}, gives no pid.

Standard library only (the command imports no Twisted); the C{/proc}
reads are blocking: the gateway calls L{holderPid} off the reactor thread.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mcpgateway.runtime import procfs

MAX_PROCS = 10_000
"""Most processes looked at while looking for a port's holder."""
MAX_FDS = 200_000
"""Most fd links read while looking for a port's holder."""

_LISTEN = "0A"
"""C{/proc/net/tcp}'s state of a listening socket."""
_IN_USE = re.compile(r"\bport (\d{1,5}) is in use(?: \(by pid (\d+)\))?")
_ADDRESS_IN_USE = os.strerror(errno.EADDRINUSE)
"""C{Address already in use}, as Twisted's C{CannotListenError} words it."""
_CANNOT_LISTEN = re.compile(r"(?:^|\] )cannot listen on ")
"""How the gateway's log line of a failure to listen on its port begins
(after the line's C{[namespace#level]}; the manhole's says C{manhole:}
first)."""


def inUseMessage(port: int, pid: int | None, uid: int | None = None) -> str:
    """The one line that says C{port} is taken (by C{pid}, when known) and
    what to do; a port another account holds (C{uid}) is said as such:
    whatever points at it reaches that account's process."""
    if uid is not None and uid != os.geteuid():
        return (
            f"port {port} is held by another account's process ({account(uid)}): whatever"
            f" points at 127.0.0.1:{port} reaches that account, not your gateway; pick another"
            " port with --port"
        )
    if pid is None:
        return f"port {port} is in use; stop what holds it, or pick another port with --port"
    return (
        f"port {port} is in use (by pid {pid}); stop that process, or pick another port with --port"
    )


@dataclass(frozen=True)
class PortInUse:
    """A port the gateway cannot listen on because another socket holds
    it, and the process holding it (C{None}: not known)."""

    port: int
    pid: int | None
    uid: int | None = None
    """The account whose socket listens there (C{None}: not known)."""

    @property
    def message(self) -> str:
        return inUseMessage(self.port, self.pid, self.uid)

    @property
    def foreign(self) -> bool:
        """Whether another account holds it."""
        return self.uid is not None and self.uid != os.geteuid()

    def toJson(self) -> dict[str, Any]:
        """What C{mcpgateway start --json} prints."""
        return {
            "ok": False,
            "error": self.message,
            "port": self.port,
            "pid": self.pid,
            "uid": self.uid,
        }


def portTaken(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the gateway could not listen on C{host:port} because
    another socket holds it: a bind with the options Twisted listens with
    (C{SO_REUSEADDR} on POSIX, so a port left in C{TIME_WAIT} is free)
    fails with C{EADDRINUSE}. The socket never listens and is closed at
    once. Any other failure is not this one's to report (twistd says it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            if os.name == "posix":
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as e:
        return e.errno == errno.EADDRINUSE
    return False


def checkPort(port: int, host: str = "127.0.0.1") -> PortInUse | None:
    """C{port} as taken (L{portTaken}) with its holder, or C{None} when
    it is free to listen on."""
    if not portTaken(port, host):
        return None
    return PortInUse(port, holderPid(port, host), listenerUid(port, host))


def listenerUid(
    port: int, host: str | None = "127.0.0.1", procRoot: str = procfs.PROC
) -> int | None:
    """The account whose socket listens on TCP C{port} where a connection
    to C{host} goes (C{net/tcp}'s and C{net/tcp6}'s own column: no process
    need be readable); C{None} when none listens or C{/proc} does not say."""
    for listening, _, uid in _rows(port, host, procRoot):
        if listening:
            return uid
    return None


def foreignListener(port: int, host: str | None = "127.0.0.1") -> str | None:
    """Who listens on C{port} when it is another account (C{"uid 1002,
    bob"}); C{None} when it is this one, nobody, or not known."""
    uid = listenerUid(port, host)
    return None if uid is None or uid == os.geteuid() else account(uid)


def account(uid: int) -> str:
    """C{uid 1002, bob} (the name when the system knows it)."""
    import pwd

    try:
        return f"uid {uid}, {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"uid {uid}"


def reportedInUse(lines: Iterable[str], port: int) -> PortInUse | None:
    """What the gateway's log lines C{lines} say about C{port}: the line
    of a failure to listen because the port is taken, in the gateway's
    words (L{inUseMessage}, with the pid it found) or Twisted's
    (C{Address already in use}); C{None} when no line says so."""
    for line in lines:
        start = _CANNOT_LISTEN.search(line)
        if start is None:
            continue
        said = line[start.end() :]
        match = _IN_USE.search(said)
        if match is not None and int(match.group(1)) == port:
            pid = match.group(2)
            return PortInUse(port, int(pid) if pid is not None else None)
        if _ADDRESS_IN_USE in said and re.search(rf":{port}\b", said):
            return PortInUse(port, None)
    return None


def holderPid(
    port: int,
    host: str | None = None,
    procRoot: str = procfs.PROC,
    maxProcs: int = MAX_PROCS,
    maxFds: int = MAX_FDS,
) -> int | None:
    """The pid of a process holding a socket bound to TCP C{port} that
    clashes with listening on C{host} (C{None}: on any address): a row of
    C{net/tcp} or C{net/tcp6} for that port, listening ones first, whose
    address is C{host}'s or the wildcard, and the first process with an
    fd on its inode. Processes whose fds cannot be read (another user's)
    are skipped; C{None} when none is found within the caps."""
    inodes = list(_inodes(port, host, procRoot))
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]": rank for rank, inode in enumerate(inodes)}
    best: tuple[int, int] | None = None
    procs = fds = 0
    for pid in procfs.pids(procRoot):
        procs += 1
        if procs > maxProcs:
            break
        try:
            with os.scandir(os.path.join(procfs.base(pid, procRoot), "fd")) as entries:
                for entry in entries:
                    fds += 1
                    if fds > maxFds:
                        return None if best is None else best[1]
                    try:
                        rank = wanted.get(os.readlink(entry.path))
                    except OSError:
                        continue
                    if rank is not None and (best is None or rank < best[0]):
                        best = (rank, pid)
                        if rank == 0:
                            return pid
        except OSError:
            continue
    return None if best is None else best[1]


def _inodes(port: int, host: str | None, procRoot: str) -> Iterator[int]:
    """The inodes of the sockets bound to C{port} that clash with C{host},
    listening ones first."""
    rows = [(not listening, inode) for listening, inode, _ in _rows(port, host, procRoot)]
    seen: set[int] = set()
    for _, inode in sorted(rows, key=lambda row: row[0]):
        if inode > 0 and inode not in seen:
            seen.add(inode)
            yield inode


def _rows(port: int, host: str | None, procRoot: str) -> Iterator[tuple[bool, int, int]]:
    """The rows of C{net/tcp} and C{net/tcp6} of the sockets bound to C{port}
    that clash with C{host}: C{(listening, inode, uid)}, in table order."""
    wanted = _hostAddress(host)
    for name in ("tcp", "tcp6"):
        data = procfs.readBytes(os.path.join(procRoot, "net", name))
        if data is None:
            continue
        for line in data.decode("ascii", "replace").splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10:
                continue
            address, _, hexPort = fields[1].partition(":")
            try:
                rowPort, uid, inode = int(hexPort, 16), int(fields[7]), int(fields[9])
            except ValueError:
                continue
            if rowPort == port and _clashes(address, wanted):
                yield fields[3].upper() == _LISTEN, inode, uid


def _hostAddress(host: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """C{host} as an address (an IPv4-mapped one as IPv4); C{None}: any."""
    if host is None:
        return None
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _clashes(hexAddress: str, wanted: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
    """Whether a socket bound to C{hexAddress} (as C{net/tcp*} prints it:
    each 32-bit word in the machine's byte order) keeps a listener off
    C{wanted}: the same address (an IPv4-mapped one counts as IPv4), or
    the wildcard."""
    if wanted is None:
        return True
    try:
        words = [int(hexAddress[i : i + 8], 16) for i in range(0, len(hexAddress), 8)]
        packed = b"".join(word.to_bytes(4, sys.byteorder) for word in words)
        address = ipaddress.ip_address(packed)
    except (ValueError, OverflowError):
        return False
    if address.is_unspecified:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address == wanted
