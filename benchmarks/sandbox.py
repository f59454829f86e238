#!/usr/bin/env python3
"""What confining a child costs: its start (spawn to its first line on
stdout) and its resident memory, unconfined and through each mechanism.

Each round starts the child as the gateway would (unconfined: through
``setsid``; confined: through the sandbox's launcher, with the request
the gateway makes for an entry that says nothing), waits for its first
line, reads the resident memory of every process it is made of (the
launcher becomes bubblewrap, which keeps a process of its own and the
namespace's init), then stops it. The child is ``node -e`` (a Node.js
server's start without its modules) or ``python -c``.

Mechanisms: ``none``, ``bwrap``, ``landlock``, and ``auto`` (a child
started before the gateway's probe answered: the launcher tries
bubblewrap itself first). Confined children get the system-call filter
(the default); ``bwrap-unfiltered`` and ``landlock-unfiltered`` are the same
without it (``"syscalls": "unfiltered"``), so the filter's own cost is the
difference. Medians of N rounds; figures, not assertions.

Usage: sandbox.py [--rounds N] [--child node|python] (prints one JSON line)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mcpgateway.sandbox import probe  # noqa: E402
from mcpgateway.sandbox.request import launcherCommand  # noqa: E402

CHILDREN = {
    "node": [
        shutil.which("node") or "node",
        "-e",
        "console.log('ready'); setInterval(() => {}, 1e6)",
    ],
    "python": [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(1e6)"],
}


def request(
    mechanism: str, home: str, found: dict[str, Any], syscalls: str = "filtered"
) -> dict[str, Any]:
    return {
        "server": "bench",
        "mechanism": mechanism,
        "bwrap": found["bwrap"]["path"],
        "disableUserns": found["bwrap"].get("disableUserns", False),
        "landlock": found["landlock"]["abi"],
        "command": "node",
        "cwd": None,
        "gatewayCwd": home,
        "home": home,
        "stateDir": os.path.join(home, ".mcpgateway"),
        "network": {"mode": "none"},
        "profile": {},
        "syscalls": syscalls,
        "interpreter": sys.executable,
        "interpreterPaths": [p for p in sys.path if p.startswith("/")],
        "parent": os.getpid(),
    }


def tree(pid: int) -> list[int]:
    """C{pid} and every process under it."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    parents[int(name)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        for child, itsParent in parents.items():
            if itsParent == parent:
                found.append(child)
                frontier.append(child)
    return found


def rssKib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total


def once(argv: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """Seconds to the first line, RSS (KiB) of the whole tree, processes in it."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    line = child.stdout.readline()
    elapsed = time.perf_counter() - started
    assert line.strip() == b"ready", line
    time.sleep(0.2)  # settled
    pids = tree(child.pid)
    rss = rssKib(pids)
    os.killpg(child.pid, 9) if os.getpgid(child.pid) == child.pid else child.kill()
    child.wait()
    return elapsed, rss, len(pids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--child", choices=sorted(CHILDREN), default="node")
    args = parser.parse_args()
    found = probe.probe()
    command = CHILDREN[args.child]
    home = tempfile.mkdtemp(prefix="sandbox-bench-")
    env = {**os.environ, "HOME": home}
    setsid = shutil.which("setsid")
    ways: dict[str, list[str]] = {"none": [*([setsid] if setsid else []), *command]}
    mechanisms = ["auto"]
    if found["bwrap"]["works"]:
        mechanisms.insert(0, "bwrap")
    if found["landlock"]["abi"]:
        mechanisms.insert(1, "landlock")
    for mechanism in mechanisms:
        asked = json.dumps(request(mechanism, home, found))
        ways[mechanism] = [*launcherCommand(), asked, "--", *command]
        if mechanism != "auto":
            bare = json.dumps(request(mechanism, home, found, "unfiltered"))
            ways[f"{mechanism}-unfiltered"] = [*launcherCommand(), bare, "--", *command]
    results: dict[str, Any] = {"child": args.child, "rounds": args.rounds}
    results["root"] = os.geteuid() == 0
    for name, argv in ways.items():
        rounds = [once(argv, env) for _ in range(args.rounds)]
        results[name] = {
            "startMs": round(statistics.median(r[0] for r in rounds) * 1000, 1),
            "rssKiB": int(statistics.median(r[1] for r in rounds)),
            "processes": rounds[-1][2],
        }
    shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
