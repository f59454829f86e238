"""C{PATCH /api/v1/servers/<name>} with C{set}/C{unset}: the edit of a
server's entry in the gateway's file (C{mcpgateway servers edit}), applied
at once, its values of C{env} never shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.web.api import SECRET, ApiHarness, assertNoSecrets, error, managedFile
from tests.support.web.api import logged as logged  # the fixture


@pytest.fixture
def h(tmp_path: Path, logged: list[Any]) -> Iterator[ApiHarness]:
    harness = ApiHarness(tmp_path / "state")
    yield harness
    assertNoSecrets(harness)


def test_an_edit_of_a_config_server_is_its_override_and_restarts_its_child(
    h: ApiHarness,
) -> None:
    _sid, proc = h.running()
    before = len(h.reactor.spawned)
    response = h.api("PATCH", "/servers/srv", {"set": {"env.EDITED": SECRET}})
    assert proc.stdinClosed  # the child of the old entry stops
    proc.exit(0)
    assert response.status == 200, response.body
    answer = response.json()
    assert answer["edited"] == "override"
    assert answer["changes"] == ["env.EDITED: (unset) -> ***"]
    assert managedFile(h)["overrides"] == {"srv": {"env": {"EDITED": SECRET}}}
    h.initialize()
    assert len(h.reactor.spawned) == before + 1
    env = h.reactor.spawned[-1][2]
    assert env is not None and env["EDITED"] == SECRET


def test_an_edit_of_an_own_server_changes_its_entry(h: ApiHarness) -> None:
    h.add("extra")
    response = h.api(
        "PATCH", "/servers/extra", {"set": {"args": ["-m", "other"]}, "unset": ["env"]}
    )
    assert response.status == 200, response.body
    assert response.json()["edited"] == "entry"
    entry = managedFile(h)["mcpServers"]["extra"]
    assert entry["args"] == ["-m", "other"] and "env" not in entry


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"set": {"args": ["x"]}}, "args: the gateway's file can change only"),
        ({"set": {"env": {"LD_PRELOAD": "/x.so"}}}, "env: key(s) not allowed: LD_PRELOAD"),
        ({"set": []}, "set: must be an object"),
        ({"set": {}, "enabled": True}, "unknown field(s) beside set/unset: enabled"),
    ],
)
def test_bad_edits_are_refused_unwritten(h: ApiHarness, body: Any, message: str) -> None:
    response = h.api("PATCH", "/servers/srv", body)
    assert response.status == 400, response.body
    assert message in error(response)
    assert not (h.stateDir / "servers.json").exists()
