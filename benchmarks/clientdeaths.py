#!/usr/bin/env python3
"""Clients killed during calls: how long until the gateway has ended their
sessions and stopped their children, and whether anything is left.

Usage (from the repository)::

    .venv/bin/python benchmarks/clientdeaths.py [--clients 1000] [--wave 20]
                                                [--reap-interval 1] [--sandbox off]

Runs one gateway (as ``mcpgateway start`` runs it, in the foreground) with a
per-session server (``"share": "session"``: the demo server, one child per
session), then starts ``--clients`` client processes
(``tests/fixtures/calling_client.py``: a raw HTTP client that initializes and
calls the slow tool), ``--wave`` at a time, and SIGKILLs each at a random
moment of its call. Prints the wall time of the kills, then how long after the
last kill the gateway had no session and no child left (its warden aside), its
resident memory before and after, and what was left (nothing, or the test
fails with the list).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcpgateway.runtime import procfs  # noqa: E402
from tests.integration.children.test_orphans import (  # noqa: E402
    commandOf,
    killClientsDuringCalls,
    sessionChildren,
    sessions,
)
from tests.integration.gateway import RunningGateway, waitFor, writeConfig  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--wave", type=int, default=20)
    parser.add_argument("--reap-interval", default="1")
    parser.add_argument("--sandbox", default="off")
    parser.add_argument("--seed", type=int, default=55)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="clientdeaths-"))
    (home / "state").mkdir()
    config = writeConfig(
        home / "servers.json",
        {
            "solo": {
                "command": sys.executable,
                "args": ["-m", "mcpgateway.demo"],
                "share": "session",
            }
        },
    )
    gateway = RunningGateway(
        ["--config", str(config), "--sandbox", args.sandbox, "--reap-interval", args.reap_interval],
        home,
    )
    try:
        before = procfs.rss(gateway.process.pid) or 0
        began = time.monotonic()
        killClientsDuringCalls(gateway.url("solo"), args.clients, args.wave, args.seed)
        killed = time.monotonic()
        clean = waitFor(lambda: not sessions(gateway) and not sessionChildren(gateway), 120, 0.1)
        settled = time.monotonic()
        after = procfs.rss(gateway.process.pid) or 0
        left = [commandOf(pid) for pid in sessionChildren(gateway)]
        print(
            f"{args.clients} clients killed during calls ({args.wave} at a time) in"
            f" {killed - began:.1f} s; no session or child left {settled - killed:.2f} s"
            f" after the last kill: {clean}"
        )
        print(f"gateway RSS {before / 2**20:.1f} MiB before, {after / 2**20:.1f} MiB after")
        print(f"dead-client sweeps logged: {gateway.text().count('dead client(s)')}")
        if left:
            print("left:", *left, sep="\n  ")
        return 0 if clean else 1
    finally:
        gateway.stop()


if __name__ == "__main__":
    sys.exit(main())
