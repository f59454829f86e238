"""The one savings figure (L{mcpgateway.ops.savings.savingsOf}): what runs,
the gateway's whole process tree read from a fake /proc (the sandbox's
C{bwrap} processes and a server's spawns included), against what the same
sessions would start without the gateway, each launch costed at idle after
its start (the first sample that sees it initialized); the same workload
gives the same figure however the samples fall."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, succeed

from mcpgateway.core.status import GatewayStatus, Lifecycle, Savings
from mcpgateway.ops.savings import SavingsSampler, readSample
from tests.http import Harness
from tests.support.ops.savings import MB, fakeProcess

GATEWAY = 7
"""The gateway's pid in the fake /proc (its C{self} link names it)."""
BROWSER = 90_100
"""The first pid of the browser a tool call makes the server spawn."""


def runNow(f: Callable[..., Any], *args: Any) -> Deferred[Any]:
    """Runs a read at once (the fake /proc is on disk, the test is the thread)."""
    return succeed(f(*args))


def confinedTree(proc: Path, child: int) -> None:
    """The gateway, and its child C{child} confined: two bwrap processes
    (the launcher's and its pid namespace's init) above the server."""
    fakeProcess(proc, GATEWAY, 1, rss=40 * MB, pss=20 * MB, name="twistd")
    os.symlink(str(GATEWAY), proc / "self")
    fakeProcess(proc, child, GATEWAY, rss=3 * MB, pss=2 * MB, name="bwrap")
    (proc / str(child) / "cmdline").write_bytes(b"/usr/bin/bwrap\0--unshare-pid\0--\0node\0")
    fakeProcess(proc, 90_001, child, rss=MB, pss=MB, name="bwrap")
    (proc / "90001" / "cmdline").write_bytes(b"/usr/bin/bwrap\0--unshare-pid\0--\0node\0")
    fakeProcess(proc, 90_002, 90_001, rss=50 * MB, pss=40 * MB)
    (proc / "90002" / "cmdline").write_bytes(b"node\0/cache/server.js\0")


def spawnBrowser(proc: Path) -> None:
    """What a tool call makes the server start: a browser of three processes."""
    fakeProcess(proc, BROWSER, 90_002, rss=200 * MB, pss=150 * MB, name="chrome")
    fakeProcess(proc, BROWSER + 1, BROWSER, rss=100 * MB, pss=80 * MB, name="chrome")
    fakeProcess(proc, BROWSER + 2, BROWSER, rss=100 * MB, pss=80 * MB, name="chrome")


def workload(proc: Path, samplesBefore: int, samplesAfter: int) -> tuple[Savings, Harness]:
    """Three sessions share one confined child; one of them calls a tool
    that spawns a browser. The children are sampled C{samplesBefore} times
    before that call and C{samplesAfter} times after it."""
    h = Harness()
    for n in range(3):
        h.initialize(requestId=n + 1)
    (child,) = h.gateway.readModel.status().servers["srv"].pids
    confinedTree(proc, child)
    sampler = SavingsSampler(h.gateway.readModel.status, h.reactor, runNow, str(proc))
    for _ in range(samplesBefore):
        sampler.sample()
        h.reactor.advance(10)
    spawnBrowser(proc)
    for _ in range(samplesAfter):
        sampler.sample()
        h.reactor.advance(10)
    return sampler.estimate(h.gateway.readModel.status()), h


