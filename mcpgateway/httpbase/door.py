# -*- test-case-name: tests.httpbase.test_door,tests.httpbase.test_door_token -*-
"""The front door of a gateway that authenticates no one (a person's own
machine): only its owner's connections are served.

Without tokens, every account of the machine can reach a loopback port,
and whatever reaches the gateway can call every server (a filesystem
server reads the owner's files) and add a server through the management
API (a command run as the gateway's user). So when a connection is
accepted the site's L{ConnectionGuard<mcpgateway.httpbase.bounds.ConnectionGuard>}
asks the L{Door} which account holds its other end: the kernel names the
uid owning the client's socket (L{mcpgateway.runtime.peeruid}), once per
connection; what the connection then sends costs nothing more. The
owner is the gateway's effective uid; root's connections count as the
owner's only with C{--owner-accepts-root} (or when the gateway runs as
root). Any other account, and a peer the kernel names no process for, get
403 on every route and the connection closes.

A peer the kernel cannot be asked about (macOS; a Linux whose netlink and
C{/proc/net/tcp} are both closed) is neither refused at accept nor let in
open: the door defers to each of its requests, which must carry the owner
token (L{mcpgateway.runtime.ownertoken}, compared in constant time) or get
403 naming the header and where the token is (L{Door.requestRefusal}). A
door given no token refuses such a connection at accept. Where the peer
is named, the account decides alone: no token lets another account in, and
the owner's needs none.

Each refusal names the account (and its user name) in the log, at most a
line a minute per account (or per reason) with the count of those left out,
so a flood of connections cannot flood the log; and is counted by reason
(L{Door.refusals}: C{/health}'s C{door} and C{/metrics}).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger, LogLevel
from twisted.web.iweb import IRequest

from mcpgateway.runtime import logs
from mcpgateway.runtime.ownertoken import HEADER, HEADER_KEY, tokenMatches
from mcpgateway.runtime.peeruid import (
    ABSENT,
    UNTOLD,
    Named,
    PeerSocket,
    SockDiag,
    tableLookup,
    tablesReadable,
    unixPeer,
)
from mcpgateway.runtime.threads import RunInThread

if TYPE_CHECKING:
    from twisted.web.http import HTTPChannel

LOG_SECONDS = 60.0
"""Seconds between two log lines of one account's (or reason's) refusals."""
LOGGED_MOST = 1024
"""Accounts (and reasons) whose last line the door keeps; all are forgotten beyond."""

ACCOUNT = "account"
"""A refusal's reason: the kernel named another account (root's included)."""
ABSENT_PEER = "absent"
"""The kernel named no process of this machine holding the client's socket."""
UNTOLD_PEER = "untold"
"""The kernel could not be asked, and the door has no owner token to ask for."""
NO_TOKEN = "token-missing"
"""A request of a connection whose account is not named carried no owner token."""
WRONG_TOKEN = "token-wrong"
"""It carried a token that is not the owner's."""
REASONS = (ACCOUNT, ABSENT_PEER, UNTOLD_PEER, NO_TOKEN, WRONG_TOKEN)
"""Every reason a refusal is counted under, in the order reports list them."""


class PeerNamer(Protocol):
    """How a L{Door} names a connection's peer; the unit tests hand in a
    fake, so that none of them asks the kernel."""

    def tcp(self, client: tuple[str, int], server: tuple[str, int]) -> Named | Deferred[Named]:
        """The client socket of a TCP connection from C{client} to
        C{server} (the gateway's end): at once (a bounded kernel query), or
        a Deferred where only a slower way can tell (off the reactor)."""

    def unix(self, transport: Any) -> Named:
        """The peer of a UNIX socket connection."""

    def holders(
        self, uid: int, inodes: frozenset[int], hints: Sequence[int]
    ) -> Deferred[dict[int, int]]:
        """The processes of account C{uid} holding the sockets C{inodes}
        (inode -> pid; those not found left out), off the reactor;
        C{hints}: pids to look at first."""


HolderWalk = Callable[[set[int], str, int, tuple[int, ...]], dict[int, int]]
"""A walk of C{/proc/PID/fd} for the holders of sockets: C{(inodes,
procRoot, uid, hints)} -> inode -> pid (L{mcpgateway.ops.peerpid.inodeHolders},
which start-up hands the L{KernelNamer})."""


