#!/usr/bin/env python3
"""What the Tasks extension costs: the store per task, a poll, and a short call.

    .venv/bin/python benchmarks/tasks.py [--quick] [--rounds R] [--calls N]
                                          [--ops N] [--load-sizes 1000 10000]

store: L{mcpgateway.core.tasks.store.TaskStore} in process, its journal in a
temporary folder (C{--dir}; its file system is reported: C{fdatasync} on tmpfs
costs nothing): µs per C{create} (append + C{fdatasync}), non-terminal
C{update} (append), terminal C{update} (append + C{fdatasync}) and C{get}
(memory), beside the disk's own append + C{fdatasync}; C{load} of a journal of
N completed tasks and its bytes per task; the manager's room check, which every
declared C{tools/call} makes, with N tasks kept.

poll and call: a real gateway (as C{mcpgateway start} runs it) in front of the
conformance fixture, stateless 2026-07-28 requests on keep-alive
C{http.client} connections (a thread each), at C=1 and C=16: C{tasks/get} on
a working and on a completed task; C{tools/call greet} (C{taskSupport:
forbidden}) and C{slow_compute(seconds=0)} (C{optional}: a declared call races
the C{--task-after} timer and is answered as it is), each without and with the
extension declared, and straight down the fixture's stdio pipe (the floor).
Rounds interleave the levels; a level reports its median calls/s over the
rounds, p50/p99 over all its calls, and the CPU per call of the gateway
(C{/proc/<pid>/task/*/schedstat}), the child and this client
(C{/proc/<pid>/stat}), and the cores everything else used (C{/proc/stat}), so
a busy neighbour shows in the figures.

task path: a second gateway with C{--task-after 0}: a declared
C{slow_compute(0)} becomes a task at once; the time to its C{CreateTaskResult}
and until C{tasks/get}, polled without pause, shows it completed.

Prints markdown tables and writes C{benchmarks/results/tasks.json} and
C{tasks.md}. Loopback only; every loop is bounded by a count and a deadline;
never asserts timings. Not part of the pytest suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from twisted.internet.defer import succeed  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402

from mcpgateway.core.era2026.types import Era2026Request  # noqa: E402
from mcpgateway.core.tasks.manager import TaskManager  # noqa: E402
from mcpgateway.core.tasks.model import (  # noqa: E402
    COMPLETED,
    EXTENSION,
    INPUT_REQUIRED,
    WORKING,
    Task,
)
from mcpgateway.core.tasks.store import JOURNAL_NAME, TaskStore  # noqa: E402
from tests.integration.gateway import RunningGateway, writeConfig  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from taskload import (  # noqa: E402
    FIXTURE,
    SERVER,
    Direct,
    Http2026,
    Level,
    callOp,
    childOf,
    pct,
    pollOp,
    quiet,
    runLevel,
    summary,
)
from tasksreport import report  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def fileSystem(path: Path) -> str:
    """The type of the file system C{path} is on (longest mount prefix)."""
    best, kind = "", "?"
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            mount = parts[1]
            if str(path).startswith(mount) and len(mount) > len(best):
                best, kind = mount, parts[2]
    return kind


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


# -- the store, in process -----------------------------------------------------------

RESULT = {
    "content": [{"type": "text", "text": "computed nightly-report after 1.0s"}],
    "isError": False,
    "resultType": "complete",
    "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "fixture", "version": "1.0.0"}},
}
"""A short tool result, as the fixture's (a terminal update keeps it)."""
SCHEMA = {"type": "object", "properties": {"confirm": {"type": "boolean"}}}
ASKED = {
    "method": "elicitation/create",
    "params": {"message": "Delete?", "requestedSchema": SCHEMA},
}
"""One elicitation of a call that asks its client (a non-terminal update keeps it)."""


def newTask(now: float) -> Task:
    """A task as the manager makes one."""
    return Task(
        taskId=secrets.token_urlsafe(18),
        server=SERVER,
        scope="",
        principal="",
        tool="slow_compute",
        createdAt=now,
        ttlMs=3_600_000,
        pollIntervalMs=500,
    )


