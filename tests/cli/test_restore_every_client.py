"""C{restore}, C{stop} and C{status} cover every client's file, not only the
Claude config: an unparsable C{~/.claude.json}
does not keep Cursor's file pointed at a stopped gateway; C{stop} after a
crash restores every client file; a client file the gateway could not give
back (its backup still holds entries, C{restore-failed.json} names it)
makes C{stop} exit 1 and C{status} say so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgateway.clientconfigs.backups import backupPaths, recordRestoreFailure
from mcpgateway.clientconfigs.claude import ClaudeConfig
from mcpgateway.ops.statedir import STATE_FILE
from tests.cli.support import Cli, deadPid, writeState
from tests.clientconfigs.adoptkit import urlFor
from tests.support.cli.clients import adopt, cursorFile
from tests.support.cli.stop import standIn

BROKEN = "{ broken"


def claudeAdopted(home: Path, stateDir: Path) -> Path:
    """A ~/.claude.json with one stdio server, adopted (its backup written)."""
    path = home / ".claude.json"
    path.write_text(json.dumps({"mcpServers": {"fs": {"command": "fs-server"}}}, indent=2))
    report = ClaudeConfig(path, stateDir, home=home, environ={}).adopt(urlFor)
    assert report.adopted, report
    return path


def everyClientAdopted(home: Path, stateDir: Path) -> tuple[Path, Path, bytes]:
    """Claude's config and Cursor's, both adopted: their paths, and Cursor's
    file as it was before its adoption."""
    claude = claudeAdopted(home, stateDir)
    cursor = cursorFile(home)
    before = cursor.read_bytes()
    adopt(home, stateDir)
    return claude, cursor, before


@pytest.fixture(autouse=True)
def _noClaudeConfigDir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)


def test_restore_gives_the_other_clients_back_when_the_claude_config_is_unparsable(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    claude, cursor, before = everyClientAdopted(home, stateDir)
    claude.write_text(BROKEN)

    code, out, err = cli("restore")

    assert code == 1
    assert cursor.read_bytes() == before  # restored although Claude's failed
    assert f"{cursor} (cursor): restored: fs" in out
    [line] = [line for line in err.splitlines() if str(claude) in line]
    assert line.startswith(f"mcpgateway: cannot restore {claude}: ")
    assert "the other clients' files were restored" in line
    assert claude.read_text() == BROKEN  # never written
    code, out, _ = cli("restore", "--json")
    document = json.loads(out)
    assert code == 1 and document["ok"] is False
    assert document["config"] == str(claude) and "cannot restore" in document["error"]


def test_stop_after_a_crash_restores_every_client_file(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    claude, cursor, before = everyClientAdopted(home, stateDir)
    writeState(stateDir, deadPid(), 9100)  # kill -9

    code, out, err = cli("stop")

    assert (code, err) == (0, "")
    assert cursor.read_bytes() == before
    assert json.loads(claude.read_text())["mcpServers"]["fs"] == {"command": "fs-server"}
    assert "stale state.json" in out and f"{cursor} (cursor): restored: fs" in out
    assert backupPaths(stateDir) == []
    assert not (stateDir / STATE_FILE).exists()


def test_stop_after_a_crash_with_an_unparsable_claude_config(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    claude, cursor, before = everyClientAdopted(home, stateDir)
    claude.write_text(BROKEN)
    writeState(stateDir, deadPid(), 9100)

    code, out, _ = cli("stop", "--json")

    assert code == 1
    assert cursor.read_bytes() == before
    document = json.loads(out)
    assert document["ok"] is False and f"cannot restore {claude}" in document["error"]
    assert [f["restored"] for f in document["clients"]["files"]] == [["fs"]]
    assert (stateDir / STATE_FILE).exists()  # it names the config still to restore


def test_stop_after_a_crash_exits_1_when_a_client_file_cannot_be_restored(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    cursor = cursorFile(home)
    adopt(home, stateDir)
    cursor.write_text(BROKEN)  # the user broke it while the gateway ran
    writeState(stateDir, deadPid(), 9100)

    code, _, err = cli("stop")

    assert code == 1
    assert f"could not restore {cursor}" in err
    code, _, _ = cli("stop")  # the state is gone; the file still is not back
    assert code == 0  # nothing to stop; `status` and `doctor` say what is left


def test_stop_exits_1_when_the_gateway_could_not_restore_a_client_file(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    """The gateway stopped, but its restore of Cursor's file failed: the
    backup still holds the entry and restore-failed.json names the file."""
    cursor = cursorFile(home)
    adopt(home, stateDir)
    recordRestoreFailure(stateDir, cursor, "the file kept changing")
    with standIn(stateDir) as process:
        writeState(stateDir, process.pid, 9100)
        code, out, err = cli("stop")
    assert (code, out) == (1, f"mcpgateway stopped (pid {process.pid})\n")
    assert err.startswith(
        f"mcpgateway: 1 client file still points at the stopped gateway: {cursor} (cursor): fs;"
    )
    assert "`mcpgateway restore` puts their stdio entries back" in err
    assert f"(the gateway could not restore {cursor} (the file kept changing))" in err


def test_stop_exits_1_on_a_restore_failure_marker_alone(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    vscode = home / ".config" / "Code" / "User" / "mcp.json"
    recordRestoreFailure(stateDir, vscode, "not valid JSON")
    with standIn(stateDir) as process:
        writeState(stateDir, process.pid, 9100)
        code, out, _ = cli("stop", "--json")
    document = json.loads(out)
    assert code == 1 and document["ok"] is False
    assert f"the gateway could not restore {vscode} (not valid JSON)" in document["error"]


def test_status_says_client_files_point_at_a_stopped_gateway(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    cursor = cursorFile(home)
    adopt(home, stateDir)
    writeState(stateDir, deadPid(), 9100)

    code, out, _ = cli("status")

    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("mcpgateway is not running (stale state.json")
    assert (
        f"  ! 1 client file still points at the gateway, which is not running:"
        f" {cursor} (cursor): fs" in lines
    )
    assert (
        "    → `mcpgateway stop` (or `mcpgateway restore`) puts their stdio entries back,"
        " or `mcpgateway start` serves them again" in lines
    )
    code, out, _ = cli("status", "--json")
    assert json.loads(out)["clientFiles"]["stranded"] == [f"{cursor} (cursor): fs"]


def test_stop_says_a_failed_claude_config_once(stateDir: Path, home: Path, cli: Cli) -> None:
    """The marker names the Claude config whose failure stop says already."""
    claude = home / ".claude.json"
    claude.write_text(BROKEN)
    recordRestoreFailure(stateDir, claude, "not valid JSON")
    with standIn(stateDir) as process:
        writeState(stateDir, process.pid, 9100)
        code, _, err = cli("stop")
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith(f"mcpgateway: cannot check that {claude} was restored: ")
