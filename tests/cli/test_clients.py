"""C{mcpgateway clients} lists every client found and what is adopted;
C{restore} and C{doctor} cover every client's backup; C{start --clients}
."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.clientconfigs.claude import ClaudeConfig
from mcpgateway.clientconfigs.clients.mcpservers import Cursor
from tests.cli.support import Cli, FakeGateway, check, run, writeState
from tests.clientconfigs.adoptkit import urlFor
from tests.support.cli.clients import adopt, cursorFile


def test_clients_json_lists_files_adopted_skipped_and_reload(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    cursorFile(home)
    vscode = home / ".config" / "Code" / "User" / "mcp.json"
    vscode.parent.mkdir(parents=True)
    vscode.write_text('{\n  // mine\n  "servers": {"a": {"command": "a-server"}}\n}\n')
    (vscode.parent / "settings.json").write_text('{"chat.mcp.access": "registry"}')
    adopt(home, stateDir)

    code, out, _ = cli("clients", "--json")

    assert code == 0
    clients = {c["id"]: c for c in json.loads(out)["clients"]}
    assert set(clients) == {"cursor", "vscode"}  # no ~/.claude.json here
    [cursor] = clients["cursor"]["files"]
    assert cursor["adopted"] == ["fs"] and cursor["other"] == ["remote"]
    assert [s["name"] for s in cursor["skipped"]] == ["secret"]
    assert "envFile" in cursor["skipped"][0]["why"]
    assert clients["cursor"]["reload"] == Cursor.reload
    assert "chat.mcp.access" in clients["vscode"]["policy"]
    assert clients["vscode"]["files"][0]["skipped"][0]["why"] == clients["vscode"]["policy"]


def test_clients_text(stateDir: Path, home: Path, cli: Cli) -> None:
    cursorFile(home)
    adopt(home, stateDir)
    (home / ".claude.json").write_text('{"mcpServers": {}}')
    code, out, _ = cli("clients")
    assert code == 0
    assert "Claude Code (claude-code)" in out and "Cursor (cursor)" in out
    assert "1 adopted (fs), 1 skipped, 1 other" in out
    assert f"reload: {Cursor.reload}" in out


def claudeSetup(home: Path, tmp_path: Path, configPath: Path | None = None) -> tuple[Path, str]:
    """A Claude config with a user-scope stdio server, a project with a
    local-scope one and an approved C{.mcp.json} server; the config path
    and the project."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {"lint": {"command": "lint"}}}))
    path = configPath or home / ".claude.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "mcpServers": {
            "fs": {"command": "fs-server"},
            "unset": {"command": "x", "args": ["${MCPGW_TEST_NEVER_SET}"]},
            "remote": {"type": "http", "url": "https://example.com/mcp"},
        },
        "projects": {
            str(project): {
                "hasTrustDialogAccepted": True,
                "enableAllProjectMcpServers": True,
                "mcpServers": {"db": {"command": "db-server"}},
            }
        },
    }
    path.write_text(json.dumps(document, indent=2))
    return path, str(project)


def test_clients_lists_claude_code_first_with_user_local_and_shadow_entries(
    stateDir: Path,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    monkeypatch.delenv("MCPGW_TEST_NEVER_SET", raising=False)
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    path, project = claudeSetup(home, tmp_path)
    report = ClaudeConfig(path, stateDir, home=home, environ={}).adopt(urlFor)
    assert len(report.adopted) == 3, report
    data = json.loads(path.read_text())
    data["mcpServers"]["late"] = {"command": "late-server"}  # added after the adoption
    path.write_text(json.dumps(data))
    cursorFile(home)
    adopt(home, stateDir)

    code, out, _ = cli("clients", "--json")

    assert code == 0
    clients = json.loads(out)["clients"]
    assert [c["id"] for c in clients] == ["claude-code", "cursor"]
    claude, cursor = clients
    assert claude.keys() == cursor.keys()
    [file] = claude["files"]
    assert set(cursor["files"][0]) <= set(file)
    assert file["path"] == str(path) and file["error"] is None
    assert file["adoptedCounts"] == {"user": 1, "local": {project: 1}, "shadow": 1}
    assert sorted(file["adopted"]) == sorted(
        ["fs", f"db (project {project})", f"lint (shadow of {project}/.mcp.json)"]
    )
    skipped = {s["name"]: s["why"] for s in file["skipped"]}
    assert set(skipped) == {"unset", "late"}
    assert "${MCPGW_TEST_NEVER_SET}" in skipped["unset"]
    assert skipped["late"].startswith("not adopted (yet)")
    assert file["other"] == ["remote"]
    assert claude["policy"] is None
    assert "/mcp" in claude["reload"] and "new session" in claude["reload"]

    code, out, _ = cli("clients")
    assert code == 0
    assert out.index("Claude Code (claude-code)") < out.index("Cursor (cursor)")
    assert f"{path}: 3 adopted" in out and "2 skipped, 1 other" in out
    assert "adopted: 1 user-scope, 1 local-scope (in 1 project), 1 .mcp.json shadow" in out
    assert "late: not adopted (yet)" in out


def test_clients_says_claude_code_policy_blocks_the_rewrite(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    (home / ".claude.json").write_text(json.dumps({"mcpServers": {"fs": {"command": "fs"}}}))
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"allowedMcpServers": [{"serverCommand": ["fs"]}]}))

    code, out, _ = cli("clients", "--json")

    assert code == 0
    [claude] = json.loads(out)["clients"]
    assert claude["id"] == "claude-code"
    assert "allowedMcpServers" in claude["policy"] and str(settings) in claude["policy"]
    assert claude["files"][0]["skipped"] == [{"name": "fs", "why": claude["policy"]}]
    code, out, _ = cli("clients")
    assert code == 0 and f"  skipped: {claude['policy']}" in out


