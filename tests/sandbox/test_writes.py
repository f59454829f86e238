"""Where a child may write, settled before anything else: a place named
through a symlink the child may have left is refused, whatever order the
entry names its places in; a missing place is made, never in the system."""

from __future__ import annotations

from pathlib import Path

from mcpgateway.sandbox.places import Places
from mcpgateway.sandbox.writes import Want, make, namesDirectory, settle
from tests.support.sandbox.layout import tree


def places(tmp: Path) -> Places:
    return Places(str(tmp / "home"), str(tmp / "home" / ".mcpgateway"), {})


def test_a_place_through_a_symlink_in_another_is_refused_in_any_order(tmp_path: Path) -> None:
    home = tree(tmp_path)
    (home / "Documents").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "docs").symlink_to(home / "Documents")
    for order in ([work, work / "docs"], [work / "docs", work]):
        found = places(tmp_path)
        wants = [Want(str(path), "argument") for path in order]
        settle(found, wants)
        targets = {want.path: want.target for want in wants}
        assert targets == {str(work): str(work), str(work / "docs"): None}, order


def test_a_place_is_a_directory_by_its_words_when_the_file_system_cannot_say(
    tmp_path: Path,
) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file.json").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "dir")
    assert namesDirectory(str(tmp_path / "dir"), "x.json")
    assert not namesDirectory(str(tmp_path / "file.json"), "x")
    assert namesDirectory(str(tmp_path / "new"), "new") and namesDirectory("/a/b.c", "b.c/")
    assert not namesDirectory(str(tmp_path / "new.jsonl"), "new.jsonl")
    assert namesDirectory(str(tmp_path / ".notes"), "~/.notes")
    # A symlink (the child may have made it in place of a data file): its words say.
    assert not namesDirectory(str(tmp_path / "link"), "link", "FILE")
    assert namesDirectory(str(tmp_path / "link"), "link", "DIR")


def test_a_missing_place_is_made_with_its_parents_never_in_the_system(tmp_path: Path) -> None:
    tree(tmp_path)
    found = places(tmp_path)
    assert make(found, str(tmp_path / "a" / "b" / "c"), directory=True) is None
    assert (tmp_path / "a" / "b" / "c").is_dir()
    assert make(found, str(tmp_path / "d" / "e.db"), directory=False) is None
    assert (tmp_path / "d" / "e.db").read_text() == ""
    assert make(found, "/usr/lib/mcpgateway-nothing/x", directory=True) == (
        "/usr/lib is the system's: not made"
    )
    state = tmp_path / "home" / ".mcpgateway"
    assert make(found, str(state / "x"), directory=True) == f"{state} is the system's: not made"
