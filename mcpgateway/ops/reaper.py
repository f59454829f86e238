# -*- test-case-name: tests.ops.test_reaper -*-
"""The reaper: ends what no client will end, every C{--reap-interval} seconds.

With a gateway, MCP servers are children of the gateway, not of the client:
when a client process dies, nothing tells the gateway. Each sweep runs three
phases, each logged as one structured event with its counts:

 1. dead children: a child whose process is gone but which is still in a
    pool is removed (its pending requests were already failed); a stateful
    session whose own child is gone is ended, so its client re-initializes;
 2. dead clients: for each client pid that owns sessions, C{kill(pid, 0)}
    failing with C{ESRCH} means the client is gone: its sessions end and their
    stateful children stop (C{EPERM} means alive). A pid an authenticated
    client sent itself is not asked about: that client may run on another
    machine, where the pid means nothing here;
 3. idle: sessions with no open GET stream and no activity for
    C{idleTimeout} end, unless the gateway found their client's pid itself,
    as the owner of the client's socket (L{Session.pidFromSocket}): a pid
    the client sent may name a process that never exits (pid 1 in a
    container, a wrapper's shell), which would keep its session for ever.
    A shared child is never stopped because one session went away; with
    C{childIdleTimeout} set, a shared child that has had no session for
    that long is stopped (it restarts on demand).
    The children of a workspace- or credential-scoped server that have been
    quiet for their idle timeout are stopped by their pool
    (L{mcpgateway.core.pools.pool.PoolLike.expire}; docs/guide/scopes.md).

One failing item is logged and skipped; the loop never dies.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.pool import PidProbe
from mcpgateway.core.sessions import Session
from mcpgateway.ops.services import PeriodicService
from mcpgateway.ops.statedir import pidAlive
from mcpgateway.runtime import logs


@dataclass
class SweepCounts:
    """What one sweep did."""

    deadChildren: int = 0
    deadClients: int = 0
    deadClientSessions: int = 0
    idleSessions: int = 0
    idleChildren: int = 0


class Reaper:
    """The three phases, as one C{sweep()} over the gateway's pools and sessions."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        gateway: Gateway,
        clock: IReactorTime,
        idleTimeout: float,
        childIdleTimeout: float | None = None,
        alive: PidProbe = pidAlive,
    ) -> None:
        self._gateway = gateway
        self._clock = clock
        self.idleTimeout = idleTimeout
        self.childIdleTimeout = childIdleTimeout
        self._alive = alive
        self._lookedAt: float | None = None
        """When phase 2 last looked (C{None}: never, in this process)."""

    def sweep(self) -> SweepCounts:
        """Run the three phases once."""
        counts = SweepCounts()
        self._deadChildren(counts)
        self._deadClients(counts)
        self._idle(counts)
        return counts

    def sweepDeadClients(self) -> SweepCounts:
        """Run phase 2 alone: end the sessions whose client process is gone."""
        counts = SweepCounts()
        self._deadClients(counts)
        return counts

    def _end(self, session: Session, reason: str) -> None:
        self._gateway.endSession(session, reason).addErrback(
            lambda f: self.log.failure(
                "stopping the child of session {sid} failed", failure=f, sid=session.shortId
            )
        )

    def _deadChildren(self, counts: SweepCounts) -> None:
        for name, pool in list(self._gateway.pools.items()):
            found = pool.sweep(self._probe(name))
            counts.deadChildren += found.dead
            for session in found.orphaned:
                self._end(session, "its child exited")
        _logFor(self.log, counts.deadChildren)(
            "reaper phase 1: {deadChildren} dead child(ren) removed",
            deadChildren=counts.deadChildren,
            phase=1,
        )

    def _probe(self, server: str) -> PidProbe:
        """L{_alive} for the children of C{server}: a probe that fails is
        logged, and the child taken for alive."""

        def alive(pid: int) -> bool:
            try:
                return self._alive(pid)
            except Exception:
                self.log.failure("reaper: checking a child of {server} failed", server=server)
                return True

        return alive

    def _deadClients(self, counts: SweepCounts) -> None:
        """End the sessions whose client process exited, unless a session
        had a request since the last look: the process that opened a
        session is not always the one that uses it (a script's curl per
        request, a CLI that keeps the session id between runs), so a
        session in use is kept, and ended at the first look that finds it
        quiet since the one before."""
        since, self._lookedAt = self._lookedAt, self._clock.seconds()
        owners: dict[int, list[Session]] = {}
        for session in self._gateway.sessions:
            if session.clientPid is not None and (not session.principal or session.pidFromSocket):
                owners.setdefault(session.clientPid, []).append(session)
        for pid, sessions in owners.items():
            try:
                if self._alive(pid):
                    continue
            except Exception:
                self.log.failure("reaper: probing client pid {pid} failed", pid=pid)
                continue
            quiet = [s for s in sessions if since is None or s.lastActivity <= since]
            if len(quiet) < len(sessions):
                self.log.debug(
                    "reaper: client process {pid} exited; {used} of its session(s) had"
                    " requests since the last look (from another process): kept while used",
                    pid=pid,
                    used=len(sessions) - len(quiet),
                )
            if not quiet:
                continue
            counts.deadClients += 1
            for session in quiet:
                counts.deadClientSessions += 1
                self._end(session, f"client process {pid} exited")
        _logFor(self.log, counts.deadClients)(
            "reaper phase 2: {deadClients} dead client(s), {sessions} session(s) ended",
            deadClients=counts.deadClients,
            sessions=counts.deadClientSessions,
            phase=2,
        )

    def _idle(self, counts: SweepCounts) -> None:
        now = self._clock.seconds()
        registry = self._gateway.sessions
        for session in registry:
            if session.pidFromSocket or _streamOpen(session):
                continue
            if now - registry.activity(session) >= self.idleTimeout:
                counts.idleSessions += 1
                self._end(session, f"idle for {self.idleTimeout:g} s")
        if self.childIdleTimeout is not None:
            for pool in list(self._gateway.pools.values()):
                idle = pool.idle(now)
                if idle is None or idle.unused is None or idle.unused < self.childIdleTimeout:
                    continue
                counts.idleChildren += 1
                self.log.info(
                    "server {server}: shared child idle for {seconds:g} s; stopping"
                    " it (it restarts on the next session)",
                    server=pool.spec.name,
                    seconds=self.childIdleTimeout,
                )
                pool.stopShared(f"no session for {self.childIdleTimeout:g} s")
        for pool in list(self._gateway.pools.values()):
            try:
                counts.idleChildren += len(pool.expire(now))
            except Exception:
                self.log.failure(
                    "server {server}: stopping its idle scoped children failed",
                    server=pool.spec.name,
                )
        _logFor(self.log, counts.idleSessions + counts.idleChildren)(
            "reaper phase 3: {idleSessions} idle session(s) ended, {idleChildren}"
            " idle shared child(ren) stopped",
            idleSessions=counts.idleSessions,
            idleChildren=counts.idleChildren,
            phase=3,
        )


