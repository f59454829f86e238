#!/usr/bin/env python3
"""The gateway's own source files one laptop C{tools/call} runs through.

Drives the same in-process laptop gateway as C{hotpath.py} (C{tests/http.py}'s
Harness: the real C{Site}, in-memory transports, a fake child; no policy, no
audit, no limits), warms it up, then runs one more C{tools/call echo} under
C{sys.setprofile} and lists every file under C{mcpgateway/} whose code ran,
from the request's bytes reaching the channel to the child's answer written
back: what a reader of that call's path has to open.

Usage: callfiles.py [--twisted stock|tuned] [--warmup N] (prints one JSON line)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from types import FrameType
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]


def options() -> argparse.Namespace:
    """The command line: the site's Twisted and how many calls warm it up."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument(
        "--twisted",
        choices=("stock", "tuned"),
        help="the site's channel and request (default: $MCPGATEWAY_TWISTED, else tuned)",
    )
    return ap.parse_args()


def traced(calls: Any, n: int) -> list[str]:
    """The files of C{mcpgateway/} whose code ran during call C{n}, sorted,
    relative to the package's folder."""
    import mcpgateway

    package = os.path.dirname(os.path.abspath(mcpgateway.__file__)) + os.sep
    seen: set[str] = set()

    def profiler(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            seen.add(frame.f_code.co_filename)

    sys.setprofile(profiler)
    try:
        _, ok = calls.one(n)
    finally:
        sys.setprofile(None)
    if not ok:
        raise SystemExit(f"call {n} was not answered with its own echo")
    return sorted("mcpgateway/" + path[len(package) :] for path in seen if path.startswith(package))


def main() -> None:
    args = options()
    if args.twisted:
        os.environ["MCPGATEWAY_TWISTED"] = args.twisted  # what makeSite reads
    from hotpath import Calls

    calls = Calls(argparse.Namespace(audit_log=None, audit_payloads=False))
    for n in range(args.warmup):
        if not calls.one(n)[1]:
            raise SystemExit(f"call {n} was not answered with its own echo")
    files = traced(calls, args.warmup)
    print(
        json.dumps(
            {
                "twisted": os.environ.get("MCPGATEWAY_TWISTED") or "tuned",
                "filesPerCall": len(files),
                "files": files,
            }
        )
    )


if __name__ == "__main__":
    main()