def test_clients_reads_the_claude_config_of_the_gateway_state(
    stateDir: Path, home: Path, tmp_path: Path, cli: Cli
) -> None:
    """The config named in state.json, not ~/.claude.json."""
    path, project = claudeSetup(home, tmp_path, home / "work" / ".claude.json")
    ClaudeConfig(path, stateDir, home=home, environ={}).adopt(urlFor)
    writeState(stateDir, 1, 9100, config=str(path))

    code, out, _ = cli("clients", "--json")

    assert code == 0
    [claude] = json.loads(out)["clients"]
    assert claude["files"][0]["path"] == str(path)
    assert claude["files"][0]["adoptedCounts"]["local"] == {project: 1}


def test_clients_without_a_claude_config_lists_no_claude_code(home: Path, cli: Cli) -> None:
    cursorFile(home)
    code, out, _ = cli("clients", "--json")
    assert code == 0 and [c["id"] for c in json.loads(out)["clients"]] == ["cursor"]
    code, out, _ = cli("clients")
    assert code == 0 and "Claude Code" not in out


def test_clients_with_nothing_found(home: Path, cli: Cli) -> None:
    code, out, _ = cli("clients")
    assert (code, out.strip()) == (0, "no MCP client config found on this machine")


def test_restore_gives_every_client_file_back(stateDir: Path, home: Path, cli: Cli) -> None:
    path = cursorFile(home)
    before = path.read_bytes()
    adopt(home, stateDir)
    assert path.read_bytes() != before

    code, out, _ = cli("restore", "--json")

    assert code == 0, out
    files = json.loads(out)["clients"]["files"]
    assert [(f["client"], f["restored"]) for f in files] == [("cursor", ["fs"])]
    assert path.read_bytes() == before


def test_doctor_checks_each_client_backup(
    stateDir: Path, home: Path, running: FakeGateway, ctx: CliContext
) -> None:
    assert check(stateDir, "clientBackups", ctx).status == "info"
    cursorFile(home)
    adopt(home, stateDir)
    result = check(stateDir, "clientBackups", ctx)
    assert result.status == "pass" and "1 client file" in result.message
    backup = next((stateDir / "client-backups").iterdir())
    backup.write_text('{"version": 99}')
    result = check(stateDir, "clientBackups", ctx)
    assert result.status == "fail" and "not a usable gateway backup" in result.details[0]


def test_doctor_fails_on_client_files_left_adopted_by_a_stopped_gateway(
    stateDir: Path, home: Path
) -> None:
    cursorFile(home)
    adopt(home, stateDir)
    result = check(stateDir, "clientBackups")
    assert result.status == "fail" and "not running" in result.message
    assert result.fix is not None and "mcpgateway restore" in result.fix


def test_start_refuses_an_unknown_client(
    capsys: pytest.CaptureFixture[str], stateDir: Path, home: Path
) -> None:
    code, _, err = run(capsys, stateDir, "start", "--clients", "cursor,nope")
    assert code == 1 and "no client named 'nope'" in err and "vscode" in err


def test_start_adopts_other_clients_without_a_claude_config(
    home: Path,
    ctx: CliContext,
    cli: Cli,
) -> None:
    cursorFile(home)
    launched: list[list[str]] = []

    def launch(argv: list[str], **kwargs: object) -> object:
        launched.append(argv)
        raise OSError("not really")

    ctx.warm = lambda folder: None
    ctx.launch = launch  # type: ignore[assignment]
    code, _, err = cli("start", "--clients", "cursor,vscode")
    assert code == 1 and "not really" in err
    assert "--rewrite-config" in launched[0]
    assert launched[0][launched[0].index("--clients") + 1] == "cursor,vscode"
    assert "and what it adopts of Cursor" in err
