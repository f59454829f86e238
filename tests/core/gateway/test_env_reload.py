"""A change of a user's server's environment alone, through the real reload
path: the config service (its poll of the gateway's C{<state-dir>/.env},
its watch of the config file) rebuilds the specs, and the gateway
reconfigures its pools from them (README, "The config file").

A shared child is restarted with the new environment at its next idle
moment and its sessions carry on (their subscriptions and log level are
given to the new child); a session's own child keeps its environment until
its session ends and new sessions get the new one; a change of command or
args still ends the sessions. An C{npx}/C{uvx} server keeps its resolved
binary and gets the new environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import succeed
from twisted.internet.task import Clock

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.lostchild import NOTICE_KEY
from mcpgateway.core.pools.placement import SessionPlacement
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.protocol import jsonrpc
from tests.fakes import capturedGatewayLogs
from tests.reloading import initialize
from tests.support.core.env_reload import FakeResolver, Home, replaced, result
from tests.support.core.pools.pool import serverPoolOf

RESTARTING = "server {server}: its environment changed; restarting its child pid {pid}"


def restarting(events: list[Any]) -> list[Any]:
    return [e for e in events if e.get("log_format") == RESTARTING]


def startedSharing(home: Home, share: str, placement: type) -> tuple[Gateway, ServerPool]:
    """Start C{home}'s gateway with server pw shared as C{share}; the
    gateway and pw's pool, whose placement is a C{placement}."""
    home.document["mcpServers"]["pw"] = {"command": home.exe, "share": share}
    gateway = home.start()
    pool = gateway.pools["pw"]
    assert isinstance(pool, ServerPool) and isinstance(pool.placement, placement)
    return gateway, pool


def test_a_state_dir_env_change_restarts_the_shared_child_when_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway's .env changes while a call is in flight: nothing ends;
    once the call is answered the child is restarted with the new
    environment (initialized by the gateway, given back the subscriptions
    and log level), and the sessions carry on on it. No env value is
    logged."""
    home = Home(tmp_path, monkeypatch, "TOKEN=first-secret\n")
    gateway, pool = startedSharing(home, "global", SharedPlacement)
    a, old = home.open()
    b, same = home.open()
    assert same is old and old.env is not None and old.env["TOKEN"] == "first-secret"
    assert home.call(a, "resources/subscribe", {"uri": "file:///notes"})["result"]
    assert home.call(b, "logging/setLevel", {"level": "debug"})["result"]
    busy = home.send(b, "tools/call", {"name": "slow"})
    [inFlight] = old.takeMessages()

    with capturedGatewayLogs() as events:
        home.envChanged("TOKEN=second-secret\n")
        assert replaced(events) == [] and restarting(events) == []
        assert gateway.pools["pw"] is pool and home.alive(a) and home.alive(b)
        assert not old.stdinClosed  # b's call first
        spawned = len(home.reactor.processes)
        old.reply(jsonrpc.resultResponse(inFlight["id"], {"done": True}))
    assert result(busy) == jsonrpc.resultResponse(7, {"done": True})
    [said] = restarting(events)
    assert (said["server"], said["pid"]) == ("pw", old.originalPid)
    assert old.stdinClosed
    assert not any("secret" in repr(event) for event in events)
    [new] = home.reactor.processes[spawned:]
    assert new.env is not None and new.env["TOKEN"] == "second-secret"
    told = home.answerInitialize(new)
    assert {(m["method"], json.dumps(m["params"])) for m in told} == {
        ("resources/subscribe", json.dumps({"uri": "file:///notes"})),
        ("logging/setLevel", json.dumps({"level": "debug"})),
    }
    assert home.alive(a) and home.alive(b)
    assert home.processOf(a) is new and home.processOf(b) is new
    # The old child served both (a subscribe, a call): each is told once it is new.
    told = {"ok": "tools/list", "_meta": {NOTICE_KEY: True}}
    assert home.call(a) == jsonrpc.resultResponse(7, told)
    assert home.call(a) == jsonrpc.resultResponse(7, {"ok": "tools/list"})
    assert pool.breaker.totalFailures == 0  # a restart, not a crash


def test_an_entry_env_change_restarts_the_shared_child_at_once_when_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entry's own env changes (the config file is edited), the child
    is idle: restarted now, the session carries on. The same edit made
    twice, or undone, restarts nothing more."""
    home = Home(tmp_path, monkeypatch)
    home.document["mcpServers"]["pw"] = {"command": home.exe, "env": {"MODE": "a"}}
    gateway = home.start()
    pool = gateway.pools["pw"]
    session, old = home.open()
    with capturedGatewayLogs() as events:
        home.document["mcpServers"]["pw"]["env"] = {"MODE": "b"}
        home.edited()
    assert replaced(events) == [] and gateway.pools["pw"] is pool
    assert [e["pid"] for e in restarting(events)] == [old.originalPid]
    assert old.stdinClosed and home.alive(session)
    new = home.reactor.lastProcess
    assert new is not old and new.env is not None and new.env["MODE"] == "b"
    home.answerInitialize(new)
    assert home.call(session) == jsonrpc.resultResponse(7, {"ok": "tools/list"})
    # Changed and changed back while busy: nothing to restart.
    busy = home.send(session, "tools/call")
    [sent] = new.takeMessages()
    with capturedGatewayLogs() as events:
        home.document["mcpServers"]["pw"]["env"] = {"MODE": "c"}
        home.edited()
        home.document["mcpServers"]["pw"]["env"] = {"MODE": "b"}
        home.edited()
        new.reply(jsonrpc.resultResponse(sent["id"], {}))
    assert "result" in result(busy)
    assert restarting(events) == [] and replaced(events) == []
    assert not new.stdinClosed and home.reactor.lastProcess is new


