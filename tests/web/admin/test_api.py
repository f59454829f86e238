"""The management API, C{/api/v1}: every route, its successes and its
refusals, through a real C{Site} over in-memory transports, with fake
children, a fake clock and the gateway wired as C{tap.makeService} wires it
(a L{ConfigService} over a main config file, the gateway's own
C{servers.json}, the L{ServerChanges} facade). Reloads happen inline.

Every response of every test is checked for the env value of the main
config's server and of the servers added here: none may show it, nor may
any log line.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure

from mcpgateway.ops.management import wideWorkspace
from tests.fakes import capturedGatewayLogs
from tests.support.core.pools.pool import serverPoolOf
from tests.support.json_values import jsonValues
from tests.support.web.api import (
    FAKE,
    SECRET,
    TOKEN,
    ApiHarness,
    assertNoSecrets,
    error,
    initializeBody,
    managedFile,
)
from tests.support.web.api import logged as logged  # the fixture


@pytest.fixture
def h(tmp_path: Path, logged: list[Any]) -> Iterator[ApiHarness]:
    harness = ApiHarness(tmp_path / "state")
    yield harness
    assertNoSecrets(harness)


def refusedUnwritten(
    h: ApiHarness, method: str, path: str, body: Any, status: int, message: str
) -> None:
    """The API refuses C{body} with C{status} and an error naming
    C{message}, and writes no C{servers.json}."""
    response = h.api(method, path, body)
    assert response.status == status, response.body
    assert message in error(response)
    assert not (h.stateDir / "servers.json").exists()


# -- health, listing, one server ------------------------------------------------------


def test_health(h: ApiHarness) -> None:
    response = h.api("GET", "/health")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok" and body["pid"] == os.getpid()
    assert set(body["servers"]) == {"srv"}


def test_list_servers(h: ApiHarness) -> None:
    h.add("extra")
    response = h.api("GET", "/servers")
    assert response.status == 200
    servers = response.json()["servers"]
    assert [(s["name"], s["origin"], s["state"]) for s in servers] == [
        ("extra", "api", "stopped"),
        ("srv", "config", "stopped"),
    ]


def test_get_server_shows_config_state_and_counters_without_env_values(h: ApiHarness) -> None:
    _sid, proc = h.running()
    proc.stderr(b"warming up\n")
    response = h.api("GET", "/servers/srv")
    assert response.status == 200
    body = response.json()
    assert body["name"] == "srv" and body["state"] == "running" and body["enabled"]
    assert body["config"]["command"] == FAKE
    assert body["config"]["args"] == ["-m", "srv"]
    assert body["config"]["env"] == {"SRV_KEY": "***"}
    assert body["children"] == 1 and body["pids"] == [proc.pid]
    assert body["restarts"] == 0 and body["mtbf"] is None
    assert body["uptime"] == 0
    h.reactor.advance(30)
    proc.exit(1)
    body = h.api("GET", "/servers/srv").json()
    assert body["failures"] == 1 and body["mtbf"] == 30
    assert [e["kind"] for e in body["lastErrors"]] == ["exited"]


def test_get_unknown_server_is_404(h: ApiHarness) -> None:
    response = h.api("GET", "/servers/nope")
    assert response.status == 404
    assert error(response) == "no server named 'nope'"


# -- POST /servers ----------------------------------------------------------------------


def test_add_server_persists_it_atomically_and_serves_it(h: ApiHarness) -> None:
    response = h.api(
        "POST",
        "/servers",
        {
            "name": "extra",
            "command": FAKE,
            "args": ["-m", "extra"],
            "env": {"EXTRA_KEY": SECRET},
            "mode": "stateful",
            "requestTimeout": 5000,
        },
    )
    assert response.status == 201, response.body
    assert response.headers["location"] == "/api/v1/servers/extra"
    body = response.json()
    assert (body["name"], body["origin"], body["mode"]) == ("extra", "api", "stateful")
    path = h.stateDir / "servers.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert managedFile(h)["mcpServers"]["extra"] == {
        "command": FAKE,
        "args": ["-m", "extra"],
        "env": {"EXTRA_KEY": SECRET},
        "mode": "stateful",
        "requestTimeout": 5000,
    }
    assert [p.name for p in h.stateDir.iterdir() if p.name.endswith(".tmp")] == []
    assert h.gateway.pools["extra"].spec.requestTimeout == 5
    # Served at once: its endpoint spawns its own child with its env.
    h.initialize("extra")
    executable, args, env, _ = h.reactor.spawned[-1]
    assert (executable, args) == (FAKE, [FAKE, "-m", "extra"])
    assert env is not None and env["EXTRA_KEY"] == SECRET


def test_add_a_remote_server_persists_it_and_shows_its_headers_masked(h: ApiHarness) -> None:
    entry = {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"X-Key": SECRET}}
    response = h.api("POST", "/servers", {"name": "far", **entry})
    assert response.status == 201, response.body
    body = response.json()
    assert (body["share"], body["remote"]) == (
        "session",
        {"transport": "http", "url": "http://127.0.0.1:9/mcp"},
    )
    assert managedFile(h)["mcpServers"]["far"] == entry
    shown = h.api("GET", "/servers/far")
    assert shown.json()["config"]["headers"] == {"X-Key": "***"}
    assert SECRET not in shown.body.decode()
    remote = h.gateway.pools["far"].spec.remote
    assert remote is not None and remote.headers == (("X-Key", SECRET),)


@pytest.mark.parametrize("share", ["global", "workspace", "credential", "session"])
def test_add_server_takes_its_scope_as_share(h: ApiHarness, share: str) -> None:
    response = h.api("POST", "/servers", {"name": "scoped", "command": FAKE, "share": share})
    assert response.status == 201, response.body
    assert response.json()["share"] == share
    assert managedFile(h)["mcpServers"]["scoped"] == {"command": FAKE, "share": share}


def test_added_server_survives_a_restart_and_stays_disabled(h: ApiHarness, tmp_path: Path) -> None:
    h.add("extra")
    assert h.api("PATCH", "/servers/extra", {"enabled": False}).status == 200
    again = ApiHarness(tmp_path / "state")
    try:
        servers = {s["name"]: s for s in again.api("GET", "/servers").json()["servers"]}
        assert set(servers) == {"extra", "srv"}
        assert servers["extra"]["state"] == "disabled"
        assert servers["extra"]["origin"] == "api"
        response = again.request("POST", "/extra/mcp", initializeBody())
        assert "disabled" in response.json()["error"]["message"]
        assert again.reactor.processes == []
        assert again.api("PATCH", "/servers/extra", {"enabled": True}).status == 200
        again.initialize("extra")
        assert len(again.reactor.processes) == 1
    finally:
        assertNoSecrets(again)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"command": FAKE}, 400, "name: 1-64 letters"),
        ({"name": "a/b", "command": FAKE}, 400, "name: 1-64 letters"),
        ({"name": "", "command": FAKE}, 400, "name: 1-64 letters"),
        ({"name": "x" * 65, "command": FAKE}, 400, "name: 1-64 letters"),
        ({"name": "new"}, 400, "it has neither 'command' (a stdio server) nor 'url'"),
        ({"name": "new", "command": ""}, 400, "'command' must be a non-empty string"),
        (
            {"name": "new", "command": "no-such-command-4711"},
            400,
            "command: 'no-such-command-4711' was not found on PATH",
        ),
        ({"name": "new", "command": FAKE, "args": "-m x"}, 400, "'args' must be a list of strings"),
        ({"name": "new", "command": FAKE, "env": {"A": 1}}, 400, "'env' must be an object"),
        ({"name": "new", "command": FAKE, "env": ["A=1"]}, 400, "env: must be an object"),
        (
            {"name": "new", "command": FAKE, "env": {"LD_PRELOAD": "/tmp/x.so"}},
            400,
            "env: key(s) not allowed: LD_PRELOAD",
        ),
        (
            {"name": "new", "command": FAKE, "env": {"DYLD_INSERT_LIBRARIES": "/tmp/x.dylib"}},
            400,
            "env: key(s) not allowed: DYLD_INSERT_LIBRARIES",
        ),
        (
            {"name": "new", "command": FAKE, "env": {"PYTHONPATH": "/tmp", "OK": "1"}},
            400,
            "env: key(s) not allowed: PYTHONPATH",
        ),
        ({"name": "new", "command": FAKE, "mode": "sometimes"}, 400, "'mode' must be one of"),
        ({"name": "new", "command": FAKE, "cwd": 7}, 400, "'cwd' must be a string"),
        ({"name": "new", "command": FAKE, "requestTimeout": -1}, 400, "requestTimeout"),
        (  # accepted, and a request to it hung forever
            {"name": "new", "command": FAKE, "requestTimeout": 1e300},
            400,
            "'requestTimeout' must be a positive number of milliseconds, at most 86400000",
        ),
        ({"name": "new", "command": FAKE, "type": "http"}, 400, "'url' must be a non-empty string"),
        ({"name": "new", "command": FAKE, "url": "http://x"}, 400, "'command' (a stdio server)"),
        ({"name": "new", "command": FAKE, "uri": "http://x"}, 400, "unknown field(s): uri"),
        ({"name": "srv", "command": FAKE}, 409, "name: a server named 'srv' exists"),
        ([{"name": "new"}], 400, "the body must be a JSON object"),
        ("new", 400, "the body must be a JSON object"),
    ],
)
def test_add_refuses_bad_bodies_naming_the_field(
    h: ApiHarness, body: Any, status: int, message: str
) -> None:
    refusedUnwritten(h, "POST", "/servers", body, status, message)
    assert set(h.gateway.pools) == {"srv"}


def test_add_refuses_a_duplicate_of_a_server_added_through_the_api(h: ApiHarness) -> None:
    h.add("extra")
    response = h.api("POST", "/servers", {"name": "extra", "command": FAKE})
    assert response.status == 409
    assert "extra" in error(response)


@pytest.mark.parametrize(
    ("raw", "contentType", "status", "message"),
    [
        (b'{"name": "x",', "application/json", 400, "the body is not valid JSON"),
        (b'{"name": x}', "application/json", 400, "line 1 column 10"),
        (b"\xff\xfe", "application/json", 400, "invalid UTF-8"),
        (b"", "application/json", 400, "the body is empty"),
        (
            b'{"name": "x", "command": "y"}',
            "text/plain",
            415,
            "Content-Type must be application/json",
        ),
        (b'{"name": "x", "command": "y"}', None, 415, "not missing"),
        (b"x" * 5000, "application/json", 413, "4096-byte limit"),
    ],
)
def test_add_refuses_bodies_that_are_not_json(
    h: ApiHarness, raw: bytes, contentType: str | None, status: int, message: str
) -> None:
    response = h.api("POST", "/servers", raw=raw, contentType=contentType)
    assert response.status == status, response.body
    if status == 413:
        # Refused from the head alone, before any path reads it: the
        # channel's JSON-RPC body (docs/guide/limits.md), on every path.
        assert message in response.json()["error"]["message"]
        return
    assert message in error(response)


def test_json_content_type_with_charset_is_accepted(h: ApiHarness) -> None:
    response = h.api(
        "POST",
        "/servers",
        {"name": "extra", "command": FAKE},
        contentType="application/json; charset=utf-8",
    )
    assert response.status == 201, response.body


def test_add_a_server_for_one_workspace(h: ApiHarness, tmp_path: Path) -> None:
    """With C{workspace}, the entry is that workspace's own (under
    C{projects} in servers.json), served on its route only."""
    project = tmp_path / "project"
    project.mkdir()
    body = {"name": "extra", "command": FAKE, "args": ["-m", "extra"]}
    response = h.api("POST", "/servers", {**body, "workspace": str(project)})
    assert response.status == 201, response.body
    assert response.json()["origin"] == "api"
    written = managedFile(h)
    assert written["mcpServers"] == {}
    assert written["projects"] == {
        str(project): {"mcpServers": {"extra": {"command": FAKE, "args": ["-m", "extra"]}}}
    }
    spec = h.gateway.pools["extra"].spec
    assert [variant.key != "" for variant in spec.variants] == [True]  # no key-less route
    again = h.api("POST", "/servers", {**body, "workspace": str(project)})
    assert again.status == 409
    assert error(again) == f"name: workspace {project} has a server named 'extra'"


def test_a_workspace_must_be_an_absolute_directory(h: ApiHarness, tmp_path: Path) -> None:
    body = {"name": "extra", "command": FAKE}
    for workspace, said in [
        ("relative/dir", "workspace: an absolute path of a directory"),
        (str(tmp_path / "missing"), f"workspace: {tmp_path / 'missing'} is not a directory"),
        (7, "workspace: an absolute path of a directory"),
    ]:
        response = h.api("POST", "/servers", {**body, "workspace": workspace})
        assert (response.status, error(response)) == (400, said)
    assert "extra" not in h.gateway.pools


def test_remove_a_workspaces_server(h: ApiHarness, tmp_path: Path) -> None:
    """Removed without naming its workspace when it has one; else the
    workspace must be named (?workspace=DIR)."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    body = {"name": "extra", "command": FAKE}
    assert h.api("POST", "/servers", {**body, "workspace": str(one)}).status == 201
    assert h.api("POST", "/servers", {**body, "workspace": str(two)}).status == 201
    ambiguous = h.api("DELETE", "/servers/extra")
    assert ambiguous.status == 409
    assert error(ambiguous) == (
        f"server 'extra' was added for 2 workspaces ({one}, {two}): say which (?workspace=DIR)"
    )
    named = h.api("DELETE", f"/servers/extra?workspace={two}")
    assert named.status == 200, named.body
    assert named.json() == {"removed": "extra", "workspace": str(two)}
    assert list(managedFile(h)["projects"]) == [str(one)]
    last = h.api("DELETE", "/servers/extra")
    assert last.json() == {"removed": "extra", "workspace": str(one)}
    assert managedFile(h)["projects"] == {}
    assert "extra" not in h.gateway.pools


