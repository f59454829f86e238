"""A server defined in projects, through the real reload path: the config
service (its .env poll and its file watch) rebuilds the specs, and the
gateway reconfigures its pools from them (docs/guide/scopes.md). A workspace's
.env change restarts only that workspace's child at its next idle moment
and its sessions carry on; a project adding or removing the server changes
only that project's route; a change of an entry's own command ends the
sessions it concerns, as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.config.source import ENV_POLL, ConfigService, ConfigSettings
from mcpgateway.config.watched import PlainFile
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.gateway import Gateway
from mcpgateway.core.pools.scoped import ScopedPool
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.reloading import initialize, inline, write

SECRET = bytes(range(32))
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}},
    "serverInfo": {"name": "pw", "version": "1"},
}


class Home:
    """A home with projects, a config file listing them, a config service
    watching it and a gateway it reloads (its children fake processes)."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        for command in ("pw", "pw2"):
            exe = self.bin / command
            exe.write_text("#!/bin/sh\n")
            exe.chmod(0o755)
        self.exe = str(self.bin / "pw")
        self.stateDir = tmp_path / "state"
        self.stateDir.mkdir()
        self.config = tmp_path / "claude.json"
        self.document: dict[str, Any] = {"mcpServers": {}, "projects": {}}
        self.keys = WorkspaceKeys(SECRET)
        self.clock = Clock()
        self.reactor = FakeProcessReactor()
        self.gateway: Gateway | None = None
        self.service = ConfigService(
            PlainFile(self.config),
            self.stateDir,
            self.clock,
            None,
            inline,
            self.reload,
            ConfigSettings(environ={"PATH": str(self.bin)}, keys=lambda: self.keys),
        )
        monkeypatch.setattr(self.service.files, "watchWithInotify", lambda paths: False)

    def reload(self, specs: Any) -> Deferred[Any]:
        assert self.gateway is not None
        return self.gateway.reconfigure(specs)

    def project(self, name: str, dotenv: str | None = None) -> Path:
        path = self.root / name
        path.mkdir()
        if dotenv is not None:
            (path / ".env").write_text(dotenv)
        return path

    def define(self, project: Path, entry: dict[str, Any], server: str = "pw") -> None:
        servers = self.document["projects"].setdefault(str(project), {"mcpServers": {}})
        servers["mcpServers"][server] = entry

    def undefine(self, project: Path, server: str = "pw") -> None:
        del self.document["projects"][str(project)]["mcpServers"][server]

    def save(self) -> None:
        write(self.config, json.dumps(self.document))

    def start(self) -> Gateway:
        self.save()
        specs = self.service.specs(self.service.source.load())
        self.gateway = Gateway(specs, fakeSpawner(self.reactor), lazyStart=False)
        self.gateway.start()
        self.service.startService()
        return self.gateway

    def edited(self) -> None:
        """The config file was written: the file poll sees it, the debounce passes."""
        self.save()
        self.clock.advance(2.0)
        self.clock.advance(1.0)

    def poll(self) -> None:
        """The .env poll looks."""
        self.clock.advance(ENV_POLL)

    def open(self, project: Path, server: str = "pw") -> tuple[Session, FakeProcess]:
        assert self.gateway is not None
        spawned = len(self.reactor.processes)
        session, answer = self.gateway.openSession(
            server, initialize(), "2025-11-25", scope=self.keys.key(str(project))
        )
        if len(self.reactor.processes) > spawned:
            self.handshake(self.reactor.lastProcess)
        assert "result" in self.successResult(answer)
        return session, self.processOf(session)

    def handshake(self, proc: FakeProcess) -> list[dict[str, Any]]:
        """The child answers its initialize; what it got next (but the
        gateway's C{notifications/initialized} to a shared child)."""
        [init] = proc.takeMessages()
        assert init["method"] == "initialize"
        proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        initialized = jsonrpc.notification("notifications/initialized")
        return [m for m in proc.takeMessages() if m != initialized]

    def successResult(self, d: Deferred[Any]) -> Any:
        results: list[Any] = []
        d.addBoth(results.append)
        [result] = results
        return result

    def processOf(self, session: Session) -> FakeProcess:
        assert self.gateway is not None
        pid = self.gateway.pools[session.server].childPid(session)
        [proc] = [p for p in self.reactor.processes if p.pid == pid and pid is not None]
        return proc

    def alive(self, session: Session) -> bool:
        assert self.gateway is not None
        return self.gateway.sessions.get(session.id) is session

    def call(self, session: Session) -> dict[str, Any]:
        """A request of C{session} (its child started first if needed): the answer."""
        assert self.gateway is not None
        spawned = len(self.reactor.processes)
        pool = self.gateway.pools[session.server]
        d = pool.forward(session, jsonrpc.request(7, "tools/list"), None)
        rest = []
        if len(self.reactor.processes) > spawned:
            rest = self.handshake(self.reactor.lastProcess)
        proc = self.processOf(session)
        [sent] = rest + proc.takeMessages()
        proc.reply(jsonrpc.resultResponse(sent["id"], {"tools": []}))
        result: dict[str, Any] = self.successResult(d)
        return result


def reconfigured(events: list[Any]) -> list[Any]:
    """The events saying a whole server was replaced (every session ended)."""
    return [e for e in events if "ending its sessions" in e.get("log_format", "")]


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
    assert isinstance(pool, ScopedPool)
    user, _ = gateway.openSession("pw", initialize(), "2025-11-25")
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
    user, _ = gateway.openSession("pw", initialize(), "2025-11-25")
    home.handshake(home.reactor.lastProcess)
    p, procP = home.open(P)
    with capturedGatewayLogs() as events:
        del home.document["mcpServers"]["pw"]
        home.edited()
    assert reconfigured(events) == []
    assert gateway.pools["pw"] is pool
    assert not home.alive(user) and home.alive(p) and not procP.stdinClosed
