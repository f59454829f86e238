"""What of a repository's entry names a path outside its workspace."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.pathwidening import PathWidening, entryOutside, outsideWorkspace


def test_each_key_that_names_a_path_outside_the_workspace_is_found(tmp_path: Path) -> None:
    home, ws = tmp_path / "home", tmp_path / "ws"
    (home / ".config").mkdir(parents=True)
    (ws / "data").mkdir(parents=True)
    found = outsideWorkspace(
        ["-y", "@pkg/server", str(ws / "data"), "~/.config", "--root=/srv/x", "../elsewhere"],
        [("MEMORY_FILE_PATH", f"{home}/.bashrc"), ("DATA_DIR", "./data"), ("PATH", "/x:/y")],
        str(home / ".config"),
        str(ws),
        str(home),
    )
    assert found == [
        PathWidening("args[3]", str(home / ".config")),
        PathWidening("args[4]", "/srv/x"),
        PathWidening("args[5]", str(tmp_path / "elsewhere")),
        PathWidening("env.MEMORY_FILE_PATH", str(home / ".bashrc")),
        PathWidening("cwd", str(home / ".config")),
    ]


def test_the_system_and_the_workspace_are_no_widening(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    assert outsideWorkspace(["/usr/bin/node", str(ws)], [], str(ws), str(ws), "/home/u") == []


def test_a_symlink_in_the_workspace_to_outside_is_judged_where_it_leads(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "secret").mkdir()
    (ws / "link").symlink_to(tmp_path / "secret")
    found = outsideWorkspace([str(ws / "link")], [], None, str(ws), "/home/u")
    assert found == [PathWidening("args[0]", str(tmp_path / "secret"))]


def test_an_entry_as_its_file_writes_it_is_expanded_from_the_environment(tmp_path: Path) -> None:
    entry = {"command": "npx", "args": ["${HOME}/.config"], "env": {"DATA_DIR": "${HOME}"}}
    found = entryOutside(entry, {"HOME": str(tmp_path)}, str(tmp_path / "ws"))
    assert [w.describe() for w in found] == [
        f"args[0] {tmp_path}/.config",
        f"env.DATA_DIR {os.path.realpath(tmp_path)}",
    ]


@given(
    args=st.lists(st.text(max_size=30), max_size=5),
    env=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=30), max_size=4),
)
def test_any_entry_is_read_without_a_crash(args: list[str], env: dict[str, str]) -> None:
    found = outsideWorkspace(args, list(env.items()), None, "/nonexistent/ws", "/nonexistent/h")
    assert all(w.path.startswith("/") for w in found)
