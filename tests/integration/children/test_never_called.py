"""A server nobody calls is never started: a real gateway, the real Python
SDK client, and a fixture server that writes a marker file each time it
starts (C{tests/fixtures/marker_server.py}).

The gateway runs once, so that the server's catalog is saved; a new
gateway on the same state directory answers a client's start-up
(C{initialize}, the tools, prompts, resources and templates) from that
catalog: no child starts, and the client gets what it got from the
running child. Its first call starts the child, which answers it. What it
listed equals what a direct stdio connection to the server lists. A 2026
client's C{server/discover} and lists start no child either, nor does a
TypeScript SDK client's start-up. A server that lists differently when it
starts (its entry unchanged) tells the session answered from the catalog
with C{notifications/tools/list_changed}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.integration.conftest import CACHE
from tests.integration.gateway import REPO, RunningGateway, waitFor, writeConfig

pytestmark = pytest.mark.integration

MARKER_SERVER = REPO / "tests" / "fixtures" / "marker_server.py"
TS_CLIENT = Path(__file__).parents[1] / "clients" / "ts_startup.mjs"


async def startUp(client: Client) -> dict[str, Any]:
    """Everything a client learns at start-up, as JSON values."""

    def dumped(items: Any) -> list[dict[str, Any]]:
        return [item.model_dump(mode="json", exclude_none=True) for item in items]

    capabilities = client.server_capabilities
    info = client.server_info
    return {
        "serverInfo": None if info is None else info.model_dump(exclude_none=True),
        "capabilities": None
        if capabilities is None
        else capabilities.model_dump(mode="json", exclude_none=True),
        "instructions": client.instructions,
        "protocolVersion": client.protocol_version,
        "tools": dumped((await client.list_tools()).tools),
        "prompts": dumped((await client.list_prompts()).prompts),
        "resources": dumped((await client.list_resources()).resources),
        "templates": dumped((await client.list_resource_templates()).resource_templates),
    }


async def throughTheGateway(gateway: RunningGateway, marker: Path) -> dict[str, Any]:
    """A client's start-up on the server C{marked}, whether C{marker}
    existed after it and the server's state then, then a call."""
    async with Client(gateway.url("marked"), mode="legacy") as client:
        seen = await startUp(client)
        seen["startedBeforeTheCall"] = marker.exists()
        health = await anyio.to_thread.run_sync(gateway.health)
        seen["stateBeforeTheCall"] = health["servers"]["marked"]["state"]
        echo = await client.call_tool("echo", {"message": "hello"})
        first = echo.content[0]
        seen["echo"] = getattr(first, "text", None)
    return seen


async def direct(marker: Path) -> dict[str, Any]:
    """The same start-up over a direct stdio connection to the server."""
    params = StdioServerParameters(
        command=sys.executable, args=[str(MARKER_SERVER)], env={"MARKER_FILE": str(marker)}
    )
    async with Client(params, mode="legacy") as client:
        return await startUp(client)


async def era2026StartUp(gateway: RunningGateway) -> dict[str, Any]:
    """A 2026-07-28 client's start-up (C{server/discover}, then the lists)."""
    async with Client(gateway.url("marked"), mode="auto") as client:
        seen = await startUp(client)
        seen.pop("capabilities")  # a 2026 client's view of them: compared elsewhere
        return seen


def withoutGatewayTasks(seen: dict[str, Any]) -> dict[str, Any]:
    """What the gateway adds for a 2025-11-25 session whose server serves no
    tasks itself (it makes them: docs/guide/tasks.md) taken out: its
    C{tasks} capability and each tool's C{execution}."""
    capabilities = {k: v for k, v in seen["capabilities"].items() if k != "tasks"}
    tools = [{k: v for k, v in t.items() if k != "execution"} for t in seen["tools"]]
    return {**seen, "capabilities": capabilities, "tools": tools}


def developersServer(home: Path) -> Path:
    """A server of the user's own, as one under development is run: a
    script in the home (it runs the marker server)."""
    script = home / "dev" / "srv.py"
    script.parent.mkdir()
    script.write_text(
        f"import runpy\nrunpy.run_path({str(MARKER_SERVER)!r}, run_name='__main__')\n"
    )
    return script


def markedConfig(home: Path, program: Path = MARKER_SERVER) -> tuple[Path, Path]:
    """The config of server C{marked} (C{program} run by this Python), and its marker file."""
    marker = home / "started"
    config = writeConfig(
        home / "servers.json",
        {
            "marked": {
                "command": sys.executable,
                "args": [str(program)],
                "env": {
                    "MARKER_FILE": str(marker),
                    "MARKER_TOOLS_FILE": str(home / "more-tools"),
                },
            }
        },
    )
    return config, marker


def catalogSaved(home: Path) -> bool:
    """Whether server C{marked}'s catalog is saved, for its entry."""
    try:
        return "entry" in json.loads((home / "state" / "catalogs" / "marked.json").read_text())
    except (OSError, ValueError):
        return False


def savedCatalog(
    start: Any, home: Path, program: Path = MARKER_SERVER
) -> tuple[tuple[str, ...], Path, dict[str, Any]]:
    """A gateway that ran the server once (a Python SDK client's start-up
    and call), stopped once the server's catalog is saved: the arguments
    of a gateway on the same state directory, the marker file (removed),
    and what that client learned from the running child."""
    config, marker = markedConfig(home, program)
    args = ("--config", str(config), "--sandbox", "off")
    first: RunningGateway = start(*args)
    live = anyio.run(throughTheGateway, first, marker)
    assert live.pop("startedBeforeTheCall"), "a server never run starts at its first initialize"
    assert live.pop("stateBeforeTheCall") == "running"
    assert waitFor(lambda: catalogSaved(home), timeout=10), "the catalog was not saved"
    first.stop()
    marker.unlink()
    return args, marker, live


