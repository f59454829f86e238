"""The launchers' caches a child holds are never removed; those whose entry
changed since, or that no child started on for thirty days, are."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox import cachekeeping
from mcpgateway.sandbox.cachekeeping import (
    IN_USE,
    KEEP_UNUSED,
    REMOVING,
    ROUTE,
    Folder,
    claim,
    delete,
    leftovers,
    remove,
    stale,
)

NOW = time.time()
DAY = 86400.0


@pytest.fixture
def caches(tmp_path: Path) -> Path:
    folder = tmp_path / "caches"
    folder.mkdir()
    return folder


@pytest.fixture
def held() -> Iterator[list[int]]:
    """The claims' fds, closed after the test (a child's end)."""
    fds: list[int] = []
    yield fds
    for fd in fds:
        os.close(fd)


def made(caches: Path, key: str, route: str | None, started: float, size: int = 10) -> Path:
    """A folder of caches C{key} of C{route} last started at C{started}
    (C{route} C{None}: an earlier gateway's, no claim in it)."""
    folder = caches / key
    (folder / "npm" / "_npx").mkdir(parents=True)
    (folder / "npm" / "_npx" / "pkg.js").write_bytes(b"x" * size)
    if route is not None:
        (folder / ROUTE).write_text(route)
        (folder / IN_USE).touch()
        os.utime(folder / IN_USE, (started, started))
    os.utime(folder, (started, started))
    return folder


def keys(found: list[Folder]) -> list[tuple[str, str]]:
    return [(os.path.basename(folder.path), folder.why) for folder in found]


def test_a_claim_holds_the_folder_names_its_route_and_says_when_it_started(
    caches: Path, held: list[int]
) -> None:
    folder = caches / "memory-abc"
    folder.mkdir()
    fd = claim(str(folder), "copy-memory-1")
    held.append(fd)
    assert fd >= cachekeeping.FD_FLOOR and os.get_inheritable(fd)
    assert (folder / ROUTE).read_text() == "copy-memory-1"
    assert abs((folder / IN_USE).stat().st_mtime - os.path.getmtime(folder / IN_USE)) < 1
    other = os.open(folder / IN_USE, os.O_RDONLY)
    try:  # shared: another child's claim goes too, an exclusive lock does not
        fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(other, fcntl.LOCK_UN)
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(other)


def test_a_folder_a_child_holds_is_never_removed(caches: Path, held: list[int]) -> None:
    made(caches, "memory-old", "copy-memory", NOW - 40 * DAY)
    made(caches, "memory-new", "copy-memory", NOW - DAY)
    held.append(claim(str(caches / "memory-old"), "copy-memory"))
    found = stale(str(caches), NOW)
    assert keys(found) == [("memory-new", "superseded")]  # the claim made the old one the newest
    assert remove(found[0]) is not None
    old = stale(str(caches), NOW + 80 * DAY)
    assert keys(old) == [("memory-old", "unused")]
    assert remove(old[0]) is None  # its child still runs
    assert sorted(os.listdir(caches)) == ["memory-old"]


def test_an_entry_changed_since_leaves_its_earlier_folders_to_be_removed(caches: Path) -> None:
    made(caches, "memory-v1", "copy-memory", NOW - 3 * DAY)
    made(caches, "memory-v2", "copy-memory", NOW - 2 * DAY)
    made(caches, "memory-v3", "copy-memory", NOW - 1 * DAY)
    made(caches, "time-v1", "copy-time", NOW - 5 * DAY)  # another route: its only one
    found = stale(str(caches), NOW)
    assert keys(found) == [("memory-v1", "superseded"), ("memory-v2", "superseded")]
    assert all((remove(folder) or 0) > 0 for folder in found)
    assert sorted(os.listdir(caches)) == ["memory-v3", "time-v1"]


def test_a_folder_no_child_started_on_for_thirty_days_goes(caches: Path) -> None:
    made(caches, "time-v1", "copy-time", NOW - 31 * DAY)
    made(caches, "fetch-v1", "copy-fetch", NOW - 29 * DAY)
    made(caches, "earlier", None, NOW - 31 * DAY)  # an earlier gateway's: its folder's time
    found = stale(str(caches), NOW)
    assert keys(found) == [("earlier", "unused"), ("time-v1", "unused")]
    assert all(remove(folder) is not None for folder in found)
    assert os.listdir(caches) == ["fetch-v1"]


def test_a_folder_holding_an_earlier_package_copy_is_kept(caches: Path) -> None:
    folder = made(caches, "memory-v1", None, NOW - 90 * DAY)
    (folder / "package").mkdir()
    (folder / "package" / "memory.jsonl").write_text("{}")
    os.utime(folder, (NOW - 90 * DAY, NOW - 90 * DAY))
    assert stale(str(caches), NOW) == []


def test_a_folder_claimed_after_it_was_found_is_kept(caches: Path, held: list[int]) -> None:
    made(caches, "memory-v1", "copy-memory", NOW - 40 * DAY)
    (found,) = stale(str(caches), NOW)
    held.append(claim(str(caches / "memory-v1"), "copy-memory"))
    os.close(held.pop())  # the child ran and ended since
    assert remove(found) is None
    assert os.listdir(caches) == ["memory-v1"]


def test_an_earlier_gateways_folder_claimed_after_it_was_found_is_kept(caches: Path) -> None:
    made(caches, "earlier", None, NOW - 40 * DAY)
    (found,) = stale(str(caches), NOW)
    os.close(claim(str(caches / "earlier"), "copy-earlier"))
    assert remove(found) is None
    assert os.listdir(caches) == ["earlier"]


def test_a_claim_after_a_removal_makes_the_folder_again(caches: Path, held: list[int]) -> None:
    made(caches, "memory-v1", "copy-memory", NOW - 40 * DAY)
    (found,) = stale(str(caches), NOW)
    assert remove(found) is not None
    folder = caches / "memory-v1"
    folder.mkdir()
    held.append(claim(str(folder), "copy-memory"))
    assert (folder / ROUTE).read_text() == "copy-memory"


def test_a_removal_a_crash_cut_short_is_finished_later(caches: Path) -> None:
    away = made(caches, f"{REMOVING}memory-v1", "copy-memory", NOW)
    assert stale(str(caches), NOW + 90 * DAY) == []  # not a folder of caches
    assert leftovers(str(caches)) == [str(away)]
    assert delete(str(away)) > 0
    assert os.listdir(caches) == []


def test_a_folder_a_tool_made_read_only_is_removed(caches: Path) -> None:
    folder = made(caches, "uv-v1", "copy-uv", NOW - 40 * DAY)
    locked = folder / "uv" / "archive"
    locked.mkdir(parents=True)
    (locked / "module.py").write_text("x = 1\n")
    locked.chmod(0o500)
    (found,) = stale(str(caches), NOW)
    assert remove(found) is not None
    assert os.listdir(caches) == []


def test_no_caches_folder_is_no_work(tmp_path: Path) -> None:
    assert stale(str(tmp_path / "caches"), NOW) == []
    assert leftovers(str(tmp_path / "caches")) == []


def test_a_file_or_a_symlink_among_the_folders_is_left_alone(caches: Path, tmp_path: Path) -> None:
    (caches / "stray").write_text("x")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (caches / "link").symlink_to(target)
    os.utime(caches / "stray", (NOW - 90 * DAY, NOW - 90 * DAY))
    assert stale(str(caches), NOW) == []


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(min_value=0, max_value=60)),
        min_size=1,
        max_size=6,
    )
)
def test_each_route_keeps_its_newest_folder_until_it_is_unused(
    tmp_path_factory: pytest.TempPathFactory, runs: list[tuple[str, int]]
) -> None:
    caches = tmp_path_factory.mktemp("caches")
    for index, (route, daysAgo) in enumerate(runs):
        made(caches, f"{route}-{index}", f"copy-{route}", NOW - daysAgo * DAY - index)
    gone = {os.path.basename(folder.path) for folder in stale(str(caches), NOW)}
    for route in {route for route, _ in runs}:
        mine = [(NOW - d * DAY - i, f"{r}-{i}") for i, (r, d) in enumerate(runs) if r == route]
        newest = max(mine)
        assert {key for _, key in mine if key != newest[1]} <= gone
        assert (newest[1] in gone) == (NOW - newest[0] > KEEP_UNUSED)


