#!/usr/bin/env python3
"""Idle sessions at scale: 100,000 sessions opened on a real gateway, held
idle, some with their GET streams, then the gateway restarted with them.

The gateway runs as the README runs it (C{twistd -n mcpgateway},
L{gatewayproc.Gateway}) with one stdlib stdio server shared by every
session (C{share: global}), C{--max-sessions} above the count; the
sessions come from C{sessionload.py}, a worker process of raw HTTP/1.1
keep-alive connections on loopback (C{initialize}, then
C{notifications/initialized}; no client pid sent unless
C{--client-pid}, so the gateway looks each socket's owner up, as for most
clients). At each checkpoint (1,000, 10,000, 100,000 by default) it reads
from C{/proc}:

 - the gateway's RSS and PSS, and their growth per session since the
   first session (the shared child's start and the first-use imports
   are before it);
 - its CPU per session opened (utime + stime of every thread over the
   step, a settling second included: the journal lines, the sessions
   file's saves and the socket-owner lookups run in its worker threads),
   and how much of it the reactor thread spent;
 - the sessions file (C{sessions.json}): its size, and the CPU of a save
   (the gateway idle, one session touched: what the reactor and the
   worker threads spend for it).

Then C{--streams} of the sessions open their GET stream (checkpoints at a
tenth and at all of them), each held on its own connection: RSS per
stream, CPU per stream opened, the gateway's CPU while everything is idle.
Last, the gateway is stopped (SIGTERM: the last save of every session) and
started again on the same state directory: the time to stop, the time to
listen again against an empty start, its RSS, and how many sessions (a
sample spread over all) the new process knows (C{ping}).

The open-files limit is raised to the hard limit in this process, and so
in the gateway and the load generator it starts (as root, the hard limit
too, to C{--nofile}); the gateway raises its own soft limit to the hard
limit at start. A stream costs a descriptor on each side, so the streams
are capped below the limit.

Usage: sessionscale.py [--quick] [--counts 1000,10000,100000]
[--streams 10000] [--parallel 8] [--client-pid] [--no-restart]; prints the
report as JSON lines and a table, and writes results/sessionscale.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchenv import HERE, PY, REPO, log
from benchworker import Worker
from gatewayproc import Gateway
from procstat import CLK_TCK, memKB, procUserSys

STUB = REPO / "tests" / "fixtures" / "catalog_server.py"
LOADER = HERE / "sessionload.py"
RESULTS = HERE / "results" / "sessionscale.json"


def raiseFiles(wanted: int) -> tuple[int, int]:
    """The open-files limit of this process (inherited by what it starts):
    the soft limit raised to the hard one, the hard one to C{wanted} where
    this process may (root); the limits then."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def threadCpu(pid: int) -> tuple[float, float]:
    """CPU seconds of C{pid}'s reactor thread (its main thread) and of all
    its other threads."""
    main = rest = 0.0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0, 0.0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        spent = (int(fields[11]) + int(fields[12])) / CLK_TCK
        if int(tid) == pid:
            main += spent
        else:
            rest += spent
    return main, rest


def openFiles(pid: int) -> int:
    """The gateway's soft open-files limit, as its C{/proc} says."""
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Sample:
    """The gateway's memory and CPU at one moment."""

    def __init__(self, gw: Gateway) -> None:
        self.rssKB, self.pssKB = memKB(gw.pid)[:2]
        user, system = procUserSys(gw.pid)
        self.cpu = user + system
        self.reactor, self.workers = threadCpu(gw.pid)
        path = gw.workdir / "state" / "sessions.json"
        self.fileBytes = path.stat().st_size if path.exists() else 0
        self.at = time.monotonic()


def step(before: Sample, after: Sample, count: int, what: str) -> dict[str, Any]:
    """The gateway's CPU from C{before} to C{after} per C{what} (C{count} of
    them): every thread's, the reactor thread's, the worker threads'."""
    n = max(count, 1)
    return {
        f"gatewayCpuUsPer{what}": round((after.cpu - before.cpu) / n * 1e6, 1),
        f"reactorCpuUsPer{what}": round((after.reactor - before.reactor) / n * 1e6, 1),
        f"workerCpuUsPer{what}": round((after.workers - before.workers) / n * 1e6, 1),
    }


