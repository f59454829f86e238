"""A project's entry equal to the user's entry of that name: adoption points
its clients at C{/<server>/mcp}, and its workspace route
C{/<server>~<key>/mcp} answers too, on the same child. A client adopted
before the user's entry was known (Claude Code before Cursor's user-scope
file) holds the workspace URL: it must keep working, and so must the
sessions on it when the user's entry appears later. Through the real reload
path (the config service rebuilds the specs, the gateway reconfigures its
pools), children fake processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred

from mcpgateway.core.era2026.types import Era2026Request
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.keyedplacement import KeyedPlacement
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.era2026form import SERVER_INFO_KEY
from tests.fakes import FakeProcess, capturedGatewayLogs
from tests.reloading import initialize
from tests.support.core.pools.keyedplacement_reload import Home, reconfigured


def shout(home: Home) -> dict[str, Any]:
    """The reported entry (its command the fake one)."""
    return {"command": home.exe, "args": ["-u", "pyshout.py"]}


def openAt(home: Home, scope: str) -> tuple[Session, FakeProcess, bool]:
    """A session of C{pw} at route C{scope}: it, its child, and whether
    opening it spawned that child."""
    gateway = home.gateway
    assert gateway is not None
    spawned = len(home.reactor.processes)
    session, answer = gateway.opener.openSession("pw", initialize(), "2025-11-25", scope=scope)
    new = len(home.reactor.processes) > spawned
    if new:
        home.handshake(home.reactor.lastProcess)
    assert "result" in home.successResult(answer)
    return session, home.processOf(session), new


def routeOf(gateway: Gateway, scope: str) -> Any:
    return gateway.pools["pw"].variantFor(scope)


def test_the_smoke_path_the_users_entry_appears_after_the_projects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claude Code's project entry is served first at its workspace route
    (the URL it was given); then Cursor's user entry, the same server,
    appears: the workspace route still answers, its session carries on
    (moved to the user's child), and both routes share that one child."""
    home = Home(tmp_path, monkeypatch)
    P = home.project("app", "FOO=ws\n")
    home.define(P, shout(home))
    gateway = home.start()
    key = home.keys.key(str(P))
    project, wsChild, _ = openAt(home, key)
    assert wsChild.path == str(P)
    with capturedGatewayLogs() as events:
        home.document["mcpServers"]["pw"] = shout(home)
        home.edited()
    assert reconfigured(events) == []  # no "server pw changed; ending its sessions"
    assert home.alive(project)
    assert routeOf(gateway, key) is not None  # the URL handed out still answers
    assert routeOf(gateway, key).childKey == routeOf(gateway, "").childKey
    assert wsChild.stdinClosed  # the workspace's child was idle: stopped at once
    assert home.call(project) == jsonrpc.resultResponse(7, {"tools": []})
    userChild = home.processOf(project)
    assert userChild is not wsChild and userChild.path is None
    assert userChild.env is not None and "FOO" not in userChild.env
    # Cursor's /pw/mcp and a new session at the workspace URL: the same child.
    user, child, spawned = openAt(home, "")
    assert (child, spawned) == (userChild, False)
    again, child, spawned = openAt(home, key)
    assert (child, spawned) == (userChild, False)
    assert home.alive(project) and home.alive(user) and home.alive(again)


