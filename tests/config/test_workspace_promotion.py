# -*- test-case-name: tests.config.test_workspace_promotion -*-
"""A server promoted to C{workspace} (a C{roots/list} its shared child asked
while sessions of several workspaces used it): kept in C{promotions.json},
applied by the classification only where it narrows, and served by config
as a child per workspace, running in it; a later promotion to C{session}
replaces it, nothing replaces C{session}."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mcpgateway.config.classification import Override, resolve
from mcpgateway.config.promotions import PromotedServer, PromotionStore
from mcpgateway.core.pools.pool import childPerLaunch, sameServer
from mcpgateway.core.spec import ServerSpec
from tests.support.config.scopes import build, byKey, workspace

WHY = (
    "its child sent roots/list while 2 sessions used it, so the session it was for"
    " could not be proven"
)
WORKSPACE = PromotedServer(WHY, 1.0, "workspace")


def test_a_workspace_promotion_is_kept_and_read_back(tmp_path: Path) -> None:
    store = PromotionStore(tmp_path)
    assert store.promote("fs", WHY, 5.0, "workspace") is True
    assert store.promote("fs", WHY, 6.0, "workspace") is False  # already
    assert store.load() == {"fs": PromotedServer(WHY, 5.0, "workspace")}
    document = json.loads((tmp_path / "promotions.json").read_text())
    assert document["servers"]["fs"]["share"] == "workspace"


def test_session_replaces_workspace_and_nothing_widens_session(tmp_path: Path) -> None:
    store = PromotionStore(tmp_path)
    store.promote("fs", WHY, 5.0, "workspace")
    assert store.promote("fs", "it sampled", 6.0, "session") is True
    assert store.load() == {"fs": PromotedServer("it sampled", 6.0, "session")}
    assert store.promote("fs", WHY, 7.0, "workspace") is False
    assert store.load()["fs"].share == "session"


def test_no_other_share_is_recorded(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        PromotionStore(tmp_path).promote("fs", WHY, 1.0, "global")
    (tmp_path / "promotions.json").write_text(
        json.dumps({"version": 1, "servers": {"fs": {"share": "global", "at": 1, "why": "w"}}})
    )
    store = PromotionStore(tmp_path)
    assert store.load() == {}
    assert store.warning is not None and "'fs'" in store.warning


def test_a_workspace_promotion_only_narrows() -> None:
    spec = ServerSpec(name="fs", command="fs")
    out = resolve(spec, None, WORKSPACE)
    assert (out.mode, out.promoted) == ("workspace", WHY)
    declared = resolve(replace(spec, mode="session", modeDeclared=True), None, WORKSPACE)
    assert (declared.mode, declared.promoted) == ("session", None)
    cred = resolve(replace(spec, mode="credential", modeDeclared=True), None, WORKSPACE)
    assert (cred.mode, cred.promoted) == ("credential", None)
    pinned = resolve(spec, Override(share="global"), WORKSPACE)
    assert (pinned.mode, pinned.promoted, pinned.pinned) == ("global", None, True)


def test_promoted_projects_each_get_a_child_in_their_workspace(tmp_path: Path) -> None:
    """Two projects define a global server alike: one child for both
    routes. Promoted to workspace, each route's child runs in its workspace
    (the gateway answers its roots/list with it), and the pool that served
    them keeps serving (no session ends)."""
    p, q = workspace(tmp_path, "p"), workspace(tmp_path, "q")
    entry = {"command": "fs", "share": "global"}
    document = {"projects": {p: {"mcpServers": {"fs": entry}}, q: {"mcpServers": {"fs": entry}}}}
    before = build(document).specs["fs"]
    assert len({v.childKey for v in before.variants}) == 1
    assert {v.launch.cwd for v in before.variants} == {None}
    after = build(document, promotions={"fs": WORKSPACE}).specs["fs"]
    assert (after.mode, after.promoted) == ("workspace", WHY)
    assert sorted(v.launch.cwd or "" for v in after.variants) == [p, q]
    assert len({v.childKey for v in after.variants}) == 2
    assert childPerLaunch(before) and childPerLaunch(after)
    assert sameServer(before, after, WHY, perLaunch=True)


def test_a_project_entry_that_is_the_users_keeps_the_users_child(tmp_path: Path) -> None:
    """Why the pool promotes such sessions to session instead: at any
    scope, a project's entry that is the user's shares the user's child."""
    p = workspace(tmp_path, "p")
    entry = {"command": "fs"}
    document = {"mcpServers": {"fs": entry}, "projects": {p: {"mcpServers": {"fs": entry}}}}
    after = build(document, promotions={"fs": WORKSPACE}).specs["fs"]
    routes = byKey(after)
    assert routes[""].childKey == next(v.childKey for k, v in routes.items() if k)
