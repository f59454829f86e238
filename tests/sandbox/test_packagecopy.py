"""A child's own copy of the package it runs: the install whole at first,
then what the install changes; what the child wrote stays its own; nothing
the child left in it is followed."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox import landlock, packagecopy
from mcpgateway.sandbox.bwrap import arguments
from mcpgateway.sandbox.layout import build
from tests.support.sandbox.layout import request, tree


def package(root: Path) -> Path:
    """An installed package: code, a folder, a link, its own dependencies."""
    (root / "dist").mkdir(parents=True)
    (root / "dist" / "index.js").write_text("console.log('the real server')\n")
    (root / "dist" / "index.js").chmod(0o755)
    (root / "package.json").write_text('{"name": "memory"}')
    (root / "bin").symlink_to("dist")
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_text("dep")
    return root


def listing(root: Path) -> dict[str, str]:
    """Every entry under C{root}: a file's text, a link's target, C{/} for a folder."""
    out = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            out[name] = "-> " + os.readlink(path)
        elif path.is_dir():
            out[name] = "/"
        else:
            out[name] = path.read_text()
    return out


def test_the_copy_is_the_package_without_its_dependencies(tmp_path: Path) -> None:
    source = package(tmp_path / "install")
    copy = Path(packagecopy.copyPath(str(tmp_path / "state"), "k"))
    packagecopy.refresh(str(source), str(copy))
    assert listing(copy) == {
        "bin": "-> dist",
        "dist": "/",
        "dist/index.js": "console.log('the real server')\n",
        "node_modules": "/",  # where the install's is bound, read-only
        "package.json": '{"name": "memory"}',
    }
    assert stat.S_IMODE((copy / "dist" / "index.js").stat().st_mode) == 0o755
    assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700


def test_what_the_child_wrote_stays_until_the_install_changes_that_file(tmp_path: Path) -> None:
    """A child's copy is its own: what it wrote there, over a file of the
    package or beside it, is kept at its next start; a file the install
    changes (an upgrade in place) is copied again."""
    source = package(tmp_path / "install")
    copy = tmp_path / "copy"
    packagecopy.refresh(str(source), str(copy))
    (copy / "dist" / "memory.jsonl").write_text('{"name": "mine"}\n')
    (copy / "package.json").write_text('{"name": "edited by the child"}')
    packagecopy.refresh(str(source), str(copy))
    assert (copy / "dist" / "memory.jsonl").read_text() == '{"name": "mine"}\n'
    assert (copy / "package.json").read_text() == '{"name": "edited by the child"}'
    (source / "dist" / "index.js").write_text("console.log('version 2')\n")
    packagecopy.refresh(str(source), str(copy))
    assert (copy / "dist" / "index.js").read_text() == "console.log('version 2')\n"
    assert (copy / "dist" / "memory.jsonl").read_text() == '{"name": "mine"}\n'


def test_what_an_earlier_child_wrote_in_the_install_is_carried_once(tmp_path: Path) -> None:
    """An install a child wrote in (before children had copies, or under
    Landlock) gives a new copy its data, and never again: the child's own
    writes since are not undone by the install's older file."""
    source = package(tmp_path / "install")
    (source / "dist" / "memory.jsonl").write_text("what it knew\n")
    copy = tmp_path / "copy"
    packagecopy.refresh(str(source), str(copy))
    assert (copy / "dist" / "memory.jsonl").read_text() == "what it knew\n"
    (copy / "dist" / "memory.jsonl").write_text("what it knew\nwhat it learned since\n")
    packagecopy.refresh(str(source), str(copy))
    assert (copy / "dist" / "memory.jsonl").read_text() == "what it knew\nwhat it learned since\n"


def test_a_newer_version_of_the_package_keeps_what_the_child_wrote(tmp_path: Path) -> None:
    """The copy is kept for the entry, not its package's version: another
    install (an entry asking for a newer version) brings its changed
    files, and the child's data stays."""
    old = package(tmp_path / "v1")
    copy = tmp_path / "copy"
    packagecopy.refresh(str(old), str(copy))
    (copy / "dist" / "memory.jsonl").write_text("what it knew\n")
    new = package(tmp_path / "v2")
    (new / "dist" / "index.js").write_text("console.log('version 2')\n")
    packagecopy.refresh(str(new), str(copy))
    assert (copy / "dist" / "index.js").read_text() == "console.log('version 2')\n"
    assert (copy / "dist" / "memory.jsonl").read_text() == "what it knew\n"