def test_both_known_at_start_both_routes_one_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway started with both entries: /pw/mcp and /pw~<key>/mcp are
    served by one shared child (the plain shared pool), one process."""
    home = Home(tmp_path, monkeypatch)
    P = home.project("app", "FOO=ws\n")
    home.document["mcpServers"]["pw"] = shout(home)
    home.define(P, shout(home))
    gateway = home.start()
    assert isinstance(gateway.pools["pw"], ServerPool) and isinstance(
        gateway.pools["pw"].placement, SharedPlacement
    )
    key = home.keys.key(str(P))
    project, first, spawned = openAt(home, key)
    assert spawned and first.path is None
    user, child, spawned = openAt(home, "")
    assert (child, spawned) == (first, False)
    assert len(home.reactor.processes) == 1
    assert home.call(project) == jsonrpc.resultResponse(7, {"tools": []})
    assert home.call(user) == jsonrpc.resultResponse(7, {"tools": []})


def test_a_era2026_request_at_the_workspace_route_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2026-07-28 client at the workspace URL: the shared child answers."""
    home = Home(tmp_path, monkeypatch)
    P = home.project("app")
    home.document["mcpServers"]["pw"] = shout(home)
    home.define(P, shout(home))
    gateway = home.start()
    request = Era2026Request("d-1", "server/discover", {}, scope=home.keys.key(str(P)))
    described: Deferred[jsonrpc.Message] = gateway.pools["pw"].era2026.serve(
        request, lambda _: True
    )
    home.handshake(home.reactor.lastProcess)
    answer = home.successResult(described)
    assert isinstance(answer, dict) and answer["result"]["_meta"][SERVER_INFO_KEY]["name"] == "pw"
    assert len(home.reactor.processes) == 1


def test_an_equal_project_entry_added_later_ends_no_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's server runs with a session; a project adds the same entry
    (`claude mcp add` in it): the pool, its child and its session stay, and
    the new workspace route is that child."""
    home = Home(tmp_path, monkeypatch)
    P = home.project("app")
    home.document["mcpServers"]["pw"] = shout(home)
    gateway = home.start()
    pool = gateway.pools["pw"]
    user, child, _ = openAt(home, "")
    with capturedGatewayLogs() as events:
        home.define(P, shout(home))
        home.edited()
    assert reconfigured(events) == []
    assert gateway.pools["pw"] is pool and home.alive(user) and not child.stdinClosed
    project, same, spawned = openAt(home, home.keys.key(str(P)))
    assert (same, spawned) == (child, False) and home.alive(project)


def test_the_user_entry_removed_again_keeps_the_workspace_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the smoke path, the user's entry goes: its route's session ends,
    the workspace route's session carries on, back on a workspace child."""
    home = Home(tmp_path, monkeypatch)
    P = home.project("app", "FOO=ws\n")
    home.define(P, {**shout(home), "envFrom": ["FOO"]})
    gateway = home.start()
    key = home.keys.key(str(P))
    project, _, _ = openAt(home, key)
    home.document["mcpServers"]["pw"] = {**shout(home), "envFrom": ["FOO"]}
    home.edited()
    user, userChild, _ = openAt(home, "")
    assert isinstance(gateway.pools["pw"], ServerPool) and isinstance(
        gateway.pools["pw"].placement, KeyedPlacement
    )  # the pool it was started as
    with capturedGatewayLogs() as events:
        del home.document["mcpServers"]["pw"]
        home.edited()
    assert reconfigured(events) == []
    assert not home.alive(user) and home.alive(project)
    home.call(project)
    wsChild = home.processOf(project)
    assert wsChild is not userChild and wsChild.path == str(P)
    assert wsChild.env is not None and wsChild.env["FOO"] == "ws"


def test_the_users_child_made_for_the_workspace_route_claims_no_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's entry runs in a directory of its own: its child, even when
    the workspace route's session starts it, is the global route's child,
    whose roots/list is refused (its sessions' roots are their own), never
    answered with that directory as if it were a workspace."""
    home = Home(tmp_path, monkeypatch)
    P = home.project("app", "FOO=ws\n")  # its own child first: another env
    where = home.project("data")
    entry = {**shout(home), "cwd": str(where), "envFrom": ["FOO"]}
    home.define(P, dict(entry))
    home.start()
    project, wsChild, _ = openAt(home, home.keys.key(str(P)))
    home.document["mcpServers"]["pw"] = dict(entry)
    home.edited()
    home.call(project)  # moved: the user's child starts for the workspace route
    child = home.processOf(project)
    assert child is not wsChild and child.path == str(where)
    child.reply({"jsonrpc": "2.0", "id": "r1", "method": "roots/list"})
    [answer] = child.takeMessages()
    assert answer["id"] == "r1" and "error" in answer
