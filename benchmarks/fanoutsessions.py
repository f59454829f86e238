# -*- test-case-name: tests.test_bench_fanout -*-
"""The fan-out replay's sessions: who starts when (L{plans}: per client
kind, sessions of a main agent and its subagents), what each does at start
(L{startSession}: every server initialized and listed at once), the calls
they make once all are up (L{callPhase}), and each answer checked: a
listing must name exactly the tools the server lists on its own
(L{listingProblem}), a call must answer its one known text.

Both sides run the same code; only the link to a server differs (the
gateway's HTTP route, or a child of the session's own).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fanoutservers import answerText, callOf
from fanoutwire import Link, LinkError

MAX_PAGES = 20


@dataclass(frozen=True)
class Plan:
    """One session of the replay: the C{index}-th started, of client C{kind},
    in C{group} (a main agent's session and its subagents' sessions)."""

    index: int
    kind: str
    group: int
    role: str
    """C{main} or C{subagent}."""


def plans(kinds: Sequence[str], perKind: int, subagents: int) -> list[list[Plan]]:
    """The groups in the order they start: for each of C{perKind} rounds,
    one group per client kind (kinds interleaved, so a replay stopped early
    still has every kind), each a main session and its C{subagents}."""
    groups: list[list[Plan]] = []
    index = 0
    for _ in range(perKind):
        for kind in kinds:
            group: list[Plan] = []
            for role in ["main"] + ["subagent"] * subagents:
                group.append(Plan(index, kind, len(groups), role))
                index += 1
            groups.append(group)
    return groups


@dataclass
class SessionRun:
    """A started session: its links, by server, and what its start took."""

    plan: Plan
    links: dict[str, Link] = field(default_factory=dict)
    started: float = 0.0
    firstListed: float | None = None
    allListed: float | None = None
    tools: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def toFirstList(self) -> float | None:
        return None if self.firstListed is None else self.firstListed - self.started

    def toAllListed(self) -> float | None:
        return None if self.allListed is None else self.allListed - self.started


async def listTools(link: Link) -> list[str]:
    """Every tool's name the server lists (each page of C{tools/list})."""
    names: list[str] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        result = await link.request("tools/list", {"cursor": cursor} if cursor else {})
        names += [t.get("name", "") for t in result.get("tools", []) if isinstance(t, dict)]
        cursor = result.get("nextCursor")
        if not cursor:
            break
    return sorted(names)


def listingProblem(server: str, got: Sequence[str], reference: Mapping[str, Sequence[str]]) -> str:
    """Why a listing is wrong (C{""}: it is right): it must name exactly the
    tools of the server's own listing."""
    want = sorted(reference.get(server, ()))
    if list(got) == want:
        return ""
    missing = sorted(set(want) - set(got))[:3]
    extra = sorted(set(got) - set(want))[:3]
    return f"{server}: listed {len(got)} tools, not {len(want)} (missing {missing}, extra {extra})"


async def startSession(
    plan: Plan,
    names: Sequence[str],
    makeLink: Callable[[Plan, str], Link],
    reference: Mapping[str, Sequence[str]],
) -> SessionRun:
    """Open C{plan}'s session on every server at once, each initialized and
    listed, as a client starts: the time to its first list and to all."""
    run = SessionRun(plan, started=time.monotonic())
    client = f"fanout-{plan.kind}-{plan.role}-{plan.index}"

    async def one(name: str) -> None:
        link = makeLink(plan, name)
        run.links[name] = link
        try:
            await link.open(client)
            tools = await listTools(link)
        except (TimeoutError, LinkError, OSError) as e:
            run.errors.append(f"{name}: {e!r}"[:300])
            return
        now = time.monotonic()
        run.firstListed = run.firstListed or now
        run.tools[name] = tools
        problem = listingProblem(name, tools, reference)
        if problem:
            run.errors.append(problem)

    await asyncio.gather(*(one(name) for name in names))
    if len(run.tools) == len(names):
        run.allListed = time.monotonic()
    return run


