"""A measured level: C sessions through an MCP URL (L{runLevel}, the load
generators of C{mcpload.py load} or a client kind swapped in), the same calls
straight down one stdio pipe (L{runDirectOnce}), the verifier's self-check
against a misbehaving canned server, and a level repeated with its median run
kept (L{repeated}). Every figure of a level comes from here: calls/s,
latency percentiles, the wrong answers, the CPU of each side.
"""

from __future__ import annotations

import os
from typing import Any

import benchworker
from benchworker import Worker
from procstat import (
    QuietGate,
    cpuSnapshot,
    othersBetween,
    procCpu,
    procUserSys,
    systemBusy,
)


def percentiles(lat: list[int]) -> dict[str, float | None]:
    if not lat:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    lat = sorted(lat)
    n = len(lat)

    def at(q: float) -> float:
        return round(lat[min(n - 1, max(0, int(q * n + 0.999999) - 1))] / 1000, 3)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": round(lat[-1] / 1000, 3)}


DIRECT_WARMUP = 500
"""At most this many warm-up calls before a level's measured calls."""


def warmupPerSession(total: int, sessions: int) -> int:
    """Warm-up calls per session of a level of C{total} calls: in all as many
    as the direct driver sends down its pipe first (C{min(500, total)}), at
    least 5 each. So the child behind a gateway (Node's JIT) and the
    gateway's own code are as warm as the direct child when the measured
    calls start: with 5 per session, a C=1 level compared a child warmed by
    300 calls with one warmed by 6."""
    return max(5, -(-min(DIRECT_WARMUP, total) // max(1, sessions)))


def startWorkers(
    url: str, sessions: int, total: int, procs: int, warmup: int, maxSeconds: float
) -> list[Worker]:
    """C{sessions} sessions split over C{procs} load generator processes,
    C{total} calls in all, each generator waiting for C{GO}."""
    perSession = max(1, total // sessions)
    workers = []
    first = 0
    nonce = os.urandom(4).hex()
    for i in range(procs):
        n = sessions // procs + (1 if i < sessions % procs else 0)
        workers.append(
            Worker(
                benchworker.mcpload(
                    "load",
                    "--url",
                    url,
                    "--sessions",
                    str(n),
                    "--first",
                    str(first),
                    "--calls",
                    str(perSession),
                    "--warmup",
                    str(warmup),
                    "--max-seconds",
                    str(maxSeconds),
                    "--nonce",
                    nonce,
                    "--wait-go",
                )
            )
        )
        first += n
    return workers


class CpuWindow:
    """The CPU of the watched processes (C{watch}: name -> pids), of the
    machine and of every other process, taken before and after a level."""

    def __init__(self, watch: dict[str, list[int]], ours: set[int]) -> None:
        self.watch = watch
        self.ours = ours

    def start(self) -> None:
        watch = self.watch
        self.snap0 = cpuSnapshot()
        self.us0 = {name: procUserSys(pids[0]) for name, pids in watch.items() if pids}
        self.cpu0 = {name: sum(procCpu(p) for p in pids) for name, pids in watch.items()}
        self.busy0 = systemBusy()

    def stop(self) -> None:
        watch = self.watch
        self.busy1 = systemBusy()
        self.cpu1 = {name: sum(procCpu(p) for p in pids) for name, pids in watch.items()}
        self.us1 = {name: procUserSys(pids[0]) for name, pids in watch.items() if pids}
        self.snap1 = cpuSnapshot()

    def figures(self, ok: int, wall: float, loadgenSeconds: float) -> dict[str, Any]:
        """Cores used per watched name, by the load generators and by the
        rest of the machine; CPU per ok call; the busiest other processes."""
        watch, cpu0, cpu1, us0, us1 = self.watch, self.cpu0, self.cpu1, self.us0, self.us1
        cpu = {name: round((cpu1[name] - cpu0[name]) / wall, 3) for name in watch}
        perCall = {name: round((cpu1[name] - cpu0[name]) / ok * 1e6, 1) for name in watch if ok}
        userSys = {
            name: {
                "userUs": round((us1[name][0] - us0[name][0]) / ok * 1e6, 1),
                "sysUs": round((us1[name][1] - us0[name][1]) / ok * 1e6, 1),
            }
            for name in us0
            if ok
        }
        cpu["loadgen"] = round(loadgenSeconds / wall, 3)
        other = (self.busy1 - self.busy0) - sum(cpu.values()) * wall
        cpu["other"] = round(max(0.0, other) / wall, 3)
        return {
            "cpuCores": cpu,
            "cpuUsPerCall": perCall,
            "cpuUserSysPerCall": userSys,
            "otherProcesses": othersBetween(self.snap0, self.snap1, self.ours, wall),
        }


def runLevel(
    url: str,
    sessions: int,
    total: int,
    procs: int,
    watch: dict[str, list[int]],
    maxSeconds: float,
    warmup: int | None = None,
    gate: QuietGate | None = None,
    around: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """C{sessions} sessions, C{total} calls overall, split over C{procs} load
    generator processes started together. C{watch}: name -> pids whose CPU
    is reported (the server side). C{warmup}: calls per session before the
    measured ones (C{None}: L{warmupPerSession})."""
    if warmup is None:
        warmup = warmupPerSession(total, sessions)
    procs = max(1, min(procs, sessions))
    workers = startWorkers(url, sessions, total, procs, warmup, maxSeconds)
    try:
        for w in workers:
            w.expect("ready", 60)
        quiet = gate.wait() if gate else None
        ours = {
            os.getpid(),
            *(w.proc.pid for w in workers),
            *(p for pids in watch.values() for p in pids),
        }
        window = CpuWindow(watch, ours)
        window.start()
        if around:
            around[0]()
        for w in workers:
            w.say("GO")
        # The window ends with the measured calls: the sessions' DELETEs
        # after them (each ends a session, journaled) are not a call's cost.
        # A worker that does not say "measured" is read to its result.
        measured = [w.expect(("measured", "result"), maxSeconds + 30) for w in workers]
        if around:
            around[1]()
        window.stop()
        results = [
            m if m["event"] == "result" else w.expect("result", maxSeconds + 30)
            for m, w in zip(measured, workers, strict=True)
        ]
    finally:
        for w in workers:
            w.kill()
    lat: list[int] = []
    for r in results:
        lat.extend(r.pop("latUs"))
    wall = max(max(r["end"] for r in results) - min(r["start"] for r in results), 1e-9)
    ok = sum(r["ok"] for r in results)
    samples = [s for r in results for s in r["samples"]][:5]
    return {
        "sessions": sessions,
        "loadgenProcesses": procs,
        "callsPerSession": max(1, total // sessions),
        "ok": ok,
        "errors": sum(r["errors"] for r in results),
        "misrouted": sum(r["misrouted"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "seconds": round(wall, 3),
        "callsPerSecond": round(ok / wall, 1),
        "latencyMs": percentiles(lat),
        **window.figures(ok, wall, sum(r["cpuSeconds"] for r in results)),
        "quiet": quiet,
        "sseResponses": sum(r["sseResponses"] for r in results),
        "jsonResponses": sum(r["jsonResponses"] for r in results),
        **({"samples": samples} if samples else {}),
        "loop": results[0].get("loop"),
    }


def selfCheck() -> dict[str, Any]:
    """The verifier must see what it claims to count: a canned server that
    answers every 50th call with another call's message, and one that drops
    every 50th connection unanswered."""
    out = {}
    for flag, key in (("--corrupt-every", "misrouted"), ("--drop-every", "lost")):
        server = Worker(benchworker.mcpload("canned", flag, "50"))
        try:
            port = server.expect("listening", 30)["port"]
            r = runLevel(f"http://127.0.0.1:{port}/canned/mcp", 10, 1000, 1, {}, 20, warmup=0)
        finally:
            server.stop()
        out[key] = {
            "injected": f"every 50th call ({flag} 50)",
            "counted": r[key],
            "ok": r["ok"],
            "detected": r[key] > 0,
        }
    return out


def runDirectOnce(
    js: str,
    c: int,
    total: int,
    maxSeconds: float,
    gate: QuietGate | None,
) -> dict[str, Any]:
    """One fresh child: initialize, warm up, then C{total} calls with C{c} in flight."""
    w = Worker(
        benchworker.mcpload(
            "direct",
            "--concurrency",
            str(c),
            "--calls",
            str(total),
            "--warmup",
            str(min(DIRECT_WARMUP, total)),
            "--max-seconds",
            str(maxSeconds),
            "--wait-go",
            "--",
            "node",
            js,
            "stdio",
        )
    )
    try:
        started = w.expect("started", 60)
        quiet = gate.wait() if gate else None
        ours = {os.getpid(), w.proc.pid, started["pid"]}
        snap0 = cpuSnapshot()
        busy0 = systemBusy()
        w.say("GO")
        result = w.expect("result", 3 * (maxSeconds + 15))
        busy1 = systemBusy()
        snap1 = cpuSnapshot()
    finally:
        w.kill()
    lv = result["levels"][0]
    wall = max(lv["end"] - lv["start"], 1e-9)
    cpu = {
        "child": round(lv["childCpuSeconds"] / wall, 3),
        "driver": round(lv["cpuSeconds"] / wall, 3),
    }
    perCall = {"child": round(lv["childCpuSeconds"] / max(lv["ok"], 1) * 1e6, 1)}
    # busy covers the warm-up too: "other" is only an indication here
    total_ = busy1 - busy0
    return {
        "sessions": c,
        "ok": lv["ok"],
        "errors": lv["errors"],
        "misrouted": lv["misrouted"],
        "lost": lv["lost"],
        "seconds": round(wall, 3),
        "callsPerSecond": round(lv["ok"] / wall, 1),
        "latencyMs": percentiles(lv["latUs"]),
        "cpuCores": cpu,
        "cpuUsPerCall": perCall,
        "otherProcesses": othersBetween(snap0, snap1, ours, wall),
        "quiet": quiet,
        "childStartSeconds": started["startSeconds"],
        "busyCpuSeconds": round(total_, 2),
        "loop": result.get("loop"),
    }


def repeated(runs: int, fn: Any) -> dict[str, Any]:
    """Run C{fn} C{runs} times; keep the run with the median calls/s, and list all."""
    results = [fn() for _ in range(runs)]
    chosen = sorted(results, key=lambda r: r["callsPerSecond"])[(len(results) - 1) // 2]
    if runs > 1:
        chosen = {
            **chosen,
            "runs": [
                {
                    "callsPerSecond": r["callsPerSecond"],
                    "p50": r["latencyMs"]["p50"],
                    "p99": r["latencyMs"]["p99"],
                    "ok": r["ok"],
                    "misrouted": r["misrouted"],
                    "lost": r["lost"],
                    "errors": r["errors"],
                }
                for r in results
            ],
        }
        # correctness counts over every run, not only the median one
        for key in ("misrouted", "lost", "errors"):
            chosen[key + "AllRuns"] = sum(r[key] for r in results)
    return chosen
