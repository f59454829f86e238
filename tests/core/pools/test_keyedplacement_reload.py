"""A server defined in projects, through the real reload path: the config
service (its .env poll and its file watch) rebuilds the specs, and the
gateway reconfigures its pools from them (docs/guide/scopes.md). A workspace's
.env change restarts only that workspace's child at its next idle moment
and its sessions carry on; a project adding or removing the server changes
only that project's route; a change of an entry's own command ends the
sessions it concerns, as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpgateway.core.pools.keyedplacement import KeyedPlacement
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.protocol import jsonrpc
from tests.fakes import capturedGatewayLogs
from tests.reloading import initialize, write
from tests.support.core.pools.keyedplacement_reload import Home, reconfigured


def test_a_workspace_env_change_restarts_only_its_child_and_its_sessions_carry_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported path: pw in P, Q, R (no user entry); Q's .env
    changes; P's and Q's sessions carry on, Q's on a new child."""
    home = Home(tmp_path, monkeypatch)
    projects = [home.project(n, f"FOO={n}\n") for n in ("P", "Q", "R")]
    for project in projects:
        home.define(project, {"command": home.exe, "envFrom": ["FOO"]})
    P, Q, _ = projects
    gateway = home.start()
    pool = gateway.pools["pw"]
    p, procP = home.open(P)
    q, procQ = home.open(Q)
    assert procQ.env is not None and procQ.env["FOO"] == "Q"
    restarted = []
    for project in projects:  # whichever sorts first: each one's .env
        with capturedGatewayLogs() as events:
            write(project / ".env", f"FOO={project.name}2\n")
            home.poll()
        assert reconfigured(events) == []
        assert gateway.pools["pw"] is pool
        assert home.alive(p) and home.alive(q)
        restarted += [e for e in events if "environment of workspace" in e.get("log_format", "")]
    # R had no child: nothing to restart.
    assert [(e["routes"], e["pid"]) for e in restarted] == [
        (home.keys.key(str(P)), procP.pid),
        (home.keys.key(str(Q)), procQ.pid),
    ]
    assert procP.stdinClosed and procQ.stdinClosed  # idle: restarted at once
    assert home.call(q) == jsonrpc.resultResponse(7, {"tools": []})
    newQ = home.processOf(q)
    assert newQ is not procQ and newQ.env is not None and newQ.env["FOO"] == "Q2"
    assert newQ.path == str(Q)


def test_a_workspace_env_change_with_expanded_vars_keeps_the_other_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry whose args expand from the workspace's .env (so even the
    entry, expanded, differs per workspace)."""
    home = Home(tmp_path, monkeypatch)
    P, Q = home.project("P", "FOO=p\n"), home.project("Q", "FOO=q\n")
    for project in (P, Q):
        home.define(project, {"command": home.exe, "args": ["--foo=${FOO}"]})
    gateway = home.start()
    p, procP = home.open(P)
    q, procQ = home.open(Q)
    busy = gateway.pools["pw"].forward(q, jsonrpc.request(3, "tools/call"), None)
    [sent] = procQ.takeMessages()
    for project in (P, Q):
        with capturedGatewayLogs() as events:
            write(project / ".env", "FOO=new\n")
            home.poll()
        assert reconfigured(events) == []
    assert home.alive(p) and home.alive(q)
    assert procP.stdinClosed and not procQ.stdinClosed  # Q's child finishes its call first
    procQ.reply(jsonrpc.resultResponse(sent["id"], {"ok": True}))
    assert home.successResult(busy) == jsonrpc.resultResponse(3, {"ok": True})
    assert procQ.stdinClosed
    home.call(q)
    assert home.processOf(q).args[1:] == ["--foo=new"]


def test_adding_and_removing_a_project_changes_only_its_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `claude mcp add` and `claude mcp remove` do in one project: the
    other projects' sessions carry on (their children too), whichever
    project's key sorts first."""
    home = Home(tmp_path, monkeypatch)
    names = ["P", "Q", "R", "S", "T"]
    projects = {n: home.project(n, f"FOO={n}\n") for n in names}
    # The first two by key, and the rest: adding the one that sorts first
    # changes which variant comes first.
    byKey = sorted(names, key=lambda n: home.keys.key(str(projects[n])))
    first, kept, later = byKey[0], byKey[1], byKey[2:]
    for name in [kept, *later]:
        home.define(projects[name], {"command": home.exe})
    gateway = home.start()
    pool = gateway.pools["pw"]
    opened = {name: home.open(projects[name]) for name in [kept, *later]}
    with capturedGatewayLogs() as events:
        # It sorts first now, with an entry of its own (another program).
        home.define(projects[first], {"command": home.exe + "2"})
        home.edited()
    assert reconfigured(events) == []
    assert gateway.pools["pw"] is pool
    assert all(home.alive(s) and not proc.stdinClosed for s, proc in opened.values())
    opened[first] = home.open(projects[first])
    gone = later[0]
    with capturedGatewayLogs() as events:
        home.undefine(projects[gone])
        home.undefine(projects[first])  # the first variant goes too
        home.edited()
    assert reconfigured(events) == []
    assert gateway.pools["pw"] is pool
    ended = {name for name, (s, _) in opened.items() if not home.alive(s)}
    assert ended == {gone, first}
    assert opened[gone][1].stdinClosed and opened[first][1].stdinClosed
    routeGone = [e for e in events if "has no route {scope}" in e.get("log_format", "")]
    assert len(routeGone) == 2
    for name in [kept, *later[1:]]:
        session, proc = opened[name]
        assert not proc.stdinClosed
        assert home.call(session) == jsonrpc.resultResponse(7, {"tools": []})