class KernelNamer:
    """The kernel's answers: C{NETLINK_SOCK_DIAG} on the reactor thread (one
    exact lookup, tens of microseconds); where netlink cannot answer,
    C{/proc/net/tcp*} in a worker thread; C{SO_PEERCRED} for a UNIX socket;
    C{walkHolders} in a worker thread for the holders of sockets."""

    def __init__(
        self,
        runInThread: RunInThread,
        walkHolders: HolderWalk,
        procRoot: str = "/proc",
        diag: SockDiag | None = None,
    ) -> None:
        self._runInThread = runInThread
        self._walkHolders = walkHolders
        self._procRoot = procRoot
        self._diag = SockDiag() if diag is None else diag
        self._tables: bool | None = None

    def tcp(self, client: tuple[str, int], server: tuple[str, int]) -> Named | Deferred[Named]:
        named = self._diag.tcpPeer(client[0], client[1], server[0], server[1])
        if named is not UNTOLD:
            return named
        if self._tables is None:
            self._tables = tablesReadable(self._procRoot)
        if not self._tables:
            return UNTOLD
        found: Deferred[Named] = self._runInThread(
            tableLookup, client[0], client[1], server[0], server[1], self._procRoot
        )
        return found

    def unix(self, transport: Any) -> Named:
        return unixPeer(socketOf(transport))

    def holders(
        self, uid: int, inodes: frozenset[int], hints: Sequence[int]
    ) -> Deferred[dict[int, int]]:
        found: Deferred[dict[int, int]] = self._runInThread(
            self._walkHolders, set(inodes), self._procRoot, uid, tuple(hints)
        )
        return found


def socketOf(transport: Any) -> Any:
    """The socket under C{transport} (through the wrappers TLS puts around
    it), or C{None}."""
    for _ in range(4):
        getHandle = getattr(transport, "getHandle", None)
        handle = getHandle() if getHandle is not None else None
        if hasattr(handle, "getsockopt"):
            return handle
        transport = getattr(transport, "transport", None)
        if transport is None:
            return None
    return None


@lru_cache(maxsize=256)
def accountName(uid: int) -> str | None:
    """The user name of C{uid}, where the password database knows it;
    asked once per account (the door logs an account's refusals at most
    once a minute)."""
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError, OverflowError):
        return None


