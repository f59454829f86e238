# -*- test-case-name: tests.core.gateway.test_drain_cancel, tests.core.gateway.test_gateway -*-
"""A gateway's stop: L{Shutdown}.

The requests in flight may finish first (the drain, at most the gateway's
C{drainTimeout}; a second stop signal cuts it short); what is left is then
answered with an error. The sessions are saved a last time before they end
(they go on in the next gateway process: their GET streams are told to
come back there), every session ends, and every child stops; the stop fires
once all of that is done. A call held for a person's yes is answered at
once with its denial (the person can no longer decide it in this process).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.continuity import SessionContinuity
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.pools.scopecatalogfile import SavedScopeCatalogs
from mcpgateway.core.sessions import Session, SessionRegistry
from mcpgateway.protocol import jsonrpc


class ShutdownHost(Protocol):
    """What L{Shutdown} needs of its gateway."""

    sessionEnded: Callable[[Session], object] | None
    """Told of each session that ends for good (not of those a stop hands on)."""

    @property
    def catalogs(self) -> Catalogs: ...

    @property
    def scopeCatalogs(self) -> SavedScopeCatalogs: ...

    def endSession(self, session: Session, reason: str = ...) -> Deferred[None]: ...

    @property
    def flow(self) -> HeldWaits | None:
        """The flow rule's calls held for a person's yes, if the rule runs."""


class HeldWaits(Protocol):
    """The calls held for a person's yes (L{mcpgateway.flow.step.FlowStep})."""

    def endWaits(self, why: str) -> int:
        """Answer each with its denial saying C{why}; how many were."""


class Shutdown:
    """Drains the gateway's requests in flight, then ends its sessions and
    stops its children."""

    def __init__(
        self,
        host: ShutdownHost,
        pools: Mapping[str, PoolLike],
        sessions: SessionRegistry,
        continuity: SessionContinuity,
        clock: IReactorTime,
        log: Logger,
    ) -> None:
        """
        @param host: the gateway (it ends the sessions; its catalogs stop).
        @param pools: the gateway's pools (the live mapping).
        @param sessions: the gateway's sessions.
        @param continuity: saves the sessions a last time, before they end.
        @param log: the gateway's logger (these lines are the gateway's).
        """
        self._host = host
        self._pools = pools
        self._sessions = sessions
        self._continuity = continuity
        self._clock = clock
        self.log = log
        self.begun = False
        """Whether L{stop} has begun."""
        self._draining: Deferred[Any] | None = None
        """While a stop waits for the requests in flight: that wait."""
        self._cutShort = False
        """The drain was cut short before the stop began it (two stop
        signals in one reactor turn): the stop waits for nothing."""

    def stop(self, drainTimeout: float) -> Deferred[Any]:
        """Let requests in flight finish (at most C{drainTimeout} seconds),
        then answer what is left with an error, end every session, and stop
        every child; fires when all have exited."""
        self.begun = True
        self._continuity.stopping()
        pools = list(self._pools.values())
        for pool in pools:
            # Calls waiting for a human would only hold the drain up.
            pool.endEra2026("the gateway is shutting down")
        flow = self._host.flow
        if flow is not None:  # held for a person's yes: answered with their denial
            flow.endWaits("The gateway stopped before a person decided it")
        inFlight = sum(pool.clientRequestsInFlight() for pool in pools)
        if not inFlight or self._cutShort:
            return self._stopNow()
        self.log.info(
            "gateway stopping: letting {count} request(s) in flight finish (at most {seconds:g} s)",
            count=inFlight,
            seconds=drainTimeout,
        )
        # Cancelled (the deadline, or cutShort), every wait fails with
        # CancelledError: consumed here, or each is an unhandled error.
        drained: Deferred[Any] = DeferredList(
            [pool.whenDrained() for pool in pools], consumeErrors=True
        )
        self._draining = drained
        drained.addTimeout(drainTimeout, self._clock)
        drained.addErrback(lambda _: None)
        return drained.addCallback(self._drained)

    def _drained(self, _: object) -> Deferred[Any]:
        self._draining = None
        return self._stopNow()

    def cutShort(self, announce: Callable[[int], object] | None = None) -> int | None:
        """Stop waiting for the requests in flight of a stop: what is left
        is answered with an error and every child is stopped now. Asked
        before the stop has begun, the stop waits for none.

        @param announce: called with the count before anything is stopped.
        @return: how many requests in flight were still waited for; C{None}
            when no stop is waiting for any."""
        draining = self._draining
        if (draining is None or draining.called) and self.begun:
            return None
        inFlight = sum(pool.clientRequestsInFlight() for pool in self._pools.values())
        if announce is not None:
            announce(inFlight)
        if draining is None or draining.called:
            self._cutShort = True
        else:
            draining.cancel()
        return inFlight

    def _stopNow(self) -> Deferred[Any]:
        # The sessions end with this process, not for their clients: saved
        # before they are ended, and never saved again (the stop waits for
        # the write, which runs in the reactor's thread pool).
        saved = self._continuity.lastSave()
        for pool in self._pools.values():
            pool.failAll(jsonrpc.SERVER_UNAVAILABLE, "the gateway is shutting down")
        for session in self._sessions:
            # The session goes on in the next gateway process: its client is
            # told (retry:) to open its GET stream again, there.
            stream = session.getStream
            if stream is not None:
                stream.suspend()
        host = self._host
        host.sessionEnded = None  # these go on in the next process: not ended
        stopping = [host.endSession(session, "gateway stopping") for session in self._sessions]
        stopping += [pool.stopAll() for pool in self._pools.values()]
        stopping.append(host.catalogs.stop())
        stopping.append(host.scopeCatalogs.stop())
        if saved is not None:
            stopping.append(saved)
        return DeferredList(stopping, consumeErrors=True)