# -- DELETE /servers/<name> -----------------------------------------------------------


def test_remove_server_added_through_the_api(h: ApiHarness) -> None:
    h.add("extra")
    _sid, proc = h.running("extra")
    response = h.api("DELETE", "/servers/extra")
    assert proc.stdinClosed  # its child is being stopped
    proc.exit(0)
    assert response.status == 200
    assert response.json() == {"removed": "extra"}
    assert "extra" not in h.gateway.pools
    assert managedFile(h)["mcpServers"] == {}
    assert h.api("GET", "/servers/extra").status == 404
    assert h.request("POST", "/extra/mcp", initializeBody()).status == 404


def test_remove_refuses_unknown_and_main_config_servers(h: ApiHarness) -> None:
    response = h.api("DELETE", "/servers/nope")
    assert response.status == 404
    assert error(response) == "no server named 'nope'"
    response = h.api("DELETE", "/servers/srv")
    assert response.status == 409
    assert error(response) == (
        f"server 'srv' comes from {h.stateDir.parent / 'config.json'}; remove it there,"
        " or disable it here (mcpgateway servers disable srv)"
    )
    assert "srv" in h.gateway.pools


# -- PATCH /servers/<name> ------------------------------------------------------------


def test_disable_stops_the_child_and_refuses_requests_without_spawning(h: ApiHarness) -> None:
    _sid, proc = h.running()
    response = h.api("PATCH", "/servers/srv", {"enabled": False})
    assert proc.stdinClosed
    assert not response.complete  # answered once the child is gone
    proc.exit(0)
    assert response.status == 200, response.body
    assert response.json()["state"] == "disabled"
    assert managedFile(h)["overrides"] == {"srv": {"disabled": True}}
    spawned = len(h.reactor.processes)
    answer = h.request("POST", "/srv/mcp", initializeBody())
    assert answer.status == 200
    assert answer.json()["error"]["message"] == "server 'srv' is disabled"
    assert len(h.reactor.processes) == spawned
    detail = h.api("GET", "/servers/srv").json()
    assert (detail["enabled"], detail["config"]["disabled"]) == (False, True)
    # Enabled again: served, a fresh child.
    assert h.api("PATCH", "/servers/srv", {"enabled": True}).json()["state"] == "stopped"
    h.initialize()
    assert len(h.reactor.processes) == spawned + 1


