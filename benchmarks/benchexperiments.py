"""What each suggested gateway change would buy, measured in the same run
(C{bench.py --experiments}): the gateway patched at run time with each patch
of C{gateway_patches.py}, all variants side by side, their levels
interleaved; and the in-process hot path (C{hotpath.py}) of a variant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from benchenv import HERE, PY, REPO, log
from benchlevels import runLevel
from gatewayproc import Gateway, everythingSpec, firstCall
from procstat import QuietGate


def hotpath(patches: str, calls: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [
            PY,
            str(HERE / "hotpath.py"),
            "--calls",
            str(calls),
            "--rounds",
            "5",
            "--patches",
            patches,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )
    if done.returncode != 0:
        raise RuntimeError(f"hotpath.py failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def experiments(
    js: str,
    tmp: Path,
    levels: list[int],
    totals: dict[int, int],
    args: argparse.Namespace,
    gate: QuietGate,
    reps: int,
) -> list[dict[str, Any]]:
    """The gateway with each benchmark patch (and all of them): what each
    suggested change would buy, measured in this run. All variants run side by
    side and their levels are interleaved, C{reps} rounds, so drift in the
    machine's load hits them alike; the median per variant is reported."""
    import gateway_patches

    skipped = {
        p: why for p in gateway_patches.ALL if (why := gateway_patches.notApplicable(p)) is not None
    }
    usable = [p for p in gateway_patches.ALL if p not in skipped]
    variants = [("baseline", ""), *((p, p) for p in usable)]
    if len(usable) > 1:
        variants.append(("all", ",".join(usable)))
    gws: dict[str, Gateway] = {}
    rows: dict[str, dict[str, Any]] = {}
    samples: dict[str, dict[int, list[dict[str, Any]]]] = {}
    try:
        for name, patches in variants:
            gw = gws[name] = Gateway(
                {"everything": everythingSpec(js)}, tmp / f"gw-x-{name}", patches=patches
            )
            time.sleep(0.3)
            rows[name] = {
                "variant": name,
                "rssIdleMB": round(gw.rssKB() / 1024, 1),
                "listeningSeconds": round(gw.listening - gw.spawned, 3),
            }
            firstCall(gw.port, "everything")
            samples[name] = {1: [], 16: []}
        for rnd in range(reps):
            for name, _ in variants:
                log(f"experiments: round {rnd + 1}/{reps}, {name}")
                gw = gws[name]
                childPids = [p for p in gw.tree() if p != gw.pid]
                for c in (1, 16):
                    if c in levels:
                        samples[name][c].append(
                            runLevel(
                                gw.url("everything"),
                                c,
                                totals[c],
                                args.loadgen_procs,
                                {"gateway": [gw.pid], "child": childPids},
                                args.max_seconds,
                                gate=gate,
                            )
                        )
    finally:
        for gw in gws.values():
            gw.stop()

    def median(values: list[float]) -> float | None:
        values = sorted(v for v in values if v is not None)
        return values[(len(values) - 1) // 2] if values else None

    for name, _ in variants:
        for c, runs in samples[name].items():
            if runs:
                rows[name][f"c{c}"] = {
                    "callsPerSecond": median([r["callsPerSecond"] for r in runs]),
                    "p50": median([r["latencyMs"]["p50"] for r in runs]),
                    "p99": median([r["latencyMs"]["p99"] for r in runs]),
                    "gatewayUsPerCall": median([r["cpuUsPerCall"].get("gateway") for r in runs]),
                    "bad": sum(r["misrouted"] + r["lost"] + r["errors"] for r in runs),
                    "otherCores": median([r["cpuCores"]["other"] for r in runs]),
                    "runs": len(runs),
                }
    for name, patches in variants:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError, ValueError):
            rows[name]["hotpathUsPerCall"] = hotpath(patches, 3000)["usPerCall"]
    return [rows[name] for name, _ in variants] + [
        {"variant": p, "notApplicable": why} for p, why in skipped.items()
    ]