def test_a_copy_kept_beside_the_entrys_caches_is_carried_to_its_place(tmp_path: Path) -> None:
    """A gateway that kept the copy beside the entry's caches left the
    child's data there: the first refresh at the copy's place moves it,
    digests and all, and never again; a link standing there is not."""
    state = tmp_path / "state"
    source = package(tmp_path / "install")
    earlier = Path(packagecopy.earlierCopyPath(str(state), "mem-0123"))
    packagecopy.refresh(str(source), str(earlier))
    (earlier / "dist" / "memory.jsonl").write_text("what it knew\n")
    (earlier / "package.json").write_text('{"name": "edited by the child"}')
    copy = Path(packagecopy.copyPath(str(state), "mem-4567"))
    assert copy == state / "copies" / "mem-4567" / "package"
    packagecopy.refresh(str(source), str(copy), str(earlier))
    assert not earlier.exists() and not Path(str(earlier) + packagecopy.SUMS).exists()
    assert (copy / "dist" / "memory.jsonl").read_text() == "what it knew\n"
    assert (copy / "package.json").read_text() == '{"name": "edited by the child"}'
    assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
    elsewhere = package(tmp_path / "elsewhere")
    earlier.parent.mkdir(parents=True, exist_ok=True)
    earlier.symlink_to(elsewhere)
    other = Path(packagecopy.copyPath(str(state), "mem-89ab"))
    packagecopy.refresh(str(source), str(other), str(earlier))
    assert earlier.is_symlink() and (elsewhere / "dist").is_dir()
    assert not (other / "dist" / "memory.jsonl").exists()
    packagecopy.refresh(str(source), str(copy), str(other))  # the copy there already: kept
    assert (copy / "dist" / "memory.jsonl").read_text() == "what it knew\n"
    assert (other / "dist").is_dir()


def test_nothing_the_child_left_in_the_copy_is_followed(tmp_path: Path) -> None:
    """A link where a folder or a file of the package belongs, a FIFO in a
    file's place, a folder where a file belongs, a leftover under the
    name a file is written by: each goes, and nothing outside the copy is
    written."""
    source = package(tmp_path / "install")
    copy = tmp_path / "copy"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "package.json").write_text("the user's")
    packagecopy.refresh(str(source), str(copy))
    (copy / "package.json").unlink()
    (copy / "package.json").symlink_to(outside / "package.json")
    for entry in (copy / "dist").iterdir():
        entry.unlink()
    (copy / "dist").rmdir()
    (copy / "dist").symlink_to(outside)
    (copy / "bin").unlink()
    os.mkfifo(copy / "bin")
    (copy / f".package.json.{os.getpid()}.copying").mkdir()
    packagecopy.refresh(str(source), str(copy))
    assert listing(copy) == listing_of_a_fresh_copy(source, tmp_path)  # each made again
    assert listing(outside) == {"package.json": "the user's"}


def listing_of_a_fresh_copy(source: Path, tmp: Path) -> dict[str, str]:
    fresh = tmp / "fresh"
    packagecopy.refresh(str(source), str(fresh))
    return listing(fresh)


def test_a_file_where_a_folder_belongs_and_a_folder_where_a_file_belongs(tmp_path: Path) -> None:
    source = package(tmp_path / "install")
    copy = tmp_path / "copy"
    (copy / "package.json" / "inner").mkdir(parents=True)
    (copy / "dist").parent.mkdir(parents=True, exist_ok=True)
    (copy / "dist").write_text("not a folder")
    packagecopy.refresh(str(source), str(copy))
    assert (copy / "package.json").read_text() == '{"name": "memory"}'
    assert (copy / "dist" / "index.js").read_text() == "console.log('the real server')\n"


NAMES = st.sampled_from(["dist", "index.js", "package.json", "bin", "x", "node_modules", ".a"])
PLANTED = st.recursive(
    st.one_of(st.text(max_size=20), st.builds(lambda target: ("link", target), NAMES)),
    lambda inner: st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=12,
)


def plant(at: Path, what: object, outside: Path) -> None:
    """Make C{what} at C{at}: a folder of a dict, a link of C{("link",
    name)} (to C{outside}/name), a file of a text."""
    if isinstance(what, dict):
        at.mkdir()
        for name, inner in what.items():
            plant(at / name, inner, outside)
    elif isinstance(what, tuple):
        at.symlink_to(outside / what[1])
    else:
        at.write_text(str(what))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(PLANTED)
def test_any_tree_a_child_leaves_becomes_the_package_and_nothing_outside_moves(
    tmp_path: Path, planted: object
) -> None:
    base = Path(os.path.realpath(tmp_path)) / f"case-{os.urandom(6).hex()}"
    source = package(base / "install")
    outside = base / "outside"
    outside.mkdir()
    for name in ("dist", "index.js", "package.json", "bin", "x", "node_modules", ".a"):
        (outside / name).write_text("the user's")
    copy = base / "copy"
    if isinstance(planted, dict):
        plant(copy, planted, outside)
    else:
        copy.mkdir()
    packagecopy.refresh(str(source), str(copy))
    shipped = listing_of_a_fresh_copy(source, base)
    got = listing(copy)
    for name, value in shipped.items():
        if value == "/" or value.startswith("-> "):  # a folder, a link: the install's
            assert got[name] == value, name
        else:  # a file: a regular file (the install's, or what the child wrote there)
            assert (copy / name).is_file() and not (copy / name).is_symlink(), name
    assert {p.name: p.read_text() for p in outside.iterdir()} == dict.fromkeys(
        ("dist", "index.js", "package.json", "bin", "x", "node_modules", ".a"), "the user's"
    )


