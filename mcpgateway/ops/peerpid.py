# -*- test-case-name: tests.ops.test_peerpid -*-
"""Find the PID of the local process at the client end of a loopback TCP connection.

Linux only, read from C{/proc}; everywhere else (no C{/proc/net/tcp}) the answer is
C{None}. Three steps:

 1. The client's socket inode: the one the connection carries, where the
    gateway's door named the client's socket when it accepted the
    connection (the exact socket: see below); else L{socketInode}: the row
    of C{/proc/net/tcp} (or C{tcp6}) whose I{local} endpoint is
    the connection's peer (the client) and whose I{remote} endpoint is the gateway's own
    end, in state ESTABLISHED, gives the inode of the client's socket. IPv4 rows are
    matched in both files, since a dual-stack client socket shows up in C{tcp6} with an
    IPv4-mapped address (C{::ffff:127.0.0.1}); IPv4-mapped hosts given by the caller
    (a gateway listening on C{::}) are treated as the IPv4 address they map. On
    the real C{/proc}, the kernel is first asked for that one socket by its
    addresses (L{SockDiag<mcpgateway.runtime.peeruid.SockDiag>}, the door's own
    C{NETLINK_SOCK_DIAG} lookup): reading the tables makes it print every bucket
    of its TCP hash table, milliseconds a read; they are read only for the
    connections netlink could not tell about.

    A look by addresses runs a while after the connection was accepted
    (in a worker thread, after the request that asked for it): if the
    client closed it meanwhile and another process's connection took the
    same port to the gateway, the addresses name that other socket, and
    its holder would be named the client. So an inode the connection
    carries is never traded for one the addresses name: its holder is the
    answer, or none if it is gone. Only a connection whose inode is not
    known (0: the gateway's door could not ask the kernel) is looked up by
    its addresses.
 2. L{inodeHolder}: the first process whose C{/proc/PID/fd/*} links to
    C{socket:[INODE]}. Only processes owned by the gateway's uid are looked at (one
    C{stat} of C{/proc/PID} each); entries that vanish or cannot be read are skipped;
    pids given as hints are tried first, then the others, the newest process first
    (by the pid the kernel gave last, C{loadavg}'s last field): a client that has just
    started, which may not live long, is among the first looked at; the number of
    processes and of fd links read is capped, and hitting a cap gives C{None}. When
    several processes share the socket (inherited across C{fork}), a holder whose
    parent holds it too gives way to that parent, and so on up (L{_eldest}): a
    client's forked worker is not the client; otherwise the first one found wins.
 3. L{clientRoot}: the walk-up rule, below.

The walk-up rule. A client session belongs to the process that holds the socket, with
one exception: a Chromium/Electron child process. Electron apps (Claude Desktop,
VS Code, Cursor) do their networking in helper processes of the app's own binary,
marked by a C{--type=...} argument (C{--type=utility} for the network service and
VS Code's extension host, C{--type=renderer}, C{--type=zygote}, ...); the user means
the app, not its helper. So, starting at the holder, while the current process
 - has an argument starting with C{--type=} in its C{/proc/PID/cmdline}, and
 - its parent's C{/proc/PID/exe} link reads the same as its own, and
 - the parent is owned by our uid and is not pid 1 (or 0),
move to the parent; at most 16 steps.

Why not simply "walk up while the parent runs the same executable": that is wrong for
the most common shapes. A C{node} MCP client started from another node program (a
C{npx} wrapper, a test runner, an agent spawning agents) or a Python client started by
a Python program would be attributed to its launcher, which is not the session's
owner. Nothing on the command line of a plain C{node} or C{python} process says
"I am a helper of my parent", while Chromium's C{--type=} does, so only that marker
is followed. Claude Code is a single process that opens its sockets itself: step 2's
answer is already the right one for it.

Pure and synchronous (blocking file reads, no shared state, thread-safe): the gateway
calls L{findClientPids} in a worker thread (L{mcpgateway.ops.ownerscan}), for the
connections of the sessions whose client pid it looks for. Nothing here raises
on odd C{/proc} content; it answers C{None} (or, for L{clientRoot}, stops walking).
Every function reads below a C{procRoot} argument, so tests can use a fake tree.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Collection, Iterable, Iterator, MutableMapping, Sequence
from typing import TypeAlias

from mcpgateway.runtime import procfs
from mcpgateway.runtime.peeruid import ABSENT, UNTOLD, Named, PeerSocket, SockDiag

__all__ = [
    "HELPER_FLAGS",
    "MAX_FDS",
    "MAX_PROCS",
    "MAX_STEPS",
    "clientRoot",
    "findClientPid",
    "findClientPids",
    "inodeHolder",
    "inodeHolders",
    "ownerOfSocket",
    "socketInode",
    "socketInodes",
]

MAX_FDS = 200_000
"""Default cap on the fd links read while looking for a socket's holder."""
MAX_PROCS = 10_000
"""Default cap on the processes looked at while looking for a socket's holder."""
MAX_STEPS = 16
"""Most parents L{clientRoot} climbs."""
HELPER_FLAGS: tuple[str, ...] = ("--type=",)
"""Argument prefixes that mark a process as a helper of its parent (Chromium/Electron)."""

