"""Session lifecycle end to end: client pids found from the socket, the
reaper ending a dead client's sessions, DELETE endpoints, clean stop, and
orphans of a SIGKILLed gateway stopped by the next one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError

from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import REPO, RunningGateway, waitFor, writeConfig
from tests.integration.sandboxkit import childPids, commandOf
from tests.support import mcpclient

pytestmark = pytest.mark.integration
STUBBORN = REPO / "tests" / "fixtures" / "stubborn_server.py"

HOLDER = textwrap.dedent("""
    import anyio, os, sys
    from mcp import Client
    async def main():
        async with Client(sys.argv[1], mode="legacy") as client:
            await client.call_tool("echo", {"message": "hello"})
            print("ready", flush=True)
            await anyio.sleep(120)
    anyio.run(main)
""")


def holdSession(url: str) -> subprocess.Popen[bytes]:
    """A client process that opens a session and keeps it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def sessions(gateway: RunningGateway) -> list[dict[str, Any]]:
    return mcpclient.listSessions(gateway.port)


def delete(gateway: RunningGateway, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{gateway.port}{path}", method="DELETE")
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def stateful(start: Any, home: Path) -> RunningGateway:
    config = writeConfig(
        home / "servers.json",
        {
            "solo": {
                "command": sys.executable,
                "args": ["-m", "mcpgateway.demo"],
                "mode": "stateful",
            }
        },
    )
    return start("--config", str(config), "--reap-interval", "1")  # type: ignore[no-any-return]


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_dead_client_loses_its_stateful_child_within_two_reap_intervals(
    stateful: RunningGateway,
) -> None:
    holder = holdSession(stateful.url("solo"))
    try:
        assert waitFor(lambda: [s["clientPid"] for s in sessions(stateful)] == [holder.pid])
        [session] = sessions(stateful)
        child = session["childPid"]
        assert child and pidAlive(child) and session["mode"] == "stateful"
    finally:
        holder.kill()
        holder.wait()
    # --reap-interval 1: the first sweep that finds the session quiet since the one
    # before ends it; plus the child's stop sequence (stdin EOF is enough for the demo).
    assert waitFor(lambda: sessions(stateful) == [], timeout=5)
    assert waitFor(lambda: not pidAlive(child), timeout=3)
    assert "reaper phase 2: 1 dead client(s), 1 session(s) ended" in stateful.text()


def test_delete_by_pid_and_by_session(stateful: RunningGateway) -> None:
    first, second = holdSession(stateful.url("solo")), holdSession(stateful.url("solo"))
    try:
        assert waitFor(
            lambda: len([s for s in sessions(stateful) if s["clientPid"]]) == 2, timeout=30
        ), sessions(stateful)
        byPid = {s["clientPid"]: s for s in sessions(stateful)}
        assert delete(stateful, "/sessions/by-pid/abc")[0] == 400
        assert delete(stateful, "/sessions/by-pid/999999999")[0] == 404
        status, body = delete(stateful, f"/sessions/by-pid/{first.pid}")
        assert status == 200
        assert body["ended"] == {
            "sessions": [byPid[first.pid]["id"]],
            "childPids": [byPid[first.pid]["childPid"]],
        }
        assert waitFor(lambda: not pidAlive(byPid[first.pid]["childPid"]), timeout=5)
        status, body = delete(stateful, f"/sessions/{byPid[second.pid]['id']}")
        assert status == 200 and body["ended"]["sessions"] == [byPid[second.pid]["id"]]
        assert delete(stateful, f"/sessions/{byPid[second.pid]['id']}")[0] == 404
        assert sessions(stateful) == []
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait()


def test_sigterm_answers_in_flight_requests_and_leaves_no_child(start: Any) -> None:
    gateway: RunningGateway = start()
    errors: list[str] = []

    async def main() -> None:
        async with Client(gateway.url("demo"), mode="legacy") as client:
            async with anyio.create_task_group() as group:

                async def slow() -> None:
                    try:
                        await client.call_tool("slow", {"seconds": 20, "steps": 4})
                    except MCPError as e:
                        errors.append(str(e))

                group.start_soon(slow)
                await anyio.to_thread.run_sync(
                    lambda: waitFor(lambda: gateway.health()["servers"]["demo"]["inFlight"] == 1)
                )
                child = gateway.health()["servers"]["demo"]["pids"][0]
                gateway.process.send_signal(signal.SIGTERM)
            assert not pidAlive(child) or await anyio.to_thread.run_sync(
                lambda: waitFor(lambda: not pidAlive(child), timeout=6)
            )

    anyio.run(main)
    assert errors and "shutting down" in errors[0]
    assert gateway.process.wait(timeout=10) in (0, -signal.SIGTERM)  # twist re-raises it


@pytest.mark.parametrize("ignoreTerm", [False, True], ids=["term", "kill"])
def test_children_of_a_sigkilled_gateway_are_stopped_by_the_next_one(
    start: Any, home: Path, ignoreTerm: bool
) -> None:
    """Unconfined children (C{--sandbox off}, or an entry's C{"sandbox":
    false}) outlive a gateway SIGKILLed together with its warden (which
    would stop them at once: tests/integration/children/test_orphans.py); the next
    gateway stops them."""
    args = [str(STUBBORN)] + (["--ignore-term"] if ignoreTerm else [])
    config = writeConfig(
        home / "servers.json", {"stubborn": {"command": sys.executable, "args": args}}
    )
    first: RunningGateway = start("--config", str(config), "--sandbox", "off")

    async def use() -> None:
        async with Client(first.url("stubborn"), mode="legacy") as client:
            await client.call_tool("echo", {"message": "hi"})

    anyio.run(use)
    child = first.health()["servers"]["stubborn"]["pids"][0]
    for warden in childPids(first.process.pid):
        if "wardenrun" in " ".join(commandOf(warden)):
            os.kill(warden, signal.SIGKILL)
    first.process.kill()
    first.process.wait()
    assert waitFor(lambda: pidAlive(child), timeout=1)  # it ignored stdin EOF: an orphan
    second: RunningGateway = start("--config", str(config), "--sandbox", "off")
    assert waitFor(lambda: not pidAlive(child), timeout=6), "orphan survived the next start"
    assert f"child pid {child} outlived a previous gateway" in second.text()


def test_confined_children_die_with_a_sigkilled_gateway(start: Any, home: Path) -> None:
    """Confined (the default), a child that ignores both stdin EOF and
    SIGTERM ends with its gateway when nothing keeps it for a next one
    (C{--adopt-grace 0}; a child kept for the grace is the subject of
    tests/integration/continuity/test_crash_children.py): the warden stops
    it, and its pid namespace with it."""
    config = writeConfig(
        home / "servers.json",
        {"stubborn": {"command": sys.executable, "args": [str(STUBBORN), "--ignore-term"]}},
    )
    gateway: RunningGateway = start("--config", str(config), "--adopt-grace", "0")

    async def use() -> None:
        async with Client(gateway.url("stubborn"), mode="legacy") as client:
            await client.call_tool("echo", {"message": "hi"})

    anyio.run(use)
    child = gateway.health()["servers"]["stubborn"]["pids"][0]
    tree = serverProcesses(child)
    assert any("stubborn_server" in " ".join(commandOf(pid)) for pid in tree), tree
    gateway.process.kill()
    gateway.process.wait()
    assert waitFor(lambda: not [pid for pid in [child, *tree] if pidAlive(pid)], timeout=30), [
        (pid, commandOf(pid)) for pid in [child, *tree] if pidAlive(pid)
    ]


def serverProcesses(child: int) -> list[int]:
    """The live processes of a server's child (its pid from the gateway):
    its process group, and (confined) what runs under its bubblewrap."""
    pids = {child, *groupMembers(child), *childPids(child)}
    return sorted(pid for pid in pids if pidAlive(pid) and commandOf(pid))


def groupMembers(pgid: int) -> list[int]:
    """Live pids whose process group is C{pgid}."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_a_shell_wrapper_leaves_nothing_behind(start: Any, home: Path) -> None:
    """The child leads its own process group and the whole group is signalled:
    `sh -c "server; sleep 600"` loses both the server and the sleep."""
    config = writeConfig(
        home / "servers.json",
        {
            "wrapped": {
                "command": "sh",
                "args": ["-c", f"{sys.executable} -m mcpgateway.demo; sleep 600"],
                "mode": "stateful",
            }
        },
    )
    gateway: RunningGateway = start("--config", str(config))
    holder = holdSession(gateway.url("wrapped"))
    try:
        [session] = sessions(gateway)
        child = session["childPid"]

        def shAndDemo() -> list[int]:
            return [p for p in serverProcesses(child) if "bwrap" not in commandOf(p)[0]]

        assert waitFor(lambda: len(shAndDemo()) >= 2)  # its group, or under its bubblewrap
        seen = serverProcesses(child)
        assert delete(gateway, f"/sessions/{session['id']}")[0] == 200
        # stdin EOF ends the demo; sh then runs `sleep 600`, which only TERM (at +2 s) ends
        # (confined, the end of bubblewrap's pid namespace ends it as well).
        assert waitFor(lambda: groupMembers(child) == [], timeout=8), groupMembers(child)
        assert waitFor(lambda: not [p for p in seen if pidAlive(p)], timeout=8), seen
    finally:
        holder.kill()
        holder.wait()
