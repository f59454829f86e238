# -*- test-case-name: tests.ops.test_sockdiag -*-
"""The inode of one TCP socket, asked of the kernel by its addresses (Linux
C{NETLINK_SOCK_DIAG}): L{socketInode}.

Reading C{/proc/net/tcp} to find one socket makes the kernel print every
bucket of its TCP hash table: milliseconds per read on a machine with a
large table, whatever few sockets it holds, for every session whose client
sent no pid. A C{SOCK_DIAG_BY_FAMILY} request for the exact socket is one
hash lookup. Where netlink is not there or refuses (another OS, a
sandbox), L{socketInode} says it could not tell (L{UNKNOWN}) and the
caller reads the tables (L{mcpgateway.ops.peerpid}).

Blocking (a netlink round trip, no waiting on anything but the kernel):
called in the owner lookups' worker thread.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Final

UNKNOWN: Final = -1
"""L{socketInode}'s answer when netlink could not be asked."""

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_TCP_ESTABLISHED = 1
_NO_COOKIE = 0xFFFFFFFF
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_REQUEST = struct.Struct("=BBBBI")  # family, protocol, extensions, pad, states
_SOCKID = struct.Struct(">HH16s16s")  # ports and addresses, network order
_TAIL = struct.Struct("=III")  # interface, cookie (two words)
_MESSAGE = struct.Struct("=BBBB")  # inet_diag_msg: family, state, timer, retrans
_COUNTERS = struct.Struct("=IIIII")  # expires, rqueue, wqueue, uid, inode
_ERRNO = struct.Struct("=i")


def _request(family: int, src: bytes, sport: int, dst: bytes, dport: int) -> bytes:
    body = (
        _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << _TCP_ESTABLISHED)
        + _SOCKID.pack(sport, dport, src.ljust(16, b"\0"), dst.ljust(16, b"\0"))
        + _TAIL.pack(0, _NO_COOKIE, _NO_COOKIE)
    )
    return _HEADER.pack(_HEADER.size + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0) + body


def parseReply(reply: bytes, src: bytes, sport: int, dst: bytes, dport: int) -> int | None:
    """The inode of the socket a C{SOCK_DIAG_BY_FAMILY} C{reply} describes,
    when it is the ESTABLISHED socket from C{src:sport} to C{dst:dport};
    C{None}: there is no such socket; L{UNKNOWN}: the reply says nothing
    usable (an error other than "no such socket", a short reply)."""
    if len(reply) < _HEADER.size:
        return UNKNOWN
    _, kind, _, _, _ = _HEADER.unpack_from(reply)
    if kind == _NLMSG_ERROR:
        if len(reply) < _HEADER.size + _ERRNO.size:
            return UNKNOWN
        (error,) = _ERRNO.unpack_from(reply, _HEADER.size)
        return None if -error == 2 else UNKNOWN  # ENOENT: no such socket
    if kind != _SOCK_DIAG_BY_FAMILY:
        return UNKNOWN
    at = _HEADER.size
    if len(reply) < at + _MESSAGE.size + _SOCKID.size + _TAIL.size + _COUNTERS.size:
        return UNKNOWN
    _, state, _, _ = _MESSAGE.unpack_from(reply, at)
    gotSport, gotDport, gotSrc, gotDst = _SOCKID.unpack_from(reply, at + _MESSAGE.size)
    if (gotSport, gotDport, gotSrc, gotDst) != (
        sport,
        dport,
        src.ljust(16, b"\0"),
        dst.ljust(16, b"\0"),
    ):
        return UNKNOWN
    if state != _TCP_ESTABLISHED:
        return None
    counters = at + _MESSAGE.size + _SOCKID.size + _TAIL.size
    inode: int = _COUNTERS.unpack_from(reply, counters)[4]
    return inode or None


def socketInode(clientHost: str, clientPort: int, serverHost: str, serverPort: int) -> int | None:
    """The inode of the ESTABLISHED TCP socket whose own end is
    C{clientHost:clientPort} and whose other end is C{serverHost:serverPort}
    (an IPv4 pair is also looked for as IPv4-mapped IPv6, a dual-stack
    client socket); C{None}: no such socket; L{UNKNOWN}: netlink could not
    tell (read C{/proc/net/tcp*} instead)."""
    client, server = _packed(clientHost), _packed(serverHost)
    if client is None or server is None or len(client) != len(server):
        return UNKNOWN
    asks: list[tuple[int, bytes, bytes]]
    if len(client) == 4:
        mapped = b"\0" * 10 + b"\xff\xff"
        asks = [
            (socket.AF_INET, client, server),
            (socket.AF_INET6, mapped + client, mapped + server),
        ]
    else:
        asks = [(socket.AF_INET6, client, server)]
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as sock:
            sock.settimeout(1.0)
            for family, src, dst in asks:
                sock.send(_request(family, src, clientPort, dst, serverPort))
                found = parseReply(sock.recv(8192), src, clientPort, dst, serverPort)
                if found is not None:
                    return found
    except (OSError, AttributeError, ValueError):  # no AF_NETLINK, refused, timed out
        return UNKNOWN
    return None


def _packed(host: str) -> bytes | None:
    """C{host}'s address as 4 or 16 bytes (C{inet_pton}: the C{ipaddress}
    module's parser costs more than the kernel's answer); C{None}: not an
    address."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
    return None


def available() -> bool:
    """Whether this is Linux, where L{socketInode} may answer."""
    return hasattr(socket, "AF_NETLINK") and os.path.isdir("/proc/self")
