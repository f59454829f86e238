"""A data file an entry names directly in the home (or another folder no
child is shown whole): found by the entry's words, said as the child
starts when its layout binds the file on its own, and told with its fix,
a folder of the data's own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.sandbox.datafiles import (
    ALONE,
    aloneNote,
    entryFiles,
    folderFix,
    startLines,
)
from mcpgateway.sandbox.layout import build
from mcpgateway.sandbox.places import wide
from tests.support.sandbox.layout import request, tree

HOME = "/home/u"
STATE = "/home/u/.mcpgateway"


@pytest.mark.parametrize(
    ("args", "env", "found"),
    [
        (
            (),
            [("MEMORY_FILE_PATH", "/home/u/mem2.jsonl")],
            {"/home/u/mem2.jsonl": "MEMORY_FILE_PATH"},
        ),
        ((), [("MEMORY_FILE_PATH", "~/mem2.jsonl")], {"/home/u/mem2.jsonl": "MEMORY_FILE_PATH"}),
        ((), [("SQLITE_DB_PATH", "/tmp/test.db")], {"/tmp/test.db": "SQLITE_DB_PATH"}),
        (("--db-path", "/home/u/test.db"), [], {"/home/u/test.db": "--db-path"}),
        (("--db-path=/home/u/test.db",), [], {"/home/u/test.db": "--db-path"}),
        (("/home/u/notes.sqlite",), [], {"/home/u/notes.sqlite": ""}),
        (("--memory-file", "/home/u/m.jsonl"), [], {"/home/u/m.jsonl": "--memory-file"}),
    ],
)
def test_a_data_file_directly_in_a_wide_folder_is_found_with_what_names_it(
    args: tuple[str, ...], env: list[tuple[str, str]], found: dict[str, str]
) -> None:
    assert entryFiles(args, env, HOME, "/srv", STATE) == found


@pytest.mark.parametrize(
    ("args", "env"),
    [
        ((), [("MEMORY_FILE_PATH", "/home/u/.local/share/memory/mem.jsonl")]),  # its own folder
        ((), [("DATA_DIR", "/home/u/data")]),  # a folder: bound whole where it may be
        ((), [("MEMORY_FILE_PATH", "/home/u/")]),
        ((), [("API_TOKEN_FILE", "/home/u/token.txt")]),  # a secret, read
        ((), [("MEMORY_FILE_PATH", "relative/mem.jsonl")]),
        ((), [("MEMORY_FILE_PATH", "/home/u/a.jsonl:/home/u/b.jsonl")]),
        (("--config", "/home/u/settings.json"), []),  # no data
        (("--db-path", "/home/u/db/test.db"), []),
        (("test.db",), []),  # relative to a working directory that is no wide folder
    ],
)
def test_data_anywhere_else_or_no_data_is_not_found(
    args: tuple[str, ...], env: list[tuple[str, str]]
) -> None:
    assert entryFiles(args, env, HOME, "/srv", STATE) == {}


@given(
    st.lists(st.text(max_size=40), max_size=6),
    st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=6),
)
def test_any_entry_gives_absolute_files_in_wide_folders_only(
    args: list[str], env: list[tuple[str, str]]
) -> None:
    for path, how in entryFiles(args, env, HOME, "/srv", STATE).items():
        assert path.startswith("/") and path == os.path.normpath(path)
        assert wide(os.path.dirname(path), HOME, STATE)
        assert how == "" or how.startswith("-") or how in dict(env)


def test_the_fix_names_a_folder_of_its_own_as_the_entry_names_the_file() -> None:
    moved = "/home/u/.local/share/memory/mem2.jsonl"
    assert folderFix("/home/u/mem2.jsonl", "MEMORY_FILE_PATH", HOME, "memory") == (
        f"give its data a folder of its own: MEMORY_FILE_PATH={moved}"
    )
    # An argument's folder is bound only when it is there: made first.
    assert folderFix("/home/u/test.db", "--db-path", HOME, "sq") == (
        "give its data a folder of its own: make /home/u/.local/share/sq, then name"
        " --db-path /home/u/.local/share/sq/test.db"
    )
    assert folderFix("/home/u/test.db", "", HOME, "sq").endswith(
        "then name /home/u/.local/share/sq/test.db"
    )
    assert folderFix("/home/u/mem2.jsonl", None, HOME, "") == (
        "give its data a folder of its own, such as /home/u/.local/share/<server>/mem2.jsonl"
    )


def test_the_note_says_the_file_is_shown_alone_and_not_its_folder() -> None:
    said = aloneNote("/home/u/mem2.jsonl", "MEMORY_FILE_PATH", HOME, "memory", "it failed")
    assert said == (
        "the sandbox shows ~/mem2.jsonl (MEMORY_FILE_PATH) on its own, not its folder (your"
        " home): it failed; give its data a folder of its own:"
        " MEMORY_FILE_PATH=/home/u/.local/share/memory/mem2.jsonl"
    )
    elsewhere = aloneNote("/tmp/x.db", None, HOME, "sq", "it failed", "read-only")
    assert elsewhere.startswith("the sandbox shows /tmp/x.db on its own, read-only, not its")
    assert "folder (/tmp)" in elsewhere


def test_the_launcher_says_a_data_file_it_binds_alone_in_the_home_writable(
    tmp_path: Path,
) -> None:
    home = tree(tmp_path)
    environ = {"MEMORY_FILE_PATH": str(home / "mem2.jsonl")}
    asked = request(tmp_path, entryEnv=list(environ), server="memory")
    layout = build(asked, ["/usr/bin/node"], environ)
    [line] = startLines(layout, ["/usr/bin/node"], environ, asked)
    assert line == (
        f"{ALONE}the sandbox shows ~/mem2.jsonl (MEMORY_FILE_PATH) on its own, writable, not"
        " its folder (your home): a server that writes it by renaming a file onto it, or that"
        " makes files beside it (a temporary file, a database's journal), fails there; give"
        f" its data a folder of its own: MEMORY_FILE_PATH={home}/.local/share/memory/mem2.jsonl"
    )


def test_the_launcher_says_a_database_argument_it_shows_alone_read_only(tmp_path: Path) -> None:
    home = tree(tmp_path)
    (home / "test.db").write_bytes(b"")
    argv = ["/usr/bin/python3", "-m", "mcp_server_sqlite", "--db-path", str(home / "test.db")]
    asked = request(tmp_path, server="sq")
    [line] = startLines(build(asked, argv, {}), argv, {}, asked)
    assert line.startswith(f"{ALONE}the sandbox shows ~/test.db (--db-path) on its own, read-only,")
    assert "a server cannot write it there, nor make files beside it" in line
    assert line.endswith(
        f"make {home}/.local/share/sq, then name --db-path {home}/.local/share/sq/test.db"
    )


def test_data_in_a_folder_of_its_own_is_said_nothing_of(tmp_path: Path) -> None:
    home = tree(tmp_path)
    environ = {"MEMORY_FILE_PATH": str(home / ".local" / "share" / "memory" / "mem.jsonl")}
    asked = request(tmp_path, entryEnv=list(environ))
    assert (
        startLines(build(asked, ["/usr/bin/node"], environ), ["/usr/bin/node"], environ, asked)
        == []
    )
