"""The flow rule measured through a real gateway with scripted sessions:
exfiltration chains held, benign sessions not, an approved call's replays
and mutations held again, and what the labels and the rule cost an allowed
call. Writes results/flowsuite.md and results/flowsuite.json.

Run: .venv/bin/python benchmarks/flowsuite.py [--quick] (about 2 minutes).

The gateway runs as the README's command runs it (``twistd -n mcpgateway``,
benchmarks/gatewayproc.py) on a fresh HOME, serving the fixture servers of
flowfixtures.py; each scenario (flowchains.py) is one client, the Python
SDK's, with a pid of its own in C{X-Client-Pid}. A "person" polls the
management API and denies each held call (or allows the one a replay check
needs), so a held call is answered at once rather than after 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx2
from benchenv import HERE, PY, REPO
from flowchains import (
    SERVERS,
    Scenario,
    Step,
    aggregateChains,
    benign,
    chains,
    labelsCannotTell,
    mutations,
    outcome,
    verdict,
)
from gatewayproc import Gateway
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

RESULTS = HERE / "results"
CSRF = {"X-Mcpgateway-Csrf": "1"}


def config() -> dict[str, Any]:
    """Every fixture server, its entry naming the package it stands for."""
    fixture = str(HERE / "flowfixtures.py")
    return {name: {"command": PY, "args": [fixture, pkg]} for name, pkg in SERVERS.items()}


def startGateway(workdir: Path) -> Gateway:
    (workdir / "state").mkdir(parents=True, exist_ok=True)
    # A client's pid here is the one it sends; the reaper's check of it is
    # kept out of the run (the pids are made up).
    return Gateway(config(), workdir, extra=["--reap-interval", "3600"])


class Person:
    """Polls the held calls and decides each new one: denies it, or allows
    it when C{allowNext} is set (once), or leaves it waiting when C{leave}
    is set as it is first seen (and never decides it later: a call left
    waiting is for the driver to allow through the API)."""

    def __init__(self, api: httpx2.AsyncClient) -> None:
        self.api = api
        self.held: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.allowNext = False
        self.leave = False
        self.running = True

    async def run(self) -> None:
        while self.running:
            got = await self.api.get("/api/v1/approvals")
            for call in got.json()["pending"]:
                if call["id"] in self.seen:
                    continue  # decided already, or left waiting
                self.seen.add(call["id"])
                self.held.append(call)
                if self.leave:
                    continue
                verb = "allow" if self.allowNext else "deny"
                self.allowNext = False
                await self.api.post(f"/api/v1/approvals/{call['id']}/{verb}", headers=CSRF)
            await asyncio.sleep(0.02)


class Agent:
    """One client: a pid of its own, a session per route (and index)."""

    def __init__(self, gateway: Gateway, pid: int, aggregate: bool = False) -> None:
        self.gateway, self.pid, self.aggregate = gateway, pid, aggregate
        self.stack = AsyncExitStack()
        self.sessions: dict[tuple[str, int], Any] = {}

    async def session(self, server: str, index: int) -> Any:
        key = ("" if self.aggregate else server, index)
        if key not in self.sessions:
            http = await self.stack.enter_async_context(
                httpx2.AsyncClient(headers={"X-Client-Pid": str(self.pid)}, timeout=90)
            )
            url = (
                f"http://127.0.0.1:{self.gateway.port}/mcp"
                if self.aggregate
                else self.gateway.url(server)
            )
            transport = streamable_http_client(url, http_client=http)
            client = Client(transport, mode="legacy")
            self.sessions[key] = await self.stack.enter_async_context(client)
        return self.sessions[key]

    async def call(self, step: Step) -> dict[str, Any]:
        client = await self.session(step.server, step.session)
        name = f"{step.server}__{step.tool}" if self.aggregate else step.tool
        result = await client.call_tool(name, dict(step.arguments))
        return dict(result.model_dump(by_alias=True, exclude_none=True))

    async def close(self) -> None:
        await self.stack.aclose()


async def runScenario(
    gateway: Gateway, person: Person, scenario: Scenario, pid: int
) -> dict[str, Any]:
    agent = Agent(gateway, pid, aggregate=scenario.path == "aggregate")
    before = len(person.held)
    outcomes = []
    try:
        for step in scenario.steps:
            outcomes.append(outcome(await agent.call(step)))
    finally:
        await agent.close()
    heldSeen = len(person.held) > before
    return {
        "name": scenario.name,
        "kind": scenario.kind,
        "path": scenario.path,
        "outcomes": outcomes,
        "held": heldSeen,
        "ok": verdict(scenario.kind, outcomes, heldSeen),
    }


async def heldThenLeft(gateway: Gateway, person: Person, agent: Agent, egress: Step) -> str:
    """C{egress} sent on a session of its own of C{agent}'s client, held,
    that session ended while it waits (the call stays held); the id of the
    held call."""
    other = Agent(gateway, agent.pid)
    await other.session(egress.server, egress.session)
    person.leave = True
    before = len(person.held)
    try:
        waiting = asyncio.ensure_future(other.call(egress))
        deadline = time.monotonic() + 30
        while len(person.held) == before and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        waiting.cancel()
        with contextlib.suppress(BaseException):
            await waiting
    finally:
        await other.close()
        person.leave = False
    return str(person.held[-1]["id"]) if len(person.held) > before else ""


async def replayChecks(
    gateway: Gateway, person: Person, scenarios: list[Scenario], pid: int
) -> list[dict[str, Any]]:
    """For each chain: its egress call held and allowed by the person while
    it waits (it goes on, once); then the same call again, and each
    mutation of it, from the same client: each must be held again. Then
    the call held, its session ended while it waits, allowed through the
    API: the same call sent again goes on, once; once more, it is held."""
    out = []
    for scenario in scenarios:
        agent = Agent(gateway, pid)
        pid += 1
        try:
            *reads, egress = scenario.steps
            for step in reads:
                await agent.call(step)
            person.allowNext = True
            first = outcome(await agent.call(egress))
            person.allowNext = False
            checks = [("approved while waiting", egress, "allowed", first)]
            replay = outcome(await agent.call(egress))
            checks.append(("replay", egress, "stopped", replay))
            for what, mutated in mutations(egress):
                checks.append((what, mutated, "stopped", outcome(await agent.call(mutated))))
            heldId = await heldThenLeft(gateway, person, agent, egress)
            yes = await person.api.post(f"/api/v1/approvals/{heldId}/allow", headers=CSRF)
            retry = (
                outcome(await agent.call(egress))
                if yes.status_code == 200
                else f"no yes ({yes.status_code}, held call {heldId or 'none'})"
            )
            checks.append(("retry after a yes", egress, "allowed", retry))
            again = outcome(await agent.call(egress))
            checks.append(("retry again", egress, "stopped", again))
        finally:
            await agent.close()
        for what, _, want, got in checks:
            ok = got == "allowed" if want == "allowed" else got != "allowed"
            out.append({"chain": scenario.name, "check": what, "want": want, "got": got, "ok": ok})
    return out


async def labelsShown(api: httpx2.AsyncClient, gateway: Gateway) -> dict[str, Any]:
    """Each server's labels and where they come from, as the gateway shows
    them, after listing its tools once."""
    shown = {}
    for server in SERVERS:
        async with Client(gateway.url(server), mode="legacy") as client:
            await client.list_tools()
        got = (await api.get(f"/api/v1/servers/{server}")).json().get("labels", {})
        shown[server] = {
            "labels": got.get("labels"),
            "source": got.get("source"),
            "row": got.get("row"),
            "tools": got.get("tools"),
        }
    return shown


async def timedCall(client: Any, i: int) -> float:
    started = time.perf_counter()
    await client.call_tool("read_file", {"path": f"/home/me/project/src/mod{i % 7}.py"})
    return time.perf_counter() - started


def cpuSeconds(pid: int) -> float:
    """The time every thread of C{pid} has spent on a CPU, in seconds
    (as abcpu.py reads it: the scheduler's nanoseconds, not ticks)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


FLOW_LINE = "flow: the default rule is "
"""The gateway's log line each time it applies the C{"flow"} setting."""


async def switchFlow(gateway: Gateway, on: bool) -> None:
    """Turn the default rule of C{gateway} on or off as a user does (its
    state directory's C{servers.json}), applied at the reload that a change
    of its C{--config} file starts (the file written again, its layout
    changed), and wait until the gateway has applied it (its log line)."""
    want = FLOW_LINE + ("on" if on else "off")
    before = sum(want in line for line in gateway.output)
    state = gateway.workdir / "state" / "servers.json"
    state.write_text(json.dumps({"flow": {"default": on}}))
    config = gateway.workdir / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()), indent=None if on else 1))
    deadline = time.monotonic() + 30
    while sum(want in line for line in gateway.output) == before:
        if time.monotonic() > deadline:
            raise RuntimeError(
                "the gateway did not apply the flow setting:\n" + "\n".join(gateway.output)
            )
        await asyncio.sleep(0.05)


