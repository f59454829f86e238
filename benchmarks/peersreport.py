"""The figures and tables of ``peers.py``: the median round per target, client kind
and level, the gateway's ratios over the others, the targets check, the markdown.

A result (``results/peers.json``) holds, per target, per client kind (``stdio`` for
the direct target), per level, the median round by calls/s with every round's figures
and the wrong answers summed over the rounds.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench  # noqa: E402
from peerclients import CLIENT_LABELS, DIRECT  # noqa: E402
from peertargets import LABELS, ORDER, REFERENCE  # noqa: E402

GATEWAY = "mcpgateway"
TARGETS = {
    "overBestPeer": 2.0,
    "overImmortermUnique": 1.25,
    "p99OverP50": 4.0,
    "spread": 0.25,
    "cpuUsPerCall": 100.0,
}
"""What the gateway aims at, per client kind (checked, never asserted)."""


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median round by calls/s, every round's figures, wrong answers summed, the
    spread of calls/s over the rounds ((max - min) / median)."""
    chosen = dict(sorted(rounds, key=lambda r: r["callsPerSecond"])[(len(rounds) - 1) // 2])
    chosen["runs"] = [
        {
            "callsPerSecond": r["callsPerSecond"],
            "p50": r["latencyMs"]["p50"],
            "p90": r["latencyMs"]["p90"],
            "p99": r["latencyMs"]["p99"],
            "ok": r["ok"],
            "misrouted": r["misrouted"],
            "lost": r["lost"],
            "errors": r["errors"],
        }
        for r in rounds
    ]
    for key in ("misrouted", "lost", "errors"):
        chosen[key + "AllRuns"] = sum(r[key] for r in rounds)
    chosen["wrongAllRuns"] = sum(chosen[k + "AllRuns"] for k in ("misrouted", "lost", "errors"))
    rates = [r["callsPerSecond"] for r in rounds]
    middle = statistics.median(rates)
    chosen["spread"] = round((max(rates) - min(rates)) / middle, 3) if middle else None
    return chosen


def cell(res: dict[str, Any], target: str, kind: str) -> dict[str, Any]:
    """What C{target} gave C{kind} (the direct target: its stdio figures)."""
    clients = res["targets"].get(target, {}).get("clients", {})
    got: dict[str, Any] = clients.get(DIRECT if target == "direct" else kind, {})
    return got


def levelOf(res: dict[str, Any], target: str, kind: str, c: str) -> dict[str, Any] | None:
    got: dict[str, Any] | None = cell(res, target, kind).get("levels", {}).get(c)
    return got


def correct(entry: dict[str, Any]) -> bool:
    """No wrong answer in any round at any level, and no level that failed (plain
    immorterm is right at C=1 only because one session's ids cannot collide: it is
    not a correct peer)."""
    levels = entry.get("levels", {}).values()
    return not entry.get("failed") and not any(lv["wrongAllRuns"] for lv in levels)


def kindRatios(res: dict[str, Any], kind: str) -> dict[str, Any]:
    """For one client kind: per level, mcpgateway's calls/s over the best correct
    peer's (and which: a peer with no wrong answer at any level, immorterm-unique
    apart), over immorterm-unique's and over direct stdio's, the spread
    of its rounds and its CPU per call; its top level over the one below, and the
    top level's p99 over p50."""
    levels = [str(c) for c in res["levels"]]
    out: dict[str, Any] = {"levels": {}}
    for c in levels:
        gw = levelOf(res, GATEWAY, kind, c)
        best: tuple[float, str] | None = None
        for key, t in res["targets"].items():
            entry = t.get("clients", {}).get(kind, {})
            lv = entry.get("levels", {}).get(c)
            # immorterm-unique is a best case no real client arranges: it has
            # a ratio (and a target) of its own, not a place among the peers.
            if key in REFERENCE or key in (GATEWAY, "immorterm-unique") or not lv:
                continue
            if not correct(entry):
                continue
            if best is None or lv["callsPerSecond"] > best[0]:
                best = (lv["callsPerSecond"], key)
        row: dict[str, Any] = {"bestCorrectPeer": best[1] if best else None}
        if gw:
            rate = gw["callsPerSecond"]
            if best and best[0]:
                row["gatewayOverBestCorrectPeer"] = round(rate / best[0], 2)
            unique = levelOf(res, "immorterm-unique", kind, c)
            if unique and unique["callsPerSecond"]:
                row["gatewayOverImmortermUnique"] = round(rate / unique["callsPerSecond"], 2)
            direct = levelOf(res, "direct", kind, c)
            if direct and direct["callsPerSecond"]:
                row["gatewayOverDirect"] = round(rate / direct["callsPerSecond"], 3)
            row["spread"] = gw.get("spread")
            row["rounds"] = len(gw.get("runs", []))
            row["cpuUsPerCall"] = gw.get("cpuUsPerCall", {}).get("proxy")
        out["levels"][c] = row
    if len(levels) >= 2:
        hi, mid = levels[-1], levels[-2]
        top, below = levelOf(res, GATEWAY, kind, hi), levelOf(res, GATEWAY, kind, mid)
        out["high"], out["mid"] = hi, mid
        if top and below and below["callsPerSecond"]:
            out["highOverMid"] = round(top["callsPerSecond"] / below["callsPerSecond"], 2)
        if top and top["latencyMs"].get("p50"):
            out["p99OverP50"] = round(top["latencyMs"]["p99"] / top["latencyMs"]["p50"], 2)
    return out


def ratios(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """L{kindRatios} for every client kind that ran."""
    return {kind: kindRatios(res, kind) for kind in res["clients"] if not notRun(res, kind)}


def notRun(res: dict[str, Any], kind: str) -> str | None:
    reason: str | None = res["clients"].get(kind, {}).get("notRun")
    return reason


def verdict(values: list[tuple[str, float | None]], ok: Any, fmt: str) -> dict[str, Any]:
    """A check over C{(where, value)} pairs: holds when every measured value is
    C{ok}; C{None} when none was measured."""
    measured = [(w, v) for w, v in values if v is not None]
    bad = [f"{fmt.format(v)} at {w}" for w, v in measured if not ok(v)]
    if not measured:
        return {"holds": None, "detail": "not measured"}
    shown = bad or [f"{fmt.format(v)} at {w}" for w, v in measured]
    return {"holds": not bad, "detail": ", ".join(shown)}


def checks(res: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per client kind, whether each target of the gateway holds (reported only)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, rr in res.get("ratios", {}).items():
        rows = rr["levels"]
        got: dict[str, dict[str, Any]] = {}
        got["overBestPeer"] = verdict(
            [(f"C={c}", r.get("gatewayOverBestCorrectPeer")) for c, r in rows.items()],
            lambda v: v >= TARGETS["overBestPeer"],
            "{:.2f}x",
        )
        if kind.startswith("sdk-"):
            got["overImmortermUnique"] = {"holds": None, "detail": "n/a: the SDK picks its ids"}
        else:
            got["overImmortermUnique"] = verdict(
                [(f"C={c}", r.get("gatewayOverImmortermUnique")) for c, r in rows.items()],
                lambda v: v >= TARGETS["overImmortermUnique"],
                "{:.2f}x",
            )
        where = f"C={rr.get('high')}/C={rr.get('mid')}"
        got["highOverMid"] = verdict([(where, rr.get("highOverMid"))], lambda v: v >= 1, "{:.2f}")
        got["p99OverP50"] = verdict(
            [(f"C={rr.get('high')}", rr.get("p99OverP50"))],
            lambda v: v <= TARGETS["p99OverP50"],
            "{:.1f}",
        )
        if all(r.get("rounds", 0) < 2 for r in rows.values()):
            got["spread"] = {"holds": None, "detail": "n/a: one round"}
        else:
            got["spread"] = verdict(
                [(f"C={c}", r.get("spread")) for c, r in rows.items() if r.get("rounds", 0) > 1],
                lambda v: v <= TARGETS["spread"],
                "{:.0%}",
            )
        got["cpuUsPerCall"] = verdict(
            [("C=16", rows.get("16", {}).get("cpuUsPerCall"))],
            lambda v: v <= TARGETS["cpuUsPerCall"],
            "{:.0f} µs",
        )
        out[kind] = got
    return out


CHECK_TITLES = {
    "overBestPeer": "≥ 2x the best correct peer, every level",
    "overImmortermUnique": "≥ 1.25x immorterm-unique, every level",
    "highOverMid": "C=64 ≥ C=16 calls/s",
    "p99OverP50": "C=64 p99 ≤ 4x p50",
    "spread": "spread over rounds ≤ 25%",
    "cpuUsPerCall": "CPU ≤ 100 µs/call at C=16",
}


# -- markdown ------------------------------------------------------------------------


def oneLine(text: str, most: int = 160) -> str:
    """C{text} fit for a table cell: one line, no column bar, at most C{most} chars."""
    return " ".join(text.replace("|", "/").split())[:most]


def fmtRate(x: float) -> str:
    return f"{x:,.0f}"


def fmtRatio(row: dict[str, Any], key: str, digits: int = 2) -> str:
    v = row.get(key)
    return "-" if v is None else f"{v:.{digits}f}x"


def header(res: dict[str, Any]) -> list[str]:
    m = res["machine"]
    calls = ", ".join(f"{n} at C={c}" for c, n in res["callsPerLevel"].items())
    kinds = []
    for kind, info in res["clients"].items():
        if info.get("notRun"):
            kinds.append(f"{kind}: not run ({oneLine(info['notRun'])})")
        else:
            kinds.append(f"{kind} ({info.get('version')})")
    return [
        f"## mcpgateway and its peers ({res['when']}; {res['rounds']} rounds per level,"
        f" {calls} calls per round, at most {res['maxSeconds']:g} s each"
        f"{', quick' if res.get('quick') else ''})",
        "",
        f"{m['nproc']} CPUs ({m['cpuModel']}), Python {m['python']}, Node {m['node']}; load "
        f"average {m['loadAverageAtStart']} at start, {res.get('loadAverageAtEnd')} at end; "
        f"{res.get('minutes', '?')} min. Gateway code: {res['code']['commit']}"
        + (
            f" + {len(res['code']['uncommitted'])} uncommitted file(s)"
            if res["code"]["uncommitted"]
            else ""
        )
        + ".",
        "",
        "Client kinds: " + "; ".join(kinds) + ".",
    ]


def kindTable(res: dict[str, Any], kind: str) -> list[str]:
    levels = [str(c) for c in res["levels"]]
    L = [
        "",
        f"### {CLIENT_LABELS.get(kind, kind)}: calls/s (p50 / p99 ms), median of the rounds",
        "",
        "| target | " + " | ".join(f"C={c}" for c in levels) + " | wrong answers (all rounds) |",
        "|---|" + "---:|" * len(levels) + "---|",
    ]
    for key in ORDER:
        t = res["targets"].get(key)
        if t is None:
            continue
        entry = cell(res, key, kind)
        why = t.get("failed") if not t.get("clients") else None
        why = (
            why
            or entry.get("notApplicable")
            or (entry.get("failed") if not entry.get("levels") else None)
        )
        if why:
            L.append(
                f"| {LABELS[key]} | " + " | ".join("-" for _ in levels) + f" | {oneLine(why)} |"
            )
            continue
        cells, wrong = [], []
        for c in levels:
            lv = entry.get("levels", {}).get(c)
            if lv is None:
                cells.append("-")
                continue
            lat = lv["latencyMs"]
            cells.append(
                f"{fmtRate(lv['callsPerSecond'])} ({bench.fmt(lat['p50'], 2)} / "
                f"{bench.fmt(lat['p99'], 1)})"
            )
            if lv["wrongAllRuns"]:
                wrong.append(
                    f"C={c}: {lv['misroutedAllRuns']} misrouted, {lv['lostAllRuns']}"
                    f" lost, {lv['errorsAllRuns']} errors"
                )
        said = "; ".join(wrong) if wrong else "none"
        if entry.get("failed"):
            said += f"; failed at some level: {oneLine(entry['failed'], 120)}"
        L.append(f"| {LABELS[key]} | " + " | ".join(cells) + f" | {said} |")
    return L


def ratioTables(res: dict[str, Any]) -> list[str]:
    L = [
        "",
        "### mcpgateway over the others, per client kind",
        "",
        "| client | C | over the best correct peer | over immorterm-unique | over direct stdio"
        " | spread of its rounds | gateway CPU µs/call |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for kind, rr in res.get("ratios", {}).items():
        for c, row in rr["levels"].items():
            best = (
                f"{row['gatewayOverBestCorrectPeer']:.2f}x ({row['bestCorrectPeer']})"
                if "gatewayOverBestCorrectPeer" in row
                else "-"
            )
            spread = row.get("spread") if row.get("rounds", 0) > 1 else None
            cpu = row.get("cpuUsPerCall")
            L.append(
                f"| {kind} | {c} | {best} | {fmtRatio(row, 'gatewayOverImmortermUnique')} | "
                f"{fmtRatio(row, 'gatewayOverDirect')} | "
                f"{'-' if spread is None else f'{spread:.0%}'} | "
                f"{'-' if cpu is None else f'{cpu:.0f}'} |"
            )
    L += [
        "",
        "| client | top level over the one below (calls/s) | top level p99 / p50 |",
        "|---|---:|---:|",
    ]
    for kind, rr in res.get("ratios", {}).items():
        high, where = rr.get("high"), f"C={rr.get('high')}/C={rr.get('mid')}"
        hom, p = rr.get("highOverMid"), rr.get("p99OverP50")
        L.append(
            f"| {kind} | {'-' if hom is None else f'{hom:.2f} ({where})'} | "
            f"{'-' if p is None else f'{p:.1f} (C={high})'} |"
        )
    return L


def checkTable(res: dict[str, Any]) -> list[str]:
    L = [
        "",
        "### Targets (reported, not asserted)",
        "",
        "| client | " + " | ".join(CHECK_TITLES.values()) + " |",
        "|---|" + "---|" * len(CHECK_TITLES),
    ]
    for kind, got in res.get("checks", {}).items():
        cells = []
        for key in CHECK_TITLES:
            v = got.get(key, {"holds": None, "detail": "-"})
            word = {True: "yes", False: "**no**", None: "-"}[v["holds"]]
            cells.append(f"{word} ({v['detail']})")
        L.append(f"| {kind} | " + " | ".join(cells) + " |")
    return L


def roundsTable(res: dict[str, Any]) -> list[str]:
    L = [
        "",
        "Every round (calls/s, p50 / p99 ms):",
        "",
        "| target | client | C | rounds | CPU cores (proxy; direct: child; ceiling: server) |"
        " processes | RSS proxy / whole tree, after the round |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for key in ORDER:
        for kind, entry in res["targets"].get(key, {}).get("clients", {}).items():
            for c, lv in entry.get("levels", {}).items():
                runs = ", ".join(
                    f"{fmtRate(r['callsPerSecond'])} ({bench.fmt(r['p50'], 2)} / "
                    f"{bench.fmt(r['p99'], 1)})"
                    for r in lv["runs"]
                )
                cpu = lv["cpuCores"]
                cores = cpu.get("proxy", cpu.get("child", cpu.get("server")))
                rss = lv.get("rssKB", {})
                mem = f"{rss['proxy'] / 1024:.0f} / {rss['tree'] / 1024:.0f} MB" if rss else "-"
                L.append(
                    f"| {key} | {kind} | {c} | {runs} | {bench.fmt(cores)} | "
                    f"{lv.get('processes', '-')} | {mem} |"
                )
    return L


def report(res: dict[str, Any]) -> str:
    L = header(res)
    for kind in res["clients"]:
        if not notRun(res, kind):
            L += kindTable(res, kind)
    L += ratioTables(res)
    L += checkTable(res)
    L += roundsTable(res)
    return "\n".join(L)
