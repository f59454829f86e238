"""A project's own entry (a repository's C{.mcp.json}...) may only narrow
its sandbox: what it asks beyond the default is taken out of its launch,
with a warning naming the server, the file, each widening and the command
that approves it, until the user approves that very entry; the user's own
entries keep what they ask. An approval written while the gateway runs is
served within seconds, on a child of its own."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from mcpgateway.config.classification import Overrides
from mcpgateway.config.configservice import ConfigService, ConfigSettings
from mcpgateway.config.envfiles import EnvFile
from mcpgateway.config.origins import entryDigest, withOrigins
from mcpgateway.config.sandboxapprovals import (
    APPROVALS_FILE,
    SandboxApproval,
    approve,
    approveCommand,
)
from mcpgateway.config.scopes import Scoped, buildScopes
from mcpgateway.config.servers import LoadedConfig, parseConfig
from mcpgateway.config.watched import PlainFile
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.spec import ServerSpec
from mcpgateway.sandbox.profile import DEFAULT, OFF, ON, SandboxProfile, parseSandbox
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.reloading import inline, write

ENVIRON = {"PATH": "", "HOME": "/home/me"}
KEYS = WorkspaceKeys(bytes(range(32)))


def entry(sandbox: Any = None) -> dict[str, Any]:
    made: dict[str, Any] = {"command": "/bin/true", "args": ["serve"]}
    if sandbox is not None:
        made["sandbox"] = sandbox
    return made


def build(
    workspace: str,
    given: dict[str, Any],
    own: bool = True,
    approvals: tuple[SandboxApproval, ...] = (),
) -> Scoped:
    """The routes of server C{x} of the project C{workspace}: an entry of
    its own C{.mcp.json} (C{own}), else of the user's local scope."""
    loaded = parseConfig(
        {"projects": {workspace: {"mcpServers": {"x": given}}}}, "/home/me/.claude.json", ENVIRON
    )
    if own:
        loaded = withOrigins(loaded, {(workspace, "x"): f"{workspace}/.mcp.json"})
    return buildScopes(
        loaded,
        Overrides(),
        KEYS,
        EnvFile("/state/.env"),
        ENVIRON,
        sandboxApprovals=approvals,
    )


def launchOf(scoped: Scoped) -> ServerSpec:
    [variant] = scoped.specs["x"].variants
    return variant.launch


def approvalOf(workspace: str, given: dict[str, Any]) -> SandboxApproval:
    return SandboxApproval(
        "x", workspace, f"{workspace}/.mcp.json", entryDigest(given), ("sandbox",)
    )


@pytest.mark.parametrize(
    ("sandbox", "told"),
    [
        (False, '"sandbox": false'),
        ("learn", '"sandbox": "learn"'),
        ({"filesystem": {"allowWrite": ["~"]}}, 'filesystem.allowWrite ["~"]'),
        ({"filesystem": {"allowRead": ["~/.ssh"]}}, 'filesystem.allowRead ["~/.ssh"]'),
        ({"network": "host"}, '"network": "host"'),
        ({"network": {"allowedDomains": ["x.example"]}}, 'network.allowedDomains ["x.example"]'),
        ({"syscalls": "unfiltered"}, '"syscalls": "unfiltered"'),
        ({"limits": {"processes": 60000}}, "limits.processes 60000"),
    ],
)
def test_a_project_file_cannot_widen_its_own_sandbox(
    tmp_path: Path, sandbox: Any, told: str
) -> None:
    workspace = str(tmp_path)
    scoped = build(workspace, entry(sandbox))
    launch = launchOf(scoped)
    # The default profile (an object asks for a sandbox: confined whatever --sandbox says).
    assert launch.sandbox in (DEFAULT, SandboxProfile(ON)) and launch.sandbox.confined("auto")
    [warning] = scoped.warnings
    assert f"server 'x' ({workspace}/.mcp.json)" in warning
    assert told in warning
    assert approveCommand("x", workspace) in warning


def test_every_widening_is_named_in_the_one_warning(tmp_path: Path) -> None:
    wide = {
        "filesystem": {"allowWrite": ["~"], "denyRead": ["~/private"]},
        "network": "host",
        "syscalls": "unfiltered",
    }
    scoped = build(str(tmp_path), entry(wide))
    [warning] = scoped.warnings
    for told in ('filesystem.allowWrite ["~"]', '"network": "host"', '"syscalls": "unfiltered"'):
        assert told in warning
    launch = launchOf(scoped)
    assert launch.sandbox.filesystem.denyRead == ("~/private",)  # narrowing kept
    assert launch.sandbox.setting == ON and not launch.sandbox.filesystem.allowWrite


def test_a_project_file_may_narrow_its_sandbox_unwarned(tmp_path: Path) -> None:
    narrow = {"filesystem": {"denyRead": ["./secrets"]}, "network": "none"}
    scoped = build(str(tmp_path), entry(narrow))
    assert scoped.warnings == []
    assert launchOf(scoped).sandbox == parseSandbox({"sandbox": narrow})