def waiting(task: Task) -> None:
    """The change of a call that asks its client (a non-terminal update)."""
    task.status, task.inputRequests = INPUT_REQUIRED, {"confirm": ASKED}
    task.requestState, task.answered = secrets.token_urlsafe(96), {}


def finished(task: Task) -> None:
    """The change of a call that ended (a terminal update)."""
    task.status, task.result = COMPLETED, RESULT
    task.inputRequests, task.requestState, task.answered = None, None, {}


def timed(action: Callable[[], object]) -> float:
    """µs C{action} took (its own clock read included: see C{timerFloor})."""
    started = time.perf_counter_ns()
    action()
    return (time.perf_counter_ns() - started) / 1000


def storeOps(folder: Path, count: int) -> dict[str, Any]:
    """µs per create, non-terminal update, terminal update and get, on one
    store, in that order (the order a task lives them); a compaction during
    a phase (the journal rewritten whole) is counted and shows in its max."""
    store = TaskStore(folder / JOURNAL_NAME)
    tasks = [newTask(time.time()) for _ in range(count)]
    phases: dict[str, Any] = {}

    def phase(name: str, each: Callable[[Task], object]) -> None:
        lines, compactions, samples = store._lines, 0, []
        for task in tasks:
            samples.append(timed(partial(each, task)))
            compactions += store._lines < lines
            lines = store._lines
        phases[name] = {**summary(samples), "compactions": compactions}

    def ask(task: Task) -> None:
        waiting(task)
        store.update(task)

    def end(task: Task) -> None:
        finished(task)
        store.update(task)

    phase("create", store.create)
    createBytes = (folder / JOURNAL_NAME).stat().st_size // max(1, count)
    phase("update", ask)
    phase("terminal", end)
    phases["get"] = summary([timed(partial(store.get, t.taskId)) for t in tasks * 5])
    phases["timerFloor"] = summary([timed(lambda: None) for _ in range(count)])
    phases["disk"] = diskAlone(folder, count, createBytes)
    phases["createBytes"] = createBytes
    phases["syncs"], phases["writes"] = store.syncs, store.writes
    return phases


def diskAlone(folder: Path, count: int, lineBytes: int) -> dict[str, float]:
    """µs per open + write + fdatasync + close of one line: the disk's part of
    a durable append."""
    path, line = folder / "disk.probe", b"x" * max(1, lineBytes - 1) + b"\n"

    def append() -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            os.fdatasync(fd)
        finally:
            os.close(fd)

    samples = [timed(append) for _ in range(count)]
    path.unlink()
    return summary(samples)


