"""The management API and its CLI against the real gateway: a server added
with C{mcpgateway servers add} is served at once (the MCP SDK calls its
tool), C{servers disable} turns it off, a gateway restart keeps both, and
C{mcpgateway logs} shows its lifecycle; with C{--api-token}, the API wants
the token and the CLI sends C{$MCPGATEWAY_API_TOKEN}."""

from __future__ import annotations

import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import REPO, RunningGateway, twistdCommand, writeConfig

pytestmark = pytest.mark.integration

SECRET = "hush-4711-not-to-be-shown"
TOKEN = "integration-token-0123456789"


def cli(
    home: Path, *args: str, token: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """C{python -m mcpgateway.cli --state-dir <the gateway's> ARGS}."""
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", "--state-dir", str(home / "state"), *args],
        env=cliEnv(home, token),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cliEnv(home: Path, token: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    for name in ("MCPGATEWAY_HOME", "MCPGATEWAY_API_TOKEN", "http_proxy", "HTTP_PROXY"):
        env.pop(name, None)
    if token is not None:
        env["MCPGATEWAY_API_TOKEN"] = token
    return env


def get(
    gateway: RunningGateway, path: str, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{gateway.port}{path}", headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def requireApi(gateway: RunningGateway) -> None:
    status, body = get(gateway, "/api/v1/health")
    if status == 404 and isinstance(body, dict) and body.get("error") == "not found":
        pytest.skip("needs /api/v1 mounted")


def tokenOptionExists() -> bool:
    usage = subprocess.run(
        [*twistdCommand()[:3], "mcpgateway", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return "--api-token" in usage.stdout


async def echo(url: str, message: str) -> str:
    async with Client(url, mode="legacy") as client:
        result = await client.call_tool("echo", {"message": message})
        return str(result.content[0].text)  # type: ignore[union-attr]


async def failure(url: str) -> str:
    try:
        async with Client(url, mode="legacy") as client:
            await client.call_tool("echo", {"message": "should not get through"})
            return "connected"
    except Exception as e:  # the SDK raises MCPError for the JSON-RPC error
        return messages(e)


def messages(error: BaseException) -> str:
    inner = getattr(error, "exceptions", None)
    if inner:
        return " | ".join(messages(e) for e in inner)
    return str(error)


def demoConfig(home: Path) -> Path:
    return writeConfig(
        home / "config.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )


def test_add_disable_restart_and_logs_through_the_cli(start: Any, home: Path) -> None:
    config = demoConfig(home)
    gateway: RunningGateway = start("--config", str(config))
    requireApi(gateway)

    added = cli(
        home,
        "servers",
        "add",
        "--env",
        f"DEMO_SECRET={SECRET}",
        "demo2",
        "--",
        sys.executable,
        "-m",
        "mcpgateway.demo",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout == f"added demo2 (share: global): {gateway.url('demo2')}\n"
    managed = home / "state" / "servers.json"
    assert stat.S_IMODE(managed.stat().st_mode) == 0o600
    assert json.loads(managed.read_text())["mcpServers"]["demo2"]["env"] == {"DEMO_SECRET": SECRET}

    assert anyio.run(echo, gateway.url("demo2"), "hello demo2") == "hello demo2"

    listed = cli(home, "servers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    servers = {s["name"]: s for s in json.loads(listed.stdout)["servers"]}
    assert servers["demo2"]["origin"] == "api" and servers["demo"]["origin"] == "config"
    assert servers["demo2"]["state"] == "running" and servers["demo2"]["children"] == 1
    table = cli(home, "servers", "list").stdout
    assert table.splitlines()[0].split() == [
        "NAME",
        "STATE",
        "SHARE",
        "CHILDREN",
        "SESSIONS",
        "REQUESTS",
        "RESTARTS",
        "FROM",
    ]
    status, detail = get(gateway, "/api/v1/servers/demo2")
    assert status == 200 and detail["config"]["env"] == {"DEMO_SECRET": "***"}

    again = cli(home, "servers", "add", "demo2", "--", sys.executable)
    assert (again.returncode, again.stderr) == (
        1,
        "mcpgateway: name: a server named 'demo2' exists\n",
    )
    missing = cli(home, "servers", "add", "ghost", "--", "no-such-command-4711")
    assert missing.returncode == 1
    assert missing.stderr == ("mcpgateway: command: 'no-such-command-4711' was not found on PATH\n")
    blocked = cli(
        home, "servers", "add", "--env", "LD_PRELOAD=/tmp/x.so", "evil", "--", sys.executable
    )
    assert blocked.stderr == "mcpgateway: env: key(s) not allowed: LD_PRELOAD\n"

    logs = cli(home, "logs", "demo2", "--no-follow")
    assert logs.returncode == 0, logs.stderr
    kinds = [line.split()[1] for line in logs.stdout.splitlines()]
    assert kinds[:2] == ["started", "initialized"]

    disabled = cli(home, "servers", "disable", "demo2")
    assert disabled.returncode == 0, disabled.stderr
    assert "disabled" in anyio.run(failure, gateway.url("demo2"))
    assert anyio.run(echo, gateway.url("demo"), "demo still works") == "demo still works"
    assert "exited" in cli(home, "logs", "demo2", "--no-follow").stdout

    # A restart of the gateway keeps the server, and keeps it disabled.
    gateway.stop()
    gateway = start("--config", str(config))
    servers = {
        s["name"]: s for s in json.loads(cli(home, "servers", "list", "--json").stdout)["servers"]
    }
    assert servers["demo2"]["state"] == "disabled"
    assert "disabled" in anyio.run(failure, gateway.url("demo2"))
    enabled = cli(home, "servers", "enable", "demo2")
    assert enabled.returncode == 0, enabled.stderr
    assert anyio.run(echo, gateway.url("demo2"), "back again") == "back again"

    restarted = cli(home, "servers", "restart", "demo2")
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.startswith("restarted demo2: stopped pid ")
    assert anyio.run(echo, gateway.url("demo2"), "fresh child") == "fresh child"

    removed = cli(home, "servers", "remove", "demo2")
    assert (removed.returncode, removed.stdout) == (0, "removed demo2\n")
    refused = cli(home, "servers", "remove", "demo")
    assert refused.returncode == 1 and "remove it there, or disable it here" in refused.stderr
    assert "demo2" not in json.loads(managed.read_text())["mcpServers"]
    assert SECRET not in gateway.text()


def ignoreSigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_logs_follow_live_events_until_ctrl_c(start: Any, home: Path) -> None:
    gateway: RunningGateway = start("--config", str(demoConfig(home)))
    requireApi(gateway)
    assert anyio.run(echo, gateway.url("demo"), "warm up") == "warm up"
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mcpgateway.cli",
            "--state-dir",
            str(home / "state"),
            "logs",
            "demo",
            "--json",
        ],
        # A follower that does not stop dumps its threads on SIGABRT (below).
        env={**cliEnv(home), "PYTHONFAULTHANDLER": "1"},
        # Started as a shell starts a background job (SIGINT ignored: Python
        # then installs no KeyboardInterrupt handler); Ctrl-C must still stop it.
        preexec_fn=ignoreSigint,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert follower.stdout is not None

    def pump() -> None:
        for line in follower.stdout or []:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert json.loads(lines.get(timeout=20))["kind"] == "started"
        assert cli(home, "servers", "restart", "demo").returncode == 0
        seen: set[str] = set()
        while not {"restart", "exited"} <= seen:
            seen.add(json.loads(lines.get(timeout=20))["kind"])
    finally:
        follower.send_signal(signal.SIGINT)
        try:
            _, err = follower.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            follower.send_signal(signal.SIGABRT)  # faulthandler: where it was stuck
            _, err = follower.communicate(timeout=20)
            raise AssertionError(f"Ctrl-C did not stop mcpgateway logs in 20 s:\n{err}") from None
    assert follower.returncode == 0, err
    assert "Traceback" not in err


def test_api_routes_answer_json(start: Any, home: Path) -> None:
    gateway: RunningGateway = start("--config", str(demoConfig(home)))
    requireApi(gateway)
    status, health = get(gateway, "/api/v1/health")
    assert status == 200 and health["status"] == "ok" and "demo" in health["servers"]
    assert get(gateway, "/api/v1/servers/nope") == (404, {"error": "no server named 'nope'"})
    assert get(gateway, "/api/v1/servers", {"Origin": "https://evil.example"})[0] == 403
    assert anyio.run(echo, gateway.url("demo"), "for tools") == "for tools"
    status, tools = get(gateway, "/api/v1/tools")
    assert status == 200
    assert {"demo__echo", "demo__add"} <= {t["name"] for t in tools["tools"]}


@pytest.mark.skipif(not tokenOptionExists(), reason="twistd mcpgateway has no --api-token yet")
def test_with_a_token_the_api_and_the_cli_need_it(start: Any, home: Path) -> None:
    gateway: RunningGateway = start("--config", str(demoConfig(home)), "--api-token", TOKEN)
    status, body = get(gateway, "/api/v1/health")
    assert status == 401 and "Bearer" in body["error"]
    assert get(gateway, "/api/v1/health", {"Authorization": "Bearer wrong"})[0] == 401
    assert get(gateway, "/api/v1/health", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    without = cli(home, "servers", "list")
    assert without.returncode == 1
    assert "MCPGATEWAY_API_TOKEN is not set" in without.stderr
    listed = cli(home, "servers", "list", "--json", token=TOKEN)
    assert listed.returncode == 0, listed.stderr
    assert [s["name"] for s in json.loads(listed.stdout)["servers"]] == ["demo"]
    assert TOKEN not in gateway.text()
