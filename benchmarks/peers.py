#!/usr/bin/env python3
"""The gateway side by side with its peers, as each kind of client sees them: the
same verified load against each, in one run, on one machine.

Run it with ``benchmarks/run --peers`` (which installs the peers and the client
libraries first) or, once they are installed, ``python benchmarks/peers.py``. Every
target serves the same backend, ``server-everything`` (its ``echo`` tool), and gets the
same load from every client kind: C sessions (1, 16, 64), one call in flight per
session, every answer checked to be the caller's own (its echoed text, and its id where
the client sees ids). The targets are described in ``peertargets.py``, the client kinds
(``raw``, ``aiohttp``, ``httpx``, ``sdk-python``, ``sdk-ts``) in ``peerclients.py``.

Rounds are interleaved: level by level, round by round, every target is started once
(the targets' order rotates each round) and every client kind runs against it in turn
(their order rotates too), so a noisy neighbour hits every target and kind alike. The
direct target has no HTTP and runs once per round (its client kind is ``stdio``).
The median round (by calls/s) is reported per target, client kind and level; wrong
answers (misrouted, lost, errors) are summed over every round, and a target with any
for a client kind is not counted as a correct peer for that kind. A peer that is not
installed or does not start, a client kind whose library is missing, and a kind that
fails against a target are reported with the reason, never measured by anything else.
``immorterm-unique`` needs ids unique across sessions, which an SDK does not let its
caller pick: it is not run with the SDK kinds.

Writes ``benchmarks/results/peers.json`` and prints markdown (``peersreport.py``): a
table per client kind, the gateway's ratios over the others, and whether the gateway
meets its targets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench  # noqa: E402
from peerclients import CLIENTS, DIRECT, libraries, loadgen, notApplicable  # noqa: E402
from peersreport import checks, ratios, report, summarize  # noqa: E402
from peertargets import (  # noqa: E402
    LABELS,
    ORDER,
    STARTERS,
    Env,
    Served,
    TreeGate,
    checkoutBefore,
    dropBefore,
    installedVersions,
    log,
)

Rounds = dict[str, dict[str, dict[str, list[dict[str, Any]]]]]
"""target -> client kind -> level -> the rounds' figures."""

CELL_SECONDS = (2.5, 0.4)
"""A client kind's turn against a target: about A + B * --max-seconds seconds (its
sessions opened, warmed up, measured, closed), from runs on 2 cores."""
START_SECONDS = 2.5
"""Starting, warming and stopping a target."""


def estimate(
    keys: list[str], kinds: list[str], levels: list[int], rounds: int, maxSeconds: float
) -> tuple[int, int, float]:
    """Turns of a client kind against a target, target starts, and about how long
    the run takes (seconds)."""
    turns = starts = 0
    for key in keys:
        if key == "direct":
            turns += 1
            continue
        starts += 1
        turns += sum(1 for kind in kinds if notApplicable(key, kind) is None)
    turns *= len(levels) * rounds
    starts *= len(levels) * rounds
    seconds = turns * (CELL_SECONDS[0] + CELL_SECONDS[1] * maxSeconds) + starts * START_SECONDS
    return turns, starts, seconds


def runTurn(
    target: Served,
    key: str,
    kind: str,
    c: int,
    calls: int,
    args: argparse.Namespace,
    env: Env,
    gate: bench.QuietGate,
) -> dict[str, Any]:
    """One client kind's round against a running target at one level."""
    watch = target.watch()

    def refresh() -> None:
        for name, pids in target.watch().items():
            watch[name][:] = pids

    # Every target is warmed up as much as direct stdio's child
    # (bench.warmupPerSession). Plain immorterm gets no warm-up calls: the ids of
    # its sessions collide from the first call, and the warm-up's answers are not
    # counted.
    with loadgen(kind, key == "immorterm-unique", args.grace, env.tsSdk):
        result = bench.runLevel(
            target.url,
            c,
            calls,
            args.loadgen_procs,
            watch,
            args.max_seconds,
            warmup=0 if key == "immorterm" else None,
            gate=TreeGate(gate, refresh) if target.role == "proxy" else gate,
        )
    if target.role == "proxy":
        tree = bench.processTree(target.rootPid)
        result["processes"] = len(tree)
        result["rssKB"] = {
            "proxy": bench.memKB(target.rootPid)[0],
            "tree": sum(bench.memKB(p)[0] for p in tree),
        }
    return result


