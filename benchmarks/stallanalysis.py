"""What C{stall.py} makes of a round: the load generator's calls per 100 ms
window beside the gateway's records of the same window (collections, reactor
turns, writes and reads), and the one-line summary it prints per round.

Pure functions of the two JSON documents.
"""

from __future__ import annotations

import itertools
import statistics
from typing import Any

WINDOW = 0.1
"""Seconds per window of the latency-over-time record."""


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def windows(doneNs: list[int], latNs: list[int], t0: float, t1: float) -> list[dict[str, Any]]:
    n = max(1, int((t1 - t0) / WINDOW + 0.999))
    buckets: list[list[float]] = [[] for _ in range(n)]
    for d, lat in zip(doneNs, latNs, strict=True):
        i = int((d / 1e9 - t0) / WINDOW)
        if 0 <= i < n:
            buckets[i].append(lat / 1e6)
    return [
        {
            "t": round(i * WINDOW, 2),
            "calls": len(b),
            "p50": round(pct(b, 0.5), 2),
            "p90": round(pct(b, 0.9), 2),
            "max": round(max(b), 2) if b else 0.0,
        }
        for i, b in enumerate(buckets)
    ]


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def inWindow(rec: dict[str, Any], t0: float, t1: float) -> dict[str, list[Any]]:
    """The gateway's records (collections, turns, writes, reads) within the
    round's measured window."""
    return {
        key: [x for x in rec[key] if t0 <= x[0] <= t1]
        for key in ("gcs", "turns", "childWrites", "sockWrites", "childReads")
    }


def slowWindows(
    full: list[dict[str, Any]], medRate: float, t0: float, gcs: list[Any], turns: list[Any]
) -> tuple[list[dict[str, Any]], float, int]:
    """The windows under half the median rate, the seconds of collection
    they overlap and the turns over 10 ms that start in them."""
    slow = [w for w in full if w["calls"] / WINDOW < 0.5 * medRate]
    slowGc = 0.0
    slowLongTurns = 0
    for w in slow:
        a = t0 + w["t"]
        b = a + WINDOW
        slowGc += sum(overlap(a, b, g[0], g[0] + g[2]) for g in gcs)
        slowLongTurns += sum(1 for t in turns if a <= t[0] < b and t[1] > 0.01)
    return slow, slowGc, slowLongTurns


def turnFigures(turns: list[Any], gcs: list[Any], t0: float, wall: float) -> dict[str, Any]:
    """The reactor's turns: their lengths, those over 10 ms and whether a
    collection is most of them, the idle waits between them (the gateway
    in C{epoll_wait} while calls are in flight: waiting for the child or
    the load generator)."""
    busy = [t[1] * 1e3 for t in turns]
    longTurns = sorted(turns, key=lambda t: -t[1])[:8]
    gcTurns = 0
    for t in turns:
        if (
            t[1] > 0.01
            and sum(overlap(t[0], t[0] + t[1], g[0], g[0] + g[2]) for g in gcs) > 0.5 * t[1]
        ):
            gcTurns += 1
    waits = [(b[0] - (a[0] + a[1])) * 1e3 for a, b in itertools.pairwise(turns)]
    return {
        "n": len(turns),
        "p50Ms": round(pct(busy, 0.5), 3),
        "p99Ms": round(pct(busy, 0.99), 2),
        "maxMs": round(max(busy, default=0), 2),
        "over10ms": sum(1 for b in busy if b > 10),
        "over10msMostlyGc": gcTurns,
        "idleWaitsOver5ms": sum(1 for w in waits if w > 5),
        "idleWaitMaxMs": round(max(waits, default=0), 2),
        "idleShareOfWall": round(sum(waits) / 1e3 / wall, 3) if wall else 0,
        "eventsPerTurnMean": round(statistics.mean([t[2] for t in turns]), 1) if turns else 0,
        "longest": [
            {"at": round(t[0] - t0, 3), "ms": round(t[1] * 1e3, 2), "events": t[2]}
            for t in longTurns
        ],
    }


def ioFigures(got: dict[str, list[Any]]) -> dict[str, Any]:
    """The writes to the child's stdin and to the sockets, the reads of the
    child's stdout."""
    cw, sw, cr = got["childWrites"], got["sockWrites"], got["childReads"]
    return {
        "childStdin": {
            "writes": len(cw),
            "bytesMean": round(statistics.mean([w[1] for w in cw]), 0) if cw else 0,
            "bytesMax": max((w[1] for w in cw), default=0),
            "short": sum(1 for w in cw if 0 <= w[2] < w[1]),
        },
        "socketWrites": {"n": len(sw), "short": sum(1 for w in sw if 0 <= w[2] < w[1])},
        "childStdoutReads": {
            "n": len(cr),
            "bytesMean": round(statistics.mean([r[1] for r in cr]), 0) if cr else 0,
            "bytesMax": max((r[1] for r in cr), default=0),
        },
    }


