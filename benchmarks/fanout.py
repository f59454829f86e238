#!/usr/bin/env python3
# -*- test-case-name: tests.test_bench_fanout -*-
"""The fan-out replay (``benchmarks/run --fanout``): the shape of the
reports of hundreds of MCP server processes on one machine, replayed with
the gateway and without it.

Five client kinds (Claude Code, Codex, Cursor, VS Code, Copilot CLI) each
have the same 14 stdio servers in their own config file, in a temporary
HOME: 13 the gateway shares, and @playwright/mcp, a browser server that
gets a child per session (C{"share": "session"}; C{--no-playwright}
leaves it out). Each kind runs 8 sessions of a main agent with 4
subagents (200 sessions); every session initializes and lists every
server at its start, then calls 3 of the shared ones (every answer
checked; the browser server is never called). Side by side:

- **with the gateway** (``fanoutgateway.py``): the gateway as the README
  runs it (``twistd -n mcpgateway``) with ``--rewrite-config --clients
  codex,cursor,vscode,copilot``: it adopts every client's file, and each
  session goes where its client's adopted entries say (each kind's entries
  are HTTP URLs of the gateway). Two ways (``--gateway-runs``): ``lazy``,
  the servers' catalogs saved by an earlier run, as from a gateway's second
  start on, and ``eager``, ``--no-lazy-start`` on a fresh state;
- **without it**: every session starts its own 14 children, as the
  clients do. Before each group of sessions the run checks the memory
  left (``--reserve-mb``) and what its children hold (``--ceiling-mb``);
  where it stops early, the figures for the full shape are extrapolated
  from the sessions measured, and labelled so. The gateway's runs check
  the same before each group (a per-session server's children add up
  there too) and say where they stopped.

Measured per side, with every session alive after its calls: processes in
the tree (the gateway and its children, or every child), their PSS and RSS,
the cores they use while idle, each session's time from its start to its
first tools list and to all of them, and calls/s; the processes and PSS
of each server, and each side's figures with the 13 shared servers alone
beside those with the per-session one. Prints a markdown report and
writes ``benchmarks/results/fanout.json``.

    python benchmarks/fanout.py [--quick] [--sessions N] [--subagents N]
        [--only gateway|without] [--gateway-runs lazy,eager]
        [--gateway-arg=ARG]... [--no-playwright] [--no-save] [--json FILE]

Loopback only; every request has a deadline, the counts are fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from benchenv import PY, REPO, log  # noqa: E402
from fanoutgateway import VARIANTS, gatewaySide  # noqa: E402
from fanoutreport import extrapolate, headline, perSession, report  # noqa: E402
from fanoutservers import (  # noqa: E402
    CALLABLE,
    CALLED,
    CLIENT_ENV,
    KINDS,
    TITLES,
    MissingServers,
    Server,
    readPaths,
    servers,
    sessionServers,
)
from fanoutsessions import Plan, listTools, plans  # noqa: E402
from fanoutside import Replay, Room, drive, sideResult  # noqa: E402
from fanoutwire import Link, StdioLink  # noqa: E402
from machineinfo import codeIdentity, machine  # noqa: E402
from procstat import memAvailableMB, raiseNofile  # noqa: E402

RESULTS = HERE / "results" / "fanout.json"


async def referenceListing(found: Sequence[Server], root: Path) -> dict[str, list[str]]:
    """Each server's tools, listed by one session of its own: what every
    listing of the replay must name."""
    links = {s.name: StdioLink(s.argv(), s.env, str(root)) for s in found}

    async def one(name: str) -> list[str]:
        await links[name].open("fanout-reference")
        return await listTools(links[name])

    try:
        listed = await asyncio.gather(*(one(name) for name in links))
    finally:
        await asyncio.gather(*(link.close() for link in links.values()))
    return dict(zip(links, listed, strict=True))


def withoutSide(replay: Replay) -> dict[str, Any]:
    """The replay with every session starting its own children."""
    links: list[StdioLink] = []

    def makeLink(plan: Plan, name: str) -> Link:
        server = replay.server(name)
        link = StdioLink(server.argv(), server.env, str(replay.root))
        links.append(link)
        return link

    def pids() -> list[int]:
        return [pid for link in links if (pid := link.pid) is not None]

    room = Room(replay.args.reserve_mb, replay.args.ceiling_mb, 1 + replay.args.subagents, pids)
    runs, stopped, tally, tree = asyncio.run(drive(replay, makeLink, room.check, pids, "without"))
    out = sideResult(replay, runs, stopped, tally, tree)
    out["perSession"] = perSession(tree, len(runs))
    out["extrapolated"] = extrapolate(tree, len(runs), replay.total)
    return out


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1 session per kind, 5 s idle")
    parser.add_argument("--sessions", type=int, help="main sessions per client kind (8; quick 1)")
    parser.add_argument("--subagents", type=int, default=4, help="subagents per main session")
    parser.add_argument("--kinds", default=",".join(KINDS), help="client kinds, comma-separated")
    parser.add_argument("--call", default=",".join(CALLED), help="servers each session calls")
    parser.add_argument("--rounds", type=int, default=3, help="calls to each of them per session")
    parser.add_argument("--idle-seconds", type=float, help="idle CPU window (10; quick 5)")
    parser.add_argument("--lanes", type=int, default=4, help="HTTP connections per session")
    parser.add_argument(
        "--reserve-mb", type=float, default=6000, help="MemAvailable kept free (each side)"
    )
    parser.add_argument(
        "--ceiling-mb", type=float, default=12000, help="most PSS of a side's processes"
    )
    parser.add_argument("--only", choices=("gateway", "without"), help="one side only")
    parser.add_argument(
        "--gateway-runs", default=",".join(VARIANTS), help="the gateway's ways: lazy, eager"
    )
    parser.add_argument(
        "--gateway-arg", action="append", default=[], help="one more gateway argument (repeat)"
    )
    parser.add_argument(
        "--no-playwright",
        action="store_true",
        help="leave out the per-session browser server (the 13 shared servers alone)",
    )
    parser.add_argument("--no-save", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, default=RESULTS, help="results file")
    args = parser.parse_args(argv)
    args.sessions = args.sessions or (1 if args.quick else 8)
    args.idle_seconds = (
        args.idle_seconds if args.idle_seconds is not None else (5 if args.quick else 10)
    )
    args.kinds = [k for k in args.kinds.split(",") if k]
    args.call = [c for c in args.call.split(",") if c]
    args.gateway_runs = [v for v in args.gateway_runs.split(",") if v]
    unknown = [
        *(k for k in args.kinds if k not in KINDS),
        *(c for c in args.call if c not in CALLABLE),
        *(v for v in args.gateway_runs if v not in VARIANTS),
    ]
    if unknown:
        parser.error(
            f"unknown: {', '.join(unknown)} (kinds {KINDS}, calls {CALLABLE},"
            f" gateway runs {tuple(VARIANTS)})"
        )
    return args


def cachePaths() -> dict[str, str]:
    """C{<cache>/paths.env} of C{scripts/install-test-backends} ({} when there is none)."""
    cache = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache" / "test-backends")
    with contextlib.suppress(OSError):
        return readPaths((cache / "paths.env").read_text())
    return {}


def main(argv: Sequence[str] | None = None) -> int:
    args = options(argv)
    raiseNofile()
    for name in CLIENT_ENV:  # the gateway's HOME must be the replay's
        os.environ.pop(name, None)
    root = Path(tempfile.mkdtemp(prefix="fanout-"))
    try:
        return replayIn(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def replayIn(args: argparse.Namespace, root: Path) -> int:
    """The whole replay, its scratch files (homes, state, the servers' files) in C{root}."""
    (root / "files").mkdir()
    try:
        found = servers(cachePaths(), root, REPO, PY, perSession=not args.no_playwright)
    except MissingServers as e:
        log(f"fanout: {e}")
        return 1
    groups = plans(args.kinds, args.sessions, args.subagents)
    log(f"fanout: reference listing of {len(found)} servers")
    reference = asyncio.run(referenceListing(found, root))
    replay = Replay(args, found, groups, reference, root, uuid.uuid4().hex[:8])
    total = replay.total
    log(f"fanout: {total} sessions x {len(found)} servers, each side")
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "code": codeIdentity(),
        "shape": {
            "kinds": [TITLES[k] for k in args.kinds],
            "perKind": args.sessions,
            "subagents": args.subagents,
            "sessions": total,
            "servers": [
                {"name": s.name, "origin": s.origin, **({"share": s.share} if s.share else {})}
                for s in found
            ],
            "sessionServers": sessionServers(found),
            "called": args.call,
            "rounds": args.rounds,
            "quick": args.quick,
            "memAvailableAtStartMB": round(memAvailableMB()),
        },
        "reference": {name: len(tools) for name, tools in reference.items()},
    }
    if args.only != "without":
        for variant in args.gateway_runs:
            key = "gateway" if variant == args.gateway_runs[0] else f"gateway-{variant}"
            result[key] = gatewaySide(replay, variant)
    if args.only != "gateway":
        result["without"] = withoutSide(replay)
    if "gateway" in result:
        result["headline"] = headline(result)
        print(report(result))
    else:
        print(json.dumps(result, indent=2))
    if not args.no_save:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        log(f"fanout: wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
