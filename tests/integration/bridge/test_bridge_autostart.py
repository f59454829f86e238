"""The gateway a bridge starts, on the real path (C{mcpgateway bridge}, a
real detached gateway): on a fresh HOME whose C{~/.claude.json} and
C{~/.cursor/mcp.json} hold stdio servers, it serves the Claude config as it
is and leaves both files byte for byte as they were, and the bridge says on
stderr what it started; after the user's own adopting gateway was killed
(its adoption still in effect), the bridge's start carries that adoption on
and the adopted server is served."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import waitFor
from tests.support.integration.bridge import DEMO, echoed, freePort, pipedSession
from tests.support.integration.detached import environment

pytestmark = pytest.mark.integration


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", "--state-dir", str(home / "state"), *args],
        env=environment(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
    )


def bridgeSession(home: Path, port: int) -> tuple[int, list[dict[str, Any]], str]:
    """A one-shot session through C{mcpgateway bridge demo --port PORT}:
    initialize, call echo, stdin's end; its exit status, answers, stderr."""
    lines = pipedSession()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpgateway.cli",
            "--state-dir",
            str(home / "state"),
            "bridge",
            "demo",
            "--port",
            str(port),
        ],
        input=lines,
        env=environment(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=90,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    return done.returncode, answers, done.stderr


def state(home: Path) -> dict[str, Any]:
    return json.loads((home / "state" / "state.json").read_text())  # type: ignore[no-any-return]


def clientFiles(home: Path) -> tuple[Path, Path]:
    claude, cursor = home / ".claude.json", home / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    other = {"command": DEMO["command"], "args": [*DEMO["args"]], "env": {"WHO": "cursor"}}
    # Not as json.dumps would write them: a rewrite could not give the same bytes.
    demo, cursors = json.dumps(DEMO), json.dumps(other)
    claude.write_text('{ "mcpServers" : {"demo": ' + demo + '} ,"numStartups": 3 }\n')
    cursor.write_text('{"mcpServers":{\n  "other": ' + cursors + "}}")
    return claude, cursor


def test_the_bridges_gateway_leaves_the_clients_files_as_they_were(tmp_path: Path) -> None:
    claude, cursor = clientFiles(tmp_path)
    before = claude.read_bytes(), cursor.read_bytes()
    port = freePort()
    try:
        code, answers, stderr = bridgeSession(tmp_path, port)
        assert code == 0, stderr
        assert echoed(answers) == "through the bridge"
        assert (claude.read_bytes(), cursor.read_bytes()) == before
        running = state(tmp_path)
        assert (running["port"], running["rewriteConfig"]) == (port, False)
        said = [line for line in stderr.splitlines() if "started a gateway" in line]
        assert said == [
            f"mcpgateway bridge: started a gateway (pid {running['pid']}, port {port}) serving"
            " ~/.claude.json as it is; no client's config file was changed (to have the gateway"
            " adopt your clients' servers: `mcpgateway stop`, then `mcpgateway start`)"
        ]
        assert not (tmp_path / "state" / "config-backup.json").exists()
        assert not list((tmp_path / "state").glob("client-backups/*.json"))
    finally:
        stopped = cli(tmp_path, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert (claude.read_bytes(), cursor.read_bytes()) == before


def test_the_bridges_gateway_carries_on_an_adoption_left_in_effect(tmp_path: Path) -> None:
    """The user's adopting gateway was killed: the files still point at the
    gateway, so the bridge's one adopts them again, and serves them."""
    claude, _ = clientFiles(tmp_path)
    port = freePort()
    started = cli(tmp_path, "start", "--port", str(port))
    assert started.returncode == 0, started.stderr
    killed = state(tmp_path)["pid"]
    assert "127.0.0.1" in json.loads(claude.read_text())["mcpServers"]["demo"]["url"]
    os.kill(killed, signal.SIGKILL)
    assert waitFor(lambda: not pidAlive(killed), timeout=10)
    try:
        code, answers, stderr = bridgeSession(tmp_path, port)
        assert code == 0, stderr
        assert echoed(answers) == "through the bridge"
        running = state(tmp_path)
        assert running["pid"] != killed and running["rewriteConfig"] is True
        assert (
            f"mcpgateway bridge: started a gateway (pid {running['pid']}, port {port}) serving"
            " ~/.claude.json, keeping the adoption an earlier `mcpgateway start` left in place"
        ) in stderr
    finally:
        stopped = cli(tmp_path, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(claude.read_text())["mcpServers"]["demo"] == DEMO  # put back