class Door:
    """Who may connect to a gateway that authenticates no one: the
    connections of its owner's account, and of root's when C{acceptsRoot};
    where the kernel cannot name a connection's account, each request that
    carries the owner C{token}. The site's guard asks it at each accept
    (L{name}, then L{defers} or L{refusal}), the root at each request of a
    connection whose account was not named (L{requestRefusal})."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        clock: IReactorTime,
        namer: PeerNamer,
        acceptsRoot: bool = False,
        owner: int | None = None,
        names: Callable[[int], str | None] = accountName,
        token: str | None = None,
    ) -> None:
        """
        @param owner: the owner's uid (C{None}: the process's effective uid
            at the first connection, once twistd has given up root for
            C{--uid}).
        @param names: the user name of a uid (for the log).
        @param token: the owner token (L{mcpgateway.runtime.ownertoken});
            C{None}: a connection whose account cannot be named is refused.
        """
        self.clock = clock
        self.namer = namer
        self.acceptsRoot = acceptsRoot
        self.token = token
        self._owner = owner
        self._names = names
        self._logged: dict[object, tuple[float, int]] = {}
        self._deferring = False
        self.refusals: dict[str, int] = dict.fromkeys(REASONS, 0)
        """Connections (and requests) refused, by reason (L{REASONS})."""

    @property
    def owner(self) -> int:
        """The owner's uid."""
        if self._owner is None:
            self._owner = os.geteuid()
        return self._owner

    @property
    def refused(self) -> int:
        """Connections and requests refused, in total."""
        return sum(self.refusals.values())

    def health(self) -> dict[str, Any]:
        """The door's line of C{/health}: its refusals by reason."""
        return {"refused": dict(self.refusals)}

    def name(self, channel: HTTPChannel) -> Named | Deferred[Named]:
        """The peer of C{channel}'s new connection."""
        peer, local = channel.getPeer(), channel.getHost()
        if isinstance(peer, (IPv4Address, IPv6Address)) and isinstance(
            local, (IPv4Address, IPv6Address)
        ):
            return self.namer.tcp((peer.host, peer.port), (local.host, local.port))
        if isinstance(peer, UNIXAddress):
            return self.namer.unix(channel.transport)
        return UNTOLD

    def defers(self, named: Named) -> bool:
        """Whether a connection whose peer the kernel named C{named} is let
        in for each of its requests to show the owner token: the kernel
        could not be asked (C{UNTOLD}) and the door has a token. Said once
        in the log, at the first such connection."""
        if named is not UNTOLD or self.token is None:
            return False
        if not self._deferring:
            self._deferring = True
            self.log.info(
                "this system cannot tell which account a connection comes from (no"
                " NETLINK_SOCK_DIAG, no /proc/net/tcp): each request must carry the owner"
                " token in its {header} header",
                header=HEADER,
            )
        return True

    def refusal(self, named: Named, shown: str) -> str | None:
        """Why a connection whose peer the kernel named C{named} is refused
        (the text of its 403; the refusal is logged), or C{None} when its
        account may connect. C{shown}: the peer's address, for the log."""
        owner = self.owner
        if isinstance(named, PeerSocket):
            uid = named.uid
            if uid == owner or (uid == 0 and self.acceptsRoot):
                return None
            self._note(
                uid,
                ACCOUNT,
                "refused a connection from {peer}: uid {uid} ({user}) is not the gateway's"
                " owner (uid {owner}){hint}{more}",
                peer=shown,
                uid=uid,
                user=self._names(uid) or "no user name",
                owner=owner,
                hint=" (--owner-accepts-root lets root's in)" if uid == 0 else "",
            )
            return (
                f"this gateway serves only the connections of its owner's account (uid {owner});"
                f" this one comes from uid {uid}"
            )
        if named is ABSENT:
            # Loopback stays inside one network namespace: a loopback peer the
            # kernel names no process for has closed its end already, and
            # nothing waits on the answer; a warning would cry wolf at the
            # clients that leave such connections in ordinary use.
            closed = _loopback(shown)
            self._note(
                ABSENT,
                ABSENT_PEER,
                "refused a connection from {peer}: the kernel names no process of this machine"
                " holding its other end ({why}){more}",
                peer=shown,
                why="closed already"
                if closed
                else "closed already, or from another network namespace",
                level=LogLevel.info if closed else LogLevel.warn,
            )
            return (
                "this gateway serves only the connections of its owner's account, and the kernel"
                " names no process of this machine holding this connection's other end"
            )
        self._note(
            UNTOLD,
            UNTOLD_PEER,
            "refused a connection from {peer}: this system cannot tell which account a"
            " connection comes from (no NETLINK_SOCK_DIAG, no /proc/net/tcp), and a gateway"
            " without --auth-tokens serves only its owner's{more}",
            peer=shown,
        )
        return (
            "this gateway serves only the connections of its owner's account, and cannot tell"
            " on this system which account a connection comes from: run it with --auth-tokens"
            " FILE (`mcpgateway token new NAME --file FILE`) and send the token"
        )

    def requestRefusal(self, request: IRequest) -> str | None:
        """Why C{request} is refused (the text of its 403; logged), or
        C{None} when it may go on: its connection's account was named the
        owner's at accept (the guard marked the channel C{ownerNamed}), or
        it carries the owner token. Any other channel (one the guard never
        saw) must carry the token too."""
        if getattr(getattr(request, "channel", None), "ownerNamed", False):
            return None
        presented = request.getHeader(HEADER_KEY)
        if self.token is not None and tokenMatches(presented, self.token):
            return None
        peer = request.getClientAddress()
        shown = f"{getattr(peer, 'host', 'a client')}:{getattr(peer, 'port', '')}".rstrip(":")
        reason = NO_TOKEN if presented is None else WRONG_TOKEN
        self._note(
            reason,
            reason,
            "refused a request from {peer}: this system cannot tell which account a"
            " connection comes from, and the request {what}{more}",
            peer=shown,
            what=f"has no {HEADER} header"
            if presented is None
            else f"carries an {HEADER} header that is not the owner token",
        )
        told = "carries no" if presented is None else "carries a wrong"
        return (
            "this gateway serves only its owner's account and cannot tell on this system which"
            f" account a connection comes from, so each request must carry the owner token:"
            f" this one {told} {HEADER} header. Send `{HEADER}: <token>`, the token being the"
            " content of owner.token in the gateway's state directory (~/.mcpgateway unless"
            " --state-dir or $MCPGATEWAY_HOME says otherwise); `mcpgateway start` writes it"
            " into the client configs it adopts, and `mcpgateway bridge SERVER` sends it for"
            " a client that cannot send headers"
        )

    def _note(
        self, key: object, reason: str, text: str, level: LogLevel = LogLevel.warn, **fields: Any
    ) -> None:
        """Count one refusal under C{reason} and log it under C{key} (at
        C{level}): at once if the key's last line is L{LOG_SECONDS} old,
        else counted into its next line."""
        self.refusals[reason] = self.refusals.get(reason, 0) + 1
        now = self.clock.seconds()
        last, leftOut = self._logged.get(key, (-LOG_SECONDS, 0))
        if now - last < LOG_SECONDS:
            self._logged[key] = (last, leftOut + 1)
            return
        if len(self._logged) >= LOGGED_MOST:
            self._logged.clear()
        self._logged[key] = (now, 0)
        more = f" ({leftOut} more refused since its last line)" if leftOut else ""
        self.log.emit(level, text, more=more, **fields)


def _loopback(shown: str) -> bool:
    """Whether C{shown} (a peer's C{host:port}) is a loopback address."""
    host = shown.rsplit(":", 1)[0].strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)