class Run:
    """The state of a run: what was measured, what failed, how far it is."""

    def __init__(self, keys: list[str], kinds: list[str], turns: int, seconds: float) -> None:
        self.keys = keys
        self.kinds = kinds
        self.rounds: Rounds = {k: {} for k in keys}
        self.failed: dict[str, str] = {}
        """Targets that could not start (not tried again)."""
        self.failedTurns: dict[tuple[str, str], str] = {}
        """(target, kind) pairs that failed (not tried again)."""
        self.turns = turns
        self.seconds = seconds
        """The estimate of the run's length, until enough turns are done to go by."""
        self.done = 0
        self.began = time.monotonic()

    def keep(self, key: str, kind: str, c: int, one: dict[str, Any]) -> None:
        self.rounds[key].setdefault(kind, {}).setdefault(str(c), []).append(one)
        self.done += 1
        log(
            f"  {one['callsPerSecond']:.0f} calls/s, p50 {one['latencyMs']['p50']} ms,"
            f" misrouted {one['misrouted']}, lost {one['lost']}, errors {one['errors']}"
        )

    def progress(self) -> str:
        spent = time.monotonic() - self.began
        if self.done * 10 >= self.turns:
            left = spent / self.done * (self.turns - self.done)
        else:
            left = max(0.0, self.seconds - spent)
        return f"[{self.done + 1}/{self.turns}, {spent / 60:.1f} min, ~{left / 60:.0f} min left]"


def measure(
    run: Run,
    levels: list[int],
    totals: dict[int, int],
    args: argparse.Namespace,
    env: Env,
    gate: bench.QuietGate,
) -> None:
    """Level by level, round by round: every target started once per round (their
    order rotates), every client kind against it in turn (their order rotates)."""
    keys, kinds = run.keys, run.kinds
    for c in levels:
        for r in range(args.rounds):
            turn = keys[r % len(keys) :] + keys[: r % len(keys)]
            order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
            for key in turn:
                if key in run.failed:
                    continue
                if key == "direct":
                    log(f"C={c} round {r + 1}/{args.rounds}: direct {run.progress()}")
                    try:
                        one = bench.runDirectOnce(env.js, c, totals[c], args.max_seconds, gate)
                    except Exception as e:  # reported, never replaced by anything else
                        run.failed[key] = f"{type(e).__name__}: {e}"[:2000]
                        log(f"direct failed at C={c}: {run.failed[key]}")
                        continue
                    run.keep(key, DIRECT, c, one)
                    continue
                todo = [
                    kind
                    for kind in order
                    if (key, kind) not in run.failedTurns and notApplicable(key, kind) is None
                ]
                if todo:
                    serveRound(run, key, todo, c, r, totals[c], args, env, gate)