def test_the_projects_that_use_the_users_entry_carry_on_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Projects whose entry is the user's (Claude Code's adoption): their
    routes share the user's child, and their sessions carry on with it."""
    home = Home(tmp_path, monkeypatch, "TOKEN=1\n")
    entry = {"command": home.exe}
    home.document["mcpServers"]["pw"] = entry
    project = tmp_path / "P"
    project.mkdir()
    home.document["projects"][str(project)] = {"mcpServers": {"pw": dict(entry)}}
    gateway = home.start()
    pool = gateway.pools["pw"]
    assert (
        isinstance(pool, ServerPool)
        and isinstance(pool.placement, SharedPlacement)
        and pool.spec.variants
    )
    user, old = home.open()
    inProject, same = home.open(scope=home.keys.key(str(project)))
    assert same is old
    with capturedGatewayLogs() as events:
        home.envChanged("TOKEN=2\n")
    assert replaced(events) == [] and gateway.pools["pw"] is pool
    assert [e["pid"] for e in restarting(events)] == [old.originalPid]
    assert home.alive(user) and home.alive(inProject)
    new = home.reactor.lastProcess
    assert new.env is not None and new.env["TOKEN"] == "2"
    home.answerInitialize(new)
    assert home.call(inProject) == jsonrpc.resultResponse(7, {"ok": "tools/list"})
    assert home.processOf(user) is new


