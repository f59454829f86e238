"""C{mcpgateway sandbox approve NAME}: a project's own entry (a shadowed
C{.mcp.json} server the gateway adopted) that asks for more than the
default sandbox is shown with what it runs and what it asks, approved only
when the user says yes (bound to the entry's digest), and forgotten again.

The command is the C{approve} action of C{mcpgateway sandbox}
(L{mcpgateway.cli.sandboxapprove.addApprove})."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli.main import makeParser
from mcpgateway.config.origins import entryDigest
from mcpgateway.config.sandboxapprovals import APPROVALS_FILE, readApprovals
from tests.cli.support import run
from tests.support.cli.clone import adoptedClone

WIDE = {"command": "tool-server", "args": ["stdio"], "sandbox": False}
NARROW = {"command": "quiet-server", "sandbox": {"network": "none"}}


def actionsOf(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of C{parser}, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_the_sandbox_command_has_approve() -> None:
    assert "approve" in actionsOf(actionsOf(makeParser())["sandbox"])


@pytest.fixture
def clone(home: Path, stateDir: Path) -> str:
    """A cloned project whose approved C{.mcp.json} servers the gateway adopted."""
    return adoptedClone(home, stateDir, {"tool": WIDE, "quiet": NARROW})


def approve(capsys: pytest.CaptureFixture[str], stateDir: Path, *args: str) -> Any:
    return run(capsys, stateDir, "sandbox", "approve", *args)


def test_approve_shows_what_the_entry_asks_and_records_it_when_told_yes(
    capsys: pytest.CaptureFixture[str], stateDir: Path, clone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    code, _, err = approve(capsys, stateDir, "tool", "--workspace", clone)
    assert code == 0, err
    assert f"server 'tool' of {clone}/.mcp.json:" in err
    assert "runs: tool-server stdio" in err and '"sandbox": false' in err
    [approval] = readApprovals(stateDir)
    assert (approval.server, approval.workspace, approval.file) == (
        "tool",
        clone,
        f"{clone}/.mcp.json",
    )
    assert approval.digest == entryDigest(WIDE) and approval.widenings == ("sandbox",)
    assert (stateDir / APPROVALS_FILE).stat().st_mode & 0o777 == 0o600

    code, _, err = approve(capsys, stateDir, "tool", "--workspace", clone, "--forget")
    assert code == 0 and "forgot 1 approval" in err
    assert readApprovals(stateDir) == []


def test_approve_records_nothing_without_a_yes(
    capsys: pytest.CaptureFixture[str], stateDir: Path, clone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = approve(capsys, stateDir, "tool", "--workspace", clone)
    assert code == 0 and "not approved" in err
    assert readApprovals(stateDir) == []


def test_approve_from_the_project_directory_with_yes(
    capsys: pytest.CaptureFixture[str], stateDir: Path, clone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(clone)
    code, out, err = approve(capsys, stateDir, "tool", "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["approved"] == [
        {
            "server": "tool",
            "workspace": clone,
            "file": f"{clone}/.mcp.json",
            "widenings": ["sandbox"],
        }
    ]


def test_an_entry_that_only_narrows_needs_no_approval(
    capsys: pytest.CaptureFixture[str], stateDir: Path, clone: str
) -> None:
    code, _, err = approve(capsys, stateDir, "quiet", "--workspace", clone, "--yes")
    assert code == 1 and "asks for more than the default sandbox" in err
    assert readApprovals(stateDir) == []


def test_forgetting_what_was_never_approved_says_so(
    capsys: pytest.CaptureFixture[str], stateDir: Path, clone: str
) -> None:
    code, _, err = approve(capsys, stateDir, "tool", "--workspace", clone, "--forget")
    assert code == 1 and "has no sandbox approval" in err


def test_an_entry_that_names_a_path_outside_its_workspace_is_approved_by_name(
    capsys: pytest.CaptureFixture[str], home: Path, stateDir: Path
) -> None:
    reaching = {"command": "notes-server", "args": [f"{home}/notes"]}
    clone = adoptedClone(home, stateDir, {"notes": reaching})
    code, _, err = approve(capsys, stateDir, "notes", "--workspace", clone, "--yes")
    assert code == 0, err
    assert f"args[0] {home}/notes (outside its workspace)" in err
    [approval] = readApprovals(stateDir)
    assert approval.digest == entryDigest(reaching)
    assert approval.widenings == (f"args[0] {home}/notes",)