def test_a_start_up_is_answered_from_the_saved_catalog(start: Any, home: Path) -> None:
    args, marker, live = savedCatalog(start, home)
    second: RunningGateway = start(*args)
    assert second.health()["servers"]["marked"]["state"] == "stopped"
    era2026 = anyio.run(era2026StartUp, second)
    assert era2026["protocolVersion"] == "2026-07-28"
    assert not marker.exists(), "a 2026 client's start-up started the child"
    assert [t["name"] for t in era2026["tools"]] == ["echo", "add"]
    assert era2026["instructions"] == live["instructions"]
    answered = anyio.run(throughTheGateway, second, marker)
    assert not answered.pop("startedBeforeTheCall"), "the start-up started the child"
    assert answered.pop("stateBeforeTheCall") == "catalog"
    assert answered["echo"] == "hello"  # the call started it, and it answered
    assert marker.read_text().count("\n") == 1
    assert answered == live
    health = second.health()["servers"]["marked"]
    assert health["state"] == "running"
    assert health["catalogStartups"] == 2  # the 2026 client's discover, the initialize

    other = home / "direct"
    alone = anyio.run(direct, other)
    assert other.exists()
    expected = withoutGatewayTasks(answered)
    expected.pop("echo")
    assert expected == alone


def test_a_typescript_client_s_start_up_is_answered_from_the_catalog(
    start: Any, home: Path
) -> None:
    sdk = CACHE / "node_modules" / "@modelcontextprotocol" / "sdk"
    if not (sdk / "package.json").is_file():
        pytest.skip("the TypeScript SDK is not installed (scripts/install-test-backends)")
    args, marker, _ = savedCatalog(start, home)
    gateway: RunningGateway = start(*args)

    def startUpThenCall() -> tuple[dict[str, Any], bool, str]:
        client = subprocess.Popen(
            ["node", str(TS_CLIENT), gateway.url("marked")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "TS_SDK_DIR": str(sdk)},
            text=True,
        )
        assert client.stdin is not None and client.stdout is not None
        seen = json.loads(client.stdout.readline())
        started = marker.exists()
        client.stdin.write("call\n")
        client.stdin.flush()
        echo = json.loads(client.stdout.readline())["echo"]
        assert client.wait(timeout=20) == 0
        return seen, started, echo

    fromCatalog, started, echo = startUpThenCall()
    assert not started, "the TypeScript client's start-up started the child"
    assert echo == "from ts" and marker.exists()
    fromChild, _, _ = startUpThenCall()  # the child runs now: its own answers
    assert fromCatalog == fromChild
    assert [t["name"] for t in fromCatalog["tools"]] == ["echo", "add"]


def test_a_child_that_lists_differently_tells_the_sessions_answered_from_the_catalog(
    start: Any, home: Path
) -> None:
    args, marker, _ = savedCatalog(start, home)
    (home / "more-tools").write_text("later\n")  # the server changed, its entry did not
    gateway: RunningGateway = start(*args)
    heard: list[str] = []

    async def hear(message: Any) -> None:
        method = getattr(message, "method", None)
        if isinstance(method, str) and method.startswith("notifications/"):
            heard.append(method)

    async def session() -> tuple[list[str], list[str]]:
        async with Client(gateway.url("marked"), mode="legacy", message_handler=hear) as client:
            before = [t.name for t in (await client.list_tools()).tools]
            assert not marker.exists()
            await client.call_tool("echo", {"message": "start it"})
            with anyio.fail_after(10):
                while "notifications/tools/list_changed" not in heard:
                    await anyio.sleep(0.05)
            after = [t.name for t in (await client.list_tools()).tools]
            return before, after

    before, after = anyio.run(session)
    assert (before, after) == (["echo", "add"], ["echo", "add", "later"])
    assert heard.count("notifications/tools/list_changed") == 1
    assert "notifications/prompts/list_changed" not in heard


async def toolsAtStartUp(gateway: RunningGateway, marker: Path) -> tuple[bool, list[str]]:
    """Whether a client's start-up started the child, and the tools it listed."""
    async with Client(gateway.url("marked"), mode="legacy") as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        return marker.exists(), tools


def test_a_server_whose_program_changed_lists_afresh_at_the_next_gateway(
    start: Any, home: Path
) -> None:
    """The developer's own server gained a tool while no gateway ran, its
    entry unchanged: the first start-up starts it, and lists the new tool."""
    program = developersServer(home)
    args, marker, _ = savedCatalog(start, home, program)
    (home / "more-tools").write_text("beta\n")
    program.write_text(program.read_text() + "# beta\n")
    gateway: RunningGateway = start(*args)
    started, tools = anyio.run(toolsAtStartUp, gateway, marker)
    assert (started, tools) == (True, ["echo", "add", "beta"])
    assert f"catalogs: {program} changed since server marked was listed" in gateway.text()


def test_a_restarted_server_lists_afresh_at_the_next_start_up(start: Any, home: Path) -> None:
    """`mcpgateway servers restart` is how a user takes a server's new
    code: the next client's start-up starts a fresh child, whose list it gets."""
    config, marker = markedConfig(home)
    gateway: RunningGateway = start("--config", str(config), "--sandbox", "off")
    assert anyio.run(toolsAtStartUp, gateway, marker) == (True, ["echo", "add"])
    assert waitFor(lambda: catalogSaved(home), timeout=10), "the catalog was not saved"
    (home / "more-tools").write_text("gamma\n")
    status, answer = gateway.api("POST", "/servers/marked/restart")
    assert status == 200, answer
    marker.unlink()
    assert anyio.run(toolsAtStartUp, gateway, marker) == (True, ["echo", "add", "gamma"])