_ESTABLISHED = "01"
_IPAddress: TypeAlias = "ipaddress.IPv4Address | ipaddress.IPv6Address"
Ends: TypeAlias = "tuple[str, int, str, int]"
"""A loopback connection's ends as the gateway sees them: peer host, peer
port, local host, local port."""
Connection: TypeAlias = "tuple[str, int, str, int, int]"
"""A loopback connection: its L{Ends}, and the inode of the client's
socket as the gateway's door named it at accept (0: not known)."""


def findClientPid(
    peerHost: str,
    peerPort: int,
    localHost: str,
    localPort: int,
    procRoot: str = "/proc",
    uid: int | None = None,
    hints: Sequence[int] = (),
    maxFds: int = MAX_FDS,
    maxProcs: int = MAX_PROCS,
) -> int | None:
    """The pid of the client of one loopback connection, walked up by L{clientRoot}.

    Give the accepted connection's own addresses: C{transport.getPeer()} for the peer
    and C{transport.getHost()} for the local end (not the listening address C{0.0.0.0}).

    @param peerHost: the client's address, as the gateway sees it.
    @param peerPort: the client's port.
    @param localHost: the gateway's address on this connection.
    @param localPort: the gateway's port on this connection.
    @param procRoot: where C{/proc} is.
    @param uid: only processes of this user are considered; default C{os.getuid()}.
    @param hints: pids to look at first (for example, clients seen before).
    @param maxFds: most fd links read before giving up.
    @param maxProcs: most processes looked at before giving up.
    @return: the pid, or C{None} when it cannot be found.
    """
    [pid] = findClientPids(
        [(peerHost, peerPort, localHost, localPort, 0)], procRoot, uid, hints, maxFds, maxProcs
    )
    return pid


def findClientPids(
    connections: Sequence[Connection],
    procRoot: str = "/proc",
    uid: int | None = None,
    hints: Sequence[int] = (),
    maxFds: int = MAX_FDS,
    maxProcs: int = MAX_PROCS,
    known: MutableMapping[int, int] | None = None,
) -> list[int | None]:
    """L{findClientPid} of each of C{connections}, with one read of each
    C{net/tcp*} table and one walk of the processes' fds for all of them.

    Sessions are opened in bursts (a client starting its servers, a team's
    clients after a restart, a benchmark): a walk per connection costs the
    same scan of every process again, in a thread that holds the GIL most
    of the time, so the reactor thread waits behind it.

    @param connections: each one's ends and its client socket's inode as
        named at accept: the walk looks for that socket's holder, never
        for another socket of the same ends (0: the socket the ends name
        now, L{socketInodes}).
    @param known: the client pids found before, by socket inode, used
        instead of a walk and given the pids found now: a keep-alive
        connection opens session after session on one socket, and its
        inode names that socket only while it lives (a new connection on
        the same ports is another socket, another inode). Whoever keeps it
        forgets it now and then (a socket handed to another process).
    @return: the pids, in the order of C{connections} (C{None}: not found).
    """
    inodes = _inodesOf(connections, procRoot)
    remembered = {} if known is None else known
    wanted = {inode for inode in inodes if inode is not None and inode not in remembered}
    holders: dict[int, int] = {}
    if wanted:
        if uid is None:
            uid = _ownUid()
        if uid is not None:
            holders = inodeHolders(wanted, procRoot, uid, hints, maxFds, maxProcs)
    roots: dict[int, int] = {}
    found: list[int | None] = []
    for inode in inodes:
        pid = None if inode is None else remembered.get(inode)
        holder = None if inode is None or pid is not None else holders.get(inode)
        if holder is not None:
            if holder not in roots:
                roots[holder] = clientRoot(holder, procRoot, uid)
            pid = roots[holder]
            if known is not None and inode is not None:
                known[inode] = pid
        found.append(pid)
    return found


