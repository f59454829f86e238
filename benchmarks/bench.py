#!/usr/bin/env python3
"""mcpgateway's benchmark suite (run it with ``benchmarks/run``).

One run measures, on this machine and in this order:

1. calibration: the load generator (``mcpload.py load``) against a trivial
   canned-response server (``mcpload.py canned``): its ceiling here;
2. direct: the same ``tools/call echo`` calls straight down one stdio pipe to
   one ``server-everything`` child, C requests in flight (the physical limit);
3. gateway: C = 1, 16, 64 sessions through the gateway (one shared child),
   RSS idle and after load, every response checked to be the caller's own;
4. startup: gateway spawn to the first successful call (lazily started child),
   and the child's own start, measured alone;
5. idle sessions: gateway RSS per idle open session (N sessions, each with its
   GET stream open);
6. session scaling: 20 sessions x 5 servers through one gateway (processes,
   RSS, PSS of the gateway tree) against every session spawning its own
   children, with and without ``npx`` wrappers;
7. profile: the gateway under cProfile during another C=16 level;
8. hotpath: the gateway's own CPU per call in process (``hotpath.py``).

Prints a markdown table and writes ``benchmarks/results/latest.json`` (plus the
profile text next to it). Targets are checked as ratios within this one run.

This module is the run itself (its options, the order of its steps, the
results file); the pieces are modules of their own: ``procstat.py`` (``/proc``:
CPU, memory, the quiet gate), ``benchworker.py`` (the JSON-lines workers),
``gatewayproc.py`` (the gateway's launch), ``stdiochildren.py`` (children
without the gateway), ``benchlevels.py`` (a measured level), ``suitesteps.py`` (the
steps above, the profile's text among them), ``machineinfo.py`` and
``benchreport.py`` (the targets and the report). The other scripts read those
pieces as ``bench.<name>``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import benchworker  # noqa: E402
import suitesteps  # noqa: E402
from benchenv import PY, REPO, log  # noqa: E402
from benchlevels import (  # noqa: E402
    DIRECT_WARMUP,
    runDirectOnce,
    runLevel,
    selfCheck,
    warmupPerSession,
)
from benchreport import checkTargets, fmt, report  # noqa: E402
from benchworker import Worker  # noqa: E402
from gatewayproc import Gateway, everythingSpec, mcpPost  # noqa: E402
from machineinfo import codeIdentity, machine  # noqa: E402
from procstat import (  # noqa: E402
    QuietGate,
    memKB,
    processTree,
    raiseNofile,
)

__all__ = [
    "DIRECT_WARMUP",
    "PY",
    "REPO",
    "Gateway",
    "QuietGate",
    "Worker",
    "checkTargets",
    "codeIdentity",
    "everythingSpec",
    "fmt",
    "log",
    "machine",
    "main",
    "mcpPost",
    "memKB",
    "processTree",
    "raiseNofile",
    "report",
    "runDirectOnce",
    "runLevel",
    "selfCheck",
    "warmupPerSession",
]
"""The suite's pieces the other scripts read as C{bench.<name>} (C{peers.py},
C{abcpu.py} and the tests of the benchmarks among them), besides what this
module runs itself."""


def __getattr__(name: str) -> Any:
    """C{bench.mcpload}: the argv builder L{benchlevels.runLevel} uses now, read
    from L{benchworker} at each access (C{peers.py}'s client kinds swap it
    there)."""
    if name == "mcpload":
        return benchworker.mcpload
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def options() -> argparse.ArgumentParser:
    """The suite's options (C{benchmarks/run --help} prints them)."""
    ap = argparse.ArgumentParser(description="mcpgateway benchmark suite (use benchmarks/run)")
    ap.add_argument("--quick", action="store_true", help="smaller counts (about a minute)")
    ap.add_argument("--levels", default="1,16,64", help="session counts (default 1,16,64)")
    ap.add_argument(
        "--calls",
        type=int,
        default=None,
        help="calls per level in total (default: 3000 at C=1, 6400 above; quick: 600/1600)",
    )
    ap.add_argument("--max-seconds", type=float, default=30.0, help="time bound of one level")
    ap.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per level; the median run (by calls/s) is reported (default 3, quick 1)",
    )
    ap.add_argument(
        "--quiet-budget",
        type=float,
        default=None,
        help="seconds the whole run may wait for other processes to go quiet"
        " before measurements (default 60, quick 10)",
    )
    ap.add_argument(
        "--loadgen-procs",
        type=int,
        default=1,
        help="load generator processes per level (default 1; see the CPU columns)",
    )
    ap.add_argument("--idle-sessions", type=int, default=None, help="default 1000 (quick 200)")
    ap.add_argument("--scaling-servers", type=int, default=5)
    ap.add_argument("--scaling-sessions", type=int, default=20)
    ap.add_argument(
        "--statusquo-measure",
        type=int,
        default=None,
        help="direct children really started for the status quo (default: all,"
        " quick 20); fewer are scaled up and marked as an estimate",
    )
    ap.add_argument(
        "--npx-measure",
        type=int,
        default=None,
        help="npx-wrapped children really started (default: all, quick 10)",
    )
    ap.add_argument(
        "--skip",
        default="",
        help="comma list of: calibration,direct,gateway,startup,idle,scaling,npx,profile,hotpath",
    )
    ap.add_argument("--json", default=str(HERE / "results" / "latest.json"))
    ap.add_argument("--profile-top", type=int, default=25)
    return ap


