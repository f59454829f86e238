"""A per-session server nobody calls starts no child beyond one probe: a
real gateway, the real npm server-everything (which the gateway gives a
child per session by default) and forty real Python SDK clients.

Each client initializes and lists the server's tools, prompts, resources
and templates, and stays open until all have: the gateway answers them
from the catalog of their scope (one probe child, started, listed and
stopped, for the forty, who declare the same capabilities), so no child of
theirs runs. Then one of them calls a tool: exactly one child starts, its
own, and the call works.

The catalog of their scope is saved in the state directory: a second
gateway on the same state directory answers forty new clients with no
child at all, not even a probe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.support.integration.listingclients import CLIENTS, listingClients
from tests.support.integration.pidwatch import PidWatch

pytestmark = pytest.mark.integration


def test_forty_clients_that_never_call_start_no_child_beyond_the_probe(
    start: Any, home: Path, everything: list[str]
) -> None:
    config = writeConfig(
        home / "servers.json", {"everything": {"command": everything[0], "args": everything[1:]}}
    )
    gateway: RunningGateway = start("--config", str(config), "--sandbox", "off")
    line = gateway.health()["servers"]["everything"]
    assert (line["share"], line["children"]) == ("session", 0)
    with PidWatch(gateway, "everything") as watch:
        seen = anyio.run(listingClients, gateway, "everything", "lazy")
    before, after = seen["before"], seen["after"]
    assert "echo" in seen["tools"]
    assert (before["state"], before["children"], before["pids"]) == ("catalog", 0, [])
    assert before["catalogStartups"] == CLIENTS
    assert before["catalogAnswers"] == CLIENTS * 5  # initialize and four lists each
    assert seen["echo"] == "Echo: lazy"
    assert (after["state"], after["children"]) == ("running", 1)
    # The probe and the caller's own child: no other child ever ran.
    assert len(watch.seen) <= 2, watch.seen
    assert watch.most <= 1
    assert after["pids"][0] in watch.seen
    assert waitFor(lambda: gateway.health()["servers"]["everything"]["children"] == 0, 15)
    # The next gateway on the same state directory: the catalog of their scope is saved.
    gateway.stop()
    assert "probing a child to list its scope's catalog" in gateway.text()
    assert (home / "state" / "catalogs" / "scopes" / "everything.json").is_file()
    again: RunningGateway = start("--config", str(config), "--sandbox", "off")
    with PidWatch(again, "everything") as watch:
        seen = anyio.run(listingClients, again, "everything")
    before = seen["before"]
    assert "echo" in seen["tools"]
    assert (before["state"], before["children"], before["pids"]) == ("catalog", 0, [])
    assert before["catalogStartups"] == CLIENTS
    assert before["catalogAnswers"] == CLIENTS * 5
    assert watch.seen == set(), watch.seen  # no child, not even a probe
    assert "probing a child to list its scope's catalog" not in again.text()
