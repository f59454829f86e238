"""MCP 2026-07-28 and 2025 clients at once, on one shared handshake child
(tests/fixtures/era_server.py), end to end: the real Python SDK client
(C{mcp} 2.x, pinned to 2026-07-28, auto, handshake) and the real TypeScript SDK
2.x client (tests/integration/clients/ts_era2026.mjs: pinned, auto, handshake).

Every caller asks the child's model and user questions carrying its own label
and nonce, answered by its own callbacks: each gets its own answer back, each
callback sees only its own question, nothing is ambiguous, one child serves
all, and 2026 callers open no gateway session. Also: the hint-less path
(one asker works, two at once are refused rather than guessed), a server
that does not serve the 2026 revision (clients fall back or fail cleanly),
and an abandoned C{input_required} round that the gateway ends at its TTL.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.integration.continuitykit import tsEnvironment
from tests.integration.gateway import (
    REPO,
    NodeScript,
    RunningGateway,
    errorText,
    waitFor,
    writeConfig,
)
from tests.support.integration.era_fixture import answersOf, checkEraAnswers, checkEraLists
from tests.support.sdkcallers import Caller, textOf

pytestmark = [pytest.mark.integration, pytest.mark.front]
FIXTURE = REPO / "tests" / "fixtures" / "era_server.py"
TS_ERA2026 = Path(__file__).parents[1] / "clients" / "ts_era2026.mjs"
ERA2026 = "2026-07-28"


def eraConfig(home: Path, **entry: Any) -> Path:
    return writeConfig(
        home / "servers.json",
        {"era": {"command": sys.executable, "args": [str(FIXTURE)], **entry}},
    )


async def pyScenario(
    url: str, mode: str, label: str, nonce: str, connected: Callable[[], Awaitable[None]]
) -> dict[str, Any]:
    """The whole scenario for one Python client; C{connected} is awaited
    before it disconnects (so the test sees every client connected)."""
    caller = Caller(label)
    progressSeen: list[float] = []

    async def onProgress(progress: float, total: float | None, message: str | None) -> None:
        progressSeen.append(progress)

    async with caller.client(url, mode) as client:
        tools = await client.list_tools()
        resources = await client.list_resources()
        prompts = await client.list_prompts()
        read = await client.read_resource("era://notes/readme")
        prompt = await client.get_prompt("greet", {"name": label})
        count = await client.call_tool("count", {"steps": 3}, progress_callback=onProgress)
        model = await client.call_tool("ask_model", {"label": label, "nonce": nonce})
        user = await client.call_tool("ask_user", {"label": label, "nonce": nonce})
        version = client.session.protocol_version
        await connected()
    return {
        "version": version,
        "tools": sorted(tool.name for tool in tools.tools),
        "resources": [str(resource.uri) for resource in resources.resources],
        "prompts": [p.name for p in prompts.prompts],
        **answersOf(read, prompt, count, model, user),
        "progress": progressSeen,
        "seen": {"sampling": caller.sampled, "elicitation": caller.elicited},
    }


class TsClient(NodeScript):
    """One ts_era2026.mjs process (it runs the scenario at once, then waits)."""

    def __init__(self, url: str, mode: str, label: str, nonce: str, env: dict[str, str]) -> None:
        super().__init__(TS_ERA2026, [url, mode, label, nonce], label, env)
        self.nonce = nonce

    def result(self) -> dict[str, Any]:
        return self.line()


def checkScenario(result: dict[str, Any], label: str, nonce: str) -> None:
    """What every caller must have seen: the child's lists, its own
    progress only, its own answers, its callbacks asked its own questions."""
    checkEraLists(result)
    checkEraAnswers(result, label, nonce, "progress")


def test_era2026_and_handshake_clients_at_once_on_one_shared_child(start: Any, home: Path) -> None:
    gateway: RunningGateway = start("--config", str(eraConfig(home, share="global")))
    url = gateway.url("era")
    env = tsEnvironment()
    ts = [
        TsClient(url, mode, f"ts-{mode}-{i}", f"n-ts-{mode}-{i}", env)
        for mode in ("pin", "legacy")
        for i in range(4)
    ]
    py = [
        (mode, f"py-{mode}-{i}", f"n-py-{mode}-{i}")
        for mode in (ERA2026, "legacy")
        for i in range(4)
    ]
    health: dict[str, Any] = {}

    async def main() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        pyResults: dict[str, dict[str, Any]] = {}
        arrived = anyio.Event()
        checked = anyio.Event()

        waiting: list[None] = []

        async def connected() -> None:
            waiting.append(None)
            if len(waiting) == len(py):
                arrived.set()
            await checked.wait()

        async def run(mode: str, label: str, nonce: str) -> None:
            pyResults[label] = await pyScenario(url, mode, label, nonce, connected)

        with anyio.fail_after(120):
            async with anyio.create_task_group() as group:
                for args in py:
                    group.start_soon(run, *args)
                tsResults = [await anyio.to_thread.run_sync(client.result) for client in ts]
                await arrived.wait()
                # Every client is connected now: read the gateway.
                health.update(await anyio.to_thread.run_sync(gateway.health))
                checked.set()
        return [pyResults[label] for _, label, _ in py], tsResults

    try:
        pyResults, tsResults = anyio.run(main)
    finally:
        for client in ts:
            client.close()
    for (mode, label, nonce), result in zip(py, pyResults, strict=True):
        checkScenario(result, label, nonce)
        assert result["version"] == (ERA2026 if mode == ERA2026 else "2025-11-25"), result
    for client, result in zip(ts, tsResults, strict=True):
        assert result["ok"], result
        checkScenario(result, client.label, client.nonce)
        if "-pin-" in client.label:
            assert (result["era"], result["version"]) == ("modern", ERA2026), result
            assert result["sessionId"] is None, result
        else:
            assert result["era"] == "legacy" and result["sessionId"], result
    server = health["servers"]["era"]
    assert server["children"] == 1, server
    assert server["ambiguousServerRequests"] == 0, server
    assert not server["promoted"], server
    assert server["sessions"] == 8, server  # the handshake clients only: 2026 ones make none
    assert server["era2026"] is True, server
    assert server["era2026Requests"] >= 8 * 7, server
    assert server["inputRounds"] >= 8 * 2, server
    # The child answered every caller's two questions with that caller's answers.
    asked = sorted(
        (label, nonce)
        for label, nonce in [(c.label, c.nonce) for c in ts] + [(p[1], p[2]) for p in py]
    )
    outcomes = callOutcomes(url)
    assert sorted((o[0], o[1]) for o in outcomes if o[2] == "sampled") == asked
    assert sorted((o[0], o[1]) for o in outcomes if o[2] == "accept") == asked


def callOutcomes(url: str) -> list[list[str]]:
    """What the child's ask_* tools received, in order."""

    async def main() -> list[list[str]]:
        async with Client(url, mode=ERA2026) as client:
            return json.loads(textOf(await client.call_tool("outcomes", {})))  # type: ignore[no-any-return]

    return anyio.run(main)