def test_a_change_of_a_projects_entry_restarts_only_that_routes_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project's own entry changed (another command): its route's child
    restarts at its next idle moment with the new entry, its sessions carry
    on there (a 404 would make Claude Code give the server up); the other
    routes are untouched, whichever of them sorts first."""
    home = Home(tmp_path, monkeypatch)
    P, Q = home.project("P"), home.project("Q")
    for project in (P, Q):
        home.define(project, {"command": home.exe})
    gateway = home.start()
    pool = gateway.pools["pw"]
    opened = {P: home.open(P), Q: home.open(Q)}
    for changed, unchanged in ((P, Q), (Q, P)):
        session, proc = opened[changed]
        other, otherProc = opened[unchanged]
        with capturedGatewayLogs() as events:
            home.define(changed, {"command": home.exe + "2"})
            home.edited()
        assert reconfigured(events) == []
        assert gateway.pools["pw"] is pool
        assert home.alive(session) and home.alive(other)
        [said] = [e for e in events if "entry of workspace" in e.get("log_format", "")]
        assert (said["routes"], said["pid"]) == (home.keys.key(str(changed)), proc.pid)
        assert proc.stdinClosed and not otherProc.stdinClosed
        home.call(session)
        opened[changed] = (session, home.processOf(session))
        assert opened[changed][1].executable == home.exe + "2"


def test_the_user_entry_and_project_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a user entry: a project's .env change or a project added moves
    nothing else; a change of the user's own entry ends the server's
    sessions as before."""
    home = Home(tmp_path, monkeypatch)
    P, Q = home.project("P", "FOO=p\n"), home.project("Q", "FOO=q\n")
    home.document["mcpServers"]["pw"] = {"command": home.exe, "args": ["--user"]}
    home.define(P, {"command": home.exe})
    gateway = home.start()
    pool = gateway.pools["pw"]
    assert isinstance(pool, ServerPool) and isinstance(pool.placement, KeyedPlacement)
    user, _ = gateway.opener.openSession("pw", initialize(), "2025-11-25")
    home.handshake(home.reactor.lastProcess)
    p, _ = home.open(P)
    with capturedGatewayLogs() as events:
        write(P / ".env", "FOO=p2\n")
        home.poll()
        home.define(Q, {"command": home.exe})
        home.edited()
    assert reconfigured(events) == []
    assert gateway.pools["pw"] is pool
    assert home.alive(user) and home.alive(p)
    home.open(Q)
    with capturedGatewayLogs() as events:
        home.document["mcpServers"]["pw"]["env"] = {"MODE": "other"}  # the user's own env
        home.edited()
    assert [e["server"] for e in reconfigured(events)] == ["pw"]
    assert not home.alive(user) and not home.alive(p)


def test_a_session_scoped_project_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each session owns its child: a .env change or another project added
    ends none of them (sessions opened later get the new environment); a
    project removing the server ends the sessions of its route."""
    home = Home(tmp_path, monkeypatch)
    P, Q, R = (home.project(n, f"FOO={n}\n") for n in ("P", "Q", "R"))
    for project in (P, Q):
        home.define(project, {"command": home.exe, "share": "session", "envFrom": ["FOO"]})
    gateway = home.start()
    pool = gateway.pools["pw"]
    p, procP = home.open(P)
    q, procQ = home.open(Q)
    with capturedGatewayLogs() as events:
        for project in (P, Q):
            write(project / ".env", "FOO=new\n")
            home.poll()
        home.define(R, {"command": home.exe, "share": "session", "envFrom": ["FOO"]})
        home.edited()
    assert reconfigured(events) == []
    assert gateway.pools["pw"] is pool
    assert home.alive(p) and home.alive(q)
    assert not procP.stdinClosed and not procQ.stdinClosed
    _, later = home.open(P)
    assert later.env is not None and later.env["FOO"] == "new"
    with capturedGatewayLogs() as events:
        home.undefine(Q)
        home.edited()
    assert reconfigured(events) == []
    assert home.alive(p) and not home.alive(q)
    assert procQ.stdinClosed and not procP.stdinClosed


def test_the_user_removing_their_entry_removes_only_the_keyless_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path, monkeypatch)
    P = home.project("P", "FOO=p\n")
    home.document["mcpServers"]["pw"] = {"command": home.exe, "args": ["--user"]}
    home.define(P, {"command": home.exe})
    gateway = home.start()
    pool = gateway.pools["pw"]
    user, _ = gateway.opener.openSession("pw", initialize(), "2025-11-25")
    home.handshake(home.reactor.lastProcess)
    p, procP = home.open(P)
    with capturedGatewayLogs() as events:
        del home.document["mcpServers"]["pw"]
        home.edited()
    assert reconfigured(events) == []
    assert gateway.pools["pw"] is pool
    assert not home.alive(user) and home.alive(p) and not procP.stdinClosed
