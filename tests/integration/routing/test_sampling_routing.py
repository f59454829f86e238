"""A shared child's sampling request never reaches a
session that did not provably ask (real Python SDK clients, the demo server).

The demo names the call its request serves (C{mcpgateway/relatedRequestId}):
among sessions all with calls in flight, its question reaches the caller's
session, and only it.

Five sessions keep a slow call in flight on one shared child while one of
them triggers sampling: no session can be proven to be the requester, so the
gateway refuses it to the child (the tool reports the error) and no sampling
callback runs anywhere. Once the other sessions have ended, the same call is
answered by the session that made it: the only session attached to the child.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, callsInFlight, writeConfig
from tests.integration.sampling import recordingSampler

pytestmark = [pytest.mark.integration, pytest.mark.front]

UNHINTED = {
    "command": sys.executable,
    "args": [str(Path(__file__).parents[2] / "fixtures" / "unhinted_demo.py")],
}
"""The demo, naming no call its questions serve (as most servers do not)."""


def test_sampling_with_several_sessions_in_flight_is_refused_not_misrouted(
    start: Any, home: Path
) -> None:
    config = writeConfig(home / "servers.json", {"demo": UNHINTED})
    gateway: RunningGateway = start("--config", str(config))
    url = gateway.url("demo")
    sampledBy: list[str] = []

    def sampler(label: str) -> Any:
        return recordingSampler(label, sampledBy)

    async def main() -> tuple[str, str, list[str]]:
        labels = [f"s{i}" for i in range(5)]
        async with Client(url, mode="legacy", sampling_callback=sampler("s0")) as s0:
            slow: list[str] = []

            async def holdInFlight(client: Client) -> None:
                result = await client.call_tool("slow", {"seconds": 3, "steps": 3})
                slow.append(result.content[0].text)  # type: ignore[union-attr]

            async with (
                Client(url, mode="legacy", sampling_callback=sampler("s1")) as s1,
                Client(url, mode="legacy", sampling_callback=sampler("s2")) as s2,
                Client(url, mode="legacy", sampling_callback=sampler("s3")) as s3,
                Client(url, mode="legacy", sampling_callback=sampler("s4")) as s4,
            ):
                clients = [s0, s1, s2, s3, s4]
                with anyio.fail_after(60):
                    async with anyio.create_task_group() as group:
                        for client in clients:
                            group.start_soon(holdInFlight, client)
                        await callsInFlight(gateway, "demo", len(clients))  # every session's
                        crowded = await s0.call_tool("sample", {"prompt": "secret of s0"})
            # The others have ended their sessions: s0 is the only session
            # attached to the shared child, the one client its request can be for.
            with anyio.fail_after(60):
                alone = await s0.call_tool("sample", {"prompt": "s0 alone"})
            assert len(slow) == len(labels)
            first, second = crowded.content[0], alone.content[0]
            assert isinstance(first, types.TextContent) and isinstance(second, types.TextContent)
            return first.text, second.text, slow

    crowded, alone, _ = anyio.run(main)
    assert "sampling failed" in crowded and "ambiguous" in crowded, crowded
    assert alone == "sampled: answer from s0", alone
    assert sampledBy == ["s0"]  # only the lone call was ever sampled, by its own session
    server = gateway.health()["servers"]["demo"]
    assert server["ambiguousServerRequests"] == 1
    assert "per session" in server["warning"]


def test_a_sampling_request_that_names_its_call_reaches_its_session_among_many(
    start: Any, home: Path
) -> None:
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    gateway: RunningGateway = start("--config", str(config))
    url = gateway.url("demo")
    sampledBy: list[str] = []

    async def main() -> str:
        async with (
            Client(url, mode="legacy", sampling_callback=recordingSampler("a", sampledBy)) as a,
            Client(url, mode="legacy", sampling_callback=recordingSampler("b", sampledBy)) as b,
            Client(url, mode="legacy", sampling_callback=recordingSampler("c", sampledBy)) as c,
        ):
            with anyio.fail_after(60):
                async with anyio.create_task_group() as group:
                    for client in (a, b, c):
                        group.start_soon(client.call_tool, "slow", {"seconds": 2, "steps": 2})
                    await callsInFlight(gateway, "demo", 3)
                    crowded = await b.call_tool("sample", {"prompt": "b among many"})
            answer = crowded.content[0]
            assert isinstance(answer, types.TextContent)
            return answer.text

    assert anyio.run(main) == "sampled: answer from b"
    assert sampledBy == ["b"]
    server = gateway.health()["servers"]["demo"]
    assert server["ambiguousServerRequests"] == 0 and len(server["pids"]) == 1, server
