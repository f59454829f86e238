"""End to end: the real plugin under twist/twistd, the official MCP SDK client,
the bundled demo and @modelcontextprotocol/server-everything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import (
    REPO,
    RunningGateway,
    errorText,
    refusedStart,
    twistdCommand,
    waitFor,
    writeConfig,
)
from tests.support.mcpclient import post

pytestmark = [pytest.mark.integration, pytest.mark.front]


def run(coro: Any) -> Any:
    return anyio.run(lambda: coro)


async def _demoSession(url: str) -> dict[str, Any]:
    seen: list[float] = []
    sampled: list[str] = []

    async def onSampling(context: Any, params: types.CreateMessageRequestParams) -> Any:
        sampled.append(params.messages[0].content.text)  # type: ignore[union-attr]
        return types.CreateMessageResult(
            role="assistant",
            model="test-model",
            content=types.TextContent(type="text", text="a haiku"),
        )

    async def onProgress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(url, sampling_callback=onSampling) as client:
        tools = await client.list_tools()
        echo = await client.call_tool("echo", {"message": "hello through the gateway"})
        add = await client.call_tool("add", {"a": 2, "b": 40})
        slow = await client.call_tool(
            "slow", {"seconds": 0.3, "steps": 3}, progress_callback=onProgress
        )
        sample = await client.call_tool("sample", {"prompt": "write a haiku"})
        return {
            "version": client.protocol_version,
            "tools": sorted(t.name for t in tools.tools),
            "echo": echo.content[0].text,  # type: ignore[union-attr]
            "add": add.structured_content,
            "slow": slow.content[0].text,  # type: ignore[union-attr]
            "progress": seen,
            "sample": sample.content[0].text,  # type: ignore[union-attr]
            "sampled": sampled,
        }


def test_plugin_is_listed_and_documents_every_option(home: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    listing = subprocess.run(
        [*twistdCommand()[:3], "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=60,
    )
    assert "mcpgateway" in listing.stdout
    usage = subprocess.run(
        [*twistdCommand()[:3], "mcpgateway", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=60,
    )
    for option in (
        "--port",
        "--interface",
        "--config",
        "--state-dir",
        "--log-level",
        "--request-timeout",
        "--max-body",
        "--max-line",
    ):
        assert option in usage.stdout, option


def test_demo_through_twist_with_the_sdk_client(start: Any) -> None:
    """No config and no ~/.claude.json: the bundled demo is served."""
    gateway: RunningGateway = start()
    result = run(_demoSession(gateway.url("demo")))
    assert result["tools"] == ["add", "echo", "sample", "slow"]
    assert result["echo"] == "hello through the gateway"
    assert result["add"] == {"sum": 42}
    assert result["slow"] == "done after 3 steps"
    assert result["progress"] == [1, 2, 3]
    assert result["sampled"] == ["write a haiku"]
    assert result["sample"] == "sampled: a haiku"
    health = gateway.health()
    demo = health["servers"]["demo"]
    assert demo["mode"] == "stateless" and demo["children"] == 1 and len(demo["pids"]) == 1
    assert demo["requests"] >= 5
    assert health["pid"] == gateway.process.pid
    assert health["rssBytes"] > 0


def test_demo_through_twistd(start: Any) -> None:
    gateway: RunningGateway = start(command=twistdCommand())
    result = run(_demoSession(gateway.url("demo")))
    assert result["echo"] == "hello through the gateway"
    child = gateway.health()["servers"]["demo"]["pids"][0]
    # twistd re-raises the signal that stopped it: -SIGTERM is its clean exit.
    assert gateway.stop() in (0, -15)
    assert "all children stopped" in gateway.text()
    assert waitFor(lambda: not pidAlive(child), timeout=10), "child outlived the gateway"


def test_sessions_reusing_ids_share_one_child_without_misrouting(start: Any) -> None:
    """Eight SDK clients (each starting at id 1) on one shared child."""
    gateway: RunningGateway = start()

    async def one(index: int) -> list[str]:
        async with Client(gateway.url("demo"), mode="legacy") as client:
            answers = []
            for call in range(5):
                r = await client.call_tool("echo", {"message": f"client {index} call {call}"})
                answers.append(r.content[0].text)  # type: ignore[union-attr]
            return answers

    async def main() -> list[list[str]]:
        results: list[list[str]] = [[] for _ in range(8)]

        async def runOne(i: int) -> None:
            results[i] = await one(i)

        async with anyio.create_task_group() as group:
            for i in range(8):
                group.start_soon(runOne, i)
        return results

    results = anyio.run(main)
    for index, answers in enumerate(results):
        assert answers == [f"client {index} call {c}" for c in range(5)]
    demo = gateway.health()["servers"]["demo"]
    assert demo["children"] == 1


def test_server_everything(sharedEverything: RunningGateway) -> None:
    gateway = sharedEverything

    async def session() -> None:
        async with Client(gateway.url("everything")) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert {"echo", "get-sum"} <= tools
            echo = await client.call_tool("echo", {"message": "hi"})
            assert "hi" in echo.content[0].text  # type: ignore[union-attr]
            total = await client.call_tool("get-sum", {"a": 2, "b": 3})
            assert "5" in total.content[0].text  # type: ignore[union-attr]
            resources = (await client.list_resources()).resources
            assert resources
            read = await client.read_resource(resources[0].uri)
            assert read.contents
            prompts = {p.name for p in (await client.list_prompts()).prompts}
            assert "simple-prompt" in prompts
            prompt = await client.get_prompt("simple-prompt")
            assert prompt.messages
        async with Client(gateway.url("everything"), mode="legacy") as client:
            await client.send_ping()  # a handshake-era method: 2026-07-28 removed it (404)

    run(session())
    assert gateway.health()["servers"]["everything"]["children"] == 1


def test_invalid_config_refuses_to_start_with_one_line(home: Path) -> None:
    bad = home / "broken.json"
    bad.write_text('{"mcpServers": {"a": }')
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "twisted", "mcpgateway", "--port", "0", "--config", str(bad)]
    proc = refusedStart(argv, home, env, code=None)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "broken.json" in ln]
    assert lines and "line 1 column" in lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_port_in_use_is_one_clear_line_and_exit_status_1(start: Any, home: Path) -> None:
    first: RunningGateway = start()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    proc = refusedStart(
        [
            sys.executable,
            "-m",
            "twisted",
            "--log-format=text",
            "mcpgateway",
            "--port",
            str(first.port),
        ],
        home,
        env,
    )
    said = f"port {first.port} is in use"
    assert "cannot listen on" in proc.stdout and said in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_missing_command_answers_an_error_others_keep_working(start: Any, home: Path) -> None:
    config = writeConfig(
        home / "servers.json",
        {
            "ghost": {"command": "no-such-mcp-server-xyz"},
            "demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]},
            "remote": {"type": "http", "url": "https://example.invalid/mcp"},
        },
    )
    gateway: RunningGateway = start("--config", str(config))
    assert "server 'remote'" not in gateway.text()  # a remote server is served, not skipped

    async def ghost() -> str:
        try:
            async with Client(gateway.url("ghost"), mode="legacy"):
                return "connected"
        except Exception as e:  # the SDK raises MCPError for the JSON-RPC error
            return errorText(e)

    assert "not found on PATH" in run(ghost())
    result = run(_demoSession(gateway.url("demo")))
    assert result["echo"] == "hello through the gateway"
    health = gateway.health()["servers"]
    assert health["ghost"]["state"] == "error"
    assert health["remote"]["remote"] == {"transport": "http", "url": "https://example.invalid/mcp"}


def test_unknown_server_is_404_with_a_jsonrpc_body(start: Any) -> None:
    gateway: RunningGateway = start()
    caught = post(gateway.url("nope"), {"jsonrpc": "2.0", "id": 1, "method": "ping"}, timeout=5)
    assert caught.status == 404
    body = caught.json()
    assert body["error"]["code"] == -32601 or body["error"]["code"] == -32600
    assert "nope" in body["error"]["message"]


@pytest.mark.parametrize("runtime", ["tuned", "stock"])
def test_a_body_over_the_limit_fails_its_call_and_the_session_goes_on(
    start: Any, runtime: str
) -> None:
    """The MCP Python SDK sends a call over C{--max-body} whole before it
    reads: it reads the gateway's 413 (the rest of the body is read and
    dropped, not reset), its call fails with that error, and its session
    goes on."""
    gateway: RunningGateway = start("--max-body", "1048576", env={"MCPGATEWAY_TWISTED": runtime})

    async def session() -> tuple[str, str]:
        async with Client(gateway.url("demo")) as client:
            try:
                await client.call_tool("echo", {"message": "x" * 5_000_000})
            except Exception as e:  # the SDK's error for a refused request
                refused = str(e)
            else:
                refused = "answered"
            after = await client.call_tool("echo", {"message": "still here"})
            block = after.content[0]
            return refused, block.text if isinstance(block, types.TextContent) else ""

    refused, after = run(session())
    assert "over the 1048576-byte limit" in refused, refused
    assert after == "still here"


def test_an_answer_over_max_line_fails_its_call_alone(start: Any, home: Path) -> None:
    """One session's answer over C{--max-line} (a big file read) fails that
    call; the child, and another session's calls on it, go on."""
    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "big_result_server.py"
    config = writeConfig(
        home / "big.json", {"big": {"command": sys.executable, "args": [str(fixture)]}}
    )
    gateway: RunningGateway = start("--config", str(config), "--max-line", "1000000")

    async def sessions() -> tuple[str, str, str]:
        async with Client(gateway.url("big")) as one, Client(gateway.url("big")) as other:
            try:
                await one.call_tool("big_text", {"chars": 3_000_000})
            except Exception as e:
                refused = str(e)
            else:
                refused = "answered"
            texts = []
            for client in (one, other):
                result = await client.call_tool("small", {})
                block = result.content[0]
                texts.append(block.text if isinstance(block, types.TextContent) else "")
            return refused, texts[0], texts[1]

    refused, mine, theirs = run(sessions())
    assert "over the gateway's 1000000-byte limit" in refused, refused
    assert mine and mine == theirs
    assert "answered request" in gateway.text() and "killing the child" not in gateway.text()
    assert len(gateway.health()["servers"]["big"]["pids"]) == 1  # the one child, never killed
