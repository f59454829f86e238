"""The suite's verdict and its markdown: the targets, checked as ratios within
one run (L{checkTargets}), and the report C{bench.py} prints (L{report}), a
table per part of the run.
"""

from __future__ import annotations

from typing import Any

TARGETS = {
    "p50_c1_over_direct_ms": 0.35,
    "p99_c1_ms": 2.0,
    "throughput_ratio": 0.40,
    "rss_idle_mb": 40.0,
    "kb_per_idle_session": 25.0,
    "startup_s": 1.0,
}


def checkTargets(res: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, measured: Any, target: str, ok: bool | None, margin: str) -> None:
        out.append(
            {"target": name, "measured": measured, "limit": target, "holds": ok, "margin": margin}
        )

    g = res.get("gateway", {}).get("levels", {})
    d = res.get("direct", {}).get("levels", {})
    cal = res.get("calibration", {})
    if "1" in g and "1" in d:
        over = g["1"]["latencyMs"]["p50"] - d["1"]["latencyMs"]["p50"]
        lim = TARGETS["p50_c1_over_direct_ms"]
        add(
            "p50 at C=1 <= direct + 0.35 ms",
            f"{g['1']['latencyMs']['p50']:.3f} ms = direct + {over:.3f} ms",
            f"+{lim} ms",
            over <= lim,
            f"{over - lim:+.3f} ms",
        )
        p99 = g["1"]["latencyMs"]["p99"]
        add(
            "p99 at C=1 <= 2 ms",
            f"{p99:.3f} ms (direct: {d['1']['latencyMs']['p99']:.3f} ms)",
            "2 ms",
            p99 <= TARGETS["p99_c1_ms"],
            f"{p99 - TARGETS['p99_c1_ms']:+.3f} ms",
        )
    for c in ("16", "64"):
        if c in g and c in d:
            ratio = g[c]["callsPerSecond"] / d[c]["callsPerSecond"]
            ceiling = cal.get(c, {}).get("callsPerSecond")
            atCeiling = bool(ceiling) and g[c]["callsPerSecond"] >= 0.9 * ceiling
            add(
                f"calls/s at C={c} >= 40% of direct (or at the loadgen ceiling)",
                f"{ratio:.0%} of direct ({g[c]['callsPerSecond']:.0f} vs "
                f"{d[c]['callsPerSecond']:.0f}/s)",
                "40%",
                ratio >= TARGETS["throughput_ratio"] or atCeiling,
                f"{(ratio - TARGETS['throughput_ratio']) * 100:+.0f} points",
            )
    for c, lv in g.items():
        mis, lost = lv.get("misroutedAllRuns", lv["misrouted"]), lv.get("lostAllRuns", lv["lost"])
        runs = len(lv.get("runs", [])) or 1
        add(
            f"zero misrouted / lost at C={c}",
            f"{mis} / {lost} (over {runs} run(s))",
            "0 / 0",
            mis + lost == 0,
            "ok" if mis + lost == 0 else f"{mis + lost} bad",
        )
    if "gateway" in res:
        mb = res["gateway"]["rssIdleKB"] / 1024
        add(
            "gateway RSS idle <= 40 MB",
            f"{mb:.1f} MB",
            "40 MB",
            mb <= TARGETS["rss_idle_mb"],
            f"{mb - TARGETS['rss_idle_mb']:+.1f} MB",
        )
    if "idleSessions" in res:
        kb = res["idleSessions"]["kbPerSession"]
        add(
            "<= 25 KB per idle open session",
            f"{kb:.1f} KB",
            "25 KB",
            kb <= TARGETS["kb_per_idle_session"] and res["idleSessions"]["failed"] == 0,
            f"{kb - TARGETS['kb_per_idle_session']:+.1f} KB",
        )
    if "startup" in res:
        s = res["startup"]["gatewayPart"]
        add(
            "startup to first call <= 1 s (minus the child's own start)",
            f"{s:.3f} s",
            "1 s",
            s <= TARGETS["startup_s"],
            f"{s - TARGETS['startup_s']:+.3f} s",
        )
    return out


