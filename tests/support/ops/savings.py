"""What tests/ops/test_savings.py shares with the other tests: MB, Sampled,
launch, npxSpec, and a fake /proc (fakeProcess, selfEntry)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.ops.savings import LaunchCost, ProcessCost, Sample, SavingsSampler, readSample
from mcpgateway.runtime import procfs
from tests.http import Harness, spec

MB = 1024 * 1024

PAGE = procfs.pageSize() or 4096
TICK = procfs.clockTicks() or 100


def fakeProcess(
    root: Path,
    pid: int,
    ppid: int,
    rss: int | None = None,
    pss: int | None = None,
    cpuTicks: tuple[int, int] = (0, 0),
    name: str = "node",
) -> None:
    """A /proc/<pid> with stat (ppid, utime, stime), statm (RSS) and
    smaps_rollup (PSS; absent when C{pss} is None, as on old kernels)."""
    base = root / str(pid)
    base.mkdir(parents=True)
    # Fields 3.. after the name: state, ppid, then 4..13, utime (14), stime (15), ...
    fields = ["S", str(ppid), *["0"] * 9, str(cpuTicks[0]), str(cpuTicks[1]), *["0"] * 10]
    (base / "stat").write_text(f"{pid} ({name}) " + " ".join(fields))
    if rss is not None:
        (base / "statm").write_text(f"9999 {rss // PAGE} 0 0 0 0 0")
    if pss is not None:
        (base / "smaps_rollup").write_text(
            "00400000-7fff00000000 ---p 00000000 00:00 0    [rollup]\n"
            f"Rss:     {(rss or 0) // 1024} kB\n"
            f"Pss:     {pss // 1024} kB\n"
            "Private_Dirty:   100 kB\n"
        )


def selfEntry(root: Path, rss: int = 30 * MB, pss: int = 20 * MB) -> None:
    (root / "self").mkdir(parents=True)
    (root / "self" / "statm").write_text(f"1 {rss // PAGE} 0")
    (root / "self" / "smaps_rollup").write_text(f"Rss: {rss // 1024} kB\nPss: {pss // 1024} kB\n")


def npxSpec(name: str, mode: str = "stateless") -> Any:
    return replace(spec(name, mode), command="/usr/bin/npx", args=("-y", f"{name}-pkg"))


def sampleOf(launches: dict[int, LaunchCost], gateway: int | None = 20 * MB) -> Sample:
    return Sample(launches, ProcessCost(rss=None, pss=gateway, cpu=None))


def launch(
    memory: int, processes: int = 1, wrappers: int = 0, wrapperMemory: int | None = None
) -> LaunchCost:
    return LaunchCost(
        root=ProcessCost(rss=memory + MB, pss=wrapperMemory or memory, cpu=0.5),
        processes=processes,
        rss=memory + MB,
        pss=memory,
        cpu=0.5,
        wrappers=wrappers,
        wrapperMemory=wrapperMemory,
    )


class Sampled:
    """A sampler whose /proc reads return what the test says, in a "thread"
    the test runs (so it sees that nothing is read on the reactor thread)."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.clock = h.reactor
        self.launches: dict[int, LaunchCost] = {}
        self.reads: list[list[int]] = []
        self.pending: list[tuple[Deferred[Sample], Any, tuple[Any, ...]]] = []
        self.sampler = SavingsSampler(h.gateway.readModel.status, self.clock, self.runInThread)

    def runInThread(self, f: Any, *args: Any) -> Deferred[Sample]:
        d: Deferred[Sample] = Deferred()
        self.pending.append((d, f, args))
        return d

    def runThreads(self) -> None:
        """Run the queued reads, as the thread pool would."""
        while self.pending:
            d, f, args = self.pending.pop(0)
            assert f is readSample
            pids, _procRoot = args
            self.reads.append(sorted(pids))
            d.callback(sampleOf({p: self.launches[p] for p in pids if p in self.launches}))

    def sample(self) -> None:
        self.sampler.sample()
        self.runThreads()

    def estimate(self) -> Any:
        return self.sampler.estimate(self.h.gateway.readModel.status())
