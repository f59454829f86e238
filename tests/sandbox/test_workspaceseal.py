"""A repository's own entry writes its workspace, never its git
repositories nor the clients' settings there: each C{.git} found and each
client's settings folder at the top is shown read-only, and the top takes
no new entry, so none it lacks can be made, under bubblewrap, Landlock and
Seatbelt alike, with nothing left behind in the workspace; the user's own
entries write as before."""

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


def absentOf(ws: Path, *present: str) -> list[str]:
    """The names L{workspaceSeals} finds missing in C{ws}: all of C{.git}
    and the clients' settings but C{present}, in its order."""
    names = dict.fromkeys((*workspaceseal.MADE, *workspaceseal.SETTINGS))
    return [str(ws / name) for name in names if name not in present]


def test_a_workspace_without_git_or_settings_says_where_they_would_be(tmp_path: Path) -> None:
    (tmp_path / "ws" / "src").mkdir(parents=True)
    ws = tmp_path / "ws"
    found, absent, linked = workspaceSeals(str(ws))
    assert (found, linked) == ([], [])
    assert absent == absentOf(ws)
    assert {str(ws / name) for name in (".git", ".claude", ".vscode", ".mcp.json")} <= set(absent)


def test_the_clients_settings_at_the_top_are_kept_and_the_missing_ones_named(
    tmp_path: Path,
) -> None:
    """Each client's settings folder the workspace has (and C{.mcp.json})
    is kept from writes; one deeper down is no client's setting; each one
    missing is named, to be made by no one."""
    workspace = checkout(tmp_path)
    for folder in (".vscode", ".cursor", ".gemini", "src/.claude"):
        (workspace / folder).mkdir(parents=True)
    (workspace / ".mcp.json").write_text("{}")
    found, absent, linked = workspaceSeals(str(workspace))
    assert linked == []
    tops = [str(workspace / p) for p in (".cursor", ".gemini", ".mcp.json", ".vscode")]
    assert found == workspaceGit(str(workspace)) + tops
    assert absent == absentOf(workspace, ".git", ".cursor", ".gemini", ".mcp.json", ".vscode")


