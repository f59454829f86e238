#!/usr/bin/env python3
# -*- test-case-name: tests.test_bench_fanout -*-
"""The fan-out replay (``benchmarks/run --fanout``): the shape of the
reports of hundreds of MCP server processes on one machine, replayed with
the gateway and without it.

Five client kinds (Claude Code, Codex, Cursor, VS Code, Copilot CLI) each
have the same 13 stdio servers in their own config file, in a temporary
HOME. Each kind runs 8 sessions of a main agent with 4 subagents (200
sessions); every session initializes and lists every server at its start,
then calls 3 of them (every answer checked). Side by side:

- **with the gateway**: the gateway as the README runs it (``twistd -n
  mcpgateway``) with ``--rewrite-config --clients codex,cursor,vscode,copilot``:
  it adopts every client's file, and each session goes where its client's
  adopted entries say (each kind's entries are HTTP URLs of the gateway);
- **without it**: every session starts its own 13 children, as the
  clients do. Before each group of sessions the run checks the memory
  left (``--reserve-mb``) and what its children hold (``--ceiling-mb``);
  where it stops early, the figures for the full shape are extrapolated
  from the sessions measured, and labelled so.

Measured per side, with every session alive after its calls: processes in
the tree (the gateway and its children, or every child), their PSS and RSS,
the cores they use while idle, each session's time from its start to its
first tools list and to all 13, and calls/s. Prints a markdown report and
writes ``benchmarks/results/fanout.json``.

    python benchmarks/fanout.py [--quick] [--sessions N] [--subagents N]
        [--only gateway|without] [--gateway-arg ARG]... [--no-save]

Loopback only; every request has a deadline, the counts are fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from benchenv import PY, REPO, log  # noqa: E402
from fanoutreport import (  # noqa: E402
    extrapolate,
    headline,
    perSession,
    report,
    serversStarted,
    treeFigures,
)
from fanoutservers import (  # noqa: E402
    CALLABLE,
    CALLED,
    CLIENT_ENV,
    KINDS,
    TITLES,
    MissingServers,
    Server,
    adoptedUrls,
    adoptionProblems,
    clientPath,
    readPaths,
    servers,
    writeClientFiles,
)
from fanoutsessions import (  # noqa: E402
    Plan,
    SessionRun,
    callPhase,
    closeAll,
    listTools,
    plans,
    startAll,
    startFigures,
    startSession,
)
from fanoutwire import HttpLink, HttpPool, Link, StdioLink  # noqa: E402
from gatewayproc import Gateway  # noqa: E402
from machineinfo import codeIdentity, machine  # noqa: E402
from procstat import memAvailableMB, memKB, raiseNofile  # noqa: E402

RESULTS = HERE / "results" / "fanout.json"


@dataclass
class Replay:
    """What both sides share: the options, the servers, the sessions, the
    reference listing of each server, and the scratch folder."""

    args: argparse.Namespace
    servers: list[Server]
    groups: list[list[Plan]]
    reference: dict[str, list[str]]
    root: Path
    nonce: str

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.servers]

    @property
    def markers(self) -> dict[str, str]:
        return {s.name: s.marker for s in self.servers}

    @property
    def total(self) -> int:
        return sum(len(g) for g in self.groups)

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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


def sideResult(
    replay: Replay, runs: Sequence[SessionRun], stopped: str | None, tally: Any, tree: Any
) -> dict[str, Any]:
    """What one side did: its sessions, its tree, its start times, its answers."""
    listsOk = sum(
        1
        for run in runs
        for name in run.tools
        if not any(e.startswith(f"{name}:") for e in run.errors)
    )
    errors = [e for run in runs for e in run.errors]
    return {
        "sessions": len(runs),
        "planned": replay.total,
        "stopped": stopped,
        "tree": tree,
        "start": startFigures(runs),
        "calls": {
            "ok": tally.ok,
            "wrong": tally.wrong,
            "failed": tally.failed,
            "seconds": round(tally.seconds, 2),
            "perSecond": tally.perSecond(),
            "examples": tally.examples,
        },
        "listsOk": listsOk,
        "listsWrong": len(runs) * len(replay.names) - listsOk,
        "errors": len(errors),
        "errorExamples": errors[:5],
    }


async def drive(
    replay: Replay,
    makeLink: Callable[[Plan, str], Link],
    room: Callable[[], str | None],
    roots: Callable[[], list[int]],
    side: str,
) -> tuple[list[SessionRun], str | None, Any, dict[str, Any]]:
    """Start the sessions, make the calls, measure the tree with every
    session alive (idle), end the sessions."""
    runs: list[SessionRun] = []
    try:
        runs, stopped = await startAll(
            replay.groups,
            lambda plan: startSession(plan, replay.names, makeLink, replay.reference),
            room,
            lambda text: log(f"fanout {side}: {text}"),
        )
        called = replay.args.call
        log(f"fanout {side}: calls ({', '.join(called)}) x {replay.args.rounds} per session")
        tally = await callPhase(runs, called, replay.args.rounds, replay.nonce, replay.root)
        log(f"fanout {side}: measuring the tree ({replay.args.idle_seconds:g} s idle)")
        tree = treeFigures(roots(), replay.args.idle_seconds, replay.markers)
        return runs, stopped, tally, tree
    finally:
        log(f"fanout {side}: ending {len(runs)} sessions")
        await closeAll(runs)


def adopted(home: Path, port: int, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """Every client kind's adopted entries (name -> URL), checked: each of
    the servers is an HTTP entry to the gateway, else L{SystemExit}."""
    found: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for kind in KINDS:
        urls = adoptedUrls(kind, clientPath(kind, home).read_text())
        problems += adoptionProblems(kind, urls, names, port)
        found[kind] = urls
    if problems:
        raise SystemExit(
            "fanout: the gateway did not adopt every entry:\n  " + "\n  ".join(problems)
        )
    return found


def gatewaySide(replay: Replay) -> dict[str, Any]:
    """The replay through one gateway that adopted the clients' files."""
    home = replay.root / "gateway-home"
    originals = writeClientFiles(home, replay.servers)
    port = freePort()
    extra = [
        "--port",
        f"tcp:{port}:interface=127.0.0.1",
        "--config",
        str(clientPath("claude-code", home)),
        "--rewrite-config",
        "--clients",
        ",".join(k for k in KINDS if k != "claude-code"),
        *replay.args.gateway_arg,
    ]
    log(f"fanout gateway: twistd -n mcpgateway {' '.join(extra)}")
    gw = Gateway({}, home, extra=extra)
    restored = False
    try:
        urls = adopted(home, port, replay.names)
        log(f"fanout gateway: every client's {len(replay.names)} entries adopted")
        pools: dict[int, HttpPool] = {}

        def makeLink(plan: Plan, name: str) -> Link:
            pool = pools.setdefault(plan.index, HttpPool("127.0.0.1", port, replay.args.lanes))
            return HttpLink(pool, urlsplit(urls[plan.kind][name]).path)

        async def run() -> tuple[list[SessionRun], str | None, Any, dict[str, Any]]:
            try:
                return await drive(replay, makeLink, lambda: None, lambda: [gw.pid], "gateway")
            finally:
                await asyncio.gather(*(pool.close() for pool in pools.values()))

        runs, stopped, tally, tree = asyncio.run(run())
        rss, pss = memKB(gw.pid)
    finally:
        gw.stop()
        restored = all(path.read_bytes() == data for path, data in originals.items())
    out = sideResult(replay, runs, stopped, tally, tree)
    out.update(
        {
            "command": "twistd -n mcpgateway " + " ".join(extra),
            "startSeconds": round(gw.listening - gw.spawned, 2),
            "gatewayRssMB": round(rss / 1024, 1),
            "gatewayPssMB": round(pss / 1024, 1),
            "adopted": {TITLES[k]: len(v) for k, v in urls.items()},
            "serversStarted": serversStarted(tree["perServer"], replay.names),
            "restored": restored,
        }
    )
    return out


