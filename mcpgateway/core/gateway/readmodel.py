# -*- test-case-name: tests.core.test_status, tests.core.gateway.test_gateway -*-
"""A gateway's read model taken: L{ReadModel}.

One frozen snapshot (L{mcpgateway.core.status.GatewayStatus}) of the
gateway, each server (its pool's own status) and each session, which every
renderer reads: C{/health}, C{/sessions}, C{/metrics}, the management API
and the manhole.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Protocol

from twisted.internet.interfaces import IReactorTime

from mcpgateway import __version__
from mcpgateway.core.gateway.aggregateside import AggregateSide
from mcpgateway.core.gateway.settings import GatewaySettings
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.sessions import Session, SessionRegistry
from mcpgateway.core.spec import Sharing
from mcpgateway.core.status import (
    GatewayStatus,
    Savings,
    ServerStatus,
    SessionCounts,
    SessionStatus,
    TaskCounts,
)
from mcpgateway.runtime import procfs


class ReadModelHost(Protocol):
    """What L{ReadModel} reads of its gateway, at each snapshot (the wiring
    sets them after the gateway is made)."""

    @property
    def settings(self) -> GatewaySettings: ...

    @property
    def savings(self) -> Callable[[GatewayStatus], Savings] | None: ...


class ReadModel:
    """Takes the snapshots of a gateway, its servers and its sessions."""

    def __init__(
        self,
        host: ReadModelHost,
        pools: Mapping[str, PoolLike],
        sessions: SessionRegistry,
        aggregate: AggregateSide,
        clock: IReactorTime,
        started: float,
    ) -> None:
        """
        @param host: the gateway (its tasks, and its estimate of savings).
        @param pools: the gateway's pools (the live mapping).
        @param sessions: the gateway's sessions.
        @param aggregate: tells the aggregate sessions apart.
        @param started: when the gateway was made.
        """
        self._host = host
        self._pools = pools
        self._sessions = sessions
        self._aggregate = aggregate
        self._clock = clock
        self._started = started

    def status(
        self, procRoot: str = procfs.PROC, rows: bool = True, byClient: bool = False
    ) -> GatewayStatus:
        """A snapshot of the gateway, its servers and its sessions.
        C{procRoot}: where the gateway's own resident memory is read.
        Without C{rows}, the sessions are counted (L{GatewayStatus.counts})
        and no row is made for each (C{/health}, which shows the counts: a
        row costs some microseconds, and a gateway may hold tens of
        thousands of sessions); C{byClient} adds the counts by client
        (L{SessionCounts.clients}: the status page's)."""
        counts = Counter(session.server for session in self._sessions)
        status = GatewayStatus(
            version=__version__,
            pid=os.getpid(),
            started=self._started,
            now=self._clock.seconds(),
            rssBytes=procfs.rss("self", procRoot),
            servers=MappingProxyType(
                {name: pool.status(counts[name]) for name, pool in self._pools.items()}
            ),
            sessions=self._sessionStatuses() if rows else (),
            tasks=self._taskCounts(),
            counts=None if rows else self._sessionCounts(byClient),
        )
        savings = self._host.savings
        if savings is None:
            return status
        return replace(status, savings=savings(status))

    def server(self, name: str) -> ServerStatus:
        """A snapshot of server C{name} (C{KeyError} if there is none)."""
        return self._pools[name].status(len(self._sessions.forServer(name)))

    def _taskCounts(self) -> TaskCounts | None:
        """Its tasks by status, and how many it made (C{None}: it serves none)."""
        tasks = self._host.settings.tasks
        if tasks is None:
            return None
        return TaskCounts(MappingProxyType(tasks.counts()), tasks.created, tasks.fastAnswers)

    def _sessionCounts(self, byClient: bool) -> SessionCounts:
        """The sessions counted, in one walk that makes nothing per session
        (C{byClient}: a key per client and server, and its pids)."""
        total = visiting = 0
        members: Counter[str] = Counter()
        clients: dict[tuple[object, str], tuple[int, set[int]]] = {}
        aggregate = self._aggregate.made is not None
        isAggregate = self._aggregate.isAggregate
        for session in self._sessions:
            total += 1
            if session.visiting:
                visiting += 1
            if aggregate and isAggregate(session):
                for member in session.members:
                    members[member] += 1
            if not byClient:
                continue
            key = (session.clientInfo.get("name"), session.server)
            count, pids = clients.get(key) or (0, set())
            if session.clientPid is not None:
                pids.add(session.clientPid)
            clients[key] = (count + 1, pids)
        return SessionCounts(
            total,
            visiting,
            MappingProxyType(dict(members)),
            MappingProxyType({key: (n, frozenset(p)) for key, (n, p) in clients.items()}),
        )

    def _sessionStatuses(self) -> tuple[SessionStatus, ...]:
        inFlight: Counter[str] = Counter()
        for pool in self._pools.values():
            inFlight.update(pool.inFlightBySession())
        return tuple(
            self._sessionStatus(session, inFlight[session.id]) for session in self._sessions
        )

    def _sessionStatus(self, session: Session, inFlight: int) -> SessionStatus:
        if self._aggregate.isAggregate(session):
            return SessionStatus(
                id=session.id,
                server=session.server,
                clientPid=session.clientPid,
                client=session.clientInfo.get("name"),
                protocolVersion=session.protocolVersion,
                sharing=Sharing.GLOBAL,
                childPid=None,
                created=session.created,
                lastActivity=self._sessions.activity(session),
                inFlight=len(session.inflight),
                getStream=session.getStream is not None,
                scope=session.scope,
                credential="",
                principal=session.principal,
                members=tuple(sorted(session.members)),
            )
        pool = self._pools[session.server]
        return SessionStatus(
            id=session.id,
            server=session.server,
            clientPid=session.clientPid,
            client=session.clientInfo.get("name"),
            protocolVersion=session.protocolVersion,
            sharing=pool.spec.sharing,
            childPid=pool.childPid(session),
            created=session.created,
            lastActivity=self._sessions.activity(session),
            inFlight=inFlight,
            getStream=session.getStream is not None,
            scope=session.scope,
            credential=session.credential,
            principal=session.principal,
            visiting=session.visiting,
        )