def test_a_linked_git_is_neither_given_nor_made(tmp_path: Path) -> None:
    """What a symbolic link points to is no part of the workspace: it is
    not shown through the link, and nothing is made in its place."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / ".git").symlink_to(tmp_path / "elsewhere")
    (workspace / ".claude").symlink_to(tmp_path / "elsewhere")
    found, absent, linked = workspaceSeals(str(workspace))
    assert found == []
    assert linked == [str(workspace / ".git"), str(workspace / ".claude")]
    assert not set(linked) & set(absent)


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
    assert layout.sealed == absentOf(workspace, ".git")
    own = repositoryLayout(tmp_path / "own", checkout(tmp_path / "own"), own=True)
    assert not any(path.endswith(".git") for path in bound(own))  # the user's own entry
    assert own.sealed == []  # ... takes new entries as before


def test_a_workspace_without_git_gets_none_made(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    layout = repositoryLayout(tmp_path, workspace)
    assert layout.sealed == absentOf(workspace)
    assert layout.toJson()["sealed"] == absentOf(workspace)


def test_a_repositorys_entry_writes_no_clients_settings(tmp_path: Path) -> None:
    workspace = checkout(tmp_path)
    (workspace / ".claude").mkdir()
    (workspace / ".vscode").mkdir()
    layout = repositoryLayout(tmp_path, workspace)
    shown = bound(layout)
    assert shown[str(workspace / ".claude")] is False
    assert shown[str(workspace / ".vscode")] is False
    assert layout.sealed == absentOf(workspace, ".git", ".claude", ".vscode")
    own = bound(repositoryLayout(tmp_path / "own", checkout(tmp_path / "own"), own=True))
    assert not any(path.endswith((".claude", ".vscode")) for path in own)


def at(words: list[str], *wanted: str) -> list[int]:
    """Where C{wanted} stands in C{words}, each time."""
    n = len(wanted)
    return [i for i in range(len(words) - n + 1) if tuple(words[i : i + n]) == wanted]


def test_bubblewrap_shows_the_top_read_only_and_each_entry_writable_but_the_git(
    tmp_path: Path,
) -> None:
    """The top takes no new entry (a missing C{.vscode}, C{.mcp.json});
    what is there is written in place; the C{.git} stays read-only."""
    workspace = checkout(tmp_path)
    (workspace / "notes").symlink_to(workspace / "README.md")
    words = arguments(repositoryLayout(tmp_path, workspace), root=False)
    ws, git = str(workspace), str(workspace / ".git")
    assert not at(words, "--bind", ws, ws)
    [top] = at(words, "--ro-bind", ws, ws)
    [readOnly] = at(words, "--ro-bind", git, git)
    entries = {}
    for name in ("README.md", "a", "lib", "node_modules", "vendor"):
        [entries[name]] = at(words, "--bind-try", str(workspace / name), str(workspace / name))
    assert top < min(entries.values()) and top < readOnly
    assert not at(words, "--bind-try", git, git)
    assert not any(str(workspace / "notes") in word for word in words)  # a link: followed
    assert not any(str(workspace / ".vscode") in word for word in words)  # nothing made


def test_bubblewrap_makes_nothing_in_a_workspace_without_git(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "src").mkdir(parents=True)
    words = arguments(repositoryLayout(tmp_path, workspace), root=False)
    ws, src = str(workspace), str(workspace / "src")
    assert at(words, "--ro-bind", ws, ws) and at(words, "--bind-try", src, src)
    assert not any(word.startswith(f"{workspace}/.") for word in words)  # no .git, no .claude
    assert not os.path.exists(workspace / ".git")


def test_bubblewrap_keeps_the_git_read_only_at_a_workspace_s_symlinked_name(
    tmp_path: Path,
) -> None:
    """A workspace reached by a symbolic link is bound at its real path and
    at that name: at both, its C{.git} is read-only and its top takes no
    new entry."""
    home = tree(tmp_path)
    real = checkout(tmp_path)
    link = home / "proj"
    link.symlink_to(real)
    asked = request(tmp_path, cwd=str(link), workspace=True, confinedTo=str(real))
    words = arguments(build(asked, ["/bin/true"], {"HOME": str(home)}), root=False)
    for name in (real, link):
        assert not at(words, "--bind", str(real), str(name))
        assert at(words, "--ro-bind", str(real), str(name))
        assert at(words, "--ro-bind", str(real / ".git"), str(name / ".git"))
        assert at(words, "--bind-try", str(real / "README.md"), str(name / "README.md"))


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


def test_an_approved_allow_write_of_a_missing_git_makes_only_it(tmp_path: Path) -> None:
    """An approved C{allowWrite} of a C{.git} the workspace lacks makes that
    folder, writable, before the child starts (C{git init} fills it); the
    top takes no other new entry."""
    workspace = tmp_path / "ws"
    (workspace / "src").mkdir(parents=True)
    asked = request(
        tmp_path,
        cwd=str(workspace),
        workspace=True,
        confinedTo=str(workspace),
        profile={"filesystem": {"allowWrite": [".git"]}},
    )
    layout = build(asked, ["/bin/true"], {"HOME": str(tree(tmp_path))})
    assert bound(layout)[str(workspace / ".git")] is True
    assert layout.sealed == absentOf(workspace, ".git")
    words = arguments(layout, root=False)
    ws = str(workspace)
    assert at(words, "--ro-bind", ws, ws) and not at(words, "--bind", ws, ws)


def test_a_mask_in_a_workspace_reached_by_a_link_holds_at_that_name(tmp_path: Path) -> None:
    """The entry's C{denyRead} inside its workspace, which its C{cwd} names
    through a symbolic link: hidden at the real path and at that name."""
    home = tree(tmp_path)
    real = checkout(tmp_path)
    (real / "secrets").mkdir()
    (real / "secrets" / "key").write_text("k")
    (real / "token.txt").write_text("t")
    link = home / "proj"
    link.symlink_to(real)
    asked = request(
        tmp_path,
        cwd=str(link),
        workspace=True,
        profile={"filesystem": {"denyRead": ["./secrets", "./token.txt"]}},
    )
    words = arguments(build(asked, ["/bin/true"], {"HOME": str(home)}), root=False)
    for name in (real, link):
        assert at(words, "--perms", "0000", "--tmpfs", str(name / "secrets")), name
        assert at(words, "--ro-bind", "/dev/null", str(name / "token.txt")), name


def test_a_workspace_with_more_entries_than_bound_says_which_stay_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each entry bound again is a mount: past the most, in name order, the
    entries stay read-only under bubblewrap, and the layout says so."""
    monkeypatch.setattr(workspaceseal, "TOP_ENTRIES_MOST", 3)
    workspace = tmp_path / "ws"
    for name in ("a", "b", "c", "d"):
        (workspace / name).mkdir(parents=True)
    layout = repositoryLayout(tmp_path, workspace)
    assert any("more than 3 entries" in note for note in layout.notes), layout.notes
    words = arguments(layout, root=False)
    bound = [name for name in "abcd" if at(words, "--bind-try", *[str(workspace / name)] * 2)]
    assert bound == ["a", "b", "c"]
    few = tmp_path / "other" / "few"
    (few / "a").mkdir(parents=True)
    assert not any("more than" in n for n in repositoryLayout(tmp_path / "other", few).notes)
