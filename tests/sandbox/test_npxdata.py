"""The data a server kept beside its code in the user's own npx cache
(server-memory's graph) is carried into the gateway's copy of its package
once, when the copy is made: the newest install's, only what the server
wrote, never over what the copy holds, never for a repository's entry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox import npxdata
from mcpgateway.sandbox.launch import ownPackageCopy

NAME = "@modelcontextprotocol/server-memory"


def npxInstall(home: Path, digest: str, graph: str | None, at: float) -> Path:
    """The user's C{npx} install of server-memory in npm's cache, made at
    C{at}; its server wrote C{graph} beside its code later, if given."""
    modules = home / ".npm" / "_npx" / digest / "node_modules"
    package = modules / NAME
    (package / "dist").mkdir(parents=True)
    (package / "dist" / "index.js").write_text("// code")
    (package / "node_modules" / "dep").mkdir(parents=True)
    (package / "node_modules" / "dep" / "x.js").write_text("// dep")
    (modules / ".package-lock.json").write_text("{}")
    for path in [*package.rglob("*"), modules / ".package-lock.json"]:
        os.utime(path, (at, at))
    if graph is not None:
        (package / "dist" / "memory.jsonl").write_text(graph)
        os.utime(package / "dist" / "memory.jsonl", (at + 10, at + 10))
        (package / "node_modules" / "dep" / "x.js").write_text("// changed")  # not its data
    return package


def test_the_newest_graph_is_carried_into_a_fresh_copy(tmp_path: Path) -> None:
    home, copy = tmp_path / "home", tmp_path / "copy"
    npxInstall(home, "aaaa", '{"type":"entity","name":"old"}\n', 1000.0)
    newer = npxInstall(home, "bbbb", '{"type":"entity","name":"alice"}\n', 2000.0)
    npxInstall(home, "cccc", None, 3000.0)  # a later install nothing wrote in
    (copy / "dist").mkdir(parents=True)
    (copy / "dist" / "index.js").write_text("// the gateway's")
    assert npxdata.carry(str(copy), str(home), NAME) == (str(newer), ["dist/memory.jsonl"])
    assert (copy / "dist" / "memory.jsonl").read_text() == '{"type":"entity","name":"alice"}\n'
    assert (copy / "dist" / "index.js").read_text() == "// the gateway's"
    assert not (copy / "node_modules").exists()
    # Never over what the copy holds.
    (copy / "dist" / "memory.jsonl").write_text("mine")
    assert npxdata.carry(str(copy), str(home), NAME) is None
    assert (copy / "dist" / "memory.jsonl").read_text() == "mine"


def test_nothing_to_carry_without_a_cache_or_a_written_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert npxdata.carry(str(tmp_path / "copy"), str(home), NAME) is None
    npxInstall(home, "aaaa", None, 1000.0)
    assert npxdata.carry(str(tmp_path / "copy"), str(home), NAME) is None


def test_a_linked_package_or_file_is_not_followed(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    package = npxInstall(home, "aaaa", None, 1000.0)
    (elsewhere / "dist").mkdir(parents=True)
    (elsewhere / "dist" / "id_rsa").write_text("KEY")
    (package / "dist" / "key").symlink_to(elsewhere / "dist" / "id_rsa")
    assert npxdata.carry(str(tmp_path / "copy"), str(home), NAME) is None
    other = home / ".npm" / "_npx" / "bbbb" / "node_modules"
    (other / "@modelcontextprotocol").mkdir(parents=True)
    (other / ".package-lock.json").write_text("{}")
    os.utime(other / ".package-lock.json", (1.0, 1.0))
    (other / NAME).symlink_to(elsewhere)
    assert npxdata.carry(str(tmp_path / "copy"), str(home), NAME) is None


def test_a_link_in_the_copy_is_replaced_never_followed(tmp_path: Path) -> None:
    """A link where the copy's C{dist} belongs (one a child left) goes:
    nothing is written where it pointed."""
    home, copy, outside = tmp_path / "home", tmp_path / "copy", tmp_path / "outside"
    npxInstall(home, "aaaa", "graph\n", 1000.0)
    outside.mkdir()
    copy.mkdir()
    (copy / "dist").symlink_to(outside)
    assert npxdata.carry(str(copy), str(home), NAME) is not None
    assert list(outside.iterdir()) == []
    assert not (copy / "dist").is_symlink()
    assert (copy / "dist" / "memory.jsonl").read_text() == "graph\n"


def test_more_than_the_most_is_not_carried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    npxInstall(home, "aaaa", "x" * 100, 1000.0)
    monkeypatch.setattr(npxdata, "MOST", 10)
    with pytest.raises(OSError, match="over the"):
        npxdata.carry(str(tmp_path / "copy"), str(home), NAME)


class View:
    def __init__(self, copy: Path, package: Path) -> None:
        self.packageCopy = (str(copy), str(package))


@pytest.mark.parametrize("whose", ["users", "project", "servesOne"])
def test_only_the_users_own_entry_gets_its_data(tmp_path: Path, whose: str) -> None:
    home, state = tmp_path / "home", tmp_path / "state"
    npxInstall(home, "aaaa", "graph\n", 1000.0)
    install = state / "npx" / "pkg" / "node_modules" / NAME
    (install / "dist").mkdir(parents=True)
    (install / "dist" / "index.js").write_text("// code")
    copy = state / "copies" / "memory-1" / "package"
    request: dict[str, Any] = {"stateDir": str(state), "home": str(home), "copyKey": "memory-1"}
    if whose != "users":
        request[whose] = True
    ownPackageCopy(View(copy, install), request, ["node", str(install / "dist" / "index.js")])
    carried = (copy / "dist" / "memory.jsonl").exists()
    assert carried == (whose == "users")
    assert (copy / "dist" / "index.js").read_text() == "// code"


@settings(max_examples=40, deadline=None)
@given(package=st.from_regex(r"(@[a-z]{1,5}/)?[a-z][a-z.-]{0,10}", fullmatch=True))
def test_the_name_of_a_package_is_what_follows_its_last_node_modules(package: str) -> None:
    assert npxdata.packageName(f"/s/npx/x/node_modules/a/node_modules/{package}") == package