def serveRound(
    run: Run,
    key: str,
    todo: list[str],
    c: int,
    r: int,
    calls: int,
    args: argparse.Namespace,
    env: Env,
    gate: bench.QuietGate,
) -> None:
    """Start C{key} once, run every client kind of C{todo} against it, stop it."""
    started = time.monotonic()
    try:
        target = STARTERS[key](env, env.tmp / f"{key}-c{c}-r{r}")
    except Exception as e:  # reported, never replaced by anything else
        run.failed[key] = f"{type(e).__name__}: {e}"[:2000]
        log(f"{key} failed at C={c}: {run.failed[key]}")
        return
    startSeconds = round(time.monotonic() - started, 2)
    try:
        for kind in todo:
            log(f"C={c} round {r + 1}/{args.rounds}: {key} x {kind} {run.progress()}")
            try:
                one = runTurn(target, key, kind, c, calls, args, env, gate)
            except Exception as e:
                run.failedTurns[(key, kind)] = f"{type(e).__name__}: {e}"[:2000]
                log(f"{key} x {kind} failed at C={c}: {run.failedTurns[(key, kind)]}")
                continue
            one["startSeconds"] = startSeconds
            run.keep(key, kind, c, one)
    finally:
        target.stop()


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="mcpgateway and its peers, side by side")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="fewer calls per round (300 at C=1, 800 above), at most 5 s each, one round",
    )
    ap.add_argument("--levels", default="1,16,64", help="session counts (default 1,16,64)")
    ap.add_argument(
        "--rounds", type=int, default=None, help="rounds per target and level (3; quick 1)"
    )
    ap.add_argument(
        "--calls",
        type=int,
        default=None,
        help="calls per round (default 600 at C=1, 1600 above; quick 300/800)",
    )
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="time bound of one round's measured calls (default 8, quick 5)",
    )
    ap.add_argument(
        "--grace",
        type=float,
        default=3.0,
        help="seconds a call may still take after the bound (then it is lost)",
    )
    ap.add_argument(
        "--targets", default=",".join(ORDER), help="comma list, default: " + ",".join(ORDER)
    )
    ap.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help="client kinds, comma list, default: " + ",".join(CLIENTS),
    )
    ap.add_argument(
        "--quiet-budget",
        type=float,
        default=30.0,
        help="seconds the whole run may wait for the machine to go quiet",
    )
    ap.add_argument("--loadgen-procs", type=int, default=1)
    ap.add_argument(
        "--before",
        metavar="REF",
        default=None,
        help="also run the gateway at git REF (a worktree; or a directory holding another"
        " checkout, used as it is) as target mcpgateway-before,"
        " interleaved with this checkout's: a before/after comparison in one run",
    )
    ap.add_argument(
        "--peers-dir",
        default=None,
        help="where the peers are installed (default <test cache>/peers)",
    )
    ap.add_argument("--json", default=str(HERE / "results" / "peers.json"))
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep the work folder (each target's output.log, configs)",
    )
    return ap


def chooseTargets(ap: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    keys = [k.strip() for k in args.targets.split(",") if k.strip()]
    if args.before is None:
        keys = [k for k in keys if k != "mcpgateway-before"]
    elif "mcpgateway-before" not in keys:
        at = keys.index("mcpgateway") + 1 if "mcpgateway" in keys else 0
        keys.insert(at, "mcpgateway-before")
    unknown = [k for k in keys if k not in LABELS]
    if unknown:
        ap.error(f"unknown target(s): {', '.join(unknown)}")
    return keys


def buildPluginCache() -> None:
    """Twisted's plugin cache, built once outside any measurement (as bench.py does)."""
    subprocess.run(
        [
            bench.PY,
            "-c",
            "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))",
        ],
        cwd=bench.REPO,
        capture_output=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(bench.REPO), os.environ.get("PYTHONPATH")])
            ),
        },
    )


