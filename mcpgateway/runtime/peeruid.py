# -*- test-case-name: tests.runtime.test_peeruid -*-
"""The account at the other end of a connection from this machine, asked of
the kernel once, when the connection is accepted.

A TCP client on this machine holds its own socket, owned by the uid that
made it. One C{NETLINK_SOCK_DIAG} C{SOCK_DIAG_BY_FAMILY} request for that
exact socket (its ports and addresses, every state, no dump) is a hash
lookup in the kernel, answered with the socket's C{idiag_uid} and
C{idiag_inode} before the C{send} returns (L{SockDiag}: tens of
microseconds). Where netlink cannot be asked (a seccomp filter, a kernel
without C{inet_diag}) the tables C{/proc/net/tcp} and C{tcp6} say the same
(L{tableLookup}); reading one makes the kernel print every bucket of its
TCP hash, so a caller runs it off the reactor thread. A UNIX socket's peer
is told by C{SO_PEERCRED} (L{unixPeer}), with its pid. Whether this
process can name a peer at all is one lookup of a connection to itself
(L{namesPeers}), at start.

Only a socket a process holds names an account. The kernel reports uid 0
and no inode for a socket in C{TIME_WAIT} (and no inode for one its process
has closed), so such an answer is L{ABSENT}, never root. A reply must
describe exactly the socket asked for: the kernel's lookup falls back to a
listening socket on the client's port, which never answers for a client.

Standard library only. The parsers (L{parseDiagReply}, L{tableRow}) read
any bytes and any text without raising.
"""

from __future__ import annotations

import contextlib
import enum
import os
import socket
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, TypeAlias


class Unnamed(enum.Enum):
    """Why a connection's peer has no account."""

    ABSENT = "absent"
    """The kernel was asked and no process of this machine (of this network
    namespace) holds the client's socket: it closed already, or the
    connection comes from elsewhere."""
    UNTOLD = "untold"
    """The kernel could not be asked, or its answer could not be read."""


ABSENT: Final = Unnamed.ABSENT
UNTOLD: Final = Unnamed.UNTOLD


@dataclass(frozen=True, slots=True)
class PeerSocket:
    """The client's socket as the kernel describes it."""

    uid: int
    """The account that owns it."""
    inode: int = 0
    """Its inode (C{socket:[INODE]} among its holder's fds); 0 where not told."""
    pid: int | None = None
    """The process that connected, where the kernel tells it (a UNIX
    socket's C{SO_PEERCRED}); a TCP socket names no process."""


Named: TypeAlias = PeerSocket | Unnamed
"""What a lookup answers."""

NETLINK_SOCK_DIAG: Final = 4
SOCK_DIAG_BY_FAMILY: Final = 20
NLM_F_REQUEST: Final = 1
NLMSG_ERROR: Final = 2
ALL_STATES: Final = 0xFFFFFFFF
"""C{idiag_states}: a socket in any state (a client may have sent its FIN)."""
NO_COOKIE: Final = 0xFFFFFFFF
"""C{INET_DIAG_NOCOOKIE}, both words: look the socket up by address."""
ENOENT: Final = 2
TCP_TIME_WAIT: Final = 6
TCP_LISTEN: Final = 10
TCP_NEW_SYN_RECV: Final = 12
UNHELD_STATES: Final = frozenset({TCP_TIME_WAIT, TCP_LISTEN, TCP_NEW_SYN_RECV})
"""States of a socket no client process holds (its uid is not the client's)."""
MAPPED: Final = b"\0" * 10 + b"\xff\xff"
"""The prefix of an IPv4-mapped IPv6 address."""

