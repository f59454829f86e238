"""The steps of C{bench.py}'s run, one function each: calibration, direct
stdio, the gateway levels, startup, idle sessions, session scaling, the
profile (with its text: own time per source file, the top functions) and
the in-process hot path. Each takes the run's settings
(L{Run}) and gives back its part of the results; C{bench.main} runs them in
order and keeps the others' figures when one fails.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import pstats
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import benchworker
from benchenv import HERE, PY, REPO, SE_PACKAGE, log
from benchlevels import repeated, runDirectOnce, runLevel
from benchworker import Worker
from gatewayproc import Gateway, everythingSpec, firstCall
from procstat import QuietGate, memKB, treeMemory
from stdiochildren import childStartSeconds, statusQuo


@dataclass
class Run:
    """One run's settings: the options, the backend, where it works, the
    quiet gate, the levels and their call counts."""

    args: argparse.Namespace
    js: str
    cache: str
    tmp: Path
    gate: QuietGate
    reps: int
    levels: list[int]
    totals: dict[int, int]
    idleN: int
    scalingTotal: int
    sqMeasure: int
    npxMeasure: int

    def level(self, url: str, c: int, watch: dict[str, list[int]], **kw: Any) -> dict[str, Any]:
        """Level C{c} against C{url} with this run's counts, bounds and gate."""
        return runLevel(
            url,
            c,
            self.totals[c],
            self.args.loadgen_procs,
            watch,
            self.args.max_seconds,
            gate=self.gate,
            **kw,
        )


def calibration(run: Run) -> dict[str, Any]:
    """The load generator against the canned server at each level: its
    ceiling on this machine."""
    log("calibration: load generator against the canned server")
    canned = Worker(benchworker.mcpload("canned"))
    try:
        port = canned.expect("listening", 30)["port"]
        url = f"http://127.0.0.1:{port}/canned/mcp"
        watch = {"server": [canned.proc.pid]}
        return {
            str(c): repeated(run.reps, lambda c=c: run.level(url, c, watch)) for c in run.levels
        }
    finally:
        canned.stop()


def direct(run: Run) -> dict[str, Any]:
    """The same calls straight down one stdio pipe, each level."""
    log("direct: calls straight down one stdio pipe")
    return {
        "levels": {
            str(c): repeated(
                run.reps,
                lambda c=c: runDirectOnce(run.js, c, run.totals[c], run.args.max_seconds, run.gate),
            )
            for c in run.levels
        }
    }


def gatewayLevels(run: Run) -> dict[str, Any]:
    """Each level through one gateway to one shared child, with its RSS idle,
    with one session and after the load."""
    log("gateway: levels " + ", ".join(map(str, run.levels)))
    gw = Gateway({"everything": everythingSpec(run.js)}, run.tmp / "gw-levels")
    try:
        time.sleep(0.5)
        g: dict[str, Any] = {"rssIdleKB": gw.rssKB()}
        firstCall(gw.port, "everything")
        time.sleep(0.2)
        g["rssOneSessionKB"] = gw.rssKB()
        watch = {"gateway": [gw.pid], "child": [p for p in gw.tree() if p != gw.pid]}
        g["levels"] = {}
        for c in run.levels:
            g["levels"][str(c)] = repeated(
                run.reps, lambda c=c: run.level(gw.url("everything"), c, watch)
            )
        time.sleep(0.5)
        g["rssAfterLoadKB"] = gw.rssKB()
        g["pssAfterLoadKB"] = memKB(gw.pid)[1]
        health = gw.health()
        g["health"] = {"sessions": health.get("sessions"), "servers": health.get("servers")}
    finally:
        gw.stop()
    return g


