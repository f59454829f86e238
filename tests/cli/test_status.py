"""C{mcpgateway status}: the one screen, its JSON, and the warnings about
config entries pointing at a gateway that cannot serve or restore them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import __version__
from mcpgateway.cli.output import LEGEND
from mcpgateway.cli.status import renderStatus
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.runtime import portuse
from mcpgateway.runtime.paths import USER_BACKUP
from tests.cli.support import (
    HEALTH,
    SESSIONS,
    WITH_BROKEN,
    Cli,
    FakeGateway,
    claudeJson,
    deadPid,
    freePort,
    writeBackup,
    writeState,
)

# -- status -----------------------------------------------------------------------------


def test_status_shows_one_screen(running: FakeGateway, cli: Cli) -> None:
    running.answers["/health"] = (200, WITH_BROKEN)
    code, out, err = cli("status")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert (
        lines[0]
        == f"mcpgateway {__version__} running: pid {os.getpid()}, port {running.port}, up 1h 02m"
    )
    assert lines[1] == "  4 servers, 3 children, 231 requests, 3 sessions, 56 MB"
    # No config file: the demo is served as it is; the other clients' files
    # are the ones rewritten.
    assert lines[2] == (
        "  config the bundled demo, and every other client's file found"
        " (rewritten to point at the gateway)"
    )
    serena = next(line for line in lines if "serena" in line)
    assert serena.startswith("  ◆ serena    session  ")  # "mode": "stateful", read as its share
    assert "2 children" in serena and "89 reqs" in serena
    assert "2 sessions" in serena and "1 in flight" in serena and "2 restarts" in serena
    assert "      ! route them exactly" in lines
    broken = next(line for line in lines if "broken" in line)
    assert broken.startswith("  ● broken    global   ") and "not found on PATH" in broken
    assert "  3 sessions from 2 clients: pid 4242 (2), unknown client (1)" in lines
    assert lines[-1] == f"  {LEGEND}"
    assert not any("stateless" in line or "stateful" in line for line in lines)
    assert running.requests == ["/health", "/sessions"]


def test_status_names_and_marks_each_server_by_its_share(stateDir: Path) -> None:
    """A gateway that sends C{"share"}; its C{"mode"} (C{stateless} for
    workspace and credential alike) is not what the line says."""
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    line = {**HEALTH["servers"]["context7"], "mode": "stateless"}
    health = {
        "servers": {
            "a": {**line, "share": "global"},
            "b": {**line, "share": "workspace", "maxChildren": 16},
            "c": {**line, "share": "credential", "maxChildren": 4},
            "d": {**HEALTH["servers"]["serena"], "share": "session"},
        }
    }
    rows = [row for row in renderStatus(found, health, []) if row[4:6] in ("a ", "b ", "c ", "d ")]
    assert [row[:21] for row in rows] == [
        "  ● a  global      ru",
        "  ◐ b  workspace   ru",
        "  ◔ c  credential  ru",
        "  ◆ d  session     ru",
    ]
    assert "1/16 children" in rows[1] and "1/4 children" in rows[2]


AGGREGATE_SESSIONS = [
    *SESSIONS["sessions"],
    {
        "id": "d",
        "server": "/mcp",
        "clientPid": 5151,
        "mode": "aggregate",
        "members": ["serena", "context7"],
    },
    {"id": "e", "server": "/mcp", "clientPid": 5151, "mode": "aggregate", "members": ["serena"]},
    {"id": "f", "server": "/mcp/search", "clientPid": None, "mode": "aggregate", "members": []},
]


def test_status_counts_the_aggregate_endpoints_sessions_on_lines_of_their_own(
    running: FakeGateway, cli: Cli
) -> None:
    """The gateway's line counts every session of C{/sessions}; those of the
    aggregate endpoint (C{/mcp}) belong to no server: a line per endpoint
    says how many, so the sessions column adds up to the count above."""
    running.answers["/sessions"] = (200, {"sessions": AGGREGATE_SESSIONS})
    code, out, _ = cli("status")
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "  3 servers, 3 children, 231 requests, 6 sessions, 56 MB"
    at = lines.index(
        "  ● tavily       global      idle         0 children         0 reqs  0 sessions"
    )
    assert lines[at + 1 : at + 3] == [
        "    /mcp         aggregate                                           2 sessions"
        "  · using context7, serena (not in their counts)",
        "    /mcp/search  aggregate                                           1 session",
    ]
    servers = [int(line.split(" reqs  ")[1].split()[0]) for line in lines if " reqs  " in line]
    assert servers == [1, 2, 0] and sum(servers) + 2 + 1 == 6  # the member sessions: in none
    assert "  6 sessions from 3 clients: pid 4242 (2), pid 5151 (2), unknown client (2)" in lines


def test_status_without_aggregate_sessions_has_no_aggregate_line(stateDir: Path) -> None:
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    lines = renderStatus(found, HEALTH, SESSIONS["sessions"])
    assert not any(line.startswith("    /mcp") for line in lines)
    many = {**AGGREGATE_SESSIONS[3], "members": [f"s{i}" for i in range(7)]}
    lines = renderStatus(found, {"servers": {}}, [many])
    assert lines[lines.index("  (no servers configured)") + 1].split() == [
        "/mcp", "aggregate", "1", "session", "·", "using", "s0,", "s1,", "s2,", "s3,", "s4",
        "and", "2", "more", "(not", "in", "their", "counts)",
    ]  # fmt: skip


def test_status_json(stateDir: Path, running: FakeGateway, cli: Cli) -> None:
    code, out, _ = cli("status", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["running"] is True
    assert document["pid"] == os.getpid()
    assert document["port"] == running.port
    assert document["health"] == HEALTH
    assert document["stateDir"] == str(stateDir)
    assert document["sessions"] == SESSIONS["sessions"]


def test_status_when_not_running(stateDir: Path, cli: Cli) -> None:
    code, out, _ = cli("status")
    assert (code, out) == (1, "mcpgateway is not running\n")
    writeState(stateDir, deadPid(), 9100)
    code, out, _ = cli("status", "--json")
    document = json.loads(out)
    assert (code, document["running"], document["stale"]) == (1, False, True)


def test_status_when_the_gateway_does_not_answer(stateDir: Path, locked: None, cli: Cli) -> None:
    writeState(stateDir, os.getpid(), freePort())
    code, out, _ = cli("status")
    assert code == 1
    assert "running" in out and "no answer from" in out
    assert "Traceback" not in out


def test_render_status_without_servers_or_sessions(stateDir: Path) -> None:
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100, "config": "/c.json"})
    lines = renderStatus(found, {"servers": {}, "uptime": 5}, [])
    assert lines[0] == "mcpgateway ? running: pid 7, port 9100, up 5s"
    assert "  (no servers configured)" in lines
    assert "  no sessions" in lines


def test_status_shows_refused_requests_without_a_warning_text(stateDir: Path) -> None:
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    server = {**HEALTH["servers"]["context7"], "ambiguousServerRequests": 2}
    lines = renderStatus(found, {"servers": {"everything": server}}, [])
    assert (
        "      ! 2 server-to-client requests refused: no way to tell which session they"
        ' belong to; run it per session ("share": "session")'
    ) in lines


def test_status_counts_the_tasks_under_the_gateways_line(running: FakeGateway, cli: Cli) -> None:
    tasks = {"working": 2, "input_required": 1, "completed": 5, "failed": 1, "cancelled": 0}
    running.answers["/health"] = (200, {**HEALTH, "tasks": tasks})
    code, out, _ = cli("status")
    lines = out.splitlines()
    assert code == 0
    assert lines[1] == "  3 servers, 3 children, 231 requests, 3 sessions, 56 MB"
    assert lines[2] == "  tasks: 2 running, 1 waiting for input, 5 done, 1 failed"
    assert lines[3].startswith("  config ")
    document = json.loads(cli("status", "--json")[1])
    assert document["health"]["tasks"] == tasks


def test_status_says_nothing_of_tasks_while_the_gateway_keeps_none(stateDir: Path) -> None:
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    zero = dict.fromkeys(("working", "input_required", "completed", "failed", "cancelled"), 0)
    for health in (HEALTH, {**HEALTH, "tasks": zero}, {**HEALTH, "tasks": "odd"}):
        assert not any("tasks" in line for line in renderStatus(found, health, []))
    cancelled = {**zero, "completed": 1, "cancelled": 2, "failed": True}  # a bool is no count
    lines = renderStatus(found, {**HEALTH, "tasks": cancelled}, [])
    assert "  tasks: 0 running, 0 waiting for input, 1 done, 0 failed, 2 cancelled" in lines


# -- status: entries pointing at a gateway that cannot serve or restore them -------------


def test_status_is_loud_about_entries_no_gateway_serves_and_no_backup_restores(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(9100)))
    code, out, _ = cli("status")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "mcpgateway is not running"
    assert lines[1] == (
        "  ! 2 entries point at http://127.0.0.1:9100, where the gateway is not running, and"
        f" no usable backup holds their originals (there is no {stateDir / USER_BACKUP}):"
        " `mcpgateway restore` cannot put them back"
    )
    assert lines[2].startswith("    → re-add a, c (project /work/p) with `claude mcp add")
    code, out, _ = cli("status", "--json")
    document = json.loads(out)
    assert document["running"] is False
    client = document["clientConfig"]
    assert client["path"] == str(home / ".claude.json")
    assert client["viaGateway"] == ["a", "c (project /work/p)"]
    assert client["backup"] == {"path": str(stateDir / USER_BACKUP), "servers": None, "error": None}
    assert client["problem"]["message"] == lines[1].removeprefix("  ! ")


def test_status_names_the_way_out_when_a_backup_can_restore(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(9100)))
    writeBackup(stateDir, home / ".claude.json")
    code, out, _ = cli("status")
    assert code == 1
    assert out.splitlines() == [
        "mcpgateway is not running",
        "  ! 2 entries point at http://127.0.0.1:9100, where the gateway is not running",
        "    → run `mcpgateway start` to serve them again, or `mcpgateway restore` to put the"
        " stdio entries back",
    ]


def test_status_says_another_account_listens_where_the_entries_point(
    stateDir: Path, home: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway that died left its port to whoever takes it: the user's
    clients talk to that account's process, and restore comes first."""
    monkeypatch.setattr(portuse, "foreignListener", lambda port, host="127.0.0.1": "uid 1002, bob")
    (home / ".claude.json").write_text(json.dumps(claudeJson(9100)))
    writeBackup(stateDir, home / ".claude.json")
    code, out, _ = cli("status")
    assert code == 1
    assert out.splitlines() == [
        "mcpgateway is not running",
        "  ! 2 entries point at http://127.0.0.1:9100, where the gateway is not running, and"
        " another account's process (uid 1002, bob) listens there: your clients talk to it",
        "    → `mcpgateway restore` now, to put the stdio entries back; then `mcpgateway start"
        " --port PORT` with another port",
    ]