HEADER: Final = struct.Struct("=IHHII")
"""C{nlmsghdr}: length, type, flags, sequence, port id."""
REQUEST: Final = struct.Struct("=BBBBI")
"""C{inet_diag_req_v2} before its id: family, protocol, extensions, pad, states."""
SOCKID: Final = struct.Struct(">HH16s16s")
"""C{inet_diag_sockid}'s ports and addresses (network order)."""
SOCKID_TAIL: Final = struct.Struct("=III")
"""C{inet_diag_sockid}'s interface and two cookie words."""
MESSAGE: Final = struct.Struct("=BBBB")
"""C{inet_diag_msg} before its id: family, state, timer, retransmits."""
COUNTERS: Final = struct.Struct("=IIIII")
"""C{inet_diag_msg} after its id: expires, read and write queues, uid, inode."""
DIAG_MESSAGE_SIZE: Final = MESSAGE.size + SOCKID.size + SOCKID_TAIL.size + COUNTERS.size
ERRNO: Final = struct.Struct("=i")
UCRED: Final = struct.Struct("=iII")
"""C{struct ucred}: pid, uid, gid."""
NO_UID: Final = 0xFFFFFFFF


def diagRequest(family: int, src: bytes, sport: int, dst: bytes, dport: int, seq: int) -> bytes:
    """The C{SOCK_DIAG_BY_FAMILY} request for the one TCP socket whose own
    end is C{src:sport} and whose other end is C{dst:dport} (addresses of 4
    or 16 bytes), with sequence number C{seq}."""
    body = (
        REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, ALL_STATES)
        + SOCKID.pack(sport, dport, src.ljust(16, b"\0"), dst.ljust(16, b"\0"))
        + SOCKID_TAIL.pack(0, NO_COOKIE, NO_COOKIE)
    )
    return HEADER.pack(HEADER.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, seq, 0) + body


def parseDiagReply(
    data: bytes, seq: int, src: bytes, sport: int, dst: bytes, dport: int
) -> Named | None:
    """What the netlink messages of C{data} say of request C{seq}, which
    asked for the socket C{src:sport} to C{dst:dport}: the socket, L{ABSENT}
    (no such socket a process holds), L{UNTOLD} (an error other than "no
    such socket", a message cut short); C{None} when no message of C{data}
    answers C{seq} (another request's, left over)."""
    at = 0
    while at + HEADER.size <= len(data):
        length, kind, _, got, _ = HEADER.unpack_from(data, at)
        if length < HEADER.size or at + length > len(data):
            return UNTOLD
        if got == seq:
            body = data[at + HEADER.size : at + length]
            return _diagMessage(kind, body, src, sport, dst, dport)
        at += (length + 3) & ~3
    return None


def _diagMessage(kind: int, body: bytes, src: bytes, sport: int, dst: bytes, dport: int) -> Named:
    """One reply message: an error, or an C{inet_diag_msg}."""
    if kind == NLMSG_ERROR:
        if len(body) < ERRNO.size:
            return UNTOLD
        (error,) = ERRNO.unpack_from(body)
        return ABSENT if error == -ENOENT else UNTOLD
    if kind != SOCK_DIAG_BY_FAMILY or len(body) < DIAG_MESSAGE_SIZE:
        return UNTOLD
    family, state, _, _ = MESSAGE.unpack_from(body)
    width = {socket.AF_INET: 4, socket.AF_INET6: 16}.get(family)
    if width is None:
        return UNTOLD
    asked = (sport, dport, _form(src, width), _form(dst, width))
    if None in asked or SOCKID.unpack_from(body, MESSAGE.size) != asked:
        return ABSENT  # another socket (the listener the lookup fell back to)
    at = MESSAGE.size + SOCKID.size + SOCKID_TAIL.size
    _, _, _, uid, inode = COUNTERS.unpack_from(body, at)
    if state in UNHELD_STATES or inode == 0:
        return ABSENT
    return PeerSocket(uid, inode)


def _form(address: bytes, width: int) -> bytes | None:
    """C{address} (4 or 16 bytes) as a reply of a socket of that width
    spells it (16 bytes, an IPv4 address zero-padded, or IPv4-mapped in an
    IPv6 socket); C{None}: it cannot be."""
    if len(address) == width:
        return address.ljust(16, b"\0")
    if width == 16 and len(address) == 4:
        return MAPPED + address
    if width == 4 and len(address) == 16 and address.startswith(MAPPED):
        return address[12:].ljust(16, b"\0")
    return None


Asks: TypeAlias = list[tuple[int, bytes, bytes]]