def saveCost(gw: Gateway, loader: Worker, rounds: int = 5) -> dict[str, Any]:
    """The gateway's CPU over seconds in which one session had a request
    (a C{ping} each second: the sessions file is saved once a second while
    a session changes) less the same seconds with none."""
    quiet0 = Sample(gw)
    time.sleep(rounds)
    quiet1 = Sample(gw)
    busy0 = Sample(gw)
    for _ in range(rounds):
        loader.say(f"CHECK {gw.port} 1")
        loader.expect("checked", 60)
        time.sleep(1.0)
    time.sleep(1.2)
    busy1 = Sample(gw)

    def perSecond(a: Sample, b: Sample, key: str) -> float:
        return (getattr(b, key) - getattr(a, key)) / (b.at - a.at)

    return {
        "idleCoresReactor": round(perSecond(quiet0, quiet1, "reactor"), 5),
        "idleCoresWorkers": round(perSecond(quiet0, quiet1, "workers"), 5),
        "saveReactorMs": round(
            (perSecond(busy0, busy1, "reactor") - perSecond(quiet0, quiet1, "reactor")) * 1e3, 2
        ),
        "saveWorkerMs": round(
            (perSecond(busy0, busy1, "workers") - perSecond(quiet0, quiet1, "workers")) * 1e3, 2
        ),
    }