def test_patch_env_adds_to_the_server_env_and_never_shows_values(h: ApiHarness) -> None:
    response = h.api("PATCH", "/servers/srv", {"env": {"ANOTHER": SECRET}})
    assert response.status == 200, response.body
    assert managedFile(h)["overrides"]["srv"]["env"] == {"ANOTHER": SECRET}
    assert h.api("GET", "/servers/srv").json()["config"]["env"] == {
        "ANOTHER": "***",
        "SRV_KEY": "***",
    }
    h.initialize()
    env = h.reactor.spawned[-1][2]
    assert env is not None and env["ANOTHER"] == SECRET and env["SRV_KEY"] == SECRET


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"enabled": "no"}, 400, "enabled: must be true or false"),
        ({"env": {"LD_PRELOAD": "/x.so"}}, 400, "env: key(s) not allowed: LD_PRELOAD"),
        ({"env": {"DYLD_INSERT_LIBRARIES": "/x"}}, 400, "DYLD_INSERT_LIBRARIES"),
        ({"env": {"PYTHONPATH": "/x"}}, 400, "PYTHONPATH"),
        ({"env": {"A": 1}}, 400, "env: must be an object of string values"),
        ({"env": "A=1"}, 400, "env: must be an object of string values"),
        ({"disabled": True}, 400, "unknown field(s): disabled"),
        ({}, 400, "the body must be a JSON object with enabled and/or env"),
        ([], 400, "the body must be a JSON object"),
    ],
)
def test_patch_refuses_bad_bodies_naming_the_field(
    h: ApiHarness, body: Any, status: int, message: str
) -> None:
    refusedUnwritten(h, "PATCH", "/servers/srv", body, status, message)
    assert h.gateway.pools["srv"].status(0).state == "stopped"