def analyse(load: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
    """One round: the load generator's result (with its timeline) beside the
    gateway's records of the same window."""
    t0, t1 = load["start"], load["end"]
    tl = load["timeline"]
    lat = [x / 1e6 for x in tl["latNs"]]
    win = windows(tl["doneNs"], tl["latNs"], t0, t1)
    full = [w for w in win[:-1]] or win
    rates = [w["calls"] / WINDOW for w in full]
    medRate = statistics.median(rates) if rates else 0.0
    got = inWindow(rec, t0, t1)
    gcs, turns = got["gcs"], got["turns"]
    wall = t1 - t0
    gcByGen: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for g in gcs:
        gcByGen[g[1]].append(g[2] * 1e3)
    slow, slowGc, slowLongTurns = slowWindows(full, medRate, t0, gcs, turns)
    return {
        "ok": load["ok"],
        "errors": load["errors"],
        "misrouted": load["misrouted"],
        "lost": load["lost"],
        "seconds": round(wall, 3),
        "callsPerSecond": round(load["ok"] / wall, 1) if wall else 0,
        "latencyMs": {
            "p50": round(pct(lat, 0.5), 2),
            "p90": round(pct(lat, 0.9), 2),
            "p99": round(pct(lat, 0.99), 2),
            "max": round(max(lat, default=0), 2),
        },
        "windows": {
            "count": len(full),
            "medianCallsPerSecond": round(medRate),
            "slow (<50% of median)": len(slow),
            "minCallsPerSecond": round(min(rates, default=0)),
        },
        "gc": {
            f"gen{g}": {
                "n": len(v),
                "totalMs": round(sum(v), 1),
                "maxMs": round(max(v, default=0), 2),
            }
            for g, v in gcByGen.items()
        },
        "gcShareOfWall": round(sum(g[2] for g in gcs) / wall, 4) if wall else 0,
        "gcMsInSlowWindows": round(slowGc * 1e3, 1),
        "longTurnsInSlowWindows": slowLongTurns,
        "turns": turnFigures(turns, gcs, t0, wall),
        **ioFigures(got),
        "messagesToChild": rec["sends"],
        "gatewayGcState": {
            k: rec[k]
            for k in (
                "gcCount",
                "gcThreshold",
                "gcFrozen",
                "trackedObjects",
                "gen2Objects",
                "topTypes",
                "fullCollectMs",
            )
        },
        "timeline": win,
    }


def summary(a: dict[str, Any]) -> str:
    lat = a["latencyMs"]
    gc_ = a["gc"]
    t = a["turns"]
    return (
        f"round {a['round']}: {a['callsPerSecond']:.0f} calls/s ok={a['ok']} "
        f"err={a['errors']} mis={a['misrouted']} lost={a['lost']} | p50 {lat['p50']} "
        f"p90 {lat['p90']} p99 {lat['p99']} max {lat['max']} ms | windows: median "
        f"{a['windows']['medianCallsPerSecond']}/s, slow "
        f"{a['windows']['slow (<50% of median)']}"
        f"/{a['windows']['count']} | gc gen0 {gc_['gen0']['n']} gen1 {gc_['gen1']['n']} "
        f"gen2 {gc_['gen2']['n']} ({gc_['gen2']['totalMs']} ms, max {gc_['gen2']['maxMs']}),"
        f" gc {a['gcShareOfWall']:.1%} of wall, {a['gcMsInSlowWindows']} ms in slow windows"
        f" | turns p50 {t['p50Ms']} p99 {t['p99Ms']} max {t['maxMs']} ms, >10ms "
        f"{t['over10ms']} ({t['over10msMostlyGc']} mostly GC), idle waits >5ms "
        f"{t['idleWaitsOver5ms']} (max {t['idleWaitMaxMs']}, idle {t['idleShareOfWall']:.0%}),"
        f" events/turn {t['eventsPerTurnMean']} | stdin writes "
        f"{a['childStdin']['writes']} mean {a['childStdin']['bytesMean']} B for "
        f"{a['messagesToChild']} msgs, stdout reads {a['childStdoutReads']['n']} | "
        f"tracked objs {a['gatewayGcState']['trackedObjects']} rss "
        f"{a['gatewayRssKB'] / 1024:.1f} MB, gateway CPU {a['gatewayCpuUsPerCall']} us/call"
    )
