"""Servers that talk back, on the paths a user takes (real gateway, real Python
SDK clients, server-everything from the npm registry and the bundled demo):

 - one window calls a sampling tool of a shared server while other windows
   of the same user sit idle: the call is sampled by that window, nothing is
   refused, nothing promoted;
 - a promoted server moves the sessions that were open to children of their
   own at their next request, their C{initialize} replayed: the same client
   sessions go on, and sampling works for each;
 - a per-session child killed with SIGKILL: the call in flight gets its
   error, and the same session's next call starts a new child and works.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, callsInFlight, errorText, waitFor, writeConfig
from tests.integration.sampling import recordingSampler
from tests.support import mcpclient

pytestmark = [pytest.mark.integration, pytest.mark.front]

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
UNHINTED = {
    "command": sys.executable,
    "args": [str(Path(__file__).parents[2] / "fixtures" / "unhinted_demo.py")],
}
"""The demo, naming no call its questions serve (as most servers do not)."""


def text(result: Any) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent), result
    return first.text


def sessionsOf(gateway: RunningGateway) -> list[dict[str, Any]]:
    return mcpclient.listSessions(gateway.port)


def test_one_window_samples_while_others_sit_idle(sharedEverything: RunningGateway) -> None:
    gateway = sharedEverything
    url = gateway.url("everything")
    sampledBy: list[str] = []

    async def main() -> str:
        async with (
            Client(url, mode="legacy", sampling_callback=recordingSampler("w1", sampledBy)) as w1,
            Client(url, mode="legacy", sampling_callback=recordingSampler("w2", sampledBy)) as w2,
            Client(url, mode="legacy", sampling_callback=recordingSampler("w3", sampledBy)) as w3,
        ):
            await w1.list_tools()
            await w3.list_tools()
            with anyio.fail_after(60):
                result = await w2.call_tool(
                    "trigger-sampling-request", {"prompt": "from w2", "maxTokens": 5}
                )
            assert not result.is_error, result
            pids = gateway.health()["servers"]["everything"]["pids"]
            assert len(pids) == 1, pids  # still one shared child
            return text(result)

    answer = anyio.run(main)
    assert "answer from w2" in answer, answer
    assert sampledBy == ["w2"]
    server = gateway.health()["servers"]["everything"]
    assert server["ambiguousServerRequests"] == 0
    assert not server.get("promoted"), server


def test_a_crowded_sampling_is_refused_and_the_server_keeps_its_share(
    start: Any, home: Path
) -> None:
    """Two sessions each with a slow call in flight while one samples: that
    cannot be attributed, so it is refused, and nothing else: the server is
    not promoted. The same two sessions then sample alone on the shared
    child, each asked for its own."""
    config = writeConfig(home / "servers.json", {"demo": UNHINTED})
    gateway: RunningGateway = start("--config", str(config))
    url = gateway.url("demo")
    sampledBy: list[str] = []

    async def main() -> tuple[str, str, str, set[str]]:
        async with (
            Client(url, mode="legacy", sampling_callback=recordingSampler("a", sampledBy)) as a,
            Client(url, mode="legacy", sampling_callback=recordingSampler("b", sampledBy)) as b,
        ):
            before = {s["id"] for s in sessionsOf(gateway)}
            crowded = ""
            with anyio.fail_after(60):
                async with anyio.create_task_group() as group:
                    for client in (a, b):
                        group.start_soon(client.call_tool, "slow", {"seconds": 2, "steps": 2})
                    await callsInFlight(gateway, "demo", 2)
                    try:
                        crowded = text(await a.call_tool("sample", {"prompt": "crowded"}))
                    except Exception as e:
                        crowded = errorText(e)
                byA = text(await a.call_tool("sample", {"prompt": "a alone"}))
                byB = text(await b.call_tool("sample", {"prompt": "b alone"}))
            assert {s["id"] for s in sessionsOf(gateway)} == before
            pids = gateway.health()["servers"]["demo"]["pids"]
            assert len(pids) == 1, pids  # the shared child only
            return crowded, byA, byB, before

    crowded, byA, byB, _ = anyio.run(main)
    assert "ambiguous" in crowded, crowded
    assert (byA, byB) == ("sampled: answer from a", "sampled: answer from b")
    assert sampledBy == ["a", "b"]
    server = gateway.health()["servers"]["demo"]
    assert not server.get("promoted"), server
    assert "the server keeps its share" in crowded, crowded


def test_a_session_whose_own_child_was_killed_goes_on(start: Any, home: Path) -> None:
    config = writeConfig(home / "servers.json", {"demo": {**DEMO, "share": "session"}})
    gateway: RunningGateway = start("--config", str(config))
    url = gateway.url("demo")

    async def main() -> tuple[str, str, str]:
        async with Client(url, mode="legacy") as client:
            assert text(await client.call_tool("echo", {"message": "one"})) == "one"
            [pid] = gateway.health()["servers"]["demo"]["pids"]
            killed = ""
            with anyio.fail_after(30):
                async with anyio.create_task_group() as group:

                    async def inFlight() -> None:
                        nonlocal killed
                        try:
                            await client.call_tool("slow", {"seconds": 5, "steps": 5})
                        except Exception as e:
                            killed = errorText(e)

                    group.start_soon(inFlight)
                    await callsInFlight(gateway, "demo", 1)
                    os.kill(pid, signal.SIGKILL)
            with anyio.fail_after(30):
                again = text(await client.call_tool("echo", {"message": "two"}))
            [newPid] = gateway.health()["servers"]["demo"]["pids"]
            assert newPid != pid
            return killed, again, str(newPid)

    killed, again, _ = anyio.run(main)
    assert "demo" in killed and "signal" in killed.lower(), killed
    assert again == "two"
    assert waitFor(lambda: "goes on on a fresh child" in gateway.text(), 10)
