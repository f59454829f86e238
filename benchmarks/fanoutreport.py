# -*- test-case-name: tests.test_bench_fanout -*-
"""The fan-out replay's figures: what a side's process tree holds
(L{treeFigures}: processes, PSS and RSS, idle CPU, the processes and PSS
of each server), the side without the gateway scaled to the full shape
when it had to stop early (L{extrapolate}, always labelled), the headline,
and the markdown report (L{report}).

The headline gives each side twice: with the shared servers alone (the
tree less the per-session servers' processes, L{lessServers}) and with
everything, so that a per-session server's cost stands beside figures
that compare with a run without it.
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from procstat import children, memKB, procCpu, processTree, treeMemory


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    return ""


def serverOf(command: str, markers: Mapping[str, str]) -> str | None:
    """Which server a process's command line runs (its marker is in it)."""
    for name, marker in markers.items():
        if marker and marker in command:
            return name
    return None


def byServer(commands: Sequence[str], markers: Mapping[str, str]) -> dict[str, int]:
    """How many of the processes run each server (C{other}: none of them)."""
    counts: collections.Counter[str] = collections.Counter()
    for command in commands:
        counts[serverOf(command, markers) or "other"] += 1
    return dict(sorted(counts.items()))


def memoryByServer(
    measured: Sequence[tuple[str, int]], markers: Mapping[str, str]
) -> dict[str, float]:
    """The PSS (MB) of the processes of each server (C{other}: none of
    them), from each process's command line and PSS in KiB."""
    kib: collections.Counter[str] = collections.Counter()
    for command, pss in measured:
        kib[serverOf(command, markers) or "other"] += pss
    return {name: round(k / 1024, 1) for name, k in sorted(kib.items())}


def treeFigures(
    roots: Sequence[int], idleSeconds: float, markers: Mapping[str, str]
) -> dict[str, Any]:
    """The trees of C{roots}: processes, memory, the processes per server,
    and the cores they used over C{idleSeconds} of idleness."""
    tree = children()
    pids = sorted({p for root in roots for p in processTree(root, tree)})
    before = {p: procCpu(p) for p in pids}
    t0 = time.monotonic()
    time.sleep(idleSeconds)
    wall = time.monotonic() - t0
    used = sum(max(0.0, procCpu(p) - before[p]) for p in pids)
    mem = treeMemory(list(roots))
    commands = [cmdline(p) for p in pids]
    return {
        **mem,
        "perServer": byServer(commands, markers),
        "perServerPssMB": memoryByServer(
            [(c, memKB(p)[1]) for c, p in zip(commands, pids, strict=True)], markers
        ),
        "others": sorted({c[:120] for c in commands if serverOf(c, markers) is None})[:10],
        "idleSeconds": round(wall, 1),
        "idleCores": round(used / wall, 4) if wall > 0 else 0.0,
    }


def serversStarted(perServer: Mapping[str, int], names: Sequence[str]) -> list[str]:
    """The servers with at least one process running."""
    return [name for name in names if perServer.get(name, 0) > 0]


