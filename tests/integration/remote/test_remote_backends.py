"""Remote MCP servers behind a real gateway: server-everything in its
Streamable HTTP and its HTTP+SSE modes on loopback, reached through
C{/<server>/mcp} and C{/mcp} by the Python SDK, with sampling answered by the
client, concurrent sessions kept apart, and a remote server that restarts
under an open session."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, types

from tests.integration.conftest import CACHE
from tests.integration.gateway import RunningGateway, callEcho, errorText, waitFor, writeConfig
from tests.support.integration.remote_backends import RemoteEverything

TS_CLIENT = Path(__file__).parents[1] / "clients" / "ts_echo.mjs"


@pytest.fixture
def remotes(everything: list[str], home: Path) -> Iterator[dict[str, RemoteEverything]]:
    servers = {
        "http": RemoteEverything(everything, "streamableHttp", home),
        "sse": RemoteEverything(everything, "sse", home),
    }
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def gateway(start: Any, home: Path, remotes: dict[str, RemoteEverything]) -> RunningGateway:
    config = writeConfig(
        home / "gateway.json",
        {
            "ehttp": {"type": "http", "url": remotes["http"].url("/mcp")},
            "esse": {"type": "sse", "url": remotes["sse"].url("/sse")},
            "eshared": {"type": "http", "url": remotes["http"].url("/mcp"), "share": "global"},
        },
    )
    running: RunningGateway = start("--config", str(config))
    return running


async def sampled(context: Any, params: types.CreateMessageRequestParams) -> Any:
    return types.CreateMessageResult(
        role="assistant", model="m", content=types.TextContent(type="text", text="from the client")
    )


def textOf(result: Any) -> str:
    return "".join(getattr(item, "text", "") for item in result.content)


@pytest.mark.parametrize("server", ["ehttp", "esse", "eshared"])
def test_a_remote_server_answers_through_its_route(gateway: RunningGateway, server: str) -> None:
    assert callEcho(gateway.url(server), f"via {server}") == f"Echo: via {server}"


@pytest.mark.parametrize("server", ["ehttp", "esse", "eshared"])
def test_a_remote_servers_sampling_request_reaches_the_client_that_called(
    gateway: RunningGateway, server: str
) -> None:
    async def main() -> str:
        async with Client(gateway.url(server), mode="legacy", sampling_callback=sampled) as c:
            result = await c.call_tool(
                "trigger-sampling-request", {"prompt": "hello", "maxTokens": 5}
            )
            return textOf(result)

    assert "from the client" in anyio.run(main)


def test_concurrent_sessions_of_a_remote_server_get_their_own_answers(
    gateway: RunningGateway,
) -> None:
    async def session(server: str, n: int, out: dict[str, list[str]]) -> None:
        async with Client(gateway.url(server), mode="legacy") as c:
            for i in range(10):
                result = await c.call_tool("echo", {"message": f"{server}-{n}-{i}"})
                out.setdefault(f"{server}-{n}", []).append(textOf(result))

    async def main() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        async with anyio.create_task_group() as group:
            for server in ("ehttp", "eshared", "esse"):
                for n in range(4):
                    group.start_soon(session, server, n, out)
        return out

    out = anyio.run(main)
    assert len(out) == 12
    for key, answers in out.items():
        assert answers == [f"Echo: {key}-{i}" for i in range(10)]


def test_the_aggregate_endpoint_lists_and_calls_remote_tools(gateway: RunningGateway) -> None:
    async def main() -> tuple[list[str], str]:
        async with Client(f"http://127.0.0.1:{gateway.port}/mcp", mode="legacy") as c:
            names = [tool.name for tool in (await c.list_tools()).tools]
            result = await c.call_tool("esse__echo", {"message": "aggregate"})
            return names, textOf(result)

    names, text = anyio.run(main)
    for server in ("ehttp", "esse", "eshared"):
        assert f"{server}__echo" in names
    assert text == "Echo: aggregate"


def test_a_session_survives_its_remote_server_restarting(
    gateway: RunningGateway, remotes: dict[str, RemoteEverything]
) -> None:
    remote = remotes["http"]

    async def main() -> list[str]:
        async with Client(gateway.url("ehttp"), mode="legacy") as c:
            before = textOf(await c.call_tool("echo", {"message": "before"}))
            remote.stop()
            remote.start()  # it forgets every session
            after = textOf(await c.call_tool("echo", {"message": "after"}))
            return [before, after]

    assert anyio.run(main) == ["Echo: before", "Echo: after"]
    assert "no longer knows the session" in gateway.text()


def test_an_unreachable_remote_server_is_a_clear_error_and_health_shows_it(
    gateway: RunningGateway, remotes: dict[str, RemoteEverything]
) -> None:
    remotes["http"].stop()
    with pytest.raises(BaseException) as caught:
        callEcho(gateway.url("ehttp"), "nobody")
    # The client's error says it; the gateway's log line may reach its output later.
    said = errorText(caught.value)
    assert "is not reachable" in said or waitFor(
        lambda: "is not reachable" in gateway.text(), timeout=10
    ), said
    servers = gateway.health()["servers"]
    assert {"ehttp", "esse", "eshared"} <= set(servers)
    assert servers["ehttp"]["remote"] == {"transport": "http", "url": remotes["http"].url("/mcp")}
    assert servers["ehttp"]["share"] == "session"
    assert servers["esse"]["remote"]["transport"] == "sse"
    assert servers["eshared"]["share"] == "global"


@pytest.mark.parametrize("server", ["ehttp", "esse"])
def test_the_typescript_sdk_and_the_inspector_cli_call_a_remote_server(
    gateway: RunningGateway, server: str
) -> None:
    env = {**os.environ, "TS_SDK_DIR": str(CACHE / "node_modules/@modelcontextprotocol/sdk")}
    done = subprocess.run(
        ["node", str(TS_CLIENT), gateway.url(server), "ts", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [f"Echo: ts call {i}" for i in range(3)]
    paths = dict(
        line.split("=", 1) for line in (CACHE / "paths.env").read_text().splitlines() if "=" in line
    )
    node22, cli = paths.get("NODE22", "").strip(), paths.get("INSPECTOR_CLI", "").strip()
    if not (Path(node22).is_file() and Path(cli).is_file()):
        pytest.skip("the MCP Inspector CLI is not installed (scripts/install-test-backends)")
    call = ["--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message=inspector"]
    inspected = subprocess.run(
        [node22, cli, "--cli", gateway.url(server), "--transport", "http", *call],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(gateway.home)},
    )
    assert inspected.returncode == 0, inspected.stderr
    assert "Echo: inspector" in inspected.stdout


def test_a_clients_session_end_ends_its_upstream_session(
    gateway: RunningGateway, remotes: dict[str, RemoteEverything]
) -> None:
    assert callEcho(gateway.url("ehttp"), "one session") == "Echo: one session"
    assert waitFor(
        lambda: "Received session termination request" in remotes["http"].log.read_text(),
        timeout=10,
    ), remotes["http"].log.read_text()[-2000:]


@pytest.mark.parametrize("server", ["ehttp", "esse", "eshared"])
def test_two_sessions_sampling_at_once_are_each_asked_their_own(
    gateway: RunningGateway, server: str
) -> None:
    """Two client sessions call the sampling tool at the same time, and each
    one's sampling callback holds its answer until the other's request has
    arrived too: both sampling requests are pending at once. Each session is
    asked only its own prompt, and each call's result carries its own
    session's answer. On the shared (global) route both calls go through one
    upstream session: each sampling request comes on the stream of the call
    it serves, which is what names its session."""
    asked: dict[str, list[str]] = {"a": [], "b": []}
    arrived = {"a": anyio.Event(), "b": anyio.Event()}

    def sampler(label: str) -> Any:
        other = "b" if label == "a" else "a"

        async def onSampling(context: Any, params: types.CreateMessageRequestParams) -> Any:
            asked[label].append(getattr(params.messages[0].content, "text", ""))
            arrived[label].set()
            with anyio.fail_after(10):
                await arrived[other].wait()
            return types.CreateMessageResult(
                role="assistant",
                model="m",
                content=types.TextContent(type="text", text=f"from {label}"),
            )

        return onSampling

    async def session(label: str, out: dict[str, str]) -> None:
        async with Client(
            gateway.url(server), mode="legacy", sampling_callback=sampler(label)
        ) as c:
            result = await c.call_tool(
                "trigger-sampling-request", {"prompt": f"prompt of {label}", "maxTokens": 5}
            )
            out[label] = textOf(result)

    async def main() -> dict[str, str]:
        out: dict[str, str] = {}
        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(session, "a", out)
                group.start_soon(session, "b", out)
        return out

    out = anyio.run(main)
    for label, other in (("a", "b"), ("b", "a")):
        assert len(asked[label]) == 1 and f"prompt of {label}" in asked[label][0], asked
        assert f"from {label}" in out[label] and f"from {other}" not in out[label], out
