"""A project's client file is adopted only when it is a file of the project
itself: one that is a symlink, or whose real path lies outside the project
(a folder of its path links out), is neither adopted nor rewritten, and
the reason is said once; a project file adopted and made a link since is
never written through the link, neither by the next adoption nor by the
restore."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.clientconfigs.clients.base import projectFileRefusal
from mcpgateway.clientconfigs.clients.mcpservers import Cursor
from mcpgateway.clientconfigs.clients.vscode import VSCode
from mcpgateway.clientconfigs.documents import updateFile
from mcpgateway.clientconfigs.restoring import restoreAll
from mcpgateway.config.servers import ConfigError
from tests.clientconfigs.adoptkit import engine, makeHost, urlFor, write

VICTIM = {
    "mcpServers": {
        "userfs": {"command": "npx", "args": ["-y", "server-filesystem", "/home/u/docs"]}
    }
}
REPO = {"mcpServers": {"repo": {"command": "repo-server"}}}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def victimOf(tmp: Path) -> Path:
    return write(tmp / "home" / "docs" / "victim.json", json.dumps(VICTIM) + "\n")


def test_a_project_file_that_links_out_is_not_adopted_and_said_once(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    victim, project = victimOf(tmp_path), tmp_path / "proj"
    link = project / ".cursor" / "mcp.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(victim)
    before = digest(victim)
    gateway = engine(tmp_path, [Cursor()], host, projects=[project])
    first = gateway.adopt(urlFor)
    second = gateway.adopt(urlFor)
    assert digest(victim) == before and link.is_symlink()
    [warning] = first.warnings
    assert warning.startswith(f"{link} (cursor) was not adopted: it is a symlink (to {victim})")
    assert second.warnings == []
    assert [(r.file, r.client) for r in gateway.refused] == [(str(link), "cursor")]
    assert gateway.files() == [] and link in gateway.watchedPaths()
    assert gateway.servedDocument() == {"mcpServers": {}}


def test_a_project_folder_that_links_out_is_not_adopted(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    victim, project = victimOf(tmp_path), tmp_path / "proj"
    project.mkdir()
    (project / ".vscode").symlink_to(victim.parent)
    write(victim.parent / "mcp.json", json.dumps({"servers": VICTIM["mcpServers"]}))
    before = digest(victim.parent / "mcp.json")
    gateway = engine(tmp_path, [VSCode()], host, projects=[project])
    [warning] = gateway.adopt(urlFor).warnings
    assert f"it is really {victim.parent / 'mcp.json'}, outside its project" in warning
    assert digest(victim.parent / "mcp.json") == before


def test_a_link_inside_the_project_is_not_followed_either(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    inside = write(project / "config" / "cursor.json", json.dumps(REPO))
    link = project / ".cursor" / "mcp.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(inside)
    gateway = engine(tmp_path, [Cursor()], makeHost(tmp_path), projects=[project])
    [warning] = gateway.adopt(urlFor).warnings
    assert "it is a symlink" in warning
    assert json.loads(inside.read_text()) == REPO


def test_a_user_file_that_is_a_symlink_is_still_written_through(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    target = write(tmp_path / "dotfiles" / "mcp.json", json.dumps(REPO))
    link = host.home / ".cursor" / "mcp.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    engine(tmp_path, [Cursor()], host).adopt(urlFor)
    assert "127.0.0.1" in target.read_text() and link.is_symlink()


def test_an_adopted_file_made_a_link_is_not_written_through_by_sync_or_restore(
    tmp_path: Path,
) -> None:
    host = makeHost(tmp_path)
    victim, project = victimOf(tmp_path), tmp_path / "proj"
    path = write(project / ".cursor" / "mcp.json", json.dumps(REPO, indent=2) + "\n")
    gateway = engine(tmp_path, [Cursor()], host, projects=[project])
    gateway.adopt(urlFor)
    assert "127.0.0.1" in path.read_text()
    # the repository swaps it for a link to a file of the user's, shaped as the gateway wrote
    victim.write_text(path.read_text())
    before = digest(victim)
    path.unlink()
    path.symlink_to(victim)
    gateway.adopt(urlFor)
    report = restoreAll(gateway.stateDir)
    assert digest(victim) == before and path.is_symlink()
    [note] = [n for f in report.files for n in f.notes]
    assert "is a symlink" in note and "not restored, its backup is kept" in note


def test_a_file_swapped_for_a_link_after_it_was_found_is_not_written(tmp_path: Path) -> None:
    """The write itself checks again: a file found as the project's own and
    made a link before the write is neither read nor written through it."""
    host = makeHost(tmp_path)
    victim, project = victimOf(tmp_path), tmp_path / "proj"
    path = write(project / ".cursor" / "mcp.json", json.dumps(REPO))
    gateway = engine(tmp_path, [Cursor()], host, projects=[project])
    [(adapter, found)] = gateway.files()
    path.unlink()
    path.symlink_to(victim)
    before = digest(victim)
    with pytest.raises(ConfigError, match="is a symlink"):
        gateway.adoptFile(adapter, found, urlFor)
    assert digest(victim) == before
    with pytest.raises(ConfigError, match="outside"):
        updateFile(victim, lambda raw: b"{}", within=os.path.realpath(project))
    assert digest(victim) == before


KINDS = ("real", "link inside", "link outside")


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(KINDS), st.sampled_from(KINDS))
def test_nothing_outside_the_project_is_ever_written(folder: str, file: str) -> None:
    """Whatever the folder and the file of a project's client file are (each
    a real one, a link to a place in the project or a link out of it): no
    file outside the project changes, and the file is adopted exactly when
    it is no link and really in the project."""
    with tempfile.TemporaryDirectory() as made:
        tmp = Path(made)
        host = makeHost(tmp)
        project, outside = tmp / "proj", tmp / "home" / "docs"
        places = {"link inside": project / "elsewhere", "link outside": outside}
        for place in places.values():
            write(place / "mcp.json", json.dumps(REPO))
            write(place / "kept.json", json.dumps(REPO))
        cursor = project / ".cursor"
        if folder == "real":
            cursor.mkdir(parents=True)
        else:
            cursor.symlink_to(places[folder], target_is_directory=True)
        path = cursor / "mcp.json"
        if file == "real":
            if not path.exists() or path.is_symlink():
                write(path, json.dumps(REPO))
        else:
            if path.exists() or path.is_symlink():
                path.unlink()
            path.symlink_to(places[file] / "kept.json")
        sums = {p: digest(p) for p in outside.rglob("*.json")}
        gateway = engine(tmp, [Cursor()], host, projects=[project])
        gateway.adopt(urlFor)
        assert {p: digest(p) for p in outside.rglob("*.json")} == sums
        adopted = [f.path for _, f in gateway.files()]
        own = file == "real" and folder != "link outside"
        assert adopted == ([path] if own else [])
        assert (projectFileRefusal(path, project) is None) == own
        if own:
            assert "127.0.0.1" in path.read_text()
        restoreAll(gateway.stateDir)
        assert {p: digest(p) for p in outside.rglob("*.json")} == sums
