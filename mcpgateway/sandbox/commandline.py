# -*- test-case-name: tests.sandbox.test_layout -*-
"""The paths a child's command line names: its arguments' files and
directories, and the words of a shell's C{-c} script that are paths. The
layout binds them (L{mcpgateway.sandbox.layout}).

Standard library only: the launcher imports it.
"""

from __future__ import annotations

import os

from mcpgateway.sandbox.places import under

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def argumentPaths(args: Iterable[str], cwd: str) -> list[str]:
    """The existing files and directories arguments name: an absolute path,
    C{--flag=/path}, or a relative one that exists under C{cwd}."""
    found = []
    for arg in args:
        value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
        if not value or value.startswith("-") or "\0" in value or len(value) > 4096:
            continue
        if value.startswith("file://"):
            value = value[len("file://") :]
        candidate = value if value.startswith("/") else os.path.join(cwd, value)
        if os.path.lexists(candidate):
            found.append(os.path.normpath(candidate))
    return found


DATA_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db3", ".duckdb")
"""A file of one of these is a database: the server writes it, and files
beside it (its journal, its write-ahead log)."""


def dataFiles(args: Iterable[str], cwd: str, namesData: Callable[[str], bool]) -> list[str]:
    """The files the arguments name as data the server writes, made yet or
    not, in a folder that exists (L{dataArguments}). Its folder is where it
    is written (a server makes it, or renames into it)."""
    return [
        path
        for path, _ in dataArguments(args, cwd, namesData)
        if not os.path.isdir(path) and os.path.isdir(os.path.dirname(path))
    ]


def dataArguments(
    args: Iterable[str], cwd: str, namesData: Callable[[str], bool]
) -> list[tuple[str, str]]:
    """The paths the arguments name as data the server writes, each with
    the option that names it (C{""}: none): a database's
    (L{DATA_SUFFIXES}: C{--db-path x.db}), or one given to an option whose
    name says it is data (C{--memory-file /x/m.jsonl}, C{--log-file=/x/l}:
    C{namesData} of its name as a variable's, C{MEMORY_FILE}). Pure: the
    gateway reads them too (L{mcpgateway.sandbox.datafiles})."""
    found = []
    previous = ""
    for arg in args:
        flag, value = "", arg
        if arg.startswith("-") and "=" in arg:
            flag, value = arg.split("=", 1)
        elif previous.startswith("-"):
            flag = previous
        previous = arg
        if not value or value.startswith("-") or "\0" in value or len(value) > 4096:
            continue
        if value.startswith("file://"):
            value = value[len("file://") :]
        candidate = os.path.normpath(value if value.startswith("/") else os.path.join(cwd, value))
        name = flag.lstrip("-").replace("-", "_").upper()
        if candidate.endswith(DATA_SUFFIXES) or (name and namesData(name)):
            found.append((candidate, flag))
    return found


SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"})
"""Programs whose C{-c} argument is a script of commands (L{scriptPaths})."""
SCRIPT_BREAKS = str.maketrans({c: " " for c in ";&|()<>\"'`\n\t{}$"})


def scriptPaths(argv: list[str], home: str) -> list[str]:
    """The absolute (or C{~/}) paths a shell's C{-c} script names
    (C{sh -c "~/.venv/bin/server --db /data/x; ..."}), where they exist:
    the sandbox binds them as it binds arguments, as the shell would run
    them. Words only (no quoting or expansion is understood): a path
    with a space in it is not found."""
    if os.path.basename(argv[0]) not in SHELLS:
        return []
    script = None
    for index, arg in enumerate(argv[1:-1], start=1):
        if arg.startswith("-") and not arg.startswith("--") and "c" in arg:
            script = argv[index + 1]
            break
    if script is None or len(script) > 65536:
        return []
    found = []
    for word in script.translate(SCRIPT_BREAKS).split():
        word = word.split("=", 1)[1] if "=" in word else word
        if word.startswith("~/"):
            word = os.path.join(home, word[2:])
        word = os.path.normpath(word) if word.startswith("/") and "\0" not in word else ""
        hidden = any(under(word, kernel) for kernel in ("/dev", "/proc", "/sys"))
        if word and not hidden and os.path.lexists(word):
            found.append(word)
    return list(dict.fromkeys(found))
