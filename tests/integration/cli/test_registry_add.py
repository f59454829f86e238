"""Installing by name from an MCP registry, for real: a local registry
(tests/fixtures/registry_server.py, the official API over recorded entries),
C{mcpgateway registry search} and C{mcpgateway add NAME --yes} run as the
user runs them, and the server added (C{npx -y
@modelcontextprotocol/server-everything@<version> stdio}, resolved from the
npm cache scripts/install-test-backends fills) called through
C{/<server>/mcp} with the MCP SDK: once added through the running gateway's
API, once written into C{servers.json} while no gateway runs and served at
its next start."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, callEcho, writeConfig
from tests.support.integration.detached import environment, runCli
from tests.support.integration.registry_add import LocalRegistry

pytestmark = pytest.mark.integration

NAME = "io.github.modelcontextprotocol/everything"
VERSION = "2026.8.31"  # the version scripts/install-test-backends puts in the npm cache


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    server = LocalRegistry(tmp_path / "registry.log")
    yield server
    server.stop()


@pytest.fixture
def npx(everything: list[str]) -> str:
    """C{npx}, with server-everything in the npm cache (C{everything} installs it)."""
    found = shutil.which("npx")
    if found is None:
        pytest.skip("npx not found")
    return found


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """C{python -m mcpgateway.cli ARGS --state-dir <the gateway's>}, as a user runs it."""
    env = environment(home)
    for name in ("MCPGATEWAY_API_TOKEN", "MCPGATEWAY_REGISTRY"):
        env.pop(name, None)
    return runCli(home, *args, env=env, timeout=120)


def emptyConfig(home: Path) -> Path:
    return writeConfig(home / "config.json", {})


def test_search_add_and_call_through_the_running_gateway(
    start: Any, home: Path, registry: LocalRegistry, npx: str
) -> None:
    gateway: RunningGateway = start("--config", str(emptyConfig(home)))

    found = cli(home, "registry", "search", "everything", "--registry", registry.url)
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[1].split()[:3] == [NAME, VERSION, "npm"]

    added = cli(home, "add", NAME, "--yes", "--registry", registry.url)
    assert added.returncode == 0, added.stderr
    url = gateway.url("everything")
    assert added.stdout.startswith(f"added everything (share: session): {url}")
    assert f"runs: npx -y @modelcontextprotocol/server-everything@{VERSION} stdio" in added.stderr
    assert registry.requests()[-1] == (
        "/v0.1/servers/io.github.modelcontextprotocol%2Feverything/versions/latest"
    )
    managed = json.loads((home / "state" / "servers.json").read_text())
    assert managed["mcpServers"]["everything"] == {
        "command": "npx",
        "args": ["-y", f"@modelcontextprotocol/server-everything@{VERSION}", "stdio"],
    }

    assert callEcho(gateway.url("everything"), "from the registry") == "Echo: from the registry"
    assert gateway.health()["servers"]["everything"]["share"] == "session"  # built-in list

    again = cli(home, "add", NAME, "--yes", "--registry", registry.url)
    assert again.returncode == 1 and "exists" in again.stderr


def test_add_without_a_gateway_is_served_at_its_next_start(
    start: Any, home: Path, registry: LocalRegistry, npx: str
) -> None:
    added = cli(home, "add", NAME, "--yes", "--as", "ref", "--registry", registry.url, "--json")
    assert added.returncode == 0, added.stderr
    document = json.loads(added.stdout)
    assert document["file"] == str(home / "state" / "servers.json")
    assert document["entry"]["command"] == "npx"

    gateway: RunningGateway = start("--config", str(emptyConfig(home)))
    assert callEcho(gateway.url("ref"), "after a start") == "Echo: after a start"


def test_the_registry_unreachable_or_the_name_unknown_is_one_line(
    home: Path, registry: LocalRegistry
) -> None:
    unknown = cli(home, "add", "io.github.nobody/nothing", "--yes", "--registry", registry.url)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith(
        "mcpgateway: the registry has no server named 'io.github.nobody/nothing'"
    )
    refused = cli(home, "add", "io.github.acme/dotnet-tools", "--yes", "--registry", registry.url)
    assert refused.returncode == 1 and "registry type 'nuget'" in refused.stderr
    gone = cli(home, "registry", "search", "x", "--registry", "http://127.0.0.1:1")
    assert gone.returncode == 1
    assert gone.stderr.startswith("mcpgateway: no answer from http://127.0.0.1:1/v0.1/servers")
    assert not (home / "state" / "servers.json").exists()