def fmt(x: Any, nd: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def report(res: dict[str, Any]) -> str:
    """The markdown report of a run: latency and throughput, memory and
    startup, session scaling, the targets, the profile."""
    L = header(res)
    L += latencyTable(res)
    L += memoryTable(res)
    L += scalingTable(res)
    L += targetsTable(res)
    L += profileTables(res)
    for name, error in res.get("errors", {}).items():
        L += ["", f"**{name} failed**: {error.splitlines()[0][:300]}"]
    L.append("")
    L.append(
        f"calls/s: the median of {res.get('repeat', 1)} run(s) (all runs in brackets; "
        "latencies are those of the median run; errors, misrouted and lost are summed over "
        "all runs). CPU cores used: CPU seconds per wall second during the level (gateway = "
        "the gateway process, child = its server-everything, loadgen = the load generator, "
        "driver = the direct stdio driver, other = everything else on the machine; "
        "direct rows show no 'other'). Waited "
        f"{res.get('quietWaitSeconds', 0):.0f} s in all for the machine to go quiet before "
        f"levels. Run time {res['seconds']:.0f} s."
    )
    return "\n".join(L)


def header(res: dict[str, Any]) -> list[str]:
    """The title, the machine and the code measured, the latency table's head."""
    m = res["machine"]
    return [
        f"## mcpgateway benchmark ({res['when']}{', quick' if res['quick'] else ''})",
        "",
        f"{m['nproc']} CPUs ({m['cpuModel']}), {m['memTotalMB']} MB, Linux {m['kernel']}, "
        f"Python {m['python']}, Node {m['node']}, Twisted {m['twisted']}, load generator on "
        f"{'uvloop ' + m['uvloop'] if m['uvloop'] else 'asyncio'}; load average "
        f"{m['loadAverageAtStart']} at start, {m.get('loadAverageAtEnd')} at end. Gateway code: "
        f"{res['code']['commit'] or 'not a git checkout'} (sources {res['code']['sourceHash']})"
        + (
            f" + {len(res['code']['uncommitted'])} uncommitted file(s)"
            if res["code"]["uncommitted"]
            else ""
        )
        + (
            " (**the gateway's sources changed during the run**)"
            if res["code"].get("changedDuringRun")
            else ""
        )
        + ".",
        "",
        "### Latency and throughput (`tools/call echo`, server-everything)",
        "",
        "| path | C | calls ok | calls/s | p50 ms | p90 ms | p99 ms | max ms | errors | "
        "misrouted | lost | CPU cores used |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]


def levelRows(name: str, levels: dict[str, Any]) -> list[str]:
    """A row of the latency table per level of one path."""
    L = []
    for c, lv in levels.items():
        lat = lv["latencyMs"]
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in lv["cpuCores"].items())
        if "gateway" in lv.get("cpuUsPerCall", {}):
            cpu += f" ({lv['cpuUsPerCall']['gateway']:.0f} µs gateway CPU/call)"
        rate = f"{lv['callsPerSecond']:.0f}"
        if lv.get("runs"):
            rate += " (" + " / ".join(f"{r['callsPerSecond']:.0f}" for r in lv["runs"]) + ")"
        L.append(
            f"| {name} | {c} | {lv['ok']} | {rate} | {fmt(lat['p50'], 3)} | "
            f"{fmt(lat['p90'], 3)} | {fmt(lat['p99'], 3)} | {fmt(lat['max'], 1)} | "
            f"{lv.get('errorsAllRuns', lv['errors'])} | "
            f"{lv.get('misroutedAllRuns', lv.get('misrouted', 0))} | "
            f"{lv.get('lostAllRuns', lv.get('lost', 0))} | {cpu} |"
        )
    return L


def latencyTable(res: dict[str, Any]) -> list[str]:
    """The latency table's rows (loadgen ceiling, direct, gateway) and the
    verifier's self-check."""
    L = []
    if "calibration" in res:
        L += levelRows("loadgen ceiling (canned server)", res["calibration"])
    if "direct" in res:
        L += levelRows("direct stdio (1 child, C in flight)", res["direct"]["levels"])
    if "gateway" in res:
        L += levelRows("**gateway**", res["gateway"]["levels"])
    if "verifierSelfCheck" in res:
        v = res["verifierSelfCheck"]
        L += [
            "",
            "Verifier self-check (canned server misbehaving on purpose, every 50th of 1000 "
            f"calls): misrouted counted {v['misrouted']['counted']}, lost counted "
            f"{v['lost']['counted']} (a session stops at a lost connection).",
        ]
    return L


def memoryTable(res: dict[str, Any]) -> list[str]:
    """Memory and startup: RSS idle, with a session, after load; CPU per
    call; idle sessions; startup."""
    L = ["", "### Memory and startup", "", "| figure | value |", "|---|---:|"]
    if "gateway" in res:
        g = res["gateway"]
        L += [
            "| gateway RSS idle (no session, child not started) | "
            f"{g['rssIdleKB'] / 1024:.1f} MB |",
            "| gateway RSS with one session (child running) | "
            f"{g['rssOneSessionKB'] / 1024:.1f} MB |",
            f"| gateway RSS after the load levels | {g['rssAfterLoadKB'] / 1024:.1f} MB |",
        ]
    for c, lv in res.get("gateway", {}).get("levels", {}).items():
        us = lv.get("cpuUserSysPerCall", {}).get("gateway")
        if us:
            L.append(
                f"| gateway CPU per call at C={c} (user + system) | {us['userUs']:.0f} + "
                f"{us['sysUs']:.0f} µs |"
            )
    if "hotpath" in res:
        h = res["hotpath"]
        L.append(
            f"| gateway CPU per call in process (real Site, fake child, no sockets; median "
            f"of {h['rounds']} x {h['calls']}) | {h['usPerCall']:.0f} µs |"
        )
    if "idleSessions" in res:
        i = res["idleSessions"]
        L += [
            f"| idle sessions with GET streams open | {i['open']} of {i['requested']} "
            f"({i['failed']} failed) |",
            f"| gateway RSS before / after them | {i['rssBeforeKB'] / 1024:.1f} / "
            f"{i['rssAfterKB'] / 1024:.1f} MB |",
            f"| memory per idle open session (RSS; PSS) | {i['kbPerSession']:.1f} KB; "
            f"{i['pssKbPerSession']:.1f} KB |",
        ]
    if "startup" in res:
        s = res["startup"]
        L += [
            f"| spawn to listening (median of 3) | {s['listeningMedian']:.3f} s |",
            f"| spawn to first successful call, lazy child (median of 3) | "
            f"{s['firstCallMedian']:.3f} s |",
            f"| the child's own start (spawn to initialize answer, direct) | "
            f"{s['childStartMedian']:.3f} s |",
            f"| startup without the child's own start | {s['gatewayPart']:.3f} s |",
        ]
    return L


def scalingTable(res: dict[str, Any]) -> list[str]:
    """Session scaling: one gateway against every session's own children."""
    if "sessionScaling" not in res:
        return []
    sc = res["sessionScaling"]
    total = sc["servers"] * sc["sessionsPerServer"]
    L = [
        "",
        f"### Session scaling: {sc['sessionsPerServer']} sessions x {sc['servers']} "
        "servers (server-everything)",
        "",
        "| setup | processes | RSS MB (sum) | PSS MB (sum) | note |",
        "|---|---:|---:|---:|---|",
    ]
    gm = sc["gateway"]
    L.append(
        f"| one gateway, {sc['servers']} shared children, {total} sessions | "
        f"{gm['processes']} | {gm['rssMB']:.0f} | {gm['pssMB']:.0f} | measured |"
    )
    for key, label in (
        ("direct", "every session spawns `node server-everything`"),
        ("npx", "every session spawns `npx -y ...server-everything`"),
    ):
        if key in sc:
            q = sc[key]
            note = (
                ("**estimate**: " + q["note"])
                if q.get("estimate")
                else f"measured ({q['seconds']:.0f} s to start)"
            )
            L.append(
                f"| {label} ({total}) | {q['processes']} | {q['rssMB']:.0f} | "
                f"{q['pssMB']:.0f} | {note} |"
            )
    return L


def targetsTable(res: dict[str, Any]) -> list[str]:
    """The targets, each with whether it holds and by how much."""
    if not res.get("targets"):
        return []
    L = [
        "",
        "### Targets (ratios within this run)",
        "",
        "| target | measured | holds | margin |",
        "|---|---|---|---|",
    ]
    for t in res["targets"]:
        L.append(
            f"| {t['target']} | {t['measured']} | {'yes' if t['holds'] else '**no**'} | "
            f"{t['margin']} |"
        )
    return L


def profileTables(res: dict[str, Any]) -> list[str]:
    """The profile's own time per source file and its top functions."""
    if "profile" not in res or "top" not in res["profile"]:
        return []
    p = res["profile"]
    L = [
        "",
        f"### Profile (cProfile, C=16, {p['level']['callsPerSecond']:.0f} calls/s "
        f"under the profiler; full text in {p['file']})",
        "",
        "| source file | own time share |",
        "|---|---:|",
    ]
    for r in p["top"]["byFile"][:12]:
        L.append(f"| `{r['file']}` | {r['share']:.1%} |")
    L += [
        "",
        "| function (by own time) | ncalls | tottime s | cumtime s |",
        "|---|---:|---:|---:|",
    ]
    rowsShown = [r for r in p["top"]["tottime"] if "select.epoll" not in r["function"]]
    for r in rowsShown[:15]:
        L.append(f"| `{r['function']}` | {r['ncalls']} | {r['tottime']:.3f} | {r['cumtime']:.3f} |")
    return L