def _inodesOf(connections: Sequence[Connection], procRoot: str) -> list[int | None]:
    """The client socket's inode of each of C{connections}: the one it
    carries, else the one its ends name now (L{socketInodes}, asked only
    for those)."""
    unknown = [connection[:4] for connection in connections if connection[4] <= 0]
    named = iter(socketInodes(unknown, procRoot) if unknown else ())
    return [connection[4] if connection[4] > 0 else next(named) for connection in connections]


def ownerOfSocket(
    peerHost: str,
    peerPort: int,
    localHost: str,
    localPort: int,
    procRoot: str = "/proc",
    uid: int | None = None,
    hints: Sequence[int] = (),
    maxFds: int = MAX_FDS,
    maxProcs: int = MAX_PROCS,
) -> int | None:
    """The pid holding the client end of a connection, before any walking up.

    Parameters as for L{findClientPid}.
    """
    inode = socketInode(peerHost, peerPort, localHost, localPort, procRoot)
    if inode is None:
        return None
    if uid is None:
        uid = _ownUid()
        if uid is None:
            return None
    return inodeHolder(inode, procRoot, uid, hints, maxFds, maxProcs)


def socketInode(
    peerHost: str, peerPort: int, localHost: str, localPort: int, procRoot: str = "/proc"
) -> int | None:
    """The inode of the client's socket: the ESTABLISHED row of C{net/tcp} or
    C{net/tcp6} whose local endpoint is C{peerHost:peerPort} and whose remote endpoint
    is C{localHost:localPort}.

    @return: the inode, or C{None} (no such row, unusable addresses, no C{/proc}).
    """
    [inode] = socketInodes([(peerHost, peerPort, localHost, localPort)], procRoot)
    return inode


def socketInodes(connections: Sequence[Ends], procRoot: str = "/proc") -> list[int | None]:
    """L{socketInode} of each of C{connections}: asked of the kernel by
    address where it answers (L{SockDiag}, one netlink socket for them all;
    the real C{/proc} only: a hash lookup, where a read of C{net/tcp} prints
    the whole table, milliseconds each), else read from the tables, each at
    most once."""
    if procRoot != "/proc":
        return _tableInodes(connections, procRoot)
    diag = SockDiag()
    try:
        asked = [diag.tcpPeer(*connection) for connection in connections]
    finally:
        diag.close()
    rest = [c for c, named in zip(connections, asked, strict=True) if named is UNTOLD]
    read = iter(_tableInodes(rest, procRoot) if rest else ())
    return [next(read) if named is UNTOLD else _inodeOf(named) for named in asked]


def _inodeOf(named: Named) -> int | None:
    """The inode of the socket a lookup named (C{None}: no process holds one)."""
    if isinstance(named, PeerSocket):
        return named.inode or None
    assert named is ABSENT
    return None


def _tableInodes(connections: Sequence[Ends], procRoot: str) -> list[int | None]:
    """L{socketInode} of each of C{connections}, read from C{net/tcp} and
    C{net/tcp6}, each table read at most once."""
    rows: list[list[tuple[str, str, str]]] = []
    for peerHost, peerPort, localHost, localPort in connections:
        peer = _address(peerHost, peerPort)
        local = _address(localHost, localPort)
        keys: list[tuple[str, str, str]] = []
        if peer is not None and local is not None and peer.version == local.version:
            if isinstance(peer, ipaddress.IPv4Address):
                mapped = b"\0" * 10 + b"\xff\xff"
                pairs = [("tcp", peer.packed, local.packed)]
                pairs.append(("tcp6", mapped + peer.packed, mapped + local.packed))
            else:
                pairs = [("tcp6", peer.packed, local.packed)]
            for name, peerPacked, localPacked in pairs:
                keys.append(
                    (
                        name,
                        f"{_hexWords(peerPacked)}:{peerPort:04X}",
                        f"{_hexWords(localPacked)}:{localPort:04X}",
                    )
                )
        rows.append(keys)
    wanted: dict[str, set[tuple[str, str]]] = {}
    for keys in rows:
        for name, clientEnd, gatewayEnd in keys:
            wanted.setdefault(name, set()).add((clientEnd, gatewayEnd))
    tables = {
        name: _established(os.path.join(procRoot, "net", name), pairs)
        for name, pairs in wanted.items()
    }
    found: list[int | None] = []
    for keys in rows:
        inode = None
        for name, clientEnd, gatewayEnd in keys:
            inode = tables[name].get((clientEnd, gatewayEnd))
            if inode is not None:
                break
        found.append(inode)
    return found


