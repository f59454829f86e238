"""The temporary directories of Landlock children: the one of a child that
ended is removed, those of children that no longer run are swept at the
gateway's start, and nothing else is touched, a link never followed."""

from __future__ import annotations

import os
from pathlib import Path

from mcpgateway.sandbox import childtmp
from mcpgateway.sandbox.childtmp import childTmp


def made(stateDir: Path, server: str, pid: int) -> Path:
    """A child's temporary directory with what it left there."""
    path = Path(childTmp(str(stateDir), server, pid))
    (path / "npm-cache").mkdir(parents=True)
    (path / "npm-cache" / "blob").write_text("x")
    return path


def test_the_directory_is_the_launchers_name_under_the_state_directory(tmp_path: Path) -> None:
    assert childTmp(str(tmp_path), "my server/x", 42) == str(
        tmp_path / "sandbox" / "my_server_x" / "tmp" / "42"
    )


def test_a_child_that_ended_has_its_directory_removed_and_only_its(tmp_path: Path) -> None:
    mine, other = made(tmp_path, "srv", 100), made(tmp_path, "srv", 101)
    assert childtmp.remove(str(tmp_path), "srv", 100) is True
    assert not mine.exists() and other.exists() and mine.parent.is_dir()
    assert childtmp.remove(str(tmp_path), "srv", 100) is False  # gone already: nothing to do


def test_a_link_in_its_place_or_inside_it_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("mine")
    path = made(tmp_path, "srv", 7)
    (path / "escape").symlink_to(outside)
    assert childtmp.remove(str(tmp_path), "srv", 7) is True
    assert not path.exists() and (outside / "keep").read_text() == "mine"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(outside)  # the directory itself replaced by a link
    assert childtmp.remove(str(tmp_path), "srv", 7) is False
    assert path.is_symlink() and (outside / "keep").exists()


def test_the_sweep_removes_those_of_children_that_no_longer_run(tmp_path: Path) -> None:
    gone, alive, other = made(tmp_path, "a", 10), made(tmp_path, "a", 11), made(tmp_path, "b", 12)
    shared = tmp_path / "sandbox" / "a" / "tmp" / "not-a-pid"
    shared.mkdir()
    stray = tmp_path / "sandbox" / "a" / "tmp" / "13"
    stray.write_text("a file, not a child's directory")
    removed = childtmp.sweep(str(tmp_path), isRunning=lambda pid: pid == 11)
    assert sorted(removed) == [str(gone), str(other)]
    assert alive.exists() and shared.exists() and stray.exists()
    assert not gone.exists() and not other.exists()


def test_the_sweep_of_a_state_directory_without_sandboxes_does_nothing(tmp_path: Path) -> None:
    assert childtmp.sweep(str(tmp_path / "nothing")) == []
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "sandbox" / "learn").write_text("")  # not a directory: skipped
    assert childtmp.sweep(str(tmp_path)) == []


def test_a_pid_runs_when_it_exists_whoever_it_is() -> None:
    assert childtmp.running(os.getpid())
    assert childtmp.running(1)  # init: someone else's, maybe
    assert not childtmp.running(2**22 + 1)  # beyond pid_max
