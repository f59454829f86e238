"""A repository's own entry writes its workspace, never its git
repositories nor the clients' settings there: each C{.git} found and each
client's settings folder at the top is shown read-only, and where the
workspace has no C{.git} or no C{.claude}, none can be made, under
bubblewrap, Landlock and Seatbelt alike; the user's own entries write as
before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpgateway.sandbox import workspaceseal
from mcpgateway.sandbox.bwrap import arguments
from mcpgateway.sandbox.landlock import rules
from mcpgateway.sandbox.layout import Layout, build
from mcpgateway.sandbox.seatbelt import profile
from mcpgateway.sandbox.workspaceseal import workspaceGit, workspaceSeals
from tests.support.sandbox.layout import bound, request, tree


def checkout(root: Path) -> Path:
    """A workspace that is a git checkout, with a vendored checkout one
    level down, another two levels down, one three levels down, and the
    .git of an installed package."""
    workspace = root / "ws"
    folders = (".git/hooks", "lib/.git", "vendor/dep/.git", "a/b/c/.git", "node_modules/x/.git")
    for folder in folders:
        (workspace / folder).mkdir(parents=True)
    (workspace / "README.md").write_text("hello")
    return workspace


def test_the_git_repositories_of_a_workspace_are_found_two_levels_down(tmp_path: Path) -> None:
    workspace = checkout(tmp_path)
    found = workspaceGit(str(workspace))
    assert found == [str(workspace / p) for p in (".git", "lib/.git", "vendor/dep/.git")]


def test_a_workspace_without_git_or_claude_says_where_they_would_be(tmp_path: Path) -> None:
    (tmp_path / "ws" / "src").mkdir(parents=True)
    ws = tmp_path / "ws"
    assert workspaceSeals(str(ws)) == ([], [str(ws / ".git"), str(ws / ".claude")], [])


def test_the_clients_settings_at_the_top_are_kept_and_claudes_made(tmp_path: Path) -> None:
    """Each client's settings folder the workspace has (and C{.mcp.json})
    is kept from writes; one deeper down is no client's setting; a missing
    C{.claude} is made read-only, the other clients' folders are not."""
    workspace = checkout(tmp_path)
    for folder in (".vscode", ".cursor", ".gemini", "src/.claude"):
        (workspace / folder).mkdir(parents=True)
    (workspace / ".mcp.json").write_text("{}")
    found, absent, linked = workspaceSeals(str(workspace))
    assert linked == []
    tops = [str(workspace / p) for p in (".cursor", ".gemini", ".mcp.json", ".vscode")]
    assert found == workspaceGit(str(workspace)) + tops
    assert absent == [str(workspace / ".claude")]