def inodeHolder(
    inode: int,
    procRoot: str = "/proc",
    uid: int | None = None,
    hints: Sequence[int] = (),
    maxFds: int = MAX_FDS,
    maxProcs: int = MAX_PROCS,
) -> int | None:
    """The first process of user C{uid} with an fd on socket C{inode}.

    Hints first, then every C{procRoot/[0-9]*}, the newest process first; a process
    owned by another user is skipped after one C{stat}; unreadable or vanished
    entries are skipped; a holder whose parent holds the socket too gives way to it
    (L{inodeHolders}).

    @return: the pid, or C{None} when not found within C{maxProcs} processes and
        C{maxFds} fd links.
    """
    if uid is None:
        uid = _ownUid()
        if uid is None:
            return None
    return inodeHolders({inode}, procRoot, uid, hints, maxFds, maxProcs).get(inode)


def inodeHolders(
    inodes: set[int],
    procRoot: str,
    uid: int,
    hints: Sequence[int] = (),
    maxFds: int = MAX_FDS,
    maxProcs: int = MAX_PROCS,
) -> dict[int, int]:
    """For each of C{inodes}, the process of user C{uid} holding that
    socket, in one walk (as L{inodeHolder}), which stops once every one is
    found: the hinted pids first, then every other, the newest process
    first (L{procfs.newestFirst}).

    A client that has just started, where a new connection most often
    comes from, is so among the first processes looked at: the walk is
    shortest for the client that may live least long. On a loaded machine
    the walk runs a while after the connection was made, and one through
    every older process first can get to a short-lived client after it
    has exited. A holder whose parent holds the same socket gives way to
    that parent (L{_eldest}).

    @return: inode -> pid, for those found within C{maxProcs} processes and
        C{maxFds} fd links (past a cap, what was found before it).
    """
    targets = {f"socket:[{inode}]": inode for inode in inodes}
    holders: dict[int, int] = {}
    budget = [maxFds]
    procs = 0
    for pid in _candidates(procRoot, hints):
        procs += 1
        if procs > maxProcs or budget[0] <= 0:
            break
        if _owner(os.path.join(procRoot, str(pid))) != uid:
            continue
        for link in _links(procRoot, pid, budget, targets):
            holders[targets.pop(link)] = pid
        if not targets:
            break
    return _eldest(holders, procRoot, uid, budget)


def _links(procRoot: str, pid: int, budget: list[int], wanted: Collection[str]) -> list[str]:
    """The links of C{pid}'s fds that are among C{wanted}, read until every
    one is seen or C{budget[0]} fd links in all are read (each read is
    counted off it); none when the fds cannot be read."""
    found: list[str] = []
    try:
        with os.scandir(os.path.join(procRoot, str(pid), "fd")) as entries:
            for entry in entries:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
                try:
                    link = os.readlink(entry.path)
                except OSError:
                    continue
                if link in wanted and link not in found:
                    found.append(link)
                    if len(found) == len(wanted):
                        break
    except OSError:
        pass
    return found


def _eldest(holders: dict[int, int], procRoot: str, uid: int, budget: list[int]) -> dict[int, int]:
    """Each of C{holders} (inode -> pid), or its parent if that holds the
    same socket too, and so on up (at most L{MAX_STEPS}; never pid 1, nor a
    process of another user than C{uid}).

    A process forked by the client (a worker, a helper that did not close
    what it inherited) holds the client's sockets too, and the walk, newest
    first, finds it before the client; the client is what the user means,
    and it outlives its helpers. Each parent's fds are read once, for every
    holder under it (the fd links read are counted off C{budget})."""
    sockets: dict[int, list[str]] = {}
    eldest: dict[int, int] = {}
    for inode, pid in holders.items():
        link = f"socket:[{inode}]"
        for _ in range(MAX_STEPS):
            parent = _parentPid(os.path.join(procRoot, str(pid)))
            if parent is None or parent <= 1 or parent == pid:
                break
            if parent not in sockets:
                owned = _owner(os.path.join(procRoot, str(parent))) == uid
                wanted = {f"socket:[{i}]" for i in holders}
                sockets[parent] = _links(procRoot, parent, budget, wanted) if owned else []
            if link not in sockets[parent]:
                break
            pid = parent
        eldest[inode] = pid
    return eldest


