"""What sharing saves, on a real gateway: several MCP SDK sessions on one
shared child, the children measured from /proc in the gateway's thread
pool, the figures in /health and in C{mcpgateway status}."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from tests.integration.gateway import REPO, RunningGateway, npmServer, waitFor, writeConfig

SESSIONS = 4


def holding(urls: list[str], then: Callable[[], Any]) -> Any:
    """Open an SDK session on each of C{urls}, call a tool on each, and run
    C{then()} (blocking) while they are all open."""

    async def main() -> Any:
        async with AsyncExitStack() as stack:
            for url in urls:
                client = await stack.enter_async_context(Client(url, mode="legacy"))
                tools = (await client.list_tools()).tools
                assert tools
            return await anyio.to_thread.run_sync(then)

    return anyio.run(main)


def measured(gateway: RunningGateway, *servers: str) -> Callable[[], dict[str, Any] | None]:
    """/health's savings, once each of C{servers} has been measured."""

    def check() -> dict[str, Any] | None:
        savings = gateway.health().get("savings")
        if not isinstance(savings, dict):
            return None
        lines = savings["servers"]
        if all(lines[name]["bytesPerLaunch"] for name in servers):
            return savings
        return None

    return check


def until(probe: Callable[[], dict[str, Any] | None], timeout: float = 20.0) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def ready() -> bool:
        value = probe()
        if value is not None:
            found.append(value)
        return value is not None

    assert waitFor(ready, timeout=timeout, interval=0.25), "the children were never measured"
    return found[-1]


def status(home: Path) -> str:
    """C{mcpgateway status} against the running gateway."""
    done = subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", "status", "--state-dir", str(home / "state")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_sessions_on_one_shared_child_report_what_they_save(
    start: Callable[..., RunningGateway], home: Path
) -> None:
    gateway = start()  # the bundled demo: one shared Python child
    urls = [gateway.url("demo")] * SESSIONS

    def look() -> tuple[dict[str, Any], str]:
        return until(measured(gateway, "demo")), status(home)

    savings, screen = holding(urls, look)
    demo = savings["servers"]["demo"]
    # One launch is the server; what runs adds the sandbox's processes when confined.
    assert (demo["sessions"], demo["children"], demo["processesPerLaunch"]) == (SESSIONS, 1, 1)
    processes = demo["processes"]
    assert processes in (1, 3)  # the server, or bwrap, its pid namespace's init and the server
    assert demo["processesAvoided"] == SESSIONS - processes
    perLaunch = demo["bytesPerLaunch"]
    assert 1_000_000 < perLaunch <= demo["rssBytes"]  # a Python process, its PSS
    assert demo["memoryAvoidedBytes"] == SESSIONS * perLaunch - demo["pssBytes"]
    # What runs: the gateway's whole tree; without it: a launch per session.
    used = savings["processesUsed"]
    assert used >= 1 + processes and savings["processesWithout"] == SESSIONS
    assert savings["processesAvoided"] == SESSIONS - used
    assert savings["measure"] == "pss" and savings["gatewayBytes"] > 1_000_000
    assert savings["memoryWithout"] == SESSIONS * perLaunch
    assert savings["memoryUsed"] >= savings["gatewayBytes"] + demo["pssBytes"]
    assert savings["memoryAvoidedBytes"] == savings["memoryWithout"] - savings["memoryUsed"]
    assert savings["wrappersAvoided"] == 0
    assert f"{used} running (the gateway's whole tree) against {SESSIONS} without it" in screen
    print(json.dumps(savings, indent=1))
    print(screen)


def test_npx_wrappers_avoided_and_measured(
    start: Callable[..., RunningGateway], home: Path
) -> None:
    """@modelcontextprotocol/server-memory three ways: run by node and
    shared by several sessions; through an npx the gateway leaves alone (it
    runs the wrappers, and measures them); through an npx it resolves to the
    real binary (the wrappers avoided, counted at the measured size)."""
    node, script = npmServer("SERVER_MEMORY_JS")
    package = Path(script).parents[1]
    version = json.loads((package / "package.json").read_text())["version"]
    config = writeConfig(
        home / "servers.json",
        {
            "memory": {
                "command": node,
                "args": [script],
                "env": {"MEMORY_FILE_PATH": str(home / "memory.json")},
            },
            "wrapped": {
                # --no-install: an option the resolver leaves alone, so npx runs
                "command": "npx",
                "args": ["--no-install", "mcp-server-memory"],
                "cwd": str(package.parents[2]),  # where node_modules/.bin has it
                "env": {"MEMORY_FILE_PATH": str(home / "wrapped.json")},
            },
            "resolved": {
                "command": "npx",
                "args": ["-y", f"@modelcontextprotocol/server-memory@{version}"],
                "env": {"MEMORY_FILE_PATH": str(home / "resolved.json")},
            },
        },
    )
    gateway = start("--config", str(config), timeout=60.0)

    def resolution() -> str:
        line = gateway.health()["servers"]["resolved"].get("resolution") or {}
        return str(line.get("state"))

    assert waitFor(lambda: resolution() in ("resolved", "failed"), timeout=180, interval=0.5)
    resolved = resolution() == "resolved"  # npm install may need a network: then not
    urls = [gateway.url("memory")] * SESSIONS + [gateway.url("wrapped")] * 2
    urls += [gateway.url("resolved")] * 3 if resolved else []
    servers = ("memory", "wrapped", "resolved") if resolved else ("memory", "wrapped")

    def look() -> tuple[dict[str, Any], str]:
        return until(measured(gateway, *servers), timeout=40), status(home)

    savings, screen = holding(urls, look)
    print(json.dumps(savings, indent=1))
    print(screen)
    memory, wrapped = savings["servers"]["memory"], savings["servers"]["wrapped"]
    assert (memory["sessions"], memory["children"]) == (SESSIONS, 1)
    assert memory["processesAvoided"] == SESSIONS - memory["processes"]  # its sandbox's too
    assert memory["bytesPerLaunch"] > 10_000_000  # a node process
    # npm exec, its sh -c, and the server: three processes per launch.
    assert (wrapped["sessions"], wrapped["children"], wrapped["processesPerLaunch"]) == (2, 1, 3)
    assert (wrapped["processesAvoided"], wrapped["wrappersAvoided"]) == (
        2 * 3 - wrapped["processes"],
        0,
    )
    if resolved:
        line = savings["servers"]["resolved"]
        assert (line["wrapper"], line["processesPerLaunch"], line["wrappersAvoided"]) == (
            "npx",
            1,
            6,
        )
        assert line["wrapperBytes"] > 10_000_000  # measured on the wrapped entry's npx
        assert line["processesAvoided"] == 3 + 6 - line["processes"]
        without = 3 * line["bytesPerLaunch"] + 3 * line["wrapperBytes"]
        assert line["memoryAvoidedBytes"] == without - line["pssBytes"]
        assert savings["wrapperMemory"] == "counted"
        assert "  · 6 npx/uvx wrappers avoided: in the processes and the memory" in screen
