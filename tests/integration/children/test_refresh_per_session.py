"""After C{mcpgateway catalog refresh} and a restart, a per-session server
nobody calls starts no child at all: a real gateway, the command line, a
fixture server with a child per session that writes a marker line each
time it starts (C{tests/fixtures/marker_server.py}), and forty real Python
SDK clients.

The refresh starts one child of the server (the catalogs' probe, as a
session's own child starts), lists it, stops it and keeps the catalog of
its route for any client. The next gateway on the same state directory
answers forty clients that initialize and list (tools, prompts, resources,
templates) and never call from that catalog: no child starts, not even a
probe, whatever the clients declare. A call then starts exactly that
client's child.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.gateway import REPO, RunningGateway, gatewayEnv, waitFor, writeConfig
from tests.support.integration.listingclients import CLIENTS, listingClients
from tests.support.integration.pidwatch import PidWatch

pytestmark = pytest.mark.integration

MARKER_SERVER = REPO / "tests" / "fixtures" / "marker_server.py"


def refresh(home: Path) -> subprocess.CompletedProcess[str]:
    """C{mcpgateway catalog refresh} against the gateway of C{home}."""
    return subprocess.run(
        [sys.executable, "-m", "mcpgateway.cli", "catalog", "refresh"],
        env=gatewayEnv(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=90,
    )


def starts(marker: Path) -> list[str]:
    """The pids the server's children wrote as they started."""
    return marker.read_text().split() if marker.exists() else []


def refreshedAndRestarted(
    start: Any, home: Path, server: str, entry: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """A gateway serving C{server} (C{entry}, a child per session) is
    refreshed, then stopped; the next one on the same state directory is
    started up by forty clients (L{listingClients}) while its children's
    pids are watched. The refresh's output and what the clients saw."""
    config = writeConfig(home / "servers.json", {server: {**entry, "share": "session"}})
    args = ("--config", str(config), "--sandbox", "off")
    first: RunningGateway = start(*args)
    assert first.health()["servers"][server]["share"] == "session"
    refreshed = refresh(home)
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert waitFor(lambda: first.health()["servers"][server]["children"] == 0, 15)
    first.stop()
    assert (home / "state" / "catalogs" / "scopes" / f"{server}.json").is_file()
    assert "probing a child to list its scope's catalog" not in first.text()
    second: RunningGateway = start(*args)
    with PidWatch(second, server) as watch:
        seen = anyio.run(listingClients, second, server, "refreshed")
    before = seen["before"]
    assert (before["state"], before["children"], before["pids"]) == ("catalog", 0, [])
    assert before["catalogStartups"] == CLIENTS
    assert before["catalogAnswers"] == CLIENTS * 5  # initialize and four lists each
    assert "probing a child to list its scope's catalog" not in second.text()
    # Only the caller's own child ever ran, after the forty had listed.
    assert watch.most <= 1 and len(watch.seen) <= 1, watch.seen
    return refreshed.stdout, seen


def test_after_a_refresh_and_a_restart_forty_listing_clients_start_no_child(
    start: Any, home: Path
) -> None:
    marker = home / "marker"
    entry = {
        "command": sys.executable,
        "args": [str(MARKER_SERVER)],
        "env": {"MARKER_FILE": str(marker)},
    }
    out, seen = refreshedAndRestarted(start, home, "marked", entry)
    assert "/marked/mcp: catalog kept for its start-ups (2 tools" in out
    assert seen["tools"] == ["add", "echo"]
    assert seen["echo"] == "refreshed"
    assert len(starts(marker)) == 2, starts(marker)  # the refresh's child, the caller's


def test_server_everything_after_a_refresh_and_a_restart(
    start: Any, home: Path, everything: list[str]
) -> None:
    """The real npm server-everything, which lists one more tool to a
    client with roots: the clients are given the refresh's catalog (listed
    as a client that declares roots), and no child starts for them."""
    entry = {"command": everything[0], "args": everything[1:]}
    out, seen = refreshedAndRestarted(start, home, "everything", entry)
    assert "/everything/mcp: catalog kept for its start-ups" in out
    assert "echo" in seen["tools"]
    assert seen["echo"] == "Echo: refreshed"