def test_status_of_a_running_gateway_whose_backup_is_gone(
    stateDir: Path, home: Path, running: FakeGateway, cli: Cli
) -> None:
    (home / ".claude.json").write_text(json.dumps(claudeJson(running.port)))
    code, out, _ = cli("status")
    assert code == 0
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  config "))
    assert lines[at + 1] == (
        f"  ! 2 entries point at http://127.0.0.1:{running.port}, and no usable backup holds"
        f" their originals (there is no {stateDir / USER_BACKUP}): `mcpgateway restore`"
        " cannot put them back"
    )
    assert lines[at + 2].startswith("    → re-add a, c (project /work/p)")
    writeBackup(stateDir, home / ".claude.json")
    code, out, _ = cli("status")
    assert " ! " not in out.replace("      ! route them exactly", "")
    document = json.loads(cli("status", "--json")[1])
    assert document["clientConfig"]["problem"] is None
    assert document["clientConfig"]["backup"]["servers"] == 3


def test_status_without_a_config_says_nothing_more(cli: Cli) -> None:
    code, out, _ = cli("status", "--json")
    assert code == 1
    client = json.loads(out)["clientConfig"]
    assert client["exists"] is False and client["viaGateway"] == []
    assert client["problem"] is None


def test_status_names_each_child_started_anew_with_why() -> None:
    from mcpgateway.cli.status import restartSummary

    anew = [
        {"server": "files", "pid": 4711, "why": "its warden was gone too"},
        {"server": "solo", "pid": 4712, "session": "ab12cd34", "why": "its entry changed"},
        {"server": "bad\x1b[31m", "pid": "x", "why": "ignored: not a record"},
    ]
    lines = restartSummary({"restart": {"kept": 1, "started": 2, "seconds": 0.4, "anew": anew}})
    assert lines == [
        "  restart: kept 1 running child with their memory, 2 started anew (handed over in 0.4 s)",
        "    started anew: files (pid 4711): its warden was gone too",
        "    started anew: solo (pid 4712, session ab12cd34): its entry changed",
    ]
    assert restartSummary({}) == []


