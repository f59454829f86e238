"""C{status} and C{doctor} on scopes (docs/guide/scopes.md): workspace
children shown by their project path (mapped locally from the key), the
children of a scoped server against its C{maxChildren}, promoted servers
with their undo, pool waits and time-outs, the workspace key and the
C{.env} files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mcpgateway.cli.status import renderStatus, workspacePaths
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.runtime.paths import ENV_FILE, OVERRIDES_FILE, WORKSPACE_KEY_FILE
from tests.cli.support import HEALTH, Cli, FakeGateway, check

OTHER_KEY = "z" * 16


def scoped(keys: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        **HEALTH["servers"]["context7"],
        "share": "workspace",
        "maxChildren": 16,
        "children": len(keys),
        "scopes": keys,
        "poolWaits": 0,
        "poolTimeouts": 0,
        "evictions": 0,
        "promoted": None,
        **extra,
    }


def withServers(**servers: dict[str, Any]) -> dict[str, Any]:
    return {**HEALTH, "servers": {**HEALTH["servers"], **servers}}


def projectKey(stateDir: Path, home: Path, project: Path) -> str:
    """Make the state dir's workspace key and a Claude config listing C{project}."""
    project.mkdir(exist_ok=True)
    (home / ".claude.json").write_text(json.dumps({"projects": {str(project): {"mcpServers": {}}}}))
    return WorkspaceKeys.forStateDir(stateDir).key(project)


# -- status -----------------------------------------------------------------------------


def test_status_shows_a_workspace_server_by_project_path(
    stateDir: Path, home: Path, running: FakeGateway, cli: Cli
) -> None:
    key = projectKey(stateDir, home, home / "proj")
    running.answers["/health"] = (
        200,
        withServers(
            fs=scoped(
                {
                    "global": {"pid": 21, "sessions": 1},
                    key: {"pid": 22, "sessions": 3},
                    OTHER_KEY: {"pid": None, "sessions": 0},
                    "k" * 16: {"pid": None, "sessions": 4, "children": 2},
                }
            )
        ),
    )
    code, out, _ = cli("status")
    assert code == 0
    lines = out.splitlines()
    fs = next(line for line in lines if line.startswith("  ◐ fs "))
    assert "workspace" in fs and "4/16 children" in fs
    assert f"      {home / 'proj'}: pid 22, 3 sessions" in lines
    assert f"      ~{OTHER_KEY}: stopped, 0 sessions" in lines  # no project gives it
    assert f"      ~{'k' * 16}: 2 children, 4 sessions" in lines
    code, out, _ = cli("status", "--json")
    assert json.loads(out)["workspaces"] == {key: str(home / "proj")}


def test_mapping_keys_creates_no_workspace_key(stateDir: Path, home: Path) -> None:
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    health = withServers(fs=scoped({OTHER_KEY: {"pid": 3, "sessions": 1}}))
    assert workspacePaths(stateDir, found, health) == {}
    assert not (stateDir / WORKSPACE_KEY_FILE).exists()


def test_status_shows_a_promotion_with_its_undo(stateDir: Path) -> None:
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    server = scoped(
        {},
        share="global",
        promoted="sampling/createMessage with 2 sessions in flight",
        ambiguousServerRequests=1,
        warning="1 request refused",
    )
    lines = renderStatus(found, {"servers": {"everything": server}}, [])
    assert (
        "      ↑ promoted: new sessions get a child of their own"
        " (sampling/createMessage with 2 sessions in flight)"
    ) in lines
    assert (
        "        undo: mcpgateway servers share everything (or pin it:"
        f' {{"everything": {{"share": "global"}}}} in {stateDir / OVERRIDES_FILE})' in (lines)
    )
    assert not any("1 request refused" in line for line in lines)  # said by the promotion


def test_status_shows_pool_waits_and_evictions(stateDir: Path) -> None:
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    server = scoped({}, poolWaits=4, poolTimeouts=1, evictions=2, maxChildren=2)
    lines = renderStatus(found, {"servers": {"fs": server}}, [])
    assert "      ! 4 requests waited for a child (maxChildren 2 reached), 1 timed out" in lines
    assert "      · 2 idle children stopped to make room (least recently used first)" in lines


def test_a_session_scoped_server_is_marked_as_such(stateDir: Path) -> None:
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    server = {**HEALTH["servers"]["serena"], "share": "session"}
    [line] = [x for x in renderStatus(found, {"servers": {"s": server}}, []) if " s " in x]
    assert line.startswith("  ◆ s ") and "session" in line


# -- doctor -----------------------------------------------------------------------------