def test_patch_refuses_unknown_servers_and_non_json(h: ApiHarness) -> None:
    response = h.api("PATCH", "/servers/nope", {"enabled": False})
    assert response.status == 404
    assert error(response) == "no server named 'nope'"
    response = h.api(
        "PATCH",
        "/servers/srv",
        raw=b"enabled=false",
        contentType="application/x-www-form-urlencoded",
    )
    assert response.status == 415
    response = h.api("PATCH", "/servers/srv", raw=b"{enabled: false}")
    assert response.status == 400
    assert "not valid JSON" in error(response)


# -- restart and reset-circuit ----------------------------------------------------------


def test_restart_stops_the_child_and_the_next_request_spawns_a_new_one(h: ApiHarness) -> None:
    sid, proc = h.running()
    response = h.api("POST", "/servers/srv/restart", contentType=None)
    assert proc.stdinClosed
    assert not response.complete  # answered once the child is gone
    proc.exit(0)
    assert response.status == 200
    assert response.json() == {"restarted": "srv", "stopped": [proc.originalPid]}
    kinds = [e["kind"] for e in h.gateway.pools["srv"].events.recent()]
    assert "restart" in kinds
    call = h.request(
        "POST", "/srv/mcp", {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session=sid
    )
    assert len(h.reactor.processes) == 2
    h.answerHandshake()
    forwarded = next(m for m in h.process().sentMessages() if m.get("method") == "tools/list")
    h.process().reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"tools": []}})
    assert call.events() == [{"jsonrpc": "2.0", "id": 2, "result": {"tools": []}}]


def test_restart_of_an_idle_server_and_of_an_unknown_one(h: ApiHarness) -> None:
    response = h.api("POST", "/servers/srv/restart", {})
    assert response.status == 200
    assert response.json() == {"restarted": "srv", "stopped": []}
    response = h.api("POST", "/servers/nope/restart")
    assert response.status == 404
    assert error(response) == "no server named 'nope'"


def test_restart_makes_the_catalog_wait_for_a_fresh_listing(h: ApiHarness) -> None:
    """What the server listed before its restart answers no client's
    start-up (its code may have changed): its next child lists it again."""
    _listThroughAProbe(h, [{"name": "echo", "inputSchema": {"type": "object"}}])
    listed = h.gateway.catalogs.get("srv")
    assert listed is not None and listed.entry
    response = h.api("POST", "/servers/srv/restart", contentType=None)
    h.process().exit(0)
    assert response.status == 200
    restarted = h.gateway.catalogs.get("srv")
    assert restarted is not None and not restarted.entry
    assert [t["name"] for t in restarted.items("tools")] == ["echo"]  # still listed