def startup(run: Run) -> dict[str, Any]:
    """Gateway spawn to the first successful call (lazy child), 3 times,
    beside the child's own start."""
    log("startup: spawn to first successful call")
    runs = []
    for i in range(3):
        gw = Gateway({"everything": everythingSpec(run.js)}, run.tmp / f"gw-start{i}")
        try:
            firstCall(gw.port, "everything")
            done = time.monotonic()
            runs.append(
                {
                    "listening": round(gw.listening - gw.spawned, 3),
                    "firstCall": round(done - gw.spawned, 3),
                }
            )
        finally:
            gw.stop()
    child = childStartSeconds(run.js, 3)
    med = sorted(r["firstCall"] for r in runs)[len(runs) // 2]
    childMed = sorted(child)[len(child) // 2]
    return {
        "runs": runs,
        "childStartSeconds": [round(x, 3) for x in child],
        "firstCallMedian": med,
        "childStartMedian": round(childMed, 3),
        "listeningMedian": sorted(r["listening"] for r in runs)[1],
        "gatewayPart": round(med - childMed, 3),
    }


def idle(run: Run) -> dict[str, Any]:
    """The gateway's memory per idle session, each with its GET stream open."""
    idleN = run.idleN
    log(f"idle: {idleN} sessions with GET streams open")
    gw = Gateway({"everything": everythingSpec(run.js)}, run.tmp / "gw-idle")
    holder = None
    try:
        firstCall(gw.port, "everything")
        time.sleep(0.5)
        before = memKB(gw.pid)
        holder = Worker(
            benchworker.mcpload(
                "idle",
                "--url",
                gw.url("everything"),
                "--sessions",
                str(idleN),
                "--max-seconds",
                "180",
            )
        )
        ready = holder.expect("ready", 200)
        time.sleep(1.0)
        after = memKB(gw.pid)
        health = gw.health()
        holder.say("CLOSE")
        closed = holder.expect("result", 60)
    finally:
        if holder is not None:
            holder.kill()
        gw.stop()
    n = max(ready["open"], 1)
    return {
        "requested": idleN,
        "open": ready["open"],
        "failed": ready["failed"],
        "samples": ready["samples"],
        "openSeconds": ready["seconds"],
        "stillOpenAtEnd": closed["stillOpen"],
        "gatewaySessions": health.get("sessions"),
        "rssBeforeKB": before[0],
        "rssAfterKB": after[0],
        "pssBeforeKB": before[1],
        "pssAfterKB": after[1],
        "kbPerSession": round((after[0] - before[0]) / n, 2),
        "pssKbPerSession": round((after[1] - before[1]) / n, 2),
    }


def scaledGateway(run: Run) -> dict[str, Any]:
    """N sessions on each of S servers through one gateway: its tree's
    processes and memory."""
    S, N = run.args.scaling_servers, run.args.scaling_sessions
    log(f"scaling: {N} sessions x {S} servers through one gateway")
    names = [f"everything{i + 1}" for i in range(S)]
    gw = Gateway({n: everythingSpec(run.js) for n in names}, run.tmp / "gw-scaling")
    try:
        started = time.monotonic()
        sessionsOk = 0
        for n in names:
            r = runLevel(gw.url(n), N, N, 1, {}, 60, warmup=0)
            sessionsOk += r["ok"]
            if r["misrouted"] or r["lost"] or r["errors"]:
                raise RuntimeError(f"scaling sessions on {n} failed: {r}")
        time.sleep(1.0)
        mem = treeMemory([gw.pid])
        mem["sessionsAnswered"] = sessionsOk
        mem["seconds"] = round(time.monotonic() - started, 2)
        mem["gatewayRssMB"] = round(memKB(gw.pid)[0] / 1024, 1)
        mem["healthSessions"] = gw.health().get("sessions")
    finally:
        gw.stop()
    return mem


def scaling(run: Run, skipNpx: bool) -> dict[str, Any]:
    """One gateway against every session spawning its own children, and its
    own C{npx} wrappers (unless C{skipNpx})."""
    args = run.args
    sc: dict[str, Any] = {
        "servers": args.scaling_servers,
        "sessionsPerServer": args.scaling_sessions,
        "gateway": scaledGateway(run),
    }
    log(f"scaling: status quo, {run.scalingTotal} direct children (measuring {run.sqMeasure})")
    sc["direct"] = statusQuo(
        ["node", run.js, "stdio"], run.scalingTotal, run.sqMeasure, 10, None, None, reserveMB=3000
    )
    if not skipNpx and shutil.which("npx"):
        log(f"scaling: status quo via npx wrappers (measuring {run.npxMeasure})")
        env = {
            **os.environ,
            "npm_config_offline": "true",
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
            "npm_config_yes": "true",
        }
        sc["npx"] = statusQuo(
            ["npx", "-y", SE_PACKAGE, "stdio"],
            run.scalingTotal,
            run.npxMeasure,
            10,
            run.cache,
            env,
            reserveMB=3000,
        )
        sc["npx"]["command"] = f"npx -y {SE_PACKAGE} stdio (cwd {run.cache}, offline)"
    return sc


PROFILE_ON, PROFILE_OFF = signal.SIGRTMIN, signal.SIGRTMIN + 1
"""What turns twist_wrapper.py's profiler on and off (not SIGUSR1/2: the
gateway restarts on SIGUSR2)."""


def _shortPath(path: str) -> str:
    if path == "~":
        return "(built-in functions)"
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3":
                path = "stdlib/" + path.split("/", 1)[1]
            return path
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(REPO))
    return path


def profileText(path: Path, top: int) -> tuple[str, dict[str, Any]]:
    """Top entries by cumulative and by own time, and own time per source file."""
    import io

    stream = io.StringIO()
    stats = pstats.Stats(str(path), stream=stream)
    byFile: collections.Counter[str] = collections.Counter()
    total = idle = 0.0
    for (filename, _, name), (_, _, tt, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "'poll' of 'select.epoll'" in name:
            idle += tt  # waiting for the next event: not work
            continue
        byFile[_shortPath(filename)] += tt
        total += tt
    summary: dict[str, Any] = {"busySeconds": round(total, 3), "epollWaitSeconds": round(idle, 3)}
    stream.write(
        f"\n==== own time per source file (busy {total:.3f} s; waiting in epoll "
        f"{idle:.3f} s left out) ====\n"
    )
    for name, tt in byFile.most_common(top):
        stream.write(f"{tt:9.3f} s  {100 * tt / total:5.1f}%  {name}\n")
    summary["byFile"] = [
        {"file": n, "tottime": round(t, 4), "share": round(t / total, 3)}
        for n, t in byFile.most_common(top)
    ]
    stats.strip_dirs()
    for key in ("cumulative", "tottime"):
        stream.write(f"\n==== top {top} by {key} ====\n")
        stats.sort_stats(key).print_stats(top)
        rows = []
        for func in stats.fcn_list[:top]:  # type: ignore[attr-defined]
            _, nc, tt, ct, _ = stats.stats[func]  # type: ignore[attr-defined]
            rows.append(
                {
                    "function": f"{func[0]}:{func[1]}({func[2]})",
                    "ncalls": nc,
                    "tottime": round(tt, 4),
                    "cumtime": round(ct, 4),
                }
            )
        summary[key] = rows
    return stream.getvalue(), summary


def profile(run: Run) -> dict[str, Any]:
    """The gateway under cProfile during another C=16 level (only the
    measured window); writes the profile's text next to the results."""
    log("profile: gateway under cProfile during C=16")
    prof = run.tmp / "gateway.prof"
    gw = Gateway({"everything": everythingSpec(run.js)}, run.tmp / "gw-profile", profile=prof)
    try:
        firstCall(gw.port, "everything")
        childPids = [p for p in gw.tree() if p != gw.pid]
        level = run.level(
            gw.url("everything"),
            16,
            {"gateway": [gw.pid], "child": childPids},
            around=(
                lambda: os.kill(gw.pid, PROFILE_ON),
                lambda: os.kill(gw.pid, PROFILE_OFF),
            ),
        )
    finally:
        code = gw.stop()
    if not prof.exists():
        return {
            "error": f"no profile written (gateway exit {code})",
            "log": list(gw.output)[-20:],
        }
    text, summary = profileText(prof, run.args.profile_top)
    out = Path(run.args.json).with_name("profile-c16.txt")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        f"# gateway under cProfile, C=16, {level['ok']} calls at "
        f"{level['callsPerSecond']} calls/s "
        "(profiler overhead included)\n" + text
    )
    kept = ("ok", "callsPerSecond", "cpuCores", "cpuUsPerCall", "misrouted", "lost")
    return {
        "level": {k: level[k] for k in kept},
        "file": str(out.relative_to(REPO)),
        "top": {k: v[:12] if isinstance(v, list) else v for k, v in summary.items()},
    }


def hotpath(run: Run) -> dict[str, Any]:
    """The gateway's own CPU per call, in process (C{hotpath.py}: the real
    C{Site}, a fake child, no sockets), 5 rounds."""
    log("hotpath: the gateway's own CPU per call, in process (no sockets)")
    calls = 3000 if run.args.quick else 5000
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [PY, str(HERE / "hotpath.py"), "--calls", str(calls), "--rounds", "5"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )
    if done.returncode != 0:
        raise RuntimeError(f"hotpath.py failed: {done.stderr[-2000:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found
