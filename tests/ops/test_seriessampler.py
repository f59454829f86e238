"""The console's figures read off a gateway's status (ops/seriessampler.py):
children, sessions by client, a server's counters, the processes and
memory with the gateway and without it once savings are measured; one
recorder per gateway, which its service starts and stops on the clock."""

from __future__ import annotations

from dataclasses import replace

from twisted.internet.task import Clock

from mcpgateway.core.status import Savings
from mcpgateway.ops.seriessampler import SeriesService, readGateway, readStatus, seriesFor
from mcpgateway.ops.timeseries import STEP
from tests.http import Harness
from tests.support.web.statuspage import _serverSavings


def test_a_reading_counts_children_sessions_and_clients() -> None:
    h = Harness()
    h.initialize()
    reading = readGateway(h.gateway)
    assert reading.children == 1 and reading.sessions == 1
    assert reading.clients == {"test": 1}
    server = reading.servers["srv"]
    assert server.children == 1 and server.restarts == 0
    assert len(server.buckets) == len(
        h.gateway.readModel.status().servers["srv"].requests.bucketCounts
    )
    # Savings not measured yet: no figure without the gateway.
    assert reading.processesWithout is None and reading.memoryWithout is None


def test_the_plots_take_the_one_savings_figure() -> None:
    h = Harness()
    h.initialize()
    status = h.gateway.readModel.status(rows=False, byClient=True)
    savings = Savings(
        sampledAt=status.now,
        measure="pss",
        processesAvoided=4,
        memoryAvoidedBytes=40 << 20,
        wrappersAvoided=0,
        wrappersCounted=False,
        gatewayBytes=30 << 20,
        servers={"srv": _serverSavings(pssBytes=10 << 20)},
        processesUsed=4,  # the gateway, a bwrap pair, the server
        processesWithout=8,
        memoryUsed=45 << 20,
        memoryWithout=85 << 20,
    )
    reading = readStatus(replace(status, savings=savings))
    assert (reading.processesUsed, reading.processesWithout) == (4, 8)
    assert (reading.memoryUsed, reading.memoryWithout) == (45 << 20, 85 << 20)
    assert reading.children == 1  # the children alone stay a figure of their own


def test_one_recorder_per_gateway_started_and_stopped_by_its_service() -> None:
    h = Harness()
    clock = Clock()
    recorder = seriesFor(h.gateway, clock)
    assert seriesFor(h.gateway, clock) is recorder and not recorder.running
    service = SeriesService(h.gateway, clock)
    service.startService()
    assert recorder.running and len(recorder.book.hour) == 1
    clock.advance(STEP)
    assert len(recorder.book.hour) == 2
    service.stopService()
    assert not recorder.running and clock.getDelayedCalls() == []