def test_reset_circuit_closes_an_open_circuit(h: ApiHarness) -> None:
    sid = h.initialize()
    pool = serverPoolOf(h.gateway.pools["srv"])
    for _ in range(5):
        proc = h.process()
        proc.stderr(b"fatal: no config\n")
        proc.exit(1)
        h.reactor.advance(pool.breaker.delay())
    assert (pool.status(0).state, pool.breaker.state) == ("error", "open")
    assert h.api("GET", "/servers/srv").json()["circuit"] == "open"
    spawned = len(h.reactor.processes)
    response = h.api("POST", "/servers/srv/reset-circuit")
    assert response.status == 200, response.body
    body = response.json()
    assert body["circuit"] == "closed" and body["state"] != "error"
    assert "circuit-reset" in [e["kind"] for e in pool.events.recent()]
    # The next request starts a child at once, no cool-down.
    h.request("POST", "/srv/mcp", {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, session=sid)
    assert len(h.reactor.processes) == spawned + 1
    response = h.api("POST", "/servers/nope/reset-circuit")
    assert response.status == 404


# -- logs -------------------------------------------------------------------------------


def test_logs_stream_recent_events_then_live_ones(h: ApiHarness) -> None:
    _sid, proc = h.running()
    proc.stderr(b"first line\n")
    stream = h.api("GET", "/servers/srv/logs", accept="text/event-stream")
    assert stream.status == 200
    assert stream.headers["content-type"] == "text/event-stream"
    assert not stream.complete
    recent = stream.events()
    assert [e["kind"] for e in recent] == ["started", "initialized", "stderr"]
    assert recent[-1]["text"] == "first line"
    proc.stderr(b"second line\n")
    live = stream.events()[len(recent) :]
    assert [(e["kind"], e["text"]) for e in live] == [("stderr", "second line")]
    assert h.api("GET", "/servers/srv").json()["name"] == "srv"
    h.reactor.advance(15)
    assert b": keep-alive" in stream.transport.value()
    # The client goes away: the listener is gone, the slot is free again.
    events = h.gateway.pools["srv"].events
    assert events.listeners == 1 and len(h.apiApp.logStreams) == 1
    stream.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
    assert events.listeners == 0 and h.apiApp.logStreams == set()
    proc.stderr(b"nobody listens\n")


def test_logs_without_follow_answer_the_recent_events_as_json(h: ApiHarness) -> None:
    _sid, proc = h.running()
    for index in range(120):
        proc.stderr(b"line %d\n" % index)
    response = h.api("GET", "/servers/srv/logs?follow=false")
    assert response.status == 200
    body = response.json()
    assert body["server"] == "srv"
    assert len(body["events"]) == 100
    assert body["events"][-1] == {"time": 0, "kind": "stderr", "text": "line 119"}
    head = h.api("HEAD", "/servers/srv/logs")
    assert head.status == 200 and head.headers["content-type"] == "application/json"
    assert h.apiApp.logStreams == set()  # HEAD opens no stream
    response = h.api("GET", "/servers/srv/logs?follow=maybe")
    assert response.status == 400
    assert error(response) == "follow: must be true or false, not 'maybe'"


def test_logs_of_an_unknown_server_is_404(h: ApiHarness) -> None:
    response = h.api("GET", "/servers/nope/logs")
    assert response.status == 404
    assert error(response) == "no server named 'nope'"


def test_the_21st_concurrent_log_stream_is_refused(h: ApiHarness) -> None:
    h.add("extra")
    streams = [h.api("GET", f"/servers/{'srv' if i % 2 else 'extra'}/logs") for i in range(20)]
    assert all(s.status == 200 and not s.complete for s in streams)
    refused = h.api("GET", "/servers/srv/logs")
    assert refused.status == 503
    assert "too many log streams: 20 are open" in error(refused)
    assert refused.headers["retry-after"] == "5"
    assert h.api("GET", "/servers/srv/logs?follow=false").status == 200
    streams[0].protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
    assert h.api("GET", "/servers/srv/logs").status == 200


def test_a_log_stream_ends_when_its_server_is_removed(h: ApiHarness) -> None:
    h.add("extra")
    _sid, proc = h.running("extra")
    stream = h.api("GET", "/servers/extra/logs")
    assert not stream.complete
    h.api("DELETE", "/servers/extra")
    proc.exit(0)
    assert stream.complete
    assert [e["kind"] for e in stream.events()][-2:] == ["exited", "removed"]
    assert stream.events()[-1]["text"] == "server 'extra' was removed"
    assert h.apiApp.logStreams == set()


def test_a_log_stream_follows_its_server_through_a_reload(h: ApiHarness) -> None:
    _sid, proc = h.running()
    stream = h.api("GET", "/servers/srv/logs")
    old = h.gateway.pools["srv"]
    children = len(h.reactor.processes)
    # Only the environment changes: the same pool, its idle child restarted.
    patched = h.api("PATCH", "/servers/srv", {"env": {"MORE": SECRET}})
    assert patched.status == 200
    assert h.gateway.pools["srv"] is old
    proc.exit(0)
    assert len(h.reactor.processes) == children + 1  # the gateway started the new one
    h.process().stderr(b"from the new child\n")
    assert stream.events()[-1]["text"] == "from the new child"
    assert not stream.complete


def test_a_log_stream_follows_its_server_into_a_new_pool(h: ApiHarness) -> None:
    h.add("extra")
    stream = h.api("GET", "/servers/extra/logs")
    old = h.gateway.pools["extra"]
    managed = managedFile(h)
    managed["mcpServers"]["extra"]["args"] = ["-m", "extra", "--more"]  # another program
    (h.stateDir / "servers.json").write_text(json.dumps(managed))
    h.configService.reload()
    assert h.gateway.pools["extra"] is not old
    h.reactor.advance(1)
    assert stream.events()[-1]["kind"] == "reconfigured"
    assert old.events.listeners == 0
    assert not stream.complete


def test_a_log_stream_notices_a_removal_by_a_config_reload(h: ApiHarness) -> None:
    h.add("extra")
    stream = h.api("GET", "/servers/extra/logs")
    (h.stateDir / "servers.json").write_text(json.dumps({"mcpServers": {}}))
    h.configService.reload()
    assert "extra" not in h.gateway.pools
    assert not stream.complete
    h.reactor.advance(1)
    assert stream.complete
    assert stream.events()[-1]["kind"] == "removed"


# -- tools ------------------------------------------------------------------------------


def _listThroughAProbe(
    h: ApiHarness, tools: list[dict[str, Any]] | None, error: bool = False
) -> None:
    """Have the catalogs probe server C{srv}; its child lists C{tools}
    (or answers tools/list with an error)."""
    done = h.gateway.catalogs.refresh(h.gateway.pools["srv"])
    h.answerHandshake()
    proc = h.process()
    listed = [m for m in proc.sentMessages() if m.get("method") == "tools/list"][-1]
    if error:
        proc.reply(
            {"jsonrpc": "2.0", "id": listed["id"], "error": {"code": -32000, "message": "broken"}}
        )
    else:
        proc.reply({"jsonrpc": "2.0", "id": listed["id"], "result": {"tools": tools}})
    assert done.called


def test_tools_come_from_the_catalogs_named_as_mcp_names_them(h: ApiHarness) -> None:
    h.add("extra")
    assert h.api("GET", "/tools").json() == {"tools": []}  # nothing listed yet
    _listThroughAProbe(
        h,
        [
            {"name": "echo", "description": "says it back", "inputSchema": {"type": "object"}},
            {"name": "add", "inputSchema": {"type": "object"}},
            {"name": "x" * 60, "inputSchema": {"type": "object"}},
        ],
    )
    response = h.api("GET", "/tools")
    assert response.status == 200
    tools = response.json()["tools"]
    named = [(t["name"], t["server"]) for t in tools]
    assert named[:2] == [("srv__echo", "srv"), ("srv__add", "srv")]
    # A long name is shortened with its hash, as /mcp lists it (48 characters).
    assert len(named[2][0]) == 48 and named[2][1] == "srv"
    assert tools[0]["description"] == "says it back"


def test_tools_leave_out_a_server_that_could_not_be_listed(h: ApiHarness) -> None:
    _listThroughAProbe(h, None, error=True)
    response = h.api("GET", "/tools")
    assert response.status == 200
    assert response.json() == {"tools": []}


# -- unknown paths and methods ----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope",
        "/api/v1/servers/srv/nope",
        "/api/v2/health",
        "/api",
        "/api/v1/servers/srv/restart/again",
    ],
)
def test_unknown_paths_are_json_404s(h: ApiHarness, path: str) -> None:
    response = h.request("GET", path)
    assert response.status == 404
    assert "no such API endpoint" in error(response)
    assert "GET /api/v1/health" in response.json()["routes"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/servers", ["GET", "HEAD", "POST"]),
        ("DELETE", "/servers", ["GET", "HEAD", "POST"]),
        ("POST", "/servers/srv", ["DELETE", "GET", "HEAD", "PATCH"]),
        ("GET", "/servers/srv/restart", ["POST"]),
        ("POST", "/health", ["GET", "HEAD"]),
        ("DELETE", "/tools", ["GET", "HEAD"]),
    ],
)
def test_wrong_methods_are_json_405s(
    h: ApiHarness, method: str, path: str, allowed: list[str]
) -> None:
    response = h.api(method, path, {})
    assert response.status == 405
    assert error(response) == f"method {method} is not allowed on /api/v1{path}"
    assert response.json()["allowed"] == allowed
    assert response.headers["allow"] == ", ".join(allowed)