def test_an_env_change_while_the_shared_child_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child being started when the env changes finishes its start
    (the session waiting for it is answered), then is restarted."""
    home = Home(tmp_path, monkeypatch, "TOKEN=1\n")
    home.document["mcpServers"]["pw"] = {"command": home.exe}
    gateway = home.start()
    session, answer = gateway.opener.openSession("pw", initialize(), "2025-11-25")
    starting = home.reactor.lastProcess
    with capturedGatewayLogs() as events:
        home.envChanged("TOKEN=2\n")
        assert not starting.stdinClosed
        home.answerInitialize(starting)
        assert "result" in result(answer)
        home.reactor.advance(0)
    assert [e["pid"] for e in restarting(events)] == [starting.originalPid]
    assert starting.stdinClosed and home.alive(session)
    new = home.reactor.lastProcess
    assert new.env is not None and new.env["TOKEN"] == "2"
    home.answerInitialize(new)
    assert home.call(session) == jsonrpc.resultResponse(7, {"ok": "tools/list"})


def test_a_per_session_server_keeps_its_childrens_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each session's child keeps running as it is (its session carries
    on); a session opened after the change gets the new environment."""
    home = Home(tmp_path, monkeypatch, "TOKEN=1\n")
    gateway, pool = startedSharing(home, "session", SessionPlacement)
    session, proc = home.open()
    with capturedGatewayLogs() as events:
        home.envChanged("TOKEN=2\n")
        home.document["mcpServers"]["pw"]["env"] = {"MODE": "b"}
        home.edited()
    assert replaced(events) == [] and gateway.pools["pw"] is pool
    kept = [e for e in events if "keep their own child" in e.get("log_format", "")]
    assert [e["count"] for e in kept] == [1, 1]
    assert home.alive(session) and not proc.stdinClosed
    assert home.call(session) == jsonrpc.resultResponse(7, {"ok": "tools/list"})
    _, later = home.open()
    assert later is not proc and later.env is not None
    assert (later.env["TOKEN"], later.env["MODE"]) == ("2", "b")


def test_a_change_of_args_still_ends_the_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path, monkeypatch)
    home.document["mcpServers"]["pw"] = {"command": home.exe, "env": {"MODE": "a"}}
    home.start()
    session, proc = home.open()
    with capturedGatewayLogs() as events:
        home.document["mcpServers"]["pw"] = {"command": home.exe, "args": ["--other"]}
        home.edited()
    assert [e["server"] for e in replaced(events)] == ["pw"]
    assert not home.alive(session) and proc.stdinClosed


@pytest.mark.parametrize("later", [False, True])
def test_an_npx_server_keeps_its_resolved_binary_with_the_new_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, later: bool
) -> None:
    """The child runs the binary npx resolved to, with the environment in
    force: changed after the resolution (the running child restarts) or
    while it was still under way."""
    resolver = FakeResolver(later)
    home = Home(tmp_path, monkeypatch, "TOKEN=1\n", resolver)
    home.document["mcpServers"]["pw"] = {
        "command": str(home.bin / "npx"),
        "args": ["-y", "pkg"],
    }
    gateway = home.start()
    if later:
        home.envChanged("TOKEN=2\n")
        [(spec, pending)] = resolver.pending
        pending.callback(resolver.resolved(spec))  # resolved from the old spec
        _, proc = home.open()
    else:
        session, old = home.open()
        assert old.executable == "/cache/real"
        home.envChanged("TOKEN=2\n")
        assert old.stdinClosed and home.alive(session)
        proc = home.reactor.lastProcess
        home.answerInitialize(proc)
    assert (proc.executable, proc.args[1:]) == ("/cache/real", ["--real"])
    assert proc.env is not None and proc.env["TOKEN"] == "2"
    assert serverPoolOf(gateway.pools["pw"]).launchSpec.command == "/cache/real"


def test_the_env_watch_runs_no_timer_while_no_file_is_in_use() -> None:
    from mcpgateway.config.envfiles import EnvFile
    from mcpgateway.config.envwatch import EnvWatch

    clock = Clock()
    watch = EnvWatch(clock, 5.0, lambda f: succeed(f()), lambda: succeed(None), lambda w: None)
    watch.start()
    assert clock.getDelayedCalls() == []
    watch.files = {"/x/.env": EnvFile("/x/.env")}
    assert [c.getTime() for c in clock.getDelayedCalls()] == [5.0]
    watch.files = {}
    assert clock.getDelayedCalls() == []
    watch.files = {"/x/.env": EnvFile("/x/.env")}
    watch.stop()
    assert clock.getDelayedCalls() == []
