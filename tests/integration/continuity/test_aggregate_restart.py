"""an aggregate session outlives the gateway
process. One Python SDK session on C{/mcp} calls a shared and a stateful
server's tools through the namespace; the gateway is restarted under it
(C{mcpgateway restart}: the socket handed over to a successor; or SIGTERM
and a new gateway on the same state directory and port); the SAME client
session calls both again and gets its answers: same session id, no second
C{initialize}, no session opened on the new gateway.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import anyio
import mcp.types as types
import pytest
from mcp import Client

from tests.integration.gateway import REPO, RunningGateway, freePort, waitFor, writeConfig

pytestmark = pytest.mark.integration

DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
HANDOVER = 15.0
"""Seconds within which the old process of C{mcpgateway restart} exits."""


class Restartable:
    """A gateway on a fixed port and state directory, restarted by
    C{mcpgateway restart} (started detached with C{mcpgateway start}) or by
    SIGTERM and a new C{twist} on the same port."""

    def __init__(self, home: Path, how: str) -> None:
        config = writeConfig(
            home / "servers.json", {"shared": DEMO, "solo": {**DEMO, "mode": "stateful"}}
        )
        self.home, self.how, self.port = home, how, freePort()
        self.gateways: list[RunningGateway] = []
        self.logFile = home / "state" / "gateway.log"
        self.logFrom = 0
        self.args = ["--config", str(config), "--port", f"tcp:{self.port}:interface=127.0.0.1"]
        if how == "restart":
            started = self.cli(
                "start", "--port", str(self.port), "--config", str(config), "--no-rewrite"
            )
            assert started.returncode == 0, started.stdout + started.stderr
        else:
            self.gateways.append(RunningGateway(self.args, home))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "HOME": str(self.home),
            "MCPGATEWAY_HOME": str(self.home / "state"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        return subprocess.run(
            [sys.executable, "-m", "mcpgateway.cli", *args],
            env=env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=90,
        )

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def sessions(self) -> dict[str, str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/sessions", timeout=5) as r:
            return {s["id"]: s["server"] for s in json.loads(r.read())["sessions"]}

    def log(self) -> str:
        """What the (newest) gateway logged since the restart."""
        if self.how != "restart":
            return self.gateways[-1].text()
        with self.logFile.open("rb") as f:
            f.seek(self.logFrom)
            return f.read().decode("utf-8", "replace")

    def restart(self, sessionIds: set[str]) -> None:
        saved = self.home / "state" / "sessions.json"

        def allSaved() -> bool:
            try:
                records = json.loads(saved.read_text())["sessions"]
            except (OSError, ValueError, KeyError):
                return False
            return sessionIds <= {r["id"] for r in records}

        assert waitFor(allSaved, timeout=10), "the aggregate session was not saved"
        if self.how == "restart":
            old = json.loads((self.home / "state" / "state.json").read_text())["pid"]
            self.logFrom = self.logFile.stat().st_size
            restarted = self.cli("restart")
            assert restarted.returncode == 0, restarted.stdout + restarted.stderr
            assert waitFor(lambda: not Path(f"/proc/{old}").exists(), timeout=HANDOVER), (
                f"the old gateway (pid {old}) still runs {HANDOVER:g} s after the restart"
            )
            return
        old = self.gateways[-1]
        old.process.send_signal(signal.SIGTERM)
        old.process.wait(20)
        self.gateways.append(RunningGateway(self.args, self.home))

    def stop(self) -> None:
        if self.how == "restart":
            self.cli("stop")
        for gateway in self.gateways:
            gateway.stop()


@pytest.fixture
def gateway(home: Path, how: str) -> Iterator[Restartable]:
    running = Restartable(home, how)
    yield running
    running.stop()


def textOf(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent), result
    return first.text


@pytest.mark.parametrize("how", ["restart", "sigterm"])
def test_an_aggregate_session_calls_again_after_a_restart(gateway: Restartable) -> None:
    async def main() -> dict[str, object]:
        out: dict[str, object] = {}
        async with Client(gateway.url(), mode="legacy") as client:
            for server in ("shared", "solo"):
                said = textOf(await client.call_tool(f"{server}__echo", {"message": "before"}))
                assert said == "before", said
            before = await anyio.to_thread.run_sync(gateway.sessions)
            out["before"] = before
            await anyio.to_thread.run_sync(gateway.restart, set(before))
            out["after"] = {
                server: textOf(await client.call_tool(f"{server}__echo", {"message": "after"}))
                for server in ("shared", "solo")
            }
            out["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
            out["sessions"] = await anyio.to_thread.run_sync(gateway.sessions)
            out["log"] = await anyio.to_thread.run_sync(gateway.log)
        return out

    out = anyio.run(main)
    before = out["before"]
    assert isinstance(before, dict) and list(before.values()) == ["/mcp"], before
    assert out["after"] == {"shared": "after", "solo": "after"}, out
    tools = out["tools"]
    assert isinstance(tools, list) and {"shared__echo", "solo__echo"} <= set(tools), tools
    # The same session, restored: no client session opened on the new gateway
    # (the solo member's own child replays its own initialize; that is not one).
    assert out["sessions"] == before, out["sessions"]
    log = str(out["log"])
    assert "opened on the aggregate endpoint" not in log, log
