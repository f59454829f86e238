"""What sharing children saves: the sample (a fake /proc tree), the estimate
(a gateway with fake children), the sampler's thread and schedule, /metrics."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from mcpgateway.core.spec import Sharing
from mcpgateway.core.status import SessionStatus
from mcpgateway.ops.savings import (
    REFRESH_GAP,
    SAMPLE_INTERVAL,
    ProcessCost,
    Sample,
    SavingsSampler,
    SavingsService,
    descendants,
    readSample,
)
from mcpgateway.protocol.era2026form import CLIENT_INFO_KEY
from mcpgateway.report.savings import savingsLines
from mcpgateway.sandbox.proxyplan import FORWARDER
from tests.http import Harness, spec
from tests.support.ops.savings import (
    MB,
    TICK,
    Sampled,
    fakeProcess,
    launch,
    npxSpec,
    sampleOf,
    selfEntry,
)
from tests.support.web.fakeera2026 import body, headersFor

# -- the sample -----------------------------------------------------------------


def test_a_sample_measures_each_child_with_its_descendants(tmp_path: Path) -> None:
    fakeProcess(tmp_path, 1, 0, rss=MB)
    fakeProcess(tmp_path, 100, 1, rss=40 * MB, pss=30 * MB, cpuTicks=(TICK, TICK))  # npx
    fakeProcess(tmp_path, 101, 100, rss=60 * MB, pss=50 * MB, cpuTicks=(2 * TICK, 0))  # server
    fakeProcess(tmp_path, 102, 101, rss=8 * MB, pss=4 * MB)  # a helper it runs
    fakeProcess(tmp_path, 200, 1, rss=20 * MB)  # no smaps_rollup: RSS stands in
    fakeProcess(tmp_path, 300, 1, rss=5 * MB, pss=5 * MB)  # not a child of the gateway
    selfEntry(tmp_path)
    sample = readSample([100, 200, 999], str(tmp_path))
    assert set(sample.launches) == {100, 200}  # 999 is gone
    npx = sample.launches[100]
    assert npx.processes == 3
    assert npx.pss == 84 * MB and npx.rss == 108 * MB and npx.memory == 84 * MB
    assert npx.measure == "pss"
    assert npx.cpu == pytest.approx(4.0)
    assert (npx.root.rss, npx.root.pss) == (40 * MB, 30 * MB)
    assert npx.root.cpu == pytest.approx(2.0)
    plain = sample.launches[200]
    assert (plain.processes, plain.pss, plain.memory, plain.measure) == (1, None, 20 * MB, "rss")
    assert sample.gateway == ProcessCost(rss=30 * MB, pss=20 * MB, cpu=None)


def test_the_wrappers_at_the_top_of_a_launch_are_told_apart(tmp_path: Path) -> None:
    # What `npx --no-install mcp-server-memory` runs (cmdlines as /proc shows them).
    fakeProcess(tmp_path, 10, 1, rss=60 * MB, pss=40 * MB)
    (tmp_path / "10" / "cmdline").write_bytes(b"npm exec mcp-server-memory" + b"\0" * 12)
    fakeProcess(tmp_path, 11, 10, rss=2 * MB, pss=MB, name="sh")
    (tmp_path / "11" / "cmdline").write_bytes(b"sh\0-c\0'mcp-server-memory'\0")
    fakeProcess(tmp_path, 12, 11, rss=50 * MB, pss=30 * MB)
    (tmp_path / "12" / "cmdline").write_bytes(b"node\0/p/.bin/mcp-server-memory\0")
    fakeProcess(tmp_path, 13, 12, rss=5 * MB, pss=5 * MB, name="sh")  # the server's own helper
    (tmp_path / "13" / "cmdline").write_bytes(b"sh\0-c\0helper\0")
    # A resolved launch: the server itself, a node with one child of its own.
    fakeProcess(tmp_path, 20, 1, rss=50 * MB, pss=30 * MB)
    (tmp_path / "20" / "cmdline").write_bytes(b"node\0/cache/bin.js\0")
    fakeProcess(tmp_path, 21, 20, rss=5 * MB, pss=5 * MB)
    # npx as node running npx-cli.js (npm did not rewrite its title).
    fakeProcess(tmp_path, 30, 1, rss=40 * MB, pss=20 * MB)
    (tmp_path / "30" / "cmdline").write_bytes(b"/usr/bin/node\0/usr/lib/npx-cli.js\0-y\0x\0")
    fakeProcess(tmp_path, 31, 30, rss=50 * MB, pss=30 * MB)
    selfEntry(tmp_path)
    sample = readSample([10, 20, 30], str(tmp_path))
    wrapped = sample.launches[10]
    assert (wrapped.processes, wrapped.wrappers, wrapped.wrapperMemory) == (4, 2, 41 * MB)
    assert wrapped.pss == 76 * MB
    plain = sample.launches[20]
    assert (plain.processes, plain.wrappers, plain.wrapperMemory) == (2, 0, None)
    assert sample.launches[30].wrappers == 1


def test_a_confined_child_is_measured_below_its_sandbox(tmp_path: Path) -> None:
    # bubblewrap (the launcher exec'd it), its pid namespace's init, then the server.
    fakeProcess(tmp_path, 40, 1, rss=3 * MB, pss=2 * MB, name="bwrap")
    (tmp_path / "40" / "cmdline").write_bytes(b"/usr/bin/bwrap\0--unshare-pid\0--\0node\0")
    fakeProcess(tmp_path, 41, 40, rss=MB, pss=MB, name="bwrap")
    (tmp_path / "41" / "cmdline").write_bytes(b"/usr/bin/bwrap\0--unshare-pid\0--\0node\0")
    fakeProcess(tmp_path, 42, 41, rss=50 * MB, pss=30 * MB)
    (tmp_path / "42" / "cmdline").write_bytes(b"node\0/cache/bin.js\0")
    fakeProcess(tmp_path, 43, 42, rss=5 * MB, pss=5 * MB)
    fakeProcess(tmp_path, 44, 42, rss=9 * MB, pss=9 * MB, name="python3")  # the forwarder
    fakeProcess(tmp_path, 45, 44, rss=MB, pss=MB)  # (none: it would go with it)
    forwarder = b"python3\0-I\0-S\0" + FORWARDER.encode() + b"\0003128\0--\0node\0"
    (tmp_path / "44" / "cmdline").write_bytes(forwarder)
    # A server named bwrap with two children is a server: measured whole.
    fakeProcess(tmp_path, 50, 1, rss=MB, pss=MB, name="bwrap")
    (tmp_path / "50" / "cmdline").write_bytes(b"bwrap\0")
    fakeProcess(tmp_path, 51, 50, rss=MB, pss=MB)
    fakeProcess(tmp_path, 52, 50, rss=MB, pss=MB)
    selfEntry(tmp_path)
    sample = readSample([40, 50], str(tmp_path))
    confined = sample.launches[40]  # still the child the gateway knows
    assert (confined.processes, confined.pss, confined.wrappers) == (2, 35 * MB, 0)
    assert (confined.root.rss, confined.root.pss) == (50 * MB, 30 * MB)
    assert sample.launches[50].processes == 3


def test_descendants_survive_a_parent_loop_and_pid_one(tmp_path: Path) -> None:
    fakeProcess(tmp_path, 5, 6, rss=MB)
    fakeProcess(tmp_path, 6, 5, rss=MB)  # impossible, but /proc is read non-atomically
    assert descendants([5], str(tmp_path)) == {5: [5, 6]}
    assert descendants([], str(tmp_path)) == {}


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.integers(2, 40), st.integers(0, 40), max_size=25), st.integers(2, 40))
def test_any_parent_table_gives_each_process_once(parents: dict[int, int], root: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as where:
        for pid, ppid in parents.items():
            fakeProcess(Path(where), pid, ppid, rss=MB)
        tree = descendants([root], where)[root]
        assert tree[0] == root and len(tree) == len(set(tree))


# -- the estimate -----------------------------------------------------------------


def test_sessions_sharing_one_child_save_the_launches_they_did_not_run() -> None:
    h = Harness()
    for n in range(5):
        h.initialize(requestId=n + 1)
    (child,) = h.gateway.readModel.status().servers["srv"].pids
    s = Sampled(h)
    s.launches[child] = launch(40 * MB, processes=1)
    s.sample()
    assert s.reads == [[child]]
    savings = s.estimate()
    srv = savings.servers["srv"]
    assert (srv.sessions, srv.children, srv.processes) == (5, 1, 1)
    assert srv.processesAvoided == 4 and srv.memoryAvoidedBytes == 4 * 40 * MB
    assert (srv.bytesPerLaunch, srv.measure, srv.wrapper, srv.wrappersAvoided) == (
        40 * MB,
        "pss",
        None,
        0,
    )
    assert (savings.processesAvoided, savings.memoryAvoidedBytes) == (4, 160 * MB)
    assert savings.measure == "pss" and savings.gatewayBytes == 20 * MB
    assert savings.sampledAt == s.clock.seconds() and savings.wrappersCounted


def test_a_resolved_npx_entry_also_saves_one_wrapper_per_session_not_counted_unmeasured() -> None:
    h = Harness({"mem": npxSpec("mem")})
    pool = h.gateway.pools["mem"]
    resolved = replace(pool.spec, command="/usr/bin/node", args=("/cache/bin.js",))
    pool.launchAfter(succeed(resolved), "its npx command to resolve")
    for n in range(3):
        h.initialize("mem", requestId=n + 1)
    (child,) = h.gateway.readModel.status().servers["mem"].pids
    s = Sampled(h)
    s.launches[child] = launch(50 * MB)
    s.sample()
    savings = s.estimate()
    mem = savings.servers["mem"]
    assert (mem.wrapper, mem.wrappersAvoided, mem.wrapperBytes) == ("npx", 3, None)
    assert mem.processesAvoided == 2 + 3
    assert mem.memoryAvoidedBytes == 2 * 50 * MB  # the wrappers' memory: never measured
    assert savings.wrappersAvoided == 3 and not savings.wrappersCounted


def test_a_wrapper_the_gateway_ran_is_measured_and_counted_for_resolved_entries() -> None:
    h = Harness({"raw": npxSpec("raw"), "mem": npxSpec("mem")})
    mem = h.gateway.pools["mem"]
    binary = replace(mem.spec, command="/usr/bin/node", args=("/cache/bin.js",))
    mem.launchAfter(succeed(binary), "its npx command to resolve")
    h.initialize("raw", requestId=1)  # unresolved: its child is npx, the server below it
    h.initialize("raw", requestId=2)
    h.initialize("mem", requestId=3)
    h.initialize("mem", requestId=4)
    servers = h.gateway.readModel.status().servers
    (raw,), (resolved,) = servers["raw"].pids, servers["mem"].pids
    s = Sampled(h)
    # npm exec and its sh -c (35 MB together), then the server: 3 processes, 90 MB.
    s.launches[raw] = launch(90 * MB, processes=3, wrappers=2, wrapperMemory=35 * MB)
    s.launches[resolved] = launch(50 * MB)
    s.sample()
    savings = s.estimate()
    rawLine, memLine = savings.servers["raw"], savings.servers["mem"]
    # The unresolved entry: its wrappers are inside each launch it avoids.
    assert (rawLine.wrappersAvoided, rawLine.processesAvoided) == (0, 3)
    assert rawLine.memoryAvoidedBytes == 90 * MB
    # The resolved one: one launch (50 MB), and the two sessions' wrappers,
    # two processes each at the measured 35 MB a launch.
    assert (memLine.wrappersAvoided, memLine.wrapperBytes) == (4, 35 * MB)
    assert (memLine.processesAvoided, memLine.memoryAvoidedBytes) == (1 + 4, 50 * MB + 70 * MB)
    assert savings.wrappersCounted


def test_a_child_per_session_saves_nothing_but_children_without_sessions_cost() -> None:
    h = Harness({"st": spec("st", "stateful"), "idle": spec("idle")})
    h.initialize("st", requestId=1)
    h.initialize("st", requestId=2)
    idle = h.initialize("idle", requestId=3)
    h.request("DELETE", "/idle/mcp", session=idle)  # its shared child stays
    status = h.gateway.readModel.status()
    assert len(status.servers["st"].pids) == 2 and len(status.servers["idle"].pids) == 1
    s = Sampled(h)
    for pid in [*status.servers["st"].pids, *status.servers["idle"].pids]:
        s.launches[pid] = launch(10 * MB)
    s.sample()
    savings = s.estimate()
    assert savings.servers["st"].processesAvoided == 0
    assert savings.servers["st"].memoryAvoidedBytes == 0
    assert savings.servers["idle"].processesAvoided == -1
    assert savings.servers["idle"].memoryAvoidedBytes == -10 * MB
    assert savings.processesAvoided == -1


def test_sessions_whose_child_stopped_keep_the_last_measure() -> None:
    h = Harness()
    h.initialize(requestId=1)
    h.initialize(requestId=2)
    (child,) = h.gateway.readModel.status().servers["srv"].pids
    s = Sampled(h)
    s.launches[child] = launch(40 * MB, processes=2)
    s.sample()
    h.gateway.pools["srv"].stopShared()  # the idle stop: sessions stay
    h.reactor.advance(10)
    status = h.gateway.readModel.status()
    assert status.servers["srv"].pids == [] and status.servers["srv"].sessions == 2
    srv = s.sampler.estimate(status).servers["srv"]
    assert (srv.children, srv.processes, srv.pssBytes) == (0, 0, None)
    assert srv.processesAvoided == 4 and srv.memoryAvoidedBytes == 80 * MB


def test_an_unmeasured_server_counts_processes_but_not_memory() -> None:
    h = Harness()
    h.initialize(requestId=1)
    h.initialize(requestId=2)
    s = Sampled(h)  # never sampled
    srv = s.sampler.estimate(h.gateway.readModel.status()).servers["srv"]
    assert (srv.processesAvoided, srv.memoryAvoidedBytes, srv.bytesPerLaunch) == (1, None, None)


def test_aggregate_sessions_count_for_the_members_they_opened() -> None:
    h = Harness()
    h.initialize(requestId=1)
    status = h.gateway.readModel.status()
    aggregate = SessionStatus(
        id="agg",
        server="mcp",
        clientPid=None,
        client="c",
        protocolVersion="2025-11-25",
        sharing=Sharing.GLOBAL,
        childPid=None,
        created=0.0,
        lastActivity=0.0,
        inFlight=0,
        getStream=False,
        members=("srv", "gone"),
    )
    status = replace(status, sessions=(*status.sessions, aggregate))
    s = Sampled(h)
    s.launches[status.servers["srv"].pids[0]] = launch(MB)
    s.sample()
    srv = s.sampler.estimate(status).servers["srv"]
    assert (srv.sessions, srv.processesAvoided) == (2, 1)


def test_clients_without_a_session_save_the_launches_they_did_not_run() -> None:
    """MCP 2026-07-28 clients open no session; each that used a server
    lately (its principal, clientInfo name and pid) counts as a launch of
    its own, so a server only they use saves processes."""
    h = Harness()
    callers = [("a", "11"), ("a", "12"), ("a", "12"), ("b", None), ("c", None), ("c", None)]
    for n, (name, pid) in enumerate(callers):
        message = body("server/discover", n, _meta={CLIENT_INFO_KEY: {"name": name}})
        headers = headersFor(message) | ({} if pid is None else {"x-client-pid": pid})
        response = h.request("POST", "/srv/mcp", message, headers=headers)
        if not response.complete:
            h.answerHandshake()
        assert response.status == 200, response.body
    status = h.gateway.readModel.status()
    assert status.sessions == ()
    s = Sampled(h)
    s.launches[status.servers["srv"].pids[0]] = launch(10 * MB)
    s.sample()
    savings = s.estimate()
    srv = savings.servers["srv"]
    assert (srv.sessions, srv.children, srv.processesAvoided) == (4, 1, 3)
    assert srv.memoryAvoidedBytes == 3 * 10 * MB
    assert savings.processesWithout == 4


def test_a_pid_sampled_for_another_server_is_not_taken_for_this_one() -> None:
    h = Harness()
    h.initialize(requestId=1)
    h.initialize(requestId=2)
    (child,) = h.gateway.readModel.status().servers["srv"].pids
    s = Sampled(h)
    s.sampler.last = sampleOf({child: launch(99 * MB)})  # read as another server's pid
    srv = s.sampler.estimate(h.gateway.readModel.status()).servers["srv"]
    assert srv.bytesPerLaunch is None and srv.memoryAvoidedBytes is None


# -- the sampler's thread and schedule -----------------------------------------------


def test_reads_run_in_the_thread_pool_one_at_a_time() -> None:
    h = Harness()
    h.initialize()
    s = Sampled(h)
    assert s.sampler.sample() is not None
    assert s.sampler.sample() is None  # the first read is still under way
    assert s.reads == [] and s.sampler.last is None  # nothing read on this thread
    s.runThreads()
    assert len(s.reads) == 1 and s.sampler.last is not None
    assert s.sampler.sample() is not None


def test_the_last_sampled_rss_of_a_child_without_reading_proc() -> None:
    h = Harness()
    h.initialize()
    (child,) = h.gateway.readModel.status().servers["srv"].pids
    s = Sampled(h)
    assert s.sampler.rss(child) is None
    s.launches[child] = launch(40 * MB, processes=2)
    s.sample()
    assert s.sampler.rss(child) == 41 * MB and s.sampler.rss(child + 1) is None


def test_a_failed_read_is_logged_and_the_next_one_runs() -> None:
    h = Harness()
    failures: list[Any] = []

    def broken(f: Any, *args: Any) -> Deferred[Sample]:
        failures.append(f)
        d: Deferred[Sample] = Deferred()
        d.errback(OSError("no /proc"))
        return d

    sampler = SavingsSampler(h.gateway.readModel.status, h.reactor, broken)
    sampler.sample()
    sampler.sample()
    assert len(failures) == 2 and sampler.last is None


def test_a_thread_pool_that_refuses_does_not_stop_later_samples() -> None:
    h = Harness()
    calls: list[Any] = []

    def refusing(f: Any, *args: Any) -> Deferred[Sample]:
        calls.append(f)
        raise RuntimeError("no thread pool")

    sampler = SavingsSampler(h.gateway.readModel.status, h.reactor, refusing)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            sampler.sample()
    assert len(calls) == 2
    h.initialize()
    h.reactor.advance(REFRESH_GAP)
    # An estimate that asks for a sample still renders (the refusal is logged).
    assert sampler.estimate(h.gateway.readModel.status()).servers["srv"].processesAvoided == 0
    assert len(calls) == 3


def test_a_new_child_asks_for_a_sample_at_most_every_refresh_gap() -> None:
    h = Harness()
    s = Sampled(h)
    s.sample()  # no child yet
    h.reactor.advance(REFRESH_GAP)
    h.initialize()
    s.estimate()  # the child is unseen: a read starts
    s.runThreads()
    (child,) = h.gateway.readModel.status().servers["srv"].pids
    assert s.reads == [[], [child]]
    s.estimate()  # seen (it has no cost in the fake: unseen again, but too soon)
    s.runThreads()
    assert len(s.reads) == 2


def test_the_service_samples_at_start_and_every_interval_until_stopped() -> None:
    clock = Clock()
    calls: list[int] = []

    class Counting:
        def sample(self) -> None:
            calls.append(1)

    service = SavingsService(Counting(), clock)  # type: ignore[arg-type]
    service.startService()
    assert len(calls) == 1
    clock.advance(SAMPLE_INTERVAL)
    assert len(calls) == 2
    service.stopService()
    clock.advance(SAMPLE_INTERVAL * 3)
    assert len(calls) == 2


def test_the_real_reader_on_this_machine() -> None:
    import os
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        sample = readSample([child.pid])
        cost = sample.launches[child.pid]
        assert cost.processes == 1 and (cost.rss or 0) > MB
        if os.path.exists(f"/proc/{child.pid}/smaps_rollup"):
            assert cost.pss is not None and 0 < cost.pss <= (cost.rss or 0)
        assert (sample.gateway.rss or 0) > MB
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()


# -- /metrics --------------------------------------------------------------------


def test_metrics_lines_per_server() -> None:
    h = Harness({"a": spec("a"), 'we"ird': spec('we"ird')})
    h.initialize("a", requestId=1)
    h.initialize("a", requestId=2)
    s = Sampled(h)
    s.launches[h.gateway.readModel.status().servers["a"].pids[0]] = launch(10 * MB)
    s.sample()
    status = h.gateway.readModel.status()
    assert savingsLines(status) == []  # no estimate in the read model: nothing
    lines = savingsLines(replace(status, savings=s.sampler.estimate(status)))
    assert [line for line in lines if not line.startswith("#")] == [
        'mcpgateway_processes_avoided{server="a"} 1',
        'mcpgateway_processes_avoided{server="we\\"ird"} 0',
        f'mcpgateway_memory_avoided_bytes{{server="a"}} {10 * MB}',
        'mcpgateway_memory_avoided_bytes{server="we\\"ird"} 0',
    ]
    assert "# TYPE mcpgateway_processes_avoided gauge" in lines
    assert "# TYPE mcpgateway_memory_avoided_bytes gauge" in lines


def test_a_sandbox_helper_beside_a_wrapper_leaves_it_a_wrapper(tmp_path: Path) -> None:
    fakeProcess(tmp_path, 60, 1, rss=60 * MB, pss=40 * MB)
    (tmp_path / "60" / "cmdline").write_bytes(b"npm exec mcp-server-memory" + b"\0" * 12)
    fakeProcess(tmp_path, 61, 60, rss=9 * MB, pss=9 * MB, name="python3")
    (tmp_path / "61" / "cmdline").write_bytes(b"python3\0-I\0-S\0" + FORWARDER.encode() + b"\0")
    fakeProcess(tmp_path, 62, 60, rss=50 * MB, pss=30 * MB)
    (tmp_path / "62" / "cmdline").write_bytes(b"node\0/p/.bin/mcp-server-memory\0")
    selfEntry(tmp_path)
    launch = readSample([60], str(tmp_path)).launches[60]
    assert (launch.processes, launch.wrappers, launch.wrapperMemory) == (2, 1, 40 * MB)