def test_the_clients_without_a_session_stand_beside_the_sessions(stateDir: Path) -> None:
    """MCP 2026-07-28 clients open no session: each server's line counts
    those that used it lately beside its sessions, and the line of the
    sessions by client adds the most any server counts (one client may
    use several servers)."""
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    servers = HEALTH["servers"]
    health = {
        **HEALTH,
        "servers": {
            "context7": {**servers["context7"], "sessions": 0, "era2026Clients": 3},
            "tavily": {**servers["tavily"], "era2026Clients": 2},
            "serena": servers["serena"],
        },
    }
    lines = renderStatus(found, health, [])
    context7 = next(line for line in lines if "context7" in line)
    assert context7.endswith("0 sessions · 3 clients without a session (2026-07-28)")
    serena = next(line for line in lines if "serena" in line)
    assert "without a session" not in serena
    assert "  no sessions; at least 3 clients without a session (2026-07-28)" in lines
    sessions = SESSIONS["sessions"][:1]
    assert (
        "  1 session from 1 client: pid 4242 (1); at least 3 clients without a session (2026-07-28)"
    ) in renderStatus(found, health, sessions)
    assert (
        "  sessions by client not shown (GET /sessions needs an admin's token);"
        " at least 3 clients without a session (2026-07-28)"
    ) in renderStatus(found, health, None)


def test_a_team_gateways_sessions_are_counted_by_principal_and_client_name() -> None:
    """On a team gateway a client's pid names nothing: its sessions are
    counted by the principal's key and the client's name."""
    from mcpgateway.cli.status import _sessionLine

    sessions: list[dict[str, Any]] = [
        {"clientPid": None, "principal": "dvskob54uvjvr2nm", "client": "claude-code"},
        {"clientPid": None, "principal": "dvskob54uvjvr2nm", "client": "claude-code"},
        {"clientPid": None, "principal": "k2l7x0aa11bb22cc", "client": "cursor"},
        {"clientPid": 4242, "principal": "", "client": "codex"},
    ]
    assert _sessionLine(sessions) == (
        "  4 sessions from 3 clients: pid 4242 (1),"
        " principal dvskob54uvjvr2nm claude-code (2), principal k2l7x0aa11bb22cc cursor (1)"
    )