def asks(clientHost: str, serverHost: str) -> Asks | None:
    """The (family, client address, server address) to look the client's
    socket up by: an IPv4 pair (or an IPv4-mapped one, as a dual-stack
    listener reports it) as IPv4, then as IPv4-mapped IPv6 (a dual-stack
    client socket); an IPv6 pair as itself. C{None}: not two addresses of
    one family."""
    client, server = _packed(clientHost), _packed(serverHost)
    if client is None or server is None:
        return None
    if client.startswith(MAPPED) and server.startswith(MAPPED):
        client, server = client[12:], server[12:]
    if len(client) != len(server):
        return None
    if len(client) == 4:
        return [
            (socket.AF_INET, client, server),
            (socket.AF_INET6, MAPPED + client, MAPPED + server),
        ]
    return [(socket.AF_INET6, client, server)]


def _packed(host: str) -> bytes | None:
    """C{host} as 4 or 16 bytes (its zone left out), or C{None}."""
    host = host.split("%", 1)[0]
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
    return None


NetlinkOpener = Callable[[], socket.socket]


def openNetlink() -> socket.socket:
    """A C{NETLINK_SOCK_DIAG} socket (C{OSError} where there is none)."""
    family = getattr(socket, "AF_NETLINK", None)
    if family is None:
        raise OSError("no AF_NETLINK here")
    return socket.socket(family, socket.SOCK_RAW, NETLINK_SOCK_DIAG)


