"""The markdown report of ``paths.py`` (from its results dictionary)."""

from __future__ import annotations

from typing import Any


def fmt(x: Any, nd: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def notOk(level: dict[str, Any]) -> int:
    return int(
        sum(level.get(k + "AllRuns", level.get(k, 0)) for k in ("errors", "misrouted", "lost"))
    )


def levelTable(byVariant: dict[str, dict[str, Any]], first: str) -> list[str]:
    """One row per variant and C: calls/s, latency, CPU per call."""
    lines = [
        f"| {first} | C | calls/s (rounds) | p50 ms | p90 ms | p99 ms | gateway µs/call |"
        " child µs/call | others' cores | not ok |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    cs = sorted({c for levels in byVariant.values() for c in levels}, key=int)
    for c in cs:
        for variant, levels in byVariant.items():
            level = levels.get(c)
            if level is None:
                continue
            lat = level["latencyMs"]
            cpu = level.get("cpuUsPerCallMedian", level["cpuUsPerCall"])
            rounds = ", ".join(fmt(r["callsPerSecond"], 0) for r in level.get("runs", []))
            lines.append(
                f"| {variant} | {c} | {fmt(level['callsPerSecond'], 0)} ({rounds}) "
                f"| {fmt(lat['p50'])} | {fmt(lat['p90'])} | {fmt(lat['p99'])} "
                f"| {fmt(cpu.get('gateway'), 0)} | {fmt(cpu.get('child'), 0)} "
                f"| {fmt(level['cpuCores'].get('other'))} | {notOk(level)} |"
            )
    return lines


def costLines(costs: dict[str, Any], base: str) -> list[str]:
    lines = []
    for variant, byC in costs.items():
        parts = [
            f"C={c}: {v['gatewayUs']:+.0f} µs gateway CPU, {v['p50Ms']:+.3f} ms p50, "
            f"calls/s x{v['callsPerSecondRatio']}"
            for c, v in byC.items()
        ]
        lines.append(f"- {variant} vs {base}: " + "; ".join(parts))
    return lines


def teamSection(t: dict[str, Any]) -> list[str]:
    lines = [
        "### 1. The team path",
        "",
        f"Tokens file of {t['principals']:,} principals, `{t['limits']}` (never refusing, "
        f"evaluated on every request); {t['spread']}. `team+audit` adds `--audit-log` "
        f"({t['auditLines']:,} lines written). `loopback`: the same gateway without "
        "authentication.",
        "",
        *levelTable(t["variants"], "variant"),
        "",
        *costLines(t["costPerCall"], "loopback"),
    ]
    return lines


def aggregateSection(a: dict[str, Any]) -> list[str]:
    lines = [
        "### 2. `/mcp` and `/mcp/search`",
        "",
        f"One gateway; search: `{a['searchQuery']}`.",
        "",
        *levelTable(a["paths"], "path"),
        "",
        *costLines(a["costPerCall"], "/everything/mcp echo"),
    ]
    search = a["paths"].get("/mcp/search search", {})
    if search:
        lines.append(
            "- the search tool's latency: "
            + "; ".join(
                f"C={c}: p50 {fmt(v['latencyMs']['p50'])} ms, p99 {fmt(v['latencyMs']['p99'])} ms"
                for c, v in search.items()
            )
        )
    return lines


def idleSection(i: dict[str, Any]) -> list[str]:
    what = ("/health", "/", "/status/events", "/sessions")
    lines = [
        "### 3. Idle sessions",
        "",
        f"{i['servers']} servers (a stdlib stdio server each, `share: global`; `initialize` "
        "starts a shared child, so each server runs one), sessions opened by 8 keep-alive "
        "connections, then idle.",
        "",
        "| state | sessions | gateway RSS MB | gateway idle CPU (cores) | "
        + " | ".join(f"`{w}` p50 / p99 ms (n)" for w in what)
        + " |",
        "|---|---|---|---|" + "---|" * len(what),
    ]
    states = [
        ("none", "no session", 0),
        ("idle", "idle, no GET stream", None),
        ("streams", "idle, each with a GET stream", None),
    ]
    for key, label, sessions in states:
        state = i.get(key)
        if not state:
            continue
        n = sessions if sessions is not None else state.get("sessions", state.get("streams"))
        if key == "streams":
            n = i["idle"]["sessions"]
        cells = []
        for w in what:
            p = state["probes"][w]
            cells.append(
                f"{fmt(p['latencyMs']['p50'])} / {fmt(p['latencyMs']['p99'])} ({p['requests']})"
            )
        lines.append(
            f"| {label} | {fmt(n)} | {fmt(state['rssKB'] / 1024, 1)} "
            f"| {fmt(state.get('idleCores'), 3)} | " + " | ".join(cells) + " |"
        )
    idle, streams = i.get("idle", {}), i.get("streams", {})
    op, pid = i.get("open", {}), i.get("openWithClientPid", {})
    lines += [
        "",
        f"- RSS per idle session: {fmt(idle.get('kbPerSession'))} KB (PSS "
        f"{fmt(idle.get('pssKbPerSession'))} KB); per GET stream on top: "
        f"{fmt(streams.get('kbPerStream'))} KB",
        f"- opening {fmt(op.get('opened'))} sessions: {fmt(op.get('seconds'), 1)} s "
        f"({fmt(op.get('sessionsPerSecond'), 0)}/s), gateway CPU "
        f"{fmt(op.get('gatewayUserMsPerSession'), 2)} ms user + "
        f"{fmt(op.get('gatewaySysMsPerSession'), 2)} ms sys per session (no client pid: the "
        "gateway looks up the socket's owner); with `X-Client-Pid` "
        f"({fmt(pid.get('opened'))} sessions): {fmt(pid.get('gatewayUserMsPerSession'), 2)} + "
        f"{fmt(pid.get('gatewaySysMsPerSession'), 2)} ms",
        f"- {fmt(streams.get('streams'))} GET streams opened in "
        f"{fmt(streams.get('openSeconds'), 1)} s; gateway CPU per request with the most "
        "sessions: "
        + ", ".join(
            f"`{w}` {fmt(streams.get('probes', {}).get(w, {}).get('gatewayMsPerRequest'))} ms"
            for w in what
        ),
    ]
    return lines


def clusterSection(k: dict[str, Any]) -> list[str]:
    lines = [
        "### 4. Cluster: a hop, and a model",
        "",
        f"{k['replicas']} replicas, {k['routing']}; {k['auth']}.",
        "",
        "| path | C | calls/s | p50 ms | p99 ms | r1 µs/call | r2 µs/call | HAProxy µs/call"
        " | children µs/call | not ok |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, level in k["levels"].items():
        name, c = key.rsplit(" c", 1)
        cpu, lat = level["cpuUsPerCallMedian"], level["latencyMs"]
        lines.append(
            f"| {name} | {c} | {fmt(level['callsPerSecond'], 0)} | {fmt(lat['p50'])} "
            f"| {fmt(lat['p99'])} | {fmt(cpu.get('r1'), 0)} | {fmt(cpu.get('r2'), 0)} "
            f"| {fmt(cpu.get('haproxy'), 0)} | {fmt(cpu.get('children'), 0)} | {notOk(level)} |"
        )
    c = k["costs"]
    lines += [
        "",
        f"Per call at C=16: the owner {fmt(c['gatewayUs'], 0)} µs called directly, the "
        f"gateways {fmt(c['haproxyGatewaysUs'], 0)} µs behind HAProxy; a forwarded call adds "
        f"{fmt(c['forwarderUs'], 0)} µs on the forwarder and {fmt(c['ownerExtraUs'], 0)} µs on "
        f"the owner; HAProxy {fmt(c['haproxyUs'], 0)} µs; the child {fmt(c['childUs'], 0)} µs. "
        f"At C=1 a forward adds {fmt(c['forwardAddsP50Ms'], 3)} ms to p50, HAProxy "
        f"{fmt(c['haproxyAddsP50Ms'], 3)} ms. Forwarded counters after the run: "
        f"{k['forwardedCounters']}.",
        "",
        "Model (closed form, `pathcluster.model`):",
        "",
        "| replicas | routing | forwarded | calls/s | limited by | gateway cores/replica |"
        " p50 ms (light load) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in k["model"]["rows"]:
        lines.append(
            f"| {row['replicas']} | {row['routing']} | {row['forwarded']} "
            f"| {fmt(row['callsPerSecond'])} | {row['limitedBy']} "
            f"| {row['gatewayCoresPerReplica']} | {row['p50MsLightLoad']} |"
        )
    lines += ["", "Assumptions:", *(f"- {a}" for a in k["model"]["assumptions"])]
    lines += ["", "Left out:", *(f"- {a}" for a in k["model"]["leftOut"])]
    return lines


def report(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "## The paths besides one shared child (`benchmarks/paths.py`)",
        "",
        f"{m['nproc']} cores ({m['cpuModel']}), Python {m['python']}, Node {m['node']}, "
        f"Twisted {m['twisted']}, load generator loop: {loopOf(res)}; commit "
        f"{res['code']['commit']}{' (+uncommitted)' if res['code']['uncommitted'] else ''}; "
        f"{res['rounds']} interleaved round(s): calls/s and latency of the round with the "
        "median calls/s, CPU per call the median over the rounds; "
        f"{res['server']}. Run: {res.get('seconds')} s "
        f"({', '.join(f'{k} {v} s' for k, v in res.get('sectionSeconds', {}).items())}).",
        "",
    ]
    parts = (
        ("team", teamSection),
        ("aggregate", aggregateSection),
        ("idle", idleSection),
        ("cluster", clusterSection),
    )
    for key, render in parts:
        if key in res:
            lines += [*render(res[key]), ""]
    for key, error in res.get("errors", {}).items():
        lines.append(f"**{key} failed**: {error}")
    return "\n".join(lines)


def loopOf(res: dict[str, Any]) -> str:
    for key, inner in (("team", "variants"), ("aggregate", "paths")):
        for levels in res.get(key, {}).get(inner, {}).values():
            for level in levels.values():
                if level.get("loop"):
                    return str(level["loop"])
    return "-"
