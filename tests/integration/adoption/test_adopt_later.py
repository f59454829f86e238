"""A gateway started on a bare machine (no client's config: the bundled demo
is served) adopts a client's config written afterwards, within seconds, as a
start would have, and gives it back byte for byte at stop."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.gateway import callEcho, freePort
from tests.support.integration.detached import runCli

pytestmark = pytest.mark.integration


def test_a_claude_config_written_after_the_start_is_adopted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    stateDir = home / ".mcpgateway"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return runCli(home, *args, stateDir=stateDir, timeout=120)

    port = freePort()
    started = cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        assert "written later is adopted" in started.stderr
        config = home / ".claude.json"
        original = json.dumps(
            {
                "numStartups": 1,
                "mcpServers": {
                    "later": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
                },
            },
            indent=2,
        ).encode()
        config.write_bytes(original)
        deadline = time.monotonic() + 30
        entry: dict[str, str] = {}
        while time.monotonic() < deadline:
            entry = json.loads(config.read_text())["mcpServers"]["later"]
            if entry.get("type") == "http":
                break
            time.sleep(0.2)
        assert entry == {"type": "http", "url": f"http://127.0.0.1:{port}/later/mcp"}, entry
        assert callEcho(entry["url"], "adopted later") == "adopted later"
        status = json.loads(cli("status", "--json").stdout)
        assert "later" in status["health"]["servers"], status
        assert "demo" not in status["health"]["servers"], status  # served instead of the demo
        assert status["state"]["config"] == str(config), status  # status names it
        # Another client installed later: its file is adopted when it appears.
        cursor = home / ".cursor" / "mcp.json"
        cursor.parent.mkdir()
        cursorOriginal = json.dumps(
            {
                "mcpServers": {
                    "cursorOnly": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
                }
            }
        ).encode()
        cursor.write_bytes(cursorOriginal)
        adopted: dict[str, str] = {}
        while time.monotonic() < deadline + 30:
            adopted = json.loads(cursor.read_text())["mcpServers"]["cursorOnly"]
            if str(port) in adopted.get("url", ""):
                break
            time.sleep(0.2)
        assert adopted.get("url") == f"http://127.0.0.1:{port}/cursorOnly/mcp", adopted
        # A file three folders below the nearest one there (VS Code's, on a
        # home with no ~/.config), its folders made and the file written at once.
        vscode = home / ".config" / "Code" / "User" / "mcp.json"
        vscode.parent.mkdir(parents=True)
        vscodeOriginal = json.dumps(
            {"servers": {"vsOnly": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}}}
        ).encode()
        vscode.write_bytes(vscodeOriginal)
        vsDeadline = time.monotonic() + 30
        while time.monotonic() < vsDeadline:
            adopted = json.loads(vscode.read_text())["servers"]["vsOnly"]
            if str(port) in adopted.get("url", ""):
                break
            time.sleep(0.2)
        assert adopted.get("url") == f"http://127.0.0.1:{port}/vsOnly/mcp", adopted
        assert callEcho(adopted["url"], "from vs code") == "from vs code"
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stderr + stopped.stdout
    assert config.read_bytes() == original
    assert cursor.read_bytes() == cursorOriginal
    assert vscode.read_bytes() == vscodeOriginal