# -- who may call it --------------------------------------------------------------------


def test_a_foreign_origin_is_refused(h: ApiHarness) -> None:
    response = h.api("GET", "/servers", headers={"origin": "https://evil.example"})
    assert response.status == 403
    response = h.api(
        "POST",
        "/servers",
        {"name": "evil", "command": FAKE},
        headers={"origin": "http://evil.example:9100"},
    )
    assert response.status == 403
    assert "evil" not in h.gateway.pools
    assert h.api("GET", "/servers", headers={"origin": "http://localhost:3000"}).status == 200


def test_the_api_resource_checks_origin_and_peer_wherever_it_is_mounted(tmp_path: Path) -> None:
    h = ApiHarness(tmp_path / "state", loopbackOnly=False)
    h.site.resource = h.apiApp.resource()  # no GatewayRoot in front of it
    response = h.api("GET", "/servers", headers={"origin": "https://evil.example"})
    assert response.status == 403
    assert "Origin 'https://evil.example' is not allowed" in error(response)
    response = h.api("GET", "/servers", peer="10.1.2.3")
    assert response.status == 403
    assert "loopback clients only" in error(response)
    assert h.api("GET", "/servers").status == 200


def test_a_remote_peer_needs_a_token(tmp_path: Path) -> None:
    h = ApiHarness(tmp_path / "state", loopbackOnly=False)
    assert h.api("GET", "/health", peer="192.168.1.20").status == 403
    h = ApiHarness(tmp_path / "state", token=TOKEN, loopbackOnly=False)
    assert h.api("GET", "/health", peer="192.168.1.20").status == 401
    response = h.api(
        "GET", "/health", peer="192.168.1.20", headers={"authorization": f"Bearer {TOKEN}"}
    )
    assert response.status == 200