async def overhead(gateways: tuple[Gateway, Gateway], rounds: int, calls: int) -> dict[str, Any]:
    """An allowed call (C{read_file}, private: the rule is asked and the
    client gathers) on two gateways of one config, one with the default
    rule on and the other with it off, called in turn, call by call (which
    goes first alternating), so that the machine's noise falls on both.
    The two swap roles each round (the rule switched as a user does,
    L{switchFlow}): what one process costs more than the other, whatever
    the rule, falls on both sides too."""
    times: dict[str, list[float]] = {"on": [], "off": []}
    roundDiffs = []
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    current = ["on", "on"]  # as both gateways start
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(Client(gateway.url("files"), mode="legacy"))
            for gateway in gateways
        ]
        for client in clients:
            for i in range(100):  # warm-up
                await timedCall(client, i)
        for r in range(rounds):
            roles = ("on", "off") if r % 2 == 0 else ("off", "on")
            for index, role in enumerate(roles):
                if current[index] != role:
                    await switchFlow(gateways[index], role == "on")
                    current[index] = role
                for i in range(20):  # the reload's own work settles first
                    await timedCall(clients[index], i)
            byRole = {role: index for index, role in enumerate(roles)}
            got: dict[str, list[float]] = {"on": [], "off": []}
            cpuBefore = {role: cpuSeconds(gateways[byRole[role]].pid) for role in got}
            for i in range(calls):
                for role in ("on", "off") if i % 2 == 0 else ("off", "on"):
                    got[role].append(await timedCall(clients[byRole[role]], i))
            roundDiffs.append(statistics.median(got["on"]) - statistics.median(got["off"]))
            for role in got:
                spent = cpuSeconds(gateways[byRole[role]].pid) - cpuBefore[role]
                cpu[role].append(spent / calls)
                times[role] += got[role]
        for index, gateway in enumerate(gateways):
            if current[index] != "on":
                await switchFlow(gateway, True)
    p50 = {k: statistics.median(v) for k, v in times.items()}
    paired = [a - b for a, b in zip(times["on"], times["off"], strict=True)]
    return {
        "rounds": rounds,
        "callsPerRound": calls,
        "p50us": {k: v * 1e6 for k, v in p50.items()},
        "p90us": {k: statistics.quantiles(v, n=10)[8] * 1e6 for k, v in times.items()},
        "overheadP50us": (p50["on"] - p50["off"]) * 1e6,
        "pairedMedianUs": statistics.median(paired) * 1e6,
        "roundOverheadsUs": [d * 1e6 for d in roundDiffs],
        "gatewayCpuUs": {k: statistics.median(v) * 1e6 for k, v in cpu.items()},
        "roundCpuOverheadsUs": [(a - b) * 1e6 for a, b in zip(cpu["on"], cpu["off"], strict=True)],
    }


