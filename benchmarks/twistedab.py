#!/usr/bin/env python3
"""``--twisted=stock`` against ``--twisted=tuned``, end to end, in interleaved rounds.

Usage (from the repository)::

    .venv/bin/python benchmarks/twistedab.py [--kind httpx] [--sessions 1 16]
                                             [--calls 2000] [--rounds 3]

Two gateways from this checkout, run as the README's command runs them
(``twistd -n mcpgateway``), one with ``MCPGATEWAY_TWISTED=stock`` and one
with ``tuned``, each with its own shared ``server-everything`` child. For each
C and round, ``libload.py KIND`` (a real HTTP-library client: httpx2, aiohttp
or the Python SDK) runs against one, then the other (the order alternates),
after a warm-up round each. The gateway's CPU per call is read from
``/proc/<pid>/task/*/schedstat``. Prints one JSON line per C and variant:
the medians and every round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402
from abcpu import cpuSeconds  # noqa: E402

VARIANTS = ("stock", "tuned")


def oneRound(kind: str, url: str, pid: int, sessions: int, calls: int) -> dict[str, float]:
    """One load round: calls/s, p50 latency (µs) and the gateway's CPU µs per call."""
    before = cpuSeconds(pid)
    done = subprocess.run(
        [
            bench.PY,
            str(HERE / "libload.py"),
            kind,
            "--url",
            url,
            "--sessions",
            str(sessions),
            "--calls",
            str(max(1, calls // sessions)),
            "--warmup",
            "10",
            "--max-seconds",
            "60",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    spent = cpuSeconds(pid) - before
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    [result] = [e for e in events if e["event"] == "result"] or [{"event": "none", **events[-1]}]
    if (
        result.get("misrouted")
        or result.get("lost")
        or result.get("errors")
        or not result.get("ok")
    ):
        raise SystemExit(f"wrong answers: {str(result)[:400]}")
    ok = result["ok"]
    return {
        "callsPerSecond": ok / (result["end"] - result["start"]),
        "p50Us": statistics.median(result["latUs"]),
        "cpuUsPerCall": spent / ok * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--kind", default="httpx", choices=("aiohttp", "httpx", "sdk-python"))
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--calls", type=int, default=2000, help="calls per round (all sessions)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    cache = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or bench.REPO / ".cache" / "test-backends")
    paths = dict(
        line.split("=", 1) for line in (cache / "paths.env").read_text().splitlines() if "=" in line
    )
    work = Path(tempfile.mkdtemp(prefix="mcpgateway-twistedab-"))
    spec = {"everything": bench.everythingSpec(paths["SERVER_EVERYTHING_JS"])}
    gateways: dict[str, Any] = {}
    saved = dict(os.environ)
    try:
        for variant in VARIANTS:
            os.environ["MCPGATEWAY_TWISTED"] = variant
            gateways[variant] = bench.Gateway(spec, work / variant)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        for sessions in args.sessions:
            for gw in gateways.values():
                oneRound(args.kind, gw.url("everything"), gw.pid, sessions, args.calls // 4)
            rounds: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
            for r in range(args.rounds):
                order = VARIANTS if r % 2 == 0 else tuple(reversed(VARIANTS))
                for variant in order:
                    gw = gateways[variant]
                    found = oneRound(args.kind, gw.url("everything"), gw.pid, sessions, args.calls)
                    rounds[variant].append(found)
            for variant in VARIANTS:
                found = rounds[variant]
                medians = {k: round(statistics.median(x[k] for x in found), 1) for k in found[0]}
                line = {"kind": args.kind, "C": sessions, "twisted": variant, **medians}
                line["rounds"] = [{k: round(v, 1) for k, v in x.items()} for x in found]
                print(json.dumps(line), flush=True)
    finally:
        for gw in gateways.values():
            gw.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
