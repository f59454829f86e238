#!/usr/bin/env python3
"""The cluster part of ``paths.py``: what a hop costs, and a model of many
replicas built from those costs.

    .venv/bin/python benchmarks/pathcluster.py [--quick] [--rounds 3] [--out FILE]

Needs the project's venv (benchmarks/cluster.py's harness,
tests/integration/cluster.py, runs the replicas and HAProxy). Two replicas
with one cluster key behind HAProxy with label routing (docs/guide/cluster.md),
``tools/call echo`` to a shared server-everything child with a bearer token
(``cluster.load``: mcpload.py, every answer checked), at C = 1 and 16, in
``--rounds`` interleaved rounds:

- owner: the sessions' calls sent to the replica that owns them (r1);
- forwarded: the same calls sent to r2, which forwards them to r1;
- haproxy: sessions opened and called through HAProxy, each call routed to
  its owner by the label of its session id (no forward).

From the C=16 rounds (the throughput regime: at C=1 the gateway spins
between calls, ``--poll-spin``) it takes the CPU per call of each hop: the
owner's, the forwarder's and the owner's extra for a forwarded call,
HAProxy's and the child's; L{model} turns them into calls/s for 1, 2, 4
and 8 replicas. benchmarks/cluster.py measures the rest (1-3 replicas
round robin, memory, failover).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import bench  # noqa: E402
import cluster  # noqa: E402

from tests.integration.cluster import haproxyCommand  # noqa: E402

REPLICAS = (1, 2, 4, 8)
UTILIZATION = 0.85
"""The share of a core a single-threaded process (the gateway's reactor, a
node child) is assumed to sustain before queueing dominates."""
HAPROXY_CORES = 1
STALE = 0.05
"""The forwarded share assumed under label routing with churn (a replica
restarted without its state, a failover, a client that kept an old id)."""


def log(text: str) -> None:
    sys.stderr.write(f"pathcluster: {text}\n")
    sys.stderr.flush()


def measure(base: Path, rounds: int, quick: bool, gate: bench.QuietGate | None) -> dict[str, Any]:
    """Owner, forwarded and HAProxy-routed calls at C = 1 and 16; the model."""
    cluster.GATE = gate
    try:
        command = haproxyCommand()
    except BaseException as e:  # pytest's Skipped outside pytest: say why
        raise RuntimeError(f"no HAProxy: {e}") from None
    log(f"haproxy: {command}; starting 2 replicas with label routing")
    running = cluster.start(base / "label", 2, labelRouting=True)
    owner = running.replicaUrl("r1", "everything")
    other = running.replicaUrl("r2", "everything")
    balanced = running.url("everything")
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        for r in range(rounds):
            for c in (1, 16):
                total = (1000 if quick else 2000) if c == 1 else (1600 if quick else 3200)
                per, warm = total // c, bench.warmupPerSession(total, c)
                for name, url, callUrl in (
                    ("owner", owner, None),
                    ("forwarded", owner, other),
                    ("haproxy", balanced, None),
                ):
                    result = cluster.load(running, url, c, per, warm, callUrl)
                    runs.setdefault(f"{name} c{c}", []).append(result)
                    bad = result["errors"] + result["misrouted"] + result["lost"]
                    log(
                        f"round {r + 1}: {name} C={c}: {result['callsPerSecond']} calls/s, "
                        f"p50 {result['latencyMs']['p50']} ms, cpu us/call "
                        f"{result['cpuUsPerCall']}" + (f", {bad} NOT OK" if bad else "")
                    )
        forwardedCount = {
            r: running.health(r).get("cluster", {}).get("forwarded") for r in ("r1", "r2")
        }
    finally:
        running.stop()
    levels = {}
    for key, results in runs.items():
        chosen = cluster.median(results)
        for field in ("errors", "misrouted", "lost"):
            chosen[field + "AllRuns"] = sum(r[field] for r in results)
        chosen["cpuUsPerCallMedian"] = {
            name: statistics.median(r["cpuUsPerCall"].get(name, 0.0) for r in results)
            for name in chosen["cpuUsPerCall"]
        }
        levels[key] = chosen
    costs = hopCosts(levels)
    return {
        "replicas": 2,
        "routing": "HAProxy label routing (use-server on the session id's label)",
        "auth": "bearer tokens (the cluster harness's), per-principal limits off",
        "levels": levels,
        "forwardedCounters": forwardedCount,
        "costs": costs,
        "model": model(costs),
    }


def hopCosts(levels: dict[str, Any]) -> dict[str, float]:
    """CPU µs per call of each hop at C=16, and the latency each adds at C=1."""
    owner, fwd, hap = levels["owner c16"], levels["forwarded c16"], levels["haproxy c16"]
    ownerUs = owner["cpuUsPerCallMedian"].get("r1", 0.0)
    return {
        "gatewayUs": ownerUs,
        "childUs": owner["cpuUsPerCallMedian"].get("children", 0.0),
        "forwarderUs": fwd["cpuUsPerCallMedian"].get("r2", 0.0),
        "ownerExtraUs": round(fwd["cpuUsPerCallMedian"].get("r1", 0.0) - ownerUs, 1),
        "haproxyUs": hap["cpuUsPerCallMedian"].get("haproxy", 0.0),
        "haproxyGatewaysUs": round(
            hap["cpuUsPerCallMedian"].get("r1", 0.0) + hap["cpuUsPerCallMedian"].get("r2", 0.0), 1
        ),
        "p50Ms": levels["owner c1"]["latencyMs"]["p50"],
        "forwardAddsP50Ms": round(
            levels["forwarded c1"]["latencyMs"]["p50"] - levels["owner c1"]["latencyMs"]["p50"], 3
        ),
        "haproxyAddsP50Ms": round(
            levels["haproxy c1"]["latencyMs"]["p50"] - levels["owner c1"]["latencyMs"]["p50"], 3
        ),
    }


def model(costs: dict[str, float]) -> dict[str, Any]:
    """Calls/s of N replicas behind one HAProxy, closed form.

    Each replica's gateway serves its share of the calls on one reactor
    thread, so its CPU per call (the owner's work, plus, for the forwarded
    share f, the forwarder's and the owner's extra) bounds it at
    C{UTILIZATION} of a core; its own shared child likewise; HAProxy at
    C{HAPROXY_CORES} cores. Sessions are spread evenly; the slowest of the
    three bounds the whole."""
    g = max(costs["haproxyGatewaysUs"], 1e-3)
    hop = max(costs["forwarderUs"], 0.0) + max(costs["ownerExtraUs"], 0.0)
    child = max(costs["childUs"], 1e-3)
    hap = max(costs["haproxyUs"], 1e-3)
    rows = []
    for n in REPLICAS:
        routings = [("label routing", 0.0)]
        if n > 1:
            routings += [(f"label routing, {STALE:.0%} stale", STALE), ("round robin", (n - 1) / n)]
        for label, f in routings:
            bounds = {
                "gateways": n * UTILIZATION * 1e6 / (g + f * hop),
                "children": n * UTILIZATION * 1e6 / child,
                "haproxy": HAPROXY_CORES * UTILIZATION * 1e6 / hap,
            }
            limit = min(bounds, key=lambda k: bounds[k])
            calls = bounds[limit]
            rows.append(
                {
                    "replicas": n,
                    "routing": label,
                    "forwarded": round(f, 3),
                    "callsPerSecond": int(calls),
                    "limitedBy": limit,
                    "gatewayCoresPerReplica": round(calls / n * (g + f * hop) / 1e6, 2),
                    "p50MsLightLoad": round(
                        costs["p50Ms"]
                        + costs["haproxyAddsP50Ms"]
                        + f * max(costs["forwardAddsP50Ms"], 0.0),
                        3,
                    ),
                }
            )
    return {
        "rows": rows,
        "assumptions": [
            "each replica has its own host: one core for its gateway's reactor (single-threaded)"
            f" and one for its shared child, each sustained at {UTILIZATION:.0%}",
            f"HAProxy on {HAPROXY_CORES} core at {UTILIZATION:.0%}, at the CPU per call measured"
            " here (with its per-request log line); it runs threads, so k cores raise its"
            " bound k times",
            "sessions spread evenly over the replicas; every call costs what the C=16 rounds"
            " measured on this machine (tools/call echo, loopback, no TLS): the gateways' CPU"
            " per call behind HAProxy, the forwarder's and the owner's extra per forwarded call",
            "label routing sends every call with a session id to its owner: 0 forwarded in a"
            f" steady state, {STALE:.0%} with churn (restarts, failover); round robin forwards"
            " (N-1)/N",
            "latency at light load: the owner's C=1 p50 plus HAProxy's hop plus the forwarded"
            " share of the forward's added p50 (queueing not modelled)",
        ],
        "leftOut": [
            "network round trips between hosts (each hop adds one; here all is loopback)",
            "TLS between client, HAProxy and replicas",
            "queueing and tail latency near saturation; GC pauses",
            "uneven spread of sessions and hot sessions; initialize and GET streams",
            "children slower than echo (a real tool's time is usually the bound)",
            "per-replica limits (per-principal rate, maxChildren) and memory",
        ],
        "inputs": {
            "gatewayUs": g,
            "forwardHopUs": round(hop, 1),
            "childUs": child,
            "haproxyUs": hap,
            "ceilingPerReplicaCallsPerSecond": int(UTILIZATION * 1e6 / g),
            "replicasOneHaproxyCoreFeeds": round(g / hap, 1),
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--quiet-budget", type=float, default=60.0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcpgw-pathcluster-") as tmp:
        found = measure(Path(tmp), args.rounds, args.quick, bench.QuietGate(args.quiet_budget))
    args.out.write_text(json.dumps(found, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
