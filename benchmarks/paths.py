#!/usr/bin/env python3
"""The paths users run besides one shared child's ``/<server>/mcp``:

    .venv/bin/python benchmarks/paths.py [--quick] [--only team aggregate idle cluster]
    benchmarks/run --paths [--quick]

1. team: a team gateway (``--auth-tokens`` with 1,000 principals, the
   per-principal rate and concurrency limits on, set so high that they never
   refuse but are evaluated on every request; and the same with
   ``--audit-log``) beside the same gateway without authentication (the
   loopback default); each session its own principal, spread over the 1,000;
2. aggregate: ``tools/call`` through ``/mcp`` (``everything__echo``), the
   search mode's ``invoke`` and ``search`` on ``/mcp/search``, beside
   ``/everything/mcp``;
3. idle: 10,000 sessions over 100 configured servers (100 each), idle
   without and then with a GET SSE stream each: the gateway's RSS per
   session, its CPU while idle, what opening one costs, and the latency of
   ``/health``, the status page (``/``), its JSON stream's first event
   (``/status/events``) and ``/sessions`` with that many sessions and with
   none;
4. cluster (``pathcluster.py``): a call served by its session's owner vs
   forwarded by another replica, and through HAProxy with label routing
   (benchmarks/cluster.py's harness and load); then a small model of calls/s
   for 1, 2, 4 and 8 replicas from those per-hop costs.

Levels 1 and 2 send ``tools/call`` with ``pathload.py load`` (mcpload.py's
raw HTTP client, every answer checked to be the caller's own) to
@modelcontextprotocol/server-everything (``"share": "global"``, pinned in
classification.json) at C = 1, 16 and 64 sessions, in ``--rounds``
interleaved rounds; each level reports the round with the median calls/s
(its p50/p90/p99), the median over the rounds of the gateway's and the
child's CPU per call, and the cores the rest of the machine used. Writes
benchmarks/results/paths.json and prints a markdown report (pathreport.py).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO)]

import bench  # noqa: E402
import pathreport  # noqa: E402

RESULTS = HERE / "results" / "paths.json"
PATHLOAD = HERE / "pathload.py"
STUB = REPO / "tests" / "fixtures" / "catalog_server.py"
SECTIONS = ("team", "aggregate", "idle", "cluster")
PRINCIPALS = 1000
PINNED = {"everything": {"share": "global"}}
"""classification.json: server-everything asks for roots soon after it
starts; pinned, the gateway never promotes it to a child per session
(docs/guide/scopes.md) and the levels measure the shared child's path."""


def log(text: str) -> None:
    sys.stderr.write(f"paths: {text}\n")
    sys.stderr.flush()


def everythingJs() -> str:
    cache = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache" / "test-backends")
    env = cache / "paths.env"
    if not env.is_file():
        raise SystemExit(f"paths: no {env}: run scripts/install-test-backends (needs node, npm)")
    found = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
    return found["SERVER_EVERYTHING_JS"]


def everything(js: str) -> dict[str, Any]:
    return {"everything": {"command": "node", "args": [js, "stdio"], "share": "global"}}


def gateway(
    config: dict[str, Any],
    workdir: Path,
    extra: list[str] | None = None,
    classification: dict[str, Any] | None = None,
) -> bench.Gateway:
    """A gateway as the README runs it (bench.Gateway), its shares pinned."""
    if classification:
        (workdir / "state").mkdir(parents=True, exist_ok=True)
        (workdir / "state" / "classification.json").write_text(json.dumps(classification))
    return bench.Gateway(config, workdir, extra=extra)


def children(gw: bench.Gateway) -> list[int]:
    return [p for p in gw.tree() if p != gw.pid]


# -- one level ---------------------------------------------------------------------------


