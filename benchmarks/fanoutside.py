# -*- test-case-name: tests.test_bench_fanout -*-
"""One side of the fan-out replay, whichever it is: what both sides share
(L{Replay}), the run of its sessions up to the measurement of its process
tree (L{drive}), and what it did, as the results file holds it
(L{sideResult}), and whether another group of sessions fits in memory
(L{Room}). The gateway's side is C{fanoutgateway.py}'s, the side without
it C{fanout.py}'s; they differ only in the link a session has to a server
and in the processes whose memory L{Room} counts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchenv import log
from fanoutreport import treeFigures
from fanoutservers import Server
from fanoutsessions import (
    CallTally,
    Plan,
    SessionRun,
    callPhase,
    closeAll,
    startAll,
    startFigures,
    startSession,
)
from fanoutwire import Link
from procstat import memAvailableMB, memKB


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


class Room:
    """Whether a side may start another group: the machine keeps
    C{reserveMB} available and the side's processes (C{pids}: the
    gateway's tree, or every child) stay under C{ceilingMB} of PSS, the
    next group's need (its size times what a session took so far)
    included."""

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
            f"the processes' PSS {pss:,.0f} MB plus the next group's ~{need:,.0f} MB"
            f" passes the ceiling of {ceiling:,.0f} MB"
        )
    return None


Driven = tuple[list[SessionRun], str | None, CallTally, dict[str, Any]]
"""What L{drive} gives: the sessions started, why the rest were not, the
calls' tally, the tree's figures."""


async def drive(
    replay: Replay,
    makeLink: Callable[[Plan, str], Link],
    room: Callable[[], str | None],
    roots: Callable[[], list[int]],
    side: str,
) -> Driven:
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


def sideResult(
    replay: Replay,
    runs: Sequence[SessionRun],
    stopped: str | None,
    tally: CallTally,
    tree: dict[str, Any],
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