def settings(args: argparse.Namespace, tmp: Path) -> suitesteps.Run:
    """The run's settings from its options: levels and call counts, the
    quick mode's smaller defaults, the backend's path, the quiet gate."""
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if args.calls:
        totals = {c: args.calls for c in levels}
    elif args.quick:
        totals = {c: 600 if c == 1 else 1600 for c in levels}
    else:
        totals = {c: 3000 if c == 1 else 6400 for c in levels}
    scalingTotal = args.scaling_servers * args.scaling_sessions
    gate = QuietGate(
        args.quiet_budget if args.quiet_budget is not None else (10 if args.quick else 60)
    )
    paths = dict(
        line.split("=", 1)
        for line in (
            Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache" / "test-backends")
            / "paths.env"
        )
        .read_text()
        .splitlines()
        if "=" in line
    )
    js = paths["SERVER_EVERYTHING_JS"]
    return suitesteps.Run(
        args=args,
        js=js,
        cache=paths.get("MCPGATEWAY_TEST_CACHE") or str(Path(js).parents[3]),
        tmp=tmp,
        gate=gate,
        reps=args.repeat or (1 if args.quick else 3),
        levels=levels,
        totals=totals,
        idleN=args.idle_sessions or (200 if args.quick else 1000),
        scalingTotal=scalingTotal,
        sqMeasure=args.statusquo_measure or (20 if args.quick else scalingTotal),
        npxMeasure=args.npx_measure or (10 if args.quick else scalingTotal),
    )


def buildPluginCache() -> float:
    """Have Twisted build its plugin cache (C{dropin.cache}) now, so that no
    measured gateway pays for it: on the first start after an install it
    imports every plugin module, conch's too (pyOpenSSL: +12 MB RSS in that
    one process). Its seconds."""
    started = time.monotonic()
    subprocess.run(
        [PY, "-c", "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"],
        cwd=REPO,
        capture_output=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        },
    )
    return round(time.monotonic() - started, 2)


def runSteps(run: suitesteps.Run, skip: set[str], res: dict[str, Any]) -> None:
    """Every step not in C{skip}, in order, into C{res}; a step that fails is
    reported in C{res["errors"]} and the others go on."""

    @contextlib.contextmanager
    def section(name: str) -> Iterator[None]:
        try:
            yield
        except Exception as e:  # report it, keep the other sections' figures
            log(f"{name} failed: {type(e).__name__}: {e}")
            res.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"[:3000]

    def step(name: str, key: str, fn: Callable[[], Any]) -> None:
        if name not in skip:
            with section(name):
                res[key] = fn()

    if "calibration" not in skip:
        with section("calibration"):
            res["calibration"] = suitesteps.calibration(run)
            res["verifierSelfCheck"] = selfCheck()
    step("direct", "direct", lambda: suitesteps.direct(run))
    step("gateway", "gateway", lambda: suitesteps.gatewayLevels(run))
    step("startup", "startup", lambda: suitesteps.startup(run))
    step("idle", "idleSessions", lambda: suitesteps.idle(run))
    step("scaling", "sessionScaling", lambda: suitesteps.scaling(run, "npx" in skip))
    if 16 in run.levels:
        step("profile", "profile", lambda: suitesteps.profile(run))
    step("hotpath", "hotpath", lambda: suitesteps.hotpath(run))


def main() -> int:
    """The suite: every step, the targets, the report (printed), the
    results (C{--json}); 1 when a step failed."""
    args = options().parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    nofile = raiseNofile()
    tmp = Path(tempfile.mkdtemp(prefix="mcpgateway-bench-"))
    run = settings(args, tmp)
    t0 = time.monotonic()
    res: dict[str, Any] = {
        "machine": machine(),
        "nofile": nofile,
        "quick": args.quick,
        "levels": run.levels,
        "callsPerLevel": {str(c): run.totals[c] for c in run.levels},
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "code": codeIdentity(),
    }
    log(f"machine: {res['machine']}")
    res["pluginCacheSeconds"] = buildPluginCache()
    try:
        runSteps(run, skip, res)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    codeAtEnd = codeIdentity()
    if codeAtEnd["sourceHash"] != res["code"]["sourceHash"]:
        res["code"]["changedDuringRun"] = codeAtEnd
    res["quietWaitSeconds"] = round(run.gate.waited, 1)
    res["repeat"] = run.reps
    res["machine"]["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
    res["seconds"] = round(time.monotonic() - t0, 1)
    res["targets"] = checkTargets(res)
    print(report(res))
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1) + "\n")
    log(f"wrote {path} ({res['seconds']} s in all)")
    return 1 if res.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