def runPath(
    url: str,
    sessions: int,
    total: int,
    watch: dict[str, list[int]],
    gate: bench.QuietGate | None,
    kind: str = "echo",
    tool: str = "echo",
    authFile: Path | None = None,
    maxSeconds: float = 40.0,
) -> dict[str, Any]:
    """One pathload run: C{sessions} sessions, C{total} calls in all; the CPU
    of each C{watch} process (name -> pids) per call, over the measured calls."""
    perSession = max(1, total // sessions)
    argv = [
        bench.PY,
        str(PATHLOAD),
        "load",
        "--url",
        url,
        "--sessions",
        str(sessions),
        "--calls",
        str(perSession),
        "--warmup",
        str(bench.warmupPerSession(total, sessions)),
        "--max-seconds",
        str(maxSeconds),
        "--wait-go",
        "--kind",
        kind,
        "--tool",
        tool,
        *(["--auth-file", str(authFile)] if authFile else []),
    ]
    worker = bench.Worker(argv)
    try:
        worker.expect("ready", 120)
        quiet = gate.wait() if gate else None
        cpu0 = {name: sum(bench.procCpu(p) for p in pids) for name, pids in watch.items()}
        busy0 = bench.systemBusy()
        worker.say("GO")
        result = worker.expect("result", maxSeconds + 30)
        busy1 = bench.systemBusy()
        cpu1 = {name: sum(bench.procCpu(p) for p in pids) for name, pids in watch.items()}
    finally:
        worker.kill()
    wall = max(result["end"] - result["start"], 1e-9)
    ok = result["ok"]
    cores = {name: round((cpu1[name] - cpu0[name]) / wall, 3) for name in watch}
    cores["loadgen"] = round(result["cpuSeconds"] / wall, 3)
    # everything else on the machine (a neighbour's load shows here, not in the figures)
    cores["other"] = round(max(0.0, (busy1 - busy0) / wall - sum(cores.values())), 3)
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
        "cpuUsPerCall": {
            name: round((cpu1[name] - cpu0[name]) / ok * 1e6, 1) for name in watch if ok
        },
        "quiet": quiet,
        "loop": result.get("loop"),
        **({"samples": result["samples"]} if result["samples"] else {}),
    }


