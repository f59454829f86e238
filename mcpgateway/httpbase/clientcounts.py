# -*- test-case-name: tests.httpbase.test_clientcounts -*-
"""How many connections each client of a door holds: a client is a process,
not an address.

On loopback every client is C{127.0.0.1}, so a cap per address is a cap on
the whole machine: one runaway process holding C{maxConnectionsPerPeer}
connections would get every other client 503. Behind a
L{Door<mcpgateway.httpbase.door.Door>} each connection's account and
socket inode are known at accept; its process is not (the kernel's socket
tables name none), and finding it means walking C{/proc/PID/fd} of the
account's processes, milliseconds in a worker thread. So L{ClientCounts}
counts per account at no cost while the account holds fewer than
L{PROCESS_THRESHOLD} connections (no process can be over the cap then),
and from there holds each new connection of that account (unread) until
one walk, shared by every connection that came meanwhile, has found the
processes of the new connections and of those counted so far without one:
a process at the cap gets 503, the others go on. A socket whose process is
not found (one the gateway may not look into) counts for its account's
unknown process, under the same cap. A UNIX socket's peer tells its pid:
counted per process at once.
"""

from __future__ import annotations

from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.runtime import logs
from mcpgateway.runtime.peeruid import PeerSocket

PROCESS_THRESHOLD = 256
"""Connections of one account from which its new connections are counted
per process (each waits for a walk of C{/proc}): far above what the MCP
clients of a person's machine hold, far below the cap."""
HINTS = 4
"""The account's busiest processes, looked at first by a walk."""


class Holders(Protocol):
    """L{PeerNamer.holders<mcpgateway.httpbase.door.PeerNamer.holders>}."""

    def __call__(
        self, uid: int, inodes: frozenset[int], hints: tuple[int, ...]
    ) -> Deferred[dict[int, int]]: ...


class Seat:
    """One counted (or held) connection: its account, socket and process."""

    __slots__ = ("inode", "pid", "placed", "uid")

    def __init__(self, uid: int, inode: int, pid: int | None, placed: bool) -> None:
        self.uid = uid
        self.inode = inode
        self.pid = pid
        self.placed = placed
        """Counted for its process (C{pid}, C{None}: not found)."""


Waiting = tuple[Any, Seat, "Deferred[str | None]"]