def storeLoad(folder: Path, count: int) -> dict[str, Any]:
    """A journal of C{count} completed tasks (a create line and a terminal
    line each, as the gateway writes them) read by a new store; then the
    room check a declared C{tools/call} makes with those tasks kept."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / JOURNAL_NAME
    encode = json.JSONEncoder(sort_keys=True, allow_nan=False, ensure_ascii=True).encode
    now = time.time()
    with path.open("wb") as f:
        for _ in range(count):
            task = newTask(now)
            f.write(encode(task.record()).encode() + b"\n")
            finished(task)
            f.write(encode(task.record()).encode() + b"\n")
    journal = path.read_bytes()
    loads = []
    for _ in range(3):  # load compacts the journal: each round reads the same one
        path.write_bytes(journal)
        store = TaskStore(path)
        loads.append(timed(partial(store.load, "cut by a restart")) / 1000)
    manager = TaskManager(store, Clock())
    room = [timed(lambda: manager.hasTaskCapacity("")) for _ in range(50)]
    return {
        "tasks": len(store),
        "journalBytes": len(journal),
        "bytesPerTask": round(len(journal) / count),
        "compactedBytesPerTask": round(path.stat().st_size / count),
        "loadMs": round(statistics.median(loads), 2),
        "roomCheckUs": summary(room),
    }


def managerCalls(count: int) -> dict[str, Any]:
    """µs per quick C{tools/call} through L{TaskManager.call} in process,
    the child's answer already there: not declared (straight to the child),
    and declared (the race: the room check with no task kept, a timer on
    the gateway's reactor set and cancelled, the answer passed on)."""
    from mcpgateway.tuned.reactor import GatewayReactor

    reactor = GatewayReactor()  # never run: its timers are only set and cancelled
    manager = TaskManager(TaskStore(None), reactor)
    answer = {"jsonrpc": "2.0", "id": 1, "result": {"content": [], "resultType": "complete"}}
    result: dict[str, Any] = {}
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("plain", {}),
        ("declared", {"extensions": {EXTENSION: {}}}),
    ]
    for key, capabilities in kinds:
        request = Era2026Request(
            clientId=1,
            method="tools/call",
            params={"name": "slow_compute", "arguments": {"seconds": 0}},
            capabilities=capabilities,
        )
        samples = []
        for i in range(count):
            samples.append(
                timed(
                    lambda request=request: manager.call(  # type: ignore[misc]
                        SERVER,
                        request,
                        lambda message: True,
                        lambda request, sink: succeed(answer),
                        lambda request, tool: succeed("optional"),
                    )
                )
            )
            if i % 100 == 99:
                reactor.runUntilCurrent()  # drops the cancelled timers, as each turn does
        result[key] = summary(samples)
    result["fastAnswers"] = manager.fastAnswers
    return result


def storePart(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="mcpgateway-tasks-", dir=args.dir))
    try:
        result: dict[str, Any] = {"dir": str(folder.parent), "fs": fileSystem(folder)}
        (folder / "ops").mkdir()
        result["ops"] = storeOps(folder / "ops", args.ops)
        result["loads"] = [storeLoad(folder / f"load{n}", n) for n in args.load_sizes]
        result["manager"] = managerCalls(args.ops)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- the gateway: poll and call levels, interleaved ----------------------------------


@dataclass(frozen=True)
class Variant:
    """One thing measured over HTTP or the pipe."""

    key: str
    label: str
    tool: str = ""
    declared: bool = False
    direct: bool = False
    poll: str = ""


VARIANTS = (
    Variant("poll-working", "`tasks/get`, a working task", poll=WORKING),
    Variant("poll-completed", "`tasks/get`, a completed task (result inlined)", poll=COMPLETED),
    Variant("greet-plain", "`greet`, extension not declared", tool="greet"),
    Variant("greet-declared", "`greet`, declared (forbidden: run as is)", "greet", True),
    Variant("greet-direct", "`greet`, direct stdio to the fixture", "greet", direct=True),
    Variant("sc0-plain", "`slow_compute(0)`, not declared", tool="slow_compute"),
    Variant("sc0-declared", "`slow_compute(0)`, declared (races the timer)", "slow_compute", True),
    Variant("sc0-direct", "`slow_compute(0)`, direct stdio", "slow_compute", direct=True),
)

LABELS = {variant.key: variant.label for variant in VARIANTS}


def startGateway(home: Path, *extra: str) -> RunningGateway:
    """A gateway (as C{mcpgateway start} runs it) with the fixture as its
    one shared child, its state (and tasks.journal) under C{home}. The
    child's request timeout is an hour: a task's call is an ordinary
    request to the child, so the polled working task would fail after the
    default 60 s."""
    spec = {
        "command": sys.executable,
        "args": [str(FIXTURE)],
        "share": "global",
        "requestTimeout": 3_600_000,
    }
    config = writeConfig(home / "servers.json", {SERVER: spec})
    return RunningGateway(["--config", str(config), *extra], home)


def makeTasks(port: int) -> dict[str, str]:
    """One working task (a long call) and one completed task to poll."""
    client = Http2026(port, declared=True)
    working = client.call("slow_compute", {"seconds": 3600, "label": "polled"})
    done = client.call("slow_compute", {"seconds": 0.6, "label": "done"})
    if not (working and done and working.get("resultType") == "task" == done.get("resultType")):
        raise SystemExit(f"the slow calls did not become tasks: {working} {done}")
    deadline = time.monotonic() + 10
    while (client.get(done["taskId"]) or {}).get("status") != COMPLETED:
        if time.monotonic() > deadline:
            raise SystemExit("the short task did not complete")
        time.sleep(0.05)
    client.close()
    return {WORKING: working["taskId"], COMPLETED: done["taskId"]}