def _logFor(log: Logger, count: int) -> Callable[..., None]:
    """Info when a phase did something, debug when it found nothing."""
    return log.info if count else log.debug


def _streamOpen(session: Session) -> bool:
    """Whether a connection carries the session's GET stream now (a stream
    kept for a client to resume, with no connection, does not keep an idle
    session alive)."""
    stream = session.getStream
    return (
        stream is not None
        and bool(getattr(stream, "open", False))
        and bool(getattr(stream, "connected", True))
    )


class ReaperService(PeriodicService):
    """Runs L{Reaper.sweep} every C{interval} seconds on the injected clock,
    and the dead-client phase once as soon as the reactor runs: the sessions
    a previous process saved come back at start, and those whose clients
    exited meanwhile are ended then, not one interval later (until then
    C{mcpgateway status} counted them, and their pools told them of changed
    tools)."""

    failure = "reaper sweep failed"

    def __init__(self, reaper: Reaper, clock: IReactorTime, interval: float) -> None:
        super().__init__(clock, interval)
        self.reaper = reaper
        self._first: IDelayedCall | None = None

    def run(self) -> None:
        self.reaper.sweep()

    def startService(self) -> None:
        super().startService()
        self._first = self._clock.callLater(0, self._deadClientsNow)

    def stopService(self) -> None:
        first, self._first = self._first, None
        if first is not None and first.active():
            first.cancel()
        super().stopService()

    def _deadClientsNow(self) -> None:
        self._first = None
        try:
            self.reaper.sweepDeadClients()
        except Exception:
            self.log.failure(self.failure)


class OrphanCleanup(Service):
    """At start: stop the children a SIGKILLed predecessor left running
    (TERM to their process groups, KILL C{killAfter} seconds later if the
    same process is still there)."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        orphans: list[tuple[int, str]],
        clock: IReactorTime,
        startTime: Callable[[int], int | None],
        killAfter: float = 3.0,
        kill: Callable[[int, int], None] = os.killpg,
    ) -> None:
        self._orphans = orphans
        self._clock = clock
        self._startTime = startTime
        self._killAfter = killAfter
        self._kill = kill

    def startService(self) -> None:
        super().startService()
        for pid, server in self._orphans:
            started = self._startTime(pid)
            self.log.warn(
                "server {server}: child pid {pid} outlived a previous gateway; stopping it",
                server=server,
                pid=pid,
            )
            self._signal(pid, signal.SIGTERM)
            self._clock.callLater(self._killAfter, self._finish, pid, started)

    def _finish(self, pid: int, started: int | None) -> None:
        if started is not None and self._startTime(pid) == started:
            self._signal(pid, signal.SIGKILL)

    def _signal(self, pid: int, signum: int) -> None:
        try:
            self._kill(pid, signum)
        except ProcessLookupError:
            pass
        except PermissionError:
            self.log.warn("not allowed to signal orphaned child pid {pid}", pid=pid)