def test_the_users_own_entry_keeps_what_it_asks(tmp_path: Path) -> None:
    scoped = build(str(tmp_path), entry(False), own=False)
    assert scoped.warnings == [] and launchOf(scoped).sandbox.setting == OFF


def test_an_approved_entry_keeps_what_it_asks_and_a_changed_one_is_narrowed_again(
    tmp_path: Path,
) -> None:
    workspace = str(tmp_path)
    given = entry(False)
    approval = approvalOf(workspace, given)
    approved = build(workspace, given, approvals=(approval,))
    assert approved.warnings == [] and launchOf(approved).sandbox.setting == OFF
    changed = {**given, "args": ["serve", "--more"]}
    again = build(workspace, changed, approvals=(approval,))
    assert launchOf(again).sandbox == DEFAULT and len(again.warnings) == 1
    elsewhere = build(str(tmp_path / "other"), given, approvals=(approval,))
    assert launchOf(elsewhere).sandbox == DEFAULT


def test_an_approval_gives_the_route_a_child_of_its_own(tmp_path: Path) -> None:
    """The child runs confined as it started: the approved profile is
    another child (its key differs), so the approval takes effect."""
    workspace = str(tmp_path)
    given = entry(False)
    narrowed = build(workspace, given).specs["x"].variants[0]
    approved = build(workspace, given, approvals=(approvalOf(workspace, given),))
    assert narrowed.childKey != approved.specs["x"].variants[0].childKey


# -- the running gateway ----------------------------------------------------------------


class ProjectFile(PlainFile):
    """A gateway file whose project entries come from the project's own
    C{.mcp.json} (as adopted ones do: their origin)."""

    def __init__(self, path: Path, workspace: str) -> None:
        super().__init__(path)
        self.workspace = workspace

    def load(self) -> LoadedConfig:
        loaded = super().load()
        return withOrigins(loaded, {(self.workspace, "x"): f"{self.workspace}/.mcp.json"})


def test_an_approval_is_served_within_seconds_and_a_forgotten_one_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "repo"
    workspace.mkdir()
    ws = os.path.realpath(workspace)
    given = entry(False)
    config = tmp_path / "claude.json"
    config.write_text(json.dumps({"projects": {ws: {"mcpServers": {"x": given}}}}))
    stateDir = tmp_path / "state"
    stateDir.mkdir()
    clock = Clock()
    gateway: list[Gateway] = []

    def reload(specs: Any) -> Deferred[Any]:
        return gateway[0].reconfigurer.reconfigure(specs)

    service = ConfigService(
        ProjectFile(config, ws),
        stateDir,
        clock,
        None,
        inline,
        reload,
        ConfigSettings(environ=ENVIRON),
    )
    monkeypatch.setattr(service.files, "watchWithInotify", lambda paths: False)
    with capturedGatewayLogs() as events:
        specs = service.specs(service.source.load())
    warned = [e["warning"] for e in events if e.get("log_format") == "config: {warning}"]
    assert len(warned) == 1 and '"sandbox": false' in warned[0]
    gateway.append(Gateway(specs, fakeSpawner(FakeProcessReactor())))
    gateway[0].start()
    service.startService()

    def served() -> Any:
        return gateway[0].pools["x"].spec.variants[0].launch.sandbox

    assert served() == DEFAULT
    approve(stateDir, approvalOf(ws, given))
    write(stateDir / APPROVALS_FILE, (stateDir / APPROVALS_FILE).read_text())
    clock.advance(2.0)
    clock.advance(1.0)
    assert served().setting == OFF
    write(stateDir / APPROVALS_FILE, json.dumps({"version": 1, "approvals": []}))
    clock.advance(2.0)
    clock.advance(1.0)
    assert served() == DEFAULT
    service.stopService()


def test_a_project_files_paths_outside_its_workspace_are_each_warned_and_confined(
    tmp_path: Path,
) -> None:
    workspace = str(tmp_path)
    given = {
        "command": "/bin/true",
        "args": ["/home/me/.config", "./inside"],
        "env": {"MEMORY_FILE_PATH": "/home/me/.bashrc"},
    }
    scoped = build(workspace, given)
    launch = launchOf(scoped)
    assert launch.confinedTo == workspace
    assert [w.split(" names ")[0] for w in scoped.warnings] == [
        f"server 'x' ({workspace}/.mcp.json): its args[0]",
        f"server 'x' ({workspace}/.mcp.json): its env.MEMORY_FILE_PATH",
    ]
    for warning in scoped.warnings:
        assert f"outside its workspace {workspace}" in warning
        assert approveCommand("x", workspace) in warning
    # Approved, the entry is the user's to have: no warning, nothing confined.
    approved = build(workspace, given, approvals=(approvalOf(workspace, given),))
    assert approved.warnings == [] and launchOf(approved).confinedTo is None
    # The user's own entry (the local scope of the user's file) is not confined.
    assert launchOf(build(workspace, given, own=False)).confinedTo is None