def levelOf(
    variant: Variant,
    concurrency: int,
    calls: int,
    gateway: RunningGateway,
    direct: Direct,
    tasks: dict[str, str],
) -> Level:
    deadline = time.monotonic() + 60
    if variant.direct:
        return direct.level(variant.tool, concurrency, calls, deadline)
    port, pid = gateway.port, gateway.process.pid
    if variant.poll:
        taskId = tasks[variant.poll]
        return runLevel(
            lambda: pollOp(port, taskId, variant.poll), concurrency, calls, deadline, (pid, None)
        )
    return runLevel(
        lambda: callOp(port, variant.declared, variant.tool),
        concurrency,
        calls,
        deadline,
        (pid, childOf(pid)),
    )


def httpPart(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Every variant at every C, C{--rounds} interleaved rounds."""
    gateway, direct = startGateway(home), Direct()
    runs: dict[tuple[str, int], list[Level]] = {}
    waits: list[dict[str, float]] = []
    try:
        tasks = makeTasks(gateway.port)
        chosen = tuple(v for v in VARIANTS if not args.only or v.key in args.only)
        for variant in chosen:  # warm-up, not counted
            for concurrency in args.concurrency:
                levelOf(variant, concurrency, args.warmup, gateway, direct, tasks)
        for r in range(args.rounds):
            order = chosen if r % 2 == 0 else tuple(reversed(chosen))
            for variant in order:
                for concurrency in args.concurrency:
                    calls = args.calls * (2 if concurrency > 1 else 1)
                    waits.append(quiet(args.quiet_budget))
                    level = levelOf(variant, concurrency, calls, gateway, direct, tasks)
                    runs.setdefault((variant.key, concurrency), []).append(level)
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        journal = home / "state" / JOURNAL_NAME
        journalBytes = journal.stat().st_size if journal.exists() else 0
        working = tasks[WORKING]
        Http2026(gateway.port, True).request("tasks/cancel", {"taskId": working}, working)
    finally:
        direct.stop()
        gateway.stop()
    levels = [
        {"variant": key, "label": LABELS[key], "concurrency": c, **aggregate(found)}
        for (key, c), found in runs.items()
    ]
    return {
        "levels": levels,
        "journalBytesAfter": journalBytes,
        "quietWaitedSeconds": round(sum(w["waited"] for w in waits), 1),
        "busyBeforeLevels": sorted(w["busy"] for w in waits),
    }


def aggregate(found: list[Level]) -> dict[str, Any]:
    """A level over its rounds: median calls/s and CPU, pooled latencies."""
    lat = [x for level in found for x in level.latUs]

    def perCall(side: str) -> float:
        return round(statistics.median(lv.cpu[side] / max(1, lv.ok) * 1e6 for lv in found), 1)

    def cores(side: str) -> float:
        return round(statistics.median(lv.cpu[side] / lv.seconds for lv in found), 2)

    return {
        "ok": sum(lv.ok for lv in found),
        "errors": sum(lv.errors for lv in found),
        "callsPerSecond": round(statistics.median(lv.ok / lv.seconds for lv in found)),
        "roundsCallsPerSecond": [round(lv.ok / lv.seconds) for lv in found],
        "p50Ms": round(statistics.median(lat) / 1000, 3) if lat else None,
        "p99Ms": round(pct(lat, 0.99) / 1000, 3) if lat else None,
        "cpuUsPerCall": {side: perCall(side) for side in ("server", "child", "client")},
        "cores": {side: cores(side) for side in ("server", "child", "client", "others")},
    }


# -- the task path ----------------------------------------------------------------------


def taskPath(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """C{slow_compute(0)} made a task at once (C{--task-after 0}): time to its
    handle, and until a C{tasks/get} without pause shows it completed."""
    gateway = startGateway(home, "--task-after", "0")
    handles: list[float] = []
    completions: list[float] = []
    polls: list[int] = []
    answered = failed = 0
    try:
        client = Http2026(gateway.port, declared=True)
        client.call("slow_compute", {"seconds": 0, "label": "warm"})
        level, deadline = Level(), time.monotonic() + 60
        waited = quiet(args.quiet_budget)
        level.begin(gateway.process.pid, childOf(gateway.process.pid))
        for i in range(args.task_calls):
            started = time.perf_counter()
            handle = client.call("slow_compute", {"seconds": 0, "label": f"t{i}"})
            handles.append((time.perf_counter() - started) * 1e6)
            if not isinstance(handle, dict) or handle.get("resultType") != "task":
                answered += 1
                continue
            count, status = 0, WORKING
            while status == WORKING and time.monotonic() < deadline:
                count += 1
                status = str((client.get(handle["taskId"]) or {}).get("status"))
            if status != COMPLETED:
                failed += 1
                continue
            completions.append((time.perf_counter() - started) * 1e6)
            polls.append(count)
            if time.monotonic() > deadline:
                break
        level.end()
        journal = home / "state" / JOURNAL_NAME
        journalBytes = journal.stat().st_size if journal.exists() else 0
    finally:
        gateway.stop()
    tasks = len(completions)

    def ms(samples: list[float]) -> dict[str, float]:
        return {k: round(v / 1000, 3) for k, v in summary(samples).items() if k != "n"}

    return {
        "calls": len(handles),
        "becameTasks": tasks,
        "answeredAsIs": answered,
        "notCompleted": failed,
        "handleMs": ms(handles),
        "completedMs": ms(completions) if completions else {},
        "pollsMedian": statistics.median(polls) if polls else None,
        "gatewayCpuUsPerTask": round(level.cpu["server"] / max(1, tasks) * 1e6, 1),
        "childCpuUsPerTask": round(level.cpu["child"] / max(1, tasks) * 1e6, 1),
        "othersCores": round(level.cpu["others"] / level.seconds, 2),
        "quiet": waited,
        "journalBytesPerTask": round(journalBytes / max(1, tasks + 1)),
    }


def commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (about a minute)")
    parser.add_argument("--dir", default=None, help="where the store's journal goes (a temp dir)")
    parser.add_argument("--ops", type=int, default=2000, help="tasks timed through the store")
    parser.add_argument("--load-sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument(
        "--calls", type=int, default=600, help="requests per level at C=1 (twice at C>1)"
    )
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--task-calls", type=int, default=200)
    parser.add_argument(
        "--quiet-budget",
        type=float,
        default=1.0,
        help="seconds each level may wait for the machine to go quiet first",
    )
    parser.add_argument("--store-only", action="store_true", help="no gateway")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[v.key for v in VARIANTS],
        metavar="KEY",
        help="these HTTP/stdio levels only (and no task path)",
    )
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.quick:
        args.ops, args.calls, args.warmup, args.rounds, args.task_calls = 500, 300, 50, 2, 100
    result: dict[str, Any] = {
        "argv": sys.argv[1:] if argv is None else argv,
        "args": vars(args),
        "commit": commit(),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
    }
    result["store"] = storePart(args)
    if not args.store_only:
        with tempfile.TemporaryDirectory(prefix="mcpgateway-tasks-gw-") as tmp:
            (Path(tmp) / "a").mkdir()
            (Path(tmp) / "b").mkdir()
            result["http"] = httpPart(args, Path(tmp) / "a")
            if not args.only:
                result["taskPath"] = taskPath(args, Path(tmp) / "b")
    result["loadavgEnd"] = [round(x, 2) for x in os.getloadavg()]
    text = report(result)
    print(text)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "tasks.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / "tasks.md").write_text(text)
        print(f"written: {RESULTS / 'tasks.json'}, {RESULTS / 'tasks.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
