# -*- test-case-name: tests.sandbox.test_datafiles -*-
"""A server's data file that its sandbox shows on its own, never the
folder around it.

Where an entry names its data file directly in a folder no confined child
is shown whole (the home itself, C{/tmp}: L{mcpgateway.sandbox.places.wide}),
the layout binds that file alone: writable where the entry's C{env} names
it as the server's data (C{MEMORY_FILE_PATH=/home/u/memory.jsonl}, made
empty when missing), read-only where an argument names it (C{--db-path
/home/u/test.db}). A server that writes the file by renaming a temporary
file onto it (server-memory) or that makes files beside it (sqlite's
journal) then fails: the bound file is a mount point, which a rename
cannot replace (C{EBUSY} under bubblewrap), and its folder is not the
server's to write (C{EACCES} under Landlock). The fix is a folder of the
data's own (C{/home/u/.local/share/memory/memory.jsonl}), which the layout
binds writable whole.

L{entryFiles} finds such files in an entry, by its words alone (the
gateway reads it to explain a failure: L{mcpgateway.sandbox.failures});
L{startLines} are the launcher's lines saying, as the child starts, which
of them its layout binds so; L{aloneNote} is the sentence both tell, with
its fix.

Standard library only: the launcher imports it.
"""

from __future__ import annotations

import os

from mcpgateway.sandbox.commandline import dataArguments
from mcpgateway.sandbox.places import expand, wide
from mcpgateway.sandbox.writes import directoryByWords, writesThere

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from mcpgateway.sandbox.layout import Layout

ALONE = "alone: "
"""Begins the launcher's line (after its C{mcpgateway sandbox: }) saying a
data file of its entry is shown on its own: a warning, the child runs."""
DATA_HOME = ".local/share"
"""Under the home, where the fix puts a server's data folder."""
STARTING = {
    "writable": (
        "a server that writes it by renaming a file onto it, or that makes files beside it"
        " (a temporary file, a database's journal), fails there"
    ),
    "read-only": (
        "a server cannot write it there, nor make files beside it (a temporary file, a"
        " database's journal)"
    ),
}
"""What the start-up warning says follows from a data file shown alone,
writable or read-only."""


def entryFiles(
    args: Iterable[str],
    env: Iterable[tuple[str, str]],
    home: str,
    cwd: str,
    stateDir: str = "",
) -> dict[str, str]:
    """The data files an entry names directly in a folder never shown
    whole, each with what names it: its C{env}'s variable (one that names
    where the server writes, L{writesThere}, a file by its words), or the
    option of its argument (C{--db-path}; C{""}: an argument of its own).
    Pure: no file is read."""
    found: dict[str, str] = {}
    for name, value in env:
        if not writesThere(name) or ":" in value or not value.startswith(("/", "~/")):
            continue
        full = expand(value, home, cwd)
        if directoryByWords(full, value, name.upper().split("_")[-1]):
            continue
        if wide(os.path.dirname(full), home, stateDir):
            found.setdefault(full, name)
    for path, flag in dataArguments(args, cwd, writesThere):
        if path.startswith("/") and wide(os.path.dirname(path), home, stateDir):
            found.setdefault(path, flag)
    return found


def aloneNote(
    path: str, how: str | None, home: str, server: str, happened: str, kind: str = ""
) -> str:
    """One line: the sandbox shows C{path} on its own (C{kind}: C{"writable"},
    C{"read-only"}, or unsaid), not its folder; what C{happened} (or would
    happen) for it; and the fix, a folder of the data's own named where
    C{how} names the file (its variable, its option; C{None}: not known)."""
    folder = os.path.dirname(path)
    where = "your home" if folder == home.rstrip("/") else folder
    named = f" ({how})" if how else ""
    alone = f"on its own, {kind}," if kind else "on its own,"
    return (
        f"the sandbox shows {shownPath(path, home)}{named} {alone} not its folder ({where}):"
        f" {happened}; {folderFix(path, how, home, server)}"
    )


def folderFix(path: str, how: str | None, home: str, server: str) -> str:
    """Give the data a folder of its own, under the home's C{.local/share},
    named as the entry names the file (an absolute path: the gateway
    expands no C{~} in an entry's values). A variable's folder is made
    when missing; an argument's must be there already (the layout binds
    only a folder that exists for it)."""
    folder = dataFolder(home, server)
    moved = f"{folder}/{os.path.basename(path)}"
    if how is None:
        return f"give its data a folder of its own, such as {moved}"
    if how and not how.startswith("-"):
        return f"give its data a folder of its own: {how}={moved}"
    named = f"{how} {moved}" if how else moved
    return f"give its data a folder of its own: make {folder}, then name {named}"


def dataFolder(home: str, server: str) -> str:
    """The folder of its own the fix gives a server's data."""
    return f"{home.rstrip('/')}/{DATA_HOME}/{server or '<server>'}"


def shownPath(path: str, home: str) -> str:
    """C{path} as an entry would write it (C{~/x} under the home)."""
    if home not in ("", "/") and path.startswith(home.rstrip("/") + "/"):
        return "~" + path[len(home.rstrip("/")) :]
    return path


def startLines(
    view: Layout, argv: list[str], environ: Mapping[str, str], request: Mapping[str, Any]
) -> list[str]:
    """The launcher's start-up lines (each after L{ALONE}) for the data
    files of the entry (L{entryFiles}) that the layout C{view}
    (L{mcpgateway.sandbox.layout.Layout}) binds on their own: writable, or
    read-only."""
    entry = [(str(name), environ.get(str(name), "")) for name in request.get("entryEnv") or ()]
    home = view.home
    files = entryFiles(argv[1:], entry, home, view.cwd, str(request.get("stateDir") or ""))
    binds = {path: True for source, path in view.writable if os.path.isfile(source)}
    for source, path in view.readOnly:
        if os.path.isfile(source):
            binds.setdefault(path, False)
    server = str(request.get("server") or "")
    lines = []
    for path, how in files.items():
        writable = binds.get(path)
        if writable is not None:
            kind = "writable" if writable else "read-only"
            lines.append(ALONE + aloneNote(path, how, home, server, STARTING[kind], kind))
    return lines