def test_bubblewrap_shows_the_copy_at_the_packages_path_and_its_dependencies_read_only(
    tmp_path: Path,
) -> None:
    home = tree(tmp_path)
    install = home / ".mcpgateway" / "npx" / "mem"
    own = install / "node_modules" / "@modelcontextprotocol" / "server-memory"
    package(own)
    script = own / "dist" / "index.js"
    for servesOne in (False, True):
        asked = request(tmp_path, cacheKey="mem-0123", copyKey="mem-4567", servesOne=servesOne)
        layout = build(asked, ["/usr/bin/node", str(script)], {})
        copy = str(home / ".mcpgateway" / "copies" / "mem-4567" / "package")
        assert layout.packageCopy == (copy, str(own))
        words = arguments(layout, root=True)
        bind = words.index(copy)
        assert words[bind - 1 : bind + 2] == ["--bind", copy, str(own)]
        reopened = max(i for i, word in enumerate(words) if word == str(install))
        assert reopened < bind  # over the install, which is read-only
        dependencies = str(own / "node_modules")
        assert words[bind + 2 : bind + 5] == ["--ro-bind", dependencies, dependencies]


def test_under_landlock_the_child_runs_its_copy_where_it_is_and_finds_the_installs_modules(
    tmp_path: Path,
) -> None:
    """Landlock shows no copy at the package's path: the child runs the
    copy's script where the copy is, allowed to write there, and Node.js
    finds the install's dependencies through C{node_modules} beside it."""
    home = tree(tmp_path)
    install = home / ".mcpgateway" / "npx" / "mem"
    own = install / "node_modules" / "@modelcontextprotocol" / "server-memory"
    package(own)
    (own / "node_modules").rename(install / "node_modules" / "hoisted")  # npm hoisted it
    script = own / "dist" / "index.js"
    layout = build(
        request(tmp_path, cacheKey="mem-0123"), ["/usr/bin/node", str(script)], {}, "landlock"
    )
    assert layout.packageCopy is not None
    copy, shown = layout.packageCopy
    assert shown == str(own)
    command = packagecopy.runFromCopy(["/usr/bin/node", str(script), "--x", str(own)], copy, shown)
    assert command == ["/usr/bin/node", copy + "/dist/index.js", "--x", str(own)]
    assert (copy, True) in landlock.rules(layout, None)
    assert (str(own), True) not in landlock.rules(layout, None)  # the install: read-only
    packagecopy.refresh(str(own), copy)
    beside = Path(copy).parent / "node_modules"
    assert os.readlink(beside) == str(install / "node_modules")
    assert (beside / "hoisted" / "dep" / "index.js").read_text() == "dep"


def test_a_package_with_modules_of_its_own_has_no_copy_under_landlock(tmp_path: Path) -> None:
    """Its own C{node_modules} (what npm could not hoist) is found only at
    the package's path, which Landlock cannot show the copy at."""
    own = package(tmp_path / "install" / "node_modules" / "srv")
    assert not packagecopy.usable(str(own), "landlock")
    assert packagecopy.usable(str(own), "bwrap") and packagecopy.usable(str(own), "auto")
    assert not packagecopy.usable(str(own), "seatbelt")
    (own / "node_modules" / "dep" / "index.js").unlink()
    (own / "node_modules" / "dep").rmdir()
    (own / "node_modules").rmdir()
    assert packagecopy.usable(str(own), "landlock")


def test_two_launchers_bringing_one_copy_up_at_once_both_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two children of one entry (a per-session server's) start at once:
    a folder or a link the other launcher made between a look and a make,
    or a leftover it removed first, fails neither."""
    source = package(tmp_path / "install")
    copy = tmp_path / "copy"
    realMkdir, realSymlink, realUnlink = os.mkdir, os.symlink, os.unlink

    def mkdirAfterTheOther(path: str, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        realMkdir(path, mode, dir_fd=dir_fd)  # the other launcher's
        realMkdir(path, mode, dir_fd=dir_fd)

    def symlinkAfterTheOther(target: str, path: str, *, dir_fd: int | None = None) -> None:
        realSymlink(target, path, dir_fd=dir_fd)
        realSymlink(target, path, dir_fd=dir_fd)

    def unlinkAfterTheOther(path: str, *, dir_fd: int | None = None) -> None:
        realUnlink(path, dir_fd=dir_fd)
        realUnlink(path, dir_fd=dir_fd)

    with monkeypatch.context() as racing:
        racing.setattr(os, "mkdir", mkdirAfterTheOther)
        racing.setattr(os, "symlink", symlinkAfterTheOther)
        packagecopy.refresh(str(source), str(copy))
    assert (copy / "dist" / "index.js").read_text() == "console.log('the real server')\n"
    assert os.readlink(copy / "bin") == "dist"
    (copy / "bin").unlink()
    (copy / "bin").symlink_to("elsewhere")  # what a child left: removed, made again
    shutil.rmtree(copy / "dist")
    (copy / "dist").write_text("a file where the install has a folder")
    with monkeypatch.context() as racing:
        racing.setattr(os, "unlink", unlinkAfterTheOther)
        packagecopy.refresh(str(source), str(copy))
    assert os.readlink(copy / "bin") == "dist"
    assert (copy / "dist" / "index.js").read_text() == "console.log('the real server')\n"
