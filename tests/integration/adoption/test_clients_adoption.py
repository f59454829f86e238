"""Every client on a fresh machine: C{mcpgateway start} (the real CLI,
detached) adopts Cursor, VS Code, Codex and Claude Desktop files of a
synthetic HOME (no C{~/.claude.json}), each in its own shape; a call goes
through a rewritten URL; C{mcpgateway clients --json} lists them;
C{mcpgateway stop} gives every file back byte for byte; after a SIGKILL the
next C{start} restores first, then adopts again, and C{stop} gives the
originals back.

The machine with no Claude config (the bundled demo yields to the clients'
own C{demo}); every adapter, with project files and a Claude config, in one
run: L{tests.integration.adoption.test_clients_adoption_all}."""

from __future__ import annotations

import json
import os
import signal
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.clientconfigs import jsonc
from mcpgateway.ops.statedir import pidAlive
from tests.integration.gateway import waitFor
from tests.support.integration.cli_real import Cli, echoes, freePort

pytestmark = pytest.mark.integration

PY = json.dumps(sys.executable)

FILES = {
    ".cursor/mcp.json": (
        "{\n"
        '  "mcpServers": {\n'
        f'    "demo": {{"command": {PY}, "args": ["-m", "mcpgateway.demo"]}},\n'
        '    "remote": {"url": "https://example.com/mcp"}\n'
        "  }\n"
        "}\n"
    ),
    ".config/Code/User/mcp.json": (
        "{\n"
        "  // servers for Copilot agent mode\n"
        '  "servers": {\n'
        f'    "demo": {{"type": "stdio", "command": {PY}, "args": ["-m", "mcpgateway.demo"]}},\n'
        "  },\n"
        '  "inputs": []\n'
        "}\n"
    ),
    ".codex/config.toml": (
        "# Codex CLI settings\n"
        'model = "o4-mini"\n'
        "\n"
        "[mcp_servers.demo]  # the bundled demo\n"
        f"command = {PY}\n"
        'args = ["-m", "mcpgateway.demo"]\n'
        "tool_timeout_sec = 30\n"
    ),
    ".config/Claude/claude_desktop_config.json": json.dumps(
        {
            "mcpServers": {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
            "globalShortcut": "",
        },
        indent=2,
    ),
}


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path)
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    yield runner
    for pid in runner.gatewayPids():  # a failed test must not leave a daemon behind
        os.kill(pid, signal.SIGKILL)


def originals(home: Path) -> dict[str, bytes]:
    return {name: (home / name).read_bytes() for name in FILES}


def adopted(home: Path, port: int) -> bool:
    return all(
        f":{port}/" in (home / name).read_text() or "bridge" in (home / name).read_text()
        for name in FILES
    )


def checkShapes(home: Path, port: int, stateDir: Path) -> None:
    url = f"http://127.0.0.1:{port}/demo/mcp"
    cursor = json.loads((home / ".cursor/mcp.json").read_text())["mcpServers"]
    assert cursor == {"demo": {"url": url}, "remote": {"url": "https://example.com/mcp"}}
    vscode = (home / ".config/Code/User/mcp.json").read_text()
    assert "// servers for Copilot agent mode" in vscode
    assert jsonc.parse(vscode).value["servers"] == {"demo": {"type": "http", "url": url}}
    codex = (home / ".codex/config.toml").read_text()
    assert "# Codex CLI settings" in codex and 'model = "o4-mini"' in codex
    assert tomllib.loads(codex)["mcp_servers"] == {"demo": {"url": url, "tool_timeout_sec": 30}}
    desktop = json.loads((home / ".config/Claude/claude_desktop_config.json").read_text())
    demo = desktop["mcpServers"]["demo"]
    assert os.path.isabs(demo["command"]) and os.path.basename(demo["command"]) == "mcpgateway"
    # Not the default port: the bridge starts a gateway on this one.
    assert demo["args"] == ["--state-dir", str(stateDir), "bridge", "--port", str(port), "demo"]
    assert desktop["globalShortcut"] == ""


def test_every_client_adopted_and_given_back(cli: Cli) -> None:
    home, port = cli.home, freePort()
    before = originals(home)

    started = cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    assert "what it adopts of Cursor, VS Code, Codex CLI, Claude Desktop" in started.stderr
    assert waitFor(lambda: adopted(home, port), 15)
    checkShapes(home, port, cli.stateDir)
    assert waitFor(
        lambda: echoes(f"http://127.0.0.1:{port}/demo/mcp", "through an adopted client"), 30, 0.5
    )

    listed = cli("clients", "--json")
    assert listed.returncode == 0, listed.stderr
    clients: dict[str, Any] = {c["id"]: c for c in json.loads(listed.stdout)["clients"]}
    for client in ("cursor", "vscode", "codex", "claude-desktop"):
        assert [f["adopted"] for f in clients[client]["files"]] == [["demo"]], client
        assert clients[client]["reload"]
    assert clients["cursor"]["files"][0]["other"] == ["remote"]
    doctor = cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["clientBackups"]["status"] == "pass", checks["clientBackups"]

    stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stderr + stopped.stdout
    assert originals(home) == before


def test_a_crash_is_restored_at_the_next_start(cli: Cli) -> None:
    home, port = cli.home, freePort()
    before = originals(home)
    started = cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    assert waitFor(lambda: adopted(home, port), 15)
    state = cli.state()
    assert state is not None
    os.kill(state["pid"], signal.SIGKILL)
    assert waitFor(lambda: not pidAlive(state["pid"]), 10)
    assert originals(home) != before  # left adopted by the crash

    again = cli("start", "--port", str(port))
    assert again.returncode == 0, again.stderr + again.stdout
    assert waitFor(lambda: adopted(home, port), 15)
    checkShapes(home, port, cli.stateDir)
    log = (cli.stateDir / "gateway.log").read_text()
    assert "restored after an unclean stop" in log
    assert waitFor(
        lambda: echoes(f"http://127.0.0.1:{port}/demo/mcp", "through an adopted client"), 30, 0.5
    )

    stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stderr + stopped.stdout
    assert originals(home) == before