def lessServers(tree: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """A tree's processes and PSS less those of the servers C{names}."""
    counts = tree.get("perServer", {})
    pss = tree.get("perServerPssMB", {})
    return {
        "processes": tree["processes"] - sum(counts.get(n, 0) for n in names),
        "pssMB": round(tree["pssMB"] - sum(pss.get(n, 0.0) for n in names), 1),
    }


def onlyServers(tree: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The processes and PSS of the servers C{names} in a tree."""
    counts = tree.get("perServer", {})
    pss = tree.get("perServerPssMB", {})
    return {
        "processes": sum(counts.get(n, 0) for n in names),
        "pssMB": round(sum(pss.get(n, 0.0) for n in names), 1),
    }


def extrapolate(measured: Mapping[str, Any], sessions: int, total: int) -> dict[str, Any] | None:
    """The side without the gateway at C{total} sessions, from C{sessions}
    measured: processes and memory per session times C{total} (C{None}
    when all were measured). Linear: pages every process shares (the node
    binary's) are counted once per C{sessions/total} of the run, a small
    overestimate of PSS."""
    if sessions <= 0 or sessions >= total:
        return None
    factor = total / sessions
    return {
        "extrapolated": True,
        "fromSessions": sessions,
        "toSessions": total,
        "processes": round(measured["processes"] * factor),
        "pssMB": round(measured["pssMB"] * factor, 1),
        "rssMB": round(measured["rssMB"] * factor, 1),
        "perServer": {n: round(c * factor) for n, c in measured.get("perServer", {}).items()},
        "perServerPssMB": {
            n: round(mb * factor, 1) for n, mb in measured.get("perServerPssMB", {}).items()
        },
        "note": f"extrapolated linearly from {sessions} of {total} sessions measured",
    }


def perSession(measured: Mapping[str, Any], sessions: int) -> dict[str, float]:
    """What one session's own servers cost, on average."""
    if sessions <= 0:
        return {"processes": 0.0, "pssMB": 0.0, "rssMB": 0.0}
    return {
        "processes": round(measured["processes"] / sessions, 2),
        "pssMB": round(measured["pssMB"] / sessions, 1),
        "rssMB": round(measured["rssMB"] / sessions, 1),
    }


def gatewayRuns(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The gateway's runs of the replay, the headline's first."""
    return [side for key, side in result.items() if key.startswith("gateway")]


def sessionServerNames(shape: Mapping[str, Any]) -> list[str]:
    """The servers of the run that get a child per session."""
    return [s["name"] for s in shape["servers"] if s.get("share") == "session"]


def split(tree: Mapping[str, Any], perSession: Sequence[str]) -> dict[str, Any]:
    """A tree's figures twice: the shared servers alone, and everything."""
    return {
        "processes": tree["processes"],
        "pssMB": tree["pssMB"],
        "shared": lessServers(tree, perSession),
        "sessionServers": onlyServers(tree, perSession),
    }


def headline(result: Mapping[str, Any]) -> dict[str, Any]:
    """Processes and memory of each side, as the README says them: with the
    shared servers alone (C{shared}) and with the per-session ones too (the
    top-level figures; C{sessionServers}: theirs alone)."""
    shape = result["shape"]
    perSession = sessionServerNames(shape)
    out: dict[str, Any] = {
        "sessions": shape["sessions"],
        "servers": len(shape["servers"]),
        "sharedServers": len(shape["servers"]) - len(perSession),
        "sessionServers": perSession,
        "gateway": [
            {
                "variant": run.get("variant", ""),
                **split(run["tree"], perSession),
                "serversStarted": len(run["serversStarted"]),
            }
            for run in gatewayRuns(result)
        ],
    }
    wo = result.get("without")
    if wo:
        full = wo.get("extrapolated") or wo["tree"]
        out.update(
            {
                "withoutProcesses": full["processes"],
                "withoutPssMB": full["pssMB"],
                "without": split(full, perSession),
                "withoutExtrapolated": bool(wo.get("extrapolated")),
                "withoutMeasuredSessions": wo["sessions"],
                "withoutMeasuredProcesses": wo["tree"]["processes"],
                "withoutMeasuredPssMB": wo["tree"]["pssMB"],
                "oneSessionOwnServersPssMB": wo["perSession"]["pssMB"],
            }
        )
    return out


def _ms(stats: Mapping[str, Any] | None) -> str:
    if not stats:
        return "n/a"
    return f"{stats['p50']:,.0f} / {stats['p90']:,.0f} / {stats['max']:,.0f}"


def _gb(mb: float) -> str:
    return f"{mb / 1024:,.2f} GB" if mb >= 1024 else f"{mb:,.0f} MB"


def _side(side: Mapping[str, Any]) -> dict[str, str]:
    tree = side["tree"]
    calls = side["calls"]
    start = side["start"]["all"]
    return {
        "sessions": f"{side['sessions']:,}",
        "processes": f"{tree['processes']:,}",
        "pss": _gb(tree["pssMB"]),
        "rss": _gb(tree["rssMB"]),
        "idle": f"{tree['idleCores']:.3f}",
        "first": _ms(start["firstListMs"]),
        "all": _ms(start["allListedMs"]),
        "calls": f"{calls['perSecond']:,.0f} ({calls['ok']:,} ok, {calls['wrong']} wrong,"
        f" {calls['failed']} failed)",
        "lists": f"{side['listsOk']:,} ok, {side['listsWrong']} wrong",
    }


ROWS = (
    ("sessions", "sessions"),
    ("processes", "processes"),
    ("PSS of the tree", "pss"),
    ("RSS of the tree", "rss"),
    ("CPU while idle (cores)", "idle"),
    ("start to first tools list, ms (p50 / p90 / max)", "first"),
    ("start to all listed, ms (p50 / p90 / max)", "all"),
    ("calls/s (answers)", "calls"),
    ("tools lists verified", "lists"),
)


def _extrapolated(ext: Mapping[str, Any] | None, total: int) -> dict[str, str]:
    if not ext:
        return {}
    return {
        "sessions": f"{total:,}",
        "processes": f"{ext['processes']:,}",
        "pss": _gb(ext["pssMB"]),
        "rss": _gb(ext["rssMB"]),
    }


def _gatewayNote(run: Mapping[str, Any], servers: int) -> str:
    started = run["serversStarted"]
    return (
        f"Gateway ({run.get('variant', '')}: {run.get('what', '')}): {len(started)} of"
        f" {servers} servers started ({', '.join(started) or 'none'}); its tree by name:"
        f" {run['tree']['byName']}; the gateway process itself {_gb(run['gatewayPssMB'])} PSS"
        f" ({_gb(run['gatewayRssMB'])} RSS); clients adopted: {run['adopted']}; files"
        f" restored at stop: {run['restored']}"
        + (f"; stopped early: {run['stopped']}" if run.get("stopped") else "")
        + "."
    )


def _count(figures: Mapping[str, Any]) -> str:
    return f"{figures['processes']:,} / {_gb(figures['pssMB'])}"


def _split(
    trees: Sequence[Mapping[str, Any]], shape: Mapping[str, Any], heads: Sequence[str]
) -> list[str]:
    """The headline rows: processes / PSS with the shared servers alone,
    with the per-session ones too, and theirs alone."""
    perSession = sessionServerNames(shape)
    shared = len(shape["servers"]) - len(perSession)
    if not perSession:
        return []
    named = " + ".join(perSession)
    rows = (
        (f"{shared} servers", [lessServers(t, perSession) for t in trees]),
        (
            f"{shared} + {named}",
            [{"processes": t["processes"], "pssMB": t["pssMB"]} for t in trees],
        ),
        (f"{named} alone", [onlyServers(t, perSession) for t in trees]),
    )
    return [
        "",
        "Processes / PSS, the shared servers apart from the per-session ones:",
        "",
        "| | " + " | ".join(heads) + " |",
        "| --- |" + " --- |" * len(heads),
        *(f"| {label} | " + " | ".join(_count(f) for f in cells) + " |" for label, cells in rows),
    ]


def _perServer(
    trees: Sequence[Mapping[str, Any]], names: Sequence[str], heads: Sequence[str]
) -> list[str]:
    """Processes / PSS of each server on each side (C{other}: the gateway's own)."""

    def cell(tree: Mapping[str, Any], name: str) -> str:
        count = tree.get("perServer", {}).get(name, 0)
        pss = tree.get("perServerPssMB", {}).get(name)
        return f"{count:,}" + ("" if pss is None else f" / {_gb(pss)}")

    return [
        "",
        "Processes / PSS per server (other: the gateway and its warden):",
        "",
        "| server | " + " | ".join(heads) + " |",
        "| --- |" + " --- |" * len(heads),
        *(
            f"| {name} | " + " | ".join(cell(t, name) for t in trees) + " |"
            for name in [*names, "other"]
        ),
    ]


def report(result: Mapping[str, Any]) -> str:
    """The run as markdown: the shape, every side side by side, the shared
    servers apart from the per-session ones, each server's processes and
    PSS, what each started."""
    shape = result["shape"]
    runs = gatewayRuns(result)
    wo = result.get("without")
    ext = wo.get("extrapolated") if wo else None
    sides = [*runs, *([wo] if wo else [])]
    heads = [
        *(f"with the gateway ({run.get('variant', '')})" for run in runs),
        *(["without (measured)"] if wo else []),
        *(["without, extrapolated"] if ext else []),
    ]
    columns = [
        *(_side(side) for side in sides),
        *([_extrapolated(ext, shape["sessions"])] if ext else []),
    ]
    trees = [*(side["tree"] for side in sides), *([ext] if ext else [])]
    names = [s["name"] for s in shape["servers"]]
    perSession = sessionServerNames(shape)
    lines = [
        f"## Fan-out replay: {len(shape['kinds'])} client kinds x {shape['perKind']} sessions x"
        f" (1 + {shape['subagents']} subagents) = {shape['sessions']} sessions,"
        f" {len(shape['servers'])} servers each"
        + (f" ({', '.join(perSession)}: a child per session)" if perSession else ""),
        "",
        "| | " + " | ".join(heads) + " |",
        "| --- |" + " --- |" * len(heads),
        *(
            f"| {label} | " + " | ".join(c.get(key, "") for c in columns) + " |"
            for label, key in ROWS
        ),
        *_split(trees, shape, heads),
        *_perServer(trees, names, heads),
        "",
        *(_gatewayNote(run, len(shape["servers"])) for run in runs),
    ]
    if wo:
        lines.append(
            f"Without: {wo['perSession']['processes']:g} processes and"
            f" {_gb(wo['perSession']['pssMB'])} PSS per session"
            + (f"; stopped early: {wo['stopped']}" if wo.get("stopped") else "")
            + "."
        )
    if ext:
        lines.append(f"The last column is {ext['note']}: not measured.")
    return "\n".join(lines) + "\n"