@dataclass
class CallTally:
    """The call phase: answers right, wrong and failed, and its wall time."""

    ok: int = 0
    wrong: int = 0
    failed: int = 0
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.examples) < 5:
            self.examples.append(text[:300])

    def perSecond(self) -> float:
        return round(self.ok / self.seconds, 1) if self.seconds > 0 else 0.0


async def callPhase(
    runs: Sequence[SessionRun], called: Sequence[str], rounds: int, nonce: str, root: Path
) -> CallTally:
    """Every session calls each of C{called} C{rounds} times (a round's calls
    at once, the sessions all together); every answer checked."""
    tally = CallTally()

    async def call(run: SessionRun, server: str, n: int) -> None:
        link = run.links.get(server)
        if link is None or server not in run.tools:
            tally.failed += 1
            return
        tool, args, want = callOf(server, f"{nonce}-s{run.plan.index}-{server}-{n}", root)
        try:
            result = await link.request("tools/call", {"name": tool, "arguments": args})
        except (TimeoutError, LinkError, OSError) as e:
            tally.failed += 1
            tally.note(f"{server}: {e!r}")
            return
        text = answerText(result)
        if text == want:
            tally.ok += 1
        else:
            tally.wrong += 1
            tally.note(f"{server}: answered {text!r}, not {want!r}")

    async def session(run: SessionRun) -> None:
        for n in range(rounds):
            await asyncio.gather(*(call(run, server, n) for server in called))

    started = time.monotonic()
    await asyncio.gather(*(session(run) for run in runs))
    tally.seconds = time.monotonic() - started
    return tally


async def startAll(
    groups: Sequence[Sequence[Plan]],
    start: Callable[[Plan], Awaitable[SessionRun]],
    room: Callable[[], str | None],
    progress: Callable[[str], None],
) -> tuple[list[SessionRun], str | None]:
    """Start the groups one after another (a group's main session first, then
    its subagents' together), asking C{room} before each group whether
    another fits (its answer: why not); the sessions started, and why the
    rest were not (C{None}: all were)."""
    runs: list[SessionRun] = []
    for number, group in enumerate(groups):
        why = room()
        if why is not None:
            return runs, why
        main, rest = group[0], group[1:]
        runs.append(await start(main))
        runs += await asyncio.gather(*(start(plan) for plan in rest))
        if number % 5 == 4 or number == len(groups) - 1:
            progress(f"{len(runs)} sessions started ({number + 1} of {len(groups)} groups)")
    return runs, None


async def closeAll(runs: Sequence[SessionRun]) -> None:
    """End every session's links (a DELETE, or its children stopped)."""
    links = [link for run in runs for link in run.links.values()]
    for at in range(0, len(links), 200):
        await asyncio.gather(*(link.close() for link in links[at : at + 200]))


def startFigures(runs: Sequence[SessionRun]) -> dict[str, Any]:
    """The sessions' time from start to their first tools list and to all
    of them listed (ms: p50, p90, max), mains and subagents apart too."""

    def stats(values: list[float]) -> dict[str, float] | None:
        if not values:
            return None
        values = sorted(values)
        return {
            "p50": round(percentile(values, 50) * 1000, 1),
            "p90": round(percentile(values, 90) * 1000, 1),
            "max": round(values[-1] * 1000, 1),
        }

    out: dict[str, Any] = {}
    for label, chosen in (
        ("all", runs),
        ("main", [r for r in runs if r.plan.role == "main"]),
        ("subagent", [r for r in runs if r.plan.role == "subagent"]),
    ):
        firsts = [t for r in chosen if (t := r.toFirstList()) is not None]
        alls = [t for r in chosen if (t := r.toAllListed()) is not None]
        out[label] = {"firstListMs": stats(firsts), "allListedMs": stats(alls)}
    return out


def percentile(sortedValues: Sequence[float], p: float) -> float:
    """The C{p}-th percentile of sorted values (nearest rank)."""
    if not sortedValues:
        raise ValueError("no values")
    rank = max(1, -(-len(sortedValues) * p // 100))
    return sortedValues[int(min(rank, len(sortedValues))) - 1]
