# -*- test-case-name: tests.ops.test_ownerscan -*-
"""The client pids of loopback connections, looked up off the reactor thread,
one scan of C{/proc} for all the connections asked about meanwhile.

Every session opened on a loopback connection asks for its client's pid
(L{mcpgateway.core.gateway.ownerlookup.OwnerLookup}), and sessions are opened in bursts:
a client starting its servers, a team's clients after a restart, 64
sessions of a load test. One scan per session reads the TCP tables and the
fd links of every process of the user again each time, in worker threads
that hold the GIL for most of it, so the reactor thread (every call in
flight) waits behind them: 64 sessions opened together held it for whole
seconds. L{CoalescedPidFinder} runs one scan at a time; the connections
asked about while it runs wait for the next one, which looks for all of
them at once (L{mcpgateway.ops.peerpid.findClientPids}). The pids found
are kept a few seconds by socket inode (L{ProcScan}): a client opening
session after session on its keep-alive connection has its process found
by one walk, not one walk per session.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from mcpgateway.runtime.threads import RunInThread

if TYPE_CHECKING:
    from mcpgateway.ops.peerpid import Connection
Scan = Callable[..., list[int | None]]
"""L{mcpgateway.ops.peerpid.findClientPids}'s signature: connections, then
C{hints=} pids."""


KNOWN_SECONDS = 10.0
"""Seconds a L{ProcScan} keeps the pids it found, by socket inode."""
KNOWN_MOST = 4096
"""The most pids a L{ProcScan} keeps (all are forgotten beyond)."""


class ProcScan:
    """L{mcpgateway.ops.peerpid.findClientPids} (imported by the first scan:
    an idle gateway, or one whose clients never open a session, does not
    hold it), which keeps the pids it found by socket inode for
    L{KNOWN_SECONDS}: the sessions a client opens one after another on its
    keep-alive connection cost one netlink question each, not a walk of
    every process's fds. Forgotten wholesale, so that a socket handed to
    another process (a fork, an fd passed on) is found again soon. Called
    by one scan at a time (L{CoalescedPidFinder})."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.known: dict[int, int] = {}
        self._since = clock()

    def __call__(self, connections: list[Connection], hints: Sequence[int]) -> list[int | None]:
        from mcpgateway.ops.peerpid import findClientPids

        now = self._clock()
        if now - self._since >= KNOWN_SECONDS or len(self.known) >= KNOWN_MOST:
            self.known, self._since = {}, now
        return findClientPids(connections, hints=hints, known=self.known)


class CoalescedPidFinder:
    """A L{mcpgateway.core.gateway.settings.PidFinder} whose look-ups share
    scans: one runs at a time, in a worker thread; the next takes every
    look-up asked for meanwhile."""

    def __init__(self, runInThread: RunInThread, scan: Scan | None = None) -> None:
        """
        @param runInThread: runs C{scan} in a worker thread, firing with
            its value.
        @param scan: finds the pids of a list of connections (C{None}: a
            L{ProcScan} of its own).
        """
        self._runInThread = runInThread
        self._scan: Scan = ProcScan() if scan is None else scan
        self._waiting: list[tuple[Connection, Deferred[int | None]]] = []
        self._hints: set[int] = set()
        self.scanning = False
        """Whether a scan runs now."""
        self.scans = 0
        """How many scans were started (for tests and the curious)."""

    def __call__(self, connection: Connection, hints: Sequence[int]) -> Deferred[int | None]:
        """The pid of the client of C{connection} (C{None}: not found),
        once a scan has looked for it: the holder of the client socket's
        inode the connection carries, else (0) of the socket its addresses
        name then; C{hints}: pids to look at first."""
        found: Deferred[int | None] = Deferred()
        self._waiting.append((connection, found))
        self._hints.update(hints)
        if not self.scanning:
            self._start()
        return found

    def _start(self) -> None:
        batch, self._waiting = self._waiting, []
        hints, self._hints = sorted(self._hints), set()
        self.scanning = True
        self.scans += 1
        try:
            scanned = self._runInThread(self._scan, [c for c, _ in batch], hints=hints)
        except Exception:
            scanned = Deferred()
            scanned.errback(Failure())

        def settle(result: list[int | None] | Failure) -> None:
            self.scanning = False
            if not isinstance(result, Failure) and len(result) != len(batch):
                result = Failure(
                    ValueError(f"a scan of {len(batch)} connections gave {len(result)} pids")
                )
            for at, (_, found) in enumerate(batch):
                if isinstance(result, Failure):
                    found.errback(result)
                else:
                    found.callback(result[at])
            if self._waiting:
                self._start()

        scanned.addBoth(settle)
