"""The bridge driven by a real stdio client: the MCP Inspector CLI
(C{@modelcontextprotocol/inspector --cli}, installed with Node 22 by
C{scripts/install-test-backends}) runs C{python -m mcpgateway.bridge} as its
stdio server against a real gateway (twist, the demo server): the tool list,
an C{echo} call, and after each run the bridge has exited and its session is
gone from the gateway, which lives on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import REPO, RunningGateway, waitFor, writeConfig
from tests.support import mcpclient

pytestmark = pytest.mark.integration

CACHE = Path(os.environ.get("MCPGATEWAY_TEST_CACHE") or REPO / ".cache" / "test-backends")
DEMO = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}


@pytest.fixture(scope="module")
def inspector() -> list[str]:
    """argv prefix of the Inspector CLI run by Node 22 (C{--cli} included)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not found: the MCP Inspector CLI needs them")
    # Idempotent (a stamp): a no-op once installed, else it installs the Inspector.
    done = subprocess.run(
        [str(REPO / "scripts" / "install-test-backends"), "--quiet"],
        env={**os.environ, "MCPGATEWAY_TEST_CACHE": str(CACHE)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    paths = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    node22, cli = paths.get("NODE22", ""), paths.get("INSPECTOR_CLI", "")
    assert Path(node22).is_file() and Path(cli).is_file(), paths
    return [node22, cli, "--cli"]


def sessions(port: int) -> list[dict[str, Any]]:
    return mcpclient.listSessions(port)


def runInspector(
    inspector: list[str], home: Path, gateway: RunningGateway, *method: str
) -> dict[str, Any]:
    """One Inspector CLI run with the bridge as its stdio server; its result
    (C{--format json} prints C{{"result": ...}}).

    The bridge finds the gateway through its state directory (C{demo});
    C{--port} is the port of the gateway it would start if none ran (that
    one: a start would fail at once, and so would the run)."""
    bridge = [
        sys.executable,
        "-m",
        "mcpgateway.bridge",
        "--state-dir",
        str(home / "state"),
        "--port",
        str(gateway.port),
        "demo",
    ]
    # No MCPGATEWAY_HOME: the bridge finds the gateway only if --state-dir
    # reached it through the Inspector's command line.
    env = {
        **{key: value for key, value in os.environ.items() if key != "MCPGATEWAY_HOME"},
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        # The Inspector's own files (catalog, stored auth) stay in the temporary HOME.
        "MCP_CATALOG_PATH": str(home / "inspector-catalog.json"),
    }
    done = subprocess.run(
        [*inspector, "--format", "json", "--cwd", str(home), *method, "--", *bridge],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    # The Inspector shows its stdio server's stderr: the bridge's own log.
    assert f"mcpgateway bridge: connected to {gateway.url('demo')}" in done.stderr, done.stderr
    output = json.loads(done.stdout)
    assert set(output) == {"result"}, output
    return output["result"]  # type: ignore[no-any-return]


def bridgesOf(home: Path) -> list[str]:
    """Command lines of live bridge processes for this test's state directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mcpgateway.bridge" in argv and str(home / "state").encode() in argv:
            found.append(b" ".join(argv).decode("utf-8", "replace"))
    return found


def test_the_inspector_cli_lists_and_calls_tools_through_the_bridge(
    inspector: list[str], home: Path
) -> None:
    config = writeConfig(home / "servers.json", {"demo": DEMO})
    gateway = RunningGateway(["--config", str(config)], home)
    try:
        assert waitFor(lambda: (home / "state" / "state.json").exists(), timeout=10)

        listed = runInspector(inspector, home, gateway, "--method", "tools/list")
        names = {tool["name"] for tool in listed["tools"]}
        assert {"echo", "slow", "sample"} <= names, listed
        [echo] = [tool for tool in listed["tools"] if tool["name"] == "echo"]
        assert "message" in echo["inputSchema"]["properties"], echo

        # The Inspector ended its stdio server: the bridge exited, having
        # DELETEd its session; the gateway and its shared child live on.
        assert waitFor(lambda: bridgesOf(home) == [], timeout=10), bridgesOf(home)
        assert waitFor(lambda: sessions(gateway.port) == [], timeout=10)
        assert gateway.process.poll() is None

        called = runInspector(
            inspector,
            home,
            gateway,
            "--method",
            "tools/call",
            "--tool-name",
            "echo",
            "--tool-arg",
            "message=hi",
        )
        assert called["content"] == [{"type": "text", "text": "hi"}], called
        assert not called.get("isError"), called

        assert waitFor(lambda: bridgesOf(home) == [], timeout=10), bridgesOf(home)
        assert waitFor(lambda: sessions(gateway.port) == [], timeout=10)
        assert gateway.process.poll() is None
        assert gateway.health()["servers"]["demo"]["state"] != "stopped"
    finally:
        gateway.stop()