MISSING_CHALLENGE = 'Bearer realm="mcpgateway"'
REFUSED_CHALLENGE = (
    'Bearer realm="mcpgateway", error="invalid_token", error_description="the API token was'
    " refused: it is not this gateway's --api-token (the CLI sends $MCPGATEWAY_API_TOKEN)\""
)


@pytest.mark.parametrize(
    ("authorization", "wrong"),
    [
        (None, False),
        ("Bearer wrong", True),
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}x", True),
        ("Bearer", False),
        (f"{TOKEN}", False),
    ],
)
def test_with_a_token_every_route_needs_it(
    tmp_path: Path, logged: list[Any], authorization: str | None, wrong: bool
) -> None:
    """No token is 401 without an error (RFC 6750 §3.1); a wrong one is 401
    invalid_token, "the API token was refused"."""
    h = ApiHarness(tmp_path / "state", token=TOKEN)
    headers = {"authorization": authorization} if authorization else {}
    for method, path, body in [
        ("GET", "/health", None),
        ("GET", "/servers", None),
        ("GET", "/servers/srv", None),
        ("GET", "/tools", None),
        ("GET", "/servers/srv/logs", None),
        ("POST", "/servers", {"name": "x", "command": FAKE}),
        ("PATCH", "/servers/srv", {"enabled": False}),
        ("DELETE", "/servers/srv", None),
        ("POST", "/servers/srv/restart", None),
        ("POST", "/servers/srv/reset-circuit", None),
        ("GET", "/nope", None),
    ]:
        response = h.api(method, path, body, headers=headers)
        assert response.status == 401, (method, path)
        if wrong:
            assert response.headers["www-authenticate"] == REFUSED_CHALLENGE
            assert error(response).startswith("the API token was refused")
        else:
            assert response.headers["www-authenticate"] == MISSING_CHALLENGE
            assert "needs Authorization: Bearer" in error(response)
    assert set(h.gateway.pools) == {"srv"} and not h.gateway.pools["srv"].disabled
    assert not (h.stateDir / "servers.json").exists()
    why = "a wrong bearer token" if wrong else "no bearer token"
    assert any(e.get("why") == why for e in logged if "api: refused" in e.get("log_format", ""))
    assertNoSecrets(h)


def test_with_the_right_token_the_routes_answer(tmp_path: Path, logged: list[Any]) -> None:
    h = ApiHarness(tmp_path / "state", token=TOKEN)
    auth = {"authorization": f"Bearer {TOKEN}"}
    assert h.api("GET", "/health", headers=auth).status == 200
    assert h.api("GET", "/servers", headers=auth).status == 200
    assert h.api("POST", "/servers", {"name": "extra", "command": FAKE}, headers=auth).status == 201
    assert h.api("PATCH", "/servers/extra", {"enabled": False}, headers=auth).status == 200
    assert (
        h.api(
            "GET",
            "/servers/extra/logs?follow=false",
            headers={"authorization": f"bearer  {TOKEN} "},
        ).status
        == 200
    )
    assert h.api("DELETE", "/servers/extra", headers=auth).status == 200
    assertNoSecrets(h)


def test_changes_are_logged_without_env_values(h: ApiHarness, logged: list[Any]) -> None:
    h.add("extra")
    h.api("PATCH", "/servers/extra", {"env": {"MORE": SECRET}, "enabled": False})
    h.api("DELETE", "/servers/extra")
    formats = [e.get("log_format", "") for e in logged]
    assert "api: server {server} added by {by}" in formats
    assert "api: server {server} changed ({fields}) by {by}" in formats
    assert "api: server {server} removed by {by}" in formats
    changed = [
        e
        for e in logged
        if e.get("log_format") == "api: server {server} changed ({fields}) by {by}"
    ]
    assert changed[0]["fields"] == "enabled, env"
    assert changed[0]["by"] == "the owner" and changed[0]["principal"] == ""


def test_an_unexpected_error_is_a_json_500_and_logged(
    h: ApiHarness, logged: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(h.management, "servers", broken)
    response = h.api("GET", "/servers")
    assert response.status == 500
    assert error(response) == "internal error in the gateway (RuntimeError); see its log"
    assert any(e.get("log_format") == "api: {method} {path} failed" for e in logged)


def test_a_server_named_api_keeps_its_mcp_endpoint(tmp_path: Path) -> None:
    h = ApiHarness(tmp_path / "state", mainServers={"api": {"command": FAKE}})
    h.initialize("api")
    assert len(h.reactor.processes) == 1
    assert [s["name"] for s in h.api("GET", "/servers").json()["servers"]] == ["api"]


# -- hostile input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 2000 + b"]" * 2000,  # was a RecursionError: a 500 with a traceback
        b'{"name":' * 400 + b"1" + b"}" * 400,
        b'{"name":"x","requestTimeout":' + b"9" * 2000 + b"}",
        b'{"name":"x","requestTimeout":NaN}',
        b'{"name":"x","requestTimeout":1e999}',
        b'{"name":"\\ud800","command":"x"}',
    ],
)
def test_a_hostile_body_is_a_400_not_a_500(h: ApiHarness, logged: list[Any], raw: bytes) -> None:
    response = h.request("POST", "/api/v1/servers", raw=raw)
    assert response.status == 400
    assert error(response).startswith("the body is not valid JSON")
    assert not [e for e in logged if "log_failure" in e]
    assert "x" not in h.gateway.pools