class SockDiag:
    """One C{NETLINK_SOCK_DIAG} socket of this process, opened at the first
    question (after twistd has forked) and kept: a question is one C{send}
    and one C{recv}, which finds the kernel's answer already queued (the
    kernel answers inside the C{send}), so nothing waits. A socket that
    cannot be opened is not tried again: every answer is then L{UNTOLD}."""

    def __init__(self, opener: NetlinkOpener = openNetlink) -> None:
        self._opener = opener
        self._socket: socket.socket | None = None
        self._seq = 0
        self.broken = False
        """Netlink could not be opened here."""

    def tcpPeer(self, clientHost: str, clientPort: int, serverHost: str, serverPort: int) -> Named:
        """The socket whose own end is C{clientHost:clientPort} and whose
        other end is C{serverHost:serverPort} (the gateway's end)."""
        wanted = asks(clientHost, serverHost)
        if wanted is None or not (0 < clientPort < 65536 and 0 < serverPort < 65536):
            return UNTOLD
        for family, client, server in wanted:
            found = self._ask(family, client, clientPort, server, serverPort)
            if found is not ABSENT:
                return found
        return ABSENT

    def _ask(self, family: int, src: bytes, sport: int, dst: bytes, dport: int) -> Named:
        sock = self._open()
        if sock is None:
            return UNTOLD
        self._seq = self._seq % 0x7FFFFFFF + 1
        seq = self._seq
        try:
            sock.send(diagRequest(family, src, sport, dst, dport, seq))
            for _ in range(4):  # past answers a failed question left queued
                found = parseDiagReply(
                    sock.recv(8192, socket.MSG_DONTWAIT), seq, src, sport, dst, dport
                )
                if found is not None:
                    return found
        except BlockingIOError:
            return UNTOLD
        except OSError:
            self.close()  # opened again at the next question
            return UNTOLD
        return UNTOLD

    def _open(self) -> socket.socket | None:
        if self._socket is None and not self.broken:
            try:
                self._socket = self._opener()
            except OSError:
                self.broken = True
        return self._socket

    def close(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()


def hexEndpoint(packed: bytes, port: int) -> str:
    """An address and port as C{/proc/net/tcp*} prints them: each 32-bit
    word of the address as a native-endian C{%08X}, then C{:%04X}."""
    words = (
        f"{int.from_bytes(packed[i : i + 4], sys.byteorder):08X}" for i in range(0, len(packed), 4)
    )
    return "".join(words) + f":{port:04X}"


def tableRow(text: str, local: str, remote: str) -> Named | None:
    """The socket of the row of a C{/proc/net/tcp*} table C{text} whose
    local end is C{local} and whose remote end is C{remote} (as
    L{hexEndpoint} spells them); L{ABSENT} for a row no process holds (in
    C{TIME_WAIT}, no inode), L{UNTOLD} for a row that cannot be read;
    C{None}: no such row. One search of the text (a busy machine's table
    holds thousands of rows)."""
    at = text.find(f" {local} {remote} ")
    if at < 0 or not local or not remote:
        return None
    end = text.find("\n", at)
    fields = text[at : None if end < 0 else end].split()
    try:
        state, uid, inode = int(fields[2], 16), int(fields[6]), int(fields[8])
    except (IndexError, ValueError):
        return UNTOLD
    if state in UNHELD_STATES or inode <= 0:
        return ABSENT
    if not 0 <= uid < NO_UID:
        return UNTOLD
    return PeerSocket(uid, inode)


def tableLookup(
    clientHost: str, clientPort: int, serverHost: str, serverPort: int, procRoot: str = "/proc"
) -> Named:
    """L{SockDiag.tcpPeer}'s answer read from C{procRoot/net/tcp} and
    C{tcp6}. Blocking (the kernel prints its whole TCP hash): run it off
    the reactor thread."""
    wanted = asks(clientHost, serverHost)
    if wanted is None or not (0 < clientPort < 65536 and 0 < serverPort < 65536):
        return UNTOLD
    read = False
    for family, client, server in wanted:
        name = "tcp" if family == socket.AF_INET else "tcp6"
        try:
            with open(os.path.join(procRoot, "net", name), encoding="ascii", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        read = True
        found = tableRow(text, hexEndpoint(client, clientPort), hexEndpoint(server, serverPort))
        if found is not None:
            return found
    return ABSENT if read else UNTOLD


def tablesReadable(procRoot: str = "/proc") -> bool:
    """Whether C{procRoot/net/tcp} is there to read."""
    return os.access(os.path.join(procRoot, "net", "tcp"), os.R_OK)


def unixPeer(sock: object) -> Named:
    """The account (and pid) of the process that connected to UNIX socket
    C{sock}, from C{SO_PEERCRED} (Linux); L{UNTOLD} where it cannot be asked."""
    option = getattr(socket, "SO_PEERCRED", None)
    getsockopt = getattr(sock, "getsockopt", None)
    if option is None or getsockopt is None:
        return UNTOLD
    try:
        data = getsockopt(socket.SOL_SOCKET, option, UCRED.size)
        pid, uid, _ = UCRED.unpack(data)
    except (OSError, TypeError, struct.error):
        return UNTOLD
    if uid == NO_UID:
        return ABSENT
    return PeerSocket(uid, 0, pid if pid > 0 else None)


Endpoints: TypeAlias = tuple[tuple[str, int], tuple[str, int]]
"""A connection's client end and server end, (host, port) each."""


@contextlib.contextmanager
def loopbackConnection() -> Iterator[Endpoints]:
    """A TCP connection of this process to itself on C{127.0.0.1}, open
    while the block runs (C{OSError} where there is none to make)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()[:2], timeout=2.0) as client:
            accepted, _ = listener.accept()
            with accepted:
                clientHost, clientPort = client.getsockname()[:2]
                serverHost, serverPort = accepted.getsockname()[:2]
                yield (clientHost, clientPort), (serverHost, serverPort)


def namesPeers(
    connect: Callable[[], contextlib.AbstractContextManager[Endpoints]] = loopbackConnection,
    diag: SockDiag | None = None,
    procRoot: str = "/proc",
) -> bool:
    """Whether this process can name the account of a TCP peer on this
    machine, as the door does (netlink, else the tables): the client end
    of a C{connect()}ion to itself must come out as this process's own
    account. Blocking (a table read where netlink is closed): at start."""
    owned = diag is None
    asker = SockDiag() if diag is None else diag
    try:
        with connect() as (client, server):
            named = asker.tcpPeer(client[0], client[1], server[0], server[1])
            if named is UNTOLD and tablesReadable(procRoot):
                named = tableLookup(client[0], client[1], server[0], server[1], procRoot)
    except OSError:
        return False
    finally:
        if owned:
            asker.close()
    return isinstance(named, PeerSocket) and named.uid == os.geteuid()
