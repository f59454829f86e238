# -*- test-case-name: tests.ops.test_seriessampler -*-
"""The gateway's figures for the console's plots, read off its status.

L{readGateway} turns one C{ReadModel.status} snapshot (counts by client, no
rows) into a L{Reading}: live children, the processes and memory that run and
what the same sessions would run without the gateway (the one figure of
L{mcpgateway.ops.savings}, read off the status's C{savings}), open
sessions, per server its requests, errors, restarts and latency histogram,
and sessions by client. L{seriesFor} keeps one L{SeriesRecorder} per
gateway; L{SeriesService} samples it while the gateway runs (the status
page starts it itself on its first request when no service did).
"""

from __future__ import annotations

import weakref
from collections import Counter

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.status import GatewayStatus, ServerStatus
from mcpgateway.ops.timeseries import Reading, SeriesRecorder, ServerReading

_RECORDERS: weakref.WeakKeyDictionary[Gateway, SeriesRecorder] = weakref.WeakKeyDictionary()


def _errors(server: ServerStatus) -> int:
    return sum(count for (_, outcome), count in server.requests.requests.items() if outcome != "ok")


def readStatus(status: GatewayStatus) -> Reading:
    """The plots' figures of one snapshot."""
    servers = {
        name: ServerReading(
            requests=server.requests.count,
            errors=_errors(server),
            restarts=server.restarts,
            buckets=tuple(server.requests.bucketCounts),
            children=len(server.pids),
        )
        for name, server in status.servers.items()
    }
    children = sum(server.children for server in servers.values())
    clients: Counter[str] = Counter()
    if status.counts is not None:
        for (client, _), (count, _) in status.counts.clients.items():
            clients[client if isinstance(client, str) else "(no name)"] += count
    else:
        for session in status.sessions:
            client = session.client
            clients[client if isinstance(client, str) else "(no name)"] += 1
    savings = status.savings
    processesUsed = processesWithout = memoryUsed = memoryWithout = None
    if savings is not None and savings.sampledAt is not None:
        processesUsed, processesWithout = savings.processesUsed, savings.processesWithout
        memoryUsed, memoryWithout = savings.memoryUsed, savings.memoryWithout
    return Reading(
        children=children,
        sessions=status.sessionCount,
        rssBytes=status.rssBytes,
        processesUsed=processesUsed,
        processesWithout=processesWithout,
        memoryUsed=memoryUsed,
        memoryWithout=memoryWithout,
        servers=servers,
        clients=dict(clients),
    )


def readGateway(gateway: Gateway) -> Reading:
    """The plots' figures of C{gateway} now."""
    return readStatus(gateway.readModel.status(rows=False, byClient=True))


def seriesFor(gateway: Gateway, clock: IReactorTime) -> SeriesRecorder:
    """The one recorder of C{gateway} (made on first use, not started)."""
    recorder = _RECORDERS.get(gateway)
    if recorder is None:
        recorder = _RECORDERS[gateway] = SeriesRecorder(clock, lambda: readGateway(gateway))
    return recorder


class SeriesService(Service):
    """Samples the gateway's figures while the service runs."""

    def __init__(self, gateway: Gateway, clock: IReactorTime) -> None:
        self._gateway = gateway
        self._clock = clock

    def startService(self) -> None:
        super().startService()
        seriesFor(self._gateway, self._clock).start()

    def stopService(self) -> None:
        super().stopService()
        seriesFor(self._gateway, self._clock).stop()
