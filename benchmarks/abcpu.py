#!/usr/bin/env python3
"""Two versions of the gateway side by side: CPU per call, calls/s and p50, in
interleaved rounds (how each change is measured).

Usage (from the repository, with the bench's interpreter)::

    benchmarks/.venv/bin/python benchmarks/abcpu.py REF [--sessions 1] [--calls 4000]
                                                    [--rounds 10] [--kind raw|aiohttp|httpx]

``REF`` (a git ref: ``HEAD~1``, a commit) runs from a detached worktree beside
this checkout; ``REF`` may also be a directory holding another checkout (a
copy made with ``git archive``, say), which runs as it is and is left in
place, so a change not yet committed can be measured without touching the
repository's worktrees. Both run as the README's command runs them (``twistd -n
mcpgateway``; ``MCPGATEWAY_BENCH_RUNNER=start``: as ``mcpgateway start`` does),
each with its own shared ``server-everything`` child; ``--other-env`` sets
variables for the other one only, so this checkout's directory as ``REF``
with ``--other-env MCPGATEWAY_TWISTED=stock`` sets the stock runtime beside
the tuned one (``--kind httpx``: the decision of which one is the default).
Each round runs ``mcpload.py load`` against one, then the other (the order
alternates), after two warm-up rounds each; ``--kind aiohttp`` (or
``httpx``) runs ``libload.py``'s client of that library instead, a client
per session, as ``peers.py`` does. The gateway's CPU is read from
``/proc/<pid>/task/*/schedstat`` (nanoseconds on the CPU, every thread), not
from ``/proc/<pid>/stat``'s 10 ms ticks: at one call in flight the rounds of
one version then agree within about 1 µs per call, where the ticks' figures
moved by 30. Prints one line per version: the medians, and every round's CPU.
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
import peers  # noqa: E402


def cpuSeconds(pid: int) -> float:
    """The time every thread of C{pid} has spent on a CPU, in seconds."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def loader(kind: str) -> list[str]:
    """The argv of the load worker of client C{kind}, up to its C{load} options."""
    if kind == "raw":
        return bench.mcpload("load")
    return [bench.PY, str(HERE / "libload.py"), kind]


def oneRound(
    url: str, pid: int, sessions: int, calls: int, kind: str = "raw"
) -> tuple[float, float, float]:
    """One load round: calls/s, p50 latency (µs) and the gateway's CPU µs per call."""
    before = cpuSeconds(pid)
    out = subprocess.run(
        [
            *loader(kind),
            "--url",
            url,
            "--sessions",
            str(sessions),
            "--calls",
            str(max(1, calls // sessions)),
            "--warmup",
            "20",
            "--max-seconds",
            "30",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spent = cpuSeconds(pid) - before
    lines = [json.loads(line) for line in out.strip().splitlines() if line.startswith("{")]
    found = [line for line in lines if line.get("event", "result") == "result"][-1:]
    if not found:
        raise SystemExit(f"no result from the loader: {out[-2000:]}")
    result: dict[str, Any] = found[0]
    if result["misrouted"] or result["lost"] or result["errors"]:
        raise SystemExit(f"wrong answers: {result}")
    ok = result["ok"]
    return (
        ok / (result["end"] - result["start"]),
        statistics.median(result["latUs"]),
        spent / ok * 1e6,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("ref", help="the other version: a git ref, or a checkout's directory")
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--calls", type=int, default=4000, help="calls per round (all sessions)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument(
        "--kind",
        choices=("raw", "aiohttp", "httpx"),
        default="raw",
        help="the client: mcpload.py's raw HTTP, or libload.py's client of that library",
    )
    ap.add_argument(
        "--other-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set in the other version's environment (MCPGATEWAY_JSON=stdlib: as it ran"
        " where orjson was not installed)",
    )
    args = ap.parse_args(argv)
    cache = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or bench.REPO / ".cache" / "test-backends")
    paths = dict(
        line.split("=", 1) for line in (cache / "paths.env").read_text().splitlines() if "=" in line
    )
    work = Path(tempfile.mkdtemp(prefix="mcpgateway-abcpu-"))
    given = Path(args.ref)
    if given.is_dir():
        other = given.resolve()
        commit = other.name
    else:
        other, commit = peers.checkoutBefore(args.ref, work / "other")
    spec = {"everything": bench.everythingSpec(paths["SERVER_EVERYTHING_JS"])}
    versions = [("this checkout", bench.REPO), (commit, other)]
    gateways = [bench.Gateway(spec, work / "gw0", repo=bench.REPO)]
    saved = dict(os.environ)
    os.environ.update(dict(pair.split("=", 1) for pair in args.other_env))
    try:
        gateways.append(bench.Gateway(spec, work / "gw1", repo=other))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        for gw in gateways:
            for _ in range(2):
                oneRound(gw.url("everything"), gw.pid, args.sessions, args.calls, args.kind)
        rounds: list[list[tuple[float, float, float]]] = [[] for _ in gateways]
        for r in range(args.rounds):
            order = range(len(gateways)) if r % 2 == 0 else reversed(range(len(gateways)))
            for i in order:
                gw = gateways[i]
                url = gw.url("everything")
                rounds[i].append(oneRound(url, gw.pid, args.sessions, args.calls, args.kind))
        for (name, _), found in zip(versions, rounds, strict=True):
            calls, p50, cpu = (statistics.median(x[k] for x in found) for k in range(3))
            each = " ".join(f"{x[2]:.1f}" for x in found)
            print(
                f"{name:>14}: {calls:7.0f} calls/s, p50 {p50:.0f} µs, CPU {cpu:.1f} µs per call"
                f" (C={args.sessions}, {args.kind}; every round's CPU: {each})"
            )
    finally:
        for gw in gateways:
            gw.stop()
        if not given.is_dir():
            peers.dropBefore(other)
    return 0


if __name__ == "__main__":
    sys.exit(main())