def test_what_runs_counts_the_gateway_and_the_sandbox(tmp_path: Path) -> None:
    h = Harness()
    for n in range(3):
        h.initialize(requestId=n + 1)
    (child,) = h.gateway.readModel.status().servers["srv"].pids
    confinedTree(tmp_path, child)
    fakeProcess(tmp_path, 90_900, 1, rss=9 * MB, pss=9 * MB)  # not the gateway's
    sample = readSample([child], str(tmp_path))
    assert sample.running is not None and sample.running.processes == 4
    assert sample.trees[child].processes == 3  # bwrap, bwrap, the server
    assert sample.launches[child].processes == 1  # what a client would run: the server
    sampler = SavingsSampler(h.gateway.readModel.status, h.reactor, runNow, str(tmp_path))
    sampler.sample()
    savings = sampler.estimate(h.gateway.readModel.status())
    assert (savings.processesUsed, savings.processesWithout) == (4, 3)
    assert savings.processesAvoided == 3 - 4
    assert savings.measure == "pss"
    assert savings.memoryUsed == (20 + 2 + 1 + 40) * MB
    assert savings.memoryWithout == 3 * 40 * MB
    assert savings.memoryAvoidedBytes == (120 - 63) * MB
    srv = savings.servers["srv"]
    assert (srv.processes, srv.processesWithout, srv.processesAvoided) == (3, 3, 0)
    assert srv.pssBytes == 43 * MB


def test_a_browser_a_tool_call_spawned_runs_but_no_client_would_start_it(
    tmp_path: Path,
) -> None:
    savings, _ = workload(tmp_path, samplesBefore=1, samplesAfter=1)
    assert savings.processesUsed == 4 + 3  # the browser runs, and is counted there
    assert savings.processesWithout == 3  # each session's launch: the server at idle
    assert savings.memoryWithout == 3 * 40 * MB
    assert savings.memoryUsed == (63 + 310) * MB
    assert savings.servers["srv"].bytesPerLaunch == 40 * MB


def test_the_same_workload_gives_the_same_figure(tmp_path: Path) -> None:
    first, _ = workload(tmp_path / "one", samplesBefore=1, samplesAfter=1)
    second, _ = workload(tmp_path / "two", samplesBefore=3, samplesAfter=4)
    figures = ("processesUsed", "processesWithout", "memoryUsed", "memoryWithout")
    assert [getattr(first, f) for f in figures] == [getattr(second, f) for f in figures]
    assert (first.processesAvoided, first.memoryAvoidedBytes) == (
        second.processesAvoided,
        second.memoryAvoidedBytes,
    )
    # Looked at before the tool call, the figure without the gateway is the same.
    idle, _ = workload(tmp_path / "three", samplesBefore=1, samplesAfter=0)
    assert (idle.processesWithout, idle.memoryWithout) == (3, 120 * MB)
    assert (first.processesWithout, first.memoryWithout) == (3, 120 * MB)


def test_a_child_still_starting_is_not_taken_as_its_idle_launch(tmp_path: Path) -> None:
    h = Harness()
    for n in range(2):
        h.initialize(requestId=n + 1)
    (child,) = h.gateway.readModel.status().servers["srv"].pids
    confinedTree(tmp_path, child)
    server = tmp_path / "90002"
    (server / "smaps_rollup").write_text("Rss: 10240 kB\nPss: 5120 kB\n")  # still loading
    started = [False]

    def status() -> GatewayStatus:
        now = h.gateway.readModel.status()
        if started[0]:
            return now
        srv = now.servers["srv"]
        children = tuple(replace(c, lifecycle=Lifecycle.STARTING) for c in srv.children)
        return replace(now, servers={**now.servers, "srv": replace(srv, children=children)})

    sampler = SavingsSampler(status, h.reactor, runNow, str(tmp_path))
    sampler.sample()
    h.reactor.advance(10)
    (server / "smaps_rollup").write_text("Rss: 51200 kB\nPss: 40960 kB\n")  # initialized
    started[0] = True
    sampler.sample()
    h.reactor.advance(10)
    (server / "smaps_rollup").write_text("Rss: 61440 kB\nPss: 51200 kB\n")  # grown by calls
    sampler.sample()
    savings = sampler.estimate(status())
    assert savings.servers["srv"].bytesPerLaunch == 40 * MB
    assert savings.memoryWithout == 2 * 40 * MB