def npxInstall(folder: Path, wroteAfter: bool) -> Path:
    """An C{npx} install in C{folder}'s npm cache, its package's files and
    then npm's last file written; a file the child wrote after (C{wroteAfter})."""
    modules = folder / "npm" / "cache" / "_npx" / "c98ccc168155bafa" / "node_modules"
    package = modules / "@modelcontextprotocol" / "server-memory" / "dist"
    package.mkdir(parents=True)
    (package / "index.js").write_text("// code\n")
    os.utime(package / "index.js", ns=(1_000_000_000, 1_000_000_000))
    (modules / ".package-lock.json").write_text("{}")
    os.utime(modules / ".package-lock.json", ns=(2_000_000_000, 2_000_000_000))
    if wroteAfter:
        (package / "memory.jsonl").write_text('{"type":"entity"}\n')
    return package


@pytest.mark.parametrize("why", ["superseded", "unused"])
def test_a_folder_where_a_server_wrote_beside_its_npx_code_is_kept(caches: Path, why: str) -> None:
    old = made(caches, "memory-v1", "copy-memory", NOW - 40 * DAY)
    made(caches, "memory-v2", "copy-memory", NOW - (DAY if why == "superseded" else 41 * DAY))
    npxInstall(old, wroteAfter=True)
    assert cachekeeping.serverWrote(str(old))
    assert "memory-v1" not in [key for key, _ in keys(stale(str(caches), NOW))]


def test_a_folder_whose_npx_install_is_as_npm_wrote_it_goes(caches: Path) -> None:
    old = made(caches, "memory-v1", "copy-memory", NOW - 2 * DAY)
    made(caches, "memory-v2", "copy-memory", NOW - DAY)
    npxInstall(old, wroteAfter=False)
    assert not cachekeeping.serverWrote(str(old))
    assert keys(stale(str(caches), NOW)) == [("memory-v1", "superseded")]
