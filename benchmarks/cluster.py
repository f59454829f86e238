#!/usr/bin/env python3
"""Cluster figures: replicas with one cluster key behind HAProxy.

Run from the repository with the project's environment (it reuses the test
harness, tests/integration/cluster.py, and needs HAProxy, which
``scripts/install-test-backends --haproxy-only`` fetches):

    .venv/bin/python benchmarks/cluster.py [--runs 3] [--calls 150] [--quick]

What it measures, with ``mcpload.py load`` (raw HTTP, one keep-alive connection
per session, every answer checked to be the caller's own) sending ``tools/call
echo`` to a shared @modelcontextprotocol/server-everything child, with a bearer
token:

 1. throughput and latency through HAProxy (``balance roundrobin``) with 1, 2
    and 3 replicas, C = 16 sessions, ``--runs`` runs each (the median run by
    calls/s is reported, with every run's calls/s), and the CPU each process
    used (HAProxy, each replica, the children, the load generator);
 2. the cost of a forwarded request: the same sessions' calls sent straight
    to the replica that owns them vs to another replica, which forwards them
    (C = 1 and C = 16), and HAProxy round robin vs label routing (each request
    to the replica its session id names: no forwarding);
 3. memory: each replica's RSS idle, after the load, and children separately;
    one replica's RSS with 16 sessions visiting it (their owner killed);
 4. failover: from kill -9 of an owner to the first successful call of one of
    its shared-server sessions through HAProxy.

On a 2-core machine every replica, HAProxy, the children and the load generator
share the same two cores: more replicas cannot add throughput here, so these
figures show the cluster's overhead, not its scaling.

Writes benchmarks/results/cluster.json and prints a markdown summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO)]

import bench  # noqa: E402

from tests.integration.cluster import (  # noqa: E402
    HttpStatus,
    RunningCluster,
    callTool,
    haproxyCommand,
    initialize,
)
from tests.integration.conftest import EVERYTHING  # noqa: E402

RESULTS = HERE / "results" / "cluster.json"
GATE: bench.QuietGate | None = None
"""Before each measurement, wait (within a budget) for a quiet machine."""


def log(text: str) -> None:
    sys.stderr.write(f"cluster-bench: {text}\n")
    sys.stderr.flush()


def servers() -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not EVERYTHING.is_file():
        raise SystemExit(
            "cluster-bench: needs node and server-everything (scripts/install-test-backends)"
        )
    return {"everything": {"command": node, "args": [str(EVERYTHING), "stdio"], "share": "global"}}


PINNED = {"everything": {"share": "global"}}
"""classification.json: server-everything asks for roots 350 ms after it starts;
with several sessions in flight the gateway would otherwise promote it to a child
per session (docs/guide/scopes.md), and measure something else."""


def start(base: Path, replicas: int, labelRouting: bool = False) -> RunningCluster:
    return RunningCluster(
        base, servers(), replicas=replicas, labelRouting=labelRouting, classification=PINNED
    )


def processes(cluster: RunningCluster) -> dict[str, list[int]]:
    """name -> pids whose CPU is reported: haproxy, each replica, the children."""
    tree = bench.children()
    watch: dict[str, list[int]] = {}
    if cluster.haproxy is not None:
        watch["haproxy"] = [cluster.haproxy.pid]
    kids: list[int] = []
    for replica, gateway in cluster.replicas.items():
        if gateway.process.poll() is None:
            watch[replica] = [gateway.process.pid]
            kids.extend(bench.processTree(gateway.process.pid, tree)[1:])
    watch["children"] = kids
    return watch


def rssMB(pid: int) -> float:
    return round(bench.memKB(pid)[0] / 1024, 1)


def memory(cluster: RunningCluster) -> dict[str, Any]:
    """Each live replica's RSS (MB), and its children's (MB, summed)."""
    tree = bench.children()
    found: dict[str, Any] = {}
    for replica, gateway in cluster.replicas.items():
        if gateway.process.poll() is None:
            pid = gateway.process.pid
            kids = bench.processTree(pid, tree)[1:]
            found[replica] = {
                "gatewayRssMB": rssMB(pid),
                "childrenRssMB": round(sum(bench.memKB(k)[0] for k in kids) / 1024, 1),
                "children": len(kids),
            }
    return found


def load(
    cluster: RunningCluster,
    url: str,
    sessions: int,
    calls: int,
    warmup: int,
    callUrl: str | None = None,
) -> dict[str, Any]:
    """One mcpload run; calls/s, latency percentiles, CPU (cores) per process."""
    argv = bench.mcpload(
        "load",
        "--url",
        url,
        "--sessions",
        str(sessions),
        "--calls",
        str(calls),
        "--warmup",
        str(warmup),
        "--max-seconds",
        "60",
        "--wait-go",
        "--header",
        f"Authorization: {cluster.authorization['alice']}",
        *(["--call-url", callUrl] if callUrl else []),
    )
    worker = bench.Worker(argv)
    try:
        worker.expect("ready", 120)
        quiet = GATE.wait() if GATE is not None else None
        watch = processes(cluster)
        cpu0 = {name: sum(bench.procCpu(p) for p in pids) for name, pids in watch.items()}
        worker.say("GO")
        result = worker.expect("result", 150)
        cpu1 = {name: sum(bench.procCpu(p) for p in pids) for name, pids in watch.items()}
    finally:
        worker.kill()
    wall = max(result["end"] - result["start"], 1e-9)
    ok = result["ok"]
    cores = {name: round((cpu1[name] - cpu0[name]) / wall, 3) for name in watch}
    cores["loadgen"] = round(result["cpuSeconds"] / wall, 3)
    perCall = {name: round((cpu1[name] - cpu0[name]) / ok * 1e6, 1) for name in watch if ok}
    return {
        "sessions": sessions,
        "ok": ok,
        "errors": result["errors"],
        "misrouted": result["misrouted"],
        "lost": result["lost"],
        "seconds": round(wall, 3),
        "callsPerSecond": round(ok / wall, 1),
        "latencyMs": bench.percentiles(result["latUs"]),
        "cpuCores": cores,
        "cpuUsPerCall": perCall,
        "quiet": quiet,
        "loadavg1": round(os.getloadavg()[0], 2),
        **({"samples": result["samples"]} if result["samples"] else {}),
    }


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median calls/s, with every run's calls/s."""
    ordered = sorted(runs, key=lambda r: r["callsPerSecond"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["runsCallsPerSecond"] = [r["callsPerSecond"] for r in runs]
    return chosen


def levels(base: Path, runs: int, calls: int, warmup: int) -> list[dict[str, Any]]:
    """Through HAProxy round robin, 1, 2 and 3 replicas, C = 16."""
    found = []
    for n in (1, 2, 3):
        log(f"{n} replica(s): starting")
        cluster = start(base / f"levels{n}", n)
        try:
            idle = memory(cluster)
            results = []
            for run in range(runs):
                results.append(load(cluster, cluster.url("everything"), 16, calls, warmup))
                r = results[-1]
                log(
                    f"{n} replica(s), run {run + 1}: {r['callsPerSecond']} calls/s, "
                    f"p50 {r['latencyMs']['p50']} ms, p99 {r['latencyMs']['p99']} ms, "
                    f"errors {r['errors']}, misrouted {r['misrouted']}, lost {r['lost']}"
                )
            level = median(results)
            level["replicas"] = n
            level["memoryIdle"] = idle
            level["memoryAfter"] = memory(cluster)
            level["forwarded"] = sum(
                cluster.health(r).get("cluster", {}).get("forwarded", 0) for r in cluster.ids
            )
            found.append(level)
        finally:
            cluster.stop()
    return found


def forwarding(base: Path, runs: int, calls: int, warmup: int) -> dict[str, Any]:
    """Owner vs non-owner port, and HAProxy round robin vs label routing."""
    found: dict[str, Any] = {}
    log("forwarding: starting 3 replicas")
    cluster = start(base / "forwarding", 3)
    try:
        owner, other = (
            cluster.replicaUrl("r1", "everything"),
            cluster.replicaUrl("r2", "everything"),
        )
        for c in (1, 16):
            perC = max(calls, 600 // c)
            direct = median([load(cluster, owner, c, perC, warmup) for _ in range(runs)])
            hop = median([load(cluster, owner, c, perC, warmup, other) for _ in range(runs)])
            found[f"c{c}"] = {
                "direct": direct,
                "forwarded": hop,
                "addedMs": {
                    q: round(hop["latencyMs"][q] - direct["latencyMs"][q], 3)
                    for q in ("p50", "p99")
                },
            }
            log(
                f"forwarding C={c}: direct p50 {direct['latencyMs']['p50']} ms, "
                f"forwarded p50 {hop['latencyMs']['p50']} ms"
            )
        found["roundRobin"] = median(
            [load(cluster, cluster.url("everything"), 16, calls, warmup) for _ in range(runs)]
        )
        found["visiting"] = failover(cluster)
    finally:
        cluster.stop()
    log("label routing: starting 3 replicas")
    labelled = start(base / "label", 3, labelRouting=True)
    try:
        found["labelRouting"] = median(
            [load(labelled, labelled.url("everything"), 16, calls, warmup) for _ in range(runs)]
        )
        found["labelRoutingForwarded"] = sum(
            labelled.health(r).get("cluster", {}).get("forwarded", 0) for r in labelled.ids
        )
    finally:
        labelled.stop()
    return found


def failover(cluster: RunningCluster) -> dict[str, Any]:
    """16 sessions owned by r1; kill -9 r1; the time to the first successful
    call of one of them through HAProxy; then all 16 visit r2 (RSS)."""
    alice = cluster.authorization["alice"]
    r1 = cluster.replicaUrl("r1", "everything")
    sessions = [initialize(r1, alice) for _ in range(16)]
    for i, sid in enumerate(sessions):
        callTool(r1, alice, sid, "echo", {"message": str(i)})
    before = memory(cluster)["r2"]
    killed = time.monotonic()
    cluster.kill("r1")
    firstOk = None
    attempts = 0
    while time.monotonic() - killed < 30:
        attempts += 1
        try:
            callTool(cluster.url("everything"), alice, sessions[0], "echo", {"message": "x"})
        except (HttpStatus, OSError):
            time.sleep(0.01)
            continue
        firstOk = time.monotonic() - killed
        break
    r2 = cluster.replicaUrl("r2", "everything")
    for i, sid in enumerate(sessions):
        callTool(r2, alice, sid, "echo", {"message": f"v{i}"})
    after = memory(cluster)["r2"]
    health = cluster.health("r2")
    return {
        "firstSuccessAfterKillSeconds": None if firstOk is None else round(firstOk, 3),
        "attempts": attempts,
        "r2Before": before,
        "r2With16Visiting": after,
        "r2Cluster": health.get("cluster"),
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": os.getloadavg(),
    }


def report(res: dict[str, Any]) -> str:
    lines = [
        "| replicas | calls/s (runs) | p50 ms | p99 ms | HAProxy | replicas | children |"
        " loadgen | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for level in res["levels"]:
        cores = level["cpuCores"]
        gateways = sum(v for k, v in cores.items() if k.startswith("r"))
        lines.append(
            f"| {level['replicas']} | {level['callsPerSecond']} ({level['runsCallsPerSecond']})"
            f" | {level['latencyMs']['p50']} | {level['latencyMs']['p99']}"
            f" | {cores.get('haproxy')} | {round(gateways, 2)} | {cores.get('children')}"
            f" | {cores.get('loadgen')}"
            f" | {level['errors'] + level['misrouted'] + level['lost']} |"
        )
    fwd = res["forwarding"]
    for c in ("c1", "c16"):
        f = fwd[c]
        lines.append(
            f"\nC={c[1:]}: direct p50/p99 {f['direct']['latencyMs']['p50']}/"
            f"{f['direct']['latencyMs']['p99']} ms, forwarded "
            f"{f['forwarded']['latencyMs']['p50']}/{f['forwarded']['latencyMs']['p99']} ms "
            f"(+{f['addedMs']['p50']}/+{f['addedMs']['p99']} ms)"
        )
    rr, lr = fwd["roundRobin"], fwd["labelRouting"]
    lines.append(
        f"\n3 replicas, C=16: round robin {rr['callsPerSecond']} calls/s p50 "
        f"{rr['latencyMs']['p50']} ms; label routing {lr['callsPerSecond']} calls/s p50 "
        f"{lr['latencyMs']['p50']} ms (forwarded: {fwd['labelRoutingForwarded']})"
    )
    lines.append(f"\nfailover: {json.dumps(fwd['visiting'])}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--calls", type=int, default=150, help="calls per session per run")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="1 run, 50 calls per session")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--quiet-budget",
        type=float,
        default=120.0,
        help="seconds this run may wait in all for a quiet machine before measurements",
    )
    args = ap.parse_args()
    global GATE
    GATE = bench.QuietGate(args.quiet_budget, threshold=0.5) if args.quiet_budget > 0 else None
    if args.quick:
        args.runs, args.calls = 1, 50
    try:
        haproxy = haproxyCommand()
    except BaseException as e:  # pytest's Skipped outside pytest: say why
        raise SystemExit(f"cluster-bench: {e}") from None
    log(f"haproxy: {haproxy}")
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="mcpgw-cluster-bench-") as tmp:
        base = Path(tmp)
        res: dict[str, Any] = {
            "machine": machine(),
            "haproxy": haproxy,
            "sessions": 16,
            "callsPerSession": args.calls,
            "runs": args.runs,
            "server": "@modelcontextprotocol/server-everything, share: global",
            "note": (
                "every process shares the machine's cores: with 2 cores more replicas "
                "cannot add throughput, so these figures show overhead, not scaling"
            ),
        }
        res["levels"] = levels(base, args.runs, args.calls, args.warmup)
        res["forwarding"] = forwarding(base, args.runs, args.calls, args.warmup)
    res["seconds"] = round(time.time() - started, 1)
    res["medianLevelCallsPerSecond"] = statistics.median(
        level["callsPerSecond"] for level in res["levels"]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(report(res))
    log(f"wrote {args.out} in {res['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
