#!/usr/bin/env python3
"""The machine instructions the gateway's process spends per warm
C{tools/call}, on the README's command as a user runs it.

Starts C{twistd -n mcpgateway --port P} with its defaults on a fresh HOME
(the bundled C{demo} stdio server, sandboxed, with pins and tasks) under
valgrind's callgrind with instrumentation off, warms one keep-alive
session up with C{--warmup} calls of C{echo}, then turns instrumentation
on (C{callgrind_control -i on}) and dumps the count after each of
C{--windows} windows of C{--calls} calls: the least per call is the
figure. Only the gateway's process is counted: the client is this
process, the demo child is not traced. A count moves less with what else
the machine runs than time does (about 50 times slower than a plain run:
a thousand calls take a minute), but not nothing: the gateway's own timers
coming due fall in one window, which the least leaves out, and the tuned
reactor polls a little before it sleeps, as long as the next request
takes to come (windows differ by a tenth). For a change of a few
instructions per call, C{hotpath.py --instructions} (in process, no
reactor) is exact.

Usage: callinstructions.py [--twisted stock|tuned] [--warmup N] [--calls N] [--windows N]
(prints one JSON line per runtime)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

from callfiles import Session, TracedGateway  # noqa: E402

TOTALS = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def options() -> argparse.Namespace:
    """The command line: which runtimes, the warm-up and the counted calls."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--calls", type=int, default=200, help="calls in each counted window")
    ap.add_argument("--windows", type=int, default=5, help="counted windows")
    ap.add_argument(
        "--twisted",
        choices=("stock", "tuned"),
        help="one runtime (default: both, tuned then stock)",
    )
    return ap.parse_args()


class CountedGateway(TracedGateway):
    """The README's command under callgrind, instrumentation off, its
    hashes seeded (the same dict layouts in every run)."""

    environment = {"PYTHONHASHSEED": "0"}

    def command(self) -> list[str]:
        return [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={self.home / 'callgrind.out.%p'}",
            sys.executable,
            "-c",
            "from twisted.scripts.twistd import run; run()",
            *self.twistdArguments(),
        ]

    def control(self, *flags: str) -> None:
        subprocess.run(
            ["callgrind_control", *flags, str(self.proc.pid)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def dumped(self) -> int:
        """Instructions since instrumentation went on, dumped now."""
        before = set(self.home.glob("callgrind.out.*"))
        self.control("-d")
        [dump] = set(self.home.glob("callgrind.out.*")) - before
        found = TOTALS.search(dump.read_bytes())
        assert found is not None, dump
        return int(found.group(1))


def instructionsPerCall(
    twisted: str, warmup: int = 100, calls: int = 200, windows: int = 5
) -> dict[str, Any]:
    """Instructions per warm call of C{echo} on the README's command with
    runtime C{twisted}, in each of C{windows} windows of C{calls} calls;
    the least is the call's figure (a window a timer or a collection of
    the gateway's came due in counts more)."""
    perCall: list[int] = []
    with tempfile.TemporaryDirectory(prefix="callinstructions-") as tmp:
        gateway = CountedGateway(Path(tmp), twisted, timeout=600.0)
        try:
            session = Session(gateway.port, timeout=600.0)
            numbers = itertools.count()
            for _ in range(warmup):
                session.echo(next(numbers))
            gateway.control("-i", "on")
            gateway.dumped()
            for _ in range(windows):
                for _ in range(calls):
                    session.echo(next(numbers))
                perCall.append(gateway.dumped() // calls)
            gateway.control("-i", "off")
            session.close()
        finally:
            gateway.stop(timeout=120.0)
    return {
        "twisted": twisted,
        "calls": calls,
        "instructionsPerCall": min(perCall),
        "windows": perCall,
    }


def main() -> None:
    args = options()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for twisted in [args.twisted] if args.twisted else ["tuned", "stock"]:
        report = instructionsPerCall(twisted, args.warmup, args.calls, args.windows)
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