def clientRoot(
    pid: int,
    procRoot: str = "/proc",
    uid: int | None = None,
    helperFlags: Sequence[str] = HELPER_FLAGS,
) -> int:
    """The process a user means by the client that C{pid} belongs to.

    Walks up from C{pid} while it is a helper of its parent (an argument starting with
    one of C{helperFlags}) running the same executable; see the module docstring.

    @param pid: the socket's holder.
    @param procRoot: where C{/proc} is.
    @param uid: parents of another user are not entered; default C{os.getuid()}.
    @param helperFlags: argument prefixes that mark a helper process.
    @return: C{pid} or one of its ancestors; never raises.
    """
    if uid is None:
        uid = _ownUid()
        if uid is None:
            return pid
    current = pid
    for _ in range(MAX_STEPS):
        base = os.path.join(procRoot, str(current))
        if not _isHelper(base, helperFlags):
            break
        parent = _parentPid(base)
        if parent is None or parent <= 1:
            break
        parentBase = os.path.join(procRoot, str(parent))
        if _owner(parentBase) != uid:
            break
        exe = _exe(base)
        if exe is None or exe != _exe(parentBase):
            break
        current = parent
    return current


def _ownUid() -> int | None:
    getuid = getattr(os, "getuid", None)
    return None if getuid is None else int(getuid())


def _address(host: str, port: int) -> _IPAddress | None:
    """C{host} as an address (IPv4-mapped IPv6 as IPv4, no scope), or C{None}."""
    if not isinstance(port, int) or not 0 < port < 65536:
        return None
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except (ValueError, AttributeError):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _hexWords(packed: bytes) -> str:
    """An address as the kernel prints it: each 32-bit word as a native-endian C{%08X}
    (on x86, C{127.0.0.1} is C{0100007F})."""
    return "".join(
        f"{int.from_bytes(packed[i : i + 4], sys.byteorder):08X}" for i in range(0, len(packed), 4)
    )


def _established(path: str, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The inodes of the ESTABLISHED rows of a C{net/tcp*} file among
    C{wanted}, (local, remote) endpoints as the kernel prints them
    (C{%08X:%04X}, one space apart): (local, remote) -> inode; empty when
    the file cannot be read.

    Each row is found with one search of the file's text: on a busy machine
    the table holds thousands of rows (sockets in C{TIME_WAIT} among them),
    which splitting line by line would cost milliseconds per look-up."""
    try:
        with open(path, encoding="ascii", errors="replace") as table:
            text = table.read().upper()
    except (OSError, ValueError):
        return {}
    rows: dict[tuple[str, str], int] = {}
    for local, remote in wanted:
        at = text.find(f" {local} {remote} {_ESTABLISHED} ")
        if at < 0:
            continue
        end = text.find("\n", at)
        fields = text[at : None if end < 0 else end].split()
        try:
            inode = int(fields[8])
        except (IndexError, ValueError):
            continue
        if inode > 0:
            rows[(local, remote)] = inode
    return rows


def _candidates(procRoot: str, hints: Sequence[int]) -> Iterator[int]:
    """The hinted pids, then every other pid directory, the newest process
    first (L{procfs.newestFirst}), each once."""
    seen: set[int] = set()
    for hint in hints:
        if isinstance(hint, int) and hint > 0 and hint not in seen:
            seen.add(hint)
            yield hint
    for pid in procfs.newestFirst(procfs.pids(procRoot), procfs.lastPid(procRoot)):
        if pid not in seen:
            seen.add(pid)
            yield pid


def _owner(base: str) -> int | None:
    return procfs.owner(os.path.basename(base), os.path.dirname(base))


def _readBytes(path: str) -> bytes | None:
    return procfs.readBytes(path)


def _parentPid(base: str) -> int | None:
    """Field 4 of C{stat}."""
    return procfs.parentPid(os.path.basename(base), os.path.dirname(base))


def _isHelper(base: str, helperFlags: Sequence[str]) -> bool:
    """Whether the command line (NUL-separated, or one string after a Chromium
    C{setproctitle}) has an argument after the first starting with a helper flag."""
    data = _readBytes(os.path.join(base, "cmdline"))
    if not data:
        return False
    words = data.replace(b"\0", b" ").split()[1:]
    flags = [flag.encode("utf-8", "surrogateescape") for flag in helperFlags]
    return any(word.startswith(flag) for word in words for flag in flags if flag)


def _exe(base: str) -> str | None:
    return procfs.exe(os.path.basename(base), os.path.dirname(base))