def medianRun(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median calls/s, every run's calls/s and p99, and the
    errors, misrouted and lost answers of all runs."""
    ordered = sorted(runs, key=lambda r: r["callsPerSecond"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["runs"] = [
        {"callsPerSecond": r["callsPerSecond"], "p99": r["latencyMs"]["p99"]} for r in runs
    ]
    for key in ("errors", "misrouted", "lost"):
        chosen[key + "AllRuns"] = sum(r[key] for r in runs)
    # CPU per call varies less than calls/s: its own median over the rounds
    chosen["cpuUsPerCallMedian"] = {
        name: statistics.median(r["cpuUsPerCall"].get(name, 0.0) for r in runs)
        for name in chosen["cpuUsPerCall"]
    }
    return chosen


Case = tuple[str, int, Callable[[], dict[str, Any]]]
"""(variant, C, one run)."""


def interleaved(rounds: int, cases: list[Case]) -> dict[str, dict[str, Any]]:
    """Every case once per round, in order, C{rounds} times; variant -> C ->
    its median run (L{medianRun})."""
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in range(rounds):
        for variant, c, run in cases:
            result = run()
            runs.setdefault((variant, c), []).append(result)
            bad = result["errors"] + result["misrouted"] + result["lost"]
            log(
                f"round {r + 1}: {variant} C={c}: {result['callsPerSecond']} calls/s, p50 "
                f"{result['latencyMs']['p50']} ms, p99 {result['latencyMs']['p99']} ms, "
                f"gateway {result['cpuUsPerCall'].get('gateway')} us/call"
                + (f", {bad} NOT OK: {result.get('samples')}" if bad else "")
            )
    found: dict[str, dict[str, Any]] = {}
    for (variant, c), results in runs.items():
        found.setdefault(variant, {})[str(c)] = medianRun(results)
    return found


def totalCalls(c: int, quick: bool) -> int:
    """Calls of a level, in all: about 1-2 s of the gateway's time."""
    full = {1: 2000, 16: 4000, 64: 6400}.get(c, 4000)
    return full // 2 if quick else full


# -- 1. the team path ------------------------------------------------------------------


def writeTokens(path: Path, count: int) -> list[str]:
    """A tokens file of C{count} principals (C{user0000}...), mode 0600; the
    C{Authorization} value of each, in order."""
    tokens = {f"user{i:04d}": "mcpgw_" + secrets.token_urlsafe(32) for i in range(count)}
    entries = [
        {"sha256": hashlib.sha256(t.encode()).hexdigest(), "principal": name}
        for name, t in tokens.items()
    ]
    path.write_text(json.dumps({"version": 1, "tokens": entries}))
    path.chmod(0o600)
    return [f"Bearer {t}" for t in tokens.values()]


def team(
    tmp: Path, js: str, levels: list[int], rounds: int, quick: bool, gate: bench.QuietGate
) -> dict[str, Any]:
    """No authentication vs tokens + limits vs tokens + limits + audit log."""
    tokensFile = tmp / "tokens.json"
    auth = writeTokens(tokensFile, PRINCIPALS)
    authFiles = {}
    for c in levels:  # session i of C is principal i * 1000 / C: spread over all of them
        authFiles[c] = tmp / f"auth-{c}.txt"
        authFiles[c].write_text("\n".join(auth[i * PRINCIPALS // c] for i in range(c)))
    limits = ["--rate-per-principal", "1000000", "--max-requests-per-principal", "64"]
    variants = {
        "loopback": [],
        "team": ["--auth-tokens", str(tokensFile), *limits],
        "team+audit": [
            "--auth-tokens",
            str(tokensFile),
            *limits,
            "--audit-log",
            str(tmp / "audit" / "audit.jsonl"),
        ],
    }
    (tmp / "audit").mkdir()
    gateways: dict[str, bench.Gateway] = {}
    try:
        for name, extra in variants.items():
            gateways[name] = gateway(everything(js), tmp / f"gw-{name}", extra, PINNED)
        for name, gw in gateways.items():  # the child starts; the catalogs are listed
            warm = runPath(
                gw.url("everything"),
                1,
                20,
                {},
                None,
                authFile=None if name == "loopback" else authFiles[1],
            )
            if warm["ok"] != 20:
                raise RuntimeError(f"{name}: the warm-up calls failed: {warm.get('samples')}")
        cases: list[Case] = []
        for c in levels:
            for name, gw in gateways.items():
                watch = {"gateway": [gw.pid], "child": children(gw)}
                authFile = None if name == "loopback" else authFiles[c]
                run = functools.partial(
                    runPath, gw.url("everything"), c, totalCalls(c, quick), watch, gate
                )
                cases.append((name, c, functools.partial(run, authFile=authFile)))
        found = interleaved(rounds, cases)
        audit = tmp / "audit" / "audit.jsonl"
        time.sleep(1.5)  # the audit log is written once a second
        lines = sum(1 for _ in audit.open()) if audit.exists() else 0
    finally:
        for gw in gateways.values():
            gw.stop()
    return {
        "principals": PRINCIPALS,
        "limits": "--rate-per-principal 1000000 --max-requests-per-principal 64",
        "spread": "session i of C sends the token of principal i*1000/C",
        "auditLines": lines,
        "variants": found,
        "costPerCall": costs(found, "loopback"),
    }


def costs(found: dict[str, dict[str, Any]], base: str) -> dict[str, Any]:
    """Each variant's gateway CPU and p50 minus C{base}'s, per C."""
    added: dict[str, Any] = {}
    for variant, byC in found.items():
        if variant == base:
            continue
        for c, level in byC.items():
            ref = found[base].get(c)
            if ref is None:
                continue
            mine, theirs = level["cpuUsPerCallMedian"], ref["cpuUsPerCallMedian"]
            added.setdefault(variant, {})[c] = {
                "gatewayUs": round(mine.get("gateway", 0) - theirs.get("gateway", 0), 1),
                "p50Ms": round(level["latencyMs"]["p50"] - ref["latencyMs"]["p50"], 3),
                "callsPerSecondRatio": round(
                    level["callsPerSecond"] / max(ref["callsPerSecond"], 1e-9), 3
                ),
            }
    return added


# -- 2. /mcp and /mcp/search ---------------------------------------------------------------


def aggregate(
    tmp: Path, js: str, levels: list[int], rounds: int, quick: bool, gate: bench.QuietGate
) -> dict[str, Any]:
    """/everything/mcp vs /mcp vs /mcp/search's invoke and search, one gateway."""
    gw = gateway(everything(js), tmp / "gw-aggregate", None, PINNED)
    paths = {
        "/everything/mcp echo": ("/everything/mcp", "echo", "echo"),
        "/mcp everything__echo": ("/mcp", "echo", "everything__echo"),
        "/mcp/search invoke": ("/mcp/search", "invoke", "everything__echo"),
        "/mcp/search search": ("/mcp/search", "search", "everything__echo"),
    }
    base = f"http://127.0.0.1:{gw.port}"
    try:
        for name, (path, kind, tool) in paths.items():
            warm = runPath(base + path, 1, 20, {}, None, kind, tool)
            if warm["ok"] != 20:
                raise RuntimeError(f"{name}: the warm-up calls failed: {warm.get('samples')}")
        watch = {"gateway": [gw.pid], "child": children(gw)}
        cases: list[Case] = [
            (
                name,
                c,
                functools.partial(
                    runPath, base + path, c, totalCalls(c, quick), watch, gate, kind, tool
                ),
            )
            for c in levels
            for name, (path, kind, tool) in paths.items()
        ]
        found = interleaved(rounds, cases)
        health = json.loads(get(gw.port, "/health")[2])
    finally:
        gw.stop()
    return {
        "tools": health.get("aggregate", {}).get("catalogs"),
        "searchQuery": "echo a message back (limit 5; the first result must be everything__echo)",
        "paths": found,
        "costPerCall": costs(found, "/everything/mcp echo"),
    }


# -- 3. 10,000 idle sessions over 100 servers -------------------------------------------------


def get(port: int, path: str, timeout: float = 30) -> tuple[int, float, bytes]:
    """GET C{path} on a new connection: status, seconds, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        t0 = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return response.status, time.perf_counter() - t0, body
    finally:
        conn.close()


def firstEvent(port: int, path: str, timeout: float = 30) -> tuple[int, float, bytes]:
    """GET an SSE stream; the time to its first C{data:} line, which is returned."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Accept": "text/event-stream"})
        response = conn.getresponse()
        line = b""
        while response.status == 200:
            line = response.readline()
            if not line or line.startswith(b"data:"):
                break
        return response.status, time.perf_counter() - t0, line
    finally:
        conn.close()


def probe(gw: bench.Gateway, what: str, count: int, seconds: float) -> dict[str, Any]:
    """C{count} requests (within C{seconds}) one after the other: latency
    percentiles, body size, the gateway's CPU per request."""
    fetch = firstEvent if what == "/status/events" else get
    lat: list[int] = []
    size = 0
    bad = 0
    cpu0 = bench.procCpu(gw.pid)
    deadline = time.monotonic() + seconds
    while len(lat) < count and time.monotonic() < deadline:
        status, took, body = fetch(gw.port, what)
        bad += status != 200 or not body
        size = len(body)
        lat.append(int(took * 1e6))
    cpu = bench.procCpu(gw.pid) - cpu0
    return {
        "requests": len(lat),
        "notOk": bad,
        "bytes": size,
        "latencyMs": bench.percentiles(lat),
        "gatewayMsPerRequest": round(cpu / max(len(lat), 1) * 1e3, 2),
    }


def idleCores(gw: bench.Gateway, seconds: float) -> float:
    """The cores the gateway uses over C{seconds} while nobody calls it."""
    cpu0 = bench.procCpu(gw.pid)
    time.sleep(seconds)
    return round((bench.procCpu(gw.pid) - cpu0) / seconds, 4)


def probes(gw: bench.Gateway, count: int, seconds: float) -> dict[str, Any]:
    """The health, status page, its JSON stream and /sessions, measured now."""
    found = {}
    for what in ("/health", "/", "/status/events", "/sessions"):
        n = count if what != "/sessions" else max(10, count // 10)
        found[what] = probe(gw, what, n, seconds)
        log(
            f"  {what}: p50 {found[what]['latencyMs']['p50']} ms, p99 "
            f"{found[what]['latencyMs']['p99']} ms, {found[what]['bytes']} bytes"
        )
    return found


def hold(urls: Path, perUrl: int, *headers: str) -> bench.Worker:
    """A pathload holder: C{perUrl} sessions on each URL of C{urls}."""
    argv = [bench.PY, str(PATHLOAD), "hold", "--urls-file", str(urls), "--per-url", str(perUrl)]
    for h in headers:
        argv += ["--header", h]
    return bench.Worker(argv)


def opening(gw: bench.Gateway, holder: bench.Worker, timeout: float) -> dict[str, Any]:
    """What the gateway spent while C{holder} opened its sessions."""
    user0, sys0 = bench.procUserSys(gw.pid)
    ready = holder.expect("ready", timeout)
    user1, sys1 = bench.procUserSys(gw.pid)
    n = max(ready["open"], 1)
    return {
        "opened": ready["open"],
        "failed": ready["failed"],
        "samples": ready["samples"],
        "seconds": ready["seconds"],
        "sessionsPerSecond": round(ready["open"] / max(ready["seconds"], 1e-9), 1),
        "gatewayUserMsPerSession": round((user1 - user0) / n * 1e3, 3),
        "gatewaySysMsPerSession": round((sys1 - sys0) / n * 1e3, 3),
    }


def idle(
    tmp: Path, servers: int, perServer: int, count: int, seconds: float, idleWindow: float
) -> dict[str, Any]:
    """C{servers} servers (a small stdlib stdio server each, shared global),
    C{perServer} sessions on each, idle; RSS, the gateway's CPU while nobody
    calls it (over C{idleWindow} seconds: 16 covers one SSE keep-alive
    round), and probes at each step."""
    nofile = bench.raiseNofile()
    names = [f"s{i:03d}" for i in range(servers)]
    stub = [bench.PY, "-I", "-S", str(STUB)]
    config = {n: {"command": stub[0], "args": stub[1:], "share": "global"} for n in names}
    gw = gateway(
        config, tmp / "gw-idle", ["--max-connections-per-peer", str(3 * servers * perServer)]
    )
    urls = tmp / "idle-urls.txt"
    urls.write_text("\n".join(gw.url(n) for n in names))
    found: dict[str, Any] = {"servers": servers, "nofile": nofile, "backend": "stub"}
    holders: list[bench.Worker] = []
    try:
        time.sleep(1.0)
        log("idle: no sessions")
        found["none"] = {
            "rssKB": gw.rssKB(),
            "idleCores": idleCores(gw, 5.0),
            "probes": probes(gw, count, seconds),
        }
        warm = hold(urls, 1)  # a session per server: every child starts
        holders.append(warm)
        found["warm"] = opening(gw, warm, 120)
        time.sleep(1.0)
        before = bench.memKB(gw.pid)
        pidShare = min(5, perServer - 1)
        main = hold(urls, perServer - 1 - pidShare)
        holders.append(main)
        log(f"idle: opening {servers * (perServer - 1 - pidShare)} sessions")
        found["open"] = opening(gw, main, 900)
        withPid = hold(urls, pidShare, f"X-Client-Pid: {os.getpid()}")
        holders.append(withPid)
        found["openWithClientPid"] = opening(gw, withPid, 120)
        time.sleep(2.0)
        total = json.loads(get(gw.port, "/health")[2]).get("sessions")
        after = bench.memKB(gw.pid)
        added = max(found["openWithClientPid"]["opened"] + found["open"]["opened"], 1)
        log(f"idle: {total} sessions, no GET streams")
        found["idle"] = {
            "sessions": total,
            "rssKB": after[0],
            "kbPerSession": round((after[0] - before[0]) / added, 2),
            "pssKbPerSession": round((after[1] - before[1]) / added, 2),
            "idleCores": idleCores(gw, idleWindow),
            "probes": probes(gw, count, seconds),
        }
        streams = 0
        t0 = time.monotonic()
        for holder in (main, withPid):
            holder.say("STREAM")
            streams += holder.expect("streaming", 300)["open"]
        opened = time.monotonic() - t0
        time.sleep(2.0)
        streaming = bench.memKB(gw.pid)
        log(f"idle: {streams} GET streams open")
        found["streams"] = {
            "streams": streams,
            "openSeconds": round(opened, 2),
            "rssKB": streaming[0],
            "kbPerStream": round((streaming[0] - after[0]) / max(streams, 1), 2),
            "idleCores": idleCores(gw, idleWindow),
            "probes": probes(gw, count, seconds),
        }
        found["rssBeforeKB"] = before[0]
        for holder in holders:
            holder.say("CLOSE")
        found["stillOpenAtEnd"] = sum(h.expect("result", 60)["stillOpen"] for h in holders[1:])
    finally:
        for holder in holders:
            holder.kill()
        gw.stop(60)
    return found


# -- the run ---------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="What the paths besides one shared child cost: the team path, /mcp and"
        " /mcp/search, idle sessions, a cluster's hop (writes results/paths.json)."
    )
    ap.add_argument("--quick", action="store_true", help="1 round, C = 1 and 16, 2,000 idle")
    ap.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (3)")
    ap.add_argument("--levels", type=int, nargs="+", default=None, help="C (1 16 64)")
    ap.add_argument("--idle-servers", type=int, default=100, help="servers of the idle part")
    ap.add_argument(
        "--idle-per-server", type=int, default=None, help="sessions per server (100; quick: 20)"
    )
    ap.add_argument("--probes", type=int, default=None, help="requests per endpoint (200)")
    ap.add_argument("--quiet-budget", type=float, default=None, help="seconds (60)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--no-save", action="store_true", help="print only")
    args = ap.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.levels = args.levels or ([1, 16] if args.quick else [1, 16, 64])
    args.idle_per_server = args.idle_per_server or (20 if args.quick else 100)
    args.probes = args.probes or (50 if args.quick else 200)
    if args.quiet_budget is None:
        args.quiet_budget = 10 if args.quick else 60
    return args


def main() -> int:
    args = arguments()
    started = time.monotonic()
    js = everythingJs()
    gate = bench.QuietGate(args.quiet_budget)
    res: dict[str, Any] = {
        "machine": bench.machine(),
        "code": bench.codeIdentity(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "quick": args.quick,
        "rounds": args.rounds,
        "levels": args.levels,
        "callsPerLevel": {str(c): totalCalls(c, args.quick) for c in args.levels},
        "server": "@modelcontextprotocol/server-everything, share: global (pinned)",
    }
    log(f"machine: {res['machine']}")
    # Build Twisted's plugin cache now, so that no measured gateway pays for it.
    subprocess.run(
        [
            bench.PY,
            "-c",
            "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))",
        ],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    with tempfile.TemporaryDirectory(prefix="mcpgw-paths-") as name:
        tmp = Path(name)
        steps: dict[str, Callable[[], dict[str, Any]]] = {
            "team": lambda: team(tmp / "team", js, args.levels, args.rounds, args.quick, gate),
            "aggregate": lambda: aggregate(
                tmp / "aggregate", js, args.levels, args.rounds, args.quick, gate
            ),
            "idle": lambda: idle(
                tmp / "idle",
                args.idle_servers,
                args.idle_per_server,
                args.probes,
                6.0 if args.quick else 12.0,
                5.0 if args.quick else 16.0,
            ),
            "cluster": lambda: clusterSection(tmp / "cluster", args, gate),
        }
        for section in args.only:
            (tmp / section).mkdir()
            t0 = time.monotonic()
            log(f"{section}: starting")
            try:
                res[section] = steps[section]()
            except Exception as e:  # report it, keep the other sections' figures
                log(f"{section} failed: {type(e).__name__}: {e}")
                res.setdefault("errors", {})[section] = f"{type(e).__name__}: {e}"[:3000]
            res.setdefault("sectionSeconds", {})[section] = round(time.monotonic() - t0, 1)
    res["seconds"] = round(time.monotonic() - started, 1)
    res["quietWaitSeconds"] = round(gate.waited, 1)
    text = pathreport.report(res)
    print(text)
    if not args.no_save:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1) + "\n")
        log(f"wrote {args.out}")
    log(f"done in {res['seconds']} s")
    return 1 if res.get("errors") else 0


def clusterSection(tmp: Path, args: argparse.Namespace, gate: bench.QuietGate) -> dict[str, Any]:
    """pathcluster.py in this interpreter when it has the test harness's
    dependencies (the project's venv), else in the project's .venv."""
    try:
        import pathcluster
    except ImportError as e:
        other = REPO / ".venv" / "bin" / "python"
        if not other.exists() or Path(sys.executable) == other:
            raise RuntimeError(f"the cluster part needs the project's venv: {e}") from None
        log(f"cluster: {e}; running it with {other}")
        out = tmp / "cluster.json"
        argv = [str(other), str(HERE / "pathcluster.py"), "--out", str(out)]
        argv += ["--rounds", str(args.rounds), "--quiet-budget", str(args.quiet_budget)]
        argv += ["--quick"] if args.quick else []
        subprocess.run(argv, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        found: dict[str, Any] = json.loads(out.read_text())
        return found
    return pathcluster.measure(tmp, args.rounds, args.quick, gate)


if __name__ == "__main__":
    sys.exit(main())