def collect(run: Run, res: dict[str, Any]) -> None:
    """The median rounds, per target and client kind, with what could not run."""
    for key in run.keys:
        clients: dict[str, Any] = {}
        for kind in [DIRECT] if key == "direct" else run.kinds:
            entry: dict[str, Any] = {}
            byLevel = run.rounds[key].get(kind, {})
            if byLevel:
                entry["levels"] = {c: summarize(rs) for c, rs in byLevel.items() if rs}
            if (key, kind) in run.failedTurns:
                entry["failed"] = run.failedTurns[(key, kind)]
            why = notApplicable(key, kind)
            if why:
                entry["notApplicable"] = why
            if entry:
                clients[kind] = entry
        t: dict[str, Any] = {"label": LABELS[key], "clients": clients}
        if key in run.failed:
            t["failed"] = run.failed[key]
        res["targets"][key] = t


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    keys = chooseTargets(ap, args)
    asked = [k.strip() for k in args.clients.split(",") if k.strip()]
    unknown = [k for k in asked if k not in CLIENTS]
    if unknown:
        ap.error(f"unknown client kind(s): {', '.join(unknown)}")
    if args.max_seconds is None:
        args.max_seconds = 5.0 if args.quick else 8.0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    small, big = (300, 800) if args.quick else (600, 1600)
    totals = {c: args.calls or (small if c == 1 else big) for c in levels}
    cache = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or bench.REPO / ".cache" / "test-backends")
    paths = dict(
        line.split("=", 1) for line in (cache / "paths.env").read_text().splitlines() if "=" in line
    )
    env = Env(
        js=paths["SERVER_EVERYTHING_JS"],
        peersDir=Path(args.peers_dir) if args.peers_dir else cache / "peers",
        tmp=Path(tempfile.mkdtemp(prefix="mcpgateway-peers-")),
        tsSdk=paths.get("TS_SDK_DIR", ""),
    )
    clients = libraries(asked, env.tsSdk)
    for kind, info in clients.items():
        if info.get("notRun"):
            log(f"client kind {kind} not run: {info['notRun']}")
    kinds = [k for k in asked if not clients[k].get("notRun")]
    beforeCommit = None
    if args.before is not None:
        env.before, beforeCommit = checkoutBefore(args.before, env.tmp / "before")
    bench.raiseNofile()
    gate = bench.QuietGate(args.quiet_budget)
    res: dict[str, Any] = {
        "machine": bench.machine(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "code": bench.codeIdentity(),
        "before": beforeCommit,
        "levels": levels,
        "rounds": args.rounds,
        "callsPerLevel": {str(c): totals[c] for c in levels},
        "maxSeconds": args.max_seconds,
        "quick": args.quick,
        "versions": installedVersions(env.peersDir),
        "clients": clients,
        "targets": {},
    }
    turns, starts, seconds = estimate(keys, kinds, levels, args.rounds, args.max_seconds)
    log(
        f"targets {', '.join(keys)}; client kinds {', '.join(kinds) or 'none'}; levels"
        f" {levels}; {args.rounds} round(s): {turns} turns, {starts} target starts, about"
        f" {seconds / 60:.0f} min; work in {env.tmp}"
    )
    buildPluginCache()
    run = Run(keys, kinds, turns, seconds)
    try:
        measure(run, levels, totals, args, env, gate)
    finally:
        if env.before is not None and not Path(args.before).is_dir():
            dropBefore(env.before)  # a worktree of ours (a directory given is left)
        if not args.keep:
            shutil.rmtree(env.tmp, ignore_errors=True)
    collect(run, res)
    res["ratios"] = ratios(res)
    res["checks"] = checks(res)
    res["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
    res["quietWaitedSeconds"] = round(gate.waited, 1)
    res["minutes"] = round((time.monotonic() - run.began) / 60, 1)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    print(report(res))
    log(f"wrote {args.json}")
    return 0


def underBenchPython() -> None:
    """Run under C{BENCH_PYTHON} when it names another interpreter (as
    C{benchmarks/run} does): the gateway, the load generators and the Python client
    kinds run on this process's interpreter, which must have their libraries."""
    wanted = os.environ.pop("BENCH_PYTHON", "")
    wanted = shutil.which(wanted) or wanted if wanted else ""
    if wanted and os.path.abspath(wanted) != os.path.abspath(sys.executable):
        os.execv(wanted, [wanted, str(Path(__file__).resolve()), *sys.argv[1:]])


if __name__ == "__main__":
    underBenchPython()
    sys.exit(main())
