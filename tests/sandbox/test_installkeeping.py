"""The gateway's package installs an entry has left are found and
removed; one a child runs from, one another entry still runs, one an
install runs in and one no confined child ever claimed are kept."""

from __future__ import annotations

import os
from pathlib import Path

from mcpgateway.sandbox import installkeeping
from mcpgateway.sandbox.cachekeeping import IN_USE
from mcpgateway.sandbox.defaults import INSTALLING


def install(state: Path, name: str, kind: str = "npx") -> Path:
    folder = state / kind / name
    (folder / "node_modules").mkdir(parents=True)
    (folder / "node_modules" / "index.js").write_bytes(b"x" * 3000)
    return folder


def started(state: Path, folder: Path, route: str, at: float, held: bool = False) -> list[int]:
    """A child of C{route} started on C{folder} at C{at}; its claims' fds
    when it still runs (C{held})."""
    kind = folder.parent.name
    fds = installkeeping.claimInstalls(str(state), [(kind, folder.name)], route)
    os.utime(state / "claims" / kind / folder.name / route / IN_USE, (at, at))
    if held:
        return fds
    for fd in fds:
        os.close(fd)
    return []


def names(found: list[installkeeping.Install]) -> list[str]:
    return [os.path.basename(i.path) for i in found]


def test_an_install_its_entry_left_goes_the_one_it_runs_stays(tmp_path: Path) -> None:
    old, new = install(tmp_path, "m@1-a"), install(tmp_path, "m@2-b")
    started(tmp_path, old, "copy-m", 10.0)
    started(tmp_path, new, "copy-m", 20.0)
    found = installkeeping.superseded(str(tmp_path))
    assert names(found) == ["m@1-a"]
    assert (installkeeping.remove(found[0]) or 0) >= 3000  # its files, on disk
    assert not old.exists() and new.exists()
    assert not (tmp_path / "claims" / "npx" / "m@1-a").exists()
    assert installkeeping.superseded(str(tmp_path)) == []


def test_an_install_another_entry_still_runs_is_kept(tmp_path: Path) -> None:
    shared, new = install(tmp_path, "m@1-a", "uvx"), install(tmp_path, "m@2-b", "uvx")
    started(tmp_path, shared, "copy-a", 10.0)
    started(tmp_path, shared, "copy-b", 11.0)  # b runs m@1 still
    started(tmp_path, new, "copy-a", 20.0)  # a moved on to m@2
    assert installkeeping.superseded(str(tmp_path)) == []
    started(tmp_path, new, "copy-b", 30.0)  # and so did b
    assert names(installkeeping.superseded(str(tmp_path))) == ["m@1-a"]


def test_a_child_running_from_it_keeps_it_until_it_exits(tmp_path: Path) -> None:
    old, new = install(tmp_path, "m@1-a"), install(tmp_path, "m@2-b")
    fds = started(tmp_path, old, "copy-m", 10.0, held=True)
    started(tmp_path, new, "copy-m", 20.0)
    [found] = installkeeping.superseded(str(tmp_path))
    assert installkeeping.remove(found) is None and old.exists()
    for fd in fds:
        os.close(fd)
    assert (installkeeping.remove(found) or 0) >= 3000 and not old.exists()


def test_an_install_under_way_or_never_claimed_is_kept(tmp_path: Path) -> None:
    old, new = install(tmp_path, "m@1-a"), install(tmp_path, "m@2-b")
    install(tmp_path, "unclaimed@1-c")  # an unconfined child's, or an earlier gateway's
    started(tmp_path, old, "copy-m", 10.0)
    started(tmp_path, new, "copy-m", 20.0)
    (old / INSTALLING).write_text("1\n")  # the resolver installs into it again
    assert installkeeping.superseded(str(tmp_path)) == []


def test_a_claim_started_since_it_was_found_keeps_it(tmp_path: Path) -> None:
    old, new = install(tmp_path, "m@1-a"), install(tmp_path, "m@2-b")
    started(tmp_path, old, "copy-m", 10.0)
    started(tmp_path, new, "copy-m", 20.0)
    [found] = installkeeping.superseded(str(tmp_path))
    started(tmp_path, old, "copy-m", 30.0)  # the entry went back to 1 meanwhile
    assert installkeeping.remove(found) is None and old.exists()


def test_the_installs_a_childs_paths_run_from() -> None:
    paths = [
        "/s/npx/m@1-a/node_modules/m/dist/index.js",
        "/s/npx/m@1-a",
        "/s/uvx/t-b/tools/t/bin/t",
        "/s/npx/.discarded-x",
        "/s/caches/k",
        "/s/npxother/y",
    ]
    assert installkeeping.installsOf("/s", paths) == [("npx", "m@1-a"), ("uvx", "t-b")]
