"""A change of an entry's C{"sandbox"} alone, through the real reload path
(the config service's watch of the file, the gateway's reconfiguration):
its children are replaced, as after a change of command, since a child
stays confined as it started (docs/guide/sandbox.md). A user's server is
replaced whole (its sessions end, the next one gets a child with the new
profile); a project's route gets a new child, its sessions carrying on;
the same profile written again restarts nothing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred

from mcpgateway.config.scopes import childKey
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.pool import sameServer
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import jsonrpc
from mcpgateway.sandbox.profile import parseSandbox
from tests.fakes import capturedGatewayLogs, fakeSpawner
from tests.reloading import write
from tests.support.core.env_reload import Home, replaced
from tests.support.core.pools import keyedplacement_reload as scoped

PROFILE = {"filesystem": {"allowRead": ["/data"]}}


class Confiner:
    """Records the profile each child is started with (as the sandbox would
    read it), confining none."""

    def __init__(self) -> None:
        self.profiles: list[dict[str, Any]] = []

    def command(
        self, spec: ServerSpec, argv: list[str], environ: Mapping[str, str]
    ) -> list[str] | None:
        self.profiles.append(spec.sandbox.toJson())
        return None

    def explain(self, spec: ServerSpec, line: str, environ: Mapping[str, str]) -> str | None:
        return None

    def spawned(self, spec: ServerSpec, ended: Deferred[None], pid: int | None = None) -> None:
        pass


class ConfinedHome(Home):
    """L{Home}, its children started through a L{Confiner}."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(tmp_path, monkeypatch)
        self.confiner = Confiner()

    def start(self) -> Gateway:
        write(self.config, json.dumps(self.document))
        specs = self.service.specs(self.service.source.load())
        spawner = fakeSpawner(self.reactor, confiner=self.confiner)
        self.gateway = Gateway(specs, spawner, resolver=self.resolver, lazyStart=False)
        self.gateway.start()
        self.service.startService()
        return self.gateway


@pytest.mark.parametrize("share", ["global", "session"])
def test_a_change_of_the_sandbox_alone_replaces_the_servers_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: str
) -> None:
    home = ConfinedHome(tmp_path, monkeypatch)
    home.document["mcpServers"]["pw"] = {"command": home.exe, "share": share}
    gateway = home.start()
    session, old = home.open()
    assert home.confiner.profiles[-1]["setting"] == "unset"
    with capturedGatewayLogs() as events:
        home.document["mcpServers"]["pw"]["sandbox"] = PROFILE
        home.edited()
    assert [e["server"] for e in replaced(events)] == ["pw"]
    assert not home.alive(session) and old.stdinClosed  # its client initializes again
    _, new = home.open()
    assert new is not old
    assert home.confiner.profiles[-1]["filesystem"]["allowRead"] == ["/data"]
    assert gateway.pools["pw"].spec.sandbox == parseSandbox({"sandbox": PROFILE})


def test_the_same_profile_written_again_restarts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = ConfinedHome(tmp_path, monkeypatch)
    home.document["mcpServers"]["pw"] = {"command": home.exe, "sandbox": PROFILE}
    gateway = home.start()
    pool = gateway.pools["pw"]
    session, proc = home.open()
    with capturedGatewayLogs() as events:
        home.document["mcpServers"]["pw"] = {"sandbox": dict(PROFILE), "command": home.exe}
        home.edited()
    assert replaced(events) == [] and gateway.pools["pw"] is pool
    assert home.alive(session) and not proc.stdinClosed


def test_a_projects_route_gets_a_new_child_when_its_sandbox_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server defined in projects (a child per workspace): the route whose
    entry's profile changed gets a new child at its next idle moment (its
    sessions carry on, on it); the other route's child runs on."""
    home = scoped.Home(tmp_path, monkeypatch)
    P, Q = home.project("P"), home.project("Q")
    for project in (P, Q):
        home.define(project, {"command": home.exe})
    gateway = home.start()
    pool = gateway.pools["pw"]
    p, procP = home.open(P)
    q, procQ = home.open(Q)
    with capturedGatewayLogs() as events:
        home.define(Q, {"command": home.exe, "sandbox": PROFILE})
        home.edited()
    assert scoped.reconfigured(events) == [] and gateway.pools["pw"] is pool
    assert home.alive(p) and home.alive(q)
    assert procQ.stdinClosed and not procP.stdinClosed  # idle: replaced at once
    assert home.call(q) == jsonrpc.resultResponse(7, {"tools": []})
    assert home.processOf(q) is not procQ and home.processOf(p) is procP


def test_the_sandbox_is_part_of_what_a_child_is() -> None:
    """The reload's two comparisons: the key-less child (L{sameServer}) and
    a route's child key (L{childKey}); the default profile leaves a key as
    it was."""
    plain = ServerSpec(name="pw", command="pw")
    confined = ServerSpec(name="pw", command="pw", sandbox=parseSandbox({"sandbox": PROFILE}))
    assert sameServer(plain, plain) and not sameServer(plain, confined)
    assert sameServer(confined, ServerSpec(**{**confined.__dict__}))
    keys = WorkspaceKeys(bytes(range(32)))
    assert childKey(keys, plain) != childKey(keys, confined)
    off = ServerSpec(name="pw", command="pw", sandbox=parseSandbox({"sandbox": False}))
    assert len({childKey(keys, plain), childKey(keys, confined), childKey(keys, off)}) == 3
    assert childKey(keys, plain) == keys.digest("child", b'["pw",[],[],null]')