def startGateway(workdir: Path, most: int, files: int) -> Gateway:
    config = {"srv": {"command": PY, "args": ["-I", "-S", str(STUB)], "share": "global"}}
    extra = ["--max-sessions", str(most), "--max-connections-per-peer", str(files)]
    return Gateway(config, workdir, extra=extra, startTimeout=600.0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    counts = sorted(int(x) for x in args.counts.split(","))
    most = counts[-1]
    soft, hard = raiseFiles(args.nofile)
    streams = min(args.streams, most, soft - 1000)
    found: dict[str, Any] = {
        "sessionsAsked": counts,
        "clientPid": args.client_pid,
        "parallel": args.parallel,
        "nofile": [soft, hard],
        "checkpoints": [],
        "streams": [],
    }
    with tempfile.TemporaryDirectory(prefix="sessionscale-") as tmp:
        workdir = Path(tmp)
        gw = startGateway(workdir, most + 10, soft)
        found["gatewayNofile"] = openFiles(gw.pid)
        found["emptyStartSeconds"] = round(gw.listening - gw.spawned, 3)
        argv = [PY, str(LOADER), "--url", gw.url("srv"), "--parallel", str(args.parallel)]
        if args.client_pid:
            argv += ["--header", f"X-Client-Pid: {os.getpid()}"]
        loader = Worker(argv)
        try:
            loader.expect("ready", 30)
            loader.say("OPEN 1")  # the shared child starts; first-use imports
            first = loader.expect("opened", 120)
            if first["open"] != 1:
                raise SystemExit(f"the first session did not open: {first}")
            time.sleep(2.0)
            base = previous = Sample(gw)
            opened = 0
            for count in counts:
                loader.say(f"OPEN {count - opened}")
                got = loader.expect("opened", args.max_seconds + 60)
                time.sleep(args.settle)
                now = Sample(gw)
                added = got["open"] - 1 - opened
                opened = got["open"] - 1
                row = {
                    "sessions": opened,
                    "failed": got["failed"],
                    "samples": got["samples"],
                    "openSeconds": got["seconds"],
                    "opensPerSecond": round(added / max(got["seconds"], 1e-9), 1),
                    "rssKB": now.rssKB,
                    "pssKB": now.pssKB,
                    "rssBytesPerSession": round((now.rssKB - base.rssKB) * 1024 / max(opened, 1)),
                    "pssBytesPerSession": round((now.pssKB - base.pssKB) * 1024 / max(opened, 1)),
                    **step(previous, now, added, "Open"),
                    "sessionsFileBytes": now.fileBytes,
                    "fileBytesPerSession": round(now.fileBytes / max(opened + 1, 1), 1),
                }
                log(f"{opened} sessions: {json.dumps(row)}")
                found["checkpoints"].append(row)
                previous = now
                if got["failed"] or opened < count:
                    break
            found["idle"] = saveCost(gw, loader)
            log(f"idle and saves: {found['idle']}")
            idle = Sample(gw)
            streamed = 0
            for target in sorted({max(streams // 10, 1), streams}) if streams > 0 else []:
                loader.say(f"STREAM {target - streamed}")
                got = loader.expect("streaming", args.max_seconds + 60)
                time.sleep(args.settle)
                now = Sample(gw)
                added = got["streams"] - streamed
                streamed = got["streams"]
                row = {
                    "streams": streamed,
                    "failed": got["failed"],
                    "samples": got["samples"],
                    "openSeconds": got["seconds"],
                    "rssKB": now.rssKB,
                    "rssBytesPerStream": round((now.rssKB - idle.rssKB) * 1024 / max(streamed, 1)),
                    "pssBytesPerStream": round((now.pssKB - idle.pssKB) * 1024 / max(streamed, 1)),
                    **step(previous, now, added, "Stream"),
                }
                log(f"{streamed} GET streams: {json.dumps(row)}")
                found["streams"].append(row)
                previous = now
                if got["failed"]:
                    break
            if streamed:
                t0 = Sample(gw)
                time.sleep(args.idle_window)
                t1 = Sample(gw)
                found["streamsIdleCores"] = round((t1.cpu - t0.cpu) / (t1.at - t0.at), 4)
                loader.say("UNSTREAM")
                loader.expect("unstreamed", 60)
            if not args.no_restart:
                found["restart"] = restart(gw, workdir, loader, most, soft, opened)
                gw = found["restart"].pop("gateway")
        finally:
            loader.say("CLOSE")
            with contextlib.suppress(RuntimeError):
                loader.expect("closed", 60)
            loader.kill()
            gw.stop(120)
    return found


def restart(
    gw: Gateway, workdir: Path, loader: Worker, most: int, files: int, opened: int
) -> dict[str, Any]:
    """Stop the gateway (its last save) and start another on its state: what it takes."""
    t0 = time.monotonic()
    gw.stop(300)
    stopped = time.monotonic() - t0
    state = workdir / "state" / "sessions.json"
    size = state.stat().st_size if state.exists() else 0
    again = startGateway(workdir, most + 10, files)
    listening = again.listening - again.spawned
    restored = next((line for line in again.output if "restored" in line), "")
    rss = again.rssKB()
    loader.say(f"CHECK {again.port} {min(opened, 1000)}")
    checked = loader.expect("checked", 300)
    found = {
        "stopSeconds": round(stopped, 3),
        "sessionsFileBytes": size,
        "listenSeconds": round(listening, 3),
        "restoredLine": restored[-160:],
        "rssKBAfterRestore": rss,
        "checked": checked,
        "gateway": again,
    }
    log(f"restart: {json.dumps({k: v for k, v in found.items() if k != 'gateway'})}")
    return found


def table(found: dict[str, Any]) -> str:
    rows = [
        "| sessions | opened in s | RSS MB | RSS B/session | PSS B/session | gateway CPU µs/open"
        " (reactor + workers) | sessions.json |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in found["checkpoints"]:
        rows.append(
            f"| {r['sessions']:,} | {r['openSeconds']} | {r['rssKB'] / 1024:.1f} |"
            f" {r['rssBytesPerSession']:,} | {r['pssBytesPerSession']:,} |"
            f" {r['gatewayCpuUsPerOpen']:,} ({r['reactorCpuUsPerOpen']:,} +"
            f" {r['workerCpuUsPerOpen']:,}) | {r['sessionsFileBytes'] / 2**20:.1f} MB |"
        )
    for r in found["streams"]:
        rows.append(
            f"| {r['streams']:,} GET streams | {r['openSeconds']} | {r['rssKB'] / 1024:.1f} |"
            f" +{r['rssBytesPerStream']:,} | +{r['pssBytesPerStream']:,} |"
            f" {r['gatewayCpuUsPerStream']:,} per stream | |"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 sessions, 2,000 streams")
    ap.add_argument("--counts", default=None, help="checkpoints (1000,10000,100000)")
    ap.add_argument("--streams", type=int, default=None, help="GET streams (10000)")
    ap.add_argument("--parallel", type=int, default=8, help="connections opening sessions")
    ap.add_argument("--client-pid", action="store_true", help="send X-Client-Pid")
    ap.add_argument("--no-restart", action="store_true")
    ap.add_argument("--settle", type=float, default=2.5, help="seconds before each sample")
    ap.add_argument("--idle-window", type=float, default=16.0)
    ap.add_argument("--max-seconds", type=float, default=1200.0, help="bound of each step")
    ap.add_argument("--nofile", type=int, default=65536, help="hard limit wanted (root)")
    ap.add_argument("--no-save", action="store_true", help="do not write the results file")
    args = ap.parse_args()
    if args.counts is None:
        args.counts = "1000,10000" if args.quick else "1000,10000,100000"
    if args.streams is None:
        args.streams = 2000 if args.quick else 10000
    found = run(args)
    print(json.dumps(found), flush=True)
    print(table(found))
    if not args.no_save:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(found, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
