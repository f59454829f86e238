"""A client's own per-server timeout is what the gateway waits for its
calls: converted from the client's unit, only ever longer than the
gateway's own, the longest where several clients serve one server (Claude
Code's route included), and followed when the user edits it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
from mcpgateway.clientconfigs.clients.base import ClientAdapter, Host, ToolTimeout
from mcpgateway.clientconfigs.clients.codex import Codex
from mcpgateway.clientconfigs.clients.mcpservers import Cursor, Gemini
from mcpgateway.clientconfigs.clientsource import ClientsSource
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.clientconfigs.timeouts import longest, withClientTimeout
from mcpgateway.config.servers import MAX_REQUEST_TIMEOUT_MS, parseConfig, parseEntry
from mcpgateway.core.spec import DEFAULT_REQUEST_TIMEOUT
from tests.clientconfigs.adoptkit import ENVIRON, engine, makeHost, urlFor, write

SERVED = {"command": "srv", "args": ["--stdio"]}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)


@given(value=JSON, seconds=st.sampled_from([1.0, 0.001]))
def test_any_client_timeout_is_served_as_the_longer_of_it_and_the_gateways(
    value: Any, seconds: float
) -> None:
    """Whatever a client's file holds there (it is the user's text), the
    served entry is one the gateway takes, and it waits as long as the
    client (up to the day an entry may ask for), never less than its own."""
    served = withClientTimeout(SERVED, ToolTimeout("timeout", seconds), {"timeout": value})

    spec = parseEntry("srv", served, ENVIRON, "user")

    client = 0.0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            client = float(value) * seconds
        except OverflowError:
            client = 0.0
        client = client if math.isfinite(client) and client > 0 else 0.0
    wanted = min(max(client, DEFAULT_REQUEST_TIMEOUT), MAX_REQUEST_TIMEOUT_MS / 1000)
    assert spec.requestTimeout == pytest.approx(wanted)
    assert spec.requestTimeoutDeclared == (client > DEFAULT_REQUEST_TIMEOUT)
    assert {k: v for k, v in served.items() if k != "requestTimeout"} == SERVED


def test_units_and_the_longest_of_two_entries() -> None:
    seconds, millis = ToolTimeout("tool_timeout_sec", 1.0), ToolTimeout("timeout", 0.001)
    assert withClientTimeout(SERVED, seconds, {"tool_timeout_sec": 300}) == {
        **SERVED,
        "requestTimeout": 300_000,
    }
    assert withClientTimeout(SERVED, millis, {"timeout": 600_000})["requestTimeout"] == 600_000
    assert withClientTimeout(SERVED, millis, {"timeout": 30_000}) == SERVED  # shorter: as it is
    assert withClientTimeout(SERVED, None, {"timeout": 600_000}) == SERVED  # no timeout key
    a, b = {**SERVED, "requestTimeout": 300_000}, {**SERVED, "requestTimeout": 600_000}
    assert longest(a, b) == b and longest(b, a) == b and longest(a, SERVED) == a
    assert longest(SERVED, a) == a


# -- several clients, one server ------------------------------------------------------

EVERYTHING = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]}


def _files(host: Host) -> None:
    """Codex (300 s), Gemini CLI (600 000 ms) and Cursor (none) with one server."""
    write(
        host.home / ".codex" / "config.toml",
        '[mcp_servers.everything]\ncommand = "npx"\n'
        'args = ["-y", "@modelcontextprotocol/server-everything"]\ntool_timeout_sec = 300\n',
    )
    gemini = {"mcpServers": {"everything": {**EVERYTHING, "timeout": 600_000}}}
    write(host.home / ".gemini" / "settings.json", json.dumps(gemini, indent=2))
    write(
        host.home / ".cursor" / "mcp.json", json.dumps({"mcpServers": {"everything": EVERYTHING}})
    )


@pytest.mark.parametrize(
    "adapters",
    [[Codex(), Gemini(), Cursor()], [Cursor(), Gemini(), Codex()], [Gemini(), Codex(), Cursor()]],
    ids=["codex-first", "cursor-first", "gemini-first"],
)
def test_clients_of_one_server_share_its_route_and_the_longest_timeout(
    tmp_path: Path, adapters: list[ClientAdapter]
) -> None:
    """Their timeouts differ, their server does not: every client's entry is
    adopted at /everything/mcp, served with the longest timeout, whichever
    client is adopted first."""
    host = makeHost(tmp_path)
    _files(host)
    gateway = engine(tmp_path, adapters, host)

    report = gateway.adopt(urlFor)

    assert [f.adopted for f in report.files] == [["everything"]] * 3, report.messages()
    assert all(not f.skipped for f in report.files)
    served = gateway.servedDocument()["mcpServers"]
    assert served == {"everything": {**EVERYTHING, "requestTimeout": 600_000}}
    spec = parseConfig(gateway.servedDocument(), "clients", ENVIRON, "user").servers["everything"]
    assert spec.requestTimeout == 600.0


def test_claude_codes_route_takes_another_clients_longer_timeout_at_each_load(
    tmp_path: Path, home: Path
) -> None:
    """Claude Code serves C{everything} (no timeout of its own); Codex's
    entry of the same server is pointed at Claude's route, and its 300 s are
    the route's; raised to 900 in Codex's file, the next load (the reload
    the file watcher starts) serves 900 s."""
    stateDir = tmp_path / "state"
    stateDir.mkdir()
    claude = write(home / ".claude.json", json.dumps({"mcpServers": {"everything": EVERYTHING}}))
    codex = write(
        home / ".codex" / "config.toml",
        '[mcp_servers.everything]\ncommand = "npx"\n'
        'args = ["-y", "@modelcontextprotocol/server-everything"]\ntool_timeout_sec = 300\n',
    )
    gateway = AdoptionEngine(
        stateDir, [Codex()], Host(home, "linux", ENVIRON), bridgeArgv=["/bin/mg"], environ=ENVIRON
    )
    base = AdoptedClaudeConfig(claude, stateDir, "127.0.0.1", ENVIRON)
    source = ClientsSource(base, gateway, stateDir, "127.0.0.1", ENVIRON)
    source.load()
    source.listening(9100)
    assert 'url = "http://127.0.0.1:9100/everything/mcp"' in codex.read_text()

    spec = source.load().servers["everything"]
    assert (spec.command, spec.requestTimeout, spec.requestTimeoutDeclared) == ("npx", 300.0, True)

    codex.write_text(codex.read_text().replace("tool_timeout_sec = 300", "tool_timeout_sec = 900"))
    assert source.load().servers["everything"].requestTimeout == 900.0

    source.stopping()
