"""The /health and /sessions bodies, rendered from the read model: each key
in its place, and the same body wherever it is served."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.config.problems import ConfigProblems, InvalidEntry, RefusedFile
from mcpgateway.core.spec import ServerSpec, Sharing
from mcpgateway.core.status import (
    ChildStatus,
    GatewayStatus,
    Lifecycle,
    Resolution,
    SessionStatus,
    TaskCounts,
)
from mcpgateway.report.health import (
    HIDDEN,
    exitOf,
    healthBody,
    healthLine,
    serverLine,
    sessionRow,
    sessionsBody,
)
from tests.core.tasks.support import keptTasks, serveTasks
from tests.support.core.era2026.no_traffic import NO_ERA2026_TRAFFIC
from tests.support.report.era2026 import ERA2026_STATS
from tests.support.report.status import gatewayStatus
from tests.support.web.api import FAKE, ApiHarness, initializeBody
from tests.support.web.health import CHILD, SERVER

SESSION = SessionStatus(
    id="sid",
    server="mem",
    clientPid=None,
    client={"odd": True},
    protocolVersion="2025-06-18",
    sharing=Sharing.PER_SESSION,
    childPid=None,
    created=1.5,
    lastActivity=2.5,
    inFlight=0,
    getStream=True,
)


def test_a_server_line_has_every_key_in_its_place() -> None:
    line = serverLine(SERVER)
    assert list(line) == [
        "mode",
        "share",
        "state",
        "children",
        "maxChildren",
        "pids",
        "scopes",
        "requests",
        "inFlight",
        "lateReplies",
        "restarts",
        "failures",
        "circuit",
        "ambiguousServerRequests",
        "poolWaits",
        "poolTimeouts",
        "evictions",
        "promoted",
        "era2026",
        "era2026Requests",
        "era2026Clients",
        "suspendedCalls",
        "inputRounds",
        "inputExpired",
        "badRequestStates",
        "listenStreams",
        "refusedServerRequests",
        "catalogStartups",
        "catalogAnswers",
        "warning",
        "resolution",
        "lastExit",
        "error",
    ]
    assert {k: v for k, v in line.items() if k != "warning"} == {
        "mode": "stateless",
        "share": "global",
        "state": "error",
        "children": 1,
        "maxChildren": 16,
        "pids": [4242],
        "scopes": {},
        "requests": 7,
        "inFlight": 2,
        "lateReplies": 1,
        "restarts": 2,
        "failures": 2,
        "circuit": "half-open",
        "ambiguousServerRequests": 1,
        "poolWaits": 0,
        "poolTimeouts": 0,
        "evictions": 0,
        "promoted": None,
        "era2026": True,
        **NO_ERA2026_TRAFFIC,
        "catalogStartups": 0,
        "catalogAnswers": 0,
        "resolution": {"state": "failed", "detail": "npx pkg: exited with code 1"},
        "lastExit": "exited with code 1",
        "error": "command 'npx' not found on PATH",
    }
    assert line["warning"] == SERVER.warning
    assert healthLine(SERVER) == {
        **line,
        "sessions": 4,
        "routes": [{"key": "", "path": "/mem/mcp"}],  # what mcpgateway start prints
    }
    assert "routes" not in healthLine(SERVER, detail=False)
    assert "secret-value" not in json.dumps(healthLine(SERVER))


def test_a_line_without_detail_holds_no_text_a_child_wrote_no_path_and_no_command() -> None:
    server = replace(
        SERVER,
        children=(replace(CHILD, lastExit="exited with code 3; last stderr: fatal: sk-live-1"),),
        resolution=Resolution("failed", "npm install failed: ENOTEMPTY /home/u/.state/npx/x"),
        error="server 'mem' is failing: 3 failure(s) (last: exited with code 3;"
        " last stderr: sk-live-1)",
    )
    line = serverLine(server, detail=False)
    full = serverLine(server)
    assert list(line) == list(full)  # the same keys, in the same places
    assert {k: v for k, v in line.items() if k not in ("resolution", "lastExit", "error")} == {
        k: v for k, v in full.items() if k not in ("resolution", "lastExit", "error")
    }
    assert line["resolution"] == {"state": "failed"}
    assert line["lastExit"] == "exited with code 3"
    assert line["error"] == HIDDEN  # still there: a client that reads "error" sees it failing
    text = json.dumps(healthLine(server, detail=False))
    assert "sk-live" not in text and "/home/u" not in text and "npx" not in text


@given(st.text(max_size=40))
@settings(max_examples=60)
def test_an_exit_reason_without_detail_is_the_gateways_own_words_only(written: str) -> None:
    for how in (
        "exited with code -9",
        "killed by signal 15",
        "vanished",
        "was stopped by the gateway",
    ):
        assert exitOf(f"{how}; last stderr: {written}") == how
    shown = exitOf(written)
    assert shown == "exited" or written.startswith(shown)
    assert shown in {"exited", "vanished", "was stopped by the gateway"} or shown.startswith(
        ("exited with code ", "killed by signal ", "closed its stdout")
    )


def test_a_body_without_detail_hides_the_catalogs_errors_and_says_so() -> None:
    status = GatewayStatus(
        version="1.0",
        pid=7,
        started=1.0,
        now=30.0,
        rssBytes=1000,
        servers=MappingProxyType({"mem": SERVER}),
        sessions=(SESSION,),
    )
    aggregate: dict[str, Any] = {
        "sessions": 0,
        "catalogs": {
            "mem": {"source": None, "error": "cannot resolve npx x (npm: /home/u/.npm)"},
            "ok": {"source": "live", "error": None},
        },
    }
    body = healthBody(status, aggregate=aggregate, detail=False)
    assert body["detail"] == "hidden"
    assert body["aggregate"]["catalogs"] == {
        "mem": {"source": None, "error": HIDDEN},
        "ok": {"source": "live", "error": None},
    }
    assert aggregate["catalogs"]["mem"]["error"].startswith("cannot")  # not changed in place
    assert body["servers"]["mem"] == healthLine(SERVER, detail=False)
    full = healthBody(status, aggregate=aggregate)
    assert "detail" not in full and full["aggregate"] is aggregate


def test_a_server_line_says_how_it_serves_era2026_clients() -> None:
    stats = ERA2026_STATS
    served = serverLine(replace(SERVER, era2026Stats=stats))
    assert {k: served[k] for k in list(served)[18:27]} == {
        "era2026": True,
        "era2026Requests": 9,
        "era2026Clients": 8,
        "suspendedCalls": 5,
        "inputRounds": 3,
        "inputExpired": 1,
        "badRequestStates": 2,
        "listenStreams": 4,
        "refusedServerRequests": 6,
    }
    refused = serverLine(replace(SERVER, era2026='its entry says "era2026": false'))
    assert refused["era2026"] == 'its entry says "era2026": false'


def test_the_health_and_sessions_bodies() -> None:
    status = gatewayStatus({"mem": SERVER}, (SESSION,), now=3.12345)
    assert healthBody(status) == {
        "status": "ok",
        "version": "9.9",
        "pid": 77,
        "uptime": 2.123,
        "rssBytes": None,
        "sessions": 1,
        "servers": {"mem": healthLine(SERVER)},
    }
    assert sessionsBody(status) == {"sessions": [sessionRow(SESSION)]}
    assert sessionRow(SESSION) == {
        "id": "sid",
        "server": "mem",
        "clientPid": None,
        "client": {"odd": True},
        "protocolVersion": "2025-06-18",
        "mode": "stateful",
        "scope": "",
        "credential": "",
        "principal": "",
        "childPid": None,
        "created": 1.5,
        "lastActivity": 2.5,
        "inFlight": 0,
        "getStream": True,
    }


def test_every_health_route_serves_the_same_body(tmp_path: Path) -> None:
    h = ApiHarness(
        tmp_path / "state",
        mainServers={"srv": {"command": FAKE}, "st": {"command": FAKE, "mode": "stateful"}},
    )
    h.initialize("srv")
    h.initialize("st")
    h.reactor.advance(2)
    bodies = [h.request("GET", path).json() for path in ("/health", "/api/v1/health")]
    for body in bodies:
        body.pop("rssBytes")  # read from /proc on each request
    assert bodies[0] == bodies[1]
    assert bodies[0]["servers"]["st"]["state"] == "running" and bodies[0]["sessions"] == 2
    summaries = h.request("GET", "/api/v1/servers").json()["servers"]
    assert [(s["name"], s["origin"]) for s in summaries] == [("srv", "config"), ("st", "config")]
    assert {
        s["name"]: {k: v for k, v in s.items() if k not in ("name", "origin")} for s in summaries
    } == bodies[0]["servers"]


WORKSPACE_A = "a" * 16
CREDENTIAL = "c" * 16


def test_a_scoped_server_line_shows_its_children_by_scope_key_and_never_a_path() -> None:
    spec = ServerSpec(
        name="fs", command="fs-server", cwd="/home/u/secret-project", mode="workspace"
    )
    children = (
        ChildStatus(4, Lifecycle.RUNNING, 1.0, 1, 0, 0, 0, None, None, ("",), 2),
        ChildStatus(5, Lifecycle.RUNNING, 1.0, 1, 1, 0, 0, None, None, (WORKSPACE_A,), 3),
        ChildStatus(None, Lifecycle.STOPPED, None, 1, 0, 0, 0, None, None, (CREDENTIAL,), 0),
        ChildStatus(6, Lifecycle.RUNNING, 1.0, 1, 0, 0, 0, None, "sid", (), 1),
    )
    server = replace(
        SERVER,
        name="fs",
        sharing=Sharing.WORKSPACE,
        children=children,
        spec=spec,
        maxChildren=4,
        waits=5,
        waitTimeouts=1,
        evictions=2,
        promoted="sampling/createMessage with 2 sessions in flight",
        error=None,
        resolution=None,
    )
    line = serverLine(server)
    assert line["mode"] == "stateless" and line["share"] == "workspace"
    assert line["children"] == 3 and line["maxChildren"] == 4
    assert line["scopes"] == {
        "global": {"pid": 4, "sessions": 2, "children": 1},
        WORKSPACE_A: {"pid": 5, "sessions": 3, "children": 1},
        CREDENTIAL: {"pid": None, "sessions": 0, "children": 0},  # stopped: none running
    }
    assert (line["poolWaits"], line["poolTimeouts"], line["evictions"]) == (5, 1, 2)
    assert line["promoted"] == "sampling/createMessage with 2 sessions in flight"
    assert "secret-project" not in json.dumps(line)
    row = sessionRow(replace(SESSION, scope=WORKSPACE_A, credential=CREDENTIAL))
    assert (row["scope"], row["credential"]) == (WORKSPACE_A, CREDENTIAL)


def test_a_route_served_by_several_credential_children_lists_each_under_its_credential() -> None:
    other = "d" * 16
    children = (
        ChildStatus(7, Lifecycle.RUNNING, 1.0, 1, 0, 0, 0, None, None, ("", CREDENTIAL), 2),
        ChildStatus(8, Lifecycle.RUNNING, 1.0, 1, 0, 0, 0, None, None, ("", other), 1),
    )
    line = serverLine(replace(SERVER, sharing=Sharing.CREDENTIAL, children=children))
    assert line["scopes"] == {
        "global": {"pid": None, "sessions": 3, "children": 2},
        CREDENTIAL: {"pid": 7, "sessions": 2, "children": 1},
        other: {"pid": 8, "sessions": 1, "children": 1},
    }


def test_a_scope_counts_its_running_children_only() -> None:
    """A child with no process is not a child of its scope (as it is not one
    of the server's C{"children"}): the pid is the running one's."""
    children = (
        ChildStatus(
            None, Lifecycle.STOPPED, None, 2, 0, 0, 0, "exited with code 1", None, ("",), 1
        ),
        ChildStatus(9, Lifecycle.RUNNING, 1.0, 1, 0, 0, 0, None, None, ("", CREDENTIAL), 2),
        ChildStatus(None, Lifecycle.STOPPED, None, 1, 0, 0, 0, None, None, (CREDENTIAL,), 0),
    )
    line = serverLine(replace(SERVER, sharing=Sharing.CREDENTIAL, children=children))
    assert line["children"] == 1 and line["pids"] == [9]
    assert line["scopes"] == {
        "global": {"pid": 9, "sessions": 3, "children": 1},
        CREDENTIAL: {"pid": 9, "sessions": 2, "children": 1},
    }


def test_after_a_crash_health_counts_no_child_in_any_scope(tmp_path: Path) -> None:
    """A server whose child died (then its circuit was
    reset) showed C{"children": 0, "pids": []} but C{"scopes": {"global":
    {"pid": null, "children": 1}}}."""
    h = ApiHarness(tmp_path / "state", mainServers={"crash": {"command": FAKE}})
    response = h.request("POST", "/crash/mcp", initializeBody())
    h.process().exit(1)  # before it answered its initialize
    assert response.status == 200 and response.json()["error"]["code"] == -32000
    reset = h.request("POST", "/api/v1/servers/crash/reset-circuit", body={})
    assert reset.status == 200, reset.body
    line = h.request("GET", "/health").json()["servers"]["crash"]
    assert (line["children"], line["pids"]) == (0, [])
    assert line["scopes"] == {"global": {"pid": None, "sessions": 0, "children": 0}}


def test_the_tasks_come_last_by_status_when_the_gateway_serves_them() -> None:
    status = gatewayStatus({"mem": SERVER})
    without = healthBody(status)
    assert "tasks" not in without
    counts = {"working": 2, "input_required": 1, "completed": 5, "failed": 1}
    served = replace(status, tasks=TaskCounts(MappingProxyType(counts), created=9))
    for detail in (True, False):  # counts only: the open figures show them too
        body = healthBody(served, detail=detail)
        assert list(body) == [*healthBody(status, detail=detail), "tasks"]
        assert list(body["tasks"].items()) == [
            ("working", 2),
            ("input_required", 1),
            ("completed", 5),
            ("failed", 1),
            ("cancelled", 0),
        ]


def test_every_health_route_shows_the_tasks(tmp_path: Path) -> None:
    h = ApiHarness(tmp_path / "state", mainServers={"srv": {"command": FAKE}})
    assert "tasks" not in h.request("GET", "/health").json()
    serveTasks(h.gateway, keptTasks(working=1, completed=3, cancelled=2))
    for path in ("/health", "/api/v1/health"):
        body = h.request("GET", path).json()
        assert list(body)[-1] == "tasks"
        assert body["tasks"] == {
            "working": 1,
            "input_required": 0,
            "completed": 3,
            "failed": 0,
            "cancelled": 2,
        }


PROBLEMS = ConfigProblems(
    (InvalidEntry("bad", "/h/.claude.json", "user scope", "'command' must be a non-empty string"),),
    (RefusedFile("/h/.cursor/mcp.json", "cursor", "/h/.cursor/mcp.json is not valid JSON"),),
)


def test_the_configs_problems_come_after_the_servers_with_detail_only() -> None:
    """Each entry not served and each client file not adopted, with its
    file and why: paths and the user's own words, for detail only; no key
    at all when there is nothing to say."""
    status = gatewayStatus({"mem": SERVER})
    plain = healthBody(status)
    body = healthBody(status, config=PROBLEMS)
    assert list(body) == [*plain, "config"]
    assert body["config"] == {
        "invalidEntries": [
            {
                "server": "bad",
                "file": "/h/.claude.json",
                "scope": "user scope",
                "why": "'command' must be a non-empty string",
            }
        ],
        "refusedFiles": [
            {
                "file": "/h/.cursor/mcp.json",
                "client": "cursor",
                "why": "/h/.cursor/mcp.json is not valid JSON",
            }
        ],
    }
    assert healthBody(status, config=ConfigProblems()) == plain
    assert "config" not in healthBody(status, config=PROBLEMS, detail=False)


def test_the_management_apis_health_shows_them_too(tmp_path: Path) -> None:
    h = ApiHarness(tmp_path / "state", mainServers={"srv": {"command": FAKE}, "bad": {}})
    body = h.request("GET", "/api/v1/health").json()
    assert [entry["server"] for entry in body["config"]["invalidEntries"]] == ["bad"]
    assert body["config"]["invalidEntries"][0]["file"] == str(tmp_path / "config.json")
