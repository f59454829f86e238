"""C{mcpgateway secret allow|disallow|allowed}: a project's own entry (here a
shadowed C{.mcp.json} server the gateway adopted) is shown with what it runs
and the references it names, allowed only when the user says yes, listed,
and forgotten again."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mcpgateway.secrets.approvals import readApprovals
from tests.cli.support import Cli
from tests.support.cli.clone import adoptedClone

GH = {"command": "gh-server", "args": ["stdio"], "env": {"GITHUB_TOKEN": "${keyring:gh}"}}


@pytest.fixture
def clone(home: Path, stateDir: Path) -> str:
    """A cloned project whose approved C{.mcp.json} server the gateway adopted."""
    return adoptedClone(home, stateDir, {"gh": GH})


def test_allow_shows_the_entry_and_records_it_when_told_yes(
    stateDir: Path, clone: str, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    code, _, err = cli("secret", "allow", "gh", "--workspace", clone)
    assert code == 0, err
    assert f"server 'gh' of {clone}/.mcp.json:" in err
    assert "runs: gh-server stdio" in err and "env: GITHUB_TOKEN" in err
    assert "secret references: ${keyring:gh}" in err
    [approval] = readApprovals(stateDir)
    assert (approval.server, approval.workspace, approval.references) == (
        "gh",
        clone,
        ("${keyring:gh}",),
    )

    code, out, _ = cli("secret", "allowed")
    assert code == 0 and out.split() == ["gh", f"{clone}/.mcp.json", "${keyring:gh}"]

    code, _, err = cli("secret", "disallow", "gh", "--workspace", clone)
    assert code == 0 and "forgot 1 approval" in err
    assert readApprovals(stateDir) == []


def test_allow_records_nothing_without_a_yes(
    stateDir: Path, clone: str, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = cli("secret", "allow", "gh", "--workspace", clone)
    assert code == 0 and "not allowed" in err
    assert readApprovals(stateDir) == []


def test_allow_from_the_project_directory_with_yes(
    stateDir: Path, clone: str, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.chdir(clone)
    code, out, err = cli("secret", "allow", "gh", "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["allowed"][0]["references"] == ["${keyring:gh}"]
    assert len(readApprovals(stateDir)) == 1


def test_allow_without_such_an_entry_says_so(clone: str, cli: Cli) -> None:
    code, _, err = cli("secret", "allow", "other", "--workspace", clone)
    assert code == 1 and "serves no entry of server 'other'" in err
    code, _, err = cli("secret", "disallow", "gh", "--workspace", clone)
    assert code == 1 and "has no approval" in err
