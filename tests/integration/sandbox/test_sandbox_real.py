"""Real servers of both ecosystems confined by default, with a real gateway
run as C{twistd -n mcpgateway --sandbox auto} and the Python SDK:

 - npm's C{@modelcontextprotocol/server-sequential-thinking} (installed by
   C{scripts/install-test-backends});
 - PyPI's C{mcp-server-time} run by C{uvx} (from the test extra's C{uv},
   found on C{PATH} or beside this interpreter), as an entry writes it
   (C{"command": "uvx"}): installed by the gateway first, and run as
   configured (C{--no-resolve}: C{uvx} itself confined, with caches of its
   own in the state directory, never the user's, and PyPI through the
   gateway's proxy).

Each is listed, called and stopped with the default profile: no
C{"sandbox"} in its entry. Bubblewrap must work here (CI installs it); the
tests skip, saying why, only where it cannot run, or where PyPI cannot be
reached at all.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, npmServer, twistdCommand, waitFor, writeConfig
from tests.integration.sandboxkit import bwrapOrSkip, childPids, commandOf, fakeHome
from tests.support.integration.sandbox import confinedChildren

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]
T = TypeVar("T")
TIME_SERVER = "mcp-server-time@2026.10.19"
"""The uvx server: it answers without any network once installed."""


def uvxPath() -> Path:
    """C{uvx}: on C{PATH}, else beside this interpreter (the test extra's C{uv}
    puts it in the venv's C{bin}, which need not be on C{PATH})."""
    found = shutil.which("uvx")
    if found is not None:
        return Path(found)
    beside = Path(sys.executable).parent / "uvx"
    assert os.access(beside, os.X_OK), "no uvx: the test extra installs uv (pip install '.[test]')"
    return beside


def pypiOrSkip() -> None:
    """Skip, saying why, where PyPI cannot be reached from this machine."""
    try:
        with urllib.request.urlopen("https://pypi.org/simple/mcp-server-time/", timeout=15):
            pass
    except OSError as e:
        pytest.skip(f"PyPI is not reachable here: {e}")


def gatewayEnv(uvx: Path) -> dict[str, str]:
    """The gateway's environment: C{uvx}'s folder on its C{PATH}, as a user's
    shell has it, so that C{"command": "uvx"} is found."""
    return {"PATH": os.pathsep.join([str(uvx.parent), os.environ.get("PATH", os.defpath)])}


def serverProcesses(gateway: RunningGateway, word: str) -> list[int]:
    """The gateway's processes whose command line has C{word}."""
    return [pid for pid in childPids(gateway.process.pid) if word in " ".join(commandOf(pid))]


def listCall(
    url: str, tool: str, arguments: dict[str, Any], looked: Callable[[], T]
) -> tuple[list[str], Any, T]:
    """One SDK session on C{url}: its tools, C{tool}'s first text content
    (JSON-decoded), and what C{looked} finds while the session (and so its
    child, shared or its own) is still open."""

    async def main() -> tuple[list[str], Any, T]:
        async with Client(url, mode="legacy") as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            result = await client.call_tool(tool, arguments)
            text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
            return names, json.loads(text), looked()

    return anyio.run(main)


def confinedServer(gateway: RunningGateway, word: str) -> list[int]:
    """The processes of the server whose command line has C{word}: asserted
    to run in bubblewrap."""
    assert "sandbox: confined children run in bubblewrap" in gateway.text()
    confined = [c for c in confinedChildren(gateway) if word in " ".join(c)]
    assert confined, [commandOf(pid) for pid in childPids(gateway.process.pid)]
    running = serverProcesses(gateway, word)
    assert running
    return running


def stopped(gateway: RunningGateway, server: str, running: list[int]) -> None:
    """Stop the gateway: none of the server's processes outlives it, and the
    sandbox refused it nothing."""
    gateway.stop()
    assert "all children stopped" in gateway.text(), gateway.text()[-3000:]
    assert waitFor(lambda: not [p for p in running if os.path.exists(f"/proc/{p}")], 10)
    assert f"server {server}: the sandbox" not in gateway.text()


def test_sequential_thinking_works_confined_by_default(home: Path, start: Starter) -> None:
    bwrapOrSkip()
    fakeHome(home)
    thinking = npmServer("SERVER_SEQUENTIAL_THINKING_JS")
    config = writeConfig(
        home / "servers.json", {"thinking": {"command": thinking[0], "args": thinking[1:]}}
    )
    gateway = start("--config", str(config), command=twistdCommand())
    assert waitFor(lambda: "sandbox: confined children run" in gateway.text())
    thought = {
        "thought": "one step",
        "thoughtNumber": 1,
        "totalThoughts": 2,
        "nextThoughtNeeded": True,
    }
    names, answer, running = listCall(
        gateway.url("thinking"),
        "sequentialthinking",
        thought,
        lambda: confinedServer(gateway, "server-sequential-thinking"),
    )
    assert "sequentialthinking" in names
    assert answer["thoughtNumber"] == 1 and answer["totalThoughts"] == 2, answer
    assert answer["nextThoughtNeeded"] is True
    stopped(gateway, "thinking", running)


def timeEntry(uvx: Path) -> dict[str, object]:
    """C{uvx mcp-server-time} as a user writes it: the command by name."""
    return {"command": uvx.name, "args": [TIME_SERVER, "--local-timezone", "UTC"]}


def callTime(gateway: RunningGateway) -> list[int]:
    """List and call the time server, confined; its processes."""
    assert waitFor(lambda: "sandbox: confined children run" in gateway.text())
    names, now, running = listCall(
        gateway.url("time"),
        "get_current_time",
        {"timezone": "UTC"},
        lambda: confinedServer(gateway, "mcp-server-time"),
    )
    assert "get_current_time" in names
    assert now["timezone"] == "UTC" and now["datetime"], now
    return running


def test_a_uvx_server_the_gateway_installs_works_confined_by_default(
    home: Path, start: Starter
) -> None:
    bwrapOrSkip()
    pypiOrSkip()
    fakeHome(home)
    uvx = uvxPath()
    config = writeConfig(home / "servers.json", {"time": timeEntry(uvx)})
    gateway = start("--config", str(config), command=twistdCommand(), env=gatewayEnv(uvx))
    running = callTime(gateway)
    # The package's own program runs, from the gateway's install: no uvx.
    commands = [commandOf(pid) for pid in running]
    assert not [c for c in commands if "uvx" in map(os.path.basename, c)], commands
    assert any(str(home / "state" / "uvx") in " ".join(c) for c in commands), commands
    stopped(gateway, "time", running)


def test_a_uvx_server_run_as_configured_works_confined_by_default(
    home: Path, start: Starter
) -> None:
    """C{--no-resolve}: C{uvx} itself runs confined, installing into a
    cache of its own (C{<state>/caches/<key>/uv}, never the user's
    C{~/.cache/uv}) from PyPI (through the gateway's proxy: C{uvx}'s
    registries are in its default profile)."""
    bwrapOrSkip()
    pypiOrSkip()
    fakeHome(home)
    uvx = uvxPath()
    config = writeConfig(home / "servers.json", {"time": timeEntry(uvx)})
    gateway = start(
        "--config", str(config), "--no-resolve", command=twistdCommand(), env=gatewayEnv(uvx)
    )
    running = callTime(gateway)
    commands = [commandOf(pid) for pid in running]
    assert any("uvx" in map(os.path.basename, c) for c in commands), commands
    stopped(gateway, "time", running)
    # What it installed is in its own uv cache, in the state directory; the user's has nothing.
    assert any((home / "state" / "caches").glob("time-*/uv/cache/*"))
    assert not (home / ".cache" / "uv").exists()