def ruleCPU(repeat: int = 20000) -> dict[str, float]:
    """The labels and the rule alone, in process: what the flow step does
    on an allowed call (L{FlowStep.decide} and L{FlowStep.record}, the
    suite's servers, a client that gathered C{private}), microseconds per
    call: the part of the end-to-end figure that is the rule's."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # this checkout's gateway, as the run's
    from twisted.internet.task import Clock

    from mcpgateway.core.spec import ServerSpec
    from mcpgateway.flow.held import HeldCalls
    from mcpgateway.flow.step import FlowStep

    class Session:
        id, principal, clientPid, pidFromSocket = "s1", "", 4242, True
        clientInfo: Any = {"name": "bench"}

    specs = {
        name: ServerSpec(name=name, command=entry["command"], args=tuple(entry["args"]))
        for name, entry in config().items()
    }
    step = FlowStep(Clock(), lambda: HeldCalls(Clock()))
    step.use(specs)
    session = Session()
    params = {"name": "read_file", "arguments": {"path": "/home/me/a.py"}}
    started = time.perf_counter()
    for _ in range(repeat):
        decision, labels = step.decide(session, "files", params)  # type: ignore[arg-type]
        step.record(session, labels)  # type: ignore[arg-type]
    perCall = (time.perf_counter() - started) / repeat * 1e6
    assert not decision.held and step.active
    return {"decideAndRecordUs": perCall, "repeat": repeat}


async def suite(workdir: Path, quick: bool) -> dict[str, Any]:
    gateway = startGateway(workdir / "one")
    other = startGateway(workdir / "two")
    try:
        # First, on two gateways equally fresh: the scenarios leave the one
        # they run on more clients, sessions and held calls to keep.
        cost = await overhead((gateway, other), 4 if quick else 8, 150 if quick else 400)
        other.stop()
        async with httpx2.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway.port}", timeout=30
        ) as api:
            shown = await labelsShown(api, gateway)
            person = Person(api)
            runner = asyncio.ensure_future(person.run())
            pid = 3_000_000
            results = []
            started = time.monotonic()
            scenarios = chains() + benign(70 if quick else 210) + labelsCannotTell()
            for scenario in scenarios:
                results.append(await runScenario(gateway, person, scenario, pid))
                pid += 1
            aggregate = []
            for scenario in aggregateChains():
                aggregate.append(await runScenario(gateway, person, scenario, pid))
                pid += 1
            routes = [c for c in chains() if c.path == "routes"]
            replays = await replayChecks(gateway, person, routes[::5], pid)
            scenarioSeconds = time.monotonic() - started
            person.running = False
            await runner
    finally:
        gateway.stop()
        other.stop()
    return {
        "labels": shown,
        "scenarios": results,
        "aggregate": aggregate,
        "replays": replays,
        "scenarioSeconds": scenarioSeconds,
        "overhead": cost,
        "ruleCPU": ruleCPU(),
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="70 benign sessions, fewer calls")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowsuite-") as tmp:
        data = asyncio.run(suite(Path(tmp), args.quick))
    from flowreport import report

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "flowsuite.json").write_text(json.dumps(data, indent=1) + "\n")
    text = report(data)
    (RESULTS / "flowsuite.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
