"""Nothing is orphaned: every child, and every process a child starts, ends
with the gateway however the gateway ends (SIGKILL, SIGTERM, C{mcpgateway
stop}), confined or not, through C{npx} or not; a gateway started after a
crash stops what its predecessor left; and clients killed during calls
leave no session's child behind after the reaper's next sweep."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import REPO, RunningGateway, waitFor, writeConfig
from tests.support import mcpclient

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc"),
]
FORKING = REPO / "tests" / "fixtures" / "forking_server.py"
CALLING = REPO / "tests" / "fixtures" / "calling_client.py"
EVERYTHING_VERSION = "2026.8.31"  # what scripts/install-test-backends puts in the npm cache


def marked(token: str) -> list[int]:
    """Live processes whose command line or environment holds C{token}."""
    found = []
    needle = token.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                text = f.read()
            with open(f"/proc/{entry}/environ", "rb") as f:
                text += f.read()
        except OSError:
            continue
        if needle in text and pidAlive(int(entry)):
            found.append(int(entry))
    return found


def childrenOf(pid: int) -> list[int]:
    """The live children of C{pid}."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
        except OSError:
            continue
    return [p for p in found if pidAlive(p)]


def commandOf(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def forkingGateway(start: Any, home: Path, sandbox: str) -> tuple[RunningGateway, str]:
    """A gateway whose one server starts a grandchild and a daemon; it has
    answered a call, so both are running. Its token names them."""
    token = uuid.uuid4().hex
    config = writeConfig(
        home / "servers.json",
        {
            "forking": {
                "command": sys.executable,
                "args": [str(FORKING), token, "--ignore-term"],
                "env": {"ORPHAN_TOKEN": token},
            }
        },
    )
    # --adopt-grace 0: a killed gateway's warden stops the children at once
    gateway: RunningGateway = start(
        "--config", str(config), "--sandbox", sandbox, "--adopt-grace", "0"
    )

    async def use() -> None:
        async with Client(gateway.url("forking"), mode="legacy") as client:
            await client.call_tool("echo", {"message": "hi"})

    anyio.run(use)
    assert waitFor(lambda: len(marked(f"daemon-{token}")) == 1), marked(token)
    assert len(marked(f"grandchild-{token}")) == 1
    return gateway, token


def stopWithCli(gateway: RunningGateway) -> None:
    """C{mcpgateway stop} on the gateway's state directory."""
    stopped = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpgateway.cli",
            "stop",
            "--state-dir",
            str(gateway.home / "state"),
        ],
        env={**os.environ, "HOME": str(gateway.home), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


ENDINGS = {
    "sigkill": lambda gateway: gateway.process.kill(),
    "sigterm": lambda gateway: gateway.process.send_signal(signal.SIGTERM),
    "stop": stopWithCli,
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("sandbox", ["auto", "off"])
def test_children_and_grandchildren_end_with_the_gateway(
    start: Any, home: Path, sandbox: str, ending: str
) -> None:
    """A child that ignores stdin EOF and SIGTERM, its grandchild in its
    process group and a daemon that started a session of its own: none
    outlives the gateway, and no successor is needed for it."""
    gateway, token = forkingGateway(start, home, sandbox)
    ENDINGS[ending](gateway)
    gateway.process.wait(timeout=30)
    assert waitFor(lambda: marked(token) == [], timeout=8), [commandOf(p) for p in marked(token)]


@pytest.mark.parametrize("sandbox", ["auto", "off"])
def test_npx_server_and_its_node_end_with_a_sigkilled_gateway(
    start: Any, home: Path, sandbox: str, everything: list[str]
) -> None:
    """C{npx} run as configured (C{--no-resolve}): the gateway's child is
    npm's, the server's node a grandchild of it. The child is shared, so
    that it still runs once the client's session has ended (server-everything's
    own default is a child per session, which that end stops)."""
    if shutil.which("npx") is None:
        pytest.skip("npx not found")
    token = uuid.uuid4().hex
    config = writeConfig(
        home / "servers.json",
        {
            "everything": {
                "command": "npx",
                "args": ["-y", f"@modelcontextprotocol/server-everything@{EVERYTHING_VERSION}"],
                "env": {"ORPHAN_TOKEN": token},
                "share": "global",
            }
        },
    )
    gateway: RunningGateway = start(
        "--config",
        str(config),
        "--sandbox",
        sandbox,
        "--no-resolve",
        "--start-timeout",
        "60",
        "--adopt-grace",
        "0",
    )

    async def use() -> str:
        async with Client(gateway.url("everything"), mode="legacy") as client:
            result = await client.call_tool("echo", {"message": "npx"})
            return result.content[0].text  # type: ignore[union-attr]

    assert anyio.run(use) == "Echo: npx"
    tree = marked(token)
    assert any("npm" in commandOf(p) or "npx" in commandOf(p) for p in tree), tree
    assert any("server-everything" in commandOf(p) for p in tree), tree
    gateway.process.kill()
    gateway.process.wait()
    assert waitFor(lambda: marked(token) == [], timeout=8), [commandOf(p) for p in marked(token)]


def test_a_successor_stops_what_a_crashed_gateway_and_its_warden_left(
    start: Any, home: Path
) -> None:
    """When the warden is killed with its gateway (a crash of both), the
    next gateway on the state directory stops the recorded child and its
    process group, and says so."""
    first, token = forkingGateway(start, home, "off")
    [warden] = [p for p in childrenOf(first.process.pid) if "wardenrun" in commandOf(p)]
    os.kill(warden, signal.SIGKILL)
    first.process.kill()
    first.process.wait()
    [child] = [p for p in marked(token) if "forking_server.py" in commandOf(p)]
    time.sleep(0.5)
    assert pidAlive(child) and marked(f"grandchild-{token}"), "nothing left to find"
    second: RunningGateway = start("--config", str(home / "servers.json"), "--sandbox", "off")
    assert waitFor(lambda: not pidAlive(child), timeout=8), "the orphan survived the next start"
    assert waitFor(lambda: not marked(f"grandchild-{token}"), timeout=8)
    assert f"child pid {child} outlived a previous gateway" in second.text()
    for pid in marked(token):  # what left the child's session: only the warden finds it
        os.kill(pid, signal.SIGKILL)


def sessions(gateway: RunningGateway) -> list[dict[str, Any]]:
    """C{GET /sessions}."""
    return mcpclient.listSessions(gateway.port)


def sessionChildren(gateway: RunningGateway) -> list[int]:
    """The gateway's children that are servers (not its warden)."""
    return [p for p in childrenOf(gateway.process.pid) if "wardenrun" not in commandOf(p)]


def killClientsDuringCalls(url: str, count: int, wave: int, seed: int) -> None:
    """Start C{count} client processes, C{wave} at a time, and SIGKILL each
    at a random moment of its call."""
    chooser = random.Random(seed)
    environ = {**os.environ, "PYTHONPATH": str(REPO)}
    for first in range(0, count, wave):
        clients = [
            subprocess.Popen(
                [sys.executable, "-I", str(CALLING), url, "30"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=environ,
            )
            for _ in range(min(wave, count - first))
        ]
        for client in clients:
            assert client.stdout is not None
            assert client.stdout.readline().strip() == b"calling"
        time.sleep(chooser.uniform(0.0, 0.3))
        chooser.shuffle(clients)
        for client in clients:
            time.sleep(chooser.uniform(0.0, 0.02))
            client.kill()
        for client in clients:
            client.wait()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_clients_killed_during_calls_leave_no_session_child(start: Any, home: Path) -> None:
    """100 client processes, each with a session on a per-session server,
    killed at random during a call: after the reaper's next sweep no
    session and no session's child is left."""
    config = writeConfig(
        home / "servers.json",
        {
            "solo": {
                "command": sys.executable,
                "args": ["-m", "mcpgateway.demo"],
                "share": "session",
            }
        },
    )
    gateway: RunningGateway = start(
        "--config", str(config), "--sandbox", "off", "--reap-interval", "1"
    )
    killClientsDuringCalls(gateway.url("solo"), count=100, wave=10, seed=55)
    assert waitFor(lambda: sessions(gateway) == [], timeout=15), sessions(gateway)
    assert waitFor(lambda: sessionChildren(gateway) == [], timeout=15), [
        commandOf(p) for p in sessionChildren(gateway)
    ]
    assert "dead client(s)" in gateway.text()