class Room:
    """Whether the side without the gateway may start another group: the
    machine keeps C{reserveMB} available and its children stay under
    C{ceilingMB} of PSS, the next group's need (its size times what a
    session took so far) included."""

    def __init__(
        self, reserveMB: float, ceilingMB: float, groupSize: int, pids: Callable[[], list[int]]
    ) -> None:
        self.reserveMB = reserveMB
        self.ceilingMB = ceilingMB
        self.groupSize = groupSize
        self.pids = pids
        self.sessions = 0

    def check(self) -> str | None:
        pss = sum(memKB(p)[1] for p in self.pids()) / 1024
        need = pss / self.sessions * self.groupSize if self.sessions else 0.0
        available = memAvailableMB()
        self.sessions += self.groupSize
        return why(available, pss, need, self.reserveMB, self.ceilingMB)


def why(available: float, pss: float, need: float, reserve: float, ceiling: float) -> str | None:
    """Why another group does not fit (C{None}: it does)."""
    if available - need < reserve:
        return (
            f"MemAvailable {available:,.0f} MB less the next group's ~{need:,.0f} MB"
            f" is under the reserve of {reserve:,.0f} MB"
        )
    if pss + need > ceiling:
        return (
            f"the children's PSS {pss:,.0f} MB plus the next group's ~{need:,.0f} MB"
            f" passes the ceiling of {ceiling:,.0f} MB"
        )
    return None


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
        "--reserve-mb", type=float, default=6000, help="MemAvailable kept free (without)"
    )
    parser.add_argument(
        "--ceiling-mb", type=float, default=12000, help="most PSS of the children (without)"
    )
    parser.add_argument("--only", choices=("gateway", "without"), help="one side only")
    parser.add_argument(
        "--gateway-arg", action="append", default=[], help="one more gateway argument (repeat)"
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
    unknown = [k for k in args.kinds if k not in KINDS] + [
        c for c in args.call if c not in CALLABLE
    ]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)} (kinds {KINDS}, calls {CALLABLE})")
    return args


def cachePaths() -> dict[str, str]:
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
    (root / "files").mkdir()
    try:
        found = servers(cachePaths(), root, REPO, PY)
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
            "servers": [{"name": s.name, "origin": s.origin} for s in found],
            "called": args.call,
            "rounds": args.rounds,
            "quick": args.quick,
            "memAvailableAtStartMB": round(memAvailableMB()),
        },
        "reference": {name: len(tools) for name, tools in reference.items()},
    }
    if args.only != "without":
        result["gateway"] = gatewaySide(replay)
    if args.only != "gateway":
        result["without"] = withoutSide(replay)
    if "gateway" in result and "without" in result:
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
