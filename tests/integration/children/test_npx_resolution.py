"""An npx-configured server runs as its real binary: no npm/npx wrapper
process per child (the ~40 MB the gateway saves)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import RunningGateway, writeConfig

pytestmark = pytest.mark.integration
VERSION = "2026.8.31"  # the version scripts/install-test-backends puts in the npm cache


def cmdline(pid: int) -> list[str]:
    """The command C{pid} runs: its argv, or, for a sandbox's C{bwrap}, what
    follows bwrap's own options (which name paths of the system, such as
    C{/etc/npmrc}, that say nothing of the command)."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = [part.decode() for part in f.read().split(b"\0") if part]
    if argv and Path(argv[0]).name == "bwrap" and "--" in argv:
        return argv[argv.index("--") + 1 :]
    return argv


def test_npx_server_runs_without_the_wrapper(start: Any, home: Path, everything: list[str]) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx not found")
    config = writeConfig(
        home / "servers.json",
        {
            "everything": {
                "command": "npx",
                "args": ["-y", f"@modelcontextprotocol/server-everything@{VERSION}", "stdio"],
                "share": "global",
            }
        },
    )
    gateway: RunningGateway = start("--config", str(config))

    async def call() -> str:
        async with Client(gateway.url("everything"), mode="legacy") as client:
            result = await client.call_tool("echo", {"message": "direct"})
            return result.content[0].text  # type: ignore[union-attr]

    assert anyio.run(call) == "Echo: direct"
    [pid] = gateway.health()["servers"]["everything"]["pids"]
    argv = cmdline(pid)
    assert "npm" not in " ".join(argv) and "npx" not in argv[0], argv
    assert argv[-1] == "stdio" and argv[-2].endswith("index.js"), argv
    assert (home / "state" / "npx-cache.json").is_file()