def test_auto_mode_clients_take_the_era2026_path(start: Any, home: Path) -> None:
    gateway: RunningGateway = start("--config", str(eraConfig(home)))
    url = gateway.url("era")
    ts = TsClient(url, "auto", "ts-auto", "n-ts-auto", tsEnvironment())
    caller = Caller("py-auto")
    health: dict[str, Any] = {}

    async def main() -> tuple[str | None, str]:
        async with caller.client(url, "auto") as client:
            user = await client.call_tool("ask_user", {"label": "py-auto", "nonce": "n-py-auto"})
            health.update(await anyio.to_thread.run_sync(gateway.health))
            return client.session.protocol_version, textOf(user)

    try:
        version, user = anyio.run(main)
        result = ts.result()
    finally:
        ts.close()
    assert version == ERA2026
    assert "py-auto says py-auto n-py-auto" in user, user
    assert caller.elicited == ["py-auto n-py-auto"]
    # "modern": the TypeScript SDK's own word for the 2026-07-28 era (getProtocolEra)
    assert result["ok"] and (result["era"], result["version"]) == ("modern", ERA2026), result
    assert result["sessionId"] is None, result
    checkScenario(result, "ts-auto", "n-ts-auto")
    server = health["servers"]["era"]
    assert server["sessions"] == 0, server  # discover and calls: no gateway session
    assert server["era2026Requests"] >= 2, server  # the probe counted among them
    assert gateway.health()["servers"]["era"]["sessions"] == 0


