"""L{mcpgateway.ops.management}, the refusal to remove a server
the API did not add names where it really comes from (the bundled demo, the
client file it was adopted from, the C{--config} file; it said "comes from
None"), and C{GET /api/v1/servers/<name>} gives the command line its
children start with (it was C{null} unless an C{npx}/C{uvx} entry was
resolved). Through the API harness of C{tests.web.admin.test_api}, over the
adopting config sources C{mcpgateway start} uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.clients.mcpservers import Cursor
from mcpgateway.clientconfigs.clientsource import ClientsSource
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.config.watched import ConfigSource, PlainFile
from tests.support.web.api import FAKE, ApiHarness, assertNoSecrets, error

ENV = {"PATH": "/usr/bin:/bin"}
MEMORY = {"command": FAKE, "args": ["-m", "memory"]}


def jsonFile(path: Path, servers: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}, indent=2) + "\n")
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    return path


def adopting(tmp_path: Path, home: Path, claude: Path | None) -> ApiHarness:
    """A gateway that adopted Cursor's file, and C{claude} (C{None}: there is
    no Claude config, the bundled demo is served), as C{mcpgateway start}'s."""
    stateDir = tmp_path / "state"
    stateDir.mkdir(mode=0o700)
    engine = AdoptionEngine(
        stateDir, [Cursor()], Host(home, "linux", ENV), bridgeArgv=["/bin/mcpgateway"], environ=ENV
    )
    base: ConfigSource = (
        PlainFile(None)
        if claude is None
        else AdoptedClaudeConfig(claude, stateDir, "127.0.0.1", ENV)
    )
    source = ClientsSource(base, engine, stateDir, "127.0.0.1", ENV)
    source.load()
    source.listening(9100)  # the entries are adopted: served from their backups
    return ApiHarness(stateDir, source=source)


def refusal(h: ApiHarness, name: str) -> str:
    response = h.api("DELETE", f"/servers/{name}")
    assert response.status == 409, response.body
    assert name in h.gateway.pools
    return error(response)


def test_the_demo_and_a_server_adopted_from_cursor(tmp_path: Path, home: Path) -> None:
    """The reported repro: no C{~/.claude.json}, Cursor's C{memory}."""
    cursor = jsonFile(home / ".cursor" / "mcp.json", {"memory": MEMORY})
    h = adopting(tmp_path, home, None)

    assert refusal(h, "memory") == (
        f"server 'memory' comes from Cursor's {cursor}; remove it there,"
        " or disable it here (mcpgateway servers disable memory)"
    )
    assert refusal(h, "demo") == (
        "server 'demo' is the bundled demo, served because the gateway has no"
        " ~/.claude.json and no --config; it cannot be removed: disable it here"
        " (mcpgateway servers disable demo)"
    )
    assertNoSecrets(h)


def test_a_server_of_the_claude_config_is_not_said_to_be_cursors(
    tmp_path: Path, home: Path
) -> None:
    """With a Claude config, a server only Cursor's file defines was said to
    come from C{~/.claude.json}; one both files list comes from both."""
    claude = jsonFile(home / ".claude.json", {"memory": MEMORY, "own": MEMORY})
    cursor = jsonFile(home / ".cursor" / "mcp.json", {"memory": MEMORY, "fs": MEMORY})
    h = adopting(tmp_path, home, claude)

    assert refusal(h, "fs").startswith(f"server 'fs' comes from Cursor's {cursor}; remove it")
    assert refusal(h, "own").startswith(f"server 'own' comes from Claude Code's {claude}; remove")
    assert refusal(h, "memory").startswith(
        f"server 'memory' comes from Claude Code's {claude} and Cursor's {cursor}; remove it there"
    )


def test_a_config_file_served_as_it_is(tmp_path: Path) -> None:
    """C{--config FILE} (or C{--no-rewrite}): the file."""
    config = jsonFile(tmp_path / "team.json", {"memory": MEMORY})
    h = ApiHarness(tmp_path / "state", source=PlainFile(config))
    assert refusal(h, "memory") == (
        f"server 'memory' comes from {config}; remove it there,"
        " or disable it here (mcpgateway servers disable memory)"
    )


def test_the_bundled_demo_served_as_it_is(tmp_path: Path) -> None:
    """C{twistd mcpgateway} without a config: the demo, without clients."""
    h = ApiHarness(tmp_path / "state", source=PlainFile(None))
    assert refusal(h, "demo").startswith("server 'demo' is the bundled demo, served because")


# -- "launch" ------------------------------------------------------------------------


@pytest.fixture
def h(tmp_path: Path) -> Iterator[ApiHarness]:
    harness = ApiHarness(
        tmp_path / "state",
        mainServers={
            "srv": {"command": FAKE, "args": ["-m", "srv"], "env": {"SRV_KEY": "v"}},
            "gone": {"command": "no-such-command-4711", "args": ["--x"]},
        },
    )
    yield harness
    assertNoSecrets(harness)


def test_launch_is_the_command_line_a_child_runs_as_configured(h: ApiHarness) -> None:
    """Not C{null} for a server that needs no resolving: what its child was
    started with (the command as found on C{PATH}, its args), never its env."""
    before = h.api("GET", "/servers/srv").json()["launch"]
    h.running("srv")
    [(executable, argv, env, _cwd)] = h.reactor.spawned
    body = h.api("GET", "/servers/srv").json()
    assert body["launch"] == before == [executable, "-m", "srv"]
    assert argv[-2:] == ["-m", "srv"]
    assert env is not None and env["SRV_KEY"] == "v"
    assert "v" not in body["launch"]


def test_launch_is_null_when_the_command_cannot_be_found(h: ApiHarness) -> None:
    assert h.api("GET", "/servers/gone").json()["launch"] is None
