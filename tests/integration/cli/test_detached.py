"""The paths only a real user takes: the gateway started detached
(C{mcpgateway start} without C{--foreground}, and C{twistd} without C{-n}),
serving an C{npx} server from a fresh HOME.

Npx resolution was started before twistd daemonized, so the
daemon never heard it finish and every request to an npx server hung.
Children inherited the gateway's own secrets.
Warnings logged before the log file opened never reached it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import REPO
from tests.support.integration.detached import (
    daemonized,
    environment,
    freePort,
    gatewayPids,
    runCli,
)
from tests.support.mcpclient import initializeMessage, request

pytestmark = pytest.mark.integration
VERSION = "2026.8.31"  # the version scripts/install-test-backends puts in the npm cache
NPX_ENTRY = {
    "type": "stdio",
    "command": "npx",
    "args": ["-y", f"@modelcontextprotocol/server-everything@{VERSION}", "stdio"],
    "env": {},
    "share": "global",
}


async def echo(url: str, message: str) -> str:
    async with Client(url, mode="legacy") as client:
        result = await client.call_tool("echo", {"message": message})
        return str(result.content[0].text)  # type: ignore[union-attr]


def callEcho(url: str, message: str, timeout: float = 120) -> str:
    async def bounded() -> str:
        with anyio.fail_after(timeout):
            return await echo(url, message)

    return anyio.run(bounded)


@pytest.fixture
def npx() -> str:
    import shutil

    found = shutil.which("npx")
    if found is None:
        pytest.skip("npx not found")
    return found


@pytest.fixture
def detachedHome(tmp_path: Path, everything: list[str]) -> Iterator[Path]:
    """A fresh HOME; any gateway left behind by a failed test is killed."""
    del everything  # only makes sure the npm cache holds server-everything
    yield tmp_path
    for pid in gatewayPids(tmp_path):
        os.kill(pid, signal.SIGKILL)


def test_mcpgateway_start_detached_serves_an_npx_server(detachedHome: Path, npx: str) -> None:
    home = detachedHome
    stateDir = home / "gw-state"
    stateDir.mkdir()
    (stateDir / "classification.json").write_text('{"everything": {"mode": "bogus"}}')
    records = home / "records"  # where the confined envdump may write
    records.mkdir()
    (home / ".claude.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "everything": NPX_ENTRY,
                    "envdump": {
                        "type": "stdio",
                        "command": sys.executable,
                        "args": [
                            str(REPO / "tests" / "fixtures" / "env_server.py"),
                            str(records / "env.json"),
                        ],
                        "env": {},
                        "prewarm": True,
                        "sandbox": {"filesystem": {"allowWrite": [f"{records}/"]}},
                    },
                }
            },
            indent=2,
        )
    )
    env = environment(
        home,
        MCPGATEWAY_API_TOKEN="top-secret-token",
        NOTIFY_SOCKET="/nonexistent/notify",
        LISTEN_FDS="3",
    )
    port = freePort()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return runCli(home, *args, stateDir=stateDir, env=env, timeout=120)

    started = cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        url = json.loads((home / ".claude.json").read_text())["mcpServers"]["everything"]["url"]
        assert callEcho(url, "detached npx") == "Echo: detached npx"
        assert (stateDir / "npx-cache.json").is_file()
        health = json.loads(cli("status", "--json").stdout)["health"]
        assert health["servers"]["everything"]["resolution"]["state"] == "resolved"

        # The prewarmed child's environment holds none of the gateway's own, only the
        # marker the warden knows its descendants by (docs/guide/lifecycle.md).
        deadline = time.monotonic() + 30
        while not (records / "env.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        childEnv = json.loads((records / "env.json").read_text())
        leaked = {
            k
            for k in childEnv
            if (k.startswith(("MCPGATEWAY_", "LISTEN_")) or k == "NOTIFY_SOCKET")
            and k != "MCPGATEWAY_CHILD_OF"
        }
        assert not leaked, leaked
        assert re.fullmatch(r"\d+-[0-9a-f]+", childEnv["MCPGATEWAY_CHILD_OF"]), childEnv
        assert "top-secret-token" not in json.dumps(childEnv)
        assert childEnv["HOME"] == str(home)
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stderr + stopped.stdout
    # 10.8: a warning logged while the service tree was built reaches gateway.log.
    log = (stateDir / "gateway.log").read_text()
    assert "'everything'.mode" in log, log[-3000:]


def test_twistd_without_n_serves_an_npx_server(detachedHome: Path, npx: str) -> None:
    home = detachedHome
    stateDir = home / "st"
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"everything": NPX_ENTRY}}))
    port = freePort()
    with daemonized(home, port, str(port), config, stateDir, environment(home)):
        url = f"http://127.0.0.1:{port}/everything/mcp"
        assert callEcho(url, "twistd daemon") == "Echo: twistd daemon"
        assert (stateDir / "npx-cache.json").is_file()


def test_request_waits_for_resolution_with_its_timeout_then_errors(
    detachedHome: Path, npx: str
) -> None:
    """A resolution that cannot finish within the request timeout answers the
    request with a JSON-RPC error naming the server and what it waits for."""
    home = detachedHome
    slowNpm = home / "bin" / "npm"
    slowNpm.parent.mkdir()
    slowNpm.write_text("#!/bin/sh\nexec sleep 30\n")
    slowNpm.chmod(0o755)
    config = home / "servers.json"
    config.write_text(
        json.dumps({"mcpServers": {"everything": {**NPX_ENTRY, "requestTimeout": 1500}}})
    )
    env = environment(home, PATH=f"{slowNpm.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    from tests.integration.gateway import RunningGateway

    gateway = RunningGateway(
        ["--config", str(config), "--state-dir", str(home / "st")], home, env=env
    )
    try:
        started = time.monotonic()
        answer: Any = request(
            gateway.url("everything"), "POST", initializeMessage(1, name="t"), timeout=20
        ).json()
        waited = time.monotonic() - started
        assert 1.0 <= waited < 10, waited
        assert answer["error"]["code"] == -32000, answer
        assert "'everything' is not ready" in answer["error"]["message"], answer
        assert "npx @modelcontextprotocol/server-everything" in answer["error"]["message"]
        assert gateway.health()["servers"]["everything"]["resolution"]["state"] == "pending"
    finally:
        gateway.stop()