def test_a_request_without_the_hint_is_routed_only_when_provable(start: Any, home: Path) -> None:
    gateway: RunningGateway = start("--config", str(eraConfig(home)))
    url = gateway.url("era")
    alone, first, second = Caller("alone"), Caller("first"), Caller("second")

    async def main() -> tuple[str, list[str]]:
        async with alone.client(url, ERA2026) as client:
            lone = textOf(await client.call_tool("plain_ask", {"nonce": "n-alone"}))
        crowded: list[str] = []

        async def ask(caller: Caller, nonce: str) -> None:
            async with caller.client(url, ERA2026) as client:
                # Both calls are in flight before either asks (the tool waits for both).
                result = await client.call_tool("plain_ask", {"nonce": nonce, "together": 2})
                crowded.append(textOf(result))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                group.start_soon(ask, first, "n-first")
                group.start_soon(ask, second, "n-second")
        return lone, crowded

    lone, crowded = anyio.run(main)
    assert lone.startswith("user said: accept"), lone
    assert alone.elicited == ["plain n-alone"]
    assert len(crowded) == 2 and all(text.startswith("refused:") for text in crowded), crowded
    assert first.elicited == [] and second.elicited == []  # nobody was asked a guess
    server = gateway.health()["servers"]["era"]
    assert server["ambiguousServerRequests"] >= 2, server
    assert not server["promoted"], server  # 2026 calls never promote a server


@pytest.mark.parametrize(
    "entry", [{"era2026": False}, {"share": "session"}], ids=["off", "session"]
)
def test_a_server_not_served_era2026_sends_clients_back_to_initialize(
    start: Any, home: Path, entry: dict[str, Any]
) -> None:
    gateway: RunningGateway = start("--config", str(eraConfig(home, **entry)))
    url = gateway.url("era")
    caller = Caller("fallback")

    async def pinned() -> None:
        async with caller.client(url, ERA2026) as client:
            await client.list_tools()

    with pytest.raises(BaseException) as caught:
        anyio.run(pinned)
    error = caught.value
    while not isinstance(error, MCPError) and getattr(error, "exceptions", None):
        error = error.exceptions[0]  # type: ignore[attr-defined]
    assert isinstance(error, MCPError) and error.code == -32601, errorText(caught.value)

    async def auto() -> tuple[str | None, str]:
        async with caller.client(url, "auto") as client:
            user = await client.call_tool("ask_user", {"label": "fallback", "nonce": "n-f"})
            return client.session.protocol_version, textOf(user)

    version, user = anyio.run(auto)
    assert version != ERA2026, version
    assert "fallback says fallback n-f" in user, user
    server = gateway.health()["servers"]["era"]
    assert server["era2026"] is not True, server  # the reason it is not served


def test_an_abandoned_input_required_round_ends_at_its_ttl(start: Any, home: Path) -> None:
    gateway: RunningGateway = start(
        "--config", str(eraConfig(home)), "--era2026-input-timeout", "1"
    )
    url = gateway.url("era")

    async def neverAnswers(context: Any, params: Any) -> types.ElicitResult:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    def era() -> dict[str, Any]:
        return gateway.health()["servers"]["era"]  # type: ignore[no-any-return]

    async def main() -> None:
        async with (
            Client(url, mode=ERA2026, elicitation_callback=neverAnswers) as client,
            anyio.create_task_group() as group,
        ):
            group.start_soon(client.call_tool, "ask_user", {"label": "gone", "nonce": "n-gone"})
            assert await anyio.to_thread.run_sync(
                lambda: waitFor(lambda: era()["suspendedCalls"] == 1, timeout=20)
            ), era()
            assert await anyio.to_thread.run_sync(
                lambda: waitFor(lambda: era()["suspendedCalls"] == 0, timeout=20)
            ), era()
            group.cancel_scope.cancel()

    anyio.run(main)
    server = era()
    assert server["inputExpired"] >= 1, server
    assert server["suspendedCalls"] == 0, server
    # The child's question was answered (cancel) or its call cancelled: it waits no more.
    assert waitFor(lambda: ["gone", "n-gone"] in [o[:2] for o in callOutcomes(url)], timeout=10)
    outcome = next(o for o in callOutcomes(url) if o[:2] == ["gone", "n-gone"])
    assert outcome[2] in ("cancel", "cancelled"), outcome
