"""What tests/ops/test_savings.py shares with the other tests: MB, Sampled,
launch, npxSpec."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.ops.savings import LaunchCost, ProcessCost, Sample, SavingsSampler, readSample
from tests.http import Harness, spec

MB = 1024 * 1024


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