def test_a_path_that_is_not_utf8_never_reaches_klein(h: ApiHarness, logged: list[Any]) -> None:
    for path in ("/api/v1/servers/%ff", "/api/v1/%ed%a0%80/restart"):
        response = h.request("GET", path)
        assert response.status == 400
    assert not [e for e in logged if "log_failure" in e]


JSON_VALUES = jsonValues(leaves=6)
SERVER_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        key: JSON_VALUES
        for key in ("name", "command", "args", "env", "cwd", "mode", "requestTimeout", "disabled")
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=JSON_VALUES | SERVER_FIELDS, method=st.sampled_from(["POST", "PATCH"]))
def test_bodies_of_every_json_shape_never_give_a_500(
    tmp_path: Path, body: Any, method: str
) -> None:
    harness = ApiHarness(tmp_path / "state")
    with capturedGatewayLogs() as events:
        path = "/servers" if method == "POST" else "/servers/srv"
        response = harness.api(method, path, body)
    assert response.status < 500, response.body
    assert response.headers["content-type"] == "application/json"
    assert not [e for e in events if "log_failure" in e]


def test_a_workspace_is_never_the_home_its_settings_or_the_system(
    h: ApiHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workspace is where a workspace-scoped child may write: the API
    refuses, naming why, one that is the root, the home, a directory above
    the home, a dot-folder of the home or a folder in one, the state
    directory (what holds it and what it holds), a shared temporary
    directory or a system directory, so nothing that reaches the API can
    hand a child the user's C{.bashrc}, C{~/.config} or C{~/.ssh}."""
    home = tmp_path / "home"
    for folder in ("project", ".config/app", ".ssh", "code/.hidden"):
        (home / folder).mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    state = h.stateDir
    (state / "inside").mkdir(parents=True, exist_ok=True)
    body = {"name": "extra", "command": FAKE}
    refused = {
        "/": "is the root",
        str(home): "is your home",
        str(state): "is the gateway's state directory or inside it",
        str(state / "inside"): "is the gateway's state directory or inside it",
        str(tmp_path): "holds your home",
        str(home / ".config"): "is in ~/.config, a dot-folder of your home",
        str(home / ".config" / "app"): "is in ~/.config, a dot-folder of your home",
        str(home / ".ssh"): "is in ~/.ssh, a dot-folder of your home",
        "/etc": "is a system directory",
        "/usr/share": "is a system directory",
        "/proc": "is a system directory",
    }
    for workspace, why in refused.items():
        response = h.api("POST", "/servers", {**body, "workspace": workspace})
        assert response.status == 400, (workspace, response.body)
        assert error(response).startswith(f"workspace: {workspace} {why}"), error(response)
        assert error(response).endswith(": name the project's own directory")
    assert "extra" not in h.gateway.pools
    for index, fine in enumerate([home / "project", home / "code" / ".hidden"]):
        added = h.api("POST", "/servers", {**body, "name": f"extra{index}", "workspace": str(fine)})
        assert added.status == 201, added.body


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/home", "holds your home"),
        ("/home/me/.local/share/x", "is in ~/.local"),
        ("/home/me/src/app", None),
        ("/var/lib/me/app", "is a system directory"),
        ("/var/tmp/app", None),
        ("/var/tmp", "is a temporary directory"),
        ("/dev/shm", "is a temporary directory"),
        ("/var/log", "is a system directory"),
        ("/opt/tool", "is a system directory"),
        ("/srv/project", None),
        ("/tmp", "is a temporary directory every account shares"),
        ("/srv", "holds the gateway's state directory"),
    ],
)
def test_what_makes_a_workspace_too_wide(path: str, why: str | None) -> None:
    found = wideWorkspace(path, "/home/me", "/srv/mcpgateway/state")
    assert (found is None) == (why is None), found
    if why is not None:
        assert found is not None and found.startswith(why)
    assert wideWorkspace("/var/lib/me/app", "/var/lib/me", "/var/lib/me/.mcpgateway") is None


def test_share_undoes_a_promotion(tmp_path: Path) -> None:
    """C{POST /servers/NAME/share} (C{mcpgateway servers share NAME}) takes
    the server's record out of C{promotions.json} and reloads: the server
    has the share of its entry again; a server not promoted is told so."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    record = {"share": "session", "at": time.time(), "why": "a sampling nobody owned"}
    (state / "promotions.json").write_text(
        json.dumps({"version": 1, "servers": {"srv": record, "other": record}})
    )
    h = ApiHarness(state)
    before = h.api("GET", "/servers/srv").json()
    assert before["share"] == "session" and before["promoted"], before
    shared = h.api("POST", "/servers/srv/share")
    assert shared.status == 200, shared.body
    assert shared.json() == {
        "shared": "srv",
        "promoted": {"share": "session", "why": "a sampling nobody owned"},
    }
    after = h.api("GET", "/servers/srv").json()
    assert after["share"] == "global" and not after.get("promoted"), after
    kept = json.loads((state / "promotions.json").read_text())["servers"]
    assert list(kept) == ["other"]  # another server's promotion stays
    again = h.api("POST", "/servers/srv/share")
    assert again.json() == {"shared": "srv", "promoted": None}
    assert h.api("POST", "/servers/nope/share").status == 404