class ClientCounts:
    """The open connections of a door's clients (see the module)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self, maxPerClient: int, holders: Holders | None, threshold: int = PROCESS_THRESHOLD
    ) -> None:
        """
        @param holders: finds the processes of sockets (C{None}: counted
            per account only, each account under C{maxPerClient}).
        """
        self.maxPerClient = maxPerClient
        self.threshold = min(threshold, maxPerClient)
        self._holders = holders
        self.perUid: dict[int, int] = {}
        self.perProcess: dict[tuple[int, int | None], int] = {}
        self._seats: dict[Any, Seat] = {}
        self._unplaced: dict[int, dict[Any, Seat]] = {}
        self._waiting: dict[int, list[Waiting]] = {}
        self._held: dict[Any, Seat] = {}
        self._walking: set[int] = set()
        self.walks = 0
        """Walks started (for the tests and the curious)."""

    def opened(self, channel: Any, peer: PeerSocket) -> str | Deferred[str | None] | None:
        """Count C{channel}'s new connection from C{peer}: C{None} when it
        is admitted, why not (its 503's text) when it is refused, or a
        Deferred firing with one of these once its process is known."""
        uid = peer.uid
        if peer.pid is not None:
            return self._place(channel, Seat(uid, peer.inode, peer.pid, True))
        seat = Seat(uid, peer.inode, None, False)
        held = self.perUid.get(uid, 0)
        if self._holders is None:
            if held >= self.maxPerClient:
                return (
                    f"too many connections from uid {uid}: {self.maxPerClient} are open, the"
                    " most one account may hold"
                )
            self._count(channel, seat)
            return None
        if held < self.threshold and uid not in self._waiting and uid not in self._walking:
            self._count(channel, seat)
            return None
        answer: Deferred[str | None] = Deferred()
        self._waiting.setdefault(uid, []).append((channel, seat, answer))
        self._held[channel] = seat
        self._walk(uid)
        return answer

    def closed(self, channel: Any) -> None:
        """C{channel}'s connection is gone (counted, held, or neither)."""
        seat = self._seats.pop(channel, None)
        if seat is None:
            self._held.pop(channel, None)  # its answer, when it comes, is dropped
            return
        uid = seat.uid
        _less(self.perUid, uid)
        if seat.placed:
            _less(self.perProcess, (uid, seat.pid))
        else:
            unplaced = self._unplaced.get(uid)
            if unplaced is not None:
                unplaced.pop(channel, None)
                if not unplaced:
                    del self._unplaced[uid]

    def _count(self, channel: Any, seat: Seat) -> None:
        self._seats[channel] = seat
        self.perUid[seat.uid] = self.perUid.get(seat.uid, 0) + 1
        if seat.placed:
            key = (seat.uid, seat.pid)
            self.perProcess[key] = self.perProcess.get(key, 0) + 1
        else:
            self._unplaced.setdefault(seat.uid, {})[channel] = seat

    def _place(self, channel: Any, seat: Seat) -> str | None:
        """Count a connection whose process is known, unless that process
        holds the most already."""
        if self.perProcess.get((seat.uid, seat.pid), 0) >= self.maxPerClient:
            who = "an unknown process" if seat.pid is None else f"process {seat.pid}"
            return (
                f"too many connections from {who} of uid {seat.uid}: {self.maxPerClient} are"
                " open, the most one client process may hold"
            )
        self._count(channel, seat)
        return None

    def _walk(self, uid: int) -> None:
        """Find the processes of C{uid}'s waiting connections and of its
        connections counted without one, in one walk (unless one runs: its
        end starts the next)."""
        if uid in self._walking or uid not in self._waiting:
            return
        batch = self._waiting.pop(uid)
        unplaced = self._unplaced.get(uid, {})
        inodes = frozenset(
            seat.inode for seat in [*(s for _, s, _ in batch), *unplaced.values()] if seat.inode
        )
        busiest = sorted(
            ((count, pid) for (owner, pid), count in self.perProcess.items() if owner == uid),
            reverse=True,
        )
        hints = tuple(pid for _, pid in busiest[:HINTS] if pid is not None)
        self._walking.add(uid)
        self.walks += 1
        assert self._holders is not None
        try:
            found = self._holders(uid, inodes, hints)
        except Exception:
            found = Deferred()
            found.errback(Failure())
        found.addErrback(self._walkFailed)
        found.addCallback(self._found, uid, inodes, batch)

    def _walkFailed(self, reason: Failure) -> dict[int, int]:
        self.log.failure("finding the processes of connections failed", reason)
        return {}

    def _found(
        self, holders: dict[int, int], uid: int, asked: frozenset[int], batch: list[Waiting]
    ) -> None:
        self._walking.discard(uid)
        unplaced = self._unplaced.get(uid, {})
        for channel, seat in list(unplaced.items()):
            if seat.inode in asked or not seat.inode:
                del unplaced[channel]
                seat.pid, seat.placed = holders.get(seat.inode), True
                key = (uid, seat.pid)
                self.perProcess[key] = self.perProcess.get(key, 0) + 1
        if not unplaced:
            self._unplaced.pop(uid, None)
        for channel, seat, answer in batch:
            if self._held.pop(channel, None) is None:
                continue  # gone while it waited
            seat.pid, seat.placed = holders.get(seat.inode), True
            answer.callback(self._place(channel, seat))
        self._walk(uid)


def _less(counts: dict[Any, int], key: Any) -> None:
    count = counts.get(key, 0) - 1
    if count > 0:
        counts[key] = count
    else:
        counts.pop(key, None)