def test_a_linked_git_is_neither_given_nor_made(tmp_path: Path) -> None:
    """What a symbolic link points to is no part of the workspace: it is
    not shown through the link, and nothing is made in its place."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / ".git").symlink_to(tmp_path / "elsewhere")
    (workspace / ".claude").symlink_to(tmp_path / "elsewhere")
    assert workspaceSeals(str(workspace)) == (
        [],
        [],
        [str(workspace / ".git"), str(workspace / ".claude")],
    )


def test_a_linked_setting_keeps_the_whole_workspace_from_a_repositorys_server(
    tmp_path: Path,
) -> None:
    """A link no bind can keep: the child could replace it, or write
    through it into the workspace. The workspace is read-only then, and
    the layout says why."""
    workspace = checkout(tmp_path)
    (workspace / "conf").mkdir()
    (workspace / ".claude").symlink_to(workspace / "conf")
    layout = repositoryLayout(tmp_path, workspace)
    assert bound(layout)[str(workspace)] is False
    assert not any(w for path, w in bound(layout).items() if path.startswith(str(workspace)))
    assert any(".claude is a symbolic link" in note for note in layout.notes), layout.notes
    own = bound(repositoryLayout(tmp_path / "own", checkout(tmp_path / "own"), own=True))
    assert own[str(tmp_path / "own" / "ws")] is True  # the user's own entry: as before


def test_the_folders_looked_in_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = tmp_path / "ws"
    for index in range(20):
        (workspace / f"d{index:02}" / "sub" / ".git").mkdir(parents=True)
    monkeypatch.setattr(workspaceseal, "LOOKED_MOST", 5)
    found = workspaceGit(str(workspace))
    assert found == [str(workspace / f"d{index:02}" / "sub" / ".git") for index in range(4)]


def repositoryLayout(tmp_path: Path, workspace: Path, own: bool = False) -> Layout:
    """The layout of a repository's entry (C{own}: the user's own entry)
    running in C{workspace}, which it writes."""
    home = tree(tmp_path)
    fields = {"cwd": str(workspace), "workspace": True}
    if not own:
        fields["confinedTo"] = str(workspace)
    return build(request(tmp_path, **fields), ["/bin/true"], {"HOME": str(home)})


def test_a_repositorys_entry_writes_its_workspace_but_not_its_git(tmp_path: Path) -> None:
    workspace = checkout(tmp_path)
    layout = repositoryLayout(tmp_path, workspace)
    shown = bound(layout)
    assert shown[str(workspace)] is True
    for repository in (".git", "lib/.git", "vendor/dep/.git"):
        assert shown[str(workspace / repository)] is False
    assert layout.sealed == [str(workspace / ".claude")]
    own = bound(repositoryLayout(tmp_path / "own", checkout(tmp_path / "own"), own=True))
    assert not any(path.endswith(".git") for path in own)  # the user's own entry: as before


def test_a_workspace_without_git_gets_none_made(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    layout = repositoryLayout(tmp_path, workspace)
    made = [str(workspace / ".git"), str(workspace / ".claude")]
    assert layout.sealed == made
    assert layout.toJson()["sealed"] == made


def test_a_repositorys_entry_writes_no_clients_settings(tmp_path: Path) -> None:
    workspace = checkout(tmp_path)
    (workspace / ".claude").mkdir()
    (workspace / ".vscode").mkdir()
    layout = repositoryLayout(tmp_path, workspace)
    shown = bound(layout)
    assert shown[str(workspace / ".claude")] is False
    assert shown[str(workspace / ".vscode")] is False
    assert layout.sealed == []
    own = bound(repositoryLayout(tmp_path / "own", checkout(tmp_path / "own"), own=True))
    assert not any(path.endswith((".claude", ".vscode")) for path in own)


def at(words: list[str], *wanted: str) -> list[int]:
    """Where C{wanted} stands in C{words}, each time."""
    n = len(wanted)
    return [i for i in range(len(words) - n + 1) if tuple(words[i : i + n]) == wanted]


def test_bubblewrap_binds_the_git_read_only_after_the_workspace(tmp_path: Path) -> None:
    workspace = checkout(tmp_path)
    words = arguments(repositoryLayout(tmp_path, workspace), root=False)
    ws, git = str(workspace), str(workspace / ".git")
    [writable] = at(words, "--bind", ws, ws)
    [readOnly] = at(words, "--ro-bind", git, git)
    assert readOnly > writable


def test_bubblewrap_stands_an_empty_read_only_folder_for_a_missing_git(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    words = arguments(repositoryLayout(tmp_path, workspace), root=False)
    ws, git = str(workspace), str(workspace / ".git")
    [writable] = at(words, "--bind", ws, ws)
    [made] = at(words, "--perms", "0555", "--tmpfs", git)
    [sealed] = at(words, "--remount-ro", git)
    assert writable < made < sealed
    assert not os.path.exists(git)  # made by bubblewrap as it starts, not here


def test_landlock_splits_the_workspace_around_its_git(tmp_path: Path) -> None:
    """Landlock grants a right on a folder to all it holds: the workspace is
    read-only itself, each entry writable but its C{.git}."""
    workspace = checkout(tmp_path)
    allowed = rules(repositoryLayout(tmp_path, workspace), None)
    granted = {path: writable for path, writable in allowed if path.startswith(str(workspace))}
    assert granted[str(workspace)] is False
    assert granted[str(workspace / ".git")] is False
    assert granted[str(workspace / "README.md")] is True
    assert granted[str(workspace / "lib" / ".git")] is False
    assert granted[str(workspace / "a")] is True  # no repository two levels down there
    assert not any(w for path, w in allowed if path.startswith(str(workspace / ".git")))


def test_landlock_leaves_a_workspace_without_git_no_new_entry(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "src").mkdir(parents=True)
    allowed = rules(repositoryLayout(tmp_path, workspace), None)
    granted = {path: writable for path, writable in allowed if path.startswith(str(workspace))}
    assert granted == {str(workspace): False, str(workspace / "src"): True}


def test_landlock_keeps_the_clients_settings_read_only(tmp_path: Path) -> None:
    workspace = checkout(tmp_path)
    (workspace / ".claude").mkdir()
    (workspace / ".mcp.json").write_text("{}")
    allowed = rules(repositoryLayout(tmp_path, workspace), None)
    granted = {path: writable for path, writable in allowed if path.startswith(str(workspace))}
    assert granted[str(workspace / ".claude")] is False
    assert granted[str(workspace / ".mcp.json")] is False
    assert granted[str(workspace / "README.md")] is True


def test_seatbelt_denies_writing_the_git_inside_the_workspace(tmp_path: Path) -> None:
    workspace = checkout(tmp_path)
    text = profile(repositoryLayout(tmp_path, workspace))
    denied = text[text.index("(deny file-write*") :]
    assert f'(subpath "{workspace / ".git"}")' in denied.split(")\n")[0] + ")"


def test_an_approved_allow_write_of_git_writes_it(tmp_path: Path) -> None:
    """A repository's server that commits asks for C{.git} with
    C{allowWrite}, which it gets once the user approves that entry (the
    config takes an unapproved widening out before the launcher sees it)."""
    workspace = checkout(tmp_path)
    home = tree(tmp_path)
    asked = request(
        tmp_path,
        cwd=str(workspace),
        workspace=True,
        confinedTo=str(workspace),
        profile={"filesystem": {"allowWrite": [".git"]}},
    )
    shown = bound(build(asked, ["/bin/true"], {"HOME": str(home)}))
    assert shown[str(workspace / ".git")] is True
    assert shown[str(workspace / "lib" / ".git")] is False