def test_promotions_check_lists_each_with_its_undo(stateDir: Path, running: FakeGateway) -> None:
    assert check(stateDir, "promotions").message == "Promotions not reported by this gateway"
    running.answers["/health"] = (200, withServers(fs=scoped({})))
    assert check(stateDir, "promotions").status == "pass"
    running.answers["/health"] = (
        200,
        withServers(
            fs=scoped({}, promoted="roots/list with 3 sessions in flight"),
            everything=scoped({}, share="global", promoted="sampling", ambiguousServerRequests=2),
        ),
    )
    result = check(stateDir, "promotions")
    assert result.status == "info"
    assert "everything, fs" in result.message
    assert result.message.startswith("Promoted to a child per workspace or per session:")
    assert result.details == (
        "everything (a child per session): sampling",
        "  undo: mcpgateway servers share everything (or pin it:"
        f' {{"everything": {{"share": "global"}}}} in {stateDir / OVERRIDES_FILE})',
        "fs (a child per workspace): roots/list with 3 sessions in flight",
        "  undo: mcpgateway servers share fs (or pin it:"
        f' {{"fs": {{"share": "global"}}}} in {stateDir / OVERRIDES_FILE})',
    )
    # The refused requests of a promoted server are no failure any more.
    assert check(stateDir, "serverRequests").status == "pass"


def test_pool_limits_check_fails_on_time_outs_with_a_fix(
    stateDir: Path, running: FakeGateway
) -> None:
    assert check(stateDir, "poolLimits").status == "info"  # an older gateway
    running.answers["/health"] = (200, withServers(fs=scoped({})))
    assert check(stateDir, "poolLimits").status == "pass"
    running.answers["/health"] = (200, withServers(fs=scoped({}, poolWaits=3)))
    assert check(stateDir, "poolLimits").status == "info"
    running.answers["/health"] = (
        200,
        withServers(fs=scoped({}, poolWaits=3, poolTimeouts=2, maxChildren=4)),
    )
    result = check(stateDir, "poolLimits")
    assert result.status == "fail"
    assert result.message.endswith(": fs")
    assert result.fix is not None and '"maxChildren": 8' in result.fix
    assert result.details == ("fs: 3 requests waited, 2 timed out, maxChildren 4, 0 evictions",)


def test_promotions_and_pool_limits_are_not_checked_without_a_gateway(stateDir: Path) -> None:
    assert check(stateDir, "promotions").status == "info"
    assert check(stateDir, "poolLimits").message.endswith("(gateway not running)")


def test_workspace_key_check(stateDir: Path) -> None:
    path = stateDir / WORKSPACE_KEY_FILE
    assert check(stateDir, "workspaceKey").status == "info"
    assert not path.exists()  # doctor makes none
    WorkspaceKeys.forStateDir(stateDir)
    assert check(stateDir, "workspaceKey").status == "pass"
    path.chmod(0o644)
    loose = check(stateDir, "workspaceKey")
    assert loose.status == "fail" and "0644" in loose.message
    assert loose.fix is not None and "chmod 600" in loose.fix
    path.chmod(0o600)
    path.write_text("not a key\n")
    broken = check(stateDir, "workspaceKey")
    assert broken.status == "fail" and "64 hex digits" in broken.message
    assert broken.fix is not None and "remove" in broken.fix
    assert path.read_text() == "not a key\n"  # never replaced by doctor


def test_env_files_check(stateDir: Path, home: Path) -> None:
    assert check(stateDir, "envFiles").status == "info"
    (stateDir / ENV_FILE).write_text("TOKEN=s3cret-value\n")
    project = home / "proj"
    project.mkdir()
    (home / ".claude.json").write_text(
        json.dumps({"projects": {str(project): {"mcpServers": {"fs": {"command": "x"}}}}})
    )
    (project / ENV_FILE).write_text("A=1\nB=2\n")
    result = check(stateDir, "envFiles")
    assert result.status == "pass"
    assert "2 env files" in result.message and "(2 variables)" in result.message
    (project / ENV_FILE).write_bytes(b"A=\xff\xfe\n")
    (stateDir / ENV_FILE).write_text("TOKEN=s3cret-value\nnot a line\n")
    bad = check(stateDir, "envFiles")
    assert bad.status == "fail"
    shown = bad.message + "".join(bad.details)
    assert str(project / ENV_FILE) in shown and str(stateDir / ENV_FILE) in shown
    assert "s3cret" not in shown


def test_doctor_runs_the_new_checks_in_order(stateDir: Path, cli: Cli) -> None:
    code, out, _ = cli("doctor", "--json")
    assert code == 1  # no gateway runs
    names = [c["name"] for c in json.loads(out)["checks"]]
    assert names.index("promotions") < names.index("poolLimits") < names.index("backup")
    assert names.index("workspaceKey") < names.index("envFiles") < names.index("logFile")
    assert os.path.exists(stateDir) and not (stateDir / WORKSPACE_KEY_FILE).exists()


def test_status_shows_a_workspace_promotion(stateDir: Path) -> None:
    found = GatewayProbe(stateDir, {"pid": 7, "port": 9100})
    server = scoped({}, share="workspace", promoted="roots/list with 2 sessions")
    lines = renderStatus(found, {"servers": {"fs": server}}, [])
    assert (
        "      ↑ promoted: each workspace gets a child of its own (roots/list with 2 sessions)"
        in (lines)
    )
    assert (
        "        undo: mcpgateway servers share fs (or pin it:"
        f' {{"fs": {{"share": "global"}}}} in {stateDir / OVERRIDES_FILE})'
    ) in lines
